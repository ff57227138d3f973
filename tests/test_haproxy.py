"""
Listening behind HAProxy's PROXY protocol: the header read before the protocol behind is
connected (on a StringTransport and a Clock), the C{haproxy:} endpoint strings, and the whole
server behind a real HAProxy, with students on 127.0.0.2 and 127.0.0.3.
"""

from __future__ import annotations

import os
import re
import shutil
import socket

from twisted.internet import reactor
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectError, ConnectionDone, ConnectionRefusedError
from twisted.internet.protocol import Factory, ProcessProtocol, Protocol
from twisted.internet.task import Clock, deferLater
from twisted.internet.testing import MemoryReactor, StringTransport
from twisted.internet.utils import getProcessOutputAndValue
from twisted.logger import formatEvent, globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from examtwist.proxied import HeaderFirstFactory
from examtwist.examport import ExamFactory
from examtwist.tap import listening_endpoint, makeService
from examtwist.webguard import GuardedSite
from examtwist.wire import Reply

from tests.support import (
    LOOPBACK, connect_from, listening_port, require, server_options, start_server, temp_dir,
)

BALANCER = IPv4Address("TCP", "10.0.0.2", 40000)
NODE = IPv4Address("TCP", "10.0.0.11", 6666)

# The same connection, from 192.0.2.7 port 51234 to 10.0.0.11 port 6666, in each header form.
V1_TCP4 = b"PROXY TCP4 192.0.2.7 10.0.0.11 51234 6666\r\n"
V2_PREFIX = b"\r\n\r\n\x00\r\nQUIT\n"
V2_TCP4 = (V2_PREFIX + b"\x21"  # version 2, PROXY
           + b"\x11\x00\x0c"  # TCP over IPv4, 12 bytes of addresses
           + b"\xc0\x00\x02\x07" + b"\x0a\x00\x00\x0b"  # 192.0.2.7, 10.0.0.11
           + b"\xc8\x22" + b"\x1a\x0a")  # 51234, 6666
V2_TCP6 = (V2_PREFIX + b"\x21"
           + b"\x21\x00\x24"  # TCP over IPv6, 36 bytes of addresses
           + b"\x20\x01\x0d\xb8" + b"\x00" * 11 + b"\x07"  # 2001:db8::7
           + b"\x20\x01\x0d\xb8" + b"\x00" * 11 + b"\x0b"  # 2001:db8::b
           + b"\xc8\x22" + b"\x1a\x0a")


class Recorder(Protocol):
    """The protocol behind the wrapper: writes down the addresses it saw and what it got."""

    def __init__(self) -> None:
        self.peers: list[tuple] = []
        self.received = b""
        self.lost = False

    def connectionMade(self) -> None:
        self.peers.append((self.transport.getPeer(), self.transport.getHost()))

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason) -> None:
        self.lost = True

    def seen(self) -> tuple:
        return (list(self.peers), self.received, self.lost)


def from_balancer(factory: HeaderFirstFactory):
    """A connection from the balancer to the wrapping factory: (wrapper, transport, recorder)."""
    wrapper = factory.buildProtocol(BALANCER)
    transport = StringTransport(hostAddress=NODE, peerAddress=BALANCER)
    wrapper.makeConnection(transport)
    return wrapper, transport, wrapper.wrappedProtocol


def wrapping(clock=None, timeout: float = 5.0) -> HeaderFirstFactory:
    return HeaderFirstFactory(Factory.forProtocol(Recorder), clock or Clock(), timeout)


def in_chunks(wrapper, data: bytes, size: int) -> None:
    for start in range(0, len(data), size):
        wrapper.dataReceived(data[start:start + size])


