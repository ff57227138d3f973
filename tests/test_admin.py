"""
The `examtwist` admin command, run as users run it: a child process on a real database, a
SQLite file or (the Postgres* classes) a PostgreSQL URL.
"""

import os
import socket

from twisted.internet.threads import deferToThread
from twisted.trial import unittest

from examtwist.storage import Answer, Order, Result
from tests.client_support import GOOD_QUESTIONS, run_admin, write_file
from tests.support import OnPostgres, backend_of, logged_in, open_store, start_server, temp_dir

# A test of three questions in the original format, and its answers.
TRIO_QUESTIONS = """\
What is 2 + 2?
A) 3
B) 4
C) 5
D) 22
----------
Which is a prime?
A) 9
B) 15
C) 21
D) 7
----------
How many sides has a triangle?
A) 3
B) 4
C) 5
D) 6
----------
"""
TRIO_ANSWERS = "B\nD\nA\n"


class AdminTestCase(unittest.TestCase):
    async def admin(self, *args: str, answer: str | None = None) -> tuple[int, str, str]:
        """C{examtwist ARGS}: (exit code, stdout, stderr)."""
        return await run_admin(self, *args, answer=answer)

    async def database(self):
        self.store = await open_store(self)
        self.db = self.store.path
        return self.store

    def files(self, questions: str, answers: str) -> tuple[str, str]:
        return (write_file(self, "questions.txt", questions),
                write_file(self, "answers.txt", answers))

    async def sql(self, statement: str) -> list[tuple]:
        """Run SQL on the test's database beside the store, as another program would."""
        return await deferToThread(backend_of(self).execute, self.db, statement)


