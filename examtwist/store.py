"""
The store: every SQL statement of examtwist, run off the reactor thread.

One database holds users, tests, questions, results, the students of the web lookup and, when
several nodes share it, their count of connections: a SQLite file, or a PostgreSQL database.
All calls go through an adbapi connection pool (one connection for SQLite, a few for
PostgreSQL; examtwist/engines.py says what differs), so each method is one short transaction in
a worker thread and returns a Deferred. Only parameterized SQL.

Two kinds of call come many at a time under load, and each is served by one transaction for
all the calls that arrive while it waits its turn (L{_Coalescing}): results are written with
one commit per batch, and the tests EXAMS and TAKE need are kept in memory, checked against a
version number that every change to the tests raises, so a test the admin command (or another
node) imports is seen at once.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import NamedTuple

from twisted.enterprise import adbapi
from twisted.internet.defer import Deferred, DeferredList, fail
from twisted.logger import Logger

from examtwist.engines import engine_for
from examtwist.testbank import BUILTIN_TESTS, Question, Test
from examtwist.students import MAX_ID, SAMPLE_STUDENTS, Student

log = Logger()

def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class TestExists(Exception):
    """A test of that name is stored already."""


class StudentExists(Exception):
    """A student with that ID is stored already; C{args} is the new student."""


class StoreClosed(Exception):
    """The store was closed; nothing more can be asked of it."""


class TestSummary(NamedTuple):
    number: int
    name: str
    question_count: int


class Result(NamedTuple):
    username: str
    test: str
    status: str  # "graded" or "abandoned"
    correct: int
    answered: int
    total: int
    grade: float | None  # percentage with one decimal; None when abandoned
    started_at: str
    finished_at: str
    client: str


class UserSummary(NamedTuple):
    username: str
    created_at: str
    results: int


class ConnectionCount(NamedTuple):
    counted: int
    since: str


# The DDL is written once for both databases: the engine fills in {id} (a generated key),
# {bigint} and {float}.
_SCHEMA_V1 = [
    """CREATE TABLE users (
        id {id},
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE tests (
        id {id},
        name TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
    # TAKE matches names case-insensitively, so they must be unique that way.
    "CREATE UNIQUE INDEX tests_name ON tests (lower(name))",
    """CREATE TABLE questions (
        test_id {bigint} NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        text TEXT NOT NULL,
        choice_a TEXT NOT NULL,
        choice_b TEXT NOT NULL,
        choice_c TEXT NOT NULL,
        choice_d TEXT NOT NULL,
        answer TEXT NOT NULL CHECK (answer IN ('A', 'B', 'C', 'D')),
        PRIMARY KEY (test_id, position)
    )""",
    """CREATE TABLE results (
        id {id},
        user_id {bigint} NOT NULL REFERENCES users (id),
        test_id {bigint} NOT NULL REFERENCES tests (id),
        status TEXT NOT NULL CHECK (status IN ('graded', 'abandoned')),
        correct INTEGER NOT NULL,
        answered INTEGER NOT NULL,
        total INTEGER NOT NULL,
        grade {float},
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        client TEXT NOT NULL
    )""",
]


def _add_sample_students(txn) -> None:
    """The three students of the original app, so a new server's lookup page works at once."""
    _insert_students(txn, SAMPLE_STUDENTS)


_SCHEMA_V2_STUDENTS = [
    # On SQLite the ID is the rowid: an integer, unique, and the fastest lookup SQLite has.
    """CREATE TABLE students (
        id {bigint} PRIMARY KEY CHECK (id >= 0),
        name TEXT NOT NULL,
        age INTEGER NOT NULL CHECK (age >= 0)
    )""",
    _add_sample_students,
]


def _start_count(txn) -> None:
    txn.execute("INSERT INTO connection_count (id, counted, since) VALUES (1, 0, ?)", (utc_now(),))


_SCHEMA_V3_COUNTING = [
    # The count of connections of every node sharing the database (PostgreSQL). A server on
    # SQLite is the only one on its file and counts in memory, from its own start.
    """CREATE TABLE connection_count (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        counted {bigint} NOT NULL,
        since TEXT NOT NULL
    )""",
    # The addresses of connections 1 to the lucky number, for the lucky connection's greeting.
    """CREATE TABLE counted_connections (
        number {bigint} PRIMARY KEY,
        address TEXT NOT NULL
    )""",
    _start_count,
]

_SCHEMA_V4_TESTS_VERSION = [
    # Raised by every change to the tests or their questions: a server keeps the tests in
    # memory and reads them again when this differs from the version it read them at.
    """CREATE TABLE tests_version (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        version {bigint} NOT NULL
    )""",
    "INSERT INTO tests_version (id, version) VALUES (1, 1)",
]

# Forward migrations: version N is reached by running MIGRATIONS[N - 1]. Never edit a
# released one; append. A step is an SQL statement or a function of the transaction.
MIGRATIONS = [_SCHEMA_V1, _SCHEMA_V2_STUDENTS, _SCHEMA_V3_COUNTING, _SCHEMA_V4_TESTS_VERSION]


class Store:
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
        self._bank = _BankCache()
        self._bank_checks = _Coalescing(self, _fresh_bank, self._bank)
        self._result_writes = _Coalescing(self, _record_results)

    def start(self) -> Deferred[None]:
        """Open the database and bring its schema up to date (C{create_db} of the original)."""
        self._pool = self._engine.open_pool(self._reactor)
        self._schema_work = self._pool.runInteraction(self._engine.run, _migrate, self._engine)
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
        return self._run(_add_user, username, password_hash, utc_now())

    def get_password_hash(self, username: str) -> Deferred[str | None]:
        """The stored hash of an account (C{query_user} of the original), None if none."""
        return self._run(_get_password_hash, username)

    def set_password_hash(self, username: str, password_hash: str) -> Deferred[None]:
        return self._run(_set_password_hash, username, password_hash)

    def list_users(self) -> Deferred[list[UserSummary]]:
        return self._run(_list_users)

    # Tests

    def list_tests(self) -> Deferred[list[TestSummary]]:
        return self._bank_checks(None).addCallback(lambda bank: bank.summaries)

    def find_test(self, wanted: str) -> Deferred[Test | None]:
        """The test EXAMS lists under this number, or with this name in any case."""
        if not wanted.isascii():
            # Only the database knows how its lower() folds letters beyond ASCII.
            return self._run(_find_test, wanted)
        return self._bank_checks(None).addCallback(lambda bank: bank.find(wanted))

    def add_test(self, test: Test, replace: bool = False) -> Deferred[None]:
        """
        Store a test. With C{replace}, a test of that name gets the new questions and keeps
        its number and results.

        @raise TestExists: (in the Deferred) when the name is taken and C{replace} is false.
        """
        return self._run(_add_test, test, replace, utc_now())

    # Results

    def record_result(self, result: Result) -> Deferred[None]:
        """Store a result; the Deferred fires once it is committed."""
        return self._result_writes(result)

    def list_results(self) -> Deferred[list[Result]]:
        return self._run(_list_results)

    # Students of the web lookup

    def add_student(self, student: Student) -> Deferred[None]:
        """
        @raise StudentExists: (in the Deferred) when a student has that ID already.
        """
        return self._run(_insert_students, [student])

    def add_students(self, students: list[Student], replace: bool = False) -> Deferred[None]:
        """
        Store all of them, or none: one of their IDs stored already fails the whole call. With
        C{replace}, they take the place of every stored student.

        @raise StudentExists: (in the Deferred) naming the first student whose ID is taken.
        """
        return self._run(_add_students, students, replace)

    def get_student(self, student_id: int) -> Deferred[Student | None]:
        """The student with this ID, None if none (an ID too large to store is nobody's)."""
        return self._run(_get_student, student_id)

    def list_students(self) -> Deferred[list[Student]]:
        return self._run(_list_students)

    def clear_students(self) -> Deferred[int]:
        """Remove every student; fires with how many there were."""
        return self._run(_clear_students)

    def schema_version(self) -> Deferred[int]:
        """The database's schema version: a trivial read through the pool's thread."""
        return self._run(_schema_version)

    # The count of connections, when nodes share the database (see examtwist.counting)

    def count_connection(self, address: str, lucky: int) -> Deferred[tuple[int, list[str] | None]]:
        """
        Count one connection of any node: its number and, for the lucky number only, the
        addresses of connections 1 to C{lucky} in counting order.
        """
        return self._run(_count_connection, address, lucky)

    def connection_count(self) -> Deferred[ConnectionCount]:
        return self._run(_connection_count)

    def restart_count(self) -> Deferred[None]:
        """Start counting again from 1; the next connection of any node is the first."""
        return self._run(_restart_count, utc_now())


class _Coalescing:
    """
    Calls of one interaction that arrive while it still waits for a worker thread join it: at
    rest each call runs alone and at once; under load one transaction serves every call that
    came in meanwhile. The interaction takes the list of the calls' items and returns one
    outcome per item, an exception instance for an item that failed alone.
    """

    def __init__(self, store: Store, interaction, *args) -> None:
        self._store = store
        self._interaction = interaction
        self._args = args
        # The lock makes "joined a batch" and "the batch started" exclusive: a call never
        # joins a batch that has begun to read or write.
        self._lock = threading.Lock()
        self._waiting: list[tuple[object, Deferred]] | None = None

    def __call__(self, item) -> Deferred:
        done: Deferred = Deferred()
        with self._lock:
            batch = self._waiting
            first = batch is None
            if first:
                batch = self._waiting = []
            batch.append((item, done))
        if first:
            self._store._run(self._start, batch).addCallbacks(
                self._deliver, self._fail, callbackArgs=(batch,), errbackArgs=(batch,)
            )
        return done

    def _start(self, txn, batch):
        """In a worker thread: close the batch to newcomers, then run it."""
        with self._lock:
            self._waiting = None
        return self._interaction(txn, [item for item, _ in batch], *self._args)

    def _deliver(self, outcomes, batch) -> None:
        for (_, done), outcome in zip(batch, outcomes):
            if isinstance(outcome, Exception):
                done.errback(outcome)
            else:
                done.callback(outcome)

    def _fail(self, failure, batch) -> None:
        with self._lock:
            if self._waiting is batch:  # it never started (the store was closed)
                self._waiting = None
        for _, done in batch:
            done.errback(failure)


class _TestBank:
    """Every stored test in number order, as EXAMS lists them and TAKE looks them up."""

    def __init__(self, tests: list[tuple[str, tuple[Question, ...]]]) -> None:
        self.summaries = [
            TestSummary(number, name, len(questions))
            for number, (name, questions) in enumerate(tests, 1)
        ]
        # A test without questions is listed but cannot be taken.
        self._tests = [Test(name, questions) if questions else None for name, questions in tests]
        self._by_name = {_fold(test.name): test for test in self._tests if test is not None}

    def find(self, wanted: str) -> Test | None:
        """By number, or by an ASCII name in any case (the store asks the database otherwise)."""
        if wanted.isdigit():
            number = int(wanted)
            return self._tests[number - 1] if 1 <= number <= len(self._tests) else None
        return self._by_name.get(_fold(wanted))


# Every database's lower() folds A-Z so; letters beyond ASCII are the database's business.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _fold(name: str) -> str:
    return name.translate(_ASCII_LOWER)


class _BankCache:
    """
    The last L{_TestBank} read and the tests_version it was read at, as one tuple: worker
    threads replace it whole, so none sees a bank with another's version.
    """

    def __init__(self) -> None:
        self.current: tuple[int, _TestBank] | None = None


# The interactions: plain DB-API code, each run in the pool's thread as one transaction.


def _migrate(txn, engine) -> None:
    engine.lock_schema(txn)
    txn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    txn.execute("SELECT version FROM schema_version")
    row = txn.fetchone()
    current = row[0] if row else 0
    if current > len(MIGRATIONS):
        raise RuntimeError(
            f"the database is at schema version {current}, newer than this examtwist knows"
        )
    for steps in MIGRATIONS[current:]:
        for step in steps:
            if callable(step):
                step(txn)
            else:
                txn.execute(step.format(**engine.types))
    if current == 0:
        for test in BUILTIN_TESTS:
            _insert_test(txn, test, utc_now())
        txn.execute("INSERT INTO schema_version (version) VALUES (?)", (len(MIGRATIONS),))
        log.info("Created the database schema with the built-in tests and sample students")
    elif current < len(MIGRATIONS):
        txn.execute("UPDATE schema_version SET version = ?", (len(MIGRATIONS),))
        log.info("Migrated the database from schema {old} to {new}", old=current, new=len(MIGRATIONS))


def _add_user(txn, username: str, password_hash: str, now: str) -> bool:
    txn.execute(
        "INSERT INTO users (username, password_hash, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT (username) DO NOTHING",
        (username, password_hash, now),
    )
    return txn.rowcount == 1


def _get_password_hash(txn, username: str) -> str | None:
    txn.execute("SELECT password_hash FROM users WHERE username = ?", (username,))
    row = txn.fetchone()
    return row[0] if row else None


def _set_password_hash(txn, username: str, password_hash: str) -> None:
    txn.execute("UPDATE users SET password_hash = ? WHERE username = ?", (password_hash, username))


def _list_users(txn) -> list[UserSummary]:
    txn.execute(
        "SELECT username, created_at,"
        " (SELECT count(*) FROM results WHERE results.user_id = users.id)"
        " FROM users ORDER BY username"
    )
    return [UserSummary(*row) for row in txn.fetchall()]


def _fresh_bank(txn, calls: list, cache: _BankCache) -> list[_TestBank]:
    """The tests as stored now: the cached bank, unless their version has moved on."""
    txn.execute("SELECT version FROM tests_version")
    version = txn.fetchone()[0]
    current = cache.current
    if current is None or current[0] != version:
        current = cache.current = (version, _read_bank(txn))
    return [current[1]] * len(calls)


def _read_bank(txn) -> _TestBank:
    txn.execute("SELECT id, name FROM tests ORDER BY id")
    tests = {test_id: (name, []) for test_id, name in txn.fetchall()}
    txn.execute(
        "SELECT test_id, text, choice_a, choice_b, choice_c, choice_d, answer FROM questions"
        " ORDER BY test_id, position"
    )
    for test_id, text, a, b, c, d, answer in txn.fetchall():
        tests[test_id][1].append(Question(tuple(text.split("\n")), (a, b, c, d), answer))
    return _TestBank([(name, tuple(questions)) for name, questions in tests.values()])


def _find_test(txn, wanted: str) -> Test | None:
    """A test by a name beyond ASCII, matched by the database's lower() as its index is."""
    txn.execute("SELECT id, name FROM tests WHERE lower(name) = lower(?)", (wanted,))
    found = txn.fetchone()
    if found is None:
        return None
    test_id, name = found
    txn.execute(
        "SELECT text, choice_a, choice_b, choice_c, choice_d, answer FROM questions"
        " WHERE test_id = ? ORDER BY position",
        (test_id,),
    )
    questions = tuple(
        Question(tuple(text.split("\n")), (a, b, c, d), answer)
        for text, a, b, c, d, answer in txn.fetchall()
    )
    return Test(name, questions) if questions else None


def _add_test(txn, test: Test, replace: bool, now: str) -> None:
    txn.execute("UPDATE tests_version SET version = version + 1")
    txn.execute("SELECT id FROM tests WHERE lower(name) = lower(?)", (test.name,))
    row = txn.fetchone()
    if row is None:
        _insert_test(txn, test, now)
    elif not replace:
        raise TestExists(test.name)
    else:
        txn.execute("DELETE FROM questions WHERE test_id = ?", (row[0],))
        _insert_questions(txn, row[0], test)


def _insert_test(txn, test: Test, now: str) -> None:
    txn.execute("INSERT INTO tests (name, created_at) VALUES (?, ?) RETURNING id", (test.name, now))
    _insert_questions(txn, txn.fetchone()[0], test)


def _insert_questions(txn, test_id: int, test: Test) -> None:
    txn.executemany(
        "INSERT INTO questions (test_id, position, text, choice_a, choice_b, choice_c, choice_d,"
        " answer) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (test_id, position, "\n".join(q.text), *q.choices, q.answer)
            for position, q in enumerate(test.questions, 1)
        ],
    )