class HeaderTests(SynchronousTestCase):
    def test_not_connected_before_the_header(self) -> None:
        """
        If all of a v1 header but its last byte has arrived, then the protocol behind has not
        been connected; once that byte arrives it is, with the client's address as its peer,
        and the line after the header reaches it.
        """
        wrapper, transport, recorder = from_balancer(wrapping())
        wrapper.dataReceived(V1_TCP4[:-1])
        before = recorder.seen()
        wrapper.dataReceived(V1_TCP4[-1:] + b"HELP\r\n")
        self.assertEqual(
            (before, recorder.seen()),
            (([], b"", False),
             ([(IPv4Address("TCP", "192.0.2.7", 51234), NODE)], b"HELP\r\n", False)),
        )

    def test_header_in_chunks(self) -> None:
        """
        If a v1 or v2 header and a line after it arrive in chunks of 1 to 9 bytes, then the
        protocol behind is connected once, its peer is the client (192.0.2.7 port 51234, or
        2001:db8::7, which Twisted writes 2001:db8:0:0:0:0:0:7), its host the node (10.0.0.11
        port 6666, or 2001:db8::b), and it gets the line whole; nothing is written back and the
        connection stays open.
        """
        seen = {}
        for name, header in [("v1", V1_TCP4), ("v2", V2_TCP4), ("v2 IPv6", V2_TCP6)]:
            for size in range(1, 10):
                wrapper, transport, recorder = from_balancer(wrapping())
                in_chunks(wrapper, header + b"HELP\r\n", size)
                seen[name, size] = (recorder.peers, wrapper.getPeer(), recorder.received,
                                    transport.value(), transport.disconnecting)
        client4 = IPv4Address("TCP", "192.0.2.7", 51234)
        client6 = IPv6Address("TCP", "2001:db8:0:0:0:0:0:7", 51234)
        node6 = IPv6Address("TCP", "2001:db8:0:0:0:0:0:b", 6666)
        expected = {}
        for size in range(1, 10):
            expected["v1", size] = ([(client4, NODE)], client4, b"HELP\r\n", b"", False)
            expected["v2", size] = ([(client4, NODE)], client4, b"HELP\r\n", b"", False)
            expected["v2 IPv6", size] = ([(client6, node6)], client6, b"HELP\r\n", b"", False)
        self.assertEqual(seen, expected)

    def test_garbage_closes_without_a_word(self) -> None:
        """
        If what arrives first is not a PROXY header (a student's HELP, a v1 header with an
        address missing, a port that is no number, 110 bytes without a line end, a v2 header of
        version 1 or of address family 4, HTTP after v2's first bytes), whole or in chunks of
        1 to 9 bytes, then the connection is closed with nothing written, and the protocol
        behind never hears of it, not even when the connection is lost.
        """
        garbage = {
            "student": b"HELP\r\n",
            "address missing": b"PROXY TCP4 192.0.2.7\r\n",
            "port no number": b"PROXY TCP4 192.0.2.7 10.0.0.11 port 6666\r\n",
            "no line end": b"PROXY " + b"x" * 110,
            "v2 version 1": V2_PREFIX + b"\x11" + V2_TCP4[13:],
            "v2 family 4": V2_PREFIX + b"\x21\x41" + V2_TCP4[14:],
            "http after v2's start": b"\r\n\r\nGET / HTTP/1.0\r\n\r\n",
        }
        seen = {}
        for name, data in garbage.items():
            for size in range(1, 10):
                factory = wrapping()
                wrapper, transport, recorder = from_balancer(factory)
                in_chunks(wrapper, data, size)
                closed, written = transport.disconnecting, transport.value()
                wrapper.connectionLost(Failure(ConnectionDone()))
                seen[name, size] = (closed, written, recorder.seen(), factory.protocols)
        expected = {(name, size): (True, b"", ([], b"", False), {})
                    for name in garbage for size in range(1, 10)}
        self.assertEqual(seen, expected)

    def test_slow_header(self) -> None:
        """
        If the header is not whole 5 s after the connection opened, then the connection is
        closed with nothing written (still open at 4.9 s), and the protocol behind never hears
        of it; a header that arrives in time leaves no timer behind.
        """
        clock = Clock()
        wrapper, transport, recorder = from_balancer(wrapping(clock))
        wrapper.dataReceived(V1_TCP4[:10])
        clock.advance(4.9)
        at_4_9 = transport.disconnecting
        clock.advance(0.1)
        at_5 = (transport.disconnecting, transport.value())
        wrapper.dataReceived(V1_TCP4[10:])
        wrapper.connectionLost(Failure(ConnectionDone()))
        self.assertEqual((at_4_9, at_5, recorder.seen()), (False, (True, b""), ([], b"", False)))

        wrapper, transport, recorder = from_balancer(wrapping(clock))
        wrapper.dataReceived(V2_TCP4)
        self.assertEqual((clock.getDelayedCalls(), transport.disconnecting), ([], False))

    def test_timeout_zero_waits_as_long_as_it_takes(self) -> None:
        """If the timeout is 0, then no timer is set and the header may take its time."""
        clock = Clock()
        wrapper, transport, recorder = from_balancer(wrapping(clock, timeout=0))
        self.assertEqual(clock.getDelayedCalls(), [])
        clock.advance(3600)
        wrapper.dataReceived(V1_TCP4)
        self.assertEqual(recorder.peers, [(IPv4Address("TCP", "192.0.2.7", 51234), NODE)])

    def test_lost_after_the_header(self) -> None:
        """If a connection with its header read is lost, then the protocol behind is told."""
        factory = wrapping()
        wrapper, transport, recorder = from_balancer(factory)
        wrapper.dataReceived(V2_TCP4)
        wrapper.connectionLost(Failure(ConnectionDone()))
        self.assertEqual((recorder.lost, factory.protocols), (True, {}))

    def test_refused_in_connection_made(self) -> None:
        """
        If the protocol behind closes the connection as it is connected (too many from that
        address), then the line that came with the header does not reach it.
        """

        class Refusing(Recorder):
            def connectionMade(self) -> None:
                super().connectionMade()
                self.transport.loseConnection()

        factory = HeaderFirstFactory(Factory.forProtocol(Refusing), Clock())
        wrapper, transport, recorder = from_balancer(factory)
        wrapper.dataReceived(V1_TCP4 + b"HELP\r\n")
        self.assertEqual((recorder.received, transport.disconnecting), (b"", True))

    def test_stop_listening_drops_those_waiting(self) -> None:
        """
        If the port stops listening, then a connection still waiting for its header is closed
        without a word, and one whose header was read stays open.
        """
        factory = wrapping()
        factory.doStart()
        waiting, waiting_transport, _ = from_balancer(factory)
        waiting.dataReceived(V1_TCP4[:10])
        served, served_transport, _ = from_balancer(factory)
        served.dataReceived(V1_TCP4)
        factory.doStop()
        self.assertEqual(
            [(t.disconnecting, t.value()) for t in (waiting_transport, served_transport)],
            [(True, b""), (False, b"")],
        )


