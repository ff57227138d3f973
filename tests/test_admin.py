"""
The `examtwist` admin command, run as users run it: a child process on a real database, a
SQLite file or (the Postgres* classes) a PostgreSQL URL.
"""

import csv
import io
import os
import socket
import sys

from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial import unittest

from examtwist.storage import Result

from tests.support import OnPostgres, deferred_test, logged_in, open_store, start_server, temp_dir
from tests.test_testbank import GOOD_QUESTIONS


def admin_path() -> str:
    return os.path.join(os.path.dirname(sys.executable), "examtwist")


class AdminTestCase(unittest.TestCase):
    async def admin(self, *args):
        out, err, code = await getProcessOutputAndValue(admin_path(), list(args), env=os.environ)
        return out.decode(), err.decode(), code

    async def database(self):
        self.store = await open_store(self)
        self.db = self.store.path
        return self.store

    def files(self, questions, answers):
        folder = temp_dir(self)
        paths = os.path.join(folder, "questions.txt"), os.path.join(folder, "answers.txt")
        for path, text in zip(paths, (questions, answers)):
            with open(path, "w") as f:
                f.write(text)
        return paths


class ExamsCommandTests(AdminTestCase):
    @deferred_test
    async def test_list(self):
        await self.database()
        out, err, code = await self.admin("exams", "list", "--db", self.db)
        self.assertEqual(code, 0, err)
        self.assertEqual(out.splitlines()[1], "|Number |Test   |Questions |")
        self.assertEqual(out.splitlines()[3], "|1      |math   |5         |")
        self.assertEqual(out.splitlines()[5], "|2      |python |5         |")

    @deferred_test
    async def test_import_then_take_it(self):
        store = await self.database()
        q, a = self.files(GOOD_QUESTIONS, "B\nC\n")
        out, err, code = await self.admin("exams", "import", "--db", self.db, "Basics", q, a)
        self.assertEqual((code, out), (0, "Imported Basics with 2 questions\n"), err)
        exam = await store.find_test("3")
        self.assertEqual((exam.name, [x.answer for x in exam.questions]), ("Basics", ["B", "C"]))

    @deferred_test
    async def test_running_server_offers_an_imported_test_at_once(self):
        """A student already connected sees the test in the next EXAMS and can take it."""
        await self.database()
        service, port = await start_server(self, "--db", self.db)
        student = await logged_in(port, "ada")
        self.assertEqual((await student.ask("EXAMS")).lines[1:-1], ("1 math 5", "2 python 5"))
        q, a = self.files(GOOD_QUESTIONS, "B\nC\n")
        out, err, code = await self.admin("exams", "import", "--db", self.db, "Basics", q, a)
        self.assertEqual(code, 0, err)
        self.assertEqual((await student.ask("EXAMS")).lines[1:-1],
                         ("1 math 5", "2 python 5", "3 Basics 2"))
        self.assertEqual((await student.ask("TAKE basics")).lines[:2], ("Question 1 of 2", "What is 1 + 1?"))

    @deferred_test
    async def test_bad_file_imports_nothing(self):
        store = await self.database()
        q, a = self.files(GOOD_QUESTIONS.replace("C) 3", "X) 3"), "B\nC\n")
        out, err, code = await self.admin("exams", "import", "--db", self.db, "Broken", q, a)
        self.assertEqual(code, 1)
        self.assertIn(f"{q}, line 4: expected the choice line 'C) …'", err)
        self.assertIn("nothing was imported", err)
        self.assertEqual(len(await store.list_tests()), 2)

    @deferred_test
    async def test_name_taken_unless_replace(self):
        store = await self.database()
        q, a = self.files(GOOD_QUESTIONS, "B\nC\n")
        out, err, code = await self.admin("exams", "import", "--db", self.db, "Math", q, a)
        self.assertEqual(code, 1)
        self.assertIn("--replace", err)
        self.assertEqual(len((await store.find_test("math")).questions), 5)
        out, err, code = await self.admin("exams", "import", "--replace", "--db", self.db, "math", q, a)
        self.assertEqual(code, 0, err)
        self.assertEqual(len((await store.find_test("1")).questions), 2)

    @deferred_test
    async def test_missing_database_is_not_created(self):
        path = os.path.join(temp_dir(self), "nope.db")
        out, err, code = await self.admin("exams", "list", "--db", path)
        self.assertEqual(code, 1)
        self.assertIn("no database at", err)
        self.assertFalse(os.path.exists(path))

    @deferred_test
    async def test_usage(self):
        for args in [(), ("exams",), ("exams", "import", "onlyname"), ("frobnicate",)]:
            out, err, code = await self.admin(*args)
            self.assertEqual(code, 2, args)
            self.assertIn("examtwist:", err)


