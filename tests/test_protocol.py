"""
The exam protocol on the wire (docs/protocol.md), one connection at a time, synchronously:
L{ExamProtocol} on a StringTransport with a MemoryReactorClock for time, in front of a fake
exam desk whose answers are already there or wait until the test releases them. What the desk
decides with the real store and hasher (password hashes, SQL, stored rows) is tested in
test_desk.py; when lines are handled is tested for any line handler in test_lines.py.
"""

from __future__ import annotations

from typing import NamedTuple

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, fail, maybeDeferred, succeed
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from examtwist.attempts import Attempt
from examtwist.counting import InMemoryCounter
from examtwist.desk import Grade, NoSuchTest, UsernameTaken, WeakPassword
from examtwist.examport import ExamFactory
from examtwist.ratelimit import RateLimit
from examtwist.storage import TestSummary
from examtwist.testbank import BUILTIN_TESTS
from examtwist.throttle import Throttled
from examtwist.wire import Reply, ReplyParser

WELCOME = Reply(220, ("Welcome to the server!",))
HELP = Reply(214, (
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
))
NOT_A_COMMAND = Reply(500, ("Please choose a valid command.",))
EXAMS = Reply(212, ("Available tests:", "1 math 5", "2 python 5", "End of list"))
BYE = Reply(221, ("Bye",))
REGISTERED = Reply(231, ("Successfully registered!",))
LOGGED_IN = Reply(230, ("Successfully logged in!",))
TAKEN = Reply(553, ("Username already exists",))
INVALID_LOGIN = Reply(535, ("Invalid username and/or password",))
TOO_MANY_FAILURES = Reply(421, ("Too many failed attempts",))
ALREADY_LOGGED_IN = Reply(503, ("Already logged in",))
USAGE_REGISTER = Reply(501, (
    "Usage: REGISTER <username> <password>; the username is 1-32 letters, digits, '_', '.' or '-'",
))
USAGE_LOGIN = Reply(501, (
    "Usage: LOGIN <username> <password>; the username is 1-32 letters, digits, '_', '.' or '-'",
))
BAD_PASSWORD = Reply(501, ("The password must be 1 to 128 characters",))
LOG_IN_FIRST = Reply(530, ("Please log in first",))
NO_SUCH_TEST = Reply(550, ("No such test",))
USAGE_TAKE = Reply(501, ("Usage: TAKE <number or name>, as EXAMS lists them",))
NOT_AN_ANSWER = Reply(501, ("Answer with A, B, C or D",))
LOCAL_ERROR = Reply(451, ("Local error, try again later",))
LINE_TOO_LONG = Reply(500, ("Line too long",))
INVALID_UTF8 = Reply(500, ("Invalid UTF-8",))
IDLE = Reply(421, ("Idle timeout",))
SHUTTING_DOWN = Reply(421, ("Server shutting down",))

MATH = [
    Reply(350, ("Question 1 of 5", "What is 12 * 12?", "A) 124", "B) 144", "C) 132", "D) 142")),
    Reply(350, ("Question 2 of 5", "The sum of the first N odd numbers is:",
                "A) (N*(N+1))/2", "B) N^2 + N", "C) N^2 + 2*N", "D) N^2")),
    Reply(350, ("Question 3 of 5", "What is the square root of 169?",
                "A) 12", "B) 14", "C) 13", "D) 17")),
    Reply(350, ("Question 4 of 5", "Solve for x: 3x + 7 = 22", "A) 5", "B) 6", "C) 4", "D) 7")),
    Reply(350, ("Question 5 of 5", "A rectangle is 8 cm long and 5 cm wide.", "What is its area?",
                "A) 13 cm^2", "B) 26 cm^2", "C) 40 cm^2", "D) 45 cm^2")),
]
PYTHON_1 = Reply(350, ("Question 1 of 5", "What does 2 ** 10 evaluate to?",
                       "A) 20", "B) 100", "C) 1024", "D) 512"))
MATH_KEY = "BDCAC"  # the built-in math test's answers
FIRST = "127.0.0.1:40001"  # the address of a test's first connection
SECOND = "127.0.0.1:40002"


class Stored(NamedTuple):
    """A result as the desk would store it."""

    status: str
    username: str
    test: str
    answered: int
    correct: int
    tenths: int | None
    client: str


class StorageFailed(Exception):
    """The fake desk could not store a grade."""