class ExamsCommandTests(AdminTestCase):
    async def test_list(self) -> None:
        """If the database is new, then exams list shows math and python with 5 questions each."""
        await self.database()
        code, out, err = await self.admin("exams", "list", "--db", self.db)
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out, (
            "+-------+-------+----------+\n"
            "|Number |Test   |Questions |\n"
            "+-------+-------+----------+\n"
            "|1      |math   |5         |\n"
            "+-------+-------+----------+\n"
            "|2      |python |5         |\n"
            "+-------+-------+----------+\n"
        ))

    async def test_import_then_take_it(self) -> None:
        """
        If a two-question file is imported as Basics, then the command says "Imported Basics
        with 2 questions" and the store has it as test 3 with the answers B and C.
        """
        store = await self.database()
        q, a = self.files(GOOD_QUESTIONS, "B\nc\n")
        code, out, err = await self.admin("exams", "import", "--db", self.db, "Basics", q, a)
        self.assertEqual((code, out, err), (0, "Imported Basics with 2 questions\n", ""))
        test = await store.find_test("3")
        self.assertEqual(
            (test.name, [(x.text, x.choices, x.answer) for x in test.questions]),
            ("Basics", [(("What is 1 + 1?",), ("1", "2", "3", "4"), "B"),
                        (("What does this print?", '    print("hi")'),
                         ("hi", '"hi"', "nothing", "an error"), "C")]),
        )

    async def test_running_server_offers_an_imported_test_at_once(self) -> None:
        """
        If a test is imported while a student is connected, then the student's next EXAMS
        lists it as "3 Basics 2" and TAKE basics starts it.
        """
        await self.database()
        service, port = await start_server(self, "--db", self.db)
        student = await logged_in(port, "ada")
        self.assertEqual((await student.ask("EXAMS")).lines[1:-1], ("1 math 5", "2 python 5"))
        q, a = self.files(GOOD_QUESTIONS, "B\nC\n")
        code, out, err = await self.admin("exams", "import", "--db", self.db, "Basics", q, a)
        self.assertEqual((code, out, err), (0, "Imported Basics with 2 questions\n", ""))
        self.assertEqual((await student.ask("EXAMS")).lines[1:-1],
                         ("1 math 5", "2 python 5", "3 Basics 2"))
        reply = await student.ask("TAKE basics")
        self.assertEqual((reply.code, reply.lines), (350, (
            "Question 1 of 2", "What is 1 + 1?", "A) 1", "B) 2", "C) 3", "D) 4")))

    async def test_grade_of_two_in_three(self) -> None:
        """
        If a three-question test is imported and a student answers 2 of 3 right on the server,
        then the reply is "Your grade is 66.7 (2/3 correct)" and results shows 66.7 in the grid
        and in the CSV.
        """
        await self.database()
        q, a = self.files(TRIO_QUESTIONS, TRIO_ANSWERS)
        code, out, err = await self.admin("exams", "import", "--db", self.db, "trio", q, a)
        self.assertEqual((code, out, err), (0, "Imported trio with 3 questions\n", ""))
        service, port = await start_server(self, "--db", self.db)
        student = await logged_in(port, "ada")
        self.assertEqual((await student.ask("TAKE trio")).lines[0], "Question 1 of 3")
        self.assertEqual((await student.ask("B")).lines[0], "Question 2 of 3")
        self.assertEqual((await student.ask("A")).lines[0], "Question 3 of 3")
        reply = await student.ask("A")
        self.assertEqual((reply.code, reply.lines), (250, ("Your grade is 66.7 (2/3 correct)",)))

        code, out, err = await self.admin("results", "--db", self.db)
        self.assertEqual((code, err), (0, ""))
        self.assertRegex(out, (
            r"\A\+-------\+-----\+--------\+------\+------------------------\+\n"
            r"\|Client \|Test \|Outcome \|Grade \|Date                    \|\n"
            r"\+-------\+-----\+--------\+------\+------------------------\+\n"
            r"\|ada    \|trio \|graded  \|66\.7  \|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \|\n"
            r"\+-------\+-----\+--------\+------\+------------------------\+\n\Z"
        ))
        code, out, err = await self.admin("results", "--csv", "--db", self.db)
        self.assertEqual((code, err), (0, ""))
        header, row = out.splitlines()
        self.assertEqual(header, "username,test,outcome,grade,correct,answered,total,started_at,"
                                 "finished_at,client")
        self.assertRegex(row, r"\Aada,trio,graded,66\.7,2,3,3,"
                              r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ,\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ,"
                              r"127\.0\.0\.1:\d+\Z")

    async def test_bad_file_imports_nothing(self) -> None:
        """
        If the questions file has "X) 3" where "C) 3" belongs, then the command names the file
        and line 4, exits 1, and the tests stay math and python.
        """
        store = await self.database()
        q, a = self.files(GOOD_QUESTIONS.replace("C) 3", "X) 3"), "B\nC\n")
        code, out, err = await self.admin("exams", "import", "--db", self.db, "Broken", q, a)
        self.assertEqual((code, out, err), (1, "", (
            f"examtwist: {q}, line 4: expected the choice line 'C) …'; nothing was imported\n")))
        self.assertEqual([t.name for t in await store.list_tests()], ["math", "python"])

    async def test_name_taken_unless_replace(self) -> None:
        """
        If a test is imported as "Math" while math exists, then it is refused (exit 1, the
        message names --replace) and math keeps 5 questions; with --replace, math gets the new 2.
        """
        store = await self.database()
        q, a = self.files(GOOD_QUESTIONS, "B\nC\n")
        code, out, err = await self.admin("exams", "import", "--db", self.db, "Math", q, a)
        self.assertEqual((code, out, err), (1, "", (
            "examtwist: a test named 'Math' exists already; use --replace to change its"
            " questions; nothing was imported\n")))
        self.assertEqual(len((await store.find_test("math")).questions), 5)
        code, out, err = await self.admin("exams", "import", "--replace", "--db", self.db,
                                          "math", q, a)
        self.assertEqual((code, out, err), (0, "Imported math with 2 questions\n", ""))
        test = await store.find_test("1")
        self.assertEqual((test.name, len(test.questions)), ("math", 2))

    async def test_options_after_arguments(self) -> None:
        """
        If a test is imported as "math" with --replace after the name and files, then it is
        as with --replace first: "Imported math with 2 questions", exit 0, math has 2 questions.
        """
        store = await self.database()
        q, a = self.files(GOOD_QUESTIONS, "B\nC\n")
        code, out, err = await self.admin("exams", "import", "--db", self.db, "math", q, a,
                                          "--replace")
        self.assertEqual((code, out, err), (0, "Imported math with 2 questions\n", ""))
        test = await store.find_test("1")
        self.assertEqual((test.name, len(test.questions)), ("math", 2))

    async def test_missing_database_is_not_created(self) -> None:
        """
        If --db names a file that does not exist, then exams list says "no database at …",
        exits 1, and does not create it.
        """
        path = os.path.join(temp_dir(self), "nope.db")
        code, out, err = await self.admin("exams", "list", "--db", path)
        self.assertEqual((code, out, err), (1, "", (
            f"examtwist: no database at {path} (give --db, or start the server once)\n")))
        self.assertFalse(os.path.exists(path))

    async def test_usage(self) -> None:
        """
        If no command, an incomplete one or an unknown one is given, then the usage is printed
        with the reason on its last line, and the exit status is 2.
        """
        for args, reason in [
            ((), "examtwist: say which command: exams, results, users, roster, students,"
                 " count, copy or teachers"),
            (("exams",), "examtwist: say which: exams list, import, export, set or show"),
            (("exams", "import", "onlyname"),
             "examtwist: --format seed takes two files, QUESTIONS and ANSWERS"),
            (("exams", "import", "--format", "gift", "name", "q", "a"),
             "examtwist: --format gift takes one file"),
            (("exams", "import", "--format", "moodle", "name", "q"),
             "examtwist: --format: expected seed, aiken or gift, found 'moodle'"),
            (("exams", "export", "math"),
             "examtwist: --format seed takes two files, QUESTIONS and ANSWERS"),
            (("frobnicate",), "examtwist: Unknown command: frobnicate"),
        ]:
            code, out, err = await self.admin(*args)
            self.assertEqual((code, out, err.splitlines()[-1]), (2, "", reason), args)


