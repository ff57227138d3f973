"""
The store on a real database: every suite runs on SQLite files in temp dirs, and again on a
fresh PostgreSQL database per test (the Postgres* classes at the end).
"""

import os
import stat

from twisted.trial import unittest

from examtwist.testbank import Question, Test
from twisted.internet import reactor
from twisted.internet.defer import CancelledError, ensureDeferred

from examtwist.storage import TestExists, Result, Store, StoreClosed

from tests.support import OnPostgres, backend_of, deferred_test, open_store, temp_db


QUIZ = Test("Quiz", (Question(("Pick B",), ("a", "b", "c", "d"), "B"),))


def result(username="alice", test="math", status="graded", correct=4, total=5, grade=80.0):
    return Result(username, test, status, correct, total, total, grade,
                  "2026-01-01T10:00:00Z", "2026-01-01T10:05:00Z", "127.0.0.1:5000")


class SQLiteFileTests(unittest.TestCase):
    @deferred_test
    async def test_file_readable_by_owner_only(self):
        """It holds password hashes: no one but its owner may read it, nor its WAL files."""
        path = temp_db(self)
        store = await open_store(self, path)
        await store.add_user("alice", "hash")
        for name in (path, path + "-wal", path + "-shm"):
            self.assertEqual(stat.S_IMODE(os.stat(name).st_mode), 0o600, name)

    @deferred_test
    async def test_names_beyond_ascii_fold_as_sqlite_lower_does(self):
        """SQLite's lower() folds A-Z only: the KELVIN SIGN is not a "k" to it, nor to TAKE."""
        store = await open_store(self)
        await store.add_test(Test("kelvin", QUIZ.questions))
        await store.add_test(Test("\u00c9mile", QUIZ.questions))
        self.assertIsNone(await store.find_test("\u212aelvin"))
        self.assertEqual((await store.find_test("\u00c9mile")).name, "\u00c9mile")
        self.assertIsNone(await store.find_test("\u00e9mile"))


class StoreCreationTests(unittest.TestCase):
    @deferred_test
    async def test_new_database_has_the_builtin_tests(self):
        store = await open_store(self)
        exams = await store.list_tests()
        self.assertEqual([(e.number, e.name, e.question_count) for e in exams], [(1, "math", 5), (2, "python", 5)])

    @deferred_test
    async def test_reopening_keeps_data_and_seeds_once(self):
        store = await open_store(self)
        await store.add_user("alice", "hash")
        await store.close()
        again = await open_store(self, store.path)
        self.assertEqual(await again.get_password_hash("alice"), "hash")
        self.assertEqual(len(await again.list_tests()), 2)

    @deferred_test
    async def test_refuses_a_newer_schema(self):
        """A database written by a newer examtwist is not touched."""
        path = (await open_store(self)).path
        backend_of(self).execute(path, "UPDATE schema_version SET version = 99")
        store = Store(reactor, path)
        self.addCleanup(store.close)
        with self.assertRaises(RuntimeError) as e:
            await store.start()
        self.assertIn("99", str(e.exception))

    @deferred_test
    async def test_closed_store_refuses_work(self):
        store = await open_store(self)
        await store.close()
        with self.assertRaises(StoreClosed):
            await store.list_tests()


class UserTests(unittest.TestCase):
    @deferred_test
    async def test_add_and_get(self):
        store = await open_store(self)
        self.assertTrue(await store.add_user("alice", "h1"))
        self.assertEqual(await store.get_password_hash("alice"), "h1")
        self.assertIsNone(await store.get_password_hash("bob"))

    @deferred_test
    async def test_name_taken(self):
        """A second account of one name is refused by the database, the first kept."""
        store = await open_store(self)
        await store.add_user("alice", "h1")
        self.assertFalse(await store.add_user("alice", "h2"))
        self.assertEqual(await store.get_password_hash("alice"), "h1")

    @deferred_test
    async def test_names_are_case_sensitive(self):
        store = await open_store(self)
        self.assertTrue(await store.add_user("alice", "h1"))
        self.assertTrue(await store.add_user("Alice", "h2"))
        self.assertEqual(await store.get_password_hash("Alice"), "h2")

    @deferred_test
    async def test_sql_in_values_is_data(self):
        """Quotes and SQL in values are stored as text and change nothing else."""
        store = await open_store(self)
        evil = "x'); DROP TABLE users; --"
        self.assertTrue(await store.add_user(evil, evil))
        self.assertEqual(await store.get_password_hash(evil), evil)
        self.assertIsNone(await store.get_password_hash("' OR '1'='1"))
        self.assertEqual([u.username for u in await store.list_users()], [evil])

    @deferred_test
    async def test_set_password_hash(self):
        store = await open_store(self)
        await store.add_user("alice", "old")
        await store.set_password_hash("alice", "new")
        self.assertEqual(await store.get_password_hash("alice"), "new")

    @deferred_test
    async def test_list_users_counts_results(self):
        store = await open_store(self)
        await store.add_user("bob", "h")
        await store.add_user("alice", "h")
        await store.record_result(result("alice"))
        users = await store.list_users()
        self.assertEqual([(u.username, u.results) for u in users], [("alice", 1), ("bob", 0)])