class FakeDesk:
    """
    The exam desk's calls as L{ExamProtocol} makes them, over the built-in tests and a dict of
    passwords. Every call but C{greet} is recorded in L{calls}. A grade is "stored" in
    L{results}, and an abandoned attempt too (unless its grade is being stored), as the real
    desk does.

    @ivar slow: while True, a call's Deferred waits until L{release}.
    @ivar broken: while set, storing a grade fails with it and reopens the last question.
    """

    def __init__(self, lucky: int = 7) -> None:
        self.lucky = lucky
        self._counter = InMemoryCounter(lucky)
        self.passwords: dict[str, str] = {}
        self.calls: list[tuple] = []
        self.results: list[Stored] = []
        self.slow = False
        self.broken: Exception | None = None
        # Seconds the throttle makes a LOGIN or a REGISTER wait; None lets them through.
        self.login_wait: float | None = None
        self.registration_wait: float | None = None
        self._waiting: list[tuple] = []

    def release(self) -> None:
        """Let every call waiting now finish, in order (calls made meanwhile wait)."""
        waiting, self._waiting = self._waiting, []
        for done, work, args in waiting:
            maybeDeferred(work, *args).chainDeferred(done)

    def _later(self, work, *args) -> Deferred:
        if not self.slow:
            return maybeDeferred(work, *args)
        done: Deferred = Deferred()
        self._waiting.append((done, work, args))
        return done

    def greet(self, address: str) -> Deferred:
        return self._later(self._counter.count, address)

    def stop_password_checks(self) -> Deferred:
        self.calls.append(("stop_password_checks",))
        return succeed(None)

    def check_registration(self, address: str) -> None:
        if self.registration_wait is not None:
            raise Throttled(self.registration_wait)

    def register(self, username: str, password: str, address: str) -> Deferred:
        self.calls.append(("register", username, password, address))
        return self._later(self._register, username, password)

    def _register(self, username: str, password: str) -> None:
        if password == "password1":
            raise WeakPassword("The password is too easy to guess")
        if username in self.passwords:
            raise UsernameTaken(username)
        self.passwords[username] = password

    def log_in(self, username: str, password: str, address: str) -> Deferred:
        self.calls.append(("log_in", username, password, address))
        if self.login_wait is not None:
            return fail(Throttled(self.login_wait))
        return self._later(lambda: self.passwords.get(username) == password)

    def list_tests(self) -> Deferred:
        self.calls.append(("list_tests",))
        return self._later(lambda: [
            TestSummary(number, test.name, len(test.questions))
            for number, test in enumerate(BUILTIN_TESTS, 1)
        ])

    def start(self, username: str, wanted: str, address: str, taken_over=None) -> Deferred:
        self.calls.append(("start", username, wanted, address))
        return self._later(self._start, username, wanted, address)

    def _start(self, username: str, wanted: str, address: str) -> Attempt:
        for number, test in enumerate(BUILTIN_TESTS, 1):
            if wanted == str(number) or wanted.lower() == test.name:
                return Attempt(test, "2026-01-01T00:00:00Z", username, address)
        raise NoSuchTest(wanted)

    def answer(self, attempt: Attempt, letter: str):
        self.calls.append(("answer", letter))
        if not attempt.answer(letter, "2026-01-01T00:01:00Z"):
            return attempt.open_question()
        attempt.finishing = True
        return self._later(self._store_grade, attempt)

    def _store_grade(self, attempt: Attempt) -> Grade:
        if self.broken is not None:
            attempt.undo_last()
            raise self.broken
        self.results.append(Stored("graded", attempt.username, attempt.test.name, attempt.index,
                                   attempt.correct, attempt.tenths, attempt.address))
        return Grade(attempt.tenths, attempt.correct, attempt.total)

    def leave(self, attempt: Attempt) -> Deferred:
        return self.abandon(attempt)

    def abandon(self, attempt: Attempt) -> Deferred:
        self.calls.append(("abandon", attempt.test.name, attempt.index))
        if attempt.finishing:
            return succeed(None)
        return self._later(self.results.append, Stored(
            "abandoned", attempt.username, attempt.test.name, attempt.index, attempt.correct,
            None, attempt.address,
        ))


class Client:
    """One protocol on a StringTransport, its replies read as a client reads them."""

    def __init__(self, factory: ExamFactory, port: int, packet_size: int | None,
                 host: str = "127.0.0.1") -> None:
        address = IPv4Address("TCP", host, port)
        self.protocol = factory.buildProtocol(address)
        self.transport = StringTransport(peerAddress=address)
        self.protocol.makeConnection(self.transport)
        self.parser = ReplyParser()
        self.packet_size = packet_size

    def send(self, data: bytes) -> None:
        """Deliver C{data}, in chunks of C{packet_size} bytes if set."""
        size = self.packet_size or len(data) or 1
        for i in range(0, len(data), size):
            self.protocol.dataReceived(data[i:i + size])

    def replies(self) -> list[Reply]:
        """The replies that arrived since the last look."""
        data = self.transport.value()
        self.transport.clear()
        return self.parser.feed(data)

    def ask(self, line: str) -> Reply:
        """Send a line; its one reply."""
        self.send(line.encode("utf-8") + b"\r\n")
        replies = self.replies()
        if len(replies) != 1:
            raise AssertionError(f"{line!r} got {replies!r}, not one reply")
        return replies[0]

    @property
    def closing(self) -> bool:
        return self.transport.disconnecting

    def drop(self) -> None:
        self.protocol.connectionLost(Failure(ConnectionDone()))


class ProtocolTestCase(SynchronousTestCase):
    lucky = 7
    idle_timeout = 600.0

    def setUp(self) -> None:
        self.start_server()

    def start_server(self) -> None:
        """A new desk and factory: connections are counted from 1, no account exists."""
        self.clock = MemoryReactorClock()
        self.desk = FakeDesk(self.lucky)
        self.factory = ExamFactory(self.clock, self.desk, self.idle_timeout)
        self.ports = iter(range(40001, 50000))

    def connect(self, packet_size: int | None = None, host: str = "127.0.0.1") -> Client:
        c = Client(self.factory, next(self.ports), packet_size, host)
        c.greeting = c.replies()
        return c

    def registered(self, username: str = "alice", password: str = "pw", packet_size=None):
        c = self.connect(packet_size)
        self.assertEqual(c.ask(f"REGISTER {username} {password}"), REGISTERED)
        return c

    def take_math(self, c: Client, answers) -> Reply:
        """Start the math test and give these answers; the reply to the last."""
        self.assertEqual(c.ask("TAKE math"), MATH[0])
        reply = None
        for number, letter in enumerate(answers, 2):
            reply = c.ask(letter)
            if number <= 5:
                self.assertEqual(reply, MATH[number - 1], letter)
        return reply