def _record_results(txn, results: list[Result]) -> list[LookupError | None]:
    """
    One commit for all. A result without its user or test fails alone; any other error
    rolls back the whole transaction and fails every result in it: none is stored.
    """
    outcomes: list[LookupError | None] = []
    for result in results:
        try:
            _record_result(txn, result)
        except LookupError as e:
            outcomes.append(e)
        else:
            outcomes.append(None)
    return outcomes


def _record_result(txn, r: Result) -> None:
    txn.execute(
        "SELECT users.id, tests.id FROM users, tests WHERE users.username = ? AND tests.name = ?",
        (r.username, r.test),
    )
    found = txn.fetchone()
    if found is None:
        raise LookupError(f"no user {r.username!r} or test {r.test!r} to record a result for")
    txn.execute(
        "INSERT INTO results (user_id, test_id, status, correct, answered, total, grade,"
        " started_at, finished_at, client) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (*found, r.status, r.correct, r.answered, r.total, r.grade, r.started_at,
         r.finished_at, r.client),
    )


def _list_results(txn) -> list[Result]:
    txn.execute(
        "SELECT users.username, tests.name, results.status, results.correct, results.answered,"
        " results.total, results.grade, results.started_at, results.finished_at, results.client"
        " FROM results JOIN users ON users.id = results.user_id"
        " JOIN tests ON tests.id = results.test_id ORDER BY results.id"
    )
    return [Result(*row) for row in txn.fetchall()]


