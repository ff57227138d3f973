"""
The exam desk over a real store and a real password hasher (at the cheap cost), called
directly: no protocol, no sockets. What a student would notice through any front end: accounts,
passwords, the lucky greeting, attempts graded, stored, abandoned. Every suite runs on SQLite
and again on PostgreSQL (the Postgres* classes at the end).
"""

from __future__ import annotations

import threading

from twisted.internet import reactor
from twisted.internet.defer import DeferredList
from twisted.trial import unittest

from examtwist.counting import Counted, counter_for
from examtwist.desk import ExamDesk, Grade, NoSuchTest, UsernameTaken, WeakPassword
from examtwist.strength import PasswordRules
from examtwist.passwords import HashCost, PasswordHasher
from examtwist.storage import Result, Store, StoreClosed, TestSummary
from examtwist.students import Student
from examtwist.testbank import BUILTIN_TESTS, Question, Test

from tests.support import CHEAP_HASH, OnPostgres, backend_of, open_store

ADDRESS = "127.0.0.1:40001"
MATH = BUILTIN_TESTS[0].questions
PYTHON = BUILTIN_TESTS[1].questions
# A test of three questions; its right answers are B, C and A.
TRIO = Test(
    "trio",
    (
        Question(("What is 2 + 2?",), ("3", "4", "5", "22"), "B"),
        Question(("Which planet is the largest?",), ("Mars", "Venus", "Jupiter", "Earth"), "C"),
        Question(("What colour is a clear sky by day?",), ("Blue", "Green", "Red", "Black"), "A"),
    ),
)
TIMESTAMP = r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z"


class RacingHasher(PasswordHasher):
    """
    Finishes no hash until two are under way: two registrations of one name have both found
    it free, and meet at the insert.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.both = threading.Barrier(2, timeout=10)

    def _hash(self, password: str) -> str:
        self.both.wait()
        return super()._hash(password)


class DeskTestCase(unittest.TestCase):
    """A started desk on a new database of the test case's backend."""

    lucky = 7

    async def setUp(self) -> None:
        self.backend = backend_of(self)
        self.db = await self.backend.new_database(self)
        self.desk = await self.start_desk()

    async def start_desk(
        self, cost: HashCost = CHEAP_HASH, hasher_class=PasswordHasher, rules=None
    ) -> ExamDesk:
        """Another desk on the same database, as a server started again would be."""
        store = Store(reactor, self.db)
        desk = ExamDesk(store, hasher_class(reactor, cost), counter_for(store, self.lucky),
                        rules=rules)
        desk.startService()
        self.addCleanup(lambda: desk.running and desk.stopService())
        await desk.ready
        return desk

    async def student(self, username: str = "alice", password: str = "pw") -> None:
        self.assertIsNone(await self.desk.register(username, password, ADDRESS))

    async def math_all_but_last(self):
        """alice's attempt of math, the first four answered right; the fifth is open."""
        await self.student()
        attempt = await self.desk.start("alice", "math", ADDRESS)
        self.assertEqual(
            [self.desk.answer(attempt, letter) for letter in "BDCA"],
            [(MATH[1], 2, 5), (MATH[2], 3, 5), (MATH[3], 4, 5), (MATH[4], 5, 5)],
        )
        return attempt

    async def stored_results(self) -> list[Result]:
        """The stored results, their two times checked for form and then left out."""
        results = await self.desk.store.list_results()
        for result in results:
            self.assertRegex(result.started_at, TIMESTAMP)
            self.assertRegex(result.finished_at, TIMESTAMP)
        return [result._replace(started_at="-", finished_at="-") for result in results]


