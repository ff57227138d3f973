"""
What many tests share: a store in a temp dir or a fresh PostgreSQL database, the server running
in this process on a free port, a client that awaits replies, and C{twistd -n examtwist} as a
child process.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sqlite3
import sys
import threading
from urllib.parse import urlsplit

from twisted.internet import reactor
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import Protocol, ProcessProtocol
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SkipTest

from examtwist.passwords import HashCost, PasswordHasher
from examtwist.wire import Reply, ReplyParser
from examtwist.storage import Store
from examtwist.storage.engines import engine_for
from examtwist.storage.migrations import migrate
from examtwist.tap import Options, makeService

# A cheap argon2id cost, given through the same options users have: tests stay fast, and
# still hash for real.
CHEAP_HASH = HashCost(memory_kib=64, rounds=1)
FAST_HASH = ["--hash-memory", str(CHEAP_HASH.memory_kib), "--hash-rounds", str(CHEAP_HASH.rounds),
             "--insecure-hash-cost"]
# Version 1's password rule (1 to 128 characters) for the suites that register "pw" and such;
# the rules for new passwords are tested on their own, with the defaults.
V1_PASSWORDS = ["--min-password-length", "1", "--min-password-score", "0"]
LOOPBACK = "127.0.0.1"


class GatedHasher(PasswordHasher):
    """A hasher whose verify blocks its worker thread until the test opens the gate."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.gate = threading.Event()
        self.entered = threading.Event()

    def _verify(self, password, stored):
        self.entered.set()
        self.gate.wait(10)
        return super()._verify(password, stored)


def temp_dir(testcase) -> str:
    path = os.path.abspath(testcase.mktemp())
    os.makedirs(path)
    return path


def temp_db(testcase) -> str:
    return os.path.join(temp_dir(testcase), "examtwist.db")


async def open_store(testcase, path: str | None = None) -> Store:
    """A started store on C{path}, or else on a new database of the test's backend."""
    store = Store(reactor, path or await backend_of(testcase).new_database(testcase))
    testcase.addCleanup(store.close)
    await store.start()
    return store


# The databases the store and protocol suites run on. A test case's C{backend} picks one;
# SQLite unless it says otherwise.


