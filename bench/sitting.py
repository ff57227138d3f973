"""
Students who read what they are shown (the generator role C{sitters} of L{bench.worker}).

A test with shuffled questions and choices shows each attempt in an order of its own, so a
letter means nothing until the reply is read: these students read each question, find the
right choice by its text, answer right or wrong by a pattern of their own, and check that the
grade is the one their answers earned. A deadline's "Time left" line is checked as well. A
reply that does not read so fails the round: a figure of a server that grades wrong is void.
"""

from __future__ import annotations

import asyncio
from time import perf_counter

from bench.client import ExamConnection, UnexpectedReply, bounded, connect
from bench.latency import Latencies

_TIME_LEFT = b"350-Time left: "


class ReadingConnection(ExamConnection):
    """An L{ExamConnection} that keeps the whole text of the last reply: C{text}."""

    keeps_text = True


class OutOfTests(Exception):
    """A student sat every test it was given once and may sit none again."""


class Sitter:
    """One logged-in student: which test is next, and where it is in the one under way."""

    def __init__(self, connection: ReadingConnection, name: str) -> None:
        self.connection = connection
        self.name = name
        self.next_test = 0
        self.attempts = 0
        self.take: bytes | None = None  # the TAKE of the attempt under way; None between
        self.number = 0  # the question shown last
        self.correct = 0  # right answers given so far in this attempt
        self.seen: set[bytes] = set()  # the questions shown so far in this attempt


class Sitters:
    """
    C{students} logged-in students, each sitting C{tests} one after another as fast as the
    replies come: TAKE, then an answer to each question shown. With C{repeat} they start the
    list again when it is done (a test without an attempts limit); without, each test is sat
    once and a student that has sat them all stops the run (L{OutOfTests}).

    C{key} maps a question's first line to its right choice's text. In attempt M, question N
    as shown is answered wrong when M + N is a multiple of 4, right otherwise; the grade must
    be the one that makes. With C{time_limit}, every question must say the seconds left, from
    0 to C{time_limit} - 1; without, none may.
    """

    def __init__(self, host: str, port: int, students: int, prefix: str, password: str,
                 tests: list[str], key: dict[str, str], repeat: bool = False,
                 time_limit: int | None = None) -> None:
        self.address = host, port
        self.users = [f"{prefix}{i}" for i in range(students)]
        self.password = password
        self.takes = [f"TAKE {name}".encode() for name in tests]
        self.repeat = repeat
        self.key = {question.encode(): right.encode() for question, right in key.items()}
        self.total = len(key)
        self.time_limit = time_limit

    async def setup(self) -> dict:
        async def enrol(i: int) -> Sitter:
            connection = await connect(*self.address, protocol=ReadingConnection)
            await connection.expect(f"REGISTER {self.users[i]} {self.password}".encode(), 231)
            return Sitter(connection, self.users[i])

        self.students = await bounded(len(self.users), enrol)
        return {"students": len(self.students)}

    async def round(self, seconds: float) -> dict:
        """
        Each student sends its next line as soon as a reply is in, until the round is over; a
        test left unfinished is continued in the next round.
        """
        counts = {"answers": 0, "takes": 0, "graded": 0}
        replies, take_replies = Latencies(), Latencies()
        end = perf_counter() + seconds

        async def sit(student: Sitter) -> None:
            while perf_counter() < end:
                if student.take is None:
                    line, code = self._next_take(student), 350
                else:
                    right = (student.attempts + student.number) % 4 != 0
                    line = self._choose(student, right)
                    student.correct += right
                    code = 250 if student.number == self.total else 350
                sent = perf_counter()
                await student.connection.expect(line, code)
                answered = perf_counter()
                replies.record(answered - sent)
                if student.take is None:
                    take_replies.record(answered - sent)
                    counts["takes"] += 1
                    student.take, student.number, student.correct = line, 0, 0
                    student.seen = set()
                elif answered <= end:
                    counts["answers"] += 1
                if code == 250:
                    self._check_grade(student)
                    counts["graded"] += 1
                    student.take = None
                else:
                    student.number += 1

        await asyncio.gather(*map(sit, self.students))
        return {**counts, "tests_sat_most": max(s.attempts for s in self.students),
                "latency": replies.to_json(), "take_latency": take_replies.to_json()}

    def _next_take(self, student: Sitter) -> bytes:
        if student.next_test == len(self.takes):
            if not self.repeat:
                raise OutOfTests(
                    f"{student.name} has sat all {len(self.takes)} tests once: give the "
                    "scenario more (python -m bench --ruled-tests)"
                )
            student.next_test = 0
        student.next_test += 1
        student.attempts += 1
        return self.takes[student.next_test - 1]

    def _choose(self, student: Sitter, right: bool) -> bytes:
        """The letter to send for the question the student was shown last."""
        reply, number = student.connection.text, student.number
        lines = reply.split(b"\r\n")
        if lines[0] != b"350-Question %d of %d" % (number, self.total):
            raise UnexpectedReply(f"{student.take!r}: question {number} expected: {reply!r}")
        at = 1
        if self.time_limit is not None:
            left = lines[1]
            if not (left.startswith(_TIME_LEFT) and left.endswith(b" s")
                    and 0 <= int(left[len(_TIME_LEFT):-2]) < self.time_limit):
                raise UnexpectedReply(f"{student.take!r}: no time left within the limit: "
                                      f"{reply!r}")
            at = 2
        question = lines[at][4:]
        wanted = self.key.get(question)
        choices = lines[-5:-1]
        letters = [line[4:5] for line in choices if line[5:7] == b") " and line[7:] == wanted]
        if wanted is None or len(letters) != 1 or question in student.seen:
            raise UnexpectedReply(f"{student.take!r}: cannot read question {number}, or seen"
                                  f" it before: {reply!r}")
        student.seen.add(question)
        if right:
            return letters[0]
        return next(line[4:5] for line in choices if line[4:5] != letters[0])

    def _check_grade(self, student: Sitter) -> None:
        """The grade must be the percentage of right answers, in tenths rounded half up."""
        correct, total = student.correct, self.total
        tenths = (2000 * correct + total) // (2 * total)
        expected = b"250 Your grade is %d.%d (%d/%d correct)\r\n" % (
            tenths // 10, tenths % 10, correct, total)
        if student.connection.text != expected:
            raise UnexpectedReply(f"{student.take!r}: graded {student.connection.text!r}, "
                                  f"earned {expected!r}")

    def close(self) -> None:
        for s in self.students:
            s.connection.close()
