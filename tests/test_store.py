"""
The store on a real database: every suite runs on SQLite files in temp dirs, and again on a
fresh PostgreSQL database per test (the Postgres* classes at the end).
"""

from __future__ import annotations

import os
import re
import stat
from datetime import datetime, timezone

from twisted.internet import reactor
from twisted.internet.defer import CancelledError, ensureDeferred
from twisted.trial import unittest

from examtwist import storage
from examtwist.attempts import Attempt
from examtwist.storage import (
    Answer,
    AnswerRow,
    ConnectionCount,
    Ending,
    Fresh,
    NoAttemptsLeft,
    Order,
    Result,
    Store,
    StoreClosed,
    TestExists,
    TestSummary,
    UserSummary,
)
from examtwist.testbank import BUILTIN_TESTS, Question, Rules, Test
from tests.support import OnPostgres, backend_of, database_at, open_store, temp_db

QUIZ = Test("Quiz", (Question(("Pick B",), ("a", "b", "c", "d"), "B"),))
BUILTIN = [TestSummary(1, "math", 5), TestSummary(2, "python", 5)]
# The one format of every time the database holds.
STORED_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z")
FROZEN = "2026-04-01T12:00:00Z"


def result(username="alice", test="math", outcome="graded", correct=4, total=5, grade=80.0):
    return Result(username, test, outcome, correct, total, total, grade,
                  "2026-01-01T10:00:00Z", "2026-01-01T10:05:00Z", "127.0.0.1:5000")


