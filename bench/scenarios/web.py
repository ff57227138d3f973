"""
Scenario 4: web lookups. wrk holds 32 keep-alive connections on one route for a fixed time,
then on the other: POST /handlelogin (the form) and GET /api/students/<id> (the JSON API).
examtwist's web lookup beside the original Flask app and beside a bare twisted.web resource
that answers a fixed page, the ceiling of this stack on this machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.error
import urllib.request

from bench import wrk
from bench.scenario import EXAMTWIST, Column, Panel, Ratio, Scenario, Target, below, ratio_above

FLASK_PEER = "Flask peer"
CEILING = "bare twisted.web"
# A round with more answers than this share that are not 2xx, or socket errors, is a failed
# run: the figures would be of error pages or of a server that drops connections.
MOST_FAILURES = 0.01


def _ratios(key: str, label: str) -> tuple[Ratio, Ratio]:
    metric = f"{key}_rps"
    return (Ratio(metric, f"{label} req/s, examtwist ÷ Flask peer", under=FLASK_PEER),
            Ratio(metric, f"{label} req/s, examtwist ÷ bare twisted.web (ceiling)", under=CEILING))


POST_OVER_FLASK, POST_OVER_BARE = _ratios("post", "POST /handlelogin")
GET_OVER_FLASK, GET_OVER_BARE = _ratios("get", "GET /api/students/<id>")


class WebLookups(Scenario):
    name = "web"
    title = "4. Web lookups"
    kind = "web"
    load_label = "wrk connections"
    description = (
        "wrk (the Debian package) holds N keep-alive connections for the round's time on POST "
        "/handlelogin (body `ID=1800`, a form post), then as long on GET /api/students/<id> "
        "(going round the sample IDs 1800, 1866 and 1711 a fresh database holds): every "
        "answer is a found student. Requests/s and latency percentiles are wrk's own "
        "(`--latency`); a round with more than 1 % non-2xx answers or socket errors fails the "
        "run. The Flask peer is ../shared/peers/flask_lookup.py on Flask's threaded server; "
        "the bare twisted.web resource (bench/bare_web.py) answers any request with one small "
        "fixed page: the ceiling of this stack here. wrk's CPU is its own user + system time "
        "(wait4) over the round, in cores, the busier route's: far below its threads' count "
        "means the generator was not the bottleneck. Server CPU is likewise the busier route's."
    )
    columns = [
        Column("post_rps", "POST req/s"),
        Column("post_p99_ms", "POST p99 (ms)"),
        Column("get_rps", "GET req/s"),
        Column("get_p99_ms", "GET p99 (ms)"),
        Column("server_cpu", "server CPU (cores)", ".2f"),
        Column("wrk_cpu", "wrk CPU (cores)", ".2f"),
        Column("failures", "non-2xx + socket errors", ".0f"),
        Column("others_cpu", "others' CPU (cores)", ".2f"),
    ]
    ratios = [POST_OVER_FLASK, GET_OVER_FLASK, POST_OVER_BARE, GET_OVER_BARE]
    panels = [
        Panel("post_rps", "POST /handlelogin req/s"),
        Panel("get_rps", "GET /api/students/<id> req/s"),
        Panel("post_p99_ms", "POST /handlelogin p99 (ms)", target=10, log=True),
        Panel("get_p99_ms", "GET /api/students/<id> p99 (ms)", target=10, log=True),
    ]
    targets = [
        Target("POST /handlelogin req/s ≥ 4× the Flask peer's", ratio_above(POST_OVER_FLASK, 4)),
        Target("GET /api/students/<id> req/s ≥ 4× the Flask peer's",
               ratio_above(GET_OVER_FLASK, 4)),
        Target("POST /handlelogin req/s ≥ 50 % of the bare twisted.web resource's",
               ratio_above(POST_OVER_BARE, 0.5)),
        Target("GET /api/students/<id> req/s ≥ 50 % of the bare twisted.web resource's",
               ratio_above(GET_OVER_BARE, 0.5)),
        Target("POST /handlelogin p99 ≤ 10 ms", below("post_p99_ms", 10, "ms", EXAMTWIST)),
        Target("GET /api/students/<id> p99 ≤ 10 ms", below("get_p99_ms", 10, "ms", EXAMTWIST)),
    ]

    def contenders(self, bench) -> list:
        """The web lookups, and the stack's ceiling (L{bench.bare_web})."""
        return bench.of_kind(self.kind) + bench.of_kind("web-ceiling")

    async def run(self, bench) -> None:
        if wrk.wrk_path() is None:
            bench.note("Scenario 4 (web lookups) skipped: no wrk on PATH (Debian: apt-get "
                       "install wrk).")
            return
        connections = bench.options.web_connections
        contenders = self.contenders(bench)
        async with contextlib.AsyncExitStack() as stack:
            running = {}
            for contender in contenders:
                server = await stack.enter_async_context(bench.serving(contender))
                await answers_found_students(server)
                for route in wrk.ROUTES:  # untimed warm-up
                    await self._load(bench, server, route, bench.options.warmup)
                running[contender.name] = server
            for number, contender in bench.alternating(contenders):
                server = running[contender.name]
                rounds = {}
                for route in wrk.ROUTES:
                    rounds[route.key] = await bench.measure_external(
                        server, self._load(bench, server, route, bench.options.duration),
                        bench.options.duration,
                        profile_as=bench.profile_name(f"{self.name}-{route.key}", connections,
                                                      contender, number),
                    )
                self.record(bench, contender, connections, number, rounds)

    @staticmethod
    async def _load(bench, server, route: wrk.Route, seconds: float) -> wrk.WrkResult:
        result = await wrk.run(server.host, server.port, route, seconds,
                               bench.options.web_connections, bench.options.wrk_threads,
                               bench.scratch)
        failures = result.non_2xx + result.socket_errors
        if failures > MOST_FAILURES * max(result.requests, 1):
            raise wrk.WrkFailed(
                f"{server.name} {route.label}: {result.non_2xx} non-2xx answers and "
                f"{result.socket_errors} socket errors in {result.requests} requests"
            )
        return result

    def record(self, bench, contender, connections: int, number: int, rounds: dict) -> None:
        metrics = {}
        for key, measured in rounds.items():
            result = measured.result
            metrics.update({
                f"{key}_rps": result.requests_per_s,
                f"{key}_p50_ms": result.p50_ms,
                f"{key}_p99_ms": result.p99_ms,
                f"{key}_wrk_cpu": result.cpu_cores,
                f"{key}_server_cpu": measured.server_cpu,
            })
        measured = list(rounds.values())
        bench.record(
            self.name, contender.name, connections, number, **metrics,
            server_cpu=max(m.server_cpu for m in measured),
            wrk_cpu=max(m.result.cpu_cores for m in measured),
            failures=sum(m.result.non_2xx + m.result.socket_errors for m in measured),
            others_cpu=max(m.others_cpu for m in measured),
            server_rss_peak_mib=max(m.server_rss_peak_kib for m in measured) / 1024,
        )


async def answers_found_students(server) -> None:
    """One request per route before any load: a server that does not find them stops the run."""
    base = f"http://{server.host}:{server.port}"
    requests = [urllib.request.Request(base + "/handlelogin", data=b"ID=1800", method="POST",
                                       headers={"Content-Type": "application/x-www-form-urlencoded"})]
    requests += [urllib.request.Request(f"{base}/api/students/{n}") for n in wrk.SAMPLE_IDS]

    def ask(request) -> None:
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                answer.read()
        except urllib.error.HTTPError as e:
            raise wrk.WrkFailed(f"{server.name}: {request.get_method()} {request.full_url} "
                                f"answered {e.code}, not 200") from None

    for request in requests:
        await asyncio.to_thread(ask, request)


SCENARIO = WebLookups()
