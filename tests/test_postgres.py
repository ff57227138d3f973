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

from examtwist.storage.engines import BadDatabase, PostgresEngine, engine_for
from examtwist.storage import Store
from examtwist.tap import Options
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


class URLTests(SynchronousTestCase):
    def test_both_schemes(self):
        for scheme in ("postgresql", "postgres"):
            engine = engine_for(f"{scheme}://ann:{SECRET}@127.0.0.1:5433/exams")
            self.assertIsInstance(engine, PostgresEngine)
            self.assertEqual(engine.location, "postgresql://ann@127.0.0.1:5433/exams")

    def test_password_never_shown(self):
        """Neither where the store says it is, nor a complaint about a broken URL, holds it."""
        store = Store(reactor, f"postgresql://ann:{SECRET}@[::1]:5433/exams?sslmode=require")
        self.assertEqual(store.location, "postgresql://ann@[::1]:5433/exams")
        self.assertTrue(store.shared)
        for broken in [f"postgresql://ann:{SECRET}@[::1/exams",
                       f"postgresql://ann@127.0.0.1/exams?password={SECRET}&port=x y"]:
            with self.assertRaises(BadDatabase) as caught:
                engine_for(broken)
            self.assertIn("not a PostgreSQL URL", str(caught.exception))
            self.assertNotIn(SECRET, str(caught.exception))

    def test_other_urls_refused(self):
        with self.assertRaises(BadDatabase) as caught:
            engine_for("mysql://ann@127.0.0.1/exams")
        self.assertIn("mysql:// is no database examtwist knows", str(caught.exception))

    def test_a_path_is_sqlite(self):
        store = Store(reactor, "exams/examtwist.db")
        self.assertEqual((store.location, store.shared), ("exams/examtwist.db", False))

    def test_twistd_option(self):
        options = Options()
        options.parseOptions(["--db", "postgres://ann@127.0.0.1:5433/exams"])
        self.assertEqual(options["db"], "postgres://ann@127.0.0.1:5433/exams")
        with self.assertRaises(usage.UsageError) as caught:
            Options().parseOptions(["--db", f"postgresql://ann:{SECRET}@[::1/exams"])
        self.assertTrue(str(caught.exception).startswith("--db: not a PostgreSQL URL"))
        self.assertNotIn(SECRET, str(caught.exception))

    def test_without_psycopg(self):
        """A plain install without the postgres extra says what to install."""
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
        A server that takes the TCP connection and never answers (hung, or half-way
        unreachable) makes /healthz say 503 in its time, instead of hanging the prober.
        """
        silent = socket.socket()
        silent.bind((LOOPBACK, 0))
        silent.listen()
        self.addCleanup(silent.close)
        port = silent.getsockname()[1]
        store = Store(reactor, f"postgresql://ann:{SECRET}@{LOOPBACK}:{port}/exams?connect_timeout=30")
        started = store.start()
        http = StubTreq(StudentLookup(store, reactor, health_timeout=0.5).resource())
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
        Two nodes insert one username at the same moment (another session holds the table
        until both wait on it): the database lets exactly one of them have it.
        """
        a = await open_store(self)
        b = await open_store(self, a.path)
        for round in range(3):
            blocker = psycopg.connect(a.path)
            self.addCleanup(blocker.close)
            blocker.execute("LOCK TABLE users IN EXCLUSIVE MODE")
            both = gatherResults([a.add_user(f"twin{round}", "from a"), b.add_user(f"twin{round}", "from b")])
            await waiting_for_locks(a.path, 2)
            blocker.commit()
            self.assertEqual(sorted(await both), [False, True])
            winner = "from a" if (await both)[0] else "from b"
            self.assertEqual(await a.get_password_hash(f"twin{round}"), winner)
        self.assertEqual(len(await a.list_users()), 3)

    async def test_goes_on_after_the_server_drops_its_connections(self):
        """
        The server ends every session of the store (as a restart does): the next calls get new
        connections and succeed, with nothing logged as an error.
        """
        store = await open_store(self)
        # Open every connection of the pool.
        await gatherResults([store.list_tests() for _ in range(PostgresEngine.POOL_SIZE * 3)])
        ended = POSTGRES.execute(
            POSTGRES.admin_url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            f" WHERE datname = '{store.path.rsplit('/', 1)[1]}' AND application_name = 'examtwist'",
        )
        self.assertGreaterEqual(len(ended), 1)
        for _ in range(PostgresEngine.POOL_SIZE * 3):
            self.assertTrue(await store.add_user(f"after{_}", "h"))
        self.assertEqual(len(await store.list_users()), PostgresEngine.POOL_SIZE * 3)
        self.assertEqual(self.flushLoggedErrors(), [])
