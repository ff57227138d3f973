"""
The exam protocol (docs/protocol.md) on the server side: one L{ExamProtocol} per connection,
made and counted by L{ExamFactory}.

Lines of a connection are handled one at a time, in order: while the reply to a line waits on a
worker thread (a password hash, a database write) the protocol pauses, so pipelined lines wait
in the buffer and reading from the socket stops.
"""

from __future__ import annotations

import functools
import re

from twisted.internet.defer import Deferred, DeferredList, ensureDeferred
from twisted.internet.interfaces import (
    IHalfCloseableDescriptor,
    IHalfCloseableProtocol,
    IPushProducer,
)
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.protocols.policies import TimeoutMixin
from twisted.internet.protocol import ServerFactory
from zope.interface import implementer

from examtwist.attempts import Attempt, grade_tenths
from examtwist.counting import ordinal
from examtwist.testbank import Question, Test
from examtwist.wire import format_address, format_grade, format_reply
from examtwist.storage import Result, utc_now

log = Logger()

MAX_LINE = 1024  # bytes, not counting the line ending
USERNAME = re.compile(r"[A-Za-z0-9_.-]{1,32}\Z")
MAX_PASSWORD = 128
MAX_FAILED_LOGINS = 3
# Bytes of unhandled lines held while a line is in hand or the client does not read its
# replies; beyond them the socket is not read.
MAX_HELD = 65536
# After its last reply, a closing connection reads and drops what the client still sends, for
# this long at most, so that reply is not destroyed by a reset for unread input.
LINGER_SECONDS = 2.0

HELP = (
    "Commands (command words are case-insensitive):",
    "REGISTER <username> <password>  create an account and log in",
    "LOGIN <username> <password>     log in",
    "EXAMS                           list the available tests",
    "TAKE <number or name>           start a test; answer each question with A, B, C or D",
    "HELP                            show this help",
    "QUIT                            leave (an unfinished test is recorded as abandoned)",
    "Usernames: 1-32 letters, digits, '_', '.' or '-'. Passwords: 1-128 characters.",
    "End of help",
)


@functools.lru_cache(maxsize=1024)
def _question_reply(question: Question, number: int, total: int) -> bytes:
    """A question's 350 reply is the same for every student who reaches it: format it once."""
    return format_reply(350, *question.reply_lines(number, total))


