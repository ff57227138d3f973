"""
Attempts of tests and the answers given in them (schema 6).

An attempt of a test with its rules off is written once, when it ends, with its answers, many
at a time under load (one commit for each batch, see L{examtwist.storage.batching}). An
attempt that can be continued (an attempts limit or a deadline) is written when it starts and
each answer as it is given, and is held by one connection at a time: every write names the
holder, and a write by a connection that no longer holds it changes nothing (L{TakenOver}).
An open attempt whose deadline or resume window has passed is ended by whoever looks first
(L{settle}): the next TAKE, RESULTS, or the admin's results.
"""

from __future__ import annotations

from typing import NamedTuple

from examtwist.storage.answercounts import AnswerCounts
from examtwist.storage.overdue import open_attempts, overdue
from examtwist.storage.records import (
    AnswerRow,
    NoAttemptsLeft,
    Result,
    TakenOver,
    utc_text,
)


class Answer(NamedTuple):
    number: int  # the question's number as shown
    position: int  # its stored position
    shown: str  # the letter chosen
    meant: str  # the stored choice that letter showed
    correct: bool
    answered_at: str


class Order(NamedTuple):
    """An attempt's order as stored: "" for both when the test's own order is shown."""

    questions: str  # stored positions in the order shown: "3,1,2"
    choices: str  # per question shown, the stored choice under each letter: "BDAC,ABCD"


class Fresh(NamedTuple):
    """An attempt about to start: what a new row holds."""

    started_at: str
    deadline: str | None
    order: Order
    total: int
    client: str


class Taken(NamedTuple):
    """An open attempt, now held by the connection that took it."""

    id: int
    continued: bool
    started_at: str
    deadline: str | None
    order: Order
    answered: int
    correct: int
    previous_holder: str | None  # the connection that held it (None: it was suspended)


class Ending(NamedTuple):
    outcome: str  # graded, time_up or abandoned
    grade: float | None
    finished_at: str


def _ids(txn, username: str, test: str) -> tuple[int, int]:
    # The test by its index, on lower(name): C{tests.name = ?} reads every test.
    txn.execute(
        "SELECT users.id, tests.id FROM users, tests"
        " WHERE users.username = ? AND lower(tests.name) = lower(?)",
        (username, test),
    )
    found = txn.fetchone()
    if found is None:
        raise LookupError(f"no user {username!r} or test {test!r} for an attempt")
    return found


# Attempts written when they end

def record_results(txn, items: list[tuple[Result, Order, tuple[Answer, ...]]]) -> list:
    """
    One commit for all. An attempt without its user or test fails alone; any other error
    rolls back the whole transaction and fails every one in it: none is stored.
    """
    outcomes: list[LookupError | None] = []
    counts = AnswerCounts()
    for result, order, answers in items:
        try:
            user_id, test_id = _ids(txn, result.username, result.test)
        except LookupError as e:
            outcomes.append(e)
            continue
        txn.execute(
            "INSERT INTO attempts (user_id, test_id, outcome, correct, answered, total, grade,"
            " started_at, finished_at, question_order, choice_order, client)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (user_id, test_id, result.outcome, result.correct, result.answered, result.total,
             result.grade, result.started_at, result.finished_at, *order, result.client),
        )
        _insert_answers(txn, txn.fetchone()[0], answers)
        counts.add(test_id, answers)
        outcomes.append(None)
    counts.write(txn)
    return outcomes


# Answers written by one statement at most: 700 parameters, below every SQLite's limit.
_ANSWERS_PER_INSERT = 100


def _insert_answers(txn, attempt_id: int, answers) -> None:
    """An attempt's answers, a row each."""
    _insert_rows(txn, [(attempt_id, *a[:4], int(a.correct), a.answered_at) for a in answers])


def _insert_rows(txn, rows: list[tuple]) -> None:
    """Answers' rows by as few statements as SQL parameters allow."""
    for start in range(0, len(rows), _ANSWERS_PER_INSERT):
        some = rows[start:start + _ANSWERS_PER_INSERT]
        txn.execute(
            "INSERT INTO answers (attempt_id, number, position, shown, meant, correct,"
            " answered_at) VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(some)),
            [value for row in some for value in row],
        )


# Attempts that can be continued