class SQLiteBackend:
    name = "SQLite"
    skip = None

    async def new_database(self, testcase) -> str:
        return temp_db(testcase)

    def execute(self, db: str, sql: str) -> list[tuple]:
        """Run SQL beside the store, as another program would; the rows it returns."""
        with sqlite3.connect(db) as connection:
            rows = connection.execute(sql).fetchall()
        connection.close()
        return rows

    def hold_result_writes(self, testcase, db: str):
        """
        Another connection takes the write lock, so the store's next write to the results
        waits, as behind a slow disk. Returns what lets it go.
        """
        connection = sqlite3.connect(db, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        testcase.addCleanup(connection.close)
        return lambda: connection.execute("COMMIT")


POSTGRES_ENV = "EXAMTWIST_TEST_POSTGRES"


class PostgresBackend:
    """
    A PostgreSQL server given by URL in EXAMTWIST_TEST_POSTGRES, as a user allowed to create
    databases: every test gets a database of its own, dropped after it.
    """

    name = "PostgreSQL"

    @property
    def admin_url(self) -> str | None:
        return os.environ.get(POSTGRES_ENV)

    @property
    def skip(self) -> str | None:
        if self.admin_url or os.environ.get("CI"):
            return None
        return (f"no PostgreSQL to test on: set {POSTGRES_ENV}=postgresql://user:password@"
                "127.0.0.1:port/postgres (scripts/pg-throwaway start DIR prints one; CI sets it)")

    async def new_database(self, testcase) -> str:
        if not self.admin_url:
            raise AssertionError(f"CI runs the PostgreSQL tests: .ci/run must set {POSTGRES_ENV}")
        name = f"examtwist_test_{secrets.token_hex(6)}"
        await deferToThread(self._admin, f'CREATE DATABASE "{name}"')
        testcase.addCleanup(deferToThread, self._admin, f'DROP DATABASE "{name}" WITH (FORCE)')
        return database_url(self.admin_url, name)

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(sql)

    def execute(self, db: str, sql: str) -> list[tuple]:
        import psycopg

        with psycopg.connect(db) as connection:
            cursor = connection.execute(sql)
            return cursor.fetchall() if cursor.description else []

    def hold_result_writes(self, testcase, db: str):
        import psycopg

        connection = psycopg.connect(db)
        connection.execute("LOCK TABLE attempts IN EXCLUSIVE MODE")
        testcase.addCleanup(connection.close)
        return connection.commit


async def waiting_for_locks(db: str, count: int, timeout: float = 10.0) -> None:
    """Let the reactor run until C{count} sessions of that PostgreSQL database wait on a lock."""
    query = ("SELECT count(*) FROM pg_stat_activity"
             " WHERE datname = current_database() AND wait_event_type = 'Lock'")
    for _ in range(int(timeout / 0.02)):
        [(waiting,)] = await deferToThread(POSTGRES.execute, db, query)
        if waiting >= count:
            return
        await deferLater(reactor, 0.02, lambda: None)
    raise AssertionError(f"fewer than {count} sessions waited on a lock after {timeout} s")


def database_url(url: str, name: str) -> str:
    """The same server and user, another database."""
    return urlsplit(url)._replace(path=f"/{name}").geturl()


SQLITE = SQLiteBackend()
POSTGRES = PostgresBackend()


class OnPostgres:
    """Mix in before a test case to run its tests on PostgreSQL."""

    backend = POSTGRES
    skip = POSTGRES.skip


def backend_of(testcase) -> SQLiteBackend | PostgresBackend:
    return getattr(testcase, "backend", SQLITE)


async def database_at(testcase, version: int) -> str:
    """
    A new database of the test's backend at schema C{version}, as a release of that version
    made it: the schema files up to that one, run by the migrations module.
    """
    path = await backend_of(testcase).new_database(testcase)
    engine = engine_for(path)
    pool = engine.open_pool(reactor)
    try:
        await pool.runInteraction(engine.run, migrate, engine, version)
    finally:
        pool.close()
    return path


# Every listener on a free loopback port; a test's own options come later and win.
FREE_PORTS = ["--exam", f"tcp:0:interface={LOOPBACK}", "--web", f"tcp:0:interface={LOOPBACK}",
              "--teacher", f"tcp:0:interface={LOOPBACK}"]


def server_options(testcase, *args: str) -> Options:
    options = Options()
    options.parseOptions([*FREE_PORTS, "--db", temp_db(testcase), *FAST_HASH, *V1_PASSWORDS,
                          *args])
    return options


async def start_server(testcase, *args: str, options: Options | None = None, hasher=None):
    """
    Run the whole service in this process, as twistd would build it, on a free port.

    @return: (the root service, the exam port number)
    """
    service = makeService(options or server_options(testcase, *args), reactor, hasher=hasher)
    service.startService()
    testcase.addCleanup(lambda: service.running and service.stopService())
    return service, listening_port(service, "Exam service")


def listening_port(service, what: str) -> int:
    """The port a running service's listener got; C{what} is "Exam service" or "Web app"."""
    listener = next(child for child in service if getattr(child, "what", None) == what)
    return listener.port.getHost().port


class ReplyClient(Protocol):
    """
    A client for tests: C{send} lines, C{await reply()} the replies in order. Once the server
    closes, waiting for a reply fails with L{ConnectionDone}.
    """

    def __init__(self) -> None:
        self.parser = ReplyParser()
        self.received: list[Reply] = []
        self.waiting: list[Deferred] = []
        self.closed: Deferred[None] = Deferred()
        self.is_closed = False

    def dataReceived(self, data: bytes) -> None:
        self.received.extend(self.parser.feed(data))
        while self.received and self.waiting:
            self.waiting.pop(0).callback(self.received.pop(0))

    def connectionLost(self, reason) -> None:
        self.is_closed = True
        for waiter in self.waiting:
            waiter.errback(ConnectionDone("the server closed the connection"))
        self.waiting = []
        self.closed.callback(None)

    def send(self, *lines: str | bytes, ending: bytes = b"\r\n") -> None:
        self.transport.write(
            b"".join((line.encode() if isinstance(line, str) else line) + ending for line in lines)
        )

    def reply(self) -> Deferred[Reply]:
        if self.received:
            return succeed(self.received.pop(0))
        if self.is_closed:
            return fail(ConnectionDone("the server closed the connection"))
        d: Deferred[Reply] = Deferred()
        self.waiting.append(d)
        return d

    async def ask(self, line: str | bytes) -> Reply:
        self.send(line)
        return await self.reply()


async def connect(port: int, host: str = LOOPBACK, greeting: bool = True) -> ReplyClient:
    """Connect; unless told not to, read the greeting first."""
    client = await connectProtocol(TCP4ClientEndpoint(reactor, host, port), ReplyClient())
    if greeting:
        client.greeting = await client.reply()
    return client


async def connect_from(port: int, source: str, greeting: bool = True) -> ReplyClient:
    """
    Connect from another loopback address (127.0.0.2, 127.0.0.3, ...), as if from another
    machine: the client socket is bound to it before connecting.
    """
    endpoint = TCP4ClientEndpoint(reactor, LOOPBACK, port, bindAddress=(source, 0))
    client = await connectProtocol(endpoint, ReplyClient())
    if greeting:
        client.greeting = await client.reply()
    return client


async def logged_in(port: int, username: str, password: str = "correct horse") -> ReplyClient:
    """A connection with a freshly registered user."""
    client = await connect(port)
    reply = await client.ask(f"REGISTER {username} {password}")
    assert reply.code == 231, reply
    return client


async def eventually(condition, timeout: float = 10.0) -> None:
    """Let the reactor run until C{condition()} holds."""
    for _ in range(int(timeout / 0.005)):
        if condition():
            return
        await deferLater(reactor, 0.005, lambda: None)
    raise AssertionError(f"still not true after {timeout} s: {condition}")


def twistd_path() -> str:
    beside = os.path.join(os.path.dirname(sys.executable), "twistd")
    return beside if os.path.exists(beside) else shutil.which("twistd")


class Twistd(ProcessProtocol):
    """
    C{twistd -n examtwist} as a child process, the way a user starts it. Its log says where
    each service listens; L{started} fires with those addresses once all have been seen.
    """

    _LISTENING = re.compile(r"\] (.+?) listening on (\S+?):(\d+)$")

    def __init__(self, expect: tuple[str, ...] = ("Exam service",)) -> None:
        self.expect = set(expect)
        self.ports: dict[str, int] = {}
        self.output = b""
        self.started: Deferred[dict[str, int]] = Deferred()
        self.ended: Deferred[int] = Deferred()
        self.exit_code: int | None = None
        self._partial = b""

    # twistd's own options, before the plugin's name (a subclass's --logger, say).
    TWISTD_OPTIONS: tuple[str, ...] = ()

    @classmethod
    def spawn(cls, testcase, *args: str, cwd: str | None = None, expect=("Exam service",)) -> "Twistd":
        cwd = cwd or temp_dir(testcase)
        process = cls(expect)
        argv = [twistd_path(), *cls.TWISTD_OPTIONS, "--nodaemon", "--pidfile=", "examtwist",
                *FREE_PORTS, *FAST_HASH, *V1_PASSWORDS, *args]
        process.cwd = cwd
        reactor.spawnProcess(process, argv[0], argv, env=os.environ.copy(), path=cwd)
        testcase.addCleanup(process.kill)
        return process

    def outReceived(self, data: bytes) -> None:
        self.output += data
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            match = self._LISTENING.search(line.decode("utf-8", "replace").rstrip())
            if match:
                self.ports[match.group(1)] = int(match.group(3))
        if not self.started.called and self.expect <= set(self.ports):
            self.started.callback(self.ports)

    errReceived = outReceived

    def processEnded(self, reason) -> None:
        self.exit_code = reason.value.exitCode
        self.signal = reason.value.signal
        if not self.started.called:
            self.started.errback(
                RuntimeError(f"twistd ended before listening:\n{self.output.decode(errors='replace')}")
            )
        self.ended.callback(self.exit_code)

    def terminate(self) -> Deferred[int]:
        """SIGTERM, as a service manager sends; fires with the exit code."""
        if not self.ended.called:
            self.transport.signalProcess("TERM")
        return self.ended

    def kill(self) -> Deferred[int] | None:
        if not self.ended.called:
            self.transport.signalProcess("KILL")
            return self.ended
        return None


# Added for the tests that used to borrow these from other test modules, and for tests that
# need a program from outside Python.

MATH_KEY = "BDCAC"  # the built-in math test's answers, in order
# The built-in math test's questions as the server sends them after TAKE math and each answer.
MATH_QUESTIONS = (
    Reply(350, ("Question 1 of 5", "What is 12 * 12?", "A) 124", "B) 144", "C) 132", "D) 142")),
    Reply(350, ("Question 2 of 5", "The sum of the first N odd numbers is:", "A) (N*(N+1))/2",
                "B) N^2 + N", "C) N^2 + 2*N", "D) N^2")),
    Reply(350, ("Question 3 of 5", "What is the square root of 169?", "A) 12", "B) 14", "C) 13",
                "D) 17")),
    Reply(350, ("Question 4 of 5", "Solve for x: 3x + 7 = 22", "A) 5", "B) 6", "C) 4", "D) 7")),
    Reply(350, ("Question 5 of 5", "A rectangle is 8 cm long and 5 cm wide.",
                "What is its area?", "A) 13 cm^2", "B) 26 cm^2", "C) 40 cm^2", "D) 45 cm^2")),
)


def admin_path() -> str:
    """The C{examtwist} admin command installed beside this Python."""
    return os.path.join(os.path.dirname(sys.executable), "examtwist")


def require(testcase, missing: str | None) -> None:
    """
    Go on if nothing is C{missing} (None or ""). Otherwise skip the test, saying what is
    missing; in CI (CI set), which has everything the tests need, fail it with that message
    instead, as L{PostgresBackend.skip} does, so that CI never passes on a test it did not run.
    """
    if not missing:
        return
    if os.environ.get("CI"):
        testcase.fail(f"{missing} (CI is set: in CI this test must run, not skip)")
    raise SkipTest(missing)


class WatchedTwistd(Twistd):
    """
    L{Twistd}, and C{logged(text)}: a Deferred that fires once its log shows C{text}, so that a
    test waits for what it expects instead of looking again and again.
    """

    def __init__(self, expect: tuple[str, ...] = ("Exam service",)) -> None:
        super().__init__(expect)
        self._watchers: list[tuple[str, Deferred]] = []

    def outReceived(self, data: bytes) -> None:
        Twistd.outReceived(self, data)
        log = self.output.decode("utf-8", "replace")
        for watch in list(self._watchers):
            if watch[0] in log:
                self._watchers.remove(watch)
                watch[1].callback(log)

    errReceived = outReceived

    def processEnded(self, reason) -> None:
        watchers, self._watchers = self._watchers, []
        for text, d in watchers:
            d.errback(AssertionError(f"twistd ended before logging {text!r}:\n"
                                     f"{self.output.decode('utf-8', 'replace')}"))
        Twistd.processEnded(self, reason)

    def logged(self, text: str, timeout: float = 20.0) -> Deferred[str]:
        """Fires with the whole log so far once it holds C{text}; fails after C{timeout} s."""
        log = self.output.decode("utf-8", "replace")
        if text in log:
            return succeed(log)
        d: Deferred[str] = Deferred()
        watch = (text, d)
        self._watchers.append(watch)

        def too_late(result, after: float):
            if watch in self._watchers:
                self._watchers.remove(watch)
            raise AssertionError(f"no {text!r} in twistd's log after {after} s:\n"
                                 f"{self.output.decode('utf-8', 'replace')}")

        return d.addTimeout(timeout, reactor, onTimeoutCancel=too_late)


class StartingTwistd(Twistd):
    """
    L{Twistd}, keeping what it writes on stderr apart as well, in C{errors}: what a user or a
    service manager reads when a start fails.
    """

    def __init__(self, expect: tuple[str, ...] = ("Exam service",)) -> None:
        super().__init__(expect)
        self.errors = b""

    def errReceived(self, data: bytes) -> None:
        self.errors += data
        Twistd.outReceived(self, data)


def closed_port() -> int:
    """A loopback port nothing listens on (free a moment ago)."""
    import socket

    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


class JsonTwistd(Twistd):
    """
    C{twistd --logger=examtwist.jsonlog.observer -n examtwist} as a child process: its log is
    JSON Lines on stdout, kept in C{stdout} apart from stderr (C{errors}); it is started once
    the "... listening on ..." events name every expected service.
    """

    TWISTD_OPTIONS = ("--logger=examtwist.jsonlog.observer",)

    def __init__(self, expect: tuple[str, ...] = ("Exam service",)) -> None:
        super().__init__(expect)
        self.stdout = b""
        self.errors = b""

    def outReceived(self, data: bytes) -> None:
        self.output += data
        self.stdout += data
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and "what" in event and "where" in event:
                self.ports[event["what"]] = int(str(event["where"]).rsplit(":", 1)[1])
        if not self.started.called and self.expect <= set(self.ports):
            self.started.callback(self.ports)

    def errReceived(self, data: bytes) -> None:
        self.output += data
        self.errors += data
