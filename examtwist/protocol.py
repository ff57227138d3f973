"""
The exam protocol (docs/protocol.md) on the server side: a thin adapter from lines to the exam
desk. Each verb reads its arguments, makes one desk call and turns the outcome into a reply;
when lines are handled and how a connection closes is L{examtwist.lines}' business, signing
in is L{examtwist.signin}'s, and who may connect is L{examtwist.examport}'s.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from examtwist.counting import ordinal
from examtwist.desk import NoSuchTest
from examtwist.lines import OrderedLineReceiver
from examtwist.signin import SignIn
from examtwist.wire import (
    MAX_LINE,
    WELCOME,
    format_address,
    format_reply,
    grade_text,
    parse_answer,
)

log = Logger()

HELP = (
    "Commands (command words are case-insensitive):",
    "REGISTER <username> <password>  create an account and log in",
    "LOGIN <username> <password>     log in",
    "EXAMS                           list the available tests",
    "TAKE <number or name>           start a test; answer each question with A, B, C or D",
    "HELP                            show this help",
    "QUIT                            leave (an unfinished test is recorded as abandoned)",
    "Usernames: 1-32 letters, digits, '_', '.' or '-'. Passwords: 1-128 characters;",
    "a new account's must also be long and not easy to guess.",
    "End of help",
)
_HELP = format_reply(214, *HELP)
_NOT_A_COMMAND = format_reply(500, "Please choose a valid command.")
_NOT_AN_ANSWER = format_reply(501, "Answer with A, B, C or D")
_SHUTTING_DOWN = format_reply(421, "Server shutting down")
_TOO_MANY_CONNECTIONS = format_reply(421, "Too many connections from your address")


class ExamProtocol(SignIn, OrderedLineReceiver):
    """One connection: who is logged in, the attempt under way, failed logins so far."""

    maxLine = MAX_LINE

    def __init__(self) -> None:
        self.number: int | None = None
        self.address = "?"
        self.user: str | None = None
        self.attempt = None

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
        attempt, self.attempt = self.attempt, None
        if attempt is not None:
            self.desk.abandon(attempt)  # before a shutdown waiting for this close goes on
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
        attempt, self.attempt = self.attempt, None
        if attempt is None:
            return self.close(format_reply(221, "Bye"))
        return self.desk.abandon(attempt).addCallback(lambda _: self.close(format_reply(221, "Bye")))

    def do_EXAMS(self, argument: str) -> Deferred[None]:
        return self.desk.list_tests().addCallback(self._listed)

    def _listed(self, tests) -> None:
        lines = (f"{t.number} {t.name} {t.question_count}" for t in tests)
        self.reply(212, "Available tests:", *lines, "End of list")

    def do_TAKE(self, argument: str):
        if self.user is None:
            return self.reply(530, "Please log in first")
        wanted = argument.strip()
        if not wanted:
            return self.reply(501, "Usage: TAKE <number or name>, as EXAMS lists them")
        return self.desk.start(self.user, wanted, self.address).addCallbacks(
            self._started, self._no_such_test
        )

    def _started(self, attempt) -> None:
        self.attempt = attempt
        self.write(self.factory.question_reply(*attempt.open_question()))

    def _no_such_test(self, failure) -> None:
        failure.trap(NoSuchTest)
        self.reply(550, "No such test")

    # A test under way: a third of a student's lines; the question replies are formatted once.

    def answer(self, text: str):
        letter = parse_answer(text)
        if letter is None:
            return self.write(_NOT_AN_ANSWER)
        outcome = self.desk.answer(self.attempt, letter)
        if type(outcome) is tuple:
            return self.write(self.factory.question_reply(*outcome))
        return outcome.addCallback(self._graded)

    def _graded(self, grade) -> None:
        self.attempt = None
        self.reply(250, grade_text(*grade))
