"""
Scenario 6: hostile students (issue 11). One address attacks while others use the server
honestly: a flood of wrong LOGINs from hundreds of connections, one attacker guessing one
user's password for minutes, and a 20 MiB POST to the web port. Each attack runs on a fresh
server with the limits against hostile students at their defaults; a --baseline tree runs
with whatever limits it has.

Loopback addresses stand for machines: the attacker is 127.0.0.2, the honest students
127.0.0.3, 127.0.0.4, ... (each client socket is bound to its address before connecting).
"""

from __future__ import annotations

import ipaddress
import signal

from bench.latency import Latencies
from bench.scenario import Column, Panel, Scenario, Target, below
from bench.servers import ended_or_killed
from bench.session import Worker, ms

PASSWORD = "correct horse battery"
ATTACKER = "127.0.0.2"
FIRST_HONEST = ipaddress.IPv4Address("127.0.0.3")
# Seconds between one honest student's logins.
HONEST_INTERVAL = 1.0
# How long an honest login may still be waited for after the flood's round: one unanswered by
# then counts as failed, at the time it waited.
DRAIN = 30.0
MIB = 1024 * 1024
POST_MIB = 20
# A server still hashing the checks a flood queued may take minutes to stop: it is killed
# this long after SIGTERM.
STOP_GRACE = 5.0
VARIANTS = {"stay": "stay flood", "close": "close flood"}
POSTS = {"form": f"{POST_MIB} MiB form POST", "chunked": f"{POST_MIB} MiB chunked POST"}


def row(contender: str, attack: str) -> str:
    return f"{contender}: {attack}"


STAY, CLOSE = (row("examtwist", VARIANTS[v]) for v in ("stay", "close"))
FORM, CHUNKED = (row("examtwist", POSTS[k]) for k in ("form", "chunked"))


def honest_addresses(count: int) -> list[str]:
    return [str(FIRST_HONEST + i) for i in range(count)]


def answered_413(server: str):
    """A target check: every round's POST was answered 413, in at most 100 ms (median)."""

    def check(summary, load: int):
        spread = summary.spread(load, server, "answer_ms")
        if spread is None:
            return None
        statuses = sorted({int(s) for s in summary.values(load, server, "status")})
        shown = "/".join(str(s) for s in statuses)
        return f"{shown} in {spread.format()} ms", statuses == [413] and spread.median <= 100

    return check


async def stop_soon(server) -> None:
    """SIGTERM, and SIGKILL after L{STOP_GRACE}."""
    if server.process.returncode is None:
        server.process.send_signal(signal.SIGTERM)
        await ended_or_killed(server.process, STOP_GRACE)