def clock_now() -> str:
    """The test's own reading of the UTC clock, to the second, as times are stored."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def assert_stored_time(testcase, text: str, before: str, after: str) -> None:
    """C{text} is a time in the stored format, from C{before} to C{after}."""
    testcase.assertRegex(text, STORED_TIME)
    testcase.assertTrue(before <= text <= after, (before, text, after))


class SQLiteFileTests(unittest.TestCase):
    async def test_file_readable_by_owner_only(self):
        """
        If the store has written an account to its SQLite file, then the file and its -wal
        and -shm files have mode 0600: it holds password hashes.
        """
        path = temp_db(self)
        store = await open_store(self, path)
        await store.add_user("alice", "hash")
        files = (path, path + "-wal", path + "-shm")
        modes = [stat.S_IMODE(os.stat(name).st_mode) for name in files]
        self.assertEqual(modes, [0o600, 0o600, 0o600])

    async def test_names_beyond_ascii_fold_as_sqlite_lower_does(self):
        """
        If tests are named "kelvin" and "\u00c9mile", then "\u212aelvin" (KELVIN SIGN) and
        "\u00e9mile" find neither: SQLite's lower() folds A-Z only. "\u00c9mile" finds its test.
        """
        store = await open_store(self)
        await store.add_test(Test("kelvin", QUIZ.questions))
        await store.add_test(Test("\u00c9mile", QUIZ.questions))
        self.assertIsNone(await store.find_test("\u212aelvin"))
        self.assertEqual(await store.find_test("\u00c9mile"), Test("\u00c9mile", QUIZ.questions))
        self.assertIsNone(await store.find_test("\u00e9mile"))


class StoreCreationTests(unittest.TestCase):
    async def test_new_database_has_the_builtin_tests(self):
        """If the database is new, then EXAMS lists 1 math (5 questions) and 2 python (5)."""
        store = await open_store(self)
        self.assertEqual(await store.list_tests(), BUILTIN)

    async def test_reopening_keeps_data_and_seeds_once(self):
        """
        If the store is closed and opened again, then alice's hash is still "hash" and the
        built-in tests are there once: 1 math, 2 python.
        """
        store = await open_store(self)
        await store.add_user("alice", "hash")
        await store.close()
        again = await open_store(self, store.path)
        self.assertEqual(await again.get_password_hash("alice"), "hash")
        self.assertEqual(await again.list_tests(), BUILTIN)

    async def test_refuses_a_newer_schema(self):
        """
        If the database is at schema 99 (a newer examtwist wrote it), then start fails with
        "the database is at schema version 99, newer than this examtwist knows" and leaves it
        at 99.
        """
        path = (await open_store(self)).path
        backend_of(self).execute(path, "UPDATE schema_version SET version = 99")
        store = Store(reactor, path)
        self.addCleanup(store.close)
        with self.assertRaises(RuntimeError) as e:
            await store.start()
        self.assertEqual(
            str(e.exception),
            "the database is at schema version 99, newer than this examtwist knows",
        )
        self.assertEqual(backend_of(self).execute(path, "SELECT version FROM schema_version"),
                         [(99,)])

    async def test_closed_store_refuses_work(self):
        """If the store is closed, then a call fails with StoreClosed."""
        store = await open_store(self)
        await store.close()
        with self.assertRaises(StoreClosed):
            await store.list_tests()


class UserTests(unittest.TestCase):
    async def test_add_and_get(self):
        """If alice registers with hash "h1", then that is her hash; bob, unknown, has none."""
        store = await open_store(self)
        self.assertTrue(await store.add_user("alice", "h1"))
        self.assertEqual(await store.get_password_hash("alice"), "h1")
        self.assertIsNone(await store.get_password_hash("bob"))

    async def test_name_taken(self):
        """
        If a second account is named alice, then the database refuses it (False) and the
        first keeps its hash "h1".
        """
        store = await open_store(self)
        await store.add_user("alice", "h1")
        self.assertFalse(await store.add_user("alice", "h2"))
        self.assertEqual(await store.get_password_hash("alice"), "h1")

    async def test_names_are_unique_ignoring_case(self):
        """
        If alice exists, then Alice and ALICE are refused (False) and taken; logging in still
        matches the name exactly: Alice has no hash, alice keeps "h1".
        """
        store = await open_store(self)
        self.assertTrue(await store.add_user("alice", "h1"))
        self.assertFalse(await store.add_user("Alice", "h2"))
        self.assertEqual(
            [await store.username_taken(name) for name in ("alice", "ALICE", "Alic", "bob")],
            [True, True, False, False],
        )
        self.assertIsNone(await store.get_password_hash("Alice"))
        self.assertEqual(await store.get_password_hash("alice"), "h1")

    async def test_accounts_of_version_1_differing_in_case_keep_working(self):
        """
        If a database made before schema 5 holds Ada and ada (version 1 allowed it), then after
        the migration both keep their hashes "h1" and "h2", both names are taken, and a new
        ADA is refused.
        """
        db = await database_at(self, 4)
        backend_of(self).execute(
            db,
            "INSERT INTO users (username, password_hash, created_at) VALUES"
            " ('Ada', 'h1', '2026-01-01T00:00:00Z'), ('ada', 'h2', '2026-01-02T00:00:00Z')",
        )
        store = await open_store(self, db)
        self.assertEqual(
            [await store.get_password_hash("Ada"), await store.get_password_hash("ada")],
            ["h1", "h2"],
        )
        self.assertEqual([await store.username_taken(n) for n in ("ada", "Ada")], [True, True])
        self.assertFalse(await store.add_user("ADA", "h3"))

    async def test_sql_in_values_is_data(self):
        """
        If a name and hash are "x'); DROP TABLE users; --", then they are stored as that text
        and nothing else changes; "' OR '1'='1" finds nobody.
        """
        self.patch(storage, "utc_now", lambda: FROZEN)
        store = await open_store(self)
        evil = "x'); DROP TABLE users; --"
        self.assertTrue(await store.add_user(evil, evil))
        self.assertEqual(await store.get_password_hash(evil), evil)
        self.assertIsNone(await store.get_password_hash("' OR '1'='1"))
        self.assertEqual(await store.list_users(), [UserSummary(evil, FROZEN, 0)])

    async def test_set_password_hash(self):
        """If alice's hash "old" is set to "new", then her hash is "new"."""
        store = await open_store(self)
        await store.add_user("alice", "old")
        await store.set_password_hash("alice", "new")
        self.assertEqual(await store.get_password_hash("alice"), "new")

    async def test_list_users(self):
        """
        If bob registers, then alice, who stores 2 results, then the list is by name: alice
        with 2 results, bob with 0, each created at the UTC second of registering, written
        like 2026-04-01T12:00:00Z.
        """
        store = await open_store(self)
        before = clock_now()
        await store.add_user("bob", "h")
        await store.add_user("alice", "h")
        after = clock_now()
        await store.record_result(result("alice"))
        await store.record_result(result("alice", "python", "abandoned", 1, grade=None))
        users = await store.list_users()
        for user in users:
            assert_stored_time(self, user.created_at, before, after)
        self.assertEqual(
            users,
            [UserSummary("alice", users[0].created_at, 2),
             UserSummary("bob", users[1].created_at, 0)],
        )


