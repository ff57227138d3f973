"""
When an open attempt has ended by itself, though nothing stored it yet: at its deadline, or
when its resume window ran out. One rule for L{examtwist.storage.attempts.settle}, which stores
those endings, and for the teacher's pages (L{examtwist.storage.gradebook}), which count them
as settling would, without writing.
"""

from __future__ import annotations

from examtwist.storage.records import utc_seconds, utc_text
from examtwist.testbank import grade_tenths


def open_attempts(txn, now: float, where: str = "1 = 1", args=(),
                  resume_window: float | None = None) -> list[tuple]:
    """
    The open attempts C{where} selects, as (id, correct, total, deadline, suspended_at, gone_at)
    for L{overdue}; with C{resume_window}, only those whose time may have come. C{gone_at}:
    when the node holding it was last seen, if that node has gone.
    """
    due = ""
    if resume_window is not None:
        window_start = utc_text(now - resume_window)
        due = " AND (deadline <= ? OR suspended_at <= ? OR nodes.seen_at <= ?)"
        args = (utc_text(now), window_start, window_start, *args)
    txn.execute(
        "SELECT id, correct, total, deadline, suspended_at, nodes.seen_at FROM attempts"
        " LEFT JOIN nodes ON attempts.holder IS NOT NULL AND nodes.dead_after <= ?"
        " AND nodes.node = substr(attempts.holder, 1, length(nodes.node))"
        f" WHERE outcome = 'open'{due} AND {where}",
        (utc_text(now), *args),
    )
    return txn.fetchall()


def overdue(now: float, resume_window: float, correct: int, total: int, deadline: str | None,
            suspended_at: str | None, gone_at: str | None) -> tuple[str, float | None, str] | None:
    """
    How an open attempt has ended by C{now}, as its outcome, grade and finished_at (an
    L{examtwist.storage.attempts.Ending}), or None while it may go on: at its deadline,
    graded as time up; suspended longer than the resume window, abandoned when it ran out
    (whichever came first). An attempt held by a node that has gone counts as suspended since
    the node was last seen (C{gone_at}).
    """
    due = [(utc_seconds(deadline), "time_up")] if deadline else []
    if suspended_at or gone_at:
        due.append((utc_seconds(suspended_at or gone_at) + resume_window, "abandoned"))
    passed = [t for t in due if t[0] <= now]
    if not passed:
        return None
    when, outcome = min(passed)
    grade = grade_tenths(correct, total) / 10 if outcome == "time_up" else None
    return outcome, grade, utc_text(when)