class AccountTests(DeskTestCase):
    async def test_username_with_dot_underscore_and_dash(self) -> None:
        """
        If ada.l_b-c registers with "correct horse", then a login with "Correct horse" is
        refused (False) and one with "correct horse" is let in (True).
        """
        self.assertIsNone(await self.desk.register("ada.l_b-c", "correct horse", ADDRESS))
        self.assertIs(await self.desk.log_in("ada.l_b-c", "Correct horse", ADDRESS), False)
        self.assertIs(await self.desk.log_in("ada.l_b-c", "correct horse", ADDRESS), True)
        [user] = await self.desk.store.list_users()
        self.assertEqual((user.username, user.results), ("ada.l_b-c", 0))
        self.assertTrue((await self.desk.store.get_password_hash("ada.l_b-c")).startswith(
            "$argon2id$v=19$m=64,t=1,p=1$"))

    async def test_neighbouring_accounts_never_log_each_other_in(self) -> None:
        """
        If ada has the password "ada-pw" and adb "adb-pw", then each one's password logs in
        only its own account, and a name with no account ("adc") never logs in.
        """
        await self.student("ada", "ada-pw")
        await self.student("adb", "adb-pw")
        attempts = [("ada", "adb-pw"), ("adb", "ada-pw"), ("ada", "ada-pw"), ("adb", "adb-pw"),
                    ("adc", "ada-pw"), ("adc", "adb-pw")]
        self.assertEqual(
            [await self.desk.log_in(name, password, ADDRESS) for name, password in attempts],
            [False, False, True, True, False, False],
        )

    async def test_name_taken(self) -> None:
        """
        If alice registers with "one" and then again with "two", then the second fails with
        UsernameTaken and only "one" logs her in.
        """
        await self.student("alice", "one")
        await self.assertFailure(self.desk.register("alice", "two", ADDRESS), UsernameTaken)
        self.assertIs(await self.desk.log_in("alice", "two", ADDRESS), False)
        self.assertIs(await self.desk.log_in("alice", "one", ADDRESS), True)

    async def test_new_passwords_are_judged(self) -> None:
        """
        If the server's rules are the defaults (8 characters, zxcvbn score 2), then "short" and
        "password1" are refused with WeakPassword saying why, before the name is looked at
        (alice, who exists, still gets WeakPassword, not UsernameTaken), and "lovelace 1815"
        makes the account.
        """
        await self.student("alice", "pw")
        desk = await self.start_desk(rules=PasswordRules())
        refusals = [("bob", "short"), ("bob", "password1"), ("alice", "password1")]
        reasons = [str(await self.assertFailure(desk.register(name, pw, ADDRESS), WeakPassword))
                   for name, pw in refusals]
        self.assertEqual(reasons, [
            "The password must be at least 8 characters",
            "The password is too easy to guess: this is a very common password; add another"
            " word or two",
            "The password is too easy to guess: this is a very common password; add another"
            " word or two",
        ])
        self.assertIsNone(await desk.register("ada", "lovelace 1815", ADDRESS))
        self.assertIs(await desk.log_in("ada", "lovelace 1815", ADDRESS), True)

    async def test_name_taken_ignoring_case(self) -> None:
        """
        If ada registers, then Ada and ADA fail with UsernameTaken (protocol 1.1), and LOGIN
        still matches exactly: Ada with ada's password is refused (False).
        """
        await self.student("ada", "lovelace 1815")
        for name in ("Ada", "ADA"):
            await self.assertFailure(self.desk.register(name, "other pw", ADDRESS), UsernameTaken)
        self.assertIs(await self.desk.log_in("Ada", "lovelace 1815", ADDRESS), False)
        self.assertIs(await self.desk.log_in("ada", "lovelace 1815", ADDRESS), True)

    async def test_registration_race(self) -> None:
        """
        If "twin" is registered twice at once (both find the name free, then meet at the
        insert), then one registration succeeds (None), the other fails with UsernameTaken,
        and only the winner's password logs in.
        """
        self.desk = await self.start_desk(hasher_class=RacingHasher)
        outcomes = await DeferredList(
            [self.desk.register("twin", "first", ADDRESS),
             self.desk.register("twin", "second", ADDRESS)],
            consumeErrors=True,
        )
        outcomes = [value if ok else value.trap(UsernameTaken) for ok, value in outcomes]
        self.assertIn(outcomes, ([None, UsernameTaken], [UsernameTaken, None]))
        winner, loser = ("first", "second") if outcomes[0] is None else ("second", "first")
        self.assertIs(await self.desk.log_in("twin", loser, ADDRESS), False)
        self.assertIs(await self.desk.log_in("twin", winner, ADDRESS), True)
        self.assertEqual([u.username for u in await self.desk.store.list_users()], ["twin"])

    async def test_sql_as_a_password_is_just_a_password(self) -> None:
        """
        If alice's password is "'); DROP TABLE users; --", then it logs her in, "pw" does not,
        and the users table still holds her, alone.
        """
        evil = "'); DROP TABLE users; --"
        await self.student("alice", evil)
        self.assertIs(await self.desk.log_in("alice", evil, ADDRESS), True)
        self.assertIs(await self.desk.log_in("alice", "pw", ADDRESS), False)
        self.assertEqual([(u.username, u.results) for u in await self.desk.store.list_users()],
                         [("alice", 0)])

    async def test_rehash_with_new_settings(self) -> None:
        """
        If alice registered under a server hashing with m=64,t=1 and logs in to one started with
        m=96,t=1, then she is let in and her stored hash is made again with m=96,t=1.
        """
        await self.student("alice", "pw")
        before = await self.desk.store.get_password_hash("alice")
        self.assertIn("$m=64,t=1,", before)
        restarted = await self.start_desk(cost=HashCost(memory_kib=96, rounds=1))
        self.assertIs(await restarted.log_in("alice", "wrong", ADDRESS), False)
        self.assertEqual(await restarted.store.get_password_hash("alice"), before)
        self.assertIs(await restarted.log_in("alice", "pw", ADDRESS), True)
        self.assertIn("$m=96,t=1,", await restarted.store.get_password_hash("alice"))
        self.assertIs(await restarted.log_in("alice", "pw", ADDRESS), True)


