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
import shutil
import sys
import tempfile
from urllib.parse import urlsplit

import psycopg
import treq
from twisted.internet.defer import gatherResults
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import SkipTest, TestCase

from examtwist.wire import Reply
from tests.support import (
    LOOPBACK,
    POSTGRES,
    OnPostgres,
    Twistd,
    connect,
    database_url,
    waiting_for_locks,
)
from tests.support import admin_path
from tests.test_protocol import MATH_KEY

BOTH = ("Exam service", "Web app")
CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_THROWAWAY = os.path.join(CHECKOUT, "scripts", "pg-throwaway")


async def get(node_ports: dict[str, int], path: str):
    response = await treq.get(f"http://{LOOPBACK}:{node_ports['Web app']}{path}", persistent=False)
    return response.code, await response.content()


async def admin(*args: str) -> tuple[str, str, int]:
    out, err, code = await getProcessOutputAndValue(admin_path(), list(args), env=os.environ)
    return out.decode(), err.decode(), code


class ClusterTests(OnPostgres, TestCase):
    timeout = 120

    async def nodes(self, *args: str, count: int = 2):
        self.db = await POSTGRES.new_database(self)
        nodes = [Twistd.spawn(self, "--db", self.db, *args, expect=BOTH) for _ in range(count)]
        return nodes, [await node.started for node in nodes]

    async def test_one_count_across_nodes(self):
        """
        Connections alternate between the nodes; the fourth of the cluster is the lucky one
        and lists the addresses from both nodes, in counting order.
        """
        (a, b), ports = await self.nodes("--lucky", "4")
        clients = [await connect(ports[i % 2]["Exam service"]) for i in range(6)]
        addresses = [f"{LOOPBACK}:{c.transport.getHost().port}" for c in clients]
        self.assertEqual(
            clients[3].greeting,
            Reply(220, ("Congratulations you are the fourth user!!!", *addresses[:4],
                        "Welcome to the server!")),
        )
        for c in clients[:3] + clients[4:]:
            self.assertEqual(c.greeting, Reply(220, ("Welcome to the server!",)))
        for number, node in enumerate([a, b] * 3, 1):
            self.assertIn(f"Connection {number} from {addresses[number - 1]}".encode(), node.output)

    async def test_registration_race(self):
        """
        One username registered on both nodes at the same moment (both pass the check for an
        existing account, then meet at the insert): one 231, one 553.
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
        self.assertEqual(sorted(r.code for r in replies), [231, 553])
        self.assertIn(Reply(553, ("Username already exists",)), replies)
        password = "first" if replies[0].code == 231 else "second"
        loser = on_b if replies[0].code == 231 else on_a
        self.assertEqual((await loser.ask(f"LOGIN twin {password}")).code, 230)

    async def test_data_written_on_one_node_is_seen_everywhere(self):
        """
        A grade taken on node A shows in `examtwist results`; an account made on A logs in on
        B; a student added beside them is found by both web lookups.
        """
        _, (on_a, on_b) = await self.nodes()
        student = await connect(on_a["Exam service"])
        self.assertEqual((await student.ask("REGISTER ada lovelace")).code, 231)
        await student.ask("TAKE math")
        for letter in MATH_KEY[:-1]:
            await student.ask(letter)
        self.assertEqual(await student.ask("B"), Reply(250, ("Your grade is 80.0 (4/5 correct)",)))

        out, err, code = await admin("results", "--csv", "--db", self.db)
        self.assertEqual(code, 0, err)
        [row] = list(csv.DictReader(io.StringIO(out)))
        self.assertEqual((row["username"], row["test"], row["grade"]), ("ada", "math", "80.0"))

        elsewhere = await connect(on_b["Exam service"])
        self.assertEqual((await elsewhere.ask("LOGIN ada lovelace")).code, 230)

        out, err, code = await admin("students", "add", "--db", self.db, "Nadia Haddad", "42", "19")
        self.assertEqual(code, 0, err)
        for node in (on_a, on_b):
            self.assertEqual(await get(node, "/api/students/42"),
                             (200, b'{"name": "Nadia Haddad", "id": 42, "age": 19}'))
            self.assertEqual(await get(node, "/healthz"), (200, b"ok\n"))

    async def test_stopping_one_node(self):
        """
        SIGTERM drains node A (its students get 421 and their tests are kept as abandoned)
        while node B's students go on. Neither log shows the database password.
        """
        (a, b), (on_a, on_b) = await self.nodes()
        leaving = await connect(on_a["Exam service"])
        staying = await connect(on_b["Exam service"])
        for client, name in ((leaving, "leaving"), (staying, "staying")):
            await client.ask(f"REGISTER {name} pw")
            await client.ask("TAKE math")
        await a.terminate()
        self.assertEqual(await leaving.reply(), Reply(421, ("Server shutting down",)))
        self.assertEqual((await staying.ask("B")).lines[0], "Question 2 of 5")
        out, err, code = await admin("results", "--csv", "--db", self.db)
        rows = list(csv.DictReader(io.StringIO(out)))
        self.assertEqual([(r["username"], r["status"]) for r in rows], [("leaving", "abandoned")])
        self.assertIn(b"Server Shut Down.", a.output)
        password = urlsplit(self.db).password
        if password:
            for node in (a, b):
                self.assertNotIn(password.encode(), node.output)
            self.assertIn(b"Using the database postgresql://", a.output)


def missing_postgres_binaries() -> str | None:
    if os.environ.get("PG_BIN") or glob.glob("/usr/lib/postgresql/*/bin/initdb") or shutil.which("initdb"):
        return None
    return "needs PostgreSQL's server binaries to start a server of its own (apt-get install postgresql)"


class DatabaseOutageTests(TestCase):
    """
    A PostgreSQL server of this test's own (scripts/pg-throwaway), stopped and started again
    under a running node.
    """

    timeout = 120
    skip = missing_postgres_binaries() if not os.environ.get("CI") else None

    async def throwaway(self, action: str, folder: str) -> str:
        out, err, code = await getProcessOutputAndValue(
            sys.executable, [PG_THROWAWAY, action, folder], env=os.environ
        )
        self.assertEqual(code, 0, err.decode())
        return out.decode().strip()

    async def test_node_rides_out_a_database_restart(self):
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
        self.assertEqual((await student.ask("REGISTER back pw")).code, 231)
        self.assertEqual((await connect(ports["Exam service"])).greeting.code, 220)
        self.assertFalse(node.ended.called)