class HelpAndVersionTests(AdminTestCase):
    async def test_version(self) -> None:
        """
        If --version is given alone or after a command, then it prints "examtwist 1.0.0"
        (not Twisted's version) and exits 0.
        """
        for args in [("--version",), ("students", "add", "--version")]:
            self.assertEqual(await self.admin(*args), (0, "examtwist 1.0.0\n", ""), args)

    async def test_help_shows_an_example_of_every_command(self) -> None:
        """
        If --help is given, then it exits 0 and ends with one line for each command: its words
        and an example.
        """
        code, out, err = await self.admin("--help")
        self.assertEqual((code, out[out.index("Examples:"):], err), (0, (
            "Examples:\n"
            "  exams list       examtwist exams list --db examtwist.db\n"
            "  exams import     examtwist exams import Algebra questions.txt answers.txt"
            " --replace\n"
            "  exams export     examtwist exams export math --format gift > math.gift\n"
            "  exams set        examtwist exams set math --attempts 1 --time-limit 600"
            ' --opens "2026-12-01 09:00"\n'
            "  exams show       examtwist exams show math\n"
            "  results          examtwist results --test math --csv\n"
            "  users list       examtwist users list\n"
            "  users add        examtwist users add ada --password-file ada.txt\n"
            "  users passwd     examtwist users passwd ada\n"
            "  roster import    examtwist roster import class-2026.txt\n"
            "  roster list      examtwist roster list\n"
            '  students add     examtwist students add "Nadia Haddad" 42 19\n'
            "  students list    examtwist students list --csv\n"
            "  students clear   examtwist students clear --yes\n"
            "  students import  examtwist students import students.csv --replace\n"
            "  count show       examtwist count show --db postgresql://exams@db.example/exams\n"
            "  count restart    examtwist count restart --db postgresql://exams@db.example/exams\n"
            "  copy             examtwist copy --from examtwist.db"
            " --to postgresql://exams@db.example/exams\n"
            "  teachers add     examtwist teachers add mrs.haddad\n"
            "  teachers passwd  examtwist teachers passwd mrs.haddad\n"
            "  teachers list    examtwist teachers list\n"
            "  teachers remove  examtwist teachers remove mrs.haddad\n"
            "\n"
        ), ""))


