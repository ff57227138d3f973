"""
The teacher's tables as CSV: each table a page shows, at the page's address with the table's
name and C{.csv}, its values as stored (grades with one decimal, times in UTC as the database
writes them, every attempt rather than the latest; an open attempt whose time has come as it
will be stored). Cells are made spreadsheet-safe by L{examtwist.formats.write_csv}, off the
reactor.
"""

from __future__ import annotations

import io
import re

from twisted.internet.threads import deferToThread

from examtwist.formats import write_csv
from examtwist.storage.gradebook import BINS
from examtwist.storage.records import utc_text

_NAME = r"([A-Za-z0-9_.-]{1,32})"
ATTEMPT_HEADER = ["student", "test", "outcome", "grade", "correct", "answered", "total",
                  "started_at", "finished_at", "seconds"]


def _stamp(seconds: int | None) -> str | None:
    return None if seconds is None else utc_text(seconds)


def _attempt(a) -> list:
    return [a.username, a.test, a.outcome, a.grade, a.correct, a.answered, a.total,
            a.started_at, a.finished_at, a.seconds]


async def _tests(reports):
    return [[r.name, r.questions, r.rules.attempts, r.rules.time_limit,
             int(r.rules.shuffled), _stamp(r.rules.opens), _stamp(r.rules.closes), r.in_progress,
             r.finished, r.abandoned, r.mean, r.median]
            for r in await reports.tests()]


async def _report(reports, name):
    return await reports.test(name)


async def _questions(reports, name):
    report = await _report(reports, name)
    if report is None:
        return None
    return [[q.position, q.text, q.answer, *q.choices, q.answered, q.right, *q.chosen]
            for q in report.questions]


async def _grades(reports, name):
    report = await _report(reports, name)
    if report is None:
        return None
    return [[f"{i * 10} to {100 if i == BINS - 1 else i * 10 + 9.9:g}", count]
            for i, count in enumerate(report.histogram)]


async def _test_attempts(reports, name):
    if await _report(reports, name) is None:
        return None
    return [_attempt(a) for a in await reports.attempts_of_test(name)]


async def _students(reports):
    return [list(s) for s in await reports.students()]


async def _student_attempts(reports, name):
    attempts = await reports.attempts_of_student(name)
    return None if attempts is None else [_attempt(a) for a in attempts]


# Each table: its path (without .csv) as a pattern, its header, and its rows (None: no such).
TABLES = {
    "tests": (["test", "questions", "max_attempts", "time_limit_seconds", "shuffled",
               "opens_at", "closes_at", "in_progress", "finished", "abandoned", "mean_grade",
               "median_grade"], _tests),
    f"tests/{_NAME}/questions": (["position", "question", "answer", "choice_a", "choice_b",
                                  "choice_c", "choice_d", "answered", "right", "chose_a",
                                  "chose_b", "chose_c", "chose_d"], _questions),
    f"tests/{_NAME}/grades": (["grade_percent", "attempts"], _grades),
    f"tests/{_NAME}/attempts": (ATTEMPT_HEADER, _test_attempts),
    "students": (["student", "attempts", "finished", "mean_grade", "last_started_at"],
                 _students),
    f"students/{_NAME}/attempts": (ATTEMPT_HEADER, _student_attempts),
}


async def csv_table(reports, path: str) -> bytes | None:
    """
    The table at C{path} (without C{.csv}) as CSV, from L{examtwist.teacherreports}; None if
    there is no such table.
    """
    for pattern, (header, rows_of) in TABLES.items():
        named = re.fullmatch(pattern, path)
        if named:
            rows = await rows_of(reports, *named.groups())
            if rows is None:
                return None
            # A test's every attempt may be 100,000s of rows: written out off the reactor.
            return await deferToThread(_csv, header, rows)
    return None


def _csv(header: list[str], rows: list[list]) -> bytes:
    out = io.StringIO()
    write_csv(out, header, rows)
    return out.getvalue().encode("utf-8")
