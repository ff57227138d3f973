"""
The web port's protections. Over real sockets, the whole server runs in this process (both
ports) and clients on 127.0.0.1 speak raw HTTP, with 127.0.0.2 and 127.0.0.3 standing for
other machines (the client socket is bound before it connects). The lookup limit's arithmetic,
the request deadline and the client address behind a proxy are checked on a Clock.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from twisted.internet import reactor
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IHalfCloseableProtocol, IPullProducer
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock, LoopingCall, deferLater
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import formatEvent, globalLogPublisher
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.http_headers import Headers
from twisted.web.resource import Resource
from zope.interface import implementer

from examtwist import webguard
from examtwist.ratelimit import RateLimit, client_key
from examtwist.tap import Options
from examtwist.webguard import GuardedSite, WebLimits, parse_proxies
from tests.support import LOOPBACK, connect, eventually, listening_port, start_server

MIB = 1024 * 1024
OTHER = "127.0.0.2"
THIRD = "127.0.0.3"
SARA = {"name": "Sara", "id": 1800, "age": 23}
TOO_LARGE = (b"HTTP/1.1 413 Content Too Large\r\nConnection: close\r\n"
             b"Content-Type: text/plain; charset=utf-8\r\nContent-Length: 26\r\n\r\n"
             b"The request is too large.\n")
TOO_SLOW = (b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\nContent-Length: 37\r\n\r\n"
            b"The request took too long to arrive.\n")
TOO_MANY = (b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\nContent-Length: 40\r\n\r\n"
            b"Too many connections from your address.\n")
HEADERS_TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n"
                     b"Content-Type: text/plain; charset=utf-8\r\nContent-Length: 37\r\n\r\n"
                     b"The request's headers are too large.\n")


class Answer(NamedTuple):
    status: str
    headers: dict[str, str]
    body: bytes


def parse_answer(data: bytes) -> Answer:
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(status, headers, body)


def request(method: str, path: str, *headers: str, body: bytes = b"") -> bytes:
    """An HTTP/1.0 request: the server closes the connection after its answer."""
    lines = [f"{method} {path} HTTP/1.0", f"Host: {LOOPBACK}", *headers]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def form(student_id: str, *headers: str) -> bytes:
    return request("POST", "/handlelogin", "Content-Type: application/x-www-form-urlencoded",
                   *headers, body=b"ID=" + student_id.encode())


class RawClient(Protocol):
    """Writes what it is told and keeps what it gets; L{closed} fires with the time it ends."""

    def __init__(self) -> None:
        self.data = b""
        self.answered: Deferred[float] = Deferred()
        self.closed: Deferred[float] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.data += data
        if not self.answered.called:
            self.answered.callback(reactor.seconds())

    def connectionLost(self, reason) -> None:
        self.closed.callback(reactor.seconds())


@implementer(IHalfCloseableProtocol)
class StubbornClient(RawClient):
    """A client that goes on sending after the server has said its last and shut its side."""

    def readConnectionLost(self) -> None:
        pass

    def writeConnectionLost(self) -> None:
        pass


async def open_raw(port: int, source: str = LOOPBACK, client: type = RawClient) -> RawClient:
    endpoint = TCP4ClientEndpoint(reactor, LOOPBACK, port, bindAddress=(source, 0))
    return await connectProtocol(endpoint, client())


async def exchange(port: int, data: bytes, source: str = LOOPBACK) -> Answer:
    """Send C{data} from C{source}; the answer, read until the server closes."""
    client = await open_raw(port, source)
    client.transport.write(data)
    await client.closed
    return parse_answer(client.data)


@implementer(IPullProducer)
class Upload:
    """A body of C{total} bytes, given to the transport as fast as it takes them."""

    PIECE = b"9" * 65536

    def __init__(self, transport, total: int, chunked: bool) -> None:
        self.transport = transport
        self.left = total
        self.chunked = chunked
        self.sent = 0
        transport.registerProducer(self, False)

    def resumeProducing(self) -> None:
        piece = self.PIECE[: self.left]
        self.left -= len(piece)
        self.sent += len(piece)
        self.transport.write(b"%x\r\n%s\r\n" % (len(piece), piece) if self.chunked else piece)
        if not self.left:
            if self.chunked:
                self.transport.write(b"0\r\n\r\n")
            self.transport.unregisterProducer()

    def stopProducing(self) -> None:
        self.left = 0


def web_site(service) -> GuardedSite:
    return next(child for child in service if getattr(child, "what", None) == "Web app").factory


class ServerTestCase(TestCase):
    """The whole server on free ports, with a refused connection's grace cut to 0.2 s."""

    options: tuple[str, ...] = ()

    async def setUp(self):
        self.patch(webguard, "CLOSE_GRACE", 0.2)
        self.service, self.exam_port = await start_server(self, *self.options)
        self.port = listening_port(self.service, "Web app")
        self.site = web_site(self.service)
        # Before the server stops: every web connection has ended, refused ones included.
        self.addCleanup(lambda: ensureDeferred(eventually(lambda: self.site.connections == 0)))
        self.events: list[dict] = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def logged(self, words: str) -> list[str]:
        return [text for text in map(formatEvent, self.events) if words in text]