class EndpointStringTests(SynchronousTestCase):
    def test_haproxy_prefix(self) -> None:
        """
        If an endpoint string starts haproxy:, then the rest says where to listen, with a
        listen queue of 1024 unless it sets backlog=7, and every connection goes through the
        header reader before reaching the factory given.
        """
        reactor = MemoryReactor()
        factory = Factory.forProtocol(Recorder)
        listening_endpoint(reactor, "haproxy:tcp:7777:interface=127.0.0.2").listen(factory)
        listening_endpoint(reactor, "HAProxy:tcp:7778:backlog=7").listen(factory)
        self.assertEqual(
            [(port, type(wrapper), wrapper.wrappedFactory, wrapper.clock, backlog, interface)
             for port, wrapper, backlog, interface in reactor.tcpServers],
            [(7777, HeaderFirstFactory, factory, reactor, 1024, "127.0.0.2"),
             (7778, HeaderFirstFactory, factory, reactor, 7, "")],
        )

    def test_both_ports_behind_haproxy(self) -> None:
        """
        If --exam and --web both start haproxy:, then the exam factory and the web site each
        listen behind a header reader, on ports 7777 and 7778.
        """
        reactor = MemoryReactor()
        options = server_options(self, "--exam", "haproxy:tcp:7777", "--web", "haproxy:tcp:7778",
                                 "--teacher", "none")
        service = makeService(options, reactor)
        for listener in list(service)[1:]:
            listener.privilegedStartService()
        self.assertEqual(
            [(port, type(wrapper), type(wrapper.wrappedFactory))
             for port, wrapper, _, _ in reactor.tcpServers],
            [(7777, HeaderFirstFactory, ExamFactory), (7778, HeaderFirstFactory, GuardedSite)],
        )


# The whole server behind a real HAProxy.

HAPROXY_CONFIG = """\
defaults
    timeout connect 5s
    timeout client 60s
    timeout server 60s

# Bound with the others, it turns every connection away: the test knows HAProxy is listening
# once a connection here succeeds, without sending one to the server behind.
frontend ready
    mode tcp
    bind 127.0.0.1:{ready_port}
    tcp-request connection reject

frontend exam
    mode tcp
    bind 127.0.0.1:{exam_port}
    default_backend exam_nodes

backend exam_nodes
    mode tcp
    server s1 127.0.0.1:{node_exam_port} send-proxy-v2

frontend web
    mode http
    bind 127.0.0.1:{web_port}
    default_backend web_nodes

backend web_nodes
    mode http
    server s1 127.0.0.1:{node_web_port} send-proxy-v2
"""


def haproxy_path() -> str | None:
    return shutil.which("haproxy") or next(
        (path for path in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if os.path.exists(path)),
        None)


