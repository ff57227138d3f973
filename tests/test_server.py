"""
The whole service in this process, over real sockets on 127.0.0.1.
"""

import os
import socket

from twisted.internet import reactor
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.endpoints import TCP6ClientEndpoint, connectProtocol
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial import unittest

from examtwist.storage import Result, Store
from examtwist.wire import Reply

from tests.support import (
    CHEAP_HASH,
    LOOPBACK,
    MATH_KEY,
    GatedHasher,
    ReplyClient,
    connect,
    logged_in,
    start_server,
    temp_dir,
)


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class SignallingHasher(GatedHasher):
    """A L{GatedHasher} whose C{verifying} fires, in the reactor thread, once a verify begins."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.verifying: Deferred[None] = Deferred()

    def _verify(self, password, stored):
        self._reactor.callFromThread(lambda: self.verifying.called or self.verifying.callback(None))
        return super()._verify(password, stored)


def all_closed(factory) -> Deferred:
    """Fires once every connection the server has now is gone (and its close logged)."""
    return DeferredList([connection.whenClosed() for connection in list(factory.connections)])


async def results_of(service) -> list[Result]:
    """
    The results in a stopped service's database, read by a store of their own, their times
    left out.
    """
    store = Store(reactor, service.desk.store.path)
    await store.start()
    try:
        return [r._replace(started_at="-", finished_at="-") for r in await store.list_results()]
    finally:
        await store.close()


def address_of(client) -> str:
    """The client's own address, as the server sees and records it."""
    return f"{LOOPBACK}:{client.transport.getHost().port}"


