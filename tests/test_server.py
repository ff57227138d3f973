"""
The whole service in this process, over real sockets on 127.0.0.1.
"""

import os
import socket

from twisted.internet import reactor
from twisted.internet.endpoints import TCP6ClientEndpoint, connectProtocol
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial import unittest

from examtwist.wire import Reply

from tests.support import CHEAP_HASH, ReplyClient, connect, deferred_test, eventually, logged_in, open_store, start_server, temp_dir
from tests.support import GatedHasher, MATH_KEY



def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class EndToEndTests(unittest.TestCase):
    @deferred_test
    async def test_pipelined_session_in_one_write(self):
        """REGISTER, EXAMS, TAKE and five answers in one write: every reply, in order."""
        service, port = await start_server(self)
        c = await connect(port)
        c.send("REGISTER pipe secret", "EXAMS", "TAKE math", *MATH_KEY)
        replies = [await c.reply() for _ in range(8)]
        self.assertEqual([r.code for r in replies], [231, 212, 350, 350, 350, 350, 350, 250])
        self.assertEqual([r.lines[0] for r in replies[2:7]], [f"Question {i} of 5" for i in range(1, 6)])
        self.assertEqual(replies[-1].text, "Your grade is 100.0 (5/5 correct)")
        [stored] = await service.desk.store.list_results()
        self.assertEqual((stored.username, stored.grade), ("pipe", 100.0))

    @deferred_test
    async def test_reactor_never_waits_for_a_hash(self):
        """While one LOGIN is stuck in a hash, another connection is answered at once."""
        hasher = GatedHasher(reactor, CHEAP_HASH)
        self.addCleanup(hasher.gate.set)
        service, port = await start_server(self, hasher=hasher)
        hashing = await connect(port)
        hashing.send("LOGIN alice pw")
        pending = hashing.reply()
        await reactor_thread_waits_for(hasher.entered)
        other = await connect(port)
        self.assertEqual((await other.ask("EXAMS")).code, 212)
        self.assertEqual((await other.ask("HELP")).code, 214)
        self.assertFalse(pending.called)
        hasher.gate.set()
        self.assertEqual((await pending).code, 535)

    @deferred_test
    async def test_lucky_greeting_lists_the_real_client_ports(self):
        service, port = await start_server(self, "--lucky", "7")
        clients = [await connect(port) for _ in range(8)]
        ports = [f"127.0.0.1:{c.transport.getHost().port}" for c in clients]
        self.assertEqual(
            clients[6].greeting,
            Reply(220, ("Congratulations you are the seventh user!!!", *ports[:7], "Welcome to the server!")),
        )
        for c in clients[:6] + clients[7:]:
            self.assertEqual(c.greeting, Reply(220, ("Welcome to the server!",)))

    @deferred_test
    async def test_lucky_greeting_over_ipv6(self):
        if not has_ipv6_loopback():
            raise unittest.SkipTest("no IPv6 loopback here")
        service, port = await start_server(self, "--lucky", "2", "--exam", r"tcp6:0:interface=\:\:1")
        first = await connectProtocol(TCP6ClientEndpoint(reactor, "::1", port), ReplyClient())
        await first.reply()
        second = await connectProtocol(TCP6ClientEndpoint(reactor, "::1", port), ReplyClient())
        greeting = await second.reply()
        self.assertEqual(
            greeting.lines[1:3],
            (f"[::1]:{first.transport.getHost().port}", f"[::1]:{second.transport.getHost().port}"),
        )

    @deferred_test
    async def test_client_that_half_closes_gets_every_reply(self):
        """`printf '...' | nc -N`: lines then EOF; all answered, then the server closes."""
        service, port = await start_server(self)
        c = await connect(port)
        c.send("REGISTER halfway pw", "TAKE 2", "A")
        c.transport.loseWriteConnection()
        replies = [await c.reply() for _ in range(3)]
        self.assertEqual([r.code for r in replies], [231, 350, 350])
        await c.closed
        await service.stopService()
        store = await open_store(self, service.desk.store.path)
        self.assertEqual([(r.status, r.answered) for r in await store.list_results()], [("abandoned", 1)])

    @deferred_test
    async def test_vanishing_client_mid_test(self):
        service, port = await start_server(self)
        c = await logged_in(port, "gone")
        await c.ask("TAKE math")
        await c.ask("B")
        c.transport.abortConnection()
        await c.closed
        survivor = await logged_in(port, "stays")
        self.assertEqual((await survivor.ask("TAKE 1")).code, 350)
        await service.stopService()
        store = await open_store(self, service.desk.store.path)
        self.assertEqual([(r.username, r.status) for r in await store.list_results()],
                         [("gone", "abandoned"), ("stays", "abandoned")])

    @deferred_test
    async def test_stop_tells_everyone_and_keeps_their_tests(self):
        service, port = await start_server(self)
        idle = await connect(port)
        testing = await logged_in(port, "tester")
        await testing.ask("TAKE python")
        await service.stopService()
        for c in (idle, testing):
            self.assertEqual(await c.reply(), Reply(421, ("Server shutting down",)))
            await c.closed
        store = await open_store(self, service.desk.store.path)
        self.assertEqual([r.status for r in await store.list_results()], ["abandoned"])

    @deferred_test
    async def test_log_tells_the_story_without_passwords(self):
        events = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        service, port = await start_server(self)
        c = await logged_in(port, "logme", "s3cret-pass")
        await c.ask("QUIT")
        c = await connect(port)
        await c.ask("LOGIN logme wrong-pass")
        await c.ask("LOGIN logme s3cret-pass")
        await c.ask("TAKE math")
        for letter in MATH_KEY:
            await c.ask(letter)
        await c.ask("QUIT")
        await eventually(lambda: not service.factory.connections)
        text = "\n".join(formatEvent(e) for e in events)
        for expected in ["Connection 1 from 127.0.0.1:", "Account logme created",
                         "Failed login 1 for logme", "logme logged in", "logme scored 100.0 on math",
                         "Connection 2 from 127.0.0.1:"]:
            self.assertIn(expected, text)
        self.assertRegex(text, r"Connection 2 from 127\.0\.0\.1:\d+ closed \(user logme\)")
        self.assertNotIn("s3cret", text)
        self.assertNotIn("wrong-pass", text)