class GreetingTests(DeskTestCase):
    lucky = 3

    async def test_lucky_counter(self) -> None:
        """
        If the third connection is the lucky one, then greeting four connections numbers them 1
        to 4 and only the third gets the first three addresses, in order.
        """
        addresses = ["10.0.0.1:1001", "10.0.0.2:1002", "10.0.0.3:1003", "10.0.0.4:1004"]
        self.assertEqual(
            [await self.desk.greet(address) for address in addresses],
            [Counted(1, None), Counted(2, None),
             Counted(3, ["10.0.0.1:1001", "10.0.0.2:1002", "10.0.0.3:1003"]), Counted(4, None)],
        )
        self.assertEqual(self.desk.lucky, 3)


class AttemptTests(DeskTestCase):
    async def test_list_tests(self) -> None:
        """If nothing was added, then the tests are 1 math (5 questions) and 2 python (5)."""
        self.assertEqual(await self.desk.list_tests(),
                         [TestSummary(1, "math", 5), TestSummary(2, "python", 5)])

    async def test_start_by_number_or_name_in_any_case(self) -> None:
        """
        If alice asks for "2" or "PYTHON", then she starts python at question 1 of 5; a number
        or name no test has, or SQL, fails with NoSuchTest.
        """
        await self.student()
        for wanted in ["2", "PYTHON", "python"]:
            attempt = await self.desk.start("alice", wanted, ADDRESS)
            self.assertEqual((attempt.test, attempt.username, attempt.address),
                             (BUILTIN_TESTS[1], "alice", ADDRESS))
            self.assertEqual(attempt.open_question(), (PYTHON[0], 1, 5))
        for wanted in ["3", "0", "chemistry", "math' OR '1'='1", "1; DROP TABLE tests"]:
            await self.assertFailure(self.desk.start("alice", wanted, ADDRESS), NoSuchTest)
        self.assertEqual(len(await self.desk.list_tests()), 2)

    async def test_two_of_three_right(self) -> None:
        """
        If alice answers a 3-question test B, A, A (2 of 3 right), then her grade is
        Grade(667, 2, 3) and the stored result is graded 66.7, 3 answered of 3.
        """
        await self.desk.store.add_test(TRIO)
        await self.student()
        attempt = await self.desk.start("alice", "3", ADDRESS)
        self.assertEqual(attempt.open_question(), (TRIO.questions[0], 1, 3))
        self.assertEqual(self.desk.answer(attempt, "B"), (TRIO.questions[1], 2, 3))
        self.assertEqual(self.desk.answer(attempt, "A"), (TRIO.questions[2], 3, 3))
        self.assertEqual(await self.desk.answer(attempt, "A"), Grade(667, 2, 3))
        self.assertEqual(
            await self.stored_results(),
            [Result(username="alice", test="trio", outcome="graded", correct=2, answered=3,
                    total=3, grade=66.7, started_at="-", finished_at="-", client=ADDRESS)],
        )

    async def test_abandoned_with_answered_count(self) -> None:
        """
        If alice leaves math after one right answer, python after one wrong and one right
        answer, and python again at once, then three abandoned results are stored, without a
        grade: 1 answered (1 correct), 2 answered (1 correct), 0 answered.
        """
        await self.student()
        attempt = await self.desk.start("alice", "math", ADDRESS)
        self.assertEqual(self.desk.answer(attempt, "B"), (MATH[1], 2, 5))
        self.assertIsNone(await self.desk.abandon(attempt))
        attempt = await self.desk.start("alice", "python", ADDRESS)
        self.assertEqual(self.desk.answer(attempt, "A"), (PYTHON[1], 2, 5))
        self.assertEqual(self.desk.answer(attempt, "B"), (PYTHON[2], 3, 5))
        self.assertIsNone(await self.desk.abandon(attempt))
        attempt = await self.desk.start("alice", "python", ADDRESS)
        self.assertIsNone(await self.desk.abandon(attempt))
        abandoned = dict(username="alice", outcome="abandoned", total=5, grade=None,
                         started_at="-", finished_at="-", client=ADDRESS)
        self.assertEqual(
            await self.stored_results(),
            [Result(test="math", correct=1, answered=1, **abandoned),
             Result(test="python", correct=1, answered=2, **abandoned),
             Result(test="python", correct=0, answered=0, **abandoned)],
        )

    async def test_abandon_not_stored_is_logged(self) -> None:
        """
        If an abandoned attempt cannot be stored (the store is closed), then abandon still
        fires with None and the failure is logged once.
        """
        await self.student()
        attempt = await self.desk.start("alice", "math", ADDRESS)
        await self.desk.store.close()
        self.assertIsNone(await self.desk.abandon(attempt))
        self.assertEqual(len(self.flushLoggedErrors(StoreClosed)), 1)


