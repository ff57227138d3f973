"""
The exam protocol (docs/protocol.md) on the server side: a thin adapter from lines to the exam
desk. Each verb reads its arguments, makes one desk call and turns the outcome into a reply;
when lines are handled and how a connection closes is L{examtwist.lines}' business, signing
in is L{examtwist.signin}'s, taking tests L{examtwist.taking}'s, and who may connect is
L{examtwist.examport}'s.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from examtwist.counting import ordinal
from examtwist.lines import OrderedLineReceiver
from examtwist.signin import SignIn
from examtwist.taking import TakingTests
from examtwist.wire import MAX_LINE, WELCOME, format_address, format_reply

log = Logger()

HELP = (
    "Commands (command words are case-insensitive):",
    "REGISTER <username> <password>  create an account and log in",
    "LOGIN <username> <password>     log in",
    "EXAMS                           list the available tests",
    "INFO <number or name>           show a test's rules (time limit, attempts, order, window)",
    "TAKE <number or name>           start a test, or continue one left unfinished;",
    "                                answer each question with A, B, C or D",
    "RESULTS                         list your finished attempts",
    "HELP                            show this help",
    "QUIT                            leave (an unfinished test is recorded as abandoned)",
    "Usernames: 1-32 letters, digits, '_', '.' or '-'. Passwords: 1-128 characters;",
    "a new account's must also be long and not easy to guess.",
    "End of help",
)
_HELP = format_reply(214, *HELP)
_NOT_A_COMMAND = format_reply(500, "Please choose a valid command.")
_SHUTTING_DOWN = format_reply(421, "Server shutting down")
_TOO_MANY_CONNECTIONS = format_reply(421, "Too many connections from your address")


class ExamProtocol(SignIn, TakingTests, OrderedLineReceiver):
    """One connection: who is logged in, the attempt under way, failed logins so far."""

    maxLine = MAX_LINE

    def __init__(self) -> None:
        self.number: int | None = None
        self.address = "?"
        self.user: str | None = None

    def connectionMade(self) -> None:
        factory = self.factory
        self.clock, self.idleTimeout, self.desk = factory.reactor, factory.idle_timeout, factory.desk
        self.address = format_address(self.transport.getPeer())
        if not factory.admit(self):
            return self.close(_TOO_MANY_CONNECTIONS)  # refused as cheaply as it can be
        super().connectionMade()
        self.hold(self.desk.greet(self.address).addCallback(self._greet))

    def _greet(self, counted) -> None:
        self.number = counted.number
        log.info("Connection {number} from {address}", number=self.number, address=self.address)
        if counted.lucky_addresses:
            congratulation = f"Congratulations you are the {ordinal(self.desk.lucky)} user!!!"
            self.reply(220, congratulation, *counted.lucky_addresses, WELCOME)
        else:
            self.reply(220, WELCOME)

    def connectionLost(self, reason=None) -> None:
        if not self.factory.release(self):
            return super().connectionLost(reason)
        log.info("Connection {number} from {address} closed (user {user})",
                 number=self.number, address=self.address, user=self.user or "-")
        self.leave_test()  # before a shutdown waiting for this close goes on
        super().connectionLost(reason)
        self.cancel_check()

    def reply(self, code: int, *lines: str) -> None:
        self.write(format_reply(code, *lines))

    def lineLengthExceeded(self, line: bytes) -> None:
        self.close(format_reply(500, "Line too long"))

    def timeoutConnection(self) -> None:
        self.close(format_reply(421, "Idle timeout"))

    def lineFailed(self, failure) -> None:
        log.failure("Handling a line of connection {number}", failure, number=self.number)
        self.reply(451, "Local error, try again later")

    def shutdown(self) -> Deferred[None]:
        """Server stopping: answer the line in hand, then 421 and close."""
        closed = self.whenClosed()
        self.stop(_SHUTTING_DOWN)
        return closed

    # Lines

    def handleLine(self, line: bytes):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            return self.reply(500, "Invalid UTF-8")
        verb, _, argument = text.partition(" ")
        verb = verb.upper() if verb.isascii() else ""
        if self.attempt is not None and verb != "QUIT" and verb != "HELP":
            return self.answer(text)
        command = getattr(self, "do_" + verb, None)
        if command is None:
            return self.write(_NOT_A_COMMAND)
        return command(argument)

    def do_HELP(self, argument: str) -> None:
        self.write(_HELP)

    def do_QUIT(self, argument: str):
        attempt = self.attempt
        if attempt is None:
            return self.close(format_reply(221, "Bye"))
        self._finish()
        return self.desk.abandon(attempt).addCallback(lambda _: self.close(format_reply(221, "Bye")))

    def do_EXAMS(self, argument: str) -> Deferred[None]:
        return self.desk.list_tests().addCallback(self._listed)

    def _listed(self, tests) -> None:
        lines = (f"{t.number} {t.name} {t.question_count}" for t in tests)
        self.reply(212, "Available tests:", *lines, "End of list")
