"""
Scenario 1: N idle connections held past the greeting while one probe sends EXAMS. What each
connection costs the server in memory, and whether the others still get quick replies.
"""

from __future__ import annotations

from bench.scenario import Column, Panel, Ratio, Scenario, Target, THREADED_PEER, EXAMTWIST, below
from bench.session import Worker, ms


class Held(Scenario):
    name = "held"
    title = "1. Held connections"
    load_label = "held connections"
    description = (
        "N idle connections, each past the greeting, held by one generator process; one probe "
        "process sends EXAMS every 10 ms. Server RSS from /proc/PID/status before and during "
        "the hold; a fresh server for every round."
    )
    columns = [
        Column("rss_per_connection_kib", "RSS per connection (KiB)"),
        Column("server_rss_mib", "server RSS (MiB)"),
        Column("server_threads", "server threads", ".0f"),
        Column("probe_p50_ms", "probe p50 (ms)"),
        Column("probe_p99_ms", "probe p99 (ms)"),
        Column("server_cpu", "server CPU (cores)", ".2f"),
        Column("generator_cpu", "generator CPU (cores)", ".2f"),
        Column("others_cpu", "others' CPU (cores)", ".2f"),
    ]
    ratios = [
        Ratio("rss_per_connection_kib", "RSS per connection, threaded peer ÷ examtwist",
              over=THREADED_PEER, under=EXAMTWIST),
        Ratio("probe_p99_ms", "probe p99, threaded peer ÷ examtwist",
              over=THREADED_PEER, under=EXAMTWIST),
    ]
    panels = [
        Panel("rss_per_connection_kib", "KiB of server RSS per held connection", target=50),
        Panel("probe_p99_ms", "probe EXAMS p99 (ms)", target=20, log=True),
    ]
    targets = [
        Target("≤ 50 KB RSS per connection with 10,000 held",
               below("rss_per_connection_kib", 50, "KiB"), load=10000),
        Target("probe p99 ≤ 20 ms with 10,000 held", below("probe_p99_ms", 20, "ms"), load=10000),
    ]

    async def run(self, bench) -> None:
        for load in bench.options.held:
            for number, contender in bench.alternating(self.contenders(bench)):
                async with bench.serving(contender) as server:
                    address = {"host": server.host, "port": server.port}
                    async with bench.generators(Worker.start("probe", **address)) as (probe,):
                        before = server.rss_kib()
                        async with bench.generators(
                            Worker.start("hold", connections=load, **address)
                        ) as (hold,):
                            measured = await bench.measure(
                                server, [probe, hold], bench.options.duration,
                                profile_as=bench.profile_name(self.name, load, contender, number),
                            )
                            threads = server.threads()
                    probed, held = measured.results
                    if held["held"] != load:
                        raise RuntimeError(f"{server.name} dropped {load - held['held']} held connections")
                    latencies = measured.latencies([probed])
                    bench.record(
                        self.name, contender.name, load, number,
                        rss_per_connection_kib=(measured.server_rss_peak_kib - before) / load,
                        server_rss_mib=measured.server_rss_peak_kib / 1024,
                        server_threads=threads,
                        probe_p50_ms=ms(latencies.percentile(50)),
                        probe_p99_ms=ms(latencies.percentile(99)),
                        server_cpu=measured.server_cpu,
                        generator_cpu=measured.generator_cpu(),
                        others_cpu=measured.others_cpu,
                    )


SCENARIO = Held()