class GradeStorageTests(DeskTestCase):
    """
    Another connection to the database holds a lock, so the grade's write waits in the store's
    thread exactly as it would behind a slow disk.
    """

    async def test_grade_reported_only_once_stored(self) -> None:
        """
        If the grade's write waits on a lock, then the grade (Grade(1000, 5, 5)) is not
        reported before the lock is let go, and when it is, the database already holds the
        result: graded, 100.0.
        """
        attempt = await self.math_all_but_last()
        release = self.backend.hold_result_writes(self, self.db)
        grading = self.desk.answer(attempt, "C")
        in_database_when_reported = []

        def reported(grade):
            in_database_when_reported.extend(
                self.backend.execute(self.db, "SELECT outcome, grade FROM attempts"))
            return grade

        grading.addCallback(reported)
        self.assertFalse(grading.called)
        release()
        self.assertEqual(await grading, Grade(1000, 5, 5))
        self.assertEqual(in_database_when_reported, [("graded", 100.0)])

    async def test_grade_not_stored_reopens_the_last_question(self) -> None:
        """
        If the grade cannot be stored (the store is closed), then answering fails with
        StoreClosed, question 5 of 5 is open again with 4 correct, and the same answer given
        again once the store is back is graded 100.0 and stored once.
        """
        attempt = await self.math_all_but_last()
        await self.desk.store.close()
        await self.assertFailure(self.desk.answer(attempt, "C"), StoreClosed)
        self.assertEqual(attempt.open_question(), (MATH[4], 5, 5))
        self.assertEqual((attempt.correct, attempt.finishing), (4, False))
        self.desk.store = await open_store(self, self.db)
        self.assertEqual(await self.desk.answer(attempt, "C"), Grade(1000, 5, 5))
        self.assertEqual(
            await self.stored_results(),
            [Result(username="alice", test="math", outcome="graded", correct=5, answered=5,
                    total=5, grade=100.0, started_at="-", finished_at="-", client=ADDRESS)],
        )

    async def test_dropped_while_grade_is_stored(self) -> None:
        """
        If the connection drops (abandon) while the grade is being written, then the graded
        result, 100.0, is the attempt's only result: it is not also recorded abandoned.
        """
        attempt = await self.math_all_but_last()
        release = self.backend.hold_result_writes(self, self.db)
        grading = self.desk.answer(attempt, "C")
        abandoning = self.desk.abandon(attempt)
        release()
        self.assertEqual(await grading, Grade(1000, 5, 5))
        self.assertIsNone(await abandoning)
        await self.desk.store.close()  # waits for any write still in flight
        self.desk.store = await open_store(self, self.db)
        self.assertEqual(
            await self.stored_results(),
            [Result(username="alice", test="math", outcome="graded", correct=5, answered=5,
                    total=5, grade=100.0, started_at="-", finished_at="-", client=ADDRESS)],
        )


class LookupTests(DeskTestCase):
    async def test_find_student(self) -> None:
        """If ID 1711 is looked up, then it is Karam, aged 23; ID 9 is nobody (None)."""
        self.assertEqual(await self.desk.find_student(1711), Student("Karam", 1711, 23))
        self.assertIsNone(await self.desk.find_student(9))

    async def test_check(self) -> None:
        """If the database answers, then the health check fires with its schema version, 9."""
        self.assertEqual(await self.desk.check(), 9)


class PostgresAccountTests(OnPostgres, AccountTests):
    pass


class PostgresGreetingTests(OnPostgres, GreetingTests):
    pass


class PostgresAttemptTests(OnPostgres, AttemptTests):
    pass


class PostgresGradeStorageTests(OnPostgres, GradeStorageTests):
    pass


class PostgresLookupTests(OnPostgres, LookupTests):
    pass