class ResultsCommandTests(AdminTestCase):
    async def with_results(self):
        store = await self.database()
        await store.add_user("alice", "h")
        await store.add_user("bob", "h")
        await store.record_result(Result("alice", "math", "graded", 2, 3, 3, 66.7, "2026-11-25T10:00:00Z",
                                         "2026-11-25T10:04:00Z", "127.0.0.1:5000"))
        await store.record_result(Result("bob", "python", "abandoned", 1, 2, 5, None, "2026-11-25T11:00:00Z",
                                         "2026-11-25T11:01:30Z", "[::1]:5001"))

    @deferred_test
    async def test_empty_grid(self):
        await self.database()
        out, err, code = await self.admin("results", "--db", self.db)
        self.assertEqual(out, "+-------+-----+-------+-----+\n|Client |Test |Result |Date |\n+-------+-----+-------+-----+\n")

    @deferred_test
    async def test_grid(self):
        await self.with_results()
        out, err, code = await self.admin("results", "--db", self.db)
        self.assertEqual(code, 0, err)
        self.assertEqual(out, (
            "+-------+-------+----------+------------------------+\n"
            "|Client |Test   |Result    |Date                    |\n"
            "+-------+-------+----------+------------------------+\n"
            "|alice  |math   |66.7      |2026-11-25 10:04:00 UTC |\n"
            "+-------+-------+----------+------------------------+\n"
            "|bob    |python |abandoned |2026-11-25 11:01:30 UTC |\n"
            "+-------+-------+----------+------------------------+\n"
        ))

    @deferred_test
    async def test_csv(self):
        await self.with_results()
        out, err, code = await self.admin("results", "--csv", "--db", self.db)
        rows = list(csv.DictReader(io.StringIO(out)))
        self.assertEqual([(r["username"], r["status"], r["grade"], r["answered"], r["client"]) for r in rows],
                         [("alice", "graded", "66.7", "3", "127.0.0.1:5000"),
                          ("bob", "abandoned", "", "2", "[::1]:5001")])


class UsersCommandTests(AdminTestCase):
    @deferred_test
    async def test_list(self):
        store = await self.database()
        await store.add_user("zoe", "h")
        await store.add_user("adam", "h")
        out, err, code = await self.admin("users", "list", "--db", self.db)
        names = [line.split("|")[1].strip() for line in out.splitlines()[3::2]]
        self.assertEqual(names, ["adam", "zoe"])
        self.assertNotIn("$argon2", out)


class CountCommandTests(AdminTestCase):
    @deferred_test
    async def test_sqlite_has_no_shared_count(self):
        """On SQLite the count is the server's own: the command says so and changes nothing."""
        await self.database()
        for action in ("show", "restart"):
            out, err, code = await self.admin("count", action, "--db", self.db)
            self.assertEqual(code, 1)
            self.assertIn("counts connections in memory, from its own start", err)

    @deferred_test
    async def test_usage(self):
        out, err, code = await self.admin("count")
        self.assertEqual(code, 2)
        self.assertIn("say which: count show, or count restart", err)


class PostgresCountCommandTests(OnPostgres, AdminTestCase):
    @deferred_test
    async def test_show_and_restart(self):
        store = await self.database()
        for i in range(3):
            await store.count_connection(f"127.0.0.1:{5000 + i}", 7)
        out, err, code = await self.admin("count", "show", "--db", self.db)
        self.assertEqual(code, 0, err)
        self.assertRegex(out, r"^3 connections counted since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\n$")
        out, err, code = await self.admin("count", "restart", "--db", self.db)
        self.assertEqual((code, out), (0, "The count starts again: the next connection to any node is the first\n"), err)
        self.assertEqual(await store.count_connection("127.0.0.1:6000", 7), (1, None))



class DatabaseURLCommandTests(AdminTestCase):
    """A PostgreSQL URL that leads nowhere (no server needed to see it)."""

    @deferred_test
    async def test_unreachable_database_in_one_line(self):
        """A server that is not there: libpq's reason, no traceback, no password; exit 1."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        out, err, code = await self.admin("users", "list", "--db", f"postgresql://ann:s3cret@127.0.0.1:{port}/exams")
        self.assertEqual(code, 1)
        self.assertTrue(err.startswith("examtwist: connection failed:"), err)
        self.assertIn(f'port {port} failed: Connection refused', err)
        self.assertNotIn("Traceback", err)
        self.assertNotIn("s3cret", err)

    @deferred_test
    async def test_bad_url_is_usage(self):
        out, err, code = await self.admin("users", "list", "--db", "postgresql://ann:s3cret@[::1/exams")
        self.assertEqual(code, 2)
        self.assertIn("examtwist: --db: not a PostgreSQL URL", err)
        self.assertNotIn("s3cret", err)


class PostgresExamsCommandTests(OnPostgres, ExamsCommandTests):
    pass


class PostgresResultsCommandTests(OnPostgres, ResultsCommandTests):
    pass


class PostgresUsersCommandTests(OnPostgres, UsersCommandTests):
    pass
