"""
The store: examtwist's data, every SQL statement of it run off the reactor thread.

One database holds users, tests, questions, attempts and answers, the students of the web lookup and, when
several nodes share it, their count of connections: a SQLite file, or a PostgreSQL database.
All calls go through an adbapi connection pool (one connection for SQLite, a few for
PostgreSQL; L{examtwist.storage.engines} says what differs), so each method of L{Store} is one
short transaction in a worker thread and returns a Deferred. Only parameterized SQL.

The queries are plain DB-API functions of the transaction, one module for each thing they are
about: C{accounts} (and the roster), C{catalog} (tests, questions, rules), C{attempts} (and
answers), C{students}, C{counts}; the schema is the .sql files C{migrations} runs. C{records}
has the values and exceptions callers see; C{running} runs transactions; C{batching} serves the
calls that queue up with one transaction.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred

from examtwist.storage import accounts, attempts, catalog, counts, migrations
# As _students: add_students() has a parameter of that name.
from examtwist.storage import students as _students
from examtwist.storage.attempts import Answer, Ending, Fresh, Order, Taken
from examtwist.storage.batching import Coalescing
from examtwist.storage.migrations import LATEST_VERSION, MIGRATIONS
from examtwist.storage.teacherstore import TeacherArea
from examtwist.storage.records import (
    AnswerRow,
    ConnectionCount,
    NoAttemptsLeft,
    Result,
    StoreClosed,
    StudentExists,
    TakenOver,
    TestExists,
    TestSummary,
    UserSummary,
    utc_now,
    utc_text,
)
from examtwist.storage.running import Transactions
from examtwist.students import Student
from examtwist.testbank import DEFAULT_RESUME_WINDOW, Rules, Test

__all__ = [
    "Store", "StoreClosed", "TestExists", "StudentExists", "NoAttemptsLeft", "TakenOver",
    "Result", "Answer", "AnswerRow", "Ending", "Fresh", "Order", "Taken", "TestSummary",
    "UserSummary", "ConnectionCount", "utc_now", "utc_text", "MIGRATIONS", "LATEST_VERSION",
]


class Store(Transactions, TeacherArea):
    """
    examtwist's data, in a SQLite file or a PostgreSQL database: every method is one named
    transaction run off the reactor (L{Transactions}).
    """

    def __init__(self, reactor, path: str, busy_timeout: float = 10.0) -> None:
        super().__init__(reactor, path, busy_timeout)
        self._bank_checks = Coalescing(self._run, catalog.fresh_bank, catalog.BankCache())
        self._result_writes = Coalescing(self._run, attempts.record_results)
        self._answer_writes = Coalescing(self._run, attempts.record_answers)
        self._takes = Coalescing(self._run, attempts.take_many)

    # Users

    def add_user(self, username: str, password_hash: str) -> Deferred[bool]:
        """Store a new account (C{insert_user} of the original); False if the name is taken."""
        return self._run(accounts.add_user, username, password_hash, utc_now())

    def username_taken(self, username: str) -> Deferred[bool]:
        """Whether an account has this name, ignoring case."""
        return self._run(accounts.username_taken, username)

    def get_password_hash(self, username: str) -> Deferred[str | None]:
        """The stored hash of an account (C{query_user} of the original), None if none."""
        return self._run(accounts.get_password_hash, username)

    def set_password_hash(self, username: str, password_hash: str) -> Deferred[None]:
        return self._run(accounts.set_password_hash, username, password_hash)

    def list_users(self) -> Deferred[list[UserSummary]]:
        return self._run(accounts.list_users)

    def add_to_roster(self, usernames: list[str]) -> Deferred[int]:
        """Fires with how many of the names were not on the roster already."""
        return self._run(accounts.add_to_roster, usernames, utc_now())

    def on_roster(self, username: str) -> Deferred[bool]:
        return self._run(accounts.on_roster, username)

    def list_roster(self) -> Deferred[list[tuple[str, str]]]:
        return self._run(accounts.list_roster)

    # Tests

    def list_tests(self, now: float | None = None) -> Deferred[list[TestSummary]]:
        """Every test; with C{now}, those whose window (if any) is open then."""
        return self._bank_checks(None).addCallback(
            lambda bank: bank.summaries if now is None else bank.listed(now)
        )

    def find_test(self, wanted: str) -> Deferred[Test | None]:
        """The test EXAMS lists under this number, or with this name in any case."""
        if not wanted.isascii():
            # Only the database knows how its lower() folds letters beyond ASCII.
            return self._run(catalog.find_test, wanted)
        return self._bank_checks(None).addCallback(lambda bank: bank.find(wanted))

    def add_test(self, test: Test, replace: bool = False) -> Deferred[None]:
        """
        Store a test. With C{replace}, a test of that name gets the new questions and keeps
        its number and results.

        @raise TestExists: (in the Deferred) when the name is taken and C{replace} is false.
        """
        return self._run(catalog.add_test, test, replace, utc_now())

    def set_rules(self, name: str, rules: Rules) -> Deferred[bool]:
        """Give a test (named in any case) these rules; False if there is none."""
        return self._run(catalog.set_rules, name, rules)

    # Attempts

    def record_result(self, result: Result, order: Order = Order("", ""),
                      answers: tuple[Answer, ...] = ()) -> Deferred[None]:
        """Store an attempt that has ended, with its answers; fires once it is committed."""
        return self._result_writes((result, order, answers))

    def take_attempt(self, username: str, test: str, allowed: int | None, fresh: Fresh,
                     holder: str, now: float, resume_window: float) -> Deferred[Taken]:
        """
        The user's open attempt of the test, now held by C{holder}, or a new one.
        @raise NoAttemptsLeft: (in the Deferred)
        """
        return self._takes((username, test, allowed, fresh, holder, now, resume_window))

    def record_answer(self, attempt_id: int, holder: str, answer: Answer,
                      ending: Ending | None = None) -> Deferred[None]:
        """An answer of a held attempt (and its end, with the last). @raise TakenOver:"""
        return self._answer_writes((attempt_id, holder, answer, ending))

    def end_attempt(self, attempt_id: int, holder: str, ending: Ending) -> Deferred[None]:
        """@raise TakenOver: (in the Deferred) the holder no longer holds it."""
        return self._run(attempts.end, attempt_id, holder, ending)

    def suspend_attempt(self, attempt_id: int, holder: str, now: str) -> Deferred[bool]:
        return self._run(attempts.suspend, attempt_id, holder, now)

    def heartbeat(self, node: str, now: float, dead_after: float) -> Deferred[None]:
        """This node is alive; it counts as gone after C{dead_after} unless it beats again."""
        return self._run(attempts.heartbeat, node, now, dead_after)

    def count_attempts(self, username: str, test: str) -> Deferred[int]:
        return self._run(attempts.count_attempts, username, test)

    def list_results(self, user: str | None = None, test: str | None = None,
                     now: float | None = None,
                     resume_window: float = DEFAULT_RESUME_WINDOW) -> Deferred[list[Result]]:
        """The attempts that have ended, in the order they ended; their time up comes first."""
        now = self._reactor.seconds() if now is None else now
        return self._run(attempts.list_results, now, resume_window, user, test)

    def count_open_attempts(self, test: str) -> Deferred[int]:
        """Attempts of the test under way or suspended (see L{list_results} for the ended)."""
        return self._run(attempts.count_open, test)

    def list_answers(self, user: str | None = None,
                     test: str | None = None) -> Deferred[list[AnswerRow]]:
        return self._run(attempts.list_answers, user, test)

    # Students of the web lookup

    def add_student(self, student: Student) -> Deferred[None]:
        """
        @raise StudentExists: (in the Deferred) when a student has that ID already.
        """
        return self._run(_students.insert_students, [student])

    def add_students(self, students: list[Student], replace: bool = False) -> Deferred[None]:
        """
        Store all of them, or none: one of their IDs stored already fails the whole call. With
        C{replace}, they take the place of every stored student.

        @raise StudentExists: (in the Deferred) naming the first student whose ID is taken.
        """
        return self._run(_students.add_students, students, replace)

    def get_student(self, student_id: int) -> Deferred[Student | None]:
        """The student with this ID, None if none (an ID too large to store is nobody's)."""
        return self._run(_students.get_student, student_id)

    def list_students(self) -> Deferred[list[Student]]:
        return self._run(_students.list_students)

    def clear_students(self) -> Deferred[int]:
        """Remove every student; fires with how many there were."""
        return self._run(_students.clear_students)

    def schema_version(self) -> Deferred[int]:
        """The database's schema version: a trivial read through the pool's thread."""
        return self._run(migrations.schema_version)

    # The count of connections, when nodes share the database (see examtwist.counting)

    def count_connection(self, address: str, lucky: int) -> Deferred[tuple[int, list[str] | None]]:
        """
        Count one connection of any node: its number and, for the lucky number only, the
        addresses of connections 1 to C{lucky} in counting order.
        """
        return self._run(counts.count_connection, address, lucky)

    def connection_count(self) -> Deferred[ConnectionCount]:
        return self._run(counts.connection_count)

    def restart_count(self) -> Deferred[None]:
        """Start counting again from 1; the next connection of any node is the first."""
        return self._run(counts.restart_count, utc_now())