def free_ports(count: int) -> list[int]:
    """Ports nothing listens on just now, on 127.0.0.1."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind((LOOPBACK, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class HAProxyProcess(ProcessProtocol):
    """C{haproxy -f CONFIG -db} as a child process: its output, and when it ended."""

    def __init__(self) -> None:
        self.output = b""
        self.ended: Deferred[None] = Deferred()

    def outReceived(self, data: bytes) -> None:
        self.output += data

    errReceived = outReceived

    def processEnded(self, reason) -> None:
        self.ended.callback(None)

    def stop(self):
        if not self.ended.called:
            self.transport.signalProcess("KILL")
        return self.ended


class RawClient(Protocol):
    """Keeps what it gets; L{closed} fires once the other side has closed."""

    def __init__(self) -> None:
        self.data = b""
        self.closed: Deferred[None] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason) -> None:
        self.closed.callback(None)


async def start_haproxy(testcase, node_exam_port: int, node_web_port: int) -> tuple[int, int]:
    """
    A HAProxy in front of a node's exam and web ports, sending PROXY v2 headers to both; the
    exam and web ports it listens on.
    """
    path = haproxy_path()
    require(testcase, None if path else "no haproxy to test with (Debian's haproxy package)")
    exam_port, web_port, ready_port = free_ports(3)
    config = os.path.join(temp_dir(testcase), "haproxy.cfg")
    with open(config, "w") as f:
        f.write(HAPROXY_CONFIG.format(
            exam_port=exam_port, web_port=web_port, ready_port=ready_port,
            node_exam_port=node_exam_port, node_web_port=node_web_port))
    process = HAProxyProcess()
    reactor.spawnProcess(process, path, [path, "-f", config, "-db"], env=os.environ.copy())
    testcase.addCleanup(process.stop)
    probe = TCP4ClientEndpoint(reactor, LOOPBACK, ready_port)
    for _ in range(500):
        if process.ended.called:
            break
        try:
            await connectProtocol(probe, Protocol())
        except ConnectionRefusedError:
            await deferLater(reactor, 0.02, lambda: None)
            continue
        except ConnectError:
            pass  # turned away so fast that the connection was reset: HAProxy is listening
        return exam_port, web_port
    raise AssertionError(f"haproxy did not listen:\n{process.output.decode(errors='replace')}")


async def goodbye(*clients) -> list[Reply]:
    """QUIT on each client still open; the replies, and every connection closed."""
    replies = [await client.ask("QUIT") for client in clients if not client.is_closed]
    for client in clients:
        await client.closed
    return replies


class BehindHAProxyTests(TestCase):
    async def behind_haproxy(self, *options: str) -> int:
        """
        The server with both ports on haproxy:tcp:0, behind a real HAProxy; HAProxy's exam
        port (and its web port in C{self.web_port}).
        """
        self.events: list[dict] = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)
        service, node_exam_port = await start_server(
            self, "--exam", f"haproxy:tcp:0:interface={LOOPBACK}",
            "--web", f"haproxy:tcp:0:interface={LOOPBACK}", *options)
        node_web_port = listening_port(service, "Web app")
        port, self.web_port = await start_haproxy(self, node_exam_port, node_web_port)
        return port

    async def test_lucky_greeting_and_log_name_the_students(self):
        """
        If students on 127.0.0.2 and 127.0.0.3 connect through HAProxy and the second
        connection is lucky, then its greeting lists 127.0.0.2 and 127.0.0.3 with each
        student's own port, and the log says each connection came from there.
        """
        port = await self.behind_haproxy("--lucky", "2")
        first = await connect_from(port, "127.0.0.2")
        second = await connect_from(port, "127.0.0.3")
        first_at = f"127.0.0.2:{first.transport.getHost().port}"
        second_at = f"127.0.0.3:{second.transport.getHost().port}"
        self.assertEqual(
            (first.greeting, second.greeting),
            (Reply(220, ("Welcome to the server!",)),
             Reply(220, ("Congratulations you are the second user!!!", first_at, second_at,
                         "Welcome to the server!"))),
        )
        self.assertEqual(await goodbye(first, second), [Reply(221, ("Bye",))] * 2)
        self.assertEqual(
            [(e["number"], e["address"]) for e in self.events
             if e.get("log_format") == "Connection {number} from {address}"],
            [(1, first_at), (2, second_at)],
        )

    async def test_one_connection_per_address(self):
        """
        If one connection per address is allowed, then through HAProxy a second connection
        from 127.0.0.2 is told C{421 Too many connections from your address} and closed, while
        one from 127.0.0.3 is welcomed.
        """
        port = await self.behind_haproxy("--max-per-address", "1")
        first = await connect_from(port, "127.0.0.2")
        again = await connect_from(port, "127.0.0.2")
        await again.closed
        other = await connect_from(port, "127.0.0.3")
        self.assertEqual(
            (first.greeting, again.greeting, other.greeting),
            (Reply(220, ("Welcome to the server!",)),
             Reply(421, ("Too many connections from your address",)),
             Reply(220, ("Welcome to the server!",))),
        )
        self.assertEqual(await goodbye(first, again, other), [Reply(221, ("Bye",))] * 2)

    async def lookup(self, source: str) -> str:
        """Look student 1800 up through HAProxy's web port from C{source}; the status line."""
        endpoint = TCP4ClientEndpoint(reactor, LOOPBACK, self.web_port, bindAddress=(source, 0))
        client = await connectProtocol(endpoint, RawClient())
        client.transport.write(b"GET /api/students/1800 HTTP/1.0\r\nHost: exams\r\n\r\n")
        await client.closed
        return client.data.split(b"\r\n", 1)[0].decode()

    async def test_web_lookups_limited_per_student(self):
        """
        If each address may look up one ID a minute, then through HAProxy 127.0.0.2's second
        lookup is answered 429 while 127.0.0.3's first is answered, and the access log names
        127.0.0.2 twice and 127.0.0.3 once.
        """
        await self.behind_haproxy("--lookup-burst", "1", "--lookup-interval", "60")
        statuses = [await self.lookup(source) for source in ("127.0.0.2", "127.0.0.2", "127.0.0.3")]
        self.assertEqual(statuses, ["HTTP/1.0 200 OK", "HTTP/1.0 429 Too Many Requests",
                                    "HTTP/1.0 200 OK"])
        logged = [formatEvent(event) for event in self.events]
        self.assertEqual([sum(f'"{client}" - - ' in text for text in logged)
                          for client in ("127.0.0.2", "127.0.0.3", LOOPBACK)], [2, 1, 0])