@implementer(IHalfCloseableProtocol)
class ExamProtocol(LineReceiver, TimeoutMixin):
    # Split on LF and drop a CR before it, so both line endings work.
    delimiter = b"\n"
    MAX_LENGTH = MAX_LINE + 1

    def __init__(self) -> None:
        self.number: int | None = None
        self.address = "?"
        self.user: str | None = None
        self.attempt: Attempt | None = None
        self.failed_logins = 0
        self._busy = False
        self._write_blocked = False
        self._socket_paused = False
        self._closing = False
        self._input_ended = False
        self._shutdown_requested = False
        self._linger = None
        self._draining = False
        self._lost: Deferred[None] = Deferred()

    # Connection life

    def connectionMade(self) -> None:
        self.callLater = self.factory.reactor.callLater
        self.address = format_address(self.transport.getPeer())
        self.factory.connections.add(self)
        self.transport.registerProducer(_WriteBackpressure(self), True)
        self._run(self._greet)

    async def _greet(self) -> None:
        counted = await self.factory.counter.count(self.address)
        self.number = counted.number
        log.info("Connection {number} from {address}", number=self.number, address=self.address)
        if counted.lucky_addresses:
            self.reply(
                220,
                f"Congratulations you are the {ordinal(self.factory.lucky)} user!!!",
                *counted.lucky_addresses,
                "Welcome to the server!",
            )
        else:
            self.reply(220, "Welcome to the server!")

    def connectionLost(self, reason) -> None:
        self.setTimeout(None)
        if self._linger is not None and self._linger.active():
            self._linger.cancel()
        self.factory.connections.discard(self)
        log.info(
            "Connection {number} from {address} closed (user {user})",
            number=self.number, address=self.address, user=self.user or "-",
        )
        attempt = self.attempt
        self.attempt = None
        if attempt is not None and not attempt.finishing:
            self._record(attempt, "abandoned").addErrback(
                lambda f: log.failure("Could not record an abandoned test", f)
            )
        self._lost.callback(None)

    def readConnectionLost(self) -> None:
        """The client sent EOF: handle what it sent before, then close."""
        self._input_ended = True
        if self._closing:
            self.transport.loseConnection()
        elif not self._busy and not self.paused:
            self._close()

    def writeConnectionLost(self) -> None:
        pass

    def timeoutConnection(self) -> None:
        # The timer is not stopped while a line is in hand (re-arming it for every line costs
        # more than the line); it counts only when it fires during a wait for the client, and
        # _done starts a full period again once the line is answered.
        if not self._busy:
            self._close(421, "Idle timeout")

    def shutdown(self) -> Deferred[None]:
        """Server stopping: finish the line in hand, then 421 and close."""
        if not self._busy:
            self._close(421, "Server shutting down")
        else:
            self._shutdown_requested = True
        return self._lost

    def reply(self, code: int, *lines: str) -> None:
        self._send(format_reply(code, *lines))

    def _ask(self, attempt: Attempt) -> None:
        """Send the open question of the attempt."""
        self._send(_question_reply(*attempt.open_question()))

    def _send(self, reply: bytes) -> None:
        if not self._closing:
            self.transport.write(reply)

    def _close(self, code: int | None = None, text: str = "") -> None:
        """
        Send a last reply, then close politely: FIN first, drop what still arrives for a
        moment, then close for good.
        """
        if self._closing:
            return
        if code is not None:
            self.reply(code, text)
        self._closing = True
        self.setTimeout(None)
        self.clearLineBuffer()
        self.transport.unregisterProducer()
        if self._input_ended or not IHalfCloseableDescriptor.providedBy(self.transport):
            self.transport.loseConnection()
            return
        self.transport.loseWriteConnection()
        self._draining = True
        self._set_reading()  # read on, so the client's EOF or reset can arrive
        self._linger = self.callLater(LINGER_SECONDS, self.transport.abortConnection)

    # Lines

    def dataReceived(self, data: bytes) -> None:
        if self._closing:
            return
        super().dataReceived(data)
        if self._closing:
            return
        if self.paused and not self._socket_paused and len(self._buffer) > MAX_HELD:
            self._set_reading()
        # More than MAX_LINE bytes with no line ending yet: too long, without waiting for the
        # rest. (A CR right at the limit may be the start of CRLF.)
        pending = self._buffer
        if len(pending) > MAX_LINE and not self.paused and pending[MAX_LINE:] != b"\r":
            self.lineLengthExceeded(pending)

    def lineLengthExceeded(self, line: bytes) -> None:
        self._close(500, "Line too long")

    def lineReceived(self, line: bytes) -> None:
        if self._closing:
            return
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > MAX_LINE:
            return self.lineLengthExceeded(line)
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            self._run(self.reply, 500, "Invalid UTF-8")
        else:
            self._run(self._dispatch, text)

    def _run(self, handler, *args) -> None:
        """
        Run a handler; while its Deferred is pending, hold back further lines. The idle
        timer counts only while we wait for the client (L{timeoutConnection}).
        """
        self._busy = True
        try:
            result = handler(*args)
        except Exception:
            log.failure("Handling a line of connection {number}", number=self.number)
            result = None
            self.reply(451, "Local error, try again later")
        if result is not None and hasattr(result, "__await__"):
            d = ensureDeferred(result)
            if not d.called:
                self._set_reading()
                d.addErrback(self._failed).addCallback(self._resume)
                return
            d.addErrback(self._failed)
        self._done()

    def _failed(self, failure) -> None:
        log.failure("Handling a line of connection {number}", failure, number=self.number)
        self.reply(451, "Local error, try again later")

    def _resume(self, _=None) -> None:
        self._done()
        self._set_reading()

    def _set_reading(self) -> None:
        """
        Handle lines only while no earlier line is in hand and the client takes its replies.

        Held lines wait in the buffer, and the socket is read on until MAX_HELD bytes wait:
        pausing it for every line that waits on a worker thread would cost two epoll calls a
        line (docs/performance.md), and TLS may need to read before it can write. A closing
        connection reads on, to drop what arrives.
        """
        if self._lost.called or (self._closing and not self._draining):
            return
        hold_lines = (self._busy or self._write_blocked) and not self._closing
        hold_socket = hold_lines and len(self._buffer) > MAX_HELD
        if hold_socket != self._socket_paused:
            self._socket_paused = hold_socket
            if hold_socket:
                self.transport.pauseProducing()
            else:
                self.transport.resumeProducing()
        if hold_lines != self.paused:
            self.paused = hold_lines
            if not hold_lines:
                self.dataReceived(b"")

    def _done(self) -> None:
        self._busy = False
        if self._closing or self._lost.called:
            return
        if self._shutdown_requested:
            self._close(421, "Server shutting down")
        elif self._input_ended and b"\n" not in self._buffer:
            self._close()
        else:
            self.setTimeout(self.factory.idle_timeout)

    def _dispatch(self, text: str):
        verb, _, argument = text.partition(" ")
        verb = verb.upper() if verb.isascii() else ""
        if self.attempt is not None and verb not in ("QUIT", "HELP"):
            return self._answer(text)
        handler = self._COMMANDS.get(verb)
        if handler is None:
            return self.reply(500, "Please choose a valid command.")
        return handler(self, argument)

    # Commands

    def do_HELP(self, argument: str) -> None:
        self.reply(214, *HELP)

    def do_QUIT(self, argument: str):
        attempt, self.attempt = self.attempt, None
        if attempt is None:
            return self._close(221, "Bye")
        return self._quit_after_abandoning(attempt)

    async def _quit_after_abandoning(self, attempt: Attempt) -> None:
        try:
            await self._record(attempt, "abandoned")
        except Exception:
            log.failure("Could not record an abandoned test")
        self._close(221, "Bye")

    def do_EXAMS(self, argument: str):
        return self._list_exams()

    async def _list_exams(self) -> None:
        exams = await self.factory.store.list_tests()
        self.reply(
            212,
            "Available tests:",
            *(f"{e.number} {e.name} {e.question_count}" for e in exams),
            "End of list",
        )

    def _credentials(self, verb: str, argument: str) -> tuple[str, str] | None:
        """Username and password from the line, or None after a 501 or 503 reply."""
        if self.user is not None:
            self.reply(503, "Already logged in")
            return None
        username, space, password = argument.partition(" ")
        if not space or not USERNAME.match(username):
            self.reply(
                501,
                f"Usage: {verb} <username> <password>; the username is 1-32 letters, digits,"
                " '_', '.' or '-'",
            )
            return None
        if not 1 <= len(password) <= MAX_PASSWORD:
            self.reply(501, f"The password must be 1 to {MAX_PASSWORD} characters")
            return None
        return username, password

    def do_REGISTER(self, argument: str):
        credentials = self._credentials("REGISTER", argument)
        if credentials is not None:
            return self._register(*credentials)

    async def _register(self, username: str, password: str) -> None:
        store = self.factory.store
        if await store.get_password_hash(username) is not None:
            self.reply(553, "Username already exists")
            return
        password_hash = await self.factory.hasher.hash(password)
        # The database decides a race between two registrations of one name.
        if not await store.add_user(username, password_hash):
            self.reply(553, "Username already exists")
            return
        self.user = username
        log.info("Account {user} created from {address}", user=username, address=self.address)
        self.reply(231, "Successfully registered!")

    def do_LOGIN(self, argument: str):
        credentials = self._credentials("LOGIN", argument)
        if credentials is not None:
            return self._login(*credentials)

    async def _login(self, username: str, password: str) -> None:
        store, hasher = self.factory.store, self.factory.hasher
        stored = await store.get_password_hash(username)
        ok, new_hash = await hasher.verify(password, stored)
        if not ok:
            self.failed_logins += 1
            log.info(
                "Failed login {count} for {user} from {address}",
                count=self.failed_logins, user=username, address=self.address,
            )
            if self.failed_logins >= MAX_FAILED_LOGINS:
                self._close(421, "Too many failed attempts")
            else:
                self.reply(535, "Invalid username and/or password")
            return
        if new_hash is not None:
            await store.set_password_hash(username, new_hash)
            log.info("Rehashed the password of {user} with the current settings", user=username)
        self.user = username
        log.info("{user} logged in from {address}", user=username, address=self.address)
        self.reply(230, "Successfully logged in!")

    def do_TAKE(self, argument: str):
        if self.user is None:
            return self.reply(530, "Please log in first")
        wanted = argument.strip()
        if not wanted:
            return self.reply(501, "Usage: TAKE <number or name>, as EXAMS lists them")
        return self.factory.store.find_test(wanted).addCallback(self._start_test)

    # TAKE and the last answer are a third of the lines of a student taking tests; they use
    # plain callbacks because a coroutine costs as much as the rest of the line
    # (docs/performance.md, scenario 3).

    def _start_test(self, test: Test | None) -> None:
        if test is None:
            self.reply(550, "No such test")
            return
        self.attempt = Attempt(test, started=utc_now())
        self._ask(self.attempt)

    _COMMANDS = {
        "REGISTER": do_REGISTER,
        "LOGIN": do_LOGIN,
        "EXAMS": do_EXAMS,
        "TAKE": do_TAKE,
        "HELP": do_HELP,
        "QUIT": do_QUIT,
    }

    # A test under way

    def _answer(self, text: str):
        letter = text.strip(" \t").upper()
        if len(letter) != 1 or letter not in "ABCD":
            return self.reply(501, "Answer with A, B, C or D")
        attempt = self.attempt
        correct_before = attempt.correct
        if not attempt.answer(letter):
            return self._ask(attempt)
        attempt.finishing = True
        return self._grade(attempt, attempt.correct > correct_before)

    def _grade(self, attempt: Attempt, last_was_correct: bool) -> Deferred[None]:
        """Store the result, then send the grade; if it cannot be stored, reopen the question."""

        def not_stored(failure):
            attempt.undo_last(last_was_correct)
            return failure

        return self._record(attempt, "graded").addCallbacks(
            self._send_grade, not_stored, callbackArgs=(attempt,)
        )

    def _send_grade(self, _, attempt: Attempt) -> None:
        self.attempt = None
        tenths = grade_tenths(attempt.correct, attempt.total)
        log.info(
            "{user} scored {grade} on {test} ({correct}/{total})",
            user=self.user, grade=format_grade(tenths), test=attempt.test.name,
            correct=attempt.correct, total=attempt.total,
        )
        self.reply(
            250,
            f"Your grade is {format_grade(tenths)} ({attempt.correct}/{attempt.total} correct)",
        )

    def _record(self, attempt: Attempt, status: str) -> Deferred[None]:
        graded = status == "graded"
        return self.factory.store.record_result(
            Result(
                username=self.user,
                test=attempt.test.name,
                status=status,
                correct=attempt.correct,
                answered=attempt.index,
                total=attempt.total,
                grade=grade_tenths(attempt.correct, attempt.total) / 10 if graded else None,
                started_at=attempt.started,
                finished_at=utc_now(),
                client=self.address,
            )
        )