class CatalogTests(unittest.TestCase):
    async def test_get_by_number_or_name(self):
        """
        If "2" or "PyThOn" is asked for, then both give the built-in python test, whose third
        question shows print(sorted([3, 1, 2])).
        """
        store = await open_store(self)
        by_number = await store.find_test("2")
        by_name = await store.find_test("PyThOn")
        self.assertEqual(by_number, BUILTIN_TESTS[1])
        self.assertEqual(by_name, BUILTIN_TESTS[1])
        self.assertEqual(by_number.name, "python")
        self.assertEqual(by_number.questions[2].text,
                         ("What does this print?", "    print(sorted([3, 1, 2]))"))

    async def test_unknown(self):
        """
        If "3", "0", "-1", a huge number, "chemistry", SQL or an Arabic-Indic digit is asked
        for, then no test is found.
        """
        store = await open_store(self)
        for wanted in ["3", "0", "-1", "99999999999999999999999", "chemistry", "math' OR '1'='1",
                       "\u0661"]:
            self.assertIsNone(await store.find_test(wanted), wanted)

    async def test_add_numbers_in_order(self):
        """If Quiz is added, then it is number 3 with 1 question, and "quiz" finds it."""
        store = await open_store(self)
        await store.add_test(QUIZ)
        self.assertEqual(await store.list_tests(), [*BUILTIN, TestSummary(3, "Quiz", 1)])
        self.assertEqual(await store.find_test("quiz"), QUIZ)

    async def test_name_taken_in_any_case(self):
        """If a test named MATH is added, then TestExists("MATH") and math keeps its 5 questions."""
        store = await open_store(self)
        with self.assertRaises(TestExists) as caught:
            await store.add_test(Test("MATH", QUIZ.questions))
        self.assertEqual(caught.exception.args, ("MATH",))
        self.assertEqual(await store.find_test("math"), BUILTIN_TESTS[0])

    async def test_replace_keeps_number_and_results(self):
        """
        If math is replaced by a 1-question test, then it is still number 1 and alice's result
        on it is kept.
        """
        store = await open_store(self)
        await store.add_user("alice", "h")
        await store.record_result(result("alice", "math"))
        await store.add_test(Test("math", QUIZ.questions), replace=True)
        self.assertEqual(
            await store.list_tests(), [TestSummary(1, "math", 1), TestSummary(2, "python", 5)]
        )
        self.assertEqual(await store.list_results(), [result("alice", "math")])

    async def test_sees_tests_another_connection_adds(self):
        """
        If another connection (the admin command) adds Quiz, then replaces it with 2
        questions, then the server's very next requests see number 3 and then 2 questions,
        though it keeps the tests in memory.
        """
        server = await open_store(self)
        path = server.path
        self.assertEqual(await server.list_tests(), BUILTIN)
        admin = Store(reactor, path)
        await admin.start()
        await admin.add_test(QUIZ)
        self.assertEqual(await server.list_tests(), [*BUILTIN, TestSummary(3, "Quiz", 1)])
        self.assertEqual(await server.find_test("3"), QUIZ)
        await admin.add_test(Test("quiz", QUIZ.questions * 2), replace=True)
        await admin.close()
        self.assertEqual(await server.find_test("QUIZ"), Test("Quiz", QUIZ.questions * 2))

    async def test_names_match_in_any_case(self):
        """If a test is named kelvin, then "KeLvIn" finds it."""
        store = await open_store(self)
        await store.add_test(Test("kelvin", QUIZ.questions))
        self.assertEqual(await store.find_test("KeLvIn"), Test("kelvin", QUIZ.questions))

    async def test_test_without_questions_is_listed_not_taken(self):
        """
        If a test Empty has no questions, then EXAMS lists it as 3 with 0 questions, and
        neither "3" nor "empty" finds it to take.
        """
        store = await open_store(self)
        await store.add_test(Test("Empty", ()))
        self.assertEqual(await store.list_tests(), [*BUILTIN, TestSummary(3, "Empty", 0)])
        self.assertIsNone(await store.find_test("3"))
        self.assertIsNone(await store.find_test("empty"))