class EndToEndTests(unittest.TestCase):
    async def test_pipelined_session_in_one_write(self) -> None:
        """
        If a client sends REGISTER, EXAMS, TAKE math and the five right answers in one write,
        then it gets 231, 212, questions 1 to 5 of 5 and "Your grade is 100.0 (5/5 correct)",
        in that order, and the grade is stored.
        """
        service, port = await start_server(self)
        c = await connect(port)
        address = address_of(c)
        c.send("REGISTER pipe secret", "EXAMS", "TAKE math", *MATH_KEY)
        replies = [await c.reply() for _ in range(8)]
        self.assertEqual([r.code for r in replies], [231, 212, 350, 350, 350, 350, 350, 250])
        self.assertEqual(
            [r.lines[0] for r in replies[2:7]],
            ["Question 1 of 5", "Question 2 of 5", "Question 3 of 5", "Question 4 of 5",
             "Question 5 of 5"],
        )
        self.assertEqual(replies[-1], Reply(250, ("Your grade is 100.0 (5/5 correct)",)))
        await service.stopService()
        self.assertEqual(
            await results_of(service),
            [Result("pipe", "math", "graded", 5, 5, 5, 100.0, "-", "-", address)],
        )

    async def test_reactor_never_waits_for_a_hash(self) -> None:
        """
        If one LOGIN is stuck in a hash, then another connection still gets EXAMS (212) and
        HELP (214) at once, and the LOGIN is answered (535) once its hash is done.
        """
        hasher = SignallingHasher(reactor, CHEAP_HASH)
        self.addCleanup(hasher.gate.set)
        service, port = await start_server(self, hasher=hasher)
        hashing = await connect(port)
        hashing.send("LOGIN alice pw")
        pending = hashing.reply()
        await hasher.verifying
        other = await connect(port)
        self.assertEqual((await other.ask("EXAMS")).code, 212)
        self.assertEqual((await other.ask("HELP")).code, 214)
        self.assertFalse(pending.called)
        hasher.gate.set()
        self.assertEqual(await pending, Reply(535, ("Invalid username and/or password",)))

    async def test_lucky_greeting_lists_the_real_client_ports(self) -> None:
        """
        If the lucky number is 7, then the seventh of eight connections is congratulated with
        the seven clients' own addresses, and the others only welcomed.
        """
        service, port = await start_server(self, "--lucky", "7")
        clients = [await connect(port) for _ in range(8)]
        addresses = [address_of(c) for c in clients]
        self.assertEqual(
            clients[6].greeting,
            Reply(220, ("Congratulations you are the seventh user!!!", *addresses[:7],
                        "Welcome to the server!")),
        )
        for c in clients[:6] + clients[7:]:
            self.assertEqual(c.greeting, Reply(220, ("Welcome to the server!",)))

    async def test_lucky_greeting_over_ipv6(self) -> None:
        """
        If the server listens on ::1 and the lucky number is 2, then the second connection's
        greeting lists both clients as [::1]:port.
        """
        if not has_ipv6_loopback():
            raise unittest.SkipTest("no IPv6 loopback here")
        service, port = await start_server(
            self, "--lucky", "2", "--exam", r"tcp6:0:interface=\:\:1"
        )
        first = await connectProtocol(TCP6ClientEndpoint(reactor, "::1", port), ReplyClient())
        self.assertEqual(await first.reply(), Reply(220, ("Welcome to the server!",)))
        second = await connectProtocol(TCP6ClientEndpoint(reactor, "::1", port), ReplyClient())
        self.assertEqual(
            await second.reply(),
            Reply(220, ("Congratulations you are the second user!!!",
                        f"[::1]:{first.transport.getHost().port}",
                        f"[::1]:{second.transport.getHost().port}", "Welcome to the server!")),
        )

    async def test_client_that_half_closes_gets_every_reply(self) -> None:
        """
        If a client sends its lines then EOF (`printf '...' | nc -N`), then every line is
        answered (231, 350, 350), the server closes, and the test left is stored abandoned
        with 1 answered.
        """
        service, port = await start_server(self)
        c = await connect(port)
        address = address_of(c)
        c.send("REGISTER halfway pw", "TAKE 2", "A")
        c.transport.loseWriteConnection()
        replies = [await c.reply() for _ in range(3)]
        self.assertEqual([r.code for r in replies], [231, 350, 350])
        await c.closed
        await service.stopService()
        self.assertEqual(
            await results_of(service),
            [Result("halfway", "python", "abandoned", 0, 1, 5, None, "-", "-", address)],
        )

    async def test_vanishing_client_mid_test(self) -> None:
        """
        If a client vanishes (reset) mid-test, then another is served as before, and each
        one's unfinished test is stored abandoned: gone's with 1 answered, stays' with 0.
        """
        service, port = await start_server(self)
        c = await logged_in(port, "gone")
        gone = address_of(c)
        await c.ask("TAKE math")
        await c.ask("B")
        c.transport.abortConnection()
        await c.closed
        survivor = await logged_in(port, "stays")
        stays = address_of(survivor)
        self.assertEqual((await survivor.ask("TAKE 1")).lines[0], "Question 1 of 5")
        await service.stopService()
        self.assertEqual(
            await results_of(service),
            [Result("gone", "math", "abandoned", 1, 1, 5, None, "-", "-", gone),
             Result("stays", "math", "abandoned", 0, 0, 5, None, "-", "-", stays)],
        )

    async def test_stop_tells_everyone_and_keeps_their_tests(self) -> None:
        """
        If the service stops, then every connection gets 421 "Server shutting down" and is
        closed, and a test under way is stored abandoned.
        """
        service, port = await start_server(self)
        idle = await connect(port)
        testing = await logged_in(port, "tester")
        address = address_of(testing)
        await testing.ask("TAKE python")
        await service.stopService()
        for c in (idle, testing):
            self.assertEqual(await c.reply(), Reply(421, ("Server shutting down",)))
            await c.closed
        self.assertEqual(
            await results_of(service),
            [Result("tester", "python", "abandoned", 0, 0, 5, None, "-", "-", address)],
        )

    async def test_log_tells_the_story_without_passwords(self) -> None:
        """
        If a student registers, quits, fails a login, logs in and takes math, then the log
        tells each step ("Account logme created", "Failed login 1 for logme", "logme scored
        100.0 on math", the closes) and never a password.
        """
        events = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        service, port = await start_server(self)
        c = await logged_in(port, "logme", "s3cret-pass")
        self.assertEqual(await c.ask("QUIT"), Reply(221, ("Bye",)))
        c = await connect(port)
        self.assertEqual((await c.ask("LOGIN logme wrong-pass")).code, 535)
        self.assertEqual((await c.ask("LOGIN logme s3cret-pass")).code, 230)
        self.assertEqual((await c.ask("TAKE math")).code, 350)
        for letter in MATH_KEY:
            await c.ask(letter)
        self.assertEqual(await c.ask("QUIT"), Reply(221, ("Bye",)))
        await all_closed(service.factory)
        text = "\n".join(formatEvent(e) for e in events)
        for expected in ["Connection 1 from 127.0.0.1:", "Account logme created",
                         "Failed login 1 for logme", "logme logged in",
                         "logme scored 100.0 on math", "Connection 2 from 127.0.0.1:"]:
            self.assertIn(expected, text)
        self.assertRegex(text, r"Connection 1 from 127\.0\.0\.1:\d+ closed \(user logme\)")
        self.assertRegex(text, r"Connection 2 from 127\.0\.0\.1:\d+ closed \(user logme\)")
        self.assertNotIn("s3cret", text)
        self.assertNotIn("wrong-pass", text)