DEPLOY_PAGE = os.path.join(os.path.dirname(__file__), "..", "docs", "deploy.md")


class DeployPageTests(TestCase):
    def setUp(self) -> None:
        with open(DEPLOY_PAGE, encoding="utf-8") as f:
            self.page = f.read()
        section = self.page[self.page.index("## HAProxy in front"):]
        self.config = section.split("```\n")[1]

    async def test_example_is_valid(self):
        """
        If HAProxy checks docs/deploy.md's example configuration, then it finds it valid.
        """
        require(self, None if haproxy_path() else "no haproxy to test with (Debian's haproxy)")
        path = os.path.join(temp_dir(self), "haproxy.cfg")
        with open(path, "w") as f:
            f.write(self.config)
        out, err, code = await getProcessOutputAndValue(haproxy_path(), ["-c", "-f", path])
        self.assertEqual((code, out, err), (0, b"Configuration file is valid\n", b""))

    def test_example_names_the_students(self):
        """
        If a school follows docs/deploy.md, then HAProxy sends each exam node a PROXY v2 header
        and each web node X-Forwarded-For, and every node listens with
        --exam haproxy:tcp:6666:interface=0.0.0.0 (haproxy:systemd:domain=INET:index=0 in the
        systemd unit) and believes --trusted-proxy 10.0.0.10.
        """
        backends: dict[str, list[str]] = {}
        for block in re.split(r"\n(?=\S)", self.config):
            name, *lines = block.strip().splitlines()
            if name.startswith("backend "):
                backends[name.split()[1]] = [line.strip() for line in lines if
                                             line.strip().startswith(("server", "option forw"))]
        self.assertEqual(backends, {
            "exam_nodes": ["server node1 10.0.0.11:6666 check port 5000 send-proxy-v2",
                           "server node2 10.0.0.12:6666 check port 5000 send-proxy-v2"],
            "web_nodes": ["option forwardfor", "server node1 10.0.0.11:5000 check",
                          "server node2 10.0.0.12:5000 check"],
        })
        self.assertEqual(
            re.findall(r"^\s+(--(?:exam|web) .*?)(?: \\)?$", self.page, re.MULTILINE),
            ["--exam haproxy:tcp:6666:interface=0.0.0.0",
             "--web tcp:5000:interface=0.0.0.0 --trusted-proxy 10.0.0.10",
             "--exam haproxy:systemd:domain=INET:index=0",
             "--web systemd:domain=INET:index=1 --trusted-proxy 10.0.0.10"],
        )
