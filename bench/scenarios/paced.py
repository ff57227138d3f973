"""
Scenario 3b: the students of scenario 3 at the same offered load for both servers, the
answers/s the threaded peer reached there. Closed-loop students wait a whole round trip of
everyone's replies (1,000 students at 7,000 answers/s wait ~140 ms a reply, by Little's law),
so the latency that tells the two designs apart is the one at a load both can carry.
"""

from __future__ import annotations

import statistics

from bench.scenario import EXAMTWIST, THREADED_PEER, Column, Panel, Ratio, Scenario, Target, below
from bench.scenarios.throughput import take_tests


class Paced(Scenario):
    name = "paced"
    title = "3b. Test throughput at the peer's best rate"
    load_label = "students"
    description = (
        "The students of scenario 3, each pacing its lines so that together they offer the "
        "answers/s the threaded peer reached in scenario 3 of this run (its median; --paced-rate "
        "when there is none). Latency counts from when a line was due, so a stall also counts "
        "the lines it held back."
    )
    columns = [
        Column("offered_per_s", "offered answers/s"),
        Column("answers_per_s", "answers/s"),
        Column("reply_p50_ms", "reply p50 (ms)"),
        Column("reply_p99_ms", "reply p99 (ms)"),
        Column("server_cpu", "server CPU (cores)", ".2f"),
        Column("generator_cpu", "busiest generator CPU (cores)", ".2f"),
        Column("others_cpu", "others' CPU (cores)", ".2f"),
    ]
    ratios = [Ratio("reply_p99_ms", "reply p99, threaded peer ÷ examtwist",
                    over=THREADED_PEER, under=EXAMTWIST)]
    panels = [
        Panel("answers_per_s", "answers/s (offered: the peer's best)"),
        Panel("reply_p99_ms", "reply p99 (ms)", target=20, log=True),
    ]
    targets = [Target("reply p99 ≤ 20 ms at the peer's best rate", below("reply_p99_ms", 20, "ms"))]

    async def run(self, bench) -> None:
        rate = self.offered_rate(bench)
        bench.say(f"  offering {rate:.0f} answers/s")
        await take_tests(bench, self.name, self.contenders(bench), rate)

    @staticmethod
    def offered_rate(bench) -> float:
        peer = [m["metrics"]["answers_per_s"] for m in bench.measurements
                if m["scenario"] == "throughput" and m["server"] == THREADED_PEER]
        return statistics.median(peer) if peer else bench.options.paced_rate


SCENARIO = Paced()
