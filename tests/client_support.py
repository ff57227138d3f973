"""
What the client tests share: running blocking client code beside the in-process server, a
TLS certificate of their own, servers that misbehave on purpose, and a client program as a
child process fed line by line. Also what the admin command's tests share with them: the
built-in tests as a student sees them, a test file to import, and the C{examtwist} command
run as a child process.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import sys

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.protocol import Factory, ProcessProtocol, Protocol
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread

from tests.support import LOOPBACK, admin_path, temp_dir


def in_thread(function, *args, **kwargs) -> Deferred:
    """
    Run blocking client code in a worker thread, so this reactor stays free to serve it.
    """
    return deferToThread(function, *args, **kwargs)


def self_signed_certificate(testcase) -> tuple[str, str]:
    """
    A key and a certificate for 127.0.0.1, written to a temp dir: (key path, cert path).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "examtwist test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = temp_dir(testcase)
    key_path, cert_path = os.path.join(directory, "key.pem"), os.path.join(directory, "cert.pem")
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    with open(cert_path, "wb") as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


async def fake_server(testcase, sends: bytes = b"") -> int:
    """
    A server that is not an exam server: it sends C{sends} on connect, then stays silent.

    @return: its port
    """

    class Fixed(Protocol):
        def connectionMade(self) -> None:
            self.transport.write(sends)

    port = await TCP4ServerEndpoint(reactor, 0, interface=LOOPBACK).listen(Factory.forProtocol(Fixed))
    testcase.addCleanup(port.stopListening)
    return port.getHost().port


async def free_port() -> int:
    """A port nothing listens on (it was free a moment ago)."""
    port = await TCP4ServerEndpoint(reactor, 0, interface=LOOPBACK).listen(Factory.forProtocol(Protocol))
    number = port.getHost().port
    await port.stopListening()
    return number


def console_script(name: str) -> str:
    return os.path.join(os.path.dirname(sys.executable), name)


class ClientProcess(ProcessProtocol):
    """
    A client program as a child process: C{send} lines to its stdin, C{await until(text)}
    for its output, C{ended} fires with its exit code.
    """

    def __init__(self) -> None:
        self.stdout = ""
        self.stderr = ""
        self.ended: Deferred[int] = Deferred()
        self._watchers: list[tuple[str, Deferred]] = []

    @classmethod
    def spawn(cls, testcase, argv: list[str]) -> "ClientProcess":
        process = cls()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        reactor.spawnProcess(process, argv[0], argv, env=env, path=temp_dir(testcase))
        testcase.addCleanup(process.kill)
        return process

    def outReceived(self, data: bytes) -> None:
        self.stdout += data.decode("utf-8")
        self._check()

    def errReceived(self, data: bytes) -> None:
        self.stderr += data.decode("utf-8")

    def _check(self) -> None:
        for watch in list(self._watchers):
            text, count, d = watch
            if self.stdout.count(text) >= count:
                self._watchers.remove(watch)
                d.callback(self.stdout)

    def until(self, text: str, count: int = 1) -> Deferred[str]:
        """Fires with all output so far once C{text} has appeared C{count} times in it."""
        d: Deferred[str] = Deferred()
        self._watchers.append((text, count, d))
        self._check()
        return d

    def send(self, *lines: str) -> None:
        self.transport.write("".join(line + "\n" for line in lines).encode("utf-8"))

    def close_stdin(self) -> None:
        self.transport.closeStdin()

    def processEnded(self, reason) -> None:
        for text, _, d in self._watchers:
            d.errback(AssertionError(f"the client ended before printing {text!r}:\n{self.stdout}"
                                     f"\nstderr:\n{self.stderr}"))
        self._watchers = []
        self.ended.callback(reason.value.exitCode)

    def kill(self):
        if not self.ended.called:
            self.transport.signalProcess("KILL")
            return self.ended
        return None


# The built-in tests as a student sees them (examtwist/testbank.py), written out here so that
# a test compares what a client shows with what a person would read, not with the server's data.
MATH_AS_SHOWN = [
    (("What is 12 * 12?",), ("124", "144", "132", "142")),
    (("The sum of the first N odd numbers is:",), ("(N*(N+1))/2", "N^2 + N", "N^2 + 2*N", "N^2")),
    (("What is the square root of 169?",), ("12", "14", "13", "17")),
    (("Solve for x: 3x + 7 = 22",), ("5", "6", "4", "7")),
    (("A rectangle is 8 cm long and 5 cm wide.", "What is its area?"),
     ("13 cm^2", "26 cm^2", "40 cm^2", "45 cm^2")),
]
PYTHON_KEY = "CBBDA"  # the built-in python test's answers, in order

# A questions file of two questions in the original format; its answers are "B" and "C".
GOOD_QUESTIONS = """\
What is 1 + 1?
A) 1
B) 2
C) 3
D) 4
----------
What does this print?
    print("hi")
A) hi
B) "hi"
C) nothing
D) an error
----------
"""


def write_file(testcase, name: str, text: str | bytes) -> str:
    """A file of that name and text in a new temp dir; its path."""
    path = os.path.join(temp_dir(testcase), name)
    with open(path, "wb") as f:
        f.write(text.encode("utf-8") if isinstance(text, str) else text)
    return path


async def run_admin(testcase, *args: str, answer: str | None = None) -> tuple[int, str, str]:
    """
    Run the installed C{examtwist ARGS} as a user does: (exit code, stdout, stderr). C{answer}
    is the line typed at its question, if any; stdin is closed after it.
    """
    process = ClientProcess.spawn(testcase, [admin_path(), *args])
    if answer is not None:
        process.send(answer)
    process.close_stdin()
    code = await process.ended
    return code, process.stdout, process.stderr


async def waiting_for_input(process: ClientProcess, timeout: float = 10.0) -> None:
    """
    Let the reactor run until the client process sleeps, which after a prompt means it waits
    in its read of stdin (Linux's /proc tells). A signal sent then interrupts the read at once;
    one sent between the prompt and the read is noticed only after the next line of input,
    as CPython checks for signals between bytecodes, not before a system call.
    """
    path = f"/proc/{process.transport.pid}/stat"
    for _ in range(int(timeout / 0.005)):
        with open(path) as f:
            # The state follows the command name, which is in parentheses.
            state = f.read().rpartition(")")[2].split()[0]
        if state == "S":
            return
        await deferLater(reactor, 0.005, lambda: None)
    raise AssertionError(f"the client did not wait for input within {timeout} s")


async def stored_results(store) -> list[tuple]:
    """
    Every result in the store, in order, without its times and address: (username, test,
    outcome, correct, answered, total, grade).
    """
    return [(r.username, r.test, r.outcome, r.correct, r.answered, r.total, r.grade)
            for r in await store.list_results()]
