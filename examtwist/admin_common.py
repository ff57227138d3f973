"""
What the subcommands of the C{examtwist} admin command are made of: their option base classes,
the one error they report in a line, the original log's grid, and how they show times and
grades. The commands themselves live by subject in the C{admin_*} modules; L{examtwist.admin}
lists them.
"""

from __future__ import annotations

import sys

from twisted.internet.threads import deferToThread
from twisted.python import usage

from examtwist.commandline import CommandOptions
from examtwist.storage.engines import URL_FORM, check_database
from examtwist.wire import format_grade

PROGRAM = "examtwist"


class AdminError(Exception):
    """A problem to report in one line, without a traceback (exit status 1)."""


class CommandGroup(CommandOptions):
    """Commands that only name their subcommands; C{missing} is the reason when none is."""

    missing = ""

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError(self.missing)


class DatabaseOptions(CommandOptions):
    """
    A command that runs on the database: C{async run(store, out)}. It takes --db; one that
    only reads refuses to create an empty database by mistake.
    """

    optParameters = [["db", None, "examtwist.db", f"The server's SQLite file, or {URL_FORM}."]]
    creates_database = False

    def postOptions(self) -> None:
        check_database(self["db"])


def grade_text(grade: float | None) -> str:
    """A stored grade as the student was told it ("66.7"); empty for none."""
    return "" if grade is None else format_grade(round(grade * 10))


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


async def ask(out, question: str) -> str | None:
    """
    Ask on C{out} and read one line of standard input in a worker thread, so the reactor does
    not wait; None at the end of input.
    """
    out.write(question)
    out.flush()
    answer = await deferToThread(sys.stdin.readline)
    return answer or None