class GreetingTests(ProtocolTestCase):
    lucky = 3

    def test_welcome(self):
        """If a client connects, then it is greeted C{220 Welcome to the server!}."""
        c = self.connect()
        self.assertEqual((c.greeting, c.closing), ([WELCOME], False))

    def test_lucky_connection_lists_every_counted_address(self):
        """
        If the lucky number is 3, then the third connection is told C{Congratulations you are
        the third user!!!} and the addresses of connections 1 to 3; the others are welcomed.
        """
        first, second, third, fourth = [self.connect() for _ in range(4)]
        self.assertEqual(third.greeting, [Reply(220, (
            "Congratulations you are the third user!!!", "127.0.0.1:40001", "127.0.0.1:40002",
            "127.0.0.1:40003", "Welcome to the server!",
        ))])
        self.assertEqual([first.greeting, second.greeting, fourth.greeting], [[WELCOME]] * 3)

    def test_too_many_connections_from_one_address(self):
        """
        If one address may hold 2 connections, then its third is greeted C{421 Too many
        connections from your address}, closed and not counted: the lucky third connection is
        the next one admitted (from 127.0.0.2), and once one of the first two closes, that
        address is admitted again.
        """
        self.factory.max_per_address = 2
        first, second = self.connect(), self.connect()
        third = self.connect()
        self.assertEqual(
            (third.greeting, third.closing),
            ([Reply(421, ("Too many connections from your address",))], True),
        )
        third.drop()
        other = self.connect(host="127.0.0.2")
        self.assertEqual(other.greeting, [Reply(220, (
            "Congratulations you are the third user!!!", "127.0.0.1:40001", "127.0.0.1:40002",
            "127.0.0.2:40004", "Welcome to the server!",
        ))])
        first.drop()
        self.assertEqual(self.connect().greeting, [WELCOME])

    def test_too_many_connections_at_once_from_one_address(self):
        """
        If one address may open 2 connections at once and one more each second, then its third
        at the same moment is told C{421 Too many connections from your address} and closed,
        uncounted (127.0.0.2's connection is the lucky third), and a second later 127.0.0.1 is
        welcomed again.
        """
        self.factory.arrivals = RateLimit(self.clock, 2, 1.0)
        first, second, third = self.connect(), self.connect(), self.connect()
        self.assertEqual(
            [first.greeting, second.greeting, third.greeting, [third.closing]],
            [[WELCOME], [WELCOME], [Reply(421, ("Too many connections from your address",))],
             [True]],
        )
        self.assertEqual(self.connect(host="127.0.0.2").greeting, [Reply(220, (
            "Congratulations you are the third user!!!", "127.0.0.1:40001", "127.0.0.1:40002",
            "127.0.0.2:40004", "Welcome to the server!",
        ))])
        self.clock.advance(1)
        self.assertEqual(self.connect().greeting, [WELCOME])

    def test_lines_wait_for_the_greeting(self):
        """
        If lines arrive before the connection is counted, then they are answered after the
        greeting: C{220}, then C{214} for HELP.
        """
        self.desk.slow = True
        c = self.connect()
        c.send(b"HELP\r\n")
        self.assertEqual((c.greeting, c.replies()), ([], []))
        self.desk.release()
        self.assertEqual(c.replies(), [WELCOME, HELP])


class SessionTests(ProtocolTestCase):
    """The whole session of docs/protocol.md, in chunks of 1 to 9 bytes."""

    DIALOGUE = [
        ("EXAMS", EXAMS),
        ("TAKE math", LOG_IN_FIRST),
        ("REGISTER ada lovelace 1815", REGISTERED),
        ("take 1", MATH[0]),
        ("b", MATH[1]),
        ("maybe", NOT_AN_ANSWER),
        ("D", MATH[2]),
        ("c", MATH[3]),
        ("a", MATH[4]),
        ("b", Reply(250, ("Your grade is 80.0 (4/5 correct)",))),
        ("QUIT", BYE),
    ]
    CALLS = [
        ("list_tests",),
        ("register", "ada", "lovelace 1815", FIRST),
        ("start", "ada", "1", FIRST),
        ("answer", "B"), ("answer", "D"), ("answer", "C"), ("answer", "A"), ("answer", "B"),
    ]

    def test_line_by_line(self):
        """
        If the client sends the session of docs/protocol.md line by line, in any chunking,
        then each line gets the reply the page shows, and the connection closes after
        C{221 Bye}.
        """
        for packet_size in range(1, 10):
            self.start_server()
            c = self.connect(packet_size)
            self.assertEqual(c.greeting, [WELCOME])
            for line, reply in self.DIALOGUE:
                self.assertEqual(c.ask(line), reply, (packet_size, line))
            self.assertEqual(
                (c.closing, self.desk.calls, self.desk.results),
                (True, self.CALLS, [Stored("graded", "ada", "math", 5, 4, 800, FIRST)]),
            )

    def test_pipelined(self):
        """
        If the client sends the whole session at once, in any chunking, then the replies
        come in the order of the lines, exactly as line by line.
        """
        script = b"".join(line.encode() + b"\r\n" for line, _ in self.DIALOGUE)
        for packet_size in [None, *range(1, 10)]:
            self.start_server()
            c = self.connect(packet_size)
            c.send(script)
            self.assertEqual(c.replies(), [reply for _, reply in self.DIALOGUE], packet_size)
            self.assertEqual((c.closing, self.desk.calls), (True, self.CALLS))

    def test_pipelined_while_the_desk_works(self):
        """
        If the whole session arrives at once while every desk call takes its time, then
        each line is answered only after the desk's answer to the one before, in order.
        """
        script = b"".join(line.encode() + b"\r\n" for line, _ in self.DIALOGUE)
        for packet_size in range(1, 10):
            self.start_server()
            c = self.connect(packet_size)
            self.desk.slow = True
            c.send(script)
            # EXAMS waits on the desk; nothing after it is handled.
            self.assertEqual((c.replies(), self.desk.calls), ([], [("list_tests",)]))
            self.desk.release()
            # EXAMS answered; TAKE (530) needs no desk; REGISTER waits.
            self.assertEqual(c.replies(), [EXAMS, LOG_IN_FIRST])
            self.assertEqual(self.desk.calls, self.CALLS[:2])
            self.desk.release()
            # Registered; TAKE waits.
            self.assertEqual((c.replies(), self.desk.calls), ([REGISTERED], self.CALLS[:3]))
            self.desk.release()
            # The first four answers need no desk Deferred; the grade waits to be stored.
            self.assertEqual(c.replies(), [reply for _, reply in self.DIALOGUE[3:9]])
            self.assertEqual((self.desk.calls, self.desk.results), (self.CALLS, []))
            self.desk.release()
            self.assertEqual(c.replies(), [reply for _, reply in self.DIALOGUE[9:]])
            self.assertTrue(c.closing)


