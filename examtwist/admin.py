"""
The C{examtwist} admin command: look at and fill the database a server uses. Its commands are
listed in L{AdminOptions}, each in the module of its subject (C{admin_exams}, C{admin_rules},
C{admin_results}, C{admin_accounts}, C{admin_students}, C{admin_count}); C{examtwist --help}
shows an example of each, and each command takes its options before or after its arguments.
A usage error exits with status 2, a failure with 1 and a line saying why.

Every command takes --db (copy: --from and --to, C{admin_copy}): a SQLite file or a PostgreSQL
URL. It goes through the same L{Store} as the server, so it is safe to run beside running
servers.
"""

from __future__ import annotations

import sys

from twisted.internet.defer import ensureDeferred
from twisted.internet.task import react

from examtwist.admin_accounts import RosterOptions, UsersOptions
from examtwist.admin_common import PROGRAM, AdminError, CommandGroup
from examtwist.admin_copy import CopyOptions
from examtwist.admin_count import CountOptions
from examtwist.admin_exams import ExamsOptions
from examtwist.admin_results import ResultsOptions
from examtwist.admin_students import StudentsOptions
from examtwist.commandline import parse_or_exit
from examtwist.storage import Store
from examtwist.storage.engines import database_errors, engine_for
from examtwist.teacheradmin import TeachersOptions


class AdminOptions(CommandGroup):
    program = PROGRAM
    synopsis = "COMMAND [options]"
    longdesc = "Look at and fill the database of an examtwist server. Each command takes --db."
    missing = ("say which command: exams, results, users, roster, students, count, copy or"
               " teachers")
    subCommands = [
        ["exams", None, ExamsOptions, "List, import, export tests; set and show their rules."],
        ["results", None, ResultsOptions, "Show the attempts that have ended, or their answers."],
        ["users", None, UsersOptions, "List students' accounts, add one, change a password."],
        ["roster", None, RosterOptions, "The class roster that may register."],
        ["students", None, StudentsOptions, "Add, list, clear or import the lookup's students."],
        ["count", None, CountOptions, "The connection count that nodes on PostgreSQL share."],
        ["copy", None, CopyOptions, "Copy a whole database into a new one (SQLite, PostgreSQL)."],
        ["teachers", None, TeachersOptions, "Add, list or remove the teachers' web accounts."],
    ]

    def getUsage(self, width: int | None = None) -> str:
        if getattr(self, "subOptions", None) is not None:
            return super().getUsage(width)
        lines = [f"  {words:<17}{example}\n" for words, example in self.examples()]
        return super().getUsage(width) + "Examples:\n" + "".join(lines)

    def command(self):
        """The innermost options object, the one that runs."""
        options = self
        while getattr(options, "subCommand", None) is not None:
            options = options.subOptions
        return options


async def _run(reactor, command, out) -> None:
    if hasattr(command, "run_alone"):  # a command that opens its databases itself
        return await command.run_alone(reactor, out)
    path = command["db"]
    if not command.creates_database and not engine_for(path).exists():
        raise AdminError(f"no database at {path} (give --db, or start the server once)")
    store = Store(reactor, path)
    try:
        await store.start()
        await command.run(store, out)
    finally:
        await store.close()


def main(argv: list[str] | None = None, out=None) -> None:
    out = out or sys.stdout
    options = parse_or_exit(AdminOptions(), PROGRAM, argv)

    def run(reactor):
        return ensureDeferred(_run(reactor, options.command(), out)).addErrback(_report)

    react(run)


def _report(failure) -> None:
    if failure.check(AdminError, OSError, *database_errors()):
        sys.stderr.write(f"{PROGRAM}: {failure.value}\n")
    else:
        failure.printTraceback(sys.stderr)
    raise SystemExit(1)