@implementer(IPushProducer)
class _WriteBackpressure:
    """
    Registered with the transport: when a client sends lines but does not read the replies,
    its transport's write buffer fills and the protocol stops reading its lines.
    """

    def __init__(self, protocol: ExamProtocol) -> None:
        self.protocol = protocol

    def pauseProducing(self) -> None:
        self.protocol._write_blocked = True
        self.protocol._set_reading()

    def resumeProducing(self) -> None:
        self.protocol._write_blocked = False
        self.protocol._set_reading()

    def stopProducing(self) -> None:
        pass


class ExamFactory(ServerFactory):
    """
    Makes one L{ExamProtocol} per connection and holds what they share: the store, the
    password hasher, the connection counter and the set of open connections.
    """

    protocol = ExamProtocol
    noisy = False

    def __init__(self, reactor, store, hasher, counter, idle_timeout: float | None = 600.0) -> None:
        self.reactor = reactor
        self.store = store
        self.hasher = hasher
        self.counter = counter
        self.idle_timeout = idle_timeout or None
        self.connections: set[ExamProtocol] = set()

    @property
    def lucky(self) -> int:
        return self.counter.lucky

    def shutdown(self) -> Deferred:
        """Tell every connection the server is stopping; fires once all have closed."""
        return DeferredList([p.shutdown() for p in list(self.connections)])