def take_many(txn, items: list[tuple]) -> list:
    """
    L{take} for each item (its arguments after C{txn}): one commit for all, an attempt being
    started as costly as an answer under load. A take refused (L{NoAttemptsLeft}) or without
    its user or test fails alone; any other error rolls back the whole transaction and fails
    every one in it. Users are locked in the order of their names, so batches of two nodes
    never wait for each other in a circle.
    """
    outcomes: list = [None] * len(items)
    for index in sorted(range(len(items)), key=lambda i: items[i][0]):
        try:
            outcomes[index] = take(txn, *items[index])
        except (NoAttemptsLeft, LookupError) as e:
            outcomes[index] = e
    return outcomes


def take(txn, username: str, test: str, allowed: int | None, fresh: Fresh, holder: str,
         now: float, resume_window: float) -> Taken:
    """
    Hold the user's open attempt of the test, or start one if they have an attempt left.

    @raise NoAttemptsLeft: none open, and C{allowed} started already.
    """
    user_id, test_id = _ids(txn, username, test)
    # Takes of one user wait for each other here, on every node: two never both start one.
    txn.execute("UPDATE users SET id = id WHERE id = ?", (user_id,))
    settle(txn, now, resume_window, "user_id = ? AND test_id = ?", (user_id, test_id))
    txn.execute(
        "SELECT id, started_at, deadline, question_order, choice_order, answered, correct, holder,"
        " total FROM attempts WHERE user_id = ? AND test_id = ? AND outcome = 'open'",
        (user_id, test_id),
    )
    found = txn.fetchone()
    if found is not None and found[8] != fresh.total:
        # The admin gave the test other questions meanwhile: this attempt cannot go on.
        txn.execute(
            "UPDATE attempts SET outcome = 'abandoned', finished_at = ?, holder = NULL"
            " WHERE id = ?", (utc_text(now), found[0]),
        )
        found = None
    if found is not None:
        txn.execute(
            "UPDATE attempts SET holder = ?, suspended_at = NULL WHERE id = ?", (holder, found[0])
        )
        return Taken(found[0], True, found[1], found[2], Order(found[3], found[4]), *found[5:8])
    if allowed is not None:
        txn.execute(
            "SELECT count(*) FROM attempts WHERE user_id = ? AND test_id = ?", (user_id, test_id)
        )
        if txn.fetchone()[0] >= allowed:
            raise NoAttemptsLeft(test)
    txn.execute(
        "INSERT INTO attempts (user_id, test_id, outcome, correct, answered, total, started_at,"
        " deadline, question_order, choice_order, holder, client)"
        " VALUES (?, ?, 'open', 0, 0, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (user_id, test_id, fresh.total, fresh.started_at, fresh.deadline, *fresh.order, holder,
         fresh.client),
    )
    return Taken(txn.fetchone()[0], False, fresh.started_at, fresh.deadline, fresh.order, 0, 0,
                 None)


def record_answers(txn, items: list[tuple[int, str, Answer, Ending | None]]) -> list:
    """
    Each answer of a held attempt, and the attempt's end with its last one: one commit for
    all; an attempt no longer held by the writer fails alone (L{TakenOver}).
    """
    outcomes: list[TakenOver | None] = []
    rows = []
    counts = AnswerCounts()
    for attempt_id, holder, answer, ending in items:
        end = ", outcome = ?, grade = ?, finished_at = ?" if ending else ""
        txn.execute(
            f"UPDATE attempts SET answered = answered + 1, correct = correct + ?{end}"
            " WHERE id = ? AND holder = ? AND outcome = 'open' AND answered = ? RETURNING test_id",
            (int(answer.correct), *(ending or ()), attempt_id, holder, answer.number - 1),
        )
        held = txn.fetchone()
        if held is None:
            outcomes.append(TakenOver(attempt_id))
            continue
        rows.append((attempt_id, *answer[:4], int(answer.correct), answer.answered_at))
        counts.add(held[0], (answer,))
        outcomes.append(None)
    _insert_rows(txn, rows)
    counts.write(txn)
    return outcomes


def end(txn, attempt_id: int, holder: str, ending: Ending) -> None:
    """
    End a held attempt: time up, or abandoned by QUIT. One that has ended meanwhile (its
    deadline seen by another node first) stays as it ended.
    @raise TakenOver: another connection holds it.
    """
    txn.execute(
        "UPDATE attempts SET outcome = ?, grade = ?, finished_at = ?, holder = NULL"
        " WHERE id = ? AND holder = ? AND outcome = 'open'",
        (*ending, attempt_id, holder),
    )
    if txn.rowcount != 1:
        txn.execute("SELECT outcome FROM attempts WHERE id = ?", (attempt_id,))
        if txn.fetchone()[0] == "open":
            raise TakenOver(attempt_id)