class CommandTests(ProtocolTestCase):
    def test_help(self):
        """
        If the client sends HELP, with or without arguments, then it gets the 214 list of
        every command, ending C{214 End of help}.
        """
        c = self.connect()
        self.assertEqual(c.ask("HELP"), HELP)
        self.assertEqual(c.ask("help me please"), HELP)

    def test_unknown_and_empty(self):
        """
        If a line is not a command (unknown, empty, blank, a command with a tab or a non-ASCII
        letter), then C{500 Please choose a valid command.}, and the desk is not asked.
        """
        c = self.connect()
        for line in ["HELLO", "", " ", "EXAM", "QUIT!", "ﬁ", "\x00", "TAKE\tmath", "do_HELP"]:
            self.assertEqual(c.ask(line), NOT_A_COMMAND, repr(line))
        self.assertEqual((c.closing, self.desk.calls), (False, []))

    def test_command_words_any_case(self):
        """
        If command words come in any case, then they are understood: C{212} twice, C{231}.
        """
        c = self.connect()
        self.assertEqual(c.ask("exams"), EXAMS)
        self.assertEqual(c.ask("ExAmS"), EXAMS)
        self.assertEqual(c.ask("register bob pw"), REGISTERED)

    def test_exams(self):
        """
        If the client sends EXAMS, with or without arguments, then C{212-Available tests:},
        C{212-1 math 5}, C{212-2 python 5}, C{212 End of list}.
        """
        c = self.connect()
        self.assertEqual(c.ask("EXAMS"), EXAMS)
        self.assertEqual(c.ask("EXAMS all of them"), EXAMS)
        self.assertEqual(self.desk.calls, [("list_tests",)] * 2)

    def test_quit(self):
        """
        If the client sends QUIT, with or without arguments, then C{221 Bye} and the
        connection closes; what follows is not answered.
        """
        c = self.connect()
        c.send(b"quit now\r\nHELP\r\n")
        self.assertEqual((c.replies(), c.closing), ([BYE], True))


class RegisterTests(ProtocolTestCase):
    def test_register_logs_in(self):
        """
        If a client registers, then C{231 Successfully registered!} and it is logged in:
        TAKE 1 gets the first question.
        """
        c = self.registered("alice", "pw")
        self.assertEqual(c.ask("TAKE 1"), MATH[0])
        self.assertEqual(self.desk.calls, [("register", "alice", "pw", FIRST),
                                           ("start", "alice", "1", FIRST)])

    def test_name_taken(self):
        """
        If the username is taken, then C{553 Username already exists}, and the connection is
        not logged in: LOGIN still works.
        """
        self.registered("alice", "one")
        c = self.connect()
        self.assertEqual(c.ask("REGISTER alice two"), TAKEN)
        self.assertEqual(c.ask("LOGIN alice one"), LOGGED_IN)

    def test_bad_arguments(self):
        """
        If REGISTER lacks a username or password or the username breaks the rule, then the
        501 usage text; if the password is empty or over 128 characters, then C{501 The
        password must be 1 to 128 characters}; the desk is never asked.
        """
        c = self.connect()
        for line, reply in [
            ("REGISTER", USAGE_REGISTER),
            ("REGISTER alice", USAGE_REGISTER),
            ("REGISTER alice ", BAD_PASSWORD),
            ("REGISTER  alice pw", USAGE_REGISTER),
            ("REGISTER al!ce pw", USAGE_REGISTER),
            ("REGISTER " + "a" * 33 + " pw", USAGE_REGISTER),
            ("REGISTER ålice pw", USAGE_REGISTER),
            ("REGISTER alice " + "p" * 129, BAD_PASSWORD),
            ("REGISTER x' OR '1'='1 pw", USAGE_REGISTER),
        ]:
            self.assertEqual(c.ask(line), reply, line)
        self.assertEqual((c.closing, self.desk.calls), (False, []))

    def test_longest_allowed(self):
        """
        If the username has 32 characters and the password 128 (of two bytes each), then
        C{231}, and LOGIN with them on another connection C{230}.
        """
        name, password = "a" * 32, "é" * 128
        c = self.connect()
        self.assertEqual(c.ask(f"REGISTER {name} {password}"), REGISTERED)
        c2 = self.connect()
        self.assertEqual(c2.ask(f"LOGIN {name} {password}"), LOGGED_IN)
        self.assertEqual(self.desk.calls, [("register", name, password, FIRST),
                                           ("log_in", name, password, SECOND)])

    def test_password_is_the_rest_of_the_line(self):
        """
        If the password has spaces inside and around it, then they are part of it:
        C{LOGIN alice two  words} is C{535}, C{LOGIN alice  two  words } is C{230}.
        """
        self.registered("alice", " two  words ")
        c = self.connect()
        self.assertEqual(c.ask("LOGIN alice two  words"), INVALID_LOGIN)
        self.assertEqual(c.ask("LOGIN alice  two  words "), LOGGED_IN)
        self.assertEqual(self.desk.calls, [
            ("register", "alice", " two  words ", FIRST),
            ("log_in", "alice", "two  words", SECOND),
            ("log_in", "alice", " two  words ", SECOND),
        ])

    def test_already_logged_in_wins_over_bad_arguments(self):
        """
        If a logged-in client sends REGISTER or LOGIN, with any arguments, then C{503
        Already logged in}, and the desk is not asked.
        """
        c = self.registered()
        for line in ["REGISTER bob pw", "REGISTER", "LOGIN alice pw", "login !!"]:
            self.assertEqual(c.ask(line), ALREADY_LOGGED_IN, line)
        self.assertEqual(self.desk.calls, [("register", "alice", "pw", FIRST)])


