"""
Scenario 3: test throughput. Logged-in students each take tests back to back (TAKE, then
five answers), sending each line as soon as the previous reply is in.
"""

from __future__ import annotations

import contextlib

from bench.scenario import Column, Panel, Ratio, Scenario, Target, below, ratio_above
from bench.session import Worker, ms

PASSWORD = "correct horse battery"
ANSWERS = Ratio("answers_per_s", "answers/s, examtwist ÷ threaded peer")
CEILING = "bare LineReceiver"


class Throughput(Scenario):
    name = "throughput"
    title = "3. Test throughput"
    load_label = "students"
    description = (
        "Every student registers on its own connection, then takes the math test again and "
        "again: TAKE math, then five answers, each line sent when the previous reply is in. "
        "Reply latency counts every line (TAKE and answers); answers/s counts answers. The bare "
        "LineReceiver (bench/bare_exam.py) sends the same replies and does nothing else: the "
        "ceiling of Twisted's line handling here, with the same generators."
    )
    columns = [
        Column("answers_per_s", "answers/s"),
        Column("reply_p50_ms", "reply p50 (ms)"),
        Column("reply_p99_ms", "reply p99 (ms)"),
        Column("server_cpu", "server CPU (cores)", ".2f"),
        Column("generator_cpu", "busiest generator CPU (cores)", ".2f"),
        Column("others_cpu", "others' CPU (cores)", ".2f"),
    ]
    ratios = [ANSWERS, Ratio("answers_per_s", "answers/s, examtwist ÷ bare LineReceiver (ceiling)",
                             under=CEILING)]
    panels = [
        Panel("answers_per_s", "answers/s"),
        Panel("reply_p99_ms", "reply p99 (ms)", target=20, log=True),
    ]
    targets = [
        Target("answers/s ≥ 5× the threaded peer's at the same load", ratio_above(ANSWERS, 5)),
        Target("reply p99 ≤ 20 ms", below("reply_p99_ms", 20, "ms")),
    ]

    def contenders(self, bench) -> list:
        """The exam servers, and the stack's ceiling (L{bench.bare_exam})."""
        return bench.of_kind(self.kind) + bench.of_kind("exam-ceiling")

    async def run(self, bench) -> None:
        await take_tests(bench, self.name, self.contenders(bench))


async def take_tests(bench, scenario: str, contenders, rate: float | None = None) -> None:
    """
    Every contender's logged-in students take tests, a timed round at a time, the contenders
    alternating: as fast as replies come, or offering C{rate} answers/s between them.
    """
    students = bench.options.students
    async with contextlib.AsyncExitStack() as stack:
        running = {c.name: await logged_in_students(bench, stack, c) for c in contenders}
        for number, contender in bench.alternating(contenders):
            server, workers = running[contender.name]
            paced = {} if rate is None else {"rate": rate / len(workers)}
            measured = await bench.measure(
                server, workers, bench.options.duration,
                profile_as=bench.profile_name(scenario, students, contender, number), **paced,
            )
            offered = {} if rate is None else {"offered_per_s": rate}
            record(bench, scenario, contender, students, number, measured, **offered)


async def logged_in_students(bench, stack, contender):
    """
    A fresh server, and --students logged-in students on it, split over --generators
    processes, warmed up. Both are stopped when C{stack} closes.
    """
    students, generators = bench.options.students, bench.options.generators
    server = await stack.enter_async_context(bench.serving(contender))
    workers = await stack.enter_async_context(bench.generators(*(
        Worker.start("students", host=server.host, port=server.port,
                     students=len(range(g, students, generators)),
                     prefix=f"student{g}x", password=PASSWORD)
        for g in range(generators)
    )))
    await bench.measure(server, workers, bench.options.warmup)
    return server, workers


def record(bench, scenario: str, contender, students: int, number: int, measured, **more) -> None:
    latencies = measured.latencies()
    bench.record(
        scenario, contender.name, students, number, **more,
        answers_per_s=measured.total("answers") / measured.seconds,
        reply_p50_ms=ms(latencies.percentile(50)),
        reply_p99_ms=ms(latencies.percentile(99)),
        server_cpu=measured.server_cpu,
        generator_cpu=measured.generator_cpu(),
        others_cpu=measured.others_cpu,
    )


SCENARIO = Throughput()
