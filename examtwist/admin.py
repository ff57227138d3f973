"""
The C{examtwist} admin command: look at and fill the database a server uses. Its commands are
the classes below whose names end in C{Options}; C{examtwist --help} shows an example of each,
and each command takes its options before or after its arguments.

Every command takes --db: a SQLite file or a PostgreSQL URL. It goes through the same L{Store}
as the server, so it is safe to run beside running servers.
"""

from __future__ import annotations

import sys

from twisted.internet.defer import ensureDeferred
from twisted.internet.task import react
from twisted.internet.threads import deferToThread
from twisted.python import usage

from examtwist.commandline import CommandOptions, parse_or_exit
from examtwist.storage.engines import URL_FORM, check_database, database_errors, engine_for
from examtwist.formats import FileFormatError, read_test, write_csv
from examtwist.storage import Result, Store, StudentExists, TestExists
from examtwist.students import CSV_HEADER, make_student, read_students_csv
from examtwist.teacheradmin import TeachersOptions
from examtwist.wire import format_grade

PROGRAM = "examtwist"


class AdminError(Exception):
    """A problem to report in one line, without a traceback."""


class _CommandGroup(CommandOptions):
    """Commands that only name their subcommands; C{missing} is the reason when none is."""

    missing = ""

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError(self.missing)


class _DatabaseOptions(CommandOptions):
    optParameters = [["db", None, "examtwist.db", f"The server's SQLite file, or {URL_FORM}."]]
    # Commands that only read refuse to create an empty database by mistake.
    creates_database = False

    def postOptions(self) -> None:
        check_database(self["db"])


class ExamsListOptions(_DatabaseOptions):
    synopsis = "[--db PATH]"
    example = "examtwist exams list --db examtwist.db"

    async def run(self, store: Store, out) -> None:
        exams = await store.list_tests()
        rows = [(str(e.number), e.name, str(e.question_count)) for e in exams]
        out.write(grid(("Number", "Test", "Questions"), rows))


class ExamsImportOptions(_DatabaseOptions):
    synopsis = "[--db PATH] [--replace] NAME QUESTIONS_FILE ANSWERS_FILE"
    example = "examtwist exams import Algebra questions.txt answers.txt --replace"
    optFlags = [["replace", None, "Give an existing test of that name these questions."]]
    creates_database = True

    def parseArgs(self, name, questions, answers) -> None:
        self["name"], self["questions"], self["answers"] = name, questions, answers

    async def run(self, store: Store, out) -> None:
        try:
            test = read_test(self["name"], self["questions"], self["answers"])
        except (FileFormatError, ValueError) as e:
            raise AdminError(f"{e}; nothing was imported") from e
        try:
            await store.add_test(test, replace=self["replace"])
        except TestExists:
            raise AdminError(
                f"a test named {test.name!r} exists already; use --replace to change its"
                " questions; nothing was imported"
            ) from None
        out.write(f"Imported {test.name} with {len(test.questions)} questions\n")


class ExamsOptions(_CommandGroup):
    synopsis = "list | import"
    missing = "say which: exams list, or exams import"
    subCommands = [
        ["list", None, ExamsListOptions, "List the tests students can take."],
        ["import", None, ExamsImportOptions, "Add a test from questions and answers files."],
    ]


class ResultsOptions(_DatabaseOptions):
    synopsis = "[--db PATH] [--csv]"
    example = "examtwist results --csv"
    optFlags = [["csv", None, "Write CSV with every stored field instead of the grid."]]

    async def run(self, store: Store, out) -> None:
        results = await store.list_results()
        if self["csv"]:
            write_csv(
                out,
                ["username", "test", "outcome", "grade", "correct", "answered", "total",
                 "started_at", "finished_at", "client"],
                ([r.username, r.test, r.outcome, _grade(r), r.correct, r.answered, r.total,
                  r.started_at, r.finished_at, r.client] for r in results),
            )
            return
        rows = [(r.username, r.test, _grade(r) or r.outcome, _when(r.finished_at)) for r in results]
        out.write(grid(("Client", "Test", "Result", "Date"), rows))


class UsersListOptions(_DatabaseOptions):
    synopsis = "[--db PATH]"
    example = "examtwist users list"

    async def run(self, store: Store, out) -> None:
        users = await store.list_users()
        rows = [(u.username, _when(u.created_at), str(u.results)) for u in users]
        out.write(grid(("Username", "Registered", "Results"), rows))


class UsersOptions(_CommandGroup):
    synopsis = "list"
    missing = "say which: users list"
    subCommands = [["list", None, UsersListOptions, "List the registered students."]]


class StudentsAddOptions(_DatabaseOptions):
    synopsis = "[--db PATH] NAME ID AGE"
    example = 'examtwist students add "Nadia Haddad" 42 19'
    creates_database = True

    def parseArgs(self, name, student_id, age) -> None:
        try:
            self["student"] = make_student(name, student_id, age)
        except ValueError as e:
            raise usage.UsageError(str(e)) from None

    async def run(self, store: Store, out) -> None:
        student = self["student"]
        try:
            await store.add_student(student)
        except StudentExists:
            stored = await store.get_student(student.id)
            raise AdminError(
                f"ID {student.id} belongs to {stored.name} already; nothing was added"
            ) from None
        out.write(f"Added {student.name}, ID {student.id}, age {student.age}\n")


