"""
The web lookup's students: C{examtwist students add | list | clear | import}.
"""

from __future__ import annotations

from twisted.python import usage

from examtwist.admin_common import AdminError, CommandGroup, DatabaseOptions, ask, grid
from examtwist.formats import FileFormatError, write_csv
from examtwist.storage import Store, StudentExists
from examtwist.students import CSV_HEADER, make_student, read_students_csv


class StudentsAddOptions(DatabaseOptions):
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


class StudentsListOptions(DatabaseOptions):
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


class StudentsClearOptions(DatabaseOptions):
    synopsis = "[--db PATH] [--yes]"
    example = "examtwist students clear --yes"
    optFlags = [["yes", "y", "Do not ask first."]]

    async def run(self, store: Store, out) -> None:
        count = len(await store.list_students())
        if count == 0:
            out.write("There are no students to remove\n")
            return
        if not self["yes"]:
            answer = await ask(out, f"Remove all {count} students from {store.location}? [y/N] ")
            if not answer:
                raise AdminError("no answer, so nothing was removed (--yes skips the question)")
            if answer.strip().lower() not in ("y", "yes"):
                raise AdminError("nothing was removed")
        removed = await store.clear_students()
        out.write(f"Removed {removed} students\n")


class StudentsImportOptions(DatabaseOptions):
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


class StudentsOptions(CommandGroup):
    synopsis = "add | list | clear | import"
    missing = "say which: students add, list, clear or import"
    subCommands = [
        ["add", None, StudentsAddOptions, "Add one student."],
        ["list", None, StudentsListOptions, "List the students the web lookup knows."],
        ["clear", None, StudentsClearOptions, "Remove every student (asks first)."],
        ["import", None, StudentsImportOptions, "Add students from CSV (header name,id,age)."],
    ]