class ResultsCommandTests(AdminTestCase):
    async def with_results(self) -> None:
        """
        alice: math graded 66.7 (2 answers stored), python time up 20.0; bob: python
        abandoned.
        """
        store = await self.database()
        await store.add_user("alice", "h")
        await store.add_user("bob", "h")
        await store.record_result(
            Result("alice", "math", "graded", 2, 3, 3, 66.7, "2026-11-25T10:00:00Z",
                   "2026-11-25T10:04:00Z", "127.0.0.1:5000"),
            Order("2,1,3", "BACD,ABCD,ABCD"),
            (Answer(1, 2, "A", "B", False, "2026-11-25T10:01:00Z"),
             Answer(2, 1, "B", "B", True, "2026-11-25T10:02:30Z")),
        )
        await store.record_result(Result("bob", "python", "abandoned", 1, 2, 5, None,
                                         "2026-11-25T11:00:00Z", "2026-11-25T11:01:30Z",
                                         "[::1]:5001"))
        await store.record_result(Result("alice", "python", "time_up", 1, 1, 5, 20.0,
                                         "2026-11-25T12:00:00Z", "2026-11-25T12:10:00Z",
                                         "127.0.0.1:5002"))

    async def test_empty_grid(self) -> None:
        """If nobody has a result, then results prints the grid's header alone."""
        await self.database()
        code, out, err = await self.admin("results", "--db", self.db)
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out, "+-------+-----+--------+------+-----+\n"
                              "|Client |Test |Outcome |Grade |Date |\n"
                              "+-------+-----+--------+------+-----+\n")

    async def test_grid(self) -> None:
        """
        If alice has a graded 66.7 and a time-up 20.0 and bob an abandoned test, then the grid
        shows each outcome in words (graded, abandoned, time up), its grade (none for bob),
        and each finishing time in UTC, in the order they ended.
        """
        await self.with_results()
        code, out, err = await self.admin("results", "--db", self.db)
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out, (
            "+-------+-------+----------+------+------------------------+\n"
            "|Client |Test   |Outcome   |Grade |Date                    |\n"
            "+-------+-------+----------+------+------------------------+\n"
            "|alice  |math   |graded    |66.7  |2026-11-25 10:04:00 UTC |\n"
            "+-------+-------+----------+------+------------------------+\n"
            "|bob    |python |abandoned |      |2026-11-25 11:01:30 UTC |\n"
            "+-------+-------+----------+------+------------------------+\n"
            "|alice  |python |time up   |20.0  |2026-11-25 12:10:00 UTC |\n"
            "+-------+-------+----------+------+------------------------+\n"
        ))

    async def test_filters(self) -> None:
        """
        If results is asked for --test PYTHON, then it shows bob's and alice's python attempts
        only; with --user alice as well, alice's time up alone; --user Alice (another case)
        shows nothing.
        """
        await self.with_results()
        code, out, err = await self.admin("results", "--test", "PYTHON", "--db", self.db)
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out, (
            "+-------+-------+----------+------+------------------------+\n"
            "|Client |Test   |Outcome   |Grade |Date                    |\n"
            "+-------+-------+----------+------+------------------------+\n"
            "|bob    |python |abandoned |      |2026-11-25 11:01:30 UTC |\n"
            "+-------+-------+----------+------+------------------------+\n"
            "|alice  |python |time up   |20.0  |2026-11-25 12:10:00 UTC |\n"
            "+-------+-------+----------+------+------------------------+\n"
        ))
        code, out, err = await self.admin("results", "--db", self.db, "--csv", "--test",
                                          "python", "--user", "alice")
        self.assertEqual((code, out, err), (0, (
            "username,test,outcome,grade,correct,answered,total,started_at,finished_at,client\n"
            "alice,python,time_up,20.0,1,1,5,2026-11-25T12:00:00Z,2026-11-25T12:10:00Z,"
            "127.0.0.1:5002\n"), ""))
        code, out, err = await self.admin("results", "--db", self.db, "--user", "Alice")
        self.assertEqual((code, out, err), (0, "+-------+-----+--------+------+-----+\n"
                                               "|Client |Test |Outcome |Grade |Date |\n"
                                               "+-------+-----+--------+------+-----+\n", ""))

    async def test_csv(self) -> None:
        """
        If alice has a graded 66.7 and a time up, and bob an abandoned test, then results
        --csv writes every stored field of the three, in the header's order, bob's grade empty.
        """
        await self.with_results()
        code, out, err = await self.admin("results", "--csv", "--db", self.db)
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out, (
            "username,test,outcome,grade,correct,answered,total,started_at,finished_at,client\n"
            "alice,math,graded,66.7,2,3,3,2026-11-25T10:00:00Z,2026-11-25T10:04:00Z,"
            "127.0.0.1:5000\n"
            "bob,python,abandoned,,1,2,5,2026-11-25T11:00:00Z,2026-11-25T11:01:30Z,[::1]:5001\n"
            "alice,python,time_up,20.0,1,1,5,2026-11-25T12:00:00Z,2026-11-25T12:10:00Z,"
            "127.0.0.1:5002\n"
        ))

    async def test_csv_answers(self) -> None:
        """
        If alice's math attempt stored two answers (question 1 shown was stored question 2,
        its letter A meaning B), then results --csv --answers writes one row for each, with
        the attempt's start, the numbers, both letters and 0 or 1 for correct.
        """
        await self.with_results()
        code, out, err = await self.admin("results", "--csv", "--answers", "--db", self.db)
        self.assertEqual((code, out, err), (0, (
            "username,test,started_at,number,position,shown,meant,correct,answered_at\n"
            "alice,math,2026-11-25T10:00:00Z,1,2,A,B,0,2026-11-25T10:01:00Z\n"
            "alice,math,2026-11-25T10:00:00Z,2,1,B,B,1,2026-11-25T10:02:30Z\n"
        ), ""))
        code, out, err = await self.admin("results", "--csv", "--answers", "--user", "bob",
                                          "--db", self.db)
        self.assertEqual((code, out, err), (0, (
            "username,test,started_at,number,position,shown,meant,correct,answered_at\n"), ""))

    async def test_csv_is_spreadsheet_safe(self) -> None:
        """
        If a username starts with "-" (a formula to a spreadsheet), then --csv and --csv
        --answers write it with a quote before: "'-x".
        """
        store = await self.database()
        await store.add_user("-x", "h")
        await store.record_result(
            Result("-x", "math", "graded", 1, 1, 1, 100.0, "2026-11-25T10:00:00Z",
                   "2026-11-25T10:04:00Z", "127.0.0.1:5000"),
            answers=(Answer(1, 1, "B", "B", True, "2026-11-25T10:01:00Z"),))
        code, out, err = await self.admin("results", "--csv", "--db", self.db)
        self.assertEqual(out.splitlines()[1:], [
            "'-x,math,graded,100.0,1,1,1,2026-11-25T10:00:00Z,2026-11-25T10:04:00Z,"
            "127.0.0.1:5000"])
        code, out, err = await self.admin("results", "--csv", "--answers", "--db", self.db)
        self.assertEqual(out.splitlines()[1:],
                         ["'-x,math,2026-11-25T10:00:00Z,1,1,B,B,1,2026-11-25T10:01:00Z"])

    async def test_answers_needs_csv(self) -> None:
        """If --answers is given without --csv, then it is a usage error (2) saying so."""
        code, out, err = await self.admin("results", "--answers")
        self.assertEqual((code, out, err.splitlines()[-1]),
                         (2, "", "examtwist: --answers goes with --csv"))


