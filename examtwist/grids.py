"""
How the admin command shows what it lists: the original log's grid of cells, stored times as
people read them, and grades as the student was told them.
"""

from __future__ import annotations

from examtwist.storage import Result
from examtwist.wire import format_grade


def grade_text(result: Result) -> str:
    """A graded result's grade as the student was told it; empty for an abandoned one."""
    return "" if result.grade is None else format_grade(round(result.grade * 10))


def when(stamp: str) -> str:
    """A stored UTC time as the grids show it: C{2026-11-25 10:04:00 UTC}."""
    return stamp.replace("T", " ").replace("Z", " UTC")


def grid(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """
    The original log's table: every cell padded to its column, one space after the widest,
    and a rule between rows.
    """
    widths = [max(len(cell) for cell in column) + 1 for column in zip(header, *rows)]
    rule = "+" + "+".join("-" * w for w in widths) + "+\n"

    def line(cells):
        return "|" + "|".join(cell.ljust(w) for cell, w in zip(cells, widths)) + "|\n"

    return rule + line(header) + rule + "".join(line(row) + rule for row in rows)
