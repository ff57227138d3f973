"""
A server that cannot start, as a user or a service manager sees it: twistd ends with status 1
and one line on stderr that says why, and no endpoint accepts a connection unless all listen.
"""

import socket
import sqlite3

from twisted.internet import reactor
from twisted.internet.error import ConnectionRefusedError
from twisted.trial import unittest

from examtwist.service import CannotStart
from examtwist.tap import makeService
from tests.support import (
    StartingTwistd,
    closed_port,
    connect,
    eventually,
    server_options,
    temp_db,
)


def taken_port(testcase) -> int:
    """A loopback port this test listens on, so that twistd cannot."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    testcase.addCleanup(taken.close)
    return taken.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Whether nothing listens on loopback C{port} any more (it can be bound again)."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class StartFailureTests(unittest.TestCase):
    async def failed_start(self, *args: str) -> StartingTwistd:
        """Start twistd with C{args}, and wait for it to end without all of its ports."""
        server = StartingTwistd.spawn(self, *args, expect=("Exam service", "Web app"))
        never_listened = self.assertFailure(server.started, RuntimeError)
        await server.ended
        await never_listened
        return server

    def assertOneLine(self, server: StartingTwistd, line: str) -> None:
        """Status 1, stderr is exactly C{line}, and no traceback on stderr."""
        self.assertEqual((server.exit_code, server.errors.decode().splitlines()),
                         (1, [line]), server.output.decode())
        self.assertNotIn(b"Traceback", server.errors)

    async def test_exam_port_taken(self):
        """
        If the exam port is taken, then twistd exits 1 and its stderr is the one line
        "examtwist: could not listen on tcp:<port>:interface=127.0.0.1: Address already in use".
        """
        port = taken_port(self)
        server = await self.failed_start("--exam", f"tcp:{port}:interface=127.0.0.1")
        self.assertOneLine(server, f"examtwist: could not listen on tcp:{port}:interface=127.0.0.1:"
                                   " Address already in use")
        self.assertEqual(server.ports, {})

    async def test_web_port_taken(self):
        """
        If the web port is taken, then twistd exits 1, its stderr is the one line
        "examtwist: could not listen on tcp:<port>:interface=127.0.0.1: Address already in use",
        and the exam port, which could listen, never accepted a connection: connecting to it is
        refused, and the log has no "Connection 1".
        """
        port = taken_port(self)
        server = await self.failed_start("--web", f"tcp:{port}:interface=127.0.0.1")
        self.assertOneLine(server, f"examtwist: could not listen on tcp:{port}:interface=127.0.0.1:"
                                   " Address already in use")
        self.assertEqual(list(server.ports), ["Exam service"])
        with self.assertRaises(ConnectionRefusedError):
            await connect(server.ports["Exam service"])
        self.assertNotIn(b"Connection 1", server.output)

    async def test_database_unreachable(self):
        """
        If --db is a PostgreSQL URL where nothing listens, then twistd exits 1 and its stderr
        is one line "examtwist: could not open the database postgresql://x@127.0.0.1:<port>/db
        ...: " and the reason, without the password.
        """
        port = closed_port()
        server = StartingTwistd.spawn(
            self, "--db", f"postgresql://x:sesame@127.0.0.1:{port}/db?connect_timeout=2",
        )
        await server.ended
        [line] = server.errors.decode().splitlines()
        self.assertEqual(
            (server.exit_code, line.split(": ", 1)[0],
             line.startswith(f"examtwist: could not open the database postgresql://x@127.0.0.1:"
                             f"{port}/db"), "sesame" in line),
            (1, "examtwist", True, False),
            server.output.decode(),
        )
        self.assertNotIn(b"Traceback", server.errors)

    async def test_database_too_new(self):
        """
        If the SQLite database is at schema version 999, then twistd exits 1 and its stderr is
        the one line "examtwist: could not open the database <path>: the database is at schema
        version 999, newer than this examtwist knows".
        """
        path = temp_db(self)
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
            db.execute("INSERT INTO schema_version VALUES (999)")
        db.close()
        server = StartingTwistd.spawn(self, "--db", path)
        await server.ended
        self.assertOneLine(server, f"examtwist: could not open the database {path}: the database"
                                   " is at schema version 999, newer than this examtwist knows")

    async def test_in_process_start_listens_on_all_or_none(self):
        """
        If the service is started in a running reactor (as a test does) and its web port is
        taken, then startService raises "could not listen on tcp:<port>:interface=127.0.0.1:
        Address already in use", neither listener keeps a port, and the exam port, which could
        listen, is free again.
        """
        web = taken_port(self)
        exam = closed_port()
        service = makeService(server_options(
            self, "--exam", f"tcp:{exam}:interface=127.0.0.1",
            "--web", f"tcp:{web}:interface=127.0.0.1", "--teacher", "none",
        ), reactor)
        with self.assertRaises(CannotStart) as raised:
            service.startService()
        self.assertEqual(
            (str(raised.exception), [(child.what, child.port) for child in list(service)[1:]]),
            (f"could not listen on tcp:{web}:interface=127.0.0.1: Address already in use",
             [("Exam service", None), ("Web app", None)]),
        )
        await eventually(lambda: port_is_free(exam))
