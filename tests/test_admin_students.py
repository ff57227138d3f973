"""
C{examtwist students ...}, run as a user runs it: the installed command in a child process,
on a real database file.
"""

from __future__ import annotations

import os
import sys

import treq
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.protocol import ProcessProtocol
from twisted.trial.unittest import TestCase

from examtwist.students import Student
from tests.support import LOOPBACK, listening_port, open_store, start_server, temp_db, temp_dir


class _Collect(ProcessProtocol):
    def __init__(self, stdin: bytes) -> None:
        self.stdin, self.out, self.err = stdin, b"", b""
        self.ended: Deferred[int] = Deferred()

    def connectionMade(self) -> None:
        self.transport.write(self.stdin)
        self.transport.closeStdin()

    def outReceived(self, data: bytes) -> None:
        self.out += data

    def errReceived(self, data: bytes) -> None:
        self.err += data

    def processEnded(self, reason) -> None:
        self.ended.callback(reason.value.exitCode)


async def admin(*args: str, stdin: bytes = b"") -> tuple[int, str, str]:
    """Run C{examtwist ARGS}: (exit code, stdout, stderr)."""
    command = os.path.join(os.path.dirname(sys.executable), "examtwist")
    process = _Collect(stdin)
    reactor.spawnProcess(process, command, [command, *args], env=os.environ.copy())
    code = await process.ended
    return code, process.out.decode(), process.err.decode()


class StudentsCommandTests(TestCase):
    timeout = 60

    async def setUp(self):
        """A database as a first server start leaves it: the schema and the three samples."""
        self.db = temp_db(self)
        await (await open_store(self, self.db)).close()

    async def students(self) -> list[Student]:
        store = await open_store(self, self.db)
        try:
            return await store.list_students()
        finally:
            await store.close()

    def write(self, name: str, text: str) -> str:
        path = os.path.join(temp_dir(self), name)
        with open(path, "w") as f:
            f.write(text)
        return path

    async def test_add_and_list(self):
        """A new database starts with the samples; an added student is listed with them."""
        code, out, _ = await admin("students", "add", "--db", self.db, "Nadia Haddad", "42", "19")
        self.assertEqual((code, out), (0, "Added Nadia Haddad, ID 42, age 19\n"))
        code, out, _ = await admin("students", "list", "--db", self.db)
        self.assertEqual(code, 0)
        rows = [line.split("|")[1:4] for line in out.splitlines() if line.startswith("|")]
        self.assertEqual(
            [[cell.strip() for cell in row] for row in rows],
            [["ID", "Name", "Age"], ["42", "Nadia Haddad", "19"], ["1711", "Karam", "23"],
             ["1800", "Sara", "23"], ["1866", "Ali", "23"]],
        )

    async def test_add_bad_input(self):
        """A broken field is named, the exit code says usage, and nothing is added."""
        for args, words in [
            (("Zed", "12x", "20"), "bad ID '12x'"),
            (("Zed", "12", "two"), "bad age 'two'"),
            (("", "12", "20"), "name is empty"),
            (("Zed", "12"), "Wrong number of arguments"),
        ]:
            code, _, err = await admin("students", "add", "--db", self.db, *args)
            self.assertEqual(code, 2, args)
            self.assertIn(words, err.splitlines()[-1])
        self.assertEqual(len(await self.students()), 3)

    async def test_add_taken_id(self):
        code, _, err = await admin("students", "add", "--db", self.db, "Impostor", "1800", "40")
        self.assertEqual((code, err), (1, "examtwist: ID 1800 belongs to Sara already; nothing was added\n"))
        self.assertIn(Student("Sara", 1800, 23), await self.students())

    async def test_clear_asks(self):
        """clear asks first; anything but yes, or no answer at all, removes nothing."""
        code, out, err = await admin("students", "clear", "--db", self.db, stdin=b"n\n")
        self.assertEqual(code, 1)
        self.assertIn("Remove all 3 students", out)
        self.assertEqual(err, "examtwist: nothing was removed\n")
        code, _, err = await admin("students", "clear", "--db", self.db)
        self.assertEqual(code, 1)
        self.assertIn("--yes", err)
        self.assertEqual(len(await self.students()), 3)
        code, out, _ = await admin("students", "clear", "--db", self.db, stdin=b"y\n")
        self.assertEqual(code, 0)
        self.assertTrue(out.endswith("Removed 3 students\n"))
        self.assertEqual(await self.students(), [])

    async def test_clear_yes(self):
        code, out, _ = await admin("students", "clear", "--yes", "--db", self.db)
        self.assertEqual((code, out), (0, "Removed 3 students\n"))
        code, out, _ = await admin("students", "clear", "--yes", "--db", self.db)
        self.assertEqual((code, out), (0, "There are no students to remove\n"))

    async def test_import(self):
        path = self.write("class.csv", "name,id,age\nNadia,42,19\n\"Doe, Jane\",7,30\n")
        code, out, _ = await admin("students", "import", "--db", self.db, path)
        self.assertEqual((code, out), (0, f"Imported 2 students from {path}\n"))
        self.assertEqual(len(await self.students()), 5)
        self.assertIn(Student("Doe, Jane", 7, 30), await self.students())

    async def test_import_bad_row(self):
        """A bad row is named by file and line, and not one row is imported."""
        path = self.write("class.csv", "name,id,age\nNadia,42,19\nOmar,forty,20\n")
        code, _, err = await admin("students", "import", "--db", self.db, path)
        self.assertEqual(code, 1)
        self.assertEqual(
            err, f"examtwist: {path}, line 3: bad ID 'forty': use a whole number from 0 to "
            "9223372036854775807; nothing was imported\n",
        )
        self.assertNotIn(42, [s.id for s in await self.students()])

    async def test_import_taken_id(self):
        """An ID stored already is named by its line; --replace swaps the whole list instead."""
        path = self.write("class.csv", "name,id,age\nNadia,42,19\nSara Q,1800,20\n")
        code, _, err = await admin("students", "import", "--db", self.db, path)
        self.assertEqual(code, 1)
        self.assertIn(f"{path}, line 3: a student with ID 1800 is stored already", err)
        self.assertEqual(len(await self.students()), 3)
        code, _, _ = await admin("students", "import", "--replace", "--db", self.db, path)
        self.assertEqual(code, 0)
        self.assertEqual(await self.students(), [Student("Nadia", 42, 19), Student("Sara Q", 1800, 20)])

    async def test_csv_round_trip(self):
        """list --csv writes what import reads back."""
        await admin("students", "add", "--db", self.db, 'Jo "JJ", Smith', "5", "20")
        before = await self.students()
        _, csv_text, _ = await admin("students", "list", "--csv", "--db", self.db)
        path = self.write("export.csv", csv_text)
        code, _, _ = await admin("students", "import", "--replace", "--db", self.db, path)
        self.assertEqual(code, 0)
        self.assertEqual(await self.students(), before)

    async def test_beside_a_running_server(self):
        """A student added by the admin is found by the running server's web page at once."""
        service, _ = await start_server(self, "--db", self.db)
        web = f"http://{LOOPBACK}:{listening_port(service, 'Web app')}"
        code, _, _ = await admin("students", "add", "--db", self.db, "Nadia", "42", "19")
        self.assertEqual(code, 0)
        response = await treq.get(f"{web}/api/students/42", persistent=False)
        self.assertEqual(await response.json(), {"name": "Nadia", "id": 42, "age": 19})