class Hostile(Scenario):
    name = "hostile"
    title = "6. Hostile students"
    kind = "hostile"
    load_label = "attacker connections"
    description = (
        "Three attacks from one address, 127.0.0.2, each on a fresh server with its limits "
        "against hostile students at their defaults (a --baseline tree with whatever it has). "
        "**Floods:** N connections at once send `LOGIN nobody <wrong>` over and over for the "
        "round's time, either staying (each waits for the greeting and every reply, and "
        "connects again once closed: *stay flood*) or closing at once (each sends one LOGIN "
        "as soon as connected, without waiting for the greeting, and closes: *close flood*). "
        "Meanwhile honest students, each from an address of its own (127.0.0.3, 127.0.0.4, …) "
        "and registered beforehand, each connect, LOGIN, ask EXAMS and QUIT once a second. An "
        "honest login's latency runs from the connect to the 230, over the logins that got "
        f"in; one still unanswered {DRAIN:.0f} s after the round counts as failed, at the time "
        "it waited. The attacker's columns count the replies to its LOGINs by code (a stay "
        "flood's; a close flood reads nothing). **Guessing:** one connection at a time from "
        "127.0.0.2 guesses a registered user's password, each guess as soon as the previous "
        "reply is in or once the N s of a `454 … try again in N s` have passed, two guesses "
        "per connection (a third failure is answered 421, checked or not); passwords checked "
        "(535s) per minute after the first minute of --guess-seconds (a shorter run: after "
        f"its first half). **{POST_MIB} MiB POST:** a URL-encoded form of {POST_MIB} MiB "
        "(`a=b&a=b&…`) to a route that does not exist, with its Content-Length, then one as "
        "long in chunks, each "
        "on its own connection, while a probe on the exam port sends HELP every 5 ms: the "
        "status answered (0: none before the connection ended), the time from the POST's first "
        "byte to the status line, and the probe's latency from 0.1 s before the POST to 0.1 s "
        "after its answer (a stall also counts the probes it held back)."
    )
    columns = [
        Column("login_p50_ms", "honest login p50 (ms)", ",.0f"),
        Column("login_p99_ms", "honest login p99 (ms)", ",.0f"),
        Column("exams_p99_ms", "honest EXAMS p99 (ms)", ",.4g"),
        Column("honest_ok", "honest logins in", ",.0f"),
        Column("honest_failed", "honest logins refused or unanswered", ",.0f"),
        Column("attacker_connections", "attacker connections made", ",.0f"),
        Column("attacker_535", "attacker 535s", ",.0f"),
        Column("attacker_454", "attacker 454s", ",.0f"),
        Column("attacker_421", "attacker 421s", ",.0f"),
        Column("guesses_per_min", "passwords checked/min after the 1st minute", ",.4g"),
        Column("status", "POST answered", ".0f"),
        Column("answer_ms", "POST answered in (ms)", ",.0f"),
        Column("probe_p99_ms", "exam probe p99 (ms)", ",.4g"),
        Column("server_rss_peak_mib", "server RSS peak (MiB)", ",.0f"),
        Column("server_cpu", "server CPU (cores)", ".2f"),
        Column("others_cpu", "others' CPU (cores)", ".2f"),
    ]
    panels = [
        Panel("login_p99_ms", "honest login p99 during a flood (ms)", target=1000, log=True),
        Panel("guesses_per_min", "passwords checked/min, one user, after the 1st minute",
              log=True),
        Panel("answer_ms", f"{POST_MIB} MiB POST answered in (ms)", target=100, log=True),
        Panel("probe_p99_ms", f"exam probe p99 during a {POST_MIB} MiB POST (ms)", target=20,
              log=True),
    ]
    targets = [
        Target("honest login p99 ≤ 1 s while one address floods LOGIN, staying for replies",
               below("login_p99_ms", 1000, "ms", STAY)),
        Target("honest login p99 ≤ 1 s while one address floods LOGIN, closing at once",
               below("login_p99_ms", 1000, "ms", CLOSE)),
        Target("honest EXAMS p99 ≤ 20 ms during the stay flood",
               below("exams_p99_ms", 20, "ms", STAY)),
        Target("honest EXAMS p99 ≤ 20 ms during the close flood",
               below("exams_p99_ms", 20, "ms", CLOSE)),
        Target("every honest login gets in during the stay flood",
               below("honest_failed", 0, "failed", STAY)),
        Target("every honest login gets in during the close flood",
               below("honest_failed", 0, "failed", CLOSE)),
        Target(f"a {POST_MIB} MiB form POST answered 413 within 100 ms", answered_413(FORM),
               load=1),
        Target(f"a {POST_MIB} MiB chunked POST answered 413 within 100 ms", answered_413(CHUNKED),
               load=1),
        Target(f"exam probe p99 ≤ 20 ms during the {POST_MIB} MiB form POST",
               below("probe_p99_ms", 20, "ms", FORM), load=1),
        Target(f"exam probe p99 ≤ 20 ms during the {POST_MIB} MiB chunked POST",
               below("probe_p99_ms", 20, "ms", CHUNKED), load=1),
    ]

    async def run(self, bench) -> None:
        for number, contender in bench.alternating(self.contenders(bench)):
            for variant in VARIANTS:
                await self.flood(bench, contender, variant, number)
            await self.guess(bench, contender, number)
            await self.oversize(bench, contender, number)

    async def flood(self, bench, contender, variant: str, number: int) -> None:
        connections = bench.options.hostile_connections
        async with bench.serving(contender) as server:
            try:
                address = {"host": server.host, "port": server.port}
                async with bench.generators(
                    Worker.start("honest", sources=honest_addresses(bench.options.hostile_students),
                                 prefix="honest", password=PASSWORD, interval=HONEST_INTERVAL,
                                 drain=DRAIN, **address),
                    Worker.start("flood", source=ATTACKER, connections=connections,
                                 variant=variant, **address),
                ) as (honest, flood):
                    await honest.round(bench.options.warmup)  # the logins' calm, untimed
                    measured = await bench.measure(
                        server, [honest, flood], bench.options.duration,
                        profile_as=bench.profile_name(f"{self.name}-{variant}", connections,
                                                      contender, number),
                    )
            finally:
                await stop_soon(server)
        helped, flooded = measured.results
        logins = Latencies.from_json(helped["latency"])
        exams = Latencies.from_json(helped["exams"])
        replies = flooded["replies"]
        read = variant == "stay"  # a close flood reads no reply
        bench.record(
            self.name, row(contender.name, VARIANTS[variant]), connections, number,
            login_p50_ms=ms(logins.percentile(50)),
            login_p99_ms=ms(logins.percentile(99)),
            exams_p99_ms=ms(exams.percentile(99)),
            honest_ok=helped["logins"],
            honest_failed=sum(helped["refused"].values()) + helped["unanswered"],
            honest_unanswered=helped["unanswered"],
            honest_refused=helped["refused"],
            attacker_connections=flooded["connections"],
            attacker_connect_failures=flooded["connect_failures"],
            attacker_535=replies.get("535", 0) if read else None,
            attacker_454=replies.get("454", 0) if read else None,
            attacker_421=replies.get("421", 0) if read else None,
            attacker_replies=replies,
            server_rss_peak_mib=measured.server_rss_peak_kib / 1024,
            server_cpu=measured.server_cpu,
            generator_cpu=measured.generator_cpu(),
            others_cpu=measured.others_cpu,
        )

    async def guess(self, bench, contender, number: int) -> None:
        seconds = bench.options.guess_seconds
        skip = min(60.0, seconds / 2)
        async with bench.serving(contender) as server:
            try:
                async with bench.generators(
                    Worker.start("guess", host=server.host, port=server.port, source=ATTACKER,
                                 registrar=honest_addresses(1)[0], username="victim",
                                 password=PASSWORD),
                ) as (guesser,):
                    measured = await bench.measure(
                        server, [guesser], seconds, skip=skip,
                        profile_as=bench.profile_name(f"{self.name}-guess", 1, contender, number),
                    )
            finally:
                await stop_soon(server)
        [guessed] = measured.results
        replies = guessed["replies"]
        bench.record(
            self.name, row(contender.name, "guessing"), 1, number,
            guesses_per_min=guessed["checked_after_skip"] * 60 / (seconds - skip),
            attacker_535=guessed["checked"],
            attacker_454=replies.get("454", 0),
            attacker_421=replies.get("421", 0),
            attacker_replies=replies,
            guesses=guessed["guesses"],
            server_cpu=measured.server_cpu,
            generator_cpu=measured.generator_cpu(),
            others_cpu=measured.others_cpu,
        )

    async def oversize(self, bench, contender, number: int) -> None:
        async with bench.serving(contender) as server:
            try:
                if server.web_port is None:
                    if number == 0:
                        bench.note(f"{contender.name} has no web lookup: no {POST_MIB} MiB POST.")
                    return
                async with bench.generators(
                    Worker.start("oversize", host=server.host, port=server.port,
                                 web_port=server.web_port, source=ATTACKER, size=POST_MIB * MIB),
                ) as (poster,):
                    # The round lasts as long as the POSTs take; 1 s is only py-spy's length.
                    measured = await bench.measure(
                        server, [poster], 1.0,
                        profile_as=bench.profile_name(f"{self.name}-post", 1, contender, number),
                    )
            finally:
                await stop_soon(server)
        [posted] = measured.results
        for kind, post in posted["posts"].items():
            probe = Latencies.from_json(post["latency"])
            bench.record(
                self.name, row(contender.name, POSTS[kind]), 1, number,
                status=post["status"],
                answer_ms=ms(post["seconds"]),
                sent_mib=post["sent"] / MIB,
                probe_p50_ms=ms(probe.percentile(50)),
                probe_p99_ms=ms(probe.percentile(99)),
                server_rss_peak_mib=measured.server_rss_peak_kib / 1024,
                server_cpu=measured.server_cpu,
                others_cpu=measured.others_cpu,
            )


SCENARIO = Hostile()