class UsersCommandTests(AdminTestCase):
    async def test_list(self) -> None:
        """
        If zoe has 2 results and adam none, then users list shows them by name with when they
        registered and 0 and 2 results, and no password hash.
        """
        store = await self.database()
        await store.add_user("zoe", "$argon2id$h")
        await store.add_user("adam", "$argon2id$h")
        for test, grade in (("math", 80.0), ("python", 40.0)):
            await store.record_result(Result("zoe", test, "graded", 0, 5, 5, grade,
                                             "2026-11-25T10:00:00Z", "2026-11-25T10:04:00Z",
                                             "127.0.0.1:5000"))
        await self.sql("UPDATE users SET created_at = '2026-11-20T09:00:00Z'"
                       " WHERE username = 'zoe'")
        await self.sql("UPDATE users SET created_at = '2026-11-21T18:30:05Z'"
                       " WHERE username = 'adam'")
        code, out, err = await self.admin("users", "list", "--db", self.db)
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out, (
            "+---------+------------------------+--------+\n"
            "|Username |Registered              |Results |\n"
            "+---------+------------------------+--------+\n"
            "|adam     |2026-11-21 18:30:05 UTC |0       |\n"
            "+---------+------------------------+--------+\n"
            "|zoe      |2026-11-20 09:00:00 UTC |2       |\n"
            "+---------+------------------------+--------+\n"
        ))


