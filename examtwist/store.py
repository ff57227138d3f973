"""
The store: every SQL statement of examtwist, run off the reactor thread.

One SQLite file holds users, tests, questions and results. All calls go through one adbapi
connection pool with a single connection (SQLite allows one writer; one connection also keeps
each interaction's reads and writes together), so each method is one short transaction in
that thread and returns a Deferred. Only parameterized SQL.

Two kinds of call come many at a time under load, and each is served by one transaction for
all the calls that arrive while it waits its turn (L{_Coalescing}): results are written with
one commit per batch, and the tests EXAMS and TAKE need are kept in memory, checked against
C{PRAGMA data_version} so a test the admin command imports is seen at once.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from datetime import datetime, timezone
from typing import NamedTuple

from twisted.enterprise import adbapi
from twisted.internet.defer import Deferred, DeferredList, fail
from twisted.logger import Logger

from examtwist.exams import BUILTIN_EXAMS, Exam, Question

log = Logger()

def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ExamExists(Exception):
    """A test of that name is stored already."""


class StoreClosed(Exception):
    """The store was closed; nothing more can be asked of it."""


class ExamSummary(NamedTuple):
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


_SCHEMA_V1 = [
    """CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE tests (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
    # TAKE matches names case-insensitively, so they must be unique that way.
    "CREATE UNIQUE INDEX tests_name ON tests (lower(name))",
    """CREATE TABLE questions (
        test_id INTEGER NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
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
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id),
        test_id INTEGER NOT NULL REFERENCES tests (id),
        status TEXT NOT NULL CHECK (status IN ('graded', 'abandoned')),
        correct INTEGER NOT NULL,
        answered INTEGER NOT NULL,
        total INTEGER NOT NULL,
        grade REAL,
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        client TEXT NOT NULL
    )""",
]

# Forward migrations: version N is reached by running MIGRATIONS[N - 1]. Never edit a
# released one; append.
MIGRATIONS = [_SCHEMA_V1]


def _on_connect(connection: sqlite3.Connection) -> None:
    connection.execute("PRAGMA journal_mode = WAL")
    # In WAL mode NORMAL survives a crash of the process; only a power loss can drop the
    # last commits, never corrupt the file.
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.execute("PRAGMA foreign_keys = ON")


def _create_private_file(path: str) -> None:
    """
    The database holds password hashes: create it readable by its owner only. SQLite gives
    its -wal and -shm files the same mode.
    """
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass


class Store:
    """
    examtwist's data, in one SQLite file.

    L{start} opens it (creating and migrating the schema); L{close} waits for the
    interactions in flight and closes it.
    """

    def __init__(self, reactor, path: str, busy_timeout: float = 10.0) -> None:
        self._reactor = reactor
        self.path = path
        self._busy_timeout = busy_timeout
        self._pool: adbapi.ConnectionPool | None = None
        self._inflight: set[Deferred] = set()
        self._closed = False
        self._bank_cache = _BankCache()
        self._bank_checks = _Coalescing(self, _fresh_bank, self._bank_cache)
        self._result_writes = _Coalescing(self, _record_results)

    def start(self) -> Deferred[None]:
        """Open the file and bring its schema up to date (C{create_db} of the original)."""
        _create_private_file(self.path)
        self._pool = adbapi.ConnectionPool(
            "sqlite3",
            self.path,
            timeout=self._busy_timeout,
            check_same_thread=False,
            cp_min=1,
            cp_max=1,
            cp_openfun=_on_connect,
            cp_reactor=self._reactor,
            cp_noisy=False,
        )
        return self._run(_migrate, self._bank_cache)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await DeferredList(list(self._inflight))
        if self._pool is not None:
            self._pool.close()

    def _run(self, interaction, *args) -> Deferred:
        """
        Run an interaction in the pool's thread. L{close} waits for it and for the callbacks
        its caller has added by then, so a batch's results are delivered before the close.
        """
        if self._closed or self._pool is None:
            return fail(StoreClosed())
        running = self._pool.runInteraction(interaction, *args)
        self._inflight.add(running)
        return running.addBoth(self._finished, running)

    def _finished(self, result, running: Deferred):
        self._inflight.discard(running)
        return result

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

    def list_exams(self) -> Deferred[list[ExamSummary]]:
        return self._bank_checks(None).addCallback(lambda bank: bank.summaries)

    def get_exam(self, wanted: str) -> Deferred[Exam | None]:
        """The test EXAMS lists under this number, or with this name in any case."""
        return self._bank_checks(None).addCallback(lambda bank: bank.find(wanted))

    def add_exam(self, exam: Exam, replace: bool = False) -> Deferred[None]:
        """
        Store a test. With C{replace}, a test of that name gets the new questions and keeps
        its number and results.

        @raise ExamExists: (in the Deferred) when the name is taken and C{replace} is false.
        """
        return self._run(_add_exam, exam, replace, utc_now(), self._bank_cache)

    # Results

    def record_result(self, result: Result) -> Deferred[None]:
        """Store a result; the Deferred fires once it is committed."""
        return self._result_writes(result)

    def list_results(self) -> Deferred[list[Result]]:
        return self._run(_list_results)


class _Coalescing:
    """
    Calls of one interaction that arrive while it still waits in the store's queue join it:
    at rest each call runs alone and at once; under load one transaction serves every call
    that came in meanwhile. The interaction takes the list of the calls' items and returns
    one outcome per item, an exception instance for an item that failed alone.
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
        """In the store's thread: close the batch to newcomers, then run it."""
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


