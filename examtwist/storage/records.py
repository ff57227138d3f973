"""
What the store takes and hands back: its records, its exceptions, and the text its times are
stored as.
"""

from __future__ import annotations

import calendar
import time
from typing import NamedTuple

# Every time the database holds is UTC text in this one format.
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_now() -> str:
    """Now, to the second, as every stored time is written (formatted once a second)."""
    return utc_text(time.time())


def utc_text(seconds: float) -> str:
    """A time in seconds since the epoch as it is stored, to the second (rounded down)."""
    global _now
    second = int(seconds // 1)
    kept = _now
    if kept[0] != second:
        kept = _now = (second, time.strftime(TIME_FORMAT, time.gmtime(second)))
    return kept[1]


def utc_seconds(text: str) -> int:
    """A stored time in seconds since the epoch."""
    return calendar.timegm(time.strptime(text, TIME_FORMAT))


_now: tuple[int | None, str] = (None, "")


class TestExists(Exception):
    """A test of that name is stored already."""


class StudentExists(Exception):
    """A student with that ID is stored already; C{args} is the new student."""


class NoAttemptsLeft(Exception):
    """TAKE of a test whose every allowed attempt this user has started."""


class TakenOver(Exception):
    """An open attempt is held by another connection now, or has ended meanwhile."""


class StoreClosed(Exception):
    """The store was closed; nothing more can be asked of it."""


class TestSummary(NamedTuple):
    number: int
    name: str
    question_count: int


class Result(NamedTuple):
    """An attempt that has ended."""

    username: str
    test: str
    outcome: str  # "graded", "time_up" or "abandoned"
    correct: int
    answered: int
    total: int
    grade: float | None  # percentage with one decimal; None when abandoned
    started_at: str
    finished_at: str
    client: str


OUTCOMES = ("graded", "time_up", "abandoned")


class AnswerRow(NamedTuple):
    """One answer of an ended attempt, for the admin's CSV."""

    username: str
    test: str
    started_at: str
    number: int  # as shown
    position: int  # as stored
    shown: str
    meant: str
    correct: bool
    answered_at: str


class UserSummary(NamedTuple):
    username: str
    created_at: str
    results: int


class ConnectionCount(NamedTuple):
    counted: int
    since: str