class ResultTests(unittest.TestCase):
    async def test_every_answer_of_a_long_test(self):
        """
        If alice's attempt of a 5,000-question test is stored with all 5,000 answers (B each,
        stored as shown; 35,000 values, more than SQLite before 3.32 takes in one statement),
        then the store lists 5,000 answers, numbered 1 to 5,000, the first AnswerRow("alice", "Long", "2026-02-03T10:00:00Z", 1, 1, "B", "B", True,
        "2026-02-03T10:00:01Z").
        """
        store = await open_store(self)
        await store.add_user("alice", "h")
        await store.add_test(Test("Long", QUIZ.questions[:1] * 5000))
        answers = tuple(Answer(n, n, "B", "B", True, "2026-02-03T10:00:01Z")
                        for n in range(1, 5001))
        await store.record_result(
            Result("alice", "Long", "graded", 5000, 5000, 5000, 100.0, "2026-02-03T10:00:00Z",
                   "2026-02-03T10:09:00Z", "127.0.0.1:4000"), Order("", ""), answers)
        listed = await store.list_answers()
        self.assertEqual((len(listed), [a.number for a in listed], listed[0]),
                         (5000, list(range(1, 5001)),
                          AnswerRow("alice", "Long", "2026-02-03T10:00:00Z", 1, 1, "B", "B", True,
                                    "2026-02-03T10:00:01Z")))

    async def test_record_and_list(self):
        """If a graded and an abandoned result are stored, then both are listed, in order."""
        store = await open_store(self)
        await store.add_user("alice", "h")
        graded = result()
        abandoned = result(outcome="abandoned", grade=None, correct=1)._replace(answered=2)
        await store.record_result(graded)
        await store.record_result(abandoned)
        self.assertEqual(await store.list_results(), [graded, abandoned])

    async def test_grade_with_one_decimal(self):
        """
        If alice answers a 3-question test with 2 right, then her result is stored and listed
        with grade 66.7.
        """
        store = await open_store(self)
        await store.add_user("alice", "h")
        three = Test("Three", QUIZ.questions * 3)
        await store.add_test(three)
        attempt = Attempt(three, started="2026-02-03T10:00:00Z", username="ada", address="127.0.0.1:4242")
        for letter in "BBA":
            attempt.answer(letter, "2026-02-03T10:00:30Z")
        await store.record_result(
            Result("alice", "Three", "graded", attempt.correct, attempt.index, attempt.total,
                   attempt.tenths / 10, attempt.started, "2026-02-03T10:01:00Z", "[::1]:4000")
        )
        self.assertEqual(
            await store.list_results(),
            [Result("alice", "Three", "graded", 2, 3, 3, 66.7, "2026-02-03T10:00:00Z",
                    "2026-02-03T10:01:00Z", "[::1]:4000")],
        )

    async def test_unknown_user_is_an_error(self):
        """
        If a result names a user nobody registered, then it fails with LookupError "no user
        'nobody' or test 'math' for an attempt", and nothing is stored.
        """
        store = await open_store(self)
        with self.assertRaises(LookupError) as caught:
            await store.record_result(result("nobody"))
        self.assertEqual(str(caught.exception),
                         "no user 'nobody' or test 'math' for an attempt")
        self.assertEqual(await store.list_results(), [])

    async def test_results_asked_for_together_fail_alone(self):
        """
        If 4 results arrive together and the second names an unknown user, then that one
        fails alone with LookupError and the other 3 are stored, in order.
        """
        store = await open_store(self)
        await store.add_user("alice", "h")
        writes = [store.record_result(result()), store.record_result(result("nobody")),
                  store.record_result(result(test="python")), store.record_result(result())]
        outcomes = [await w.addCallbacks(lambda _: "stored", lambda f: f.trap(LookupError).__name__)
                    for w in writes]
        self.assertEqual(outcomes, ["stored", "LookupError", "stored", "stored"])
        self.assertEqual(await store.list_results(),
                         [result(), result(test="python"), result()])

    async def test_takes_asked_for_together_fail_alone(self):
        """
        If 4 TAKEs of a 1-attempt test arrive together (zoe, an unknown user, alice, then
        alice again from another connection), then the unknown user fails alone with
        LookupError, zoe and alice start attempts, and alice's second TAKE holds her open
        attempt (continued, question 1) rather than being refused; a later TAKE of zoe's,
        once hers ended, gets NoAttemptsLeft.
        """
        store = await open_store(self)
        for user in ("zoe", "alice"):
            await store.add_user(user, "h")
        await store.add_test(Test("Exam", QUIZ.questions, Rules(attempts=1)))
        fresh = Fresh(FROZEN, None, Order("", ""), 1, "127.0.0.1:4000")

        def take(user, holder):
            return store.take_attempt(user, "Exam", 1, fresh, holder, 1775044800.0, 1800)

        takes = [take("zoe", "n/1"), take("nobody", "n/2"), take("alice", "n/3"),
                 take("alice", "n/4")]
        outcomes = [await t.addErrback(lambda f: f.trap(LookupError).__name__) for t in takes]
        self.assertEqual(
            [o if isinstance(o, str) else (o.continued, o.answered, o.previous_holder)
             for o in outcomes],
            [(False, 0, None), "LookupError", (False, 0, None), (True, 0, "n/3")],
        )
        await store.end_attempt(outcomes[0].id, "n/1", Ending("abandoned", None, FROZEN))
        with self.assertRaises(NoAttemptsLeft):
            await take("zoe", "n/5")

    async def test_close_waits_for_writes_in_flight(self):
        """If 20 results are being written when close is asked, then all 20 are stored."""
        store = await open_store(self)
        await store.add_user("alice", "h")
        writes = [store.record_result(result()) for _ in range(20)]
        await store.close()
        self.assertEqual([self.successResultOf(w) for w in writes], [None] * 20)
        self.assertEqual(backend_of(self).execute(store.path, "SELECT count(*) FROM attempts"),
                         [(20,)])

    async def test_cancelled_call_still_waited_for_by_close(self):
        """
        If the caller of a write cancels it, then it gets CancelledError, yet the write
        happens (1 result) and close waits for it.
        """
        store = await open_store(self)
        await store.add_user("alice", "h")
        release = backend_of(self).hold_result_writes(self, store.path)
        write = store.record_result(result())
        write.cancel()
        self.assertIsInstance(self.failureResultOf(write).value, CancelledError)
        closing = ensureDeferred(store.close())
        self.assertFalse(closing.called)
        release()
        await closing
        self.assertEqual(backend_of(self).execute(store.path, "SELECT count(*) FROM attempts"),
                         [(1,)])