class WeakPasswordTests(ProtocolTestCase):
    def test_weak_password_is_501_with_the_reason(self):
        """
        If the desk finds a new password too easy to guess, then REGISTER gets 501 with the
        desk's reason, the connection is not logged in (TAKE is 530), and a better password
        registers.
        """
        c = self.connect()
        self.assertEqual(c.ask("REGISTER bob password1"),
                         Reply(501, ("The password is too easy to guess",)))
        self.assertEqual(c.ask("TAKE math"), Reply(530, ("Please log in first",)))
        self.assertEqual(c.ask("REGISTER bob lovelace 1815"), REGISTERED)


class ThrottledTests(ProtocolTestCase):
    def test_login_held_back(self):
        """
        If the desk's throttle holds a LOGIN back for 7.2 s, then C{454 Too many failed
        attempts, try again in 8 s}, and it counts as a failure: with two 535s before it, the
        connection gets C{421 Too many failed attempts} and closes instead.
        """
        self.registered("alice", "right")
        c = self.connect()
        self.desk.login_wait = 7.2
        self.assertEqual(
            c.ask("LOGIN alice right"),
            Reply(454, ("Too many failed attempts, try again in 8 s",)),
        )
        self.desk.login_wait = None
        self.assertEqual(c.ask("LOGIN alice wrong"), INVALID_LOGIN)
        self.desk.login_wait = 1
        self.assertEqual((c.ask("LOGIN alice right"), c.closing), (TOO_MANY_FAILURES, True))

    def test_registration_held_back_before_usage(self):
        """
        If the throttle holds registrations from this address back for 30 s, then even a
        REGISTER with bad arguments gets C{454 Too many registrations, try again in 30 s}
        (protocol.md's order: 503, then 454, then 501), and nothing reaches the desk; a
        logged-in connection still gets 503.
        """
        c = self.connect()
        self.desk.registration_wait = 30
        self.assertEqual(c.ask("REGISTER bad"),
                         Reply(454, ("Too many registrations, try again in 30 s",)))
        self.assertEqual(self.desk.calls, [])
        self.desk.registration_wait = None
        logged = self.registered("bob", "pw")
        self.desk.registration_wait = 30
        self.assertEqual(logged.ask("REGISTER x y"), Reply(503, ("Already logged in",)))


class LoginTests(ProtocolTestCase):
    def test_wrong_password_and_unknown_user(self):
        """
        If the password is wrong or the user unknown, then C{535 Invalid username and/or
        password} alike; the right password then gets C{230}.
        """
        self.registered("alice", "right")
        c = self.connect()
        self.assertEqual(c.ask("LOGIN alice wrong"), INVALID_LOGIN)
        self.assertEqual(c.ask("LOGIN nobody right"), INVALID_LOGIN)
        self.assertEqual(c.ask("LOGIN alice right"), LOGGED_IN)

    def test_third_failure_closes(self):
        """
        If a connection fails to log in a third time, in any chunking, then C{421 Too many
        failed attempts} and it closes; the line after is not answered.
        """
        for packet_size in range(1, 10):
            self.start_server()
            c = self.connect(packet_size)
            self.assertEqual(c.ask("LOGIN a b"), INVALID_LOGIN, packet_size)
            self.assertEqual(c.ask("LOGIN a b"), INVALID_LOGIN)
            c.send(b"LOGIN a b\r\nHELP\r\n")
            self.assertEqual((c.replies(), c.closing), ([TOO_MANY_FAILURES], True))

    def test_usage_errors_are_not_failures(self):
        """
        If a connection has failed twice, then 501 usage errors do not count: the right
        password still gets C{230}.
        """
        self.registered("alice", "right")
        c = self.connect()
        self.assertEqual(c.ask("LOGIN a b"), INVALID_LOGIN)
        self.assertEqual(c.ask("LOGIN a b"), INVALID_LOGIN)
        for line in ["LOGIN", "LOGIN alice", "LOGIN b@d pw"]:
            self.assertEqual(c.ask(line), USAGE_LOGIN, line)
        self.assertEqual(c.ask("LOGIN alice "), BAD_PASSWORD)
        self.assertEqual(c.ask("LOGIN alice right"), LOGGED_IN)

    def test_failures_count_per_connection(self):
        """
        If one connection failed twice, then another's first failure is still C{535}, and
        its right password C{230}.
        """
        self.registered("alice", "right")
        first = self.connect()
        self.assertEqual(first.ask("LOGIN alice x"), INVALID_LOGIN)
        self.assertEqual(first.ask("LOGIN alice x"), INVALID_LOGIN)
        second = self.connect()
        self.assertEqual(second.ask("LOGIN alice x"), INVALID_LOGIN)
        self.assertEqual(second.ask("LOGIN alice right"), LOGGED_IN)