async def reactor_thread_waits_for(event):
    """Let the reactor run until a worker thread has set C{event}."""
    await eventually(event.is_set)


class BackpressureTests(unittest.TestCase):
    @deferred_test
    async def test_client_that_does_not_read_is_not_read_either(self):
        """
        Lines from a client that never reads its replies stop being read once its replies
        fill the buffers, so it cannot make the server hold unbounded output; once it reads
        again every reply arrives, in order.
        """
        service, port = await start_server(self)
        c = await connect(port)
        # A small receive window, so little of the output hides in kernel buffers.
        c.transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
        c.transport.pauseProducing()
        lines = 10000
        c.send(*["HELP"] * lines)
        [server_side] = service.factory.connections
        await eventually(lambda: server_side.readerBlocked and server_side.paused)
        c.transport.resumeProducing()
        await eventually(lambda: len(c.received) == lines, timeout=60)
        self.assertEqual({r.code for r in c.received}, {214})
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
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
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
    @deferred_test
    async def test_tls_by_endpoint_string(self):
        """`--exam ssl:...` serves the same protocol over TLS, certificate verified."""
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
        self.assertEqual((await c.reply()).code, 220)
        self.assertEqual((await c.ask("REGISTER tls pw")).code, 231)
        self.assertEqual((await c.ask("TAKE math")).code, 350)
        self.assertEqual(await c.ask("QUIT"), Reply(221, ("Bye",)))
        await c.closed
