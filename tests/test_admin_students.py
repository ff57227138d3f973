"""
C{examtwist students ...}, run as a user runs it: the installed command in a child process,
on a real database file.
"""

from __future__ import annotations

import treq
from twisted.trial.unittest import TestCase

from examtwist.students import Student
from tests.client_support import run_admin, write_file
from tests.support import LOOPBACK, listening_port, open_store, start_server, temp_db

SAMPLES = [Student("Karam", 1711, 23), Student("Sara", 1800, 23), Student("Ali", 1866, 23)]


class StudentsCommandTests(TestCase):
    timeout = 60

    async def setUp(self) -> None:
        """A database as a first server start leaves it: the schema and the three samples."""
        self.db = temp_db(self)
        await (await open_store(self, self.db)).close()

    async def admin(self, command: str, *args: str, answer: str | None = None):
        """C{examtwist students COMMAND --db DB ARGS}: (exit code, stdout, stderr)."""
        return await run_admin(self, "students", command, "--db", self.db, *args, answer=answer)

    async def students(self) -> list[Student]:
        store = await open_store(self, self.db)
        try:
            return await store.list_students()
        finally:
            await store.close()

    async def test_add_and_list(self) -> None:
        """
        If Nadia Haddad, 42, 19 is added to a new database, then the command says so and the
        list shows her with the three samples, by ID.
        """
        result = await self.admin("add", "Nadia Haddad", "42", "19")
        self.assertEqual(result, (0, "Added Nadia Haddad, ID 42, age 19\n", ""))
        result = await self.admin("list")
        self.assertEqual(result, (0, (
            "+-----+-------------+----+\n"
            "|ID   |Name         |Age |\n"
            "+-----+-------------+----+\n"
            "|42   |Nadia Haddad |19  |\n"
            "+-----+-------------+----+\n"
            "|1711 |Karam        |23  |\n"
            "+-----+-------------+----+\n"
            "|1800 |Sara         |23  |\n"
            "+-----+-------------+----+\n"
            "|1866 |Ali          |23  |\n"
            "+-----+-------------+----+\n"
        ), ""))

    async def test_options_before_or_after_arguments(self) -> None:
        """
        If Nadia Haddad, 42, 19 is added with --db after the arguments, then it is the same as
        with --db first: the command says "Added Nadia Haddad, ID 42, age 19", exits 0, and
        the database holds her beside the three samples.
        """
        first = temp_db(self)
        await (await open_store(self, first)).close()
        before = await run_admin(self, "students", "add", "--db", first, "Nadia Haddad", "42", "19")
        after = await run_admin(self, "students", "add", "Nadia Haddad", "42", "19",
                                "--db", self.db)
        for result in before, after:
            self.assertEqual(result, (0, "Added Nadia Haddad, ID 42, age 19\n", ""))
        expected = [Student("Nadia Haddad", 42, 19), *SAMPLES]
        self.assertEqual(await self.students(), expected)
        store = await open_store(self, first)
        self.assertEqual(await store.list_students(), expected)

    async def test_usage_error_shows_its_own_usage(self) -> None:
        """
        If students add is given two arguments (with --db last), then stderr starts with the
        usage of students add, "Usage: examtwist students add [--db PATH] NAME ID AGE", ends
        with "examtwist: Wrong number of arguments.", the exit status is 2 and nobody is added.
        """
        code, out, err = await run_admin(self, "students", "add", "Zed", "12", "--db", self.db)
        lines = err.splitlines()
        self.assertEqual((code, out, lines[0], lines[-1]), (
            2, "", "Usage: examtwist students add [--db PATH] NAME ID AGE",
            "examtwist: Wrong number of arguments."))
        self.assertEqual(await self.students(), SAMPLES)

    async def test_csv_is_safe_in_a_spreadsheet(self) -> None:
        """
        If students are named =HYPERLINK("http://x.example","ok"), +1, -Ali and @SUM(A1), then
        list --csv writes each with a quote before it, so a spreadsheet shows text instead of
        running a formula; and import reads the file back to the same names.
        """
        names = ['=HYPERLINK("http://x.example","ok")', "+1", "-Ali", "@SUM(A1)"]
        await self.admin("clear", "--yes")
        for number, name in enumerate(names, 1):
            self.assertEqual((await self.admin("add", "--", name, str(number), "20"))[0], 0, name)
        code, out, err = await self.admin("list", "--csv")
        self.assertEqual((code, out, err), (0, (
            "name,id,age\n"
            '"\'=HYPERLINK(""http://x.example"",""ok"")",1,20\n'
            "'+1,2,20\n"
            "'-Ali,3,20\n"
            "'@SUM(A1),4,20\n"
        ), ""))
        path = write_file(self, "students.csv", out)
        self.assertEqual(await self.admin("import", "--replace", path),
                         (0, f"Imported 4 students from {path}\n", ""))
        self.assertEqual([s.name for s in await self.students()], names)

    async def test_add_bad_input(self) -> None:
        """
        If an ID is "12x", an age "two", the name empty or a field missing, then the last line
        of the usage names the problem, the exit status is 2, and nobody is added.
        """
        for args, reason in [
            (("Zed", "12x", "20"),
             "examtwist: bad ID '12x': use a whole number from 0 to 9223372036854775807"),
            (("Zed", "12", "two"), "examtwist: bad age 'two': use a whole number from 0 to 150"),
            (("", "12", "20"), "examtwist: the name is empty"),
            (("Zed", "12"), "examtwist: Wrong number of arguments."),
        ]:
            code, out, err = await self.admin("add", *args)
            self.assertEqual((code, out, err.splitlines()[-1]), (2, "", reason), args)
        self.assertEqual(await self.students(), SAMPLES)

    async def test_add_taken_id(self) -> None:
        """
        If a student is added with Sara's ID 1800, then the command says whose it is, exits 1,
        and Sara stays as she was.
        """
        result = await self.admin("add", "Impostor", "1800", "40")
        self.assertEqual(result, (
            1, "", "examtwist: ID 1800 belongs to Sara already; nothing was added\n"))
        self.assertEqual(await self.students(), SAMPLES)

    async def test_clear_asks(self) -> None:
        """
        If clear is answered "n", or stdin ends without an answer, then nothing is removed and
        the exit status is 1; if it is answered "y", then all 3 students are removed.
        """
        question = f"Remove all 3 students from {self.db}? [y/N] "
        result = await self.admin("clear", answer="n")
        self.assertEqual(result, (1, question, "examtwist: nothing was removed\n"))
        result = await self.admin("clear")
        self.assertEqual(result, (1, question, "examtwist: no answer, so nothing was removed"
                                               " (--yes skips the question)\n"))
        self.assertEqual(await self.students(), SAMPLES)
        result = await self.admin("clear", answer="y")
        self.assertEqual(result, (0, question + "Removed 3 students\n", ""))
        self.assertEqual(await self.students(), [])

    async def test_clear_bare_enter_is_no(self) -> None:
        """
        If clear's question "[y/N]" is answered with a bare Enter, then nothing is removed,
        the command says "nothing was removed", and the exit status is 1.
        """
        result = await self.admin("clear", answer="")
        self.assertEqual(result, (1, f"Remove all 3 students from {self.db}? [y/N] ",
                                  "examtwist: nothing was removed\n"))
        self.assertEqual(await self.students(), SAMPLES)

    async def test_clear_yes(self) -> None:
        """
        If clear --yes is run, then it removes all 3 students without asking; run again, it
        says there are none to remove.
        """
        self.assertEqual(await self.admin("clear", "--yes"), (0, "Removed 3 students\n", ""))
        self.assertEqual(await self.admin("clear", "--yes"),
                         (0, "There are no students to remove\n", ""))
        self.assertEqual(await self.students(), [])

    async def test_import(self) -> None:
        """
        If a CSV of Nadia and "Doe, Jane" is imported, then the command says "Imported 2
        students" and both are stored beside the samples.
        """
        path = write_file(self, "class.csv", 'name,id,age\nNadia,42,19\n"Doe, Jane",7,30\n')
        result = await self.admin("import", path)
        self.assertEqual(result, (0, f"Imported 2 students from {path}\n", ""))
        self.assertEqual(await self.students(), [
            Student("Doe, Jane", 7, 30), Student("Nadia", 42, 19), *SAMPLES])

    async def test_import_bad_row(self) -> None:
        """
        If line 3 of the CSV has the ID "forty", then the command names the file and line,
        exits 1, and not one row is imported.
        """
        path = write_file(self, "class.csv", "name,id,age\nNadia,42,19\nOmar,forty,20\n")
        result = await self.admin("import", path)
        self.assertEqual(result, (1, "", (
            f"examtwist: {path}, line 3: bad ID 'forty': use a whole number from 0 to "
            "9223372036854775807; nothing was imported\n")))
        self.assertEqual(await self.students(), SAMPLES)

    async def test_import_taken_id(self) -> None:
        """
        If the CSV has Sara's ID 1800 on line 3, then the import names that line, exits 1 and
        stores nothing; with --replace, the CSV's two students replace all the stored ones.
        """
        path = write_file(self, "class.csv", "name,id,age\nNadia,42,19\nSara Q,1800,20\n")
        result = await self.admin("import", path)
        self.assertEqual(result, (1, "", (
            f"examtwist: {path}, line 3: a student with ID 1800 is stored already (--replace"
            " replaces them all); nothing was imported\n")))
        self.assertEqual(await self.students(), SAMPLES)
        result = await self.admin("import", "--replace", path)
        self.assertEqual(result, (0, f"Imported 2 students from {path}\n", ""))
        self.assertEqual(await self.students(),
                         [Student("Nadia", 42, 19), Student("Sara Q", 1800, 20)])

    async def test_csv_round_trip(self) -> None:
        """
        If list --csv is imported back with --replace, then the students are as they were,
        a name with quotes and a comma included.
        """
        result = await self.admin("add", 'Jo "JJ", Smith', "5", "20")
        self.assertEqual(result, (0, 'Added Jo "JJ", Smith, ID 5, age 20\n', ""))
        code, csv_text, err = await self.admin("list", "--csv")
        self.assertEqual((code, csv_text, err), (0, (
            'name,id,age\n"Jo ""JJ"", Smith",5,20\nKaram,1711,23\nSara,1800,23\nAli,1866,23\n'),
            ""))
        path = write_file(self, "export.csv", csv_text)
        result = await self.admin("import", "--replace", path)
        self.assertEqual(result, (0, f"Imported 4 students from {path}\n", ""))
        self.assertEqual(await self.students(), [Student('Jo "JJ", Smith', 5, 20), *SAMPLES])

    async def test_beside_a_running_server(self) -> None:
        """
        If the admin adds Nadia, 42, 19 while the server runs, then the server's web lookup
        finds her at once: {"name": "Nadia", "id": 42, "age": 19}.
        """
        service, _ = await start_server(self, "--db", self.db)
        web = f"http://{LOOPBACK}:{listening_port(service, 'Web app')}"
        result = await self.admin("add", "Nadia", "42", "19")
        self.assertEqual(result, (0, "Added Nadia, ID 42, age 19\n", ""))
        response = await treq.get(f"{web}/api/students/42", persistent=False)
        self.assertEqual(response.code, 200)
        self.assertEqual(await response.json(), {"name": "Nadia", "id": 42, "age": 19})