class TakeTests(ProtocolTestCase):
    def test_take_needs_login_first(self):
        """
        If a client not logged in sends TAKE, with any argument or none, then C{530 Please log
        in first}, and the desk is not asked.
        """
        c = self.connect()
        for line in ["TAKE math", "TAKE", "take 1"]:
            self.assertEqual(c.ask(line), LOG_IN_FIRST, line)
        self.assertEqual(self.desk.calls, [])

    def test_no_such_test(self):
        """
        If the desk knows no test by the argument, then C{550 No such test}; the argument
        goes to the desk as written, spaces around it dropped.
        """
        c = self.registered()
        for line in ["TAKE 3", "TAKE 0", "TAKE  chemistry ", "TAKE math' OR '1'='1"]:
            self.assertEqual(c.ask(line), NO_SUCH_TEST, line)
        self.assertEqual(self.desk.calls[1:], [
            ("start", "alice", "3", FIRST),
            ("start", "alice", "0", FIRST),
            ("start", "alice", "chemistry", FIRST),
            ("start", "alice", "math' OR '1'='1", FIRST),
        ])

    def test_take_without_argument(self):
        """
        If a logged-in client sends TAKE without an argument, then C{501 Usage: TAKE <number
        or name>, as EXAMS lists them}.
        """
        c = self.registered()
        for line in ["TAKE", "TAKE ", "TAKE  \t "]:
            self.assertEqual(c.ask(line), USAGE_TAKE, repr(line))
        self.assertEqual(self.desk.calls, [("register", "alice", "pw", FIRST)])

    def test_by_number_or_name_in_any_case(self):
        """
        If the client takes test 2, or PYTHON, then the first question of the python test:
        C{350-Question 1 of 5} ... C{350 D) 512}.
        """
        c = self.registered()
        self.assertEqual(c.ask("TAKE 2"), PYTHON_1)
        self.assertEqual(c.ask("QUIT"), BYE)
        c = self.connect()
        self.assertEqual(c.ask("LOGIN alice pw"), LOGGED_IN)
        self.assertEqual(c.ask("TAKE PYTHON"), PYTHON_1)

    def test_whole_test_graded(self):
        """
        If the client answers every question, 4 of 5 right, then C{250 Your grade is 80.0
        (4/5 correct)} once the desk stored it, and it stays logged in for another test.
        """
        c = self.registered()
        reply = self.take_math(c, "BDCAA")
        self.assertEqual(reply, Reply(250, ("Your grade is 80.0 (4/5 correct)",)))
        self.assertEqual(self.desk.results, [Stored("graded", "alice", "math", 5, 4, 800, FIRST)])
        self.assertEqual(c.ask("TAKE python"), PYTHON_1)

    def test_questions_follow_in_order(self):
        """
        If the client answers, then the next question follows, C{Question 2 of 5} to
        C{Question 5 of 5}, each with its text (one or more lines) and four choices.
        """
        c = self.registered()
        self.assertEqual(c.ask("TAKE math"), MATH[0])
        self.assertEqual([c.ask("a") for _ in range(4)], MATH[1:])

    def test_answers_any_case_with_spaces_and_tabs(self):
        """
        If answers come in any case with spaces and tabs around them, in any chunking, then
        they count: C{250 Your grade is 100.0 (5/5 correct)}.
        """
        for packet_size in range(1, 10):
            self.start_server()
            c = self.registered(packet_size=packet_size)
            reply = self.take_math(c, ["b", " D ", "\tc\t", " \ta", "c "])
            self.assertEqual(reply, Reply(250, ("Your grade is 100.0 (5/5 correct)",)))

    def test_anything_else_is_not_an_answer(self):
        """
        If a line during a test is not an answer, in any chunking, then C{501 Answer with A,
        B, C or D} alone: the question stays open and is not sent again; B then gets
        question 2.
        """
        for packet_size in range(1, 10):
            self.start_server()
            c = self.registered(packet_size=packet_size)
            self.assertEqual(c.ask("TAKE math"), MATH[0])
            for line in ["E", "AB", "A B", "", "EXAMS", "TAKE 2", "LOGIN alice pw",
                         "REGISTER x y", "1", "Ａ"]:
                self.assertEqual(c.ask(line), NOT_AN_ANSWER, (packet_size, line))
            self.assertEqual(c.ask("B"), MATH[1])
            self.assertEqual(self.desk.calls[-1:], [("answer", "B")])

    def test_help_during_a_test(self):
        """
        If the client sends HELP during a test, then the help; the question stays open: B
        then gets question 2.
        """
        c = self.registered()
        self.assertEqual(c.ask("TAKE math"), MATH[0])
        self.assertEqual(c.ask("help"), HELP)
        self.assertEqual(c.ask("B"), MATH[1])

    def test_quit_during_a_test_abandons_it(self):
        """
        If the client quits during a test, then the desk records it as abandoned after one
        answer, then C{221 Bye} and the connection closes.
        """
        c = self.registered()
        self.assertEqual(c.ask("TAKE math"), MATH[0])
        self.assertEqual(c.ask("B"), MATH[1])
        self.assertEqual(c.ask("QUIT"), BYE)
        self.assertEqual(
            (c.closing, self.desk.results),
            (True, [Stored("abandoned", "alice", "math", 1, 1, None, FIRST)]),
        )
        c.drop()
        self.assertEqual(self.desk.calls[-1:], [("abandon", "math", 1)])

    def test_bye_after_the_abandoned_test_is_recorded(self):
        """
        If the desk takes its time recording the abandoned test, then C{221 Bye} comes only
        once it has.
        """
        c = self.registered()
        self.assertEqual(c.ask("TAKE math"), MATH[0])
        self.desk.slow = True
        c.send(b"QUIT\r\n")
        self.assertEqual((c.replies(), c.closing, self.desk.results), ([], False, []))
        self.desk.release()
        self.assertEqual(
            (c.replies(), c.closing, self.desk.results),
            ([BYE], True, [Stored("abandoned", "alice", "math", 0, 0, None, FIRST)]),
        )

    def test_lost_connection_abandons_the_test(self):
        """
        If the connection is lost during a test, then the desk records it as abandoned with
        no question answered.
        """
        c = self.registered()
        self.assertEqual(c.ask("TAKE python"), PYTHON_1)
        c.drop()
        self.assertEqual(self.desk.results,
                         [Stored("abandoned", "alice", "python", 0, 0, None, FIRST)])


