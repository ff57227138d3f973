"""
What only the PostgreSQL engine does: read a URL and never show its password, race two nodes
to one username, find a connection the server dropped and go on, and give up on a server that
does not answer. The suites shared with SQLite are in test_store.py and test_protocol.py.
"""

from __future__ import annotations

import socket
import sys

import psycopg
from treq.testing import StubTreq
from twisted.internet import reactor
from twisted.internet.defer import gatherResults
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase, TestCase

from examtwist import storage
from examtwist.storage import Store, UserSummary
from examtwist.storage.engines import BadDatabase, PostgresEngine, engine_for
from examtwist.tap import Options
from examtwist.desk import ExamDesk
from examtwist.web import StudentLookup
from tests.support import (
    LOOPBACK,
    POSTGRES,
    OnPostgres,
    eventually,
    open_store,
    waiting_for_locks,
)

SECRET = "s3cret-Pa55"
FROZEN = "2026-04-01T12:00:00Z"


class URLTests(SynchronousTestCase):
    def test_both_schemes(self):
        """
        If the URL starts postgresql:// or postgres://, then the engine is PostgreSQL's, and
        where it is shows as postgresql://ann@127.0.0.1:5433/exams.
        """
        for scheme in ("postgresql", "postgres"):
            engine = engine_for(f"{scheme}://ann:{SECRET}@127.0.0.1:5433/exams")
            self.assertIsInstance(engine, PostgresEngine)
            self.assertEqual(engine.location, "postgresql://ann@127.0.0.1:5433/exams")

    def test_password_never_shown(self):
        """
        If the URL holds a password, then neither where the store says it is
        (postgresql://ann@[::1]:5433/exams) nor a complaint about a broken URL holds it.
        """
        store = Store(reactor, f"postgresql://ann:{SECRET}@[::1]:5433/exams?sslmode=require")
        self.assertEqual((store.location, store.shared),
                         ("postgresql://ann@[::1]:5433/exams", True))
        for broken in [f"postgresql://ann:{SECRET}@[::1/exams",
                       f"postgresql://ann@127.0.0.1/exams?password={SECRET}&port=x y"]:
            with self.assertRaises(BadDatabase) as caught:
                engine_for(broken)
            self.assertTrue(str(caught.exception).startswith(
                "not a PostgreSQL URL (postgresql://user@host:port/dbname): "), caught.exception)
            self.assertNotIn(SECRET, str(caught.exception))

    def test_without_port_or_user(self):
        """
        If the URL names no port, then none is shown: postgresql://ann@[::1]/exams; with no
        user either, postgresql://db.example/exams.
        """
        self.assertEqual(engine_for("postgresql://ann@[::1]/exams").location,
                         "postgresql://ann@[::1]/exams")
        self.assertEqual(engine_for("postgresql://db.example/exams").location,
                         "postgresql://db.example/exams")

    def test_other_urls_refused(self):
        """
        If the URL is mysql://, then it is refused: "mysql:// is no database examtwist knows:
        give a SQLite file or postgresql://user@host:port/dbname".
        """
        with self.assertRaises(BadDatabase) as caught:
            engine_for("mysql://ann@127.0.0.1/exams")
        self.assertEqual(
            str(caught.exception),
            "mysql:// is no database examtwist knows: give a SQLite file or"
            " postgresql://user@host:port/dbname",
        )

    def test_a_path_is_sqlite(self):
        """If --db is a path, then the store is that SQLite file, shared with no other node."""
        store = Store(reactor, "exams/examtwist.db")
        self.assertEqual((store.location, store.shared), ("exams/examtwist.db", False))

    def test_twistd_option(self):
        """
        If twistd gets --db postgres://..., then it keeps it; a broken URL is a usage error
        starting "--db: not a PostgreSQL URL", without the password.
        """
        options = Options()
        options.parseOptions(["--db", "postgres://ann@127.0.0.1:5433/exams"])
        self.assertEqual(options["db"], "postgres://ann@127.0.0.1:5433/exams")
        with self.assertRaises(usage.UsageError) as caught:
            Options().parseOptions(["--db", f"postgresql://ann:{SECRET}@[::1/exams"])
        self.assertTrue(str(caught.exception).startswith("--db: not a PostgreSQL URL"))
        self.assertNotIn(SECRET, str(caught.exception))

    def test_without_psycopg(self):
        """
        If psycopg is not installed (no postgres extra), then a PostgreSQL URL is refused
        with what to install.
        """
        before = sys.modules.get("psycopg")
        sys.modules["psycopg"] = None
        self.addCleanup(sys.modules.__setitem__, "psycopg", before)
        with self.assertRaises(BadDatabase) as caught:
            engine_for(f"postgresql://ann:{SECRET}@127.0.0.1/exams")
        self.assertEqual(
            str(caught.exception),
            "postgresql://127.0.0.1 needs psycopg: pip install 'examtwist[postgres]'",
        )


