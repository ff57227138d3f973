"""
Scenario 2: a login storm. Clients log in over and over (connect, LOGIN, QUIT), each as its
own pre-registered user, while a probe sends EXAMS. A login is bound by its password hash, so
its physical limit here is the raw verify rate of the same hash on two threads, measured in
the same run just before each storm.
"""

from __future__ import annotations

import contextlib

from bench.scenario import Column, Panel, Ratio, Scenario, Target, above, below
from bench.session import Worker, ms

PASSWORD = "correct horse battery"


class Storm(Scenario):
    name = "storm"
    title = "2. Login storm"
    load_label = "clients"
    description = (
        "Each client logs in as its own user over and over: connect, greeting, LOGIN, 230, "
        "QUIT, 221. Beside it a probe sends EXAMS every 10 ms. Right before each storm, the "
        "same generator machine measures the raw verify rate of that server's own hash on two "
        "threads: examtwist's CryptContext (argon2id) with the server's settings, the peer's "
        "PBKDF2-SHA512."
    )
    columns = [
        Column("logins_per_s", "logins/s"),
        Column("raw_verifies_per_s", "raw verifies/s (2 threads)"),
        Column("share_of_raw", "logins ÷ raw", ".2f"),
        Column("login_p50_ms", "LOGIN p50 (ms)"),
        Column("login_p99_ms", "LOGIN p99 (ms)"),
        Column("probe_p50_ms", "probe p50 (ms)"),
        Column("probe_p99_ms", "probe p99 (ms)"),
        Column("server_cpu", "server CPU (cores)", ".2f"),
        Column("generator_cpu", "generator CPU (cores)", ".2f"),
        Column("others_cpu", "others' CPU (cores)", ".2f"),
    ]
    ratios = [
        Ratio("logins_per_s", "logins/s, examtwist ÷ threaded peer (different hashes)"),
        Ratio("share_of_raw", "share of its own raw hash rate, examtwist ÷ threaded peer"),
    ]
    panels = [
        Panel("share_of_raw", "logins/s ÷ raw 2-thread verifies/s", target=0.9),
        Panel("probe_p99_ms", "probe EXAMS p99 (ms)", target=20, log=True),
    ]
    targets = [
        Target("logins/s ≥ 90 % of the raw two-thread verify rate", above("share_of_raw", 0.9, "")),
        Target("probe p99 ≤ 20 ms during the storm", below("probe_p99_ms", 20, "ms")),
    ]

    async def run(self, bench) -> None:
        clients = bench.options.storm_clients
        contenders = self.contenders(bench)
        async with contextlib.AsyncExitStack() as stack:
            running = {}
            for contender in contenders:
                server = await stack.enter_async_context(bench.serving(contender))
                address = {"host": server.host, "port": server.port}
                workers = await stack.enter_async_context(bench.generators(
                    Worker.start("storm", clients=clients, prefix="storm", password=PASSWORD,
                                 **address),
                    Worker.start("probe", **address),
                    Worker.start("verify", threads=2, **contender.verify),
                ))
                running[contender.name] = server, workers
                await bench.measure(server, workers[:2], bench.options.warmup)
            for number, contender in bench.alternating(contenders):
                server, (storm, probe, raw) = running[contender.name]
                rated = await raw.round(bench.options.duration)
                raw_rate = rated["verifies"] / rated["wall_seconds"]
                measured = await bench.measure(
                    server, [storm, probe], bench.options.duration,
                    profile_as=bench.profile_name(self.name, clients, contender, number),
                )
                stormed, probed = measured.results
                logins = stormed["logins"] / measured.seconds
                login_latencies = measured.latencies([stormed])
                probe_latencies = measured.latencies([probed])
                bench.record(
                    self.name, contender.name, clients, number,
                    logins_per_s=logins,
                    raw_verifies_per_s=raw_rate,
                    # A smoke run's short round on a busy machine may finish no verify at all.
                    share_of_raw=logins / raw_rate if raw_rate else float("nan"),
                    login_p50_ms=ms(login_latencies.percentile(50)),
                    login_p99_ms=ms(login_latencies.percentile(99)),
                    probe_p50_ms=ms(probe_latencies.percentile(50)),
                    probe_p99_ms=ms(probe_latencies.percentile(99)),
                    server_cpu=measured.server_cpu,
                    generator_cpu=measured.generator_cpu(),
                    others_cpu=measured.others_cpu,
                )


SCENARIO = Storm()
