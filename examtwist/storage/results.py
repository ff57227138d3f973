"""
The results of tests taken: graded or abandoned, written many at a time under load, one commit
for each batch of them (see L{examtwist.storage.batching}).
"""

from __future__ import annotations

from examtwist.storage.records import Result


def record_results(txn, results: list[Result]) -> list[LookupError | None]:
    """
    One commit for all. A result without its user or test fails alone; any other error
    rolls back the whole transaction and fails every result in it: none is stored.
    """
    outcomes: list[LookupError | None] = []
    for result in results:
        try:
            _record_result(txn, result)
        except LookupError as e:
            outcomes.append(e)
        else:
            outcomes.append(None)
    return outcomes


def _record_result(txn, r: Result) -> None:
    txn.execute(
        "SELECT users.id, tests.id FROM users, tests WHERE users.username = ? AND tests.name = ?",
        (r.username, r.test),
    )
    found = txn.fetchone()
    if found is None:
        raise LookupError(f"no user {r.username!r} or test {r.test!r} to record a result for")
    txn.execute(
        "INSERT INTO results (user_id, test_id, status, correct, answered, total, grade,"
        " started_at, finished_at, client) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (*found, r.status, r.correct, r.answered, r.total, r.grade, r.started_at,
         r.finished_at, r.client),
    )


def list_results(txn) -> list[Result]:
    """Every result, in the order they were stored."""
    txn.execute(
        "SELECT users.username, tests.name, results.status, results.correct, results.answered,"
        " results.total, results.grade, results.started_at, results.finished_at, results.client"
        " FROM results JOIN users ON users.id = results.user_id"
        " JOIN tests ON tests.id = results.test_id ORDER BY results.id"
    )
    return [Result(*row) for row in txn.fetchall()]
