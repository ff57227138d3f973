"""
Two `twistd -n examtwist` nodes on one PostgreSQL database, as a load balancer would spread
students over them: one count, one set of accounts and results, one list of students. Then a
database that goes away and comes back under a running node.
"""

from __future__ import annotations

import csv
import glob
import io
import os
import re
import shutil
import sys
import tempfile
from urllib.parse import urlsplit

import psycopg
import treq
from twisted.internet.defer import gatherResults
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import TestCase

from examtwist.wire import Reply
from tests.support import (
    LOOPBACK,
    MATH_KEY,
    MATH_QUESTIONS,
    POSTGRES,
    OnPostgres,
    Twistd,
    admin_path,
    connect,
    database_url,
    require,
    waiting_for_locks,
)

BOTH = ("Exam service", "Web app")
CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_THROWAWAY = os.path.join(CHECKOUT, "scripts", "pg-throwaway")
TIMESTAMP = re.compile(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z")
REGISTERED = Reply(231, ("Successfully registered!",))


async def get(node_ports: dict[str, int], path: str):
    response = await treq.get(f"http://{LOOPBACK}:{node_ports['Web app']}{path}", persistent=False)
    return response.code, await response.content()


async def admin(*args: str) -> tuple[str, str, int]:
    out, err, code = await getProcessOutputAndValue(admin_path(), list(args), env=os.environ)
    return out.decode(), err.decode(), code


def address(client) -> str:
    """How the server writes a test client's address: 127.0.0.1 and the client's port."""
    return f"{LOOPBACK}:{client.transport.getHost().port}"


class ClusterTests(OnPostgres, TestCase):
    timeout = 120

    async def nodes(self, *args: str, count: int = 2):
        self.db = await POSTGRES.new_database(self)
        nodes = [Twistd.spawn(self, "--db", self.db, *args, expect=BOTH) for _ in range(count)]
        return nodes, [await node.started for node in nodes]

    async def results(self) -> list[dict[str, str]]:
        """`examtwist results --csv`, which must succeed, with its two timestamps checked."""
        out, err, code = await admin("results", "--csv", "--db", self.db)
        self.assertEqual(code, 0, err)
        rows = list(csv.DictReader(io.StringIO(out)))
        for row in rows:
            self.assertRegex(row.pop("started_at"), TIMESTAMP)
            self.assertRegex(row.pop("finished_at"), TIMESTAMP)
        return rows

    async def test_one_count_across_nodes(self):
        """
        If six connections alternate between two nodes with --lucky 4, then the fourth of the
        cluster is the lucky one and lists the addresses of connections 1 to 4 from both
        nodes, in counting order; the others are only welcomed, and each node logs the
        cluster-wide number of its own connections.
        """
        (a, b), ports = await self.nodes("--lucky", "4")
        clients = [await connect(ports[i % 2]["Exam service"]) for i in range(6)]
        addresses = [address(c) for c in clients]
        self.assertEqual([c.greeting for c in clients], [
            Reply(220, ("Welcome to the server!",)),
            Reply(220, ("Welcome to the server!",)),
            Reply(220, ("Welcome to the server!",)),
            Reply(220, ("Congratulations you are the fourth user!!!", *addresses[:4],
                        "Welcome to the server!")),
            Reply(220, ("Welcome to the server!",)),
            Reply(220, ("Welcome to the server!",)),
        ])
        for number, node in enumerate([a, b] * 3, 1):
            self.assertIn(f"Connection {number} from {addresses[number - 1]}".encode(), node.output)

    async def test_registration_race(self):
        """
        If one username is registered on both nodes at the same moment (both pass the check
        for an existing account, then meet at the insert), then one gets 231 and the other
        "553 Username already exists", and the winner's password logs in on the loser's node.
        """
        _, ports = await self.nodes()
        on_a, on_b = [await connect(p["Exam service"]) for p in ports]
        blocker = psycopg.connect(self.db)
        self.addCleanup(blocker.close)
        blocker.execute("LOCK TABLE users IN EXCLUSIVE MODE")
        on_a.send("REGISTER twin first")
        on_b.send("REGISTER twin second")
        await waiting_for_locks(self.db, 2)
        blocker.commit()
        replies = await gatherResults([on_a.reply(), on_b.reply()])
        self.assertEqual(sorted(replies), [REGISTERED, Reply(553, ("Username already exists",))])
        password = "first" if replies[0] == REGISTERED else "second"
        loser = on_b if replies[0] == REGISTERED else on_a
        self.assertEqual(await loser.ask(f"LOGIN twin {password}"),
                         Reply(230, ("Successfully logged in!",)))

    async def test_data_written_on_one_node_is_seen_everywhere(self):
        """
        If ada takes math on node A (80.0), then `examtwist results` shows it, ada logs in on
        node B, and a student added beside them, Nadia Haddad (42, 19), is found by both web
        lookups, which both report healthy.
        """
        _, (on_a, on_b) = await self.nodes()
        student = await connect(on_a["Exam service"])
        self.assertEqual(await student.ask("REGISTER ada lovelace"), REGISTERED)
        self.assertEqual(await student.ask("TAKE math"), MATH_QUESTIONS[0])
        for letter, question in zip(MATH_KEY[:-1], MATH_QUESTIONS[1:]):
            self.assertEqual(await student.ask(letter), question)
        self.assertEqual(await student.ask("B"), Reply(250, ("Your grade is 80.0 (4/5 correct)",)))

        self.assertEqual(await self.results(), [
            {"username": "ada", "test": "math", "outcome": "graded", "grade": "80.0",
             "correct": "4", "answered": "5", "total": "5", "client": address(student)},
        ])

        elsewhere = await connect(on_b["Exam service"])
        self.assertEqual(await elsewhere.ask("LOGIN ada lovelace"),
                         Reply(230, ("Successfully logged in!",)))

        added = await admin("students", "add", "--db", self.db, "Nadia Haddad", "42", "19")
        self.assertEqual(added, ("Added Nadia Haddad, ID 42, age 19\n", "", 0))
        for node in (on_a, on_b):
            self.assertEqual(await get(node, "/api/students/42"),
                             (200, b'{"name": "Nadia Haddad", "id": 42, "age": 19}'))
            self.assertEqual(await get(node, "/healthz"), (200, b"ok\n"))

    async def test_stopping_one_node(self):
        """
        If node A gets SIGTERM while a student on each node is on math question 1, then A's
        student gets "421 Server shutting down" and their test is kept as abandoned, while B's
        student goes on to question 2. Neither log shows the database password; A's names the
        database without it.
        """
        (a, b), (on_a, on_b) = await self.nodes()
        leaving = await connect(on_a["Exam service"])
        staying = await connect(on_b["Exam service"])
        leaving_from = address(leaving)  # while its socket is open
        for client, name in ((leaving, "leaving"), (staying, "staying")):
            self.assertEqual(await client.ask(f"REGISTER {name} pw"), REGISTERED)
            self.assertEqual(await client.ask("TAKE math"), MATH_QUESTIONS[0])
        await a.terminate()
        self.assertEqual((a.exit_code, a.signal), (None, 15))
        self.assertEqual(await leaving.reply(), Reply(421, ("Server shutting down",)))
        self.assertEqual(await staying.ask("B"), MATH_QUESTIONS[1])
        self.assertEqual(await self.results(), [
            {"username": "leaving", "test": "math", "outcome": "abandoned", "grade": "",
             "correct": "0", "answered": "0", "total": "5", "client": leaving_from},
        ])
        self.assertIn(b"Server Shut Down.", a.output)
        url = urlsplit(self.db)
        if url.password:  # pg-throwaway's and CI's URLs have one; a trusted local user may not
            for node in (a, b):
                self.assertNotIn(url.password.encode(), node.output)
        self.assertIn(f"Using the database postgresql://{url.username}@{url.hostname}:{url.port}"
                      f"{url.path}\n".encode(), a.output)


def missing_postgres_binaries() -> str | None:
    """Why scripts/pg-throwaway cannot start a server here, or None if it can."""
    if (os.environ.get("PG_BIN") or glob.glob("/usr/lib/postgresql/*/bin/initdb")
            or shutil.which("initdb")):
        return None
    return ("no initdb: the outage test starts a PostgreSQL server of its own and needs its"
            " server binaries (apt-get install postgresql, or set PG_BIN)")


class DatabaseOutageTests(TestCase):
    """
    A PostgreSQL server of this test's own (scripts/pg-throwaway), stopped and started again
    under a running node.
    """

    timeout = 120

    def setUp(self):
        require(self, missing_postgres_binaries())

    async def throwaway(self, action: str, folder: str) -> str:
        out, err, code = await getProcessOutputAndValue(
            sys.executable, [PG_THROWAWAY, action, folder], env=os.environ
        )
        self.assertEqual(code, 0, err.decode())
        return out.decode().strip()

    async def test_node_rides_out_a_database_restart(self):
        """
        If the database stops under a running node, then /healthz answers 503 and the exam
        port "451 Local error, try again later"; once it is back, /healthz is 200 again,
        registering works on the same connection and new connections are welcomed, without
        the node having ended.
        """
        # Somewhere the postgres user can reach, which trial's temp dirs (mode 0700) are not.
        parent = tempfile.mkdtemp(prefix="examtwist-outage-")
        os.chmod(parent, 0o755)
        self.addCleanup(shutil.rmtree, parent, True)
        folder = os.path.join(parent, "postgres")
        admin_url = await self.throwaway("start", folder)
        self.addCleanup(self.throwaway, "stop", folder)
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute("CREATE DATABASE examtwist")
        node = Twistd.spawn(self, "--db", database_url(admin_url, "examtwist"), expect=BOTH)
        ports = await node.started
        student = await connect(ports["Exam service"])
        self.assertEqual(await get(ports, "/healthz"), (200, b"ok\n"))

        await self.throwaway("stop", folder)
        self.assertEqual(await get(ports, "/healthz"), (503, b"store not answering\n"))
        self.assertEqual(await student.ask("EXAMS"), Reply(451, ("Local error, try again later",)))

        await self.throwaway("start", folder)
        self.assertEqual(await get(ports, "/healthz"), (200, b"ok\n"))
        self.assertEqual(await student.ask("REGISTER back pw"), REGISTERED)
        self.assertEqual((await connect(ports["Exam service"])).greeting,
                         Reply(220, ("Welcome to the server!",)))
        self.assertFalse(node.ended.called)