class BackpressureTests(unittest.TestCase):
    timeout = 60

    async def test_client_that_does_not_read_is_not_read_either(self) -> None:
        """
        If a client sends 10000 HELPs and reads none of the replies, then once they fill the
        buffers the server stops handling its lines, so it cannot make the server hold
        unbounded output; once it reads again all 10000 replies (214) arrive.
        """
        service, port = await start_server(self)
        c = await connect(port)
        # A small receive window, so little of the output hides in kernel buffers.
        c.transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
        c.transport.pauseProducing()
        [server_side] = service.factory.connections
        blocked: Deferred[None] = Deferred()
        set_blocked = server_side._setReaderBlocked

        def reader_blocked(is_blocked: bool) -> None:
            set_blocked(is_blocked)
            if is_blocked and not blocked.called:
                blocked.callback(None)

        # The transport tells the connection when the client stops taking its replies.
        server_side._setReaderBlocked = reader_blocked
        lines = 10000
        c.send(*["HELP"] * lines)
        await blocked
        self.assertEqual((server_side.readerBlocked, server_side.paused), (True, True))
        c.transport.resumeProducing()
        replies = [await c.reply() for _ in range(lines)]
        self.assertEqual({r.code for r in replies}, {214})
        self.assertFalse(server_side.paused)


def self_signed_certificate(folder):
    """A key and certificate for 127.0.0.1 / localhost, written as PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = os.path.join(folder, "key.pem"), os.path.join(folder, "cert.pem")
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


class TLSTests(unittest.TestCase):
    async def test_tls_by_endpoint_string(self) -> None:
        """
        If --exam is an ssl: endpoint, then a client that verifies the certificate gets the same
        protocol over TLS: 220, 231, 350, then 221 "Bye" and the close.
        """
        from twisted.internet.endpoints import TCP4ClientEndpoint, wrapClientTLS
        from twisted.internet.ssl import Certificate, optionsForClientTLS

        key, cert = self_signed_certificate(temp_dir(self))
        service, port = await start_server(
            self, "--exam", f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}"
        )
        with open(cert, "rb") as f:
            trust = Certificate.loadPEM(f.read())
        endpoint = wrapClientTLS(optionsForClientTLS("localhost", trust),
                                 TCP4ClientEndpoint(reactor, "127.0.0.1", port))
        c = await connectProtocol(endpoint, ReplyClient())
        self.assertEqual(await c.reply(), Reply(220, ("Welcome to the server!",)))
        self.assertEqual(await c.ask("REGISTER tls pw"), Reply(231, ("Successfully registered!",)))
        self.assertEqual((await c.ask("TAKE math")).code, 350)
        self.assertEqual(await c.ask("QUIT"), Reply(221, ("Bye",)))
        await c.closed
