"""
C{examtwist exams set | show | import | export} with test rules and Moodle's formats, run as
users run them: a child process on a real SQLite file or (the Postgres* classes) PostgreSQL.
"""

from __future__ import annotations

import os

from twisted.internet import reactor

from examtwist.storage import Fresh, Order, Result
from examtwist.testbank import Question, Rules, Test
from tests.client_support import write_file
from tests.support import OnPostgres, temp_dir
from tests.test_admin import AdminTestCase

# 2026-12-01 09:00 and 11:00 UTC, in seconds since the epoch.
DEC_1_0900 = 1796115600
DEC_1_1100 = 1796122800
MATH_RULES_SET = (
    "The rules of math are now:\n"
    "  Time limit: 600 s\n"
    "  Attempts allowed: 2\n"
    "  Order: shuffled\n"
    "  Opens: 2026-12-01 09:00 UTC\n"
    "  Closes: 2026-12-01 11:00 UTC\n"
)
# Every character GIFT escapes, a text of three lines, the last indented.
AWKWARD_QUESTIONS = """\
Which of ~ = # { } : is a brace?
Pick one:
    (the first)
A) {
B) }
C) ~=#
D) a:b \\ c
----------
What is 2 + 2?
A) 3
B) 4
C) 5
D) 22
----------
"""
AWKWARD = (
    (("Which of ~ = # { } : is a brace?", "Pick one:", "    (the first)"),
     ("{", "}", "~=#", "a:b \\ c"), "A"),
    (("What is 2 + 2?",), ("3", "4", "5", "22"), "B"),
)


def questions_of(test: Test) -> tuple:
    return tuple((q.text, q.choices, q.answer) for q in test.questions)