class _ExamBank:
    """Every stored test in number order, as EXAMS lists them and TAKE looks them up."""

    def __init__(self, tests: list[tuple[str, tuple[Question, ...]]]) -> None:
        self.summaries = [
            ExamSummary(number, name, len(questions))
            for number, (name, questions) in enumerate(tests, 1)
        ]
        # A test without questions is listed but cannot be taken.
        self._exams = [Exam(name, questions) if questions else None for name, questions in tests]
        self._by_name = {_fold(exam.name): exam for exam in self._exams if exam is not None}

    def find(self, wanted: str) -> Exam | None:
        if wanted.isdigit() and wanted.isascii():
            number = int(wanted)
            return self._exams[number - 1] if 1 <= number <= len(self._exams) else None
        return self._by_name.get(_fold(wanted))


# SQLite's lower() folds ASCII letters only; names match the way the unique index says.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _fold(name: str) -> str:
    return name.translate(_ASCII_LOWER)


class _BankCache:
    """
    The last L{_ExamBank} read and the C{data_version} it was read at. Only the store's
    thread touches it, so it needs no lock.
    """

    def __init__(self) -> None:
        self.bank: _ExamBank | None = None
        self.version: int | None = None

    def forget(self) -> None:
        """This connection changed the tests (data_version counts other connections only)."""
        self.bank = None


# The interactions: plain DB-API code, each run in the pool's thread as one transaction.


def _migrate(txn, bank: _BankCache) -> None:
    bank.forget()
    txn.execute("BEGIN IMMEDIATE")
    txn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    txn.execute("SELECT version FROM schema_version")
    row = txn.fetchone()
    current = row[0] if row else 0
    if current > len(MIGRATIONS):
        raise RuntimeError(
            f"the database is at schema version {current}, newer than this examtwist knows"
        )
    for statements in MIGRATIONS[current:]:
        for statement in statements:
            txn.execute(statement)
    if current == 0:
        for exam in BUILTIN_EXAMS:
            _insert_exam(txn, exam, utc_now())
        txn.execute("INSERT INTO schema_version (version) VALUES (?)", (len(MIGRATIONS),))
        log.info("Created the database schema with the built-in tests")
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


def _fresh_bank(txn, calls: list, bank: _BankCache) -> list[_ExamBank]:
    """The tests as stored now: the cached bank, unless another connection has committed."""
    txn.execute("PRAGMA data_version")
    version = txn.fetchone()[0]
    if bank.bank is None or version != bank.version:
        bank.bank, bank.version = _read_bank(txn), version
    return [bank.bank] * len(calls)


def _read_bank(txn) -> _ExamBank:
    txn.execute("SELECT id, name FROM tests ORDER BY id")
    tests = {test_id: (name, []) for test_id, name in txn.fetchall()}
    txn.execute(
        "SELECT test_id, text, choice_a, choice_b, choice_c, choice_d, answer FROM questions"
        " ORDER BY test_id, position"
    )
    for test_id, text, a, b, c, d, answer in txn.fetchall():
        tests[test_id][1].append(Question(tuple(text.split("\n")), (a, b, c, d), answer))
    return _ExamBank([(name, tuple(questions)) for name, questions in tests.values()])


def _add_exam(txn, exam: Exam, replace: bool, now: str, bank: _BankCache) -> None:
    bank.forget()
    txn.execute("SELECT id FROM tests WHERE lower(name) = lower(?)", (exam.name,))
    row = txn.fetchone()
    if row is None:
        _insert_exam(txn, exam, now)
    elif not replace:
        raise ExamExists(exam.name)
    else:
        txn.execute("DELETE FROM questions WHERE test_id = ?", (row[0],))
        _insert_questions(txn, row[0], exam)


def _insert_exam(txn, exam: Exam, now: str) -> None:
    txn.execute("INSERT INTO tests (name, created_at) VALUES (?, ?)", (exam.name, now))
    _insert_questions(txn, txn.lastrowid, exam)


def _insert_questions(txn, test_id: int, exam: Exam) -> None:
    txn.executemany(
        "INSERT INTO questions (test_id, position, text, choice_a, choice_b, choice_c, choice_d,"
        " answer) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (test_id, position, "\n".join(q.text), *q.choices, q.answer)
            for position, q in enumerate(exam.questions, 1)
        ],
    )


def _record_results(txn, results: list[Result]) -> list[LookupError | None]:
    outcomes = []
    for result in results:
        try:
            _record_result(txn, result)
        except (LookupError, sqlite3.IntegrityError) as e:
            outcomes.append(e)
        else:
            outcomes.append(None)
    return outcomes


def _record_result(txn, r: Result) -> None:
    txn.execute(
        "INSERT INTO results (user_id, test_id, status, correct, answered, total, grade,"
        " started_at, finished_at, client)"
        " SELECT users.id, tests.id, ?, ?, ?, ?, ?, ?, ?, ?"
        " FROM users, tests WHERE users.username = ? AND tests.name = ?",
        (r.status, r.correct, r.answered, r.total, r.grade, r.started_at, r.finished_at,
         r.client, r.username, r.test),
    )
    if txn.rowcount != 1:
        raise LookupError(f"no user {r.username!r} or test {r.test!r} to record a result for")


def _list_results(txn) -> list[Result]:
    txn.execute(
        "SELECT users.username, tests.name, results.status, results.correct, results.answered,"
        " results.total, results.grade, results.started_at, results.finished_at, results.client"
        " FROM results JOIN users ON users.id = results.user_id"
        " JOIN tests ON tests.id = results.test_id ORDER BY results.id"
    )
    return [Result(*row) for row in txn.fetchall()]
