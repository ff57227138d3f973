"""
What the teacher's pages show of the tests and their attempts, read in one transaction each, in
a worker thread: the aggregates (counts, mean and median grade, the grades' histogram, how
often each choice was chosen) are computed there too, never on the reactor.

An attempt is "in progress" while its outcome is C{open} (protocol 1.1 writes an attempt when it
starts only for a test with an attempts limit or a time limit; any other attempt is written
when it ends). It is "finished" when it got a grade: C{graded} or C{time_up}. Answers count by
the choice meant (the stored letter), so shuffled attempts add up with the others.
"""

from __future__ import annotations

import statistics
from typing import NamedTuple

from examtwist.storage.records import utc_seconds
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
             " attempts.finished_at FROM attempts JOIN users ON users.id = attempts.user_id"
             " JOIN tests ON tests.id = attempts.test_id")


def _test_row(txn, found) -> TestRow:
    test_id, name, max_attempts, time_limit, shuffled, opens_at, closes_at, questions = found
    rules = Rules(max_attempts, time_limit, bool(shuffled),
                  None if opens_at is None else utc_seconds(opens_at),
                  None if closes_at is None else utc_seconds(closes_at))
    txn.execute(
        "SELECT outcome, grade, started_at, finished_at FROM attempts WHERE test_id = ?",
        (test_id,),
    )
    counts = {"open": 0, "abandoned": 0, "finished": 0}
    grades, last = [], None
    for outcome, grade, started_at, finished_at in txn.fetchall():
        if outcome in FINISHED:
            counts["finished"] += 1
            if grade is not None:
                grades.append(grade)
        elif outcome in counts:
            counts[outcome] += 1
        last = max(filter(None, (last, started_at, finished_at)))
    mean = round(statistics.fmean(grades), 1) if grades else None
    median = round(statistics.median(grades), 1) if grades else None
    return TestRow(name, questions, rules, counts["open"], counts["finished"],
                   counts["abandoned"], mean, median, last)


def overview(txn) -> list[TestRow]:
    """Every test, in number order."""
    txn.execute(_TESTS + " ORDER BY id")
    return [_test_row(txn, found) for found in txn.fetchall()]


def _find(txn, name: str):
    txn.execute(_TESTS + " WHERE lower(name) = lower(?)", (name,))
    return txn.fetchone()


def test_report(txn, name: str, since: str) -> TestReport | None:
    """One test by name (any case), with attempts started or ended at or after C{since}."""
    found = _find(txn, name)
    if found is None:
        return None
    test_id, row = found[0], _test_row(txn, found)
    txn.execute("SELECT grade FROM attempts WHERE test_id = ? AND outcome IN (?, ?)"
                " AND grade IS NOT NULL", (test_id, *FINISHED))
    histogram = [0] * BINS
    for (grade,) in txn.fetchall():
        histogram[min(int(grade // (100 / BINS)), BINS - 1)] += 1
    txn.execute(
        "SELECT (SELECT count(*) FROM attempts WHERE test_id = ? AND started_at >= ?),"
        " (SELECT count(*) FROM attempts WHERE test_id = ? AND finished_at >= ?"
        " AND outcome <> 'open')",
        (test_id, since, test_id, since),
    )
    started, ended = txn.fetchone()
    return TestReport(row, tuple(histogram), _questions(txn, test_id), started, ended,
                      attempts_of_test(txn, row.name, LATEST))


def _questions(txn, test_id: int) -> list[QuestionRow]:
    txn.execute(
        "SELECT answers.position, answers.meant, count(*), sum(answers.correct) FROM answers"
        " JOIN attempts ON attempts.id = answers.attempt_id WHERE attempts.test_id = ?"
        " GROUP BY answers.position, answers.meant",
        (test_id,),
    )
    chosen: dict[int, dict[str, int]] = {}
    right: dict[int, int] = {}
    for position, meant, count, correct in txn.fetchall():
        chosen.setdefault(position, {})[meant] = count
        right[position] = right.get(position, 0) + (correct or 0)
    txn.execute(
        "SELECT position, text, choice_a, choice_b, choice_c, choice_d, answer FROM questions"
        " WHERE test_id = ? ORDER BY position",
        (test_id,),
    )
    rows = []
    for position, text, a, b, c, d, answer in txn.fetchall():
        counts = tuple(chosen.get(position, {}).get(letter, 0) for letter in "ABCD")
        rows.append(QuestionRow(position, text, answer, (a, b, c, d), sum(counts),
                                right.get(position, 0), counts))
    return rows


def _attempt(row) -> AttemptRow:
    started_at, finished_at = row[7], row[8]
    seconds = None
    if finished_at is not None and row[2] != "open":
        seconds = utc_seconds(finished_at) - utc_seconds(started_at)
    return AttemptRow(*row, seconds)


def attempts_of_test(txn, name: str, limit: int | None = None) -> list[AttemptRow]:
    """A test's attempts, the latest started first; all of them without C{limit}."""
    sql = _ATTEMPTS + (" WHERE lower(tests.name) = lower(?)"
                       " ORDER BY attempts.started_at DESC, attempts.id DESC")
    txn.execute(sql + (f" LIMIT {int(limit)}" if limit else ""), (name,))
    return [_attempt(row) for row in txn.fetchall()]


def attempts_of_student(txn, username: str) -> list[AttemptRow] | None:
    """A student's attempts, the latest first; None if no student has that name."""
    txn.execute("SELECT id FROM users WHERE username = ?", (username,))
    found = txn.fetchone()
    if found is None:
        return None
    txn.execute(_ATTEMPTS + " WHERE attempts.user_id = ?"
                " ORDER BY attempts.started_at DESC, attempts.id DESC", (found[0],))
    return [_attempt(row) for row in txn.fetchall()]


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