class ExamsRulesTests(AdminTestCase):
    async def test_set_then_show(self) -> None:
        """
        If math is given 2 attempts, 600 s, shuffled, open 2026-12-01 09:00 to 11:00, then set
        says so in INFO's words, the store has those rules, and a later set of --fixed-order
        alone keeps the others.
        """
        store = await self.database()
        result = await self.admin(
            "exams", "set", "math", "--attempts", "2", "--time-limit", "600", "--shuffle",
            "--opens", "2026-12-01 09:00", "--closes", "2026-12-01 11:00", "--db", self.db)
        self.assertEqual(result, (0, MATH_RULES_SET, ""))
        self.assertEqual((await store.find_test("math")).rules,
                         Rules(2, 600, True, DEC_1_0900, DEC_1_1100))
        result = await self.admin("exams", "set", "--db", self.db, "MATH", "--fixed-order")
        self.assertEqual(result, (0, MATH_RULES_SET.replace("shuffled", "fixed"), ""))
        self.assertEqual((await store.find_test("math")).rules,
                         Rules(2, 600, False, DEC_1_0900, DEC_1_1100))
        result = await self.admin("exams", "set", "math", "--unlimited-attempts",
                                  "--no-time-limit", "--always-open", "--db", self.db)
        self.assertEqual(result, (0, "The rules of math are now:\n"
                                     "  Time limit: none\n"
                                     "  Attempts allowed: unlimited\n"
                                     "  Order: fixed\n", ""))
        self.assertEqual((await store.find_test("math")).rules, Rules())

    async def test_set_refusals(self) -> None:
        """
        If set is given a pair that conflicts, no rule, a bad time or number, then it is a
        usage error (2) saying which; a test that would open after it closes, or a test that
        does not exist, is a failure (1); the rules stay off.
        """
        store = await self.database()
        for args, reason in [
            (("--attempts", "2", "--unlimited-attempts"),
             "--attempts and --unlimited-attempts cannot go together"),
            (("--time-limit", "60", "--no-time-limit"),
             "--time-limit and --no-time-limit cannot go together"),
            (("--shuffle", "--fixed-order"), "--shuffle and --fixed-order cannot go together"),
            (("--opens", "2026-12-01 09:00", "--always-open"),
             "--opens and --always-open cannot go together"),
            ((), "say which rules to set (examtwist exams set --help)"),
            (("--opens", "2026-12-01T09:00"),
             '--opens: expected a UTC time "YYYY-MM-DD HH:MM", like "2026-12-01 09:00";'
             " found '2026-12-01T09:00'"),
            (("--closes", "2026-02-30 09:00"),
             '--closes: expected a UTC time "YYYY-MM-DD HH:MM", like "2026-12-01 09:00";'
             " found '2026-02-30 09:00'"),
            (("--attempts", "0"), "--attempts: expected a whole number from 1 to 1000,"
                                  " found '0'"),
            (("--time-limit", "-5"), "--time-limit: expected a whole number from 1 to"
                                     " 2678400, found '-5'"),
        ]:
            code, out, err = await self.admin("exams", "set", "math", "--db", self.db, *args)
            self.assertEqual((code, out, err.splitlines()[-1]), (2, "", f"examtwist: {reason}"),
                             args)
        result = await self.admin("exams", "set", "math", "--opens", "2026-12-01 11:00",
                                  "--closes", "2026-12-01 11:00", "--db", self.db)
        self.assertEqual(result, (1, "", "examtwist: the test must open before it closes"
                                         " (opens 2026-12-01 11:00 UTC, closes 2026-12-01"
                                         " 11:00 UTC)\n"))
        result = await self.admin("exams", "set", "chemistry", "--shuffle", "--db", self.db)
        self.assertEqual(result, (1, "", "examtwist: no test named 'chemistry' (examtwist"
                                         " exams list shows them)\n"))
        self.assertEqual((await store.find_test("math")).rules, Rules())

    async def test_show(self) -> None:
        """
        If math (2 attempts, 10 minutes) has a graded 80.0, a time-up 40.0, an abandoned
        attempt and one under way, then show tells its rules in INFO's words, 4 attempts
        started, each outcome's count, and the mean grade 60.0 of the 2 graded or time up.
        """
        store = await self.database()
        await store.set_rules("math", Rules(2, 600))
        for user in ("ada", "bob", "cy", "dee"):
            await store.add_user(user, "h")
        for user, outcome, grade in (("ada", "graded", 80.0), ("bob", "time_up", 40.0),
                                     ("cy", "abandoned", None)):
            await store.record_result(Result(user, "math", outcome, 2, 5, 5, grade,
                                             "2026-11-25T10:00:00Z", "2026-11-25T10:04:00Z",
                                             "127.0.0.1:5000"))
        now = reactor.seconds()
        await store.take_attempt("dee", "math", 2, Fresh("2026-11-25T10:00:00Z", None,
                                                         Order("", ""), 5, "127.0.0.1:5001"),
                                 "node:1", now, 1800)
        result = await self.admin("exams", "show", "math", "--db", self.db)
        self.assertEqual(result, (0, (
            "Test: math\n"
            "Questions: 5\n"
            "Time limit: 600 s\n"
            "Attempts allowed: 2\n"
            "Order: fixed\n"
            "Attempts started: 4\n"
            "  graded: 1\n"
            "  time up: 1\n"
            "  abandoned: 1\n"
            "  under way or suspended: 1\n"
            "Mean grade: 60.0 (of 2 graded or time up)\n"
        ), ""))
        result = await self.admin("exams", "show", "python", "--db", self.db)
        self.assertEqual(result, (0, (
            "Test: python\nQuestions: 5\nTime limit: none\nAttempts allowed: unlimited\n"
            "Order: fixed\nAttempts started: 0\n  graded: 0\n  time up: 0\n  abandoned: 0\n"
            "  under way or suspended: 0\nMean grade: none yet\n"
        ), ""))


