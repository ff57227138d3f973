"""
Scenario 3c: a test with rules beside one without, in the same run (issue 12's benchmark).

Scenario 3's students, on the same build of examtwist, sit either the built-in math test (no
rules: an attempt is written once, when it is graded) or a test with the rules of an exam:
one attempt per user, shuffled questions and choices, a time limit (every answer stored
before the next question, every question with its "Time left" line). A --baseline tree sits
the math test as well, so the rules-off path can be held against the tree before, and the
ruled tests too if it has test rules (a before/after of a change to the ruled path).

One attempt per user would make a student register and log in again for each attempt,
which measures argon2, not answering. So the database has many such tests (math's questions,
C{ruled1}, C{ruled2}, …, L{bench.ruled_tests}), and each logged-in student sits the next one
when it is done with one: every TAKE is a first and only attempt, as in an exam hall, while
the students stay logged in as in scenario 3.

Every contender reads what it is shown (L{bench.sitting}) and checks every grade against the
answers it gave, so both tests carry the same generator cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench.latency import Latencies
from bench.scenario import (
    EXAMTWIST, Column, Panel, Ratio, Scenario, Target, ratio_above, ratio_below,
)
from bench.servers import DATABASE, ROOT, Contender, ServerFailed, environment
from bench.session import Worker, ms
from examtwist.testbank import BUILTIN_TESTS
from examtwist.wire import LETTERS

PASSWORD = "correct horse battery"
UNTIMED = "math"
TIME_LIMIT = 3600
# An upper bound of the attempts a second all students together start on this machine (the
# bare LineReceiver's ceiling is about 6,500 a second): the tests each student is given.
ATTEMPTS_PER_S_BOUND = 7000


def row(contender: str, test: str) -> str:
    return f"{contender}: {test}"


MATH, RULED = row(EXAMTWIST, UNTIMED), row(EXAMTWIST, "ruled")
RULED_ANSWERS = Ratio("answers_per_s", "answers/s, ruled ÷ math", over=RULED, under=MATH)
RULED_P99 = Ratio("reply_p99_ms", "reply p99, ruled ÷ math", over=RULED, under=MATH)


def answer_key() -> dict[str, str]:
    """Each question of the math test by its first line, and the text of its right choice."""
    [test] = [t for t in BUILTIN_TESTS if t.name == UNTIMED]
    return {q.text[0]: q.choices[LETTERS.index(q.answer)] for q in test.questions}


@dataclass
class Lane:
    """A row of the table: a server, and what its students sit."""

    row: str
    contender: Contender
    sitting: dict = field(default_factory=dict)

    @property
    def name(self) -> str:  # for the profile's file name
        return self.row.replace(":", "")


def has_rules(contender: Contender) -> bool:
    """Whether the contender's checkout has test rules (protocol 1.1)."""
    return (Path(contender.tree or ROOT) / "examtwist" / "proctor.py").exists()


# bench/ruled_tests.py of this checkout, run with the contender's examtwist: the work dir, then
# the contender's checkout, come first on the path.
_ADD_TESTS = f"import runpy; runpy.run_path({str(ROOT / 'bench' / 'ruled_tests.py')!r}, " \
             "run_name='__main__')"


def with_ruled_tests(contender: Contender, count: int) -> Contender:
    """The contender, its fresh database given C{count} ruled tests before it starts."""

    async def start(workdir):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _ADD_TESTS, str(workdir / DATABASE), str(count),
            str(TIME_LIMIT), cwd=workdir, env=environment(contender.tree or str(ROOT)),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        if process.returncode:
            raise ServerFailed(f"could not add the ruled tests:\n{output.decode(errors='replace')}")
        return await contender.start(workdir)

    return Contender(contender.name, contender.kind, start, contender.verify, contender.tree)


