"""
What the teacher's pages show of the tests and their attempts, read in one transaction each, in
a worker thread on the store's reading connection (L{examtwist.storage.running}): the
aggregates are computed by the database from its indexes (schema 9), a test's attempts counted
by outcome and grade in one index scan, its answers from L{answercounts}; only those few rows
reach Python, never every attempt or answer.

An attempt is "in progress" while its outcome is C{open} (protocol 1.1 writes an attempt when it
starts only for a test with an attempts limit or a time limit; any other attempt is written
when it ends) and its time has not come: an open attempt past its deadline or its resume
window is shown as L{examtwist.storage.overdue} says it has ended, as the next look at
it will store it. It is "finished" when it got a grade: C{graded} or C{time_up}. Answers count
by the choice meant (the stored letter), so shuffled attempts add up with the others.
"""

from __future__ import annotations

from collections import Counter
from fractions import Fraction
from typing import NamedTuple

from examtwist.storage import answercounts
from examtwist.storage.overdue import open_attempts, overdue
from examtwist.storage.records import utc_seconds, utc_text
from examtwist.testbank import Rules

FINISHED = ("graded", "time_up")
# The histogram's bars: 0-10 %, 10-20 %, ..., 90-100 % (100 % in the last).
BINS = 10
LATEST = 20


class TestRow(NamedTuple):
    name: str
    questions: int
    rules: Rules
    in_progress: int
    finished: int
    abandoned: int
    mean: float | None
    median: float | None
    # The latest time an attempt started or ended, None if none did.
    last_activity: str | None


class QuestionRow(NamedTuple):
    position: int
    text: str
    answer: str
    choices: tuple[str, str, str, str]
    answered: int
    right: int
    # How often each choice, A to D, was chosen.
    chosen: tuple[int, int, int, int]


class AttemptRow(NamedTuple):
    username: str
    test: str
    outcome: str
    grade: float | None
    correct: int
    answered: int
    total: int
    started_at: str
    finished_at: str | None
    # Seconds from start to end; None while in progress.
    seconds: int | None


class StudentRow(NamedTuple):
    username: str
    attempts: int
    finished: int
    mean: float | None
    last_started: str | None


class TestReport(NamedTuple):
    row: TestRow
    histogram: tuple[int, ...]
    questions: list[QuestionRow]
    # In the last moments (the page's refresh interval): attempts started, and ended.
    started_lately: int
    ended_lately: int
    latest: list[AttemptRow]


_TESTS = ("SELECT id, name, max_attempts, time_limit, shuffled, opens_at, closes_at,"
          " (SELECT count(*) FROM questions WHERE questions.test_id = tests.id) FROM tests")
_ATTEMPTS = ("SELECT users.username, tests.name, attempts.outcome, attempts.grade,"
             " attempts.correct, attempts.answered, attempts.total, attempts.started_at,"
             " attempts.finished_at, attempts.deadline, attempts.suspended_at, nodes.seen_at"
             " FROM attempts JOIN users ON users.id = attempts.user_id"
             " JOIN tests ON tests.id = attempts.test_id"
             " LEFT JOIN nodes ON attempts.outcome = 'open' AND attempts.holder IS NOT NULL"
             " AND nodes.dead_after <= ?"
             " AND nodes.node = substr(attempts.holder, 1, length(nodes.node))")


class _Attempts(NamedTuple):
    """A test's attempts as counted: the grades of the finished, grade -> how many."""

    row: TestRow
    grades: Counter


def _test_row(txn, found, now: float, resume_window: float) -> _Attempts:
    test_id, name, max_attempts, time_limit, shuffled, opens_at, closes_at, questions = found
    rules = Rules(max_attempts, time_limit, bool(shuffled),
                  None if opens_at is None else utc_seconds(opens_at),
                  None if closes_at is None else utc_seconds(closes_at))
    txn.execute("SELECT outcome, grade, count(*) FROM attempts WHERE test_id = ?"
                " GROUP BY outcome, grade", (test_id,))
    counts = {"open": 0, "abandoned": 0, "finished": 0}
    grades: Counter = Counter()

    def count(outcome, grade, how_many):
        if outcome in FINISHED:
            counts["finished"] += how_many
            if grade is not None:
                grades[grade] += how_many
        elif outcome in counts:
            counts[outcome] += how_many

    for outcome, grade, how_many in txn.fetchall():
        if outcome != "open":
            count(outcome, grade, how_many)
    ends = []
    for _, *state in open_attempts(txn, now, "test_id = ?", (test_id,)):
        ending = overdue(now, resume_window, *state)
        if ending is None:
            counts["open"] += 1
        else:
            count(ending[0], ending[1], 1)
            ends.append(ending[2])
    # Apart, so that each is read from the end of its index.
    txn.execute("SELECT (SELECT max(started_at) FROM attempts WHERE test_id = ?),"
                " (SELECT max(finished_at) FROM attempts WHERE test_id = ?)", (test_id, test_id))
    last = max(filter(None, (*txn.fetchone(), *ends)), default=None)
    return _Attempts(TestRow(name, questions, rules, counts["open"], counts["finished"],
                             counts["abandoned"], _mean(grades), _median(grades), last), grades)


def _mean(grades: Counter) -> float | None:
    """As C{statistics.fmean} of every grade: their exact sum rounded once, over how many."""
    if not grades:
        return None
    total = float(sum(Fraction(grade) * n for grade, n in grades.items()))
    return round(total / sum(grades.values()), 1)