class GradeStorageTests(ProtocolTestCase):
    def answered_all_but_last(self) -> Client:
        c = self.registered()
        self.take_math(c, MATH_KEY[:-1])
        return c

    def test_grade_sent_only_once_stored(self):
        """
        If the desk takes its time storing the grade, then C{250 Your grade is 100.0 (5/5
        correct)} comes only once it has.
        """
        c = self.answered_all_but_last()
        self.desk.slow = True
        c.send(b"C\r\n")
        self.assertEqual((c.replies(), self.desk.results), ([], []))
        self.desk.release()
        self.assertEqual(c.replies(), [Reply(250, ("Your grade is 100.0 (5/5 correct)",))])
        self.assertEqual(self.desk.results, [Stored("graded", "alice", "math", 5, 5, 1000, FIRST)])

    def test_grade_not_stored_reopens_the_last_question(self):
        """
        If the grade cannot be stored, then C{451 Local error, try again later} and the last
        question is open again: C then gets the grade C{250 Your grade is 100.0 (5/5
        correct)}.
        """
        c = self.answered_all_but_last()
        self.desk.broken = StorageFailed()
        self.assertEqual(c.ask("C"), LOCAL_ERROR)
        self.assertEqual(len(self.flushLoggedErrors(StorageFailed)), 1)
        self.desk.broken = None
        self.assertEqual(c.ask("C"), Reply(250, ("Your grade is 100.0 (5/5 correct)",)))
        self.assertEqual(self.desk.results, [Stored("graded", "alice", "math", 5, 5, 1000, FIRST)])

    def test_dropped_while_the_grade_is_stored(self):
        """
        If the connection is lost while the grade is stored, then the grade is the attempt's
        only result: the desk is told of the finishing attempt and records no abandon.
        """
        c = self.answered_all_but_last()
        self.desk.slow = True
        c.send(b"C\r\n")
        c.drop()
        self.desk.release()
        self.assertEqual(self.desk.calls[-2:], [("answer", "C"), ("abandon", "math", 5)])
        self.assertEqual(self.desk.results, [Stored("graded", "alice", "math", 5, 5, 1000, FIRST)])
        self.assertEqual(c.replies(), [])


class BadInputTests(ProtocolTestCase):
    def test_line_too_long_without_waiting_for_its_end(self):
        """
        If 1025 bytes arrive without a line ending, in any chunking, then C{500 Line too
        long} and the connection closes at once.
        """
        for packet_size in range(1, 10):
            c = self.connect(packet_size)
            c.send(b"x" * 1025)
            self.assertEqual((c.replies(), c.closing), ([LINE_TOO_LONG], True), packet_size)

    def test_longest_line_is_fine(self):
        """
        If a line has 1024 bytes before CRLF or LF, then it is not too long (C{500 Please
        choose a valid command.}); nor are 1024 bytes and a CR so far: the LF then makes
        a HELP line.
        """
        for packet_size in range(1, 10):
            c = self.connect(packet_size)
            c.send(b"x" * 1024 + b"\r\n" + b"x" * 1024 + b"\n")
            self.assertEqual(c.replies(), [NOT_A_COMMAND] * 2, packet_size)
            c.send(b"HELP" + b" " * 1020 + b"\r")
            self.assertEqual((c.replies(), c.closing), ([], False))
            c.send(b"\n")
            self.assertEqual(c.replies(), [HELP])

    def test_too_long_in_any_chunking(self):
        """
        If a line of 1025 bytes and CRLF arrives in any chunking, then C{500 Line too long}
        once, and nothing more.
        """
        data = b"y" * 1025 + b"\r\n"
        for packet_size in [*range(1, 10), 100, 1025, 3000]:
            c = self.connect(packet_size)
            c.send(data)
            self.assertEqual((c.replies(), c.closing), ([LINE_TOO_LONG], True), packet_size)

    def test_invalid_utf8_keeps_the_state(self):
        """
        If a line is not UTF-8 during a test, then C{500 Invalid UTF-8}; the connection stays
        open and the question too: B then gets question 2.
        """
        for packet_size in range(1, 10):
            self.start_server()
            c = self.registered(packet_size=packet_size)
            self.assertEqual(c.ask("TAKE math"), MATH[0])
            c.send(b"\xff\xfe\r\n")
            self.assertEqual((c.replies(), c.closing), ([INVALID_UTF8], False), packet_size)
            self.assertEqual(c.ask("B"), MATH[1])

    def test_too_long_mid_test_abandons_it(self):
        """
        If a line is too long during a test, then C{500 Line too long}, the connection
        closes, and the test is recorded as abandoned.
        """
        c = self.registered()
        self.assertEqual(c.ask("TAKE math"), MATH[0])
        c.send(b"B" * 2000)
        self.assertEqual((c.replies(), c.closing), ([LINE_TOO_LONG], True))
        c.drop()
        self.assertEqual(self.desk.results,
                         [Stored("abandoned", "alice", "math", 0, 0, None, FIRST)])


