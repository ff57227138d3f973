"""
The store: examtwist's data, every SQL statement of it run off the reactor thread.

One database holds users, tests, questions, results, the students of the web lookup and, when
several nodes share it, their count of connections: a SQLite file, or a PostgreSQL database.
All calls go through an adbapi connection pool (one connection for SQLite, a few for
PostgreSQL; L{examtwist.storage.engines} says what differs), so each method of L{Store} is one
short transaction in a worker thread and returns a Deferred. Only parameterized SQL.

The queries are plain DB-API functions of the transaction, one module for each thing they are
about: C{accounts}, C{catalog} (tests and questions), C{results}, C{students}, C{counts}; the
schema is the .sql files C{migrations} runs. C{records} has the values and exceptions callers
see; C{batching} serves the calls that queue up with one transaction.
"""

from __future__ import annotations

from twisted.enterprise import adbapi
from twisted.internet.defer import Deferred, DeferredList, fail

from examtwist.storage import accounts, catalog, counts, migrations, results
# As _students: add_students() has a parameter of that name.
from examtwist.storage import students as _students
from examtwist.storage.batching import Coalescing
from examtwist.storage.engines import engine_for
from examtwist.storage.migrations import LATEST_VERSION, MIGRATIONS
from examtwist.storage.teacherstore import TeacherArea
from examtwist.storage.records import (
    ConnectionCount,
    Result,
    StoreClosed,
    StudentExists,
    TestExists,
    TestSummary,
    UserSummary,
    utc_now,
)
from examtwist.students import Student
from examtwist.testbank import Test

__all__ = [
    "Store", "StoreClosed", "TestExists", "StudentExists", "Result", "TestSummary",
    "UserSummary", "ConnectionCount", "utc_now", "MIGRATIONS", "LATEST_VERSION",
]


class Store(TeacherArea):
    """
    examtwist's data, in a SQLite file or a PostgreSQL database.

    L{start} opens it (creating and migrating the schema); L{close} waits for the
    interactions in flight and closes it.

    @ivar path: the C{--db} it was given: a SQLite file or a PostgreSQL URL.
    @ivar location: the same without any password, to show.
    @ivar shared: other nodes may use the database at once (PostgreSQL), so connections are
        counted in it.
    """

    def __init__(self, reactor, path: str, busy_timeout: float = 10.0) -> None:
        self._reactor = reactor
        self._engine = engine_for(path, busy_timeout)
        self.path = path
        self.location = self._engine.location
        self.shared = self._engine.shared
        self._pool: adbapi.ConnectionPool | None = None
        self._schema_work: Deferred | None = None
        self._inflight: set[Deferred] = set()
        self._closed = False
        self._bank_checks = Coalescing(self._run, catalog.fresh_bank, catalog.BankCache())
        self._result_writes = Coalescing(self._run, results.record_results)

    def start(self) -> Deferred[None]:
        """Open the database and bring its schema up to date (C{create_db} of the original)."""
        self._pool = self._engine.open_pool(self._reactor)
        self._schema_work = self._pool.runInteraction(
            self._engine.run, migrations.migrate, self._engine
        )
        return self._track(self._schema_work)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await DeferredList(list(self._inflight), consumeErrors=True)
        if self._pool is not None:
            self._pool.close()

    def _run(self, interaction, *args) -> Deferred:
        """
        Run one interaction in a worker thread, once the schema is up to date (the pool may have
        several threads). The caller gets a Deferred of its own: cancelling it stops the
        waiting, not the work, which L{close} still waits for.
        """
        if self._closed or self._pool is None:
            return fail(StoreClosed())
        if self._schema_work.called:
            return self._track(self._pool.runInteraction(self._engine.run, interaction, *args))
        return self._track(
            self._after_schema().addCallback(
                lambda _: self._pool.runInteraction(self._engine.run, interaction, *args)
            )
        )

    def _after_schema(self) -> Deferred[None]:
        ready: Deferred[None] = Deferred()

        def over(result):
            ready.callback(None)
            return result

        self._schema_work.addBoth(over)
        return ready

    def _track(self, work: Deferred) -> Deferred:
        self._inflight.add(work)
        answer: Deferred = Deferred()

        def finished(result):
            self._inflight.discard(work)
            if not answer.called:
                answer.callback(result)

        work.addBoth(finished)
        return answer

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

    # Tests

    def list_tests(self) -> Deferred[list[TestSummary]]:
        return self._bank_checks(None).addCallback(lambda bank: bank.summaries)

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

    # Results

    def record_result(self, result: Result) -> Deferred[None]:
        """Store a result; the Deferred fires once it is committed."""
        return self._result_writes(result)

    def list_results(self) -> Deferred[list[Result]]:
        return self._run(results.list_results)

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