def _median(grades: Counter) -> float | None:
    """As C{statistics.median} of every grade: the middle one, or the mean of the middle two."""
    if not grades:
        return None
    size, ordered = sum(grades.values()), sorted(grades.items())

    def at(place: int) -> float:
        seen = 0
        for grade, n in ordered:
            seen += n
            if place < seen:
                return grade
        raise IndexError(place)

    return round((at((size - 1) // 2) + at(size // 2)) / 2, 1)


def overview(txn, now: float, resume_window: float) -> list[TestRow]:
    """Every test, in number order."""
    txn.execute(_TESTS + " ORDER BY id")
    return [_test_row(txn, found, now, resume_window).row for found in txn.fetchall()]


def _find(txn, name: str):
    txn.execute(_TESTS + " WHERE lower(name) = lower(?)", (name,))
    return txn.fetchone()


def test_report(txn, name: str, since: str, now: float,
                resume_window: float) -> TestReport | None:
    """One test by name (any case), with attempts started or ended at or after C{since}."""
    found = _find(txn, name)
    if found is None:
        return None
    test_id, (row, grades) = found[0], _test_row(txn, found, now, resume_window)
    histogram = [0] * BINS
    for grade, n in grades.items():
        histogram[min(int(grade // (100 / BINS)), BINS - 1)] += n
    # An open attempt has no finished_at: what ended lately is what has one since.
    txn.execute(
        "SELECT (SELECT count(*) FROM attempts WHERE test_id = ? AND started_at >= ?),"
        " (SELECT count(*) FROM attempts WHERE test_id = ? AND finished_at >= ?)",
        (test_id, since, test_id, since),
    )
    started, ended = txn.fetchone()
    return TestReport(row, tuple(histogram), _questions(txn, test_id), started, ended,
                      _latest(txn, test_id, now, resume_window))


def _questions(txn, test_id: int) -> list[QuestionRow]:
    counted = answercounts.of_test(txn, test_id)
    txn.execute(
        "SELECT position, text, choice_a, choice_b, choice_c, choice_d, answer FROM questions"
        " WHERE test_id = ? ORDER BY position",
        (test_id,),
    )
    rows = []
    for position, text, a, b, c, d, answer in txn.fetchall():
        of_question = counted.get(position, {})
        chosen = tuple(of_question.get(letter, (0, 0))[0] for letter in "ABCD")
        right = sum(correct for _, correct in of_question.values())
        rows.append(QuestionRow(position, text, answer, (a, b, c, d), sum(chosen), right,
                                chosen))
    return rows


def _attempt(row, now: float, resume_window: float) -> AttemptRow:
    username, test, outcome, grade, correct, answered, total, started_at, finished_at = row[:9]
    if outcome == "open":
        ending = overdue(now, resume_window, correct, total, *row[9:])
        if ending is not None:
            outcome, grade, finished_at = ending
    seconds = None
    if finished_at is not None and outcome != "open":
        seconds = utc_seconds(finished_at) - utc_seconds(started_at)
    return AttemptRow(username, test, outcome, grade, correct, answered, total, started_at,
                      finished_at, seconds)


_LATEST_FIRST = " ORDER BY attempts.started_at DESC, attempts.id DESC"


def _latest(txn, test_id: int, now: float, resume_window: float) -> list[AttemptRow]:
    txn.execute(_ATTEMPTS + f" WHERE attempts.test_id = ?{_LATEST_FIRST} LIMIT {LATEST}",
                (utc_text(now), test_id))
    return [_attempt(row, now, resume_window) for row in txn.fetchall()]


def attempts_of_test(txn, name: str, now: float, resume_window: float) -> list[AttemptRow]:
    """A test's attempts, the latest started first."""
    txn.execute(_ATTEMPTS + f" WHERE lower(tests.name) = lower(?){_LATEST_FIRST}",
                (utc_text(now), name))
    return [_attempt(row, now, resume_window) for row in txn.fetchall()]


def attempts_of_student(txn, username: str, now: float,
                        resume_window: float) -> list[AttemptRow] | None:
    """A student's attempts, the latest first; None if no student has that name."""
    txn.execute("SELECT id FROM users WHERE username = ?", (username,))
    found = txn.fetchone()
    if found is None:
        return None
    txn.execute(_ATTEMPTS + f" WHERE attempts.user_id = ?{_LATEST_FIRST}",
                (utc_text(now), found[0]))
    return [_attempt(row, now, resume_window) for row in txn.fetchall()]


def students(txn) -> list[StudentRow]:
    """Every student account by name, with their attempts and mean grade."""
    txn.execute(
        "SELECT users.username, count(attempts.id),"
        " count(CASE WHEN attempts.outcome IN (?, ?) THEN 1 END),"
        " avg(CASE WHEN attempts.outcome IN (?, ?) THEN attempts.grade END),"
        " max(attempts.started_at)"
        " FROM users LEFT JOIN attempts ON attempts.user_id = users.id"
        " GROUP BY users.id, users.username ORDER BY users.username",
        (*FINISHED, *FINISHED),
    )
    return [StudentRow(name, attempts, finished, None if mean is None else round(mean, 1), last)
            for name, attempts, finished, mean, last in txn.fetchall()]
