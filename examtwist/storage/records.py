"""
What the store takes and hands back: its records, its exceptions, and the text its times are
stored as.
"""

from __future__ import annotations

import time
from typing import NamedTuple

# Every time the database holds is UTC text in this one format.
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_now() -> str:
    """Now, to the second, as every stored time is written (formatted once a second)."""
    global _now
    second = int(time.time())
    kept = _now
    if kept[0] != second:
        kept = _now = (second, time.strftime(TIME_FORMAT, time.gmtime(second)))
    return kept[1]


_now: tuple[int | None, str] = (None, "")


class TestExists(Exception):
    """A test of that name is stored already."""


class StudentExists(Exception):
    """A student with that ID is stored already; C{args} is the new student."""


class StoreClosed(Exception):
    """The store was closed; nothing more can be asked of it."""


class TestSummary(NamedTuple):
    number: int
    name: str
    question_count: int


class Result(NamedTuple):
    username: str
    test: str
    status: str  # "graded" or "abandoned"
    correct: int
    answered: int
    total: int
    grade: float | None  # percentage with one decimal; None when abandoned
    started_at: str
    finished_at: str
    client: str


class UserSummary(NamedTuple):
    username: str
    created_at: str
    results: int


class ConnectionCount(NamedTuple):
    counted: int
    since: str
