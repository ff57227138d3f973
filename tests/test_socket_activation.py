"""
Socket activation: C{twistd -n examtwist} started by C{systemd-socket-activate}, as systemd's
socket unit would start it, listening on the sockets it is handed (C{systemd:} endpoints).
"""

from __future__ import annotations

import os

import treq
from twisted.internet import reactor
from twisted.trial.unittest import TestCase

from examtwist.wire import Reply

from tests.support import (
    FAST_HASH, LOOPBACK, V1_PASSWORDS, WatchedTwistd, closed_port, connect, require, temp_db,
    temp_dir, twistd_path,
)

SOCKET_ACTIVATE = "/usr/bin/systemd-socket-activate"


class SocketActivationTests(TestCase):
    def activated(self, exam_endpoint: str) -> tuple[WatchedTwistd, int, int]:
        """
        C{systemd-socket-activate} on two free loopback ports, to start twistd with
        C{--exam exam_endpoint --web systemd:domain=INET:index=1} on the first connection.

        @return: the process, the exam port and the web port.
        """
        require(self, None if os.path.exists(SOCKET_ACTIVATE) else
                f"no {SOCKET_ACTIVATE} (Debian's systemd package)")
        exam, web = closed_port(), closed_port()
        server = WatchedTwistd(expect=("Exam service", "Web app"))
        # --fdname: systemd itself always names the sockets (LISTEN_FDNAMES), and Twisted
        # takes no socket from an environment without names.
        argv = [SOCKET_ACTIVATE, "-l", f"{LOOPBACK}:{exam}", "-l", f"{LOOPBACK}:{web}",
                "--fdname=exam:web",
                twistd_path(), "--nodaemon", "--pidfile=", "examtwist",
                "--exam", exam_endpoint, "--web", "systemd:domain=INET:index=1",
                "--teacher", "none",
                "--db", temp_db(self), *FAST_HASH, *V1_PASSWORDS]
        reactor.spawnProcess(server, argv[0], argv, env=os.environ.copy(), path=temp_dir(self))
        self.addCleanup(server.kill)
        return server, exam, web

    async def test_listens_on_the_sockets_systemd_hands_over(self) -> None:
        """
        If systemd holds the exam and web ports and starts twistd with
        --exam systemd:domain=INET:index=0 --web systemd:domain=INET:index=1, then a student
        connecting gets 220 Welcome to the server!, /healthz answers 200 "ok\\n", and SIGTERM
        ends the server cleanly.
        """
        server, exam, web = self.activated("systemd:domain=INET:index=0")
        # systemd-socket-activate starts twistd when this first connection arrives.
        await server.logged(f"Listening on {LOOPBACK}:{web}")
        client = await connect(exam)
        self.assertEqual(client.greeting, Reply(220, ("Welcome to the server!",)))
        self.assertEqual(await server.started, {"Exam service": exam, "Web app": web})

        response = await treq.get(f"http://{LOOPBACK}:{web}/healthz", persistent=False)
        self.assertEqual((response.code, await response.text()), (200, "ok\n"))

        await server.terminate()
        self.assertEqual((server.exit_code, server.signal), (None, 15))
        self.assertEqual(await client.reply(), Reply(421, ("Server shutting down",)))
        self.assertIn(b"Server Shut Down.", server.output)
        self.assertNotIn(b"Traceback", server.output)

    async def test_proxied_socket_from_systemd(self) -> None:
        """
        If the exam port is --exam haproxy:systemd:domain=INET:index=0, then a connection that
        starts with a PROXY header naming 192.0.2.7 gets 220 Welcome to the server!, and the
        log names 192.0.2.7 as the student.
        """
        server, exam, web = self.activated("haproxy:systemd:domain=INET:index=0")
        # The PROXY header, as HAProxy's send-proxy sends it, ahead of the first line.
        await server.logged(f"Listening on {LOOPBACK}:{web}")
        client = await connect(exam, greeting=False)
        client.transport.write(b"PROXY TCP4 192.0.2.7 127.0.0.1 51234 6666\r\n")
        self.assertEqual(await client.reply(), Reply(220, ("Welcome to the server!",)))
        await server.logged("Connection 1 from 192.0.2.7:51234")
        self.assertEqual(await server.started, {"Exam service": exam, "Web app": web})
        await server.terminate()
        self.assertEqual((server.exit_code, server.signal), (None, 15))