class ExamsFormatsTests(AdminTestCase):
    async def test_round_trip_in_every_format(self) -> None:
        """
        If a test with every character GIFT escapes and a text of three lines is imported,
        exported as GIFT and as seed and imported again under other names, then each is the
        same test; a one-line test goes through Aiken the same way.
        """
        store = await self.database()
        q, a = self.files(AWKWARD_QUESTIONS, "A\nB\n")
        self.assertEqual(await self.admin("exams", "import", "awk", q, a, "--db", self.db),
                         (0, "Imported awk with 2 questions\n", ""))
        code, gift, err = await self.admin("exams", "export", "awk", "--format", "gift",
                                           "--db", self.db)
        self.assertEqual((code, err), (0, ""))
        path = write_file(self, "awk.gift", gift)
        self.assertEqual(await self.admin("exams", "import", "--format", "gift", "awk2", path,
                                          "--db", self.db),
                         (0, "Imported awk2 with 2 questions\n", ""))
        directory = temp_dir(self)
        q2, a2 = os.path.join(directory, "q.txt"), os.path.join(directory, "a.txt")
        self.assertEqual(await self.admin("exams", "export", "awk2", q2, a2, "--db", self.db),
                         (0, f"Exported awk2 (2 questions) to {q2} and {a2}\n", ""))
        self.assertEqual(await self.admin("exams", "import", "awk3", q2, a2, "--db", self.db),
                         (0, "Imported awk3 with 2 questions\n", ""))
        for name in ("awk", "awk2", "awk3"):
            self.assertEqual(questions_of(await store.find_test(name)), AWKWARD, name)

        await store.add_test(Test("plain", (
            Question(("What is 2 + 2?",), ("3", "4", "5", "22"), "B"),
            Question(("Which is # a prime:",), ("9", "15", "21", "7"), "D"))))
        aiken = os.path.join(directory, "plain.txt")
        self.assertEqual(await self.admin("exams", "export", "plain", "-f", "aiken", aiken,
                                          "--db", self.db),
                         (0, f"Exported plain (2 questions) to {aiken}\n", ""))
        with open(aiken, encoding="utf-8") as f:
            self.assertEqual(f.read(), "What is 2 + 2?\nA) 3\nB) 4\nC) 5\nD) 22\nANSWER: B\n\n"
                                       "Which is # a prime:\nA) 9\nB) 15\nC) 21\nD) 7\n"
                                       "ANSWER: D\n\n")
        self.assertEqual(await self.admin("exams", "import", "plain2", aiken, "-f", "aiken",
                                          "--db", self.db),
                         (0, "Imported plain2 with 2 questions\n", ""))
        self.assertEqual(questions_of(await store.find_test("plain2")),
                         questions_of(await store.find_test("plain")))

    async def test_export_refusals(self) -> None:
        """
        If math (a question of two lines) is exported as Aiken, or to a file that exists, then
        nothing is written and the command says why (exit 1).
        """
        await self.database()
        result = await self.admin("exams", "export", "math", "--format", "aiken", "--db",
                                  self.db)
        self.assertEqual(result, (1, "", (
            "examtwist: question 5 of math has 2 lines of text, and Aiken holds one (GIFT holds"
            " more); nothing was written\n")))
        taken = write_file(self, "taken.gift", "mine")
        result = await self.admin("exams", "export", "math", "-f", "gift", taken, "--db",
                                  self.db)
        self.assertEqual(result, (1, "", f"examtwist: {taken} exists already; nothing was"
                                         " written\n"))
        with open(taken) as f:
            self.assertEqual(f.read(), "mine")

    async def test_bad_gift_imports_nothing(self) -> None:
        """
        If a GIFT file's second question has feedback, then the import names the file and
        line 3, exits 1, and no test is added.
        """
        store = await self.database()
        path = write_file(self, "q.gift", "Q {=a ~b ~c ~d}\n\nR {=a ~b ~c\n~d #why}\n")
        result = await self.admin("exams", "import", "-f", "gift", "bad", path, "--db", self.db)
        self.assertEqual(result, (1, "", (
            f"examtwist: {path}, line 4: feedback '#' or a numerical question: examtwist"
            " imports multiple-choice questions without feedback; nothing was imported\n")))
        self.assertEqual([t.name for t in await store.list_tests()], ["math", "python"])

    async def test_import_with_rules(self) -> None:
        """
        If a test is imported with --attempts 1 --shuffle, then it has those rules; imported
        again with --replace and --time-limit 300 it keeps them and adds the clock; with
        --replace and no rule options, it keeps them all.
        """
        store = await self.database()
        path = write_file(self, "q.txt", "Q\nA) a\nB) b\nC) c\nD) d\nANSWER: C\n")
        result = await self.admin("exams", "import", "quiz", path, "--format", "aiken",
                                  "--attempts", "1", "--shuffle", "--db", self.db)
        self.assertEqual(result, (0, "Imported quiz with 1 questions\n", ""))
        self.assertEqual((await store.find_test("quiz")).rules, Rules(1, None, True))
        result = await self.admin("exams", "import", "quiz", path, "--format", "aiken",
                                  "--replace", "--time-limit", "300", "--db", self.db)
        self.assertEqual(result, (0, "Imported quiz with 1 questions\n", ""))
        self.assertEqual((await store.find_test("quiz")).rules, Rules(1, 300, True))
        result = await self.admin("exams", "import", "quiz", path, "--format", "aiken",
                                  "--replace", "--db", self.db)
        self.assertEqual((await store.find_test("quiz")).rules, Rules(1, 300, True))


class PostgresExamsRulesTests(OnPostgres, ExamsRulesTests):
    pass


class PostgresExamsFormatsTests(OnPostgres, ExamsFormatsTests):
    pass
