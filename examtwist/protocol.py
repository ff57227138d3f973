"""
The exam protocol (docs/protocol.md) on the server side: a thin adapter from lines to the exam
desk. Each verb reads its arguments, makes one desk call and turns the outcome into a reply;
when lines are handled and how a connection closes is L{examtwist.lines}' business.
"""

from __future__ import annotations

from twisted.internet.defer import CancelledError, Deferred, DeferredList
from twisted.internet.protocol import ServerFactory
from twisted.logger import Logger

from examtwist.counting import ordinal
from examtwist.desk import NoSuchTest, UsernameTaken, WeakPassword
from examtwist.lines import OrderedLineReceiver
from examtwist.passwords import HasherBusy
from examtwist.ratelimit import client_of
from examtwist.throttle import Throttled
from examtwist.wire import (
    MAX_LINE,
    USERNAME_RULE,
    MAX_PASSWORD,
    WELCOME,
    format_address,
    format_reply,
    grade_text,
    is_password,
    is_username,
    parse_answer,
)

log = Logger()

MAX_FAILED_LOGINS = 3

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
_BUSY = format_reply(421, "Server busy, try again later")


class ExamProtocol(OrderedLineReceiver):
    """One connection: who is logged in, the attempt under way, failed logins so far."""

    maxLine = MAX_LINE

    def __init__(self) -> None:
        self.number: int | None = None
        self.address = "?"
        self.user: str | None = None
        self.attempt = None
        self.failed_logins = 0
        self._checking: Deferred | None = None  # a desk call that checks a password

    def connectionMade(self) -> None:
        factory = self.factory
        self.clock, self.idleTimeout, self.desk = factory.reactor, factory.idle_timeout, factory.desk
        self.address = format_address(self.transport.getPeer())
        super().connectionMade()
        if not factory.admit(self):
            log.info("Connection from {address} refused: too many from there", address=self.address)
            return self.close(_TOO_MANY_CONNECTIONS)
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
        checking, self._checking = self._checking, None
        if checking is not None:
            checking.cancel()  # a check still waiting for a thread is never hashed

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

    def do_REGISTER(self, argument: str):
        if self.user is None:  # docs/protocol.md: 503, then 454, then the rest
            try:
                self.desk.check_registration(self.address)
            except Throttled as e:
                return self._too_many_registrations(e)
        credentials = self._credentials("REGISTER", argument)
        if credentials is not None:
            return self._check(self.desk.register(*credentials, self.address)).addCallbacks(
                self._registered, self._taken, callbackArgs=(credentials[0],)
            ).addErrback(self._not_checked)

    def _too_many_registrations(self, throttled: Throttled) -> None:
        log.info("Registration from {address} held back {n} s", address=self.address,
                 n=throttled.seconds)
        self.reply(454, f"Too many registrations, try again in {throttled.seconds} s")

    def _registered(self, _, username: str) -> None:
        self.user = username
        self.reply(231, "Successfully registered!")

    def _taken(self, failure) -> None:
        refusal = failure.trap(UsernameTaken, Throttled, WeakPassword)
        if refusal is Throttled:
            return self._too_many_registrations(failure.value)
        if refusal is WeakPassword:
            return self.reply(501, str(failure.value))
        self.reply(553, "Username already exists")

    def do_LOGIN(self, argument: str):
        credentials = self._credentials("LOGIN", argument)
        if credentials is not None:
            return self._check(self.desk.log_in(*credentials, self.address)).addCallbacks(
                self._logged_in, self._login_throttled,
                callbackArgs=(credentials[0],), errbackArgs=(credentials[0],),
            ).addErrback(self._not_checked)

    def _logged_in(self, ok: bool, username: str) -> None:
        if ok:
            self.user = username
            return self.reply(230, "Successfully logged in!")
        self._login_failed(username, 535, "Invalid username and/or password")

    def _login_throttled(self, failure, username: str) -> None:
        failure.trap(Throttled)
        seconds = failure.value.seconds
        self._login_failed(username, 454, f"Too many failed attempts, try again in {seconds} s")

    def _login_failed(self, username: str, code: int, text: str) -> None:
        self.failed_logins += 1
        log.info("Failed login {count} for {user} from {address}: {code}",
                 count=self.failed_logins, user=username, address=self.address, code=code)
        if self.failed_logins >= MAX_FAILED_LOGINS:
            self.close(format_reply(421, "Too many failed attempts"))
        else:
            self.reply(code, text)

    def _check(self, work: Deferred) -> Deferred:
        """A desk call that checks a password: cancelled if the connection goes first."""
        self._checking = work
        return work.addBoth(self._checked)

    def _checked(self, outcome):
        self._checking = None
        return outcome

    def _not_checked(self, failure) -> None:
        """The hasher is busy: 421 and close. Or the check was dropped: the connection has
        gone, or the server is stopping and its 421 follows."""
        if failure.check(HasherBusy):
            return self.close(_BUSY)
        failure.trap(CancelledError)

    def _credentials(self, verb: str, argument: str) -> tuple[str, str] | None:
        """Username and password from the line, or None after a 503 or 501 reply."""
        if self.user is not None:
            return self.reply(503, "Already logged in")
        username, space, password = argument.partition(" ")
        if not space or not is_username(username):
            return self.reply(
                501, f"Usage: {verb} <username> <password>; the username is {USERNAME_RULE}"
            )
        if not is_password(password):
            return self.reply(501, f"The password must be 1 to {MAX_PASSWORD} characters")
        return username, password

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


class ExamFactory(ServerFactory):
    """
    Makes one L{ExamProtocol} per connection, and keeps what they share: the desk, the open
    connections, and each question's 350 reply, formatted once for every student.
    """

    protocol = ExamProtocol
    noisy = False
    QUESTIONS_KEPT = 1024

    def __init__(self, reactor, desk, idle_timeout: float | None = 600.0,
                 max_per_address: int = 0) -> None:
        self.reactor = reactor
        self.desk = desk
        self.idle_timeout = idle_timeout or None
        self.max_per_address = max_per_address
        self.connections: set[ExamProtocol] = set()
        self._per_client: dict[str, int] = {}
        self._questions: dict[tuple[int, int, int], tuple[object, bytes]] = {}

    def admit(self, connection: ExamProtocol) -> bool:
        """
        Take a connection in, unless its client already holds C{max_per_address} (0: no
        limit); a connection not taken in is neither counted nor greeted.
        """
        client = client_of(connection.address)
        held = self._per_client.get(client, 0)
        if self.max_per_address and held >= self.max_per_address:
            return False
        self._per_client[client] = held + 1
        self.connections.add(connection)
        return True

    def release(self, connection: ExamProtocol) -> bool:
        """A connection is gone; False if it was never taken in."""
        if connection not in self.connections:
            return False
        self.connections.discard(connection)
        client = client_of(connection.address)
        held = self._per_client.pop(client) - 1
        if held:
            self._per_client[client] = held
        return True

    def question_reply(self, question, number: int, total: int) -> bytes:
        key = (id(question), number, total)
        kept = self._questions.get(key)
        if kept is not None and kept[0] is question:
            return kept[1]
        if len(self._questions) >= self.QUESTIONS_KEPT:
            self._questions.clear()
        reply = format_reply(350, *question.reply_lines(number, total))
        self._questions[key] = (question, reply)
        return reply

    def shutdown(self) -> Deferred:
        """
        Tell every connection the server is stopping; fires once all have closed. A line
        whose password check still waits for a thread is not answered: its connection gets
        the 421 at once.
        """
        closed = DeferredList([p.shutdown() for p in list(self.connections)])
        self.desk.stop_password_checks()
        return closed