class SilentServerTests(TestCase):
    async def test_health_check_gives_up_on_a_silent_server(self):
        """
        If the server takes the TCP connection and never answers (hung, or half-way
        unreachable), then /healthz says 503 "store not answering" in its time, instead of
        hanging the prober.
        """
        silent = socket.socket()
        silent.bind((LOOPBACK, 0))
        silent.listen()
        self.addCleanup(silent.close)
        port = silent.getsockname()[1]
        url = f"postgresql://ann:{SECRET}@{LOOPBACK}:{port}/exams?connect_timeout=30"
        store = Store(reactor, url)
        started = store.start()
        http = StubTreq(StudentLookup(ExamDesk(store, None, None), reactor, health_timeout=0.5).resource())
        answered = []
        http.get(f"http://{LOOPBACK}/healthz").addCallback(answered.append)
        await eventually(lambda: http.flush() or answered)
        self.assertEqual(answered[0].code, 503)
        self.assertEqual(self.successResultOf(answered[0].content()), b"store not answering\n")
        silent.close()  # resets the waiting connection: the store gives up at once
        with self.assertRaises(psycopg.OperationalError):
            await started
        await store.close()


class PostgresTests(OnPostgres, TestCase):
    async def test_registration_race_between_nodes(self):
        """
        If two nodes insert one username at the same moment (another session holds the table
        until both wait on it), then the database lets exactly one of them have it: 3 rounds,
        3 accounts, each with the winner's hash.
        """
        self.patch(storage, "utc_now", lambda: FROZEN)
        a = await open_store(self)
        b = await open_store(self, a.path)
        for round in range(3):
            blocker = psycopg.connect(a.path)
            self.addCleanup(blocker.close)
            blocker.execute("LOCK TABLE users IN EXCLUSIVE MODE")
            both = gatherResults(
                [a.add_user(f"twin{round}", "from a"), b.add_user(f"twin{round}", "from b")]
            )
            await waiting_for_locks(a.path, 2)
            blocker.commit()
            self.assertEqual(sorted(await both), [False, True])
            winner = "from a" if (await both)[0] else "from b"
            self.assertEqual(await a.get_password_hash(f"twin{round}"), winner)
        self.assertEqual(await a.list_users(),
                         [UserSummary(f"twin{round}", FROZEN, 0) for round in range(3)])

    async def test_goes_on_after_the_server_drops_its_connections(self):
        """
        If the server ends every session of the store (as a restart does), then the next 12
        registrations get new connections and succeed, with nothing logged as an error.
        """
        self.patch(storage, "utc_now", lambda: FROZEN)
        store = await open_store(self)
        # Open every connection of the pool.
        await gatherResults([store.list_tests() for _ in range(PostgresEngine.POOL_SIZE * 3)])
        ended = POSTGRES.execute(
            POSTGRES.admin_url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            f" WHERE datname = '{store.path.rsplit('/', 1)[1]}' AND application_name = 'examtwist'",
        )
        self.assertGreaterEqual(len(ended), 1)
        # As many calls as opened every connection: each thread finds its own dead.
        for i in range(12):
            self.assertTrue(await store.add_user(f"after{i}", "h"))
        self.assertEqual(
            await store.list_users(),
            [UserSummary(name, FROZEN, 0) for name in sorted(f"after{i}" for i in range(12))],
        )
        self.assertEqual(self.flushLoggedErrors(), [])