class ExamStoreTests(unittest.TestCase):
    @deferred_test
    async def test_get_by_number_or_name(self):
        store = await open_store(self)
        by_number = await store.find_test("2")
        by_name = await store.find_test("PyThOn")
        self.assertEqual(by_number, by_name)
        self.assertEqual(by_number.name, "python")
        self.assertEqual(by_number.questions[2].text, ("What does this print?", "    print(sorted([3, 1, 2]))"))

    @deferred_test
    async def test_unknown(self):
        store = await open_store(self)
        for wanted in ["3", "0", "-1", "99999999999999999999999", "chemistry", "math' OR '1'='1", "١"]:
            self.assertIsNone(await store.find_test(wanted), wanted)

    @deferred_test
    async def test_add_numbers_in_order(self):
        store = await open_store(self)
        await store.add_test(QUIZ)
        self.assertEqual((await store.list_tests())[-1], (3, "Quiz", 1))
        self.assertEqual(await store.find_test("quiz"), QUIZ)

    @deferred_test
    async def test_name_taken_in_any_case(self):
        store = await open_store(self)
        with self.assertRaises(TestExists):
            await store.add_test(Test("MATH", QUIZ.questions))
        self.assertEqual(len((await store.find_test("math")).questions), 5)

    @deferred_test
    async def test_replace_keeps_number_and_results(self):
        store = await open_store(self)
        await store.add_user("alice", "h")
        await store.record_result(result("alice", "math"))
        await store.add_test(Test("math", QUIZ.questions), replace=True)
        self.assertEqual((await store.list_tests())[0], (1, "math", 1))
        self.assertEqual(len(await store.list_results()), 1)

    @deferred_test
    async def test_sees_tests_another_connection_adds(self):
        """
        The tests are kept in memory between requests, yet a test added or changed through
        another connection (the admin command) is seen by the very next request.
        """
        server = await open_store(self)
        path = server.path
        self.assertEqual(len(await server.list_tests()), 2)
        admin = Store(reactor, path)
        await admin.start()
        await admin.add_test(QUIZ)
        self.assertEqual((await server.list_tests())[-1], (3, "Quiz", 1))
        self.assertEqual(await server.find_test("3"), QUIZ)
        await admin.add_test(Test("quiz", QUIZ.questions * 2), replace=True)
        await admin.close()
        self.assertEqual(len((await server.find_test("QUIZ")).questions), 2)

    @deferred_test
    async def test_names_match_in_any_case(self):
        store = await open_store(self)
        await store.add_test(Test("kelvin", QUIZ.questions))
        self.assertEqual((await store.find_test("KeLvIn")).name, "kelvin")

    @deferred_test
    async def test_test_without_questions_is_listed_not_taken(self):
        store = await open_store(self)
        await store.add_test(Test("Empty", ()))
        self.assertEqual((await store.list_tests())[-1], (3, "Empty", 0))
        self.assertIsNone(await store.find_test("3"))
        self.assertIsNone(await store.find_test("empty"))


class ResultTests(unittest.TestCase):
    @deferred_test
    async def test_record_and_list(self):
        store = await open_store(self)
        await store.add_user("alice", "h")
        graded = result()
        abandoned = result(status="abandoned", grade=None, correct=1)._replace(answered=2)
        await store.record_result(graded)
        await store.record_result(abandoned)
        self.assertEqual(await store.list_results(), [graded, abandoned])

    @deferred_test
    async def test_unknown_user_is_an_error(self):
        store = await open_store(self)
        with self.assertRaises(LookupError):
            await store.record_result(result("nobody"))
        self.assertEqual(await store.list_results(), [])

    @deferred_test
    async def test_results_asked_for_together_fail_alone(self):
        """
        Results that arrive while a write is under way are written together; one that cannot
        be stored fails by itself and the others are stored.
        """
        store = await open_store(self)
        await store.add_user("alice", "h")
        writes = [store.record_result(result()), store.record_result(result("nobody")),
                  store.record_result(result(test="python")), store.record_result(result())]
        outcomes = [await w.addCallbacks(lambda _: "stored", lambda f: f.trap(LookupError).__name__)
                    for w in writes]
        self.assertEqual(outcomes, ["stored", "LookupError", "stored", "stored"])
        stored = await store.list_results()
        self.assertEqual([(r.username, r.test) for r in stored],
                         [("alice", "math"), ("alice", "python"), ("alice", "math")])

    @deferred_test
    async def test_close_waits_for_writes_in_flight(self):
        """Writes asked for before close are stored, not cut off."""
        store = await open_store(self)
        await store.add_user("alice", "h")
        writes = [store.record_result(result()) for _ in range(20)]
        await store.close()
        self.assertTrue(all(w.called for w in writes))
        self.assertEqual(backend_of(self).execute(store.path, "SELECT count(*) FROM results"), [(20,)])

    @deferred_test
    async def test_cancelled_call_still_waited_for_by_close(self):
        """A caller may stop waiting; the write still happens and close waits for it."""
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
        self.assertEqual(backend_of(self).execute(store.path, "SELECT count(*) FROM results"), [(1,)])


class PostgresStoreCreationTests(OnPostgres, StoreCreationTests):
    pass


class PostgresUserTests(OnPostgres, UserTests):
    pass


class PostgresExamStoreTests(OnPostgres, ExamStoreTests):
    pass


class PostgresResultTests(OnPostgres, ResultTests):
    pass