def _add_students(txn, students, replace: bool) -> None:
    if replace:
        _clear_students(txn)
    _insert_students(txn, students)


def _insert_students(txn, students) -> None:
    for student in students:
        txn.execute(
            "INSERT INTO students (id, name, age) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
            (student.id, student.name, student.age),
        )
        if txn.rowcount != 1:
            raise StudentExists(student)


def _get_student(txn, student_id: int) -> Student | None:
    if not 0 <= student_id <= MAX_ID:
        return None
    txn.execute("SELECT name, id, age FROM students WHERE id = ?", (student_id,))
    row = txn.fetchone()
    return Student(*row) if row else None


def _list_students(txn) -> list[Student]:
    txn.execute("SELECT name, id, age FROM students ORDER BY id")
    return [Student(*row) for row in txn.fetchall()]


def _clear_students(txn) -> int:
    txn.execute("DELETE FROM students")
    return txn.rowcount


def _schema_version(txn) -> int:
    txn.execute("SELECT version FROM schema_version")
    return txn.fetchone()[0]


def _count_connection(txn, address: str, lucky: int) -> tuple[int, list[str] | None]:
    # The row stays locked until this transaction commits: every connection counted before
    # this one has committed its address by the time the lucky one reads them.
    txn.execute("UPDATE connection_count SET counted = counted + 1 RETURNING counted")
    number = txn.fetchone()[0]
    if number <= lucky:
        txn.execute(
            "INSERT INTO counted_connections (number, address) VALUES (?, ?)", (number, address)
        )
    if number != lucky:
        return number, None
    txn.execute(
        "SELECT address FROM counted_connections WHERE number <= ? ORDER BY number", (lucky,)
    )
    return number, [address for (address,) in txn.fetchall()]


def _connection_count(txn) -> ConnectionCount:
    txn.execute("SELECT counted, since FROM connection_count")
    return ConnectionCount(*txn.fetchone())


def _restart_count(txn, now: str) -> None:
    txn.execute("UPDATE connection_count SET counted = 0, since = ?", (now,))
    txn.execute("DELETE FROM counted_connections")
