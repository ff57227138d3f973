"""
The exam service and the web app are one program: one twistd process, one reactor, one store.
"""

from __future__ import annotations

import os

import treq
from twisted.internet.testing import MemoryReactor
from twisted.trial.unittest import SynchronousTestCase, TestCase

from examtwist.examport import ExamFactory
from examtwist.webguard import GuardedSite
from examtwist.tap import Options, makeService
from examtwist.wire import Reply
from tests.support import LOOPBACK, Twistd, connect, server_options


def listening_socket_inodes(port: int) -> set[str]:
    """The inodes of the sockets listening on this TCP port, from /proc/net/tcp{,6}."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    inodes.add(inode)
    return inodes


def socket_inodes_of(pid: int) -> set[str]:
    """The inodes of every socket the process holds open."""
    inodes = set()
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except FileNotFoundError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    return inodes


class WiringTests(SynchronousTestCase):
    def test_web_option(self) -> None:
        """
        If --web is not given, then the web app listens on tcp:5000:interface=127.0.0.1; if it
        is, then on the endpoint given (tcp6:8080:interface=\\:\\:1).
        """
        options = Options()
        options.parseOptions([])
        self.assertEqual(options["web"], "tcp:5000:interface=127.0.0.1")
        options.parseOptions(["--web", "tcp6:8080:interface=\\:\\:1"])
        self.assertEqual(options["web"], "tcp6:8080:interface=\\:\\:1")

    def test_both_listeners_on_the_one_reactor(self) -> None:
        """
        If makeService is given a reactor, then the exam service (port 6123) and the web app
        (port 5123) both listen on that reactor, after the one desk they share.
        """
        reactor = MemoryReactor()
        service = makeService(
            server_options(self, "--exam", "tcp:6123:interface=127.0.0.1",
                           "--web", "tcp:5123:interface=127.0.0.1", "--teacher", "none"),
            reactor,
        )
        desk, *listeners = service
        self.assertIs(desk, service.desk)
        self.assertEqual([listener.what for listener in listeners], ["Exam service", "Web app"])
        for listener in listeners:
            listener.privilegedStartService()
        listening = {(port, type(factory), backlog, interface)
                     for port, factory, backlog, interface in reactor.tcpServers}
        self.assertEqual(
            listening,
            {(6123, ExamFactory, 1024, "127.0.0.1"), (5123, GuardedSite, 1024, "127.0.0.1")},
        )
        self.assertIs(service.factory.desk, service.desk)


class OneProcessTests(TestCase):
    timeout = 60

    async def test_one_process_serves_both_ports(self) -> None:
        """
        If twistd is started once, then it answers on both ports (a 220 greeting; the page
        for ID 1711 names Karam), that one process holds both listening sockets, and
        stopping it (SIGTERM) ends it by that signal and closes both.
        """
        if not os.path.exists("/proc/net/tcp"):
            raise self.skipTest("needs Linux /proc to see which process holds a socket")
        twistd = Twistd.spawn(self, "--db", "examtwist.db", expect=("Exam service", "Web app"))
        ports = await twistd.started
        exam_port, web_port = ports["Exam service"], ports["Web app"]
        self.assertNotEqual(exam_port, web_port)

        client = await connect(exam_port)
        self.assertEqual(client.greeting, Reply(220, ("Welcome to the server!",)))
        response = await treq.post(
            f"http://{LOOPBACK}:{web_port}/handlelogin", data={"ID": "1711"}, persistent=False
        )
        self.assertEqual(response.code, 200)
        self.assertIn("Karam", await response.text())

        held = socket_inodes_of(twistd.transport.pid)
        for port in (exam_port, web_port):
            inodes = listening_socket_inodes(port)
            self.assertTrue(inodes, f"nothing listens on {port}")
            self.assertLessEqual(inodes, held, f"port {port} is held by another process")

        client.transport.loseConnection()
        # twistd ends the way the signal asked: by SIGTERM (15), as a service manager expects.
        self.assertIsNone(await twistd.terminate())
        self.assertEqual(twistd.signal, 15)
        self.assertIn(b"Server Shut Down.", twistd.output)
        self.assertEqual(listening_socket_inodes(exam_port), set())
        self.assertEqual(listening_socket_inodes(web_port), set())