def suspend(txn, attempt_id: int, holder: str, now: str) -> bool:
    """Let go of a held attempt, to be continued; False if the holder had lost it already."""
    txn.execute(
        "UPDATE attempts SET holder = NULL, suspended_at = ?"
        " WHERE id = ? AND holder = ? AND outcome = 'open'",
        (now, attempt_id, holder),
    )
    return txn.rowcount == 1


def settle(txn, now: float, resume_window: float, where: str = "1 = 1", args=()) -> int:
    """
    End the open attempts whose time has come (of those C{where} selects), as L{overdue}
    says. Fires with how many it ended.
    """
    ended = 0
    for attempt_id, *state in open_attempts(txn, now, where, args, resume_window):
        txn.execute(
            "UPDATE attempts SET outcome = ?, grade = ?, finished_at = ?, holder = NULL"
            " WHERE id = ? AND outcome = 'open'",
            (*overdue(now, resume_window, *state), attempt_id),
        )
        ended += txn.rowcount
    return ended


def heartbeat(txn, node: str, now: float, dead_after: float) -> None:
    """This node is alive now, and counts as gone after C{dead_after} unless it beats again."""
    txn.execute(
        "INSERT INTO nodes (node, seen_at, dead_after) VALUES (?, ?, ?) ON CONFLICT (node)"
        " DO UPDATE SET seen_at = excluded.seen_at, dead_after = excluded.dead_after",
        (node, utc_text(now), utc_text(dead_after)),
    )
    # Nodes gone a week ago hold nothing a resume window still waits for.
    txn.execute("DELETE FROM nodes WHERE dead_after < ?", (utc_text(now - 7 * 86400),))


# Reading

def count_attempts(txn, username: str, test: str) -> int:
    """How many attempts of the test the user has started, however they ended."""
    txn.execute(
        "SELECT count(*) FROM attempts JOIN users ON users.id = attempts.user_id"
        " JOIN tests ON tests.id = attempts.test_id WHERE users.username = ? AND tests.name = ?",
        (username, test),
    )
    return txn.fetchone()[0]


def count_open(txn, test: str) -> int:
    """How many attempts of the test (named in any case) are under way or suspended."""
    txn.execute(
        "SELECT count(*) FROM attempts JOIN tests ON tests.id = attempts.test_id"
        " WHERE attempts.outcome = 'open' AND lower(tests.name) = lower(?)",
        (test,),
    )
    return txn.fetchone()[0]


def _filters(user: str | None, test: str | None) -> tuple[str, tuple]:
    where, args = [], []
    if user is not None:
        where.append("users.username = ?")
        args.append(user)
    if test is not None:
        where.append("lower(tests.name) = lower(?)")
        args.append(test)
    return "".join(f" AND {w}" for w in where), tuple(args)


def list_results(txn, now: float, resume_window: float, user: str | None = None,
                 test: str | None = None) -> list[Result]:
    """The attempts that have ended (of this user, of this test), in the order they ended."""
    if user is None:
        settle(txn, now, resume_window)
    else:  # a student's RESULTS looks at their own attempts only
        settle(txn, now, resume_window,
               "user_id IN (SELECT id FROM users WHERE username = ?)", (user,))
    where, args = _filters(user, test)
    txn.execute(
        "SELECT users.username, tests.name, attempts.outcome, attempts.correct,"
        " attempts.answered, attempts.total, attempts.grade, attempts.started_at,"
        " attempts.finished_at, attempts.client"
        " FROM attempts JOIN users ON users.id = attempts.user_id"
        " JOIN tests ON tests.id = attempts.test_id WHERE attempts.outcome <> 'open'"
        f"{where} ORDER BY attempts.finished_at, attempts.id",
        args,
    )
    return [Result(*row) for row in txn.fetchall()]


def list_answers(txn, user: str | None = None, test: str | None = None) -> list[AnswerRow]:
    """Every answer of the attempts that have ended, attempt by attempt, in the order given."""
    where, args = _filters(user, test)
    txn.execute(
        "SELECT users.username, tests.name, attempts.started_at, answers.number,"
        " answers.position, answers.shown, answers.meant, answers.correct, answers.answered_at"
        " FROM answers JOIN attempts ON attempts.id = answers.attempt_id"
        " JOIN users ON users.id = attempts.user_id JOIN tests ON tests.id = attempts.test_id"
        f" WHERE attempts.outcome <> 'open'{where}"
        " ORDER BY attempts.finished_at, attempts.id, answers.number",
        args,
    )
    return [AnswerRow(*row[:7], bool(row[7]), row[8]) for row in txn.fetchall()]