class StudentsListOptions(_DatabaseOptions):
    synopsis = "[--db PATH] [--csv]"
    example = "examtwist students list --csv"
    optFlags = [["csv", None, "Write CSV that students import reads back."]]

    async def run(self, store: Store, out) -> None:
        students = await store.list_students()
        if self["csv"]:
            write_csv(out, CSV_HEADER, ((s.name, s.id, s.age) for s in students))
            return
        rows = [(str(s.id), s.name, str(s.age)) for s in students]
        out.write(grid(("ID", "Name", "Age"), rows))


class StudentsClearOptions(_DatabaseOptions):
    synopsis = "[--db PATH] [--yes]"
    example = "examtwist students clear --yes"
    optFlags = [["yes", "y", "Do not ask first."]]

    async def run(self, store: Store, out) -> None:
        count = len(await store.list_students())
        if count == 0:
            out.write("There are no students to remove\n")
            return
        if not self["yes"]:
            out.write(f"Remove all {count} students from {store.location}? [y/N] ")
            out.flush()
            answer = await deferToThread(sys.stdin.readline)
            if not answer:
                raise AdminError("no answer, so nothing was removed (--yes skips the question)")
            if answer.strip().lower() not in ("y", "yes"):
                raise AdminError("nothing was removed")
        removed = await store.clear_students()
        out.write(f"Removed {removed} students\n")


class StudentsImportOptions(_DatabaseOptions):
    synopsis = "[--db PATH] [--replace] FILE.csv"
    example = "examtwist students import students.csv --replace"
    optFlags = [["replace", None, "Remove every stored student first, in the same transaction."]]
    creates_database = True

    def parseArgs(self, path) -> None:
        self["path"] = path

    async def run(self, store: Store, out) -> None:
        path = self["path"]
        try:
            rows = read_students_csv(path)
        except FileFormatError as e:
            raise AdminError(f"{e}; nothing was imported") from e
        try:
            await store.add_students([student for _, student in rows], replace=self["replace"])
        except StudentExists as e:
            taken = e.args[0]
            line = next(line for line, student in rows if student.id == taken.id)
            raise AdminError(
                f"{path}, line {line}: a student with ID {taken.id} is stored already (--replace"
                " replaces them all); nothing was imported"
            ) from None
        out.write(f"Imported {len(rows)} students from {path}\n")


class StudentsOptions(_CommandGroup):
    synopsis = "add | list | clear | import"
    missing = "say which: students add, list, clear or import"
    subCommands = [
        ["add", None, StudentsAddOptions, "Add one student."],
        ["list", None, StudentsListOptions, "List the students the web lookup knows."],
        ["clear", None, StudentsClearOptions, "Remove every student (asks first)."],
        ["import", None, StudentsImportOptions, "Add students from CSV (header name,id,age)."],
    ]


class CountShowOptions(_DatabaseOptions):
    synopsis = "[--db URL]"
    example = "examtwist count show --db postgresql://exams@db.example/exams"

    async def run(self, store: Store, out) -> None:
        _needs_shared_count(store)
        count = await store.connection_count()
        out.write(f"{count.counted} connections counted since {_when(count.since)}\n")


class CountRestartOptions(_DatabaseOptions):
    synopsis = "[--db URL]"
    example = "examtwist count restart --db postgresql://exams@db.example/exams"

    async def run(self, store: Store, out) -> None:
        _needs_shared_count(store)
        await store.restart_count()
        out.write("The count starts again: the next connection to any node is the first\n")


def _needs_shared_count(store: Store) -> None:
    if not store.shared:
        raise AdminError(
            f"{store.location} is SQLite: its server counts connections in memory, from its"
            " own start, and restarting it restarts the count; a shared count lives in a"
            " PostgreSQL database"
        )


class CountOptions(_CommandGroup):
    synopsis = "show | restart"
    missing = "say which: count show, or count restart"
    subCommands = [
        ["show", None, CountShowOptions, "How many connections the nodes counted, since when."],
        ["restart", None, CountRestartOptions, "Count from 1 again, on every node."],
    ]


class AdminOptions(_CommandGroup):
    program = PROGRAM
    synopsis = "COMMAND [options]"
    longdesc = "Look at and fill the database of an examtwist server. Each command takes --db."
    missing = "say which command: exams, results, students, users, count or teachers"
    subCommands = [
        ["exams", None, ExamsOptions, "List or import tests."],
        ["results", None, ResultsOptions, "Show every stored result."],
        ["users", None, UsersOptions, "List the registered students."],
        ["students", None, StudentsOptions, "Add, list, clear or import the lookup's students."],
        ["count", None, CountOptions, "The connection count that nodes on PostgreSQL share."],
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


def _grade(result: Result) -> str:
    """A graded result's grade as the student was told it; empty for an abandoned one."""
    return "" if result.grade is None else format_grade(round(result.grade * 10))


def _when(stamp: str) -> str:
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


async def _run(reactor, command, out) -> None:
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