class PipeliningTests(ProtocolTestCase):
    def test_held_while_the_desk_works(self):
        """
        If a line waits on the desk, then later lines wait their turn, and once more than
        65536 bytes of them are held the socket is not read; once the desk answers, every
        held line is answered, in order, and the socket is read again.
        """
        c = self.connect()
        self.desk.slow = True
        c.send(b"LOGIN alice pw\r\nEXAMS\r\n")
        self.assertEqual((c.replies(), self.desk.calls, c.transport.producerState),
                         ([], [("log_in", "alice", "pw", FIRST)], "producing"))
        line = b"x" * 1022 + b"\r\n"
        c.send(line * 63)  # 7 + 64512 bytes held
        self.assertEqual((c.replies(), c.transport.producerState), ([], "producing"))
        c.send(line)  # 65543 bytes held
        self.assertEqual((c.replies(), c.transport.producerState), ([], "paused"))
        self.desk.release()  # LOGIN is answered; EXAMS waits with 65536 bytes behind it
        self.assertEqual((c.replies(), c.transport.producerState), ([INVALID_LOGIN], "producing"))
        self.desk.release()
        self.assertEqual(c.replies(), [EXAMS] + [NOT_A_COMMAND] * 64)
        self.assertEqual(c.transport.producerState, "producing")


class IdleTimeoutTests(ProtocolTestCase):
    idle_timeout = 30.0

    def test_idle_connection_closed(self):
        """
        If a client sends nothing for 30 seconds, counted from its last reply, then C{421
        Idle timeout} and the connection closes.
        """
        c = self.connect()
        self.clock.advance(29)
        self.assertEqual((c.replies(), c.closing), ([], False))
        self.assertEqual(c.ask("HELP"), HELP)
        self.clock.advance(29)
        self.assertEqual((c.replies(), c.closing), ([], False))
        self.clock.advance(1)
        self.assertEqual((c.replies(), c.closing), ([IDLE], True))

    def test_timer_stopped_while_the_server_works(self):
        """
        If the desk works on a line for 100 seconds, then no idle timeout meanwhile; it
        comes 30 seconds after the reply.
        """
        c = self.connect()
        self.desk.slow = True
        c.send(b"LOGIN alice pw\r\n")
        self.clock.pump([1] * 100)
        self.assertEqual((c.replies(), c.closing), ([], False))
        self.desk.release()
        self.assertEqual(c.replies(), [INVALID_LOGIN])
        self.clock.advance(29)
        self.assertEqual((c.replies(), c.closing), ([], False))
        self.clock.advance(1)
        self.assertEqual((c.replies(), c.closing), ([IDLE], True))

    def test_idle_mid_test_abandons_it(self):
        """
        If a client is idle during a test, then C{421 Idle timeout}, and the test is recorded
        as abandoned.
        """
        c = self.registered()
        self.assertEqual(c.ask("TAKE math"), MATH[0])
        self.clock.advance(30)
        self.assertEqual((c.replies(), c.closing), ([IDLE], True))
        c.drop()
        self.assertEqual(self.desk.results,
                         [Stored("abandoned", "alice", "math", 0, 0, None, FIRST)])


class ShutdownTests(ProtocolTestCase):
    def test_every_connection_told(self):
        """
        If the server shuts down, then every connection gets C{421 Server shutting down} and
        closes; the shutdown is done once all are gone.
        """
        a, b = self.connect(), self.registered()
        done = self.factory.shutdown()
        self.assertEqual((a.replies(), a.closing), ([SHUTTING_DOWN], True))
        self.assertEqual((b.replies(), b.closing), ([SHUTTING_DOWN], True))
        self.assertNoResult(done)
        a.drop()
        self.assertNoResult(done)
        b.drop()
        self.assertEqual(self.successResultOf(done), [(True, None), (True, None)])

    def test_line_in_hand_is_answered_first(self):
        """
        If the server shuts down while the desk works on a line, then that line's reply
        comes first (C{535}), then C{421 Server shutting down}.
        """
        c = self.connect()
        self.desk.slow = True
        c.send(b"LOGIN alice pw\r\n")
        done = self.factory.shutdown()
        self.assertEqual((c.replies(), c.closing), ([], False))
        self.desk.release()
        self.assertEqual((c.replies(), c.closing), ([INVALID_LOGIN, SHUTTING_DOWN], True))
        c.drop()
        self.assertEqual(self.successResultOf(done), [(True, None)])

    def test_test_in_hand_is_abandoned(self):
        """
        If the server shuts down during a test, then C{421 Server shutting down}, and the
        test is recorded as abandoned once the connection is gone.
        """
        c = self.registered()
        self.assertEqual(c.ask("TAKE math"), MATH[0])
        self.factory.shutdown()
        self.assertEqual((c.replies(), c.closing), ([SHUTTING_DOWN], True))
        c.drop()
        self.assertEqual(self.desk.results,
                         [Stored("abandoned", "alice", "math", 0, 0, None, FIRST)])