class Ruled(Scenario):
    name = "ruled"
    title = "3c. A test with rules beside one without"
    load_label = "students"
    description = (
        "Scenario 3's students on the same build, a fresh server for each row, the rows "
        "alternating round by round: \"math\" sits the built-in test (no rules), \"ruled\" "
        f"sits tests with math's questions and the rules of an exam: 1 attempt, shuffled, "
        f"{TIME_LIMIT} s (each answer stored before the next question). One attempt each, so "
        "every student, logged in once, sits test ruled1, then ruled2, and so on. Every "
        "student reads each question and its choices, answers by their text (some right, "
        "some wrong) and checks each grade against its answers, on every row. TAKE p99 is "
        "that of the TAKE lines alone. Server CPU per answer (its TAKE and grade included) "
        "is the figure that least depends on what else the machine runs."
    )
    columns = [
        Column("answers_per_s", "answers/s"),
        Column("reply_p50_ms", "reply p50 (ms)"),
        Column("reply_p99_ms", "reply p99 (ms)"),
        Column("take_p99_ms", "TAKE p99 (ms)"),
        Column("server_cpu", "server CPU (cores)", ".2f"),
        Column("server_us_per_answer", "server CPU per answer (µs)"),
        Column("generator_cpu", "busiest generator CPU (cores)", ".2f"),
        Column("others_cpu", "others' CPU (cores)", ".2f"),
    ]
    ratios = [RULED_ANSWERS, RULED_P99]
    panels = [
        Panel("answers_per_s", "answers/s"),
        Panel("reply_p99_ms", "reply p99 (ms)", log=True),
    ]
    targets = [
        Target("answers/s of the ruled test ≥ 60 % of the untimed test's",
               ratio_above(RULED_ANSWERS, 0.6)),
        Target("reply p99 of the ruled test ≤ 2× the untimed test's", ratio_below(RULED_P99, 2)),
    ]

    def lanes(self, bench) -> list[Lane]:
        """
        examtwist's math and ruled rows, then each --baseline's: math, and ruled if its
        checkout has test rules.
        """
        key = answer_key()
        math_test = {"tests": [UNTIMED], "repeat": True, "key": key}
        count = self.tests_each(bench.options)
        ruled = {"tests": [f"ruled{n}" for n in range(1, count + 1)], "key": key,
                 "time_limit": TIME_LIMIT}
        found = []
        for contender in bench.of_kind(self.kind):
            if contender.name == EXAMTWIST or contender.name.startswith(EXAMTWIST + " "):
                found.append(Lane(row(contender.name, UNTIMED), contender, math_test))
                if has_rules(contender):
                    found.append(Lane(row(contender.name, "ruled"),
                                      with_ruled_tests(contender, count), ruled))
        return found

    @staticmethod
    def tests_each(options) -> int:
        """--ruled-tests, or enough for the fastest the students could go for the whole run."""
        if options.ruled_tests:
            return options.ruled_tests
        seconds = options.warmup + options.rounds * options.duration
        return math.ceil(ATTEMPTS_PER_S_BOUND * seconds / options.students) + 1

    async def run(self, bench) -> None:
        lanes = self.lanes(bench)
        students = bench.options.students
        async with contextlib.AsyncExitStack() as stack:
            running = {lane.row: await self.seated(bench, stack, lane) for lane in lanes}
            for number, lane in bench.alternating(lanes):
                server, workers = running[lane.row]
                measured = await bench.measure(
                    server, workers, bench.options.duration,
                    profile_as=bench.profile_name(self.name, students, lane, number),
                )
                takes = Latencies()
                for result in measured.results:
                    takes.merge(Latencies.from_json(result["take_latency"]))
                latencies = measured.latencies()
                bench.record(
                    self.name, lane.row, students, number,
                    answers_per_s=measured.total("answers") / measured.seconds,
                    reply_p50_ms=ms(latencies.percentile(50)),
                    reply_p99_ms=ms(latencies.percentile(99)),
                    take_p99_ms=ms(takes.percentile(99)),
                    graded=measured.total("graded"),
                    tests_sat_most=max(r["tests_sat_most"] for r in measured.results),
                    server_cpu=measured.server_cpu,
                    server_us_per_answer=measured.server_cpu * measured.seconds
                    / max(1, measured.total("answers")) * 1e6,
                    generator_cpu=measured.generator_cpu(),
                    others_cpu=measured.others_cpu,
                )

    @staticmethod
    async def seated(bench, stack, lane: Lane):
        """
        A fresh server, and --students logged-in students on it split over --generators
        processes, warmed up; stopped when C{stack} closes.
        """
        students, generators = bench.options.students, bench.options.generators
        server = await stack.enter_async_context(bench.serving(lane.contender))
        workers = await stack.enter_async_context(bench.generators(*(
            Worker.start("sitters", host=server.host, port=server.port,
                         students=len(range(g, students, generators)), prefix=f"student{g}x",
                         password=PASSWORD, **lane.sitting)
            for g in range(generators)
        )))
        await bench.measure(server, workers, bench.options.warmup)
        return server, workers

    def summary(self, measurements: list[dict]):
        """
        With a baseline, also examtwist's math row against the baseline's (with targets), and
        its ruled row against the baseline's, if it has one.
        """
        scenario = copy.copy(self)
        rows = dict.fromkeys(m["server"] for m in measurements if m["scenario"] == self.name)
        for baseline in rows:
            if baseline.endswith(": " + UNTIMED) and baseline != MATH:
                tree = baseline[:-len(": " + UNTIMED)]
                answers = Ratio("answers_per_s", f"math answers/s, examtwist ÷ {tree}",
                                under=baseline, over=MATH)
                p99 = Ratio("reply_p99_ms", f"math reply p99, examtwist ÷ {tree}",
                            under=baseline, over=MATH)
                scenario.ratios = [*scenario.ratios, answers, p99]
                scenario.targets = [
                    *scenario.targets,
                    Target(f"math answers/s ≥ 95 % of {tree}'s", ratio_above(answers, 0.95)),
                    Target(f"math reply p99 ≤ 105 % of {tree}'s", ratio_below(p99, 1.05)),
                ]
                if row(tree, "ruled") in rows:
                    scenario.ratios = [*scenario.ratios, *(
                        Ratio(metric, f"ruled {label}, examtwist ÷ {tree}",
                              under=row(tree, "ruled"), over=RULED)
                        for metric, label in (("answers_per_s", "answers/s"),
                                              ("reply_p99_ms", "reply p99"))
                    )]
        return super(Ruled, scenario).summary(measurements)


SCENARIO = Ruled()