class BodyTests(ServerTestCase):
    async def upload(self, chunked: bool) -> None:
        exam = await connect(self.exam_port)
        client = await open_raw(self.port, client=StubbornClient)
        start = reactor.seconds()
        framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {20 * MIB}"
        client.transport.write(
            f"POST /nowhere HTTP/1.1\r\nHost: {LOOPBACK}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\n{framing}\r\n\r\n".encode())
        upload = Upload(client.transport, 20 * MIB, chunked)
        helped = await exam.ask("HELP")
        help_took = reactor.seconds() - start
        answer_took = await client.answered - start
        await client.closed
        self.assertEqual(
            (helped.code, helped.lines[0], helped.lines[-1]),
            (214, "Commands (command words are case-insensitive):", "End of help"),
        )
        self.assertEqual(client.data, TOO_LARGE)
        self.assertLess(help_took, 1.0)
        self.assertLess(answer_took, 1.0)
        self.assertLess(upload.sent, 20 * MIB)

    async def test_huge_post(self):
        """
        If a client posts a 20 MiB form with a Content-Length to an unknown route and goes on
        sending after the answer, then it is answered 413 within a second, read no further
        and cut before it could send it all, while the exam port answers HELP meanwhile.
        """
        await self.upload(chunked=False)
        self.assertEqual(len(self.logged("refused: a declared body of 20971520 bytes")), 1)

    async def test_huge_chunked_post(self):
        """
        If a client posts 20 MiB in chunks and goes on sending after the answer, then it is
        answered 413 within a second, read no further and cut before it could send it all,
        while the exam port answers HELP meanwhile.
        """
        await self.upload(chunked=True)
        self.assertEqual(len(self.logged("refused: a body over 16384 bytes")), 1)

    async def test_body_at_the_limit(self):
        """
        If a form's body is 16384 bytes, then the lookup reads it (400: not an ID, its start
        typed back); at 16385 bytes it is answered 413.
        """
        at_limit = await exchange(self.port, form("9" * (16384 - 3)))
        self.assertEqual(at_limit.status, "HTTP/1.0 400 Bad Request")
        self.assertIn(b'value="' + b"9" * 64 + b'"', at_limit.body)
        over = await exchange(self.port, form("9" * (16385 - 3)))
        self.assertEqual(over, parse_answer(TOO_LARGE))

    async def test_chunked_form_is_read(self):
        """If a browser sends the form in chunks, then the lookup reads it (200, Sara)."""
        client = await open_raw(self.port)
        client.transport.write(
            f"POST /handlelogin HTTP/1.1\r\nHost: {LOOPBACK}\r\nConnection: close\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            "Transfer-Encoding: chunked\r\n\r\n3\r\nID=\r\n4\r\n1800\r\n0\r\n\r\n".encode())
        await client.closed
        self.assertEqual(parse_answer(client.data).status, "HTTP/1.1 200 OK")
        self.assertIn(b"Welcome, Sara", client.data)

    async def test_chunk_framing_counts(self):
        """
        If a chunked body wraps 25 bytes of data in 25 KiB of chunk extensions, then it is
        answered 413: its framing counts towards the limit too.
        """
        client = await open_raw(self.port)
        client.transport.write(
            f"POST /handlelogin HTTP/1.1\r\nHost: {LOOPBACK}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode())
        client.transport.write((b"1;" + b"x" * 1000 + b"\r\n9\r\n") * 25)
        await client.closed
        self.assertEqual(client.data, TOO_LARGE)

    async def test_multipart_and_query_forms(self):
        """
        If the form comes as multipart/form-data, or in the address's query, then the lookup
        reads it as before: Sara for 1800.
        """
        body = (b'--XyZ\r\nContent-Disposition: form-data; name="ID"\r\n\r\n1800\r\n'
                b"--XyZ--\r\n")
        multipart = await exchange(self.port, request(
            "POST", "/handlelogin", "Content-Type: multipart/form-data; boundary=XyZ",
            body=body))
        query = await exchange(self.port, request("POST", "/handlelogin?ID=1800"))
        for answer in (multipart, query):
            self.assertEqual(answer.status, "HTTP/1.0 200 OK")
            self.assertIn(b"Welcome, Sara", answer.body)


class DeadlineTests(ServerTestCase):
    options = ("--web-request-timeout", "0.5")

    async def test_slowloris(self):
        """
        If a client sends its headers a byte every 0.1 s, then it is answered 408 and closed
        0.5 s after it connected: bytes do not restart the time.
        """
        client = await open_raw(self.port)
        start = reactor.seconds()
        client.transport.write(f"GET /login HTTP/1.1\r\nHost: {LOOPBACK}\r\nX-Slow: ".encode())
        trickle = LoopingCall(client.transport.write, b"x")
        trickle.start(0.1)
        closed = await client.closed
        trickle.stop()
        self.assertEqual(client.data, TOO_SLOW)
        self.assertTrue(0.45 <= closed - start < 1.5, closed - start)
        self.assertEqual(len(self.logged("refused: no whole request within 0.5 s")), 1)

    async def test_silent_connection(self):
        """If a client connects and sends nothing, then it is closed after 0.5 s, silently."""
        client = await open_raw(self.port)
        start = reactor.seconds()
        closed = await client.closed
        self.assertEqual(client.data, b"")
        self.assertTrue(0.45 <= closed - start < 1.5, closed - start)

    async def test_request_in_pieces_in_time(self):
        """If a request arrives in two pieces 0.2 s apart, within 0.5 s, then it is answered."""
        client = await open_raw(self.port)
        client.transport.write(b"GET /login HTTP/1.0\r\n")
        await deferLater(reactor, 0.2, lambda: None)
        client.transport.write(f"Host: {LOOPBACK}\r\n\r\n".encode())
        await client.closed
        self.assertEqual(parse_answer(client.data).status, "HTTP/1.0 200 OK")


class HeaderSizeTests(ServerTestCase):
    async def test_headers_over_8_kib(self):
        """
        If a request's line and headers take more than 8192 bytes, in one header or in many,
        then it is answered 431; just under that, it is answered.
        """
        one = await exchange(self.port, request("GET", "/login", "X-Big: " + "x" * 8200))
        many = await exchange(self.port, request("GET", "/login", *["X-Some: " + "x" * 900] * 10))
        under = await exchange(self.port, request("GET", "/login", "X-Big: " + "x" * 8000))
        self.assertEqual((one, many), (parse_answer(HEADERS_TOO_LARGE),) * 2)
        self.assertEqual(under.status, "HTTP/1.0 200 OK")


class ConnectionCapTests(ServerTestCase):
    options = ("--web-max-per-address", "3")

    async def test_cap(self):
        """
        If one address holds 3 connections, then its 4th is answered 503, while another
        address is served; once one of the 3 closes, the address is served again.
        """
        held = [await open_raw(self.port, OTHER) for _ in range(3)]
        await eventually(lambda: self.site.open_connections() == {OTHER: 3})
        refused = await exchange(self.port, request("GET", "/login"), OTHER)
        other = await exchange(self.port, request("GET", "/login"), THIRD)
        held[0].transport.loseConnection()
        await eventually(lambda: self.site.open_connections() == {OTHER: 2})
        again = await exchange(self.port, request("GET", "/login"), OTHER)
        for client in held[1:]:
            client.transport.loseConnection()
        self.assertEqual(refused, parse_answer(TOO_MANY))
        self.assertEqual((other.status, again.status), ("HTTP/1.0 200 OK", "HTTP/1.0 200 OK"))
        self.assertEqual(
            len(self.logged("from 127.0.0.2 refused: too many connections from that address")),
            1)


class LookupLimitTests(ServerTestCase):
    options = ("--lookup-burst", "3", "--lookup-interval", "60")

    async def api(self, source: str, *headers: str):
        answer = await exchange(self.port, request("GET", "/api/students/1800", *headers), source)
        return answer.status, answer.headers.get("retry-after"), json.loads(answer.body)

    async def test_api(self):
        """
        If an address looks up 4 IDs at once through the API, then the 4th is answered 429,
        Retry-After 60, in JSON, while another address is still answered.
        """
        answers = [await self.api(OTHER) for _ in range(4)]
        other = await self.api(THIRD)
        self.assertEqual(answers, [("HTTP/1.0 200 OK", None, SARA)] * 3 + [(
            "HTTP/1.0 429 Too Many Requests", "60",
            {"error": "too many lookups from this address; try again in 60 s"},
        )])
        self.assertEqual(other, ("HTTP/1.0 200 OK", None, SARA))
        self.assertEqual(
            len(self.logged("Lookup (api) from 127.0.0.2 refused: too many, 60 s to wait")), 1)

    async def test_form(self):
        """
        If an address has used its lookups through the API, then its form is answered 429,
        Retry-After 60, with a page that says how long to wait and keeps the ID typed, while
        another address's form is answered.
        """
        for _ in range(3):
            await self.api(OTHER)
        refused = await exchange(self.port, form("1800"), OTHER)
        other = await exchange(self.port, form("1800"), THIRD)
        self.assertEqual(
            (refused.status, refused.headers["retry-after"], refused.headers["content-type"]),
            ("HTTP/1.0 429 Too Many Requests", "60", "text/html; charset=utf-8"),
        )
        for part in (b"<h1>Too many lookups</h1>",
                     b"This address has looked up many IDs in a short time. Please wait 60 s"
                     b" and try again.", b'value="1800"'):
            self.assertIn(part, refused.body)
        self.assertEqual(other.status, "HTTP/1.0 200 OK")
        self.assertIn(b"Welcome, Sara", other.body)


class ProxyTests(ServerTestCase):
    options = ("--trusted-proxy", OTHER, "--lookup-burst", "1", "--lookup-interval", "60")

    async def status(self, source: str, forwarded: str) -> str:
        answer = await exchange(self.port, request(
            "GET", "/api/students/1800", f"X-Forwarded-For: {forwarded}"), source)
        return answer.status

    async def test_trusted_proxy(self):
        """
        If a trusted proxy forwards lookups for 10.0.0.1, 10.0.0.1 and 10.0.0.2, then each
        client has its own limit (200, 429, 200), and the access log names the clients.
        """
        statuses = [await self.status(OTHER, client)
                    for client in ("10.0.0.1", "10.0.0.1", "10.0.0.2")]
        self.assertEqual(statuses, ["HTTP/1.0 200 OK", "HTTP/1.0 429 Too Many Requests",
                                    "HTTP/1.0 200 OK"])
        self.assertEqual([len(self.logged(f'"{client}" - - ')) for client in
                          ("10.0.0.1", "10.0.0.2", OTHER)], [2, 1, 0])
        self.assertEqual(
            len(self.logged("Lookup (api) from 10.0.0.1 refused: too many, 60 s to wait")), 1)

    async def test_untrusted_client(self):
        """
        If a client that is no trusted proxy names other clients in X-Forwarded-For, then its
        lookups count as its own (200, 429), and the access log names it.
        """
        statuses = [await self.status(THIRD, client) for client in ("10.0.0.1", "10.0.0.2")]
        self.assertEqual(statuses, ["HTTP/1.0 200 OK", "HTTP/1.0 429 Too Many Requests"])
        self.assertEqual([len(self.logged(f'"{client}" - - ')) for client in
                          (THIRD, "10.0.0.1", "10.0.0.2")], [2, 0, 0])


class Recorder(Resource):
    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[dict, bytes]] = []

    def render(self, request):
        self.seen.append((request.args, request.content.read()))
        return b"ok"


class GuardedSiteTests(SynchronousTestCase):
    """A L{GuardedSite} on a Clock, its connections on StringTransports."""

    def setUp(self):
        self.clock = MemoryReactorClock()
        self.resource = Recorder()
        self.site = GuardedSite(self.resource, WebLimits(), reactor=self.clock)

    def connect(self, host: str = OTHER):
        peer = IPv4Address("TCP", host, 40000)
        channel = self.site.buildProtocol(peer)
        transport = StringTransport(peerAddress=peer)
        channel.makeConnection(transport)
        return channel, transport

    def test_no_form_parsed(self):
        """
        If a URL-encoded form is posted to any route, then Twisted does not parse it: the
        request's arguments are those of its query, and the body is left as it came.
        """
        channel, transport = self.connect()
        channel.dataReceived(
            b"POST /anything?q=2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\na=1")
        self.assertEqual(self.resource.seen, [({b"q": [b"2"]}, b"a=1")])

    def test_deadline_not_restarted_by_bytes(self):
        """
        If a client sends a byte of its headers every second, then after 9 s it is still
        waited for, and at 10 s from its connection it is answered 408 and read no more.
        """
        channel, transport = self.connect()
        channel.dataReceived(b"GET / HTTP/1.1\r\nX-Slow: ")
        for _ in range(9):
            self.clock.advance(1)
            channel.dataReceived(b"x")
        self.assertEqual((transport.value(), transport.disconnecting), (b"", False))
        self.clock.advance(1)
        self.assertEqual(
            (transport.value(), transport.disconnecting, transport.producerState),
            (TOO_SLOW, True, "paused"),
        )

    def test_idle_after_an_answer(self):
        """
        If a client gets its answer and then sends nothing, then the connection is closed
        10 s after the answer, silently; a request within those 10 s is answered.
        """
        channel, transport = self.connect()
        self.clock.advance(9)
        channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        self.clock.advance(9.9)
        channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answers = transport.value()
        self.assertEqual((answers.count(b"HTTP/1.1 200 OK"), transport.disconnecting), (2, False))
        self.clock.advance(9.9)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(0.1)
        self.assertEqual((transport.value(), transport.disconnecting), (answers, True))

    def test_connections_counted_per_address(self):
        """
        If an address holds as many connections as allowed, then its next one is answered 503
        at once and not counted, while another address connects; once one closes, it may again.
        """
        site = GuardedSite(self.resource, WebLimits(max_per_address=2), reactor=self.clock)
        self.site = site
        first, _ = self.connect()
        self.connect()
        _, refused = self.connect()
        _, other = self.connect(THIRD)
        self.assertEqual((refused.value(), refused.disconnecting), (TOO_MANY, True))
        self.assertEqual(other.value(), b"")
        self.assertEqual(site.open_connections(), {OTHER: 2, THIRD: 1})
        first.connectionLost(None)
        self.assertEqual(site.open_connections(), {OTHER: 1, THIRD: 1})
        _, again = self.connect()
        self.assertEqual((again.value(), site.open_connections()), (b"", {OTHER: 2, THIRD: 1}))


class ClientAddressTests(SynchronousTestCase):
    """Which address a request is from, behind trusted proxies or not."""

    def setUp(self):
        proxies = parse_proxies("127.0.0.2, 10.0.0.0/8")
        self.site = GuardedSite(Resource(), WebLimits(trusted_proxies=proxies), reactor=Clock())

    def client(self, peer: str, *forwarded: str):
        headers = Headers({b"x-forwarded-for": [value.encode() for value in forwarded]})
        return self.site.client_address(IPv4Address("TCP", peer, 5555), headers)

    def test_untrusted_peer(self):
        """If a client that is no trusted proxy sends X-Forwarded-For, then it is ignored."""
        self.assertEqual(self.client(THIRD, "10.9.9.9"), IPv4Address("TCP", THIRD, 5555))

    def test_trusted_without_header(self):
        """If a trusted proxy sends no X-Forwarded-For, then the request is the proxy's."""
        self.assertEqual(self.client(OTHER), IPv4Address("TCP", OTHER, 5555))

    def test_last_untrusted_hop(self):
        """
        If the header lists a student's forged address, the student's and a trusted proxy,
        then the student's address (the last one no trusted proxy wrote) is the client.
        """
        self.assertEqual(self.client(OTHER, "6.6.6.6, 198.51.100.7", "10.1.2.3"),
                         IPv4Address("TCP", "198.51.100.7", 0))

    def test_ipv6_and_garbage(self):
        """
        If the last hop is IPv6 (maybe in brackets), then it is the client; if it is no
        address at all, then the request is the proxy's.
        """
        self.assertEqual(self.client(OTHER, "[2001:db8::7]"),
                         IPv6Address("TCP", "2001:db8::7", 0))
        self.assertEqual(self.client(OTHER, "unknown"), IPv4Address("TCP", OTHER, 5555))


class RateLimitTests(SynchronousTestCase):
    """The lookup limit's arithmetic on a Clock."""

    def setUp(self):
        self.clock = Clock()
        self.limit = RateLimit(self.clock, burst=30, interval=10)

    def test_burst_then_one_per_interval(self):
        """
        If an address makes 30 lookups at once, then all pass and the 31st waits 10 s; 9.5 s
        later it still waits 1 s, and at 10 s one more passes.
        """
        self.assertEqual([self.limit.wait("a") for _ in range(31)], [0] * 30 + [10])
        self.clock.advance(9.5)
        self.assertEqual(self.limit.wait("a"), 1)
        self.clock.advance(0.5)
        self.assertEqual([self.limit.wait("a"), self.limit.wait("a")], [0, 10])

    def test_addresses_apart(self):
        """If one address has used its lookups, then another still has all 30."""
        for _ in range(30):
            self.limit.wait("a")
        self.assertEqual([self.limit.wait("b") for _ in range(31)], [0] * 30 + [10])

    def test_reading_every_id(self):
        """
        If one address reads IDs 0 to 99,999 as fast as the limit lets it, then it takes
        999,700 s: 11.6 days.
        """
        for _ in range(100_000):
            wait = self.limit.wait("a")
            while wait:
                self.clock.advance(wait)
                wait = self.limit.wait("a")
        self.assertEqual(self.clock.seconds(), 999_700)

    def test_a_person_never_waits(self):
        """
        If a person looks up 30 IDs in a row and then one every 10 s for an hour, then no
        lookup waits.
        """
        waits = [self.limit.wait("a") for _ in range(30)]
        for _ in range(360):
            self.clock.advance(10)
            waits.append(self.limit.wait("a"))
        self.assertEqual(waits, [0] * 390)

    def test_refilled_after_a_quiet_while(self):
        """If an address is quiet for 300 s after its burst, then it has 30 again."""
        for _ in range(30):
            self.limit.wait("a")
        self.clock.advance(300)
        self.assertEqual([self.limit.wait("a") for _ in range(31)], [0] * 30 + [10])

    def test_off(self):
        """If the burst or the interval is 0, then nothing ever waits."""
        for limit in (RateLimit(self.clock, 0, 10), RateLimit(self.clock, 30, 0)):
            self.assertEqual({limit.wait("a") for _ in range(1000)}, {0})

    def test_bounded(self):
        """
        If more addresses come than the limit remembers, then the one seen longest ago is
        forgotten (it starts afresh), and an address whose bucket is full again is dropped.
        """
        limit = RateLimit(self.clock, burst=1, interval=10, size=2)
        self.assertEqual([limit.wait(address) for address in "abc"], [0, 0, 0])
        self.assertEqual((limit.remembered(), limit.wait("a"), limit.wait("c")), (2, 0, 10))
        self.clock.advance(10)
        self.assertEqual((limit.wait("d"), limit.remembered()), (0, 1))

    def test_client_key(self):
        """
        If an address is IPv4 (or IPv4-mapped IPv6), then it counts as itself; an IPv6 address
        counts as its /64 network.
        """
        self.assertEqual(
            [client_key(host) for host in
             ("127.0.0.2", "::ffff:10.0.0.1", "2001:db8::1", "[2001:db8:0:0:ffff::2]", "x")],
            ["127.0.0.2", "10.0.0.1", "2001:db8::/64", "2001:db8::/64", "x"],
        )


class OptionTests(SynchronousTestCase):
    def test_defaults(self):
        """If no web option is given, then the limits are those of docs/security.md."""
        options = Options()
        options.parseOptions(["--db", "x.db"])
        self.assertEqual(
            {name: options[name] for name in (
                "web-max-body", "web-max-header", "web-request-timeout", "web-max-per-address",
                "lookup-burst", "lookup-interval", "trusted-proxy")},
            {"web-max-body": 16384, "web-max-header": 8192, "web-request-timeout": 10.0,
             "web-max-per-address": 256, "lookup-burst": 30, "lookup-interval": 10.0,
             "trusted-proxy": ()},
        )

    def test_trusted_proxies(self):
        """If --trusted-proxy is repeated or comma-separated, then every network counts."""
        options = Options()
        options.parseOptions(["--db", "x.db", "--trusted-proxy", "10.0.0.5, fd00::/8",
                              "--trusted-proxy", "192.168.1.0/24"])
        self.assertEqual([str(net) for net in options["trusted-proxy"]],
                         ["10.0.0.5/32", "fd00::/8", "192.168.1.0/24"])

    def test_bad_values(self):
        """If a limit is negative or a proxy no address, then the options are refused."""
        for argv in (["--web-max-body", "-1"], ["--lookup-interval", "-5"],
                     ["--trusted-proxy", "proxy.example"]):
            self.assertRaises(usage.UsageError, Options().parseOptions, ["--db", "x.db", *argv])