class ConnectionCountTests(unittest.TestCase):
    async def test_count_starts_with_the_database(self):
        """
        If the database is new, then its shared count is at 0 since the UTC second it was
        created, written like 2026-04-01T12:00:00Z.
        """
        before = clock_now()
        store = await open_store(self)
        after = clock_now()
        count = await store.connection_count()
        assert_stored_time(self, count.since, before, after)
        self.assertEqual(count, ConnectionCount(0, count.since))

    async def test_restart_count(self):
        """
        If a count at 5 since 2020-01-02T03:04:05Z is restarted, then it is at 0 since the
        UTC second of the restart, and the next connection is number 1.
        """
        store = await open_store(self)
        for port in range(5):
            await store.count_connection(f"127.0.0.1:{port}", 3)
        backend_of(self).execute(
            store.path, "UPDATE connection_count SET since = '2020-01-02T03:04:05Z'"
        )
        self.assertEqual(await store.connection_count(),
                         ConnectionCount(5, "2020-01-02T03:04:05Z"))
        before = clock_now()
        await store.restart_count()
        after = clock_now()
        count = await store.connection_count()
        assert_stored_time(self, count.since, before, after)
        self.assertEqual(count, ConnectionCount(0, count.since))
        self.assertEqual(await store.count_connection("10.0.0.1:1", 1), (1, ["10.0.0.1:1"]))


class PostgresStoreCreationTests(OnPostgres, StoreCreationTests):
    pass


class PostgresUserTests(OnPostgres, UserTests):
    pass


class PostgresCatalogTests(OnPostgres, CatalogTests):
    pass


class PostgresResultTests(OnPostgres, ResultTests):
    pass


class PostgresConnectionCountTests(OnPostgres, ConnectionCountTests):
    pass