class CountCommandTests(AdminTestCase):
    async def test_sqlite_has_no_shared_count(self) -> None:
        """
        If the database is SQLite, then count show and count restart say the count is the
        server's own, in memory, and exit 1.
        """
        await self.database()
        for action in ("show", "restart"):
            code, out, err = await self.admin("count", action, "--db", self.db)
            self.assertEqual((code, out, err), (1, "", (
                f"examtwist: {self.db} is SQLite: its server counts connections in memory, from"
                " its own start, and restarting it restarts the count; a shared count lives in"
                " a PostgreSQL database\n")))

    async def test_usage(self) -> None:
        """If count is given alone, then it says "say which: count show, or count restart", 2."""
        code, out, err = await self.admin("count")
        self.assertEqual((code, out, err.splitlines()[-1]),
                         (2, "", "examtwist: say which: count show, or count restart"))


class PostgresCountCommandTests(OnPostgres, AdminTestCase):
    async def test_show_and_restart(self) -> None:
        """
        If 3 connections were counted since 2026-01-02 03:04:05, then count show says so;
        after count restart the count starts again from a new time: the next connection is 1.
        """
        store = await self.database()
        for i in range(3):
            await store.count_connection(f"127.0.0.1:{5000 + i}", 7)
        await self.sql("UPDATE connection_count SET since = '2026-01-02T03:04:05Z'")
        code, out, err = await self.admin("count", "show", "--db", self.db)
        self.assertEqual((code, out, err),
                         (0, "3 connections counted since 2026-01-02 03:04:05 UTC\n", ""))
        code, out, err = await self.admin("count", "restart", "--db", self.db)
        self.assertEqual((code, out, err), (0, (
            "The count starts again: the next connection to any node is the first\n"), ""))
        [(counted, since)] = await self.sql("SELECT counted, since FROM connection_count")
        self.assertEqual(counted, 0)
        self.assertNotEqual(since, "2026-01-02T03:04:05Z")
        self.assertRegex(since, r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z")
        code, out, err = await self.admin("count", "show", "--db", self.db)
        self.assertEqual((code, out, err),
                         (0, f"0 connections counted since {since.replace('T', ' ')[:-1]} UTC\n",
                          ""))
        self.assertEqual(await store.count_connection("127.0.0.1:6000", 7), (1, None))


class DatabaseURLCommandTests(AdminTestCase):
    """A PostgreSQL URL that leads nowhere (no server needed to see it)."""

    async def test_unreachable_database_in_one_line(self) -> None:
        """
        If --db is a PostgreSQL URL where no server listens, then the command prints libpq's
        reason after "examtwist: ", without a traceback or the password, and exits 1.
        """
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        code, out, err = await self.admin(
            "users", "list", "--db", f"postgresql://ann:s3cret@127.0.0.1:{port}/exams")
        self.assertEqual((code, out), (1, ""))
        self.assertTrue(err.startswith(
            'examtwist: connection failed: connection to server at "127.0.0.1", port'
            f" {port} failed: Connection refused\n"), err)
        self.assertNotIn("Traceback", err)
        self.assertNotIn("s3cret", err)

    async def test_bad_url_is_usage(self) -> None:
        """
        If --db is not a valid PostgreSQL URL, then it is a usage error (exit 2) that does not
        show the password.
        """
        code, out, err = await self.admin("users", "list", "--db",
                                          "postgresql://ann:s3cret@[::1/exams")
        self.assertEqual((code, out), (2, ""))
        self.assertTrue(err.splitlines()[-1].startswith("examtwist: --db: not a PostgreSQL URL"),
                        err)
        self.assertNotIn("s3cret", err)


class PostgresExamsCommandTests(OnPostgres, ExamsCommandTests):
    pass


class PostgresResultsCommandTests(OnPostgres, ResultsCommandTests):
    pass


class PostgresUsersCommandTests(OnPostgres, UsersCommandTests):
    pass
