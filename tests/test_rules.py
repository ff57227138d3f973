"""
A test's rules on the wire (docs/protocol.md, "Test rules"), with time on a MemoryReactorClock:
the exam protocol on a StringTransport in front of the real desk over a real database (SQLite,
and PostgreSQL in the Postgres* classes). Time limits, deadlines, windows, the resume window,
attempts counted, continuing and taking over an attempt, INFO and RESULTS.
"""

from __future__ import annotations

from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.trial import unittest

from examtwist.counting import counter_for
from examtwist.desk import ExamDesk
from examtwist.examport import ExamFactory
from examtwist.passwords import PasswordHasher
from examtwist.storage import Store
from examtwist.testbank import Rules, Test
from examtwist.wire import Reply, ReplyParser
from tests.support import CHEAP_HASH, OnPostgres, backend_of, eventually

NINE = 1796115600  # 2026-12-01 09:00:00 UTC
TIME_UP = "Time is up"
MATH_TEXT = {  # the first line of each built-in math question, and its right choice's text
    "What is 12 * 12?": "144",
    "The sum of the first N odd numbers is:": "N^2",
    "What is the square root of 169?": "13",
    "Solve for x: 3x + 7 = 22": "5",
    "A rectangle is 8 cm long and 5 cm wide.": "40 cm^2",
}


class Line:
    """One connection on a StringTransport; replies read as a client reads them."""

    def __init__(self, factory: ExamFactory, port: int) -> None:
        address = IPv4Address("TCP", "127.0.0.1", port)
        self.protocol = factory.buildProtocol(address)
        self.transport = StringTransport(peerAddress=address)
        self.protocol.makeConnection(self.transport)
        self.parser = ReplyParser()
        self.got: list[Reply] = []

    def replies(self) -> list[Reply]:
        self.got.extend(self.parser.feed(self.transport.value()))
        self.transport.clear()
        got, self.got = self.got, []
        return got

    async def next(self) -> Reply:
        await eventually(lambda: self.got or self.got.extend(
            self.parser.feed(self.transport.value())) or self.transport.clear() or self.got)
        return self.got.pop(0)

    async def ask(self, line: str) -> Reply:
        self.protocol.dataReceived(line.encode() + b"\r\n")
        return await self.next()

    def drop(self) -> None:
        self.protocol.connectionLost(None)

    @property
    def closing(self) -> bool:
        return self.transport.disconnecting


def right_letter(reply: Reply) -> str:
    """The letter of the right choice of a math question as this reply shows it."""
    body = [line for line in reply.lines[1:] if not line.startswith("Time left:")]
    right = MATH_TEXT[body[0]]
    return next(line[0] for line in body[-4:] if line[3:] == right)


class RulesTestCase(unittest.TestCase):
    """A desk on a new database with a clock at 2026-12-01 09:00:00 UTC."""

    async def setUp(self) -> None:
        self.clock = MemoryReactorClock()
        self.clock.advance(NINE)
        self.db = await backend_of(self).new_database(self)
        self.desk, self.factory = await self.server()
        self.ports = iter(range(40001, 50000))

    async def server(self, **options):
        store = Store(reactor, self.db)
        desk = ExamDesk(store, PasswordHasher(reactor, CHEAP_HASH), counter_for(store, 7),
                        clock=self.clock, **options)
        desk.startService()
        self.addCleanup(lambda: desk.running and desk.stopService())
        await desk.ready
        return desk, ExamFactory(self.clock, desk, idle_timeout=None)

    async def rules(self, **rules) -> None:
        self.assertTrue(await self.desk.store.set_rules("math", Rules(**rules)))

    async def connect(self, user: str | None = "ada", factory=None) -> Line:
        line = Line(factory or self.factory, next(self.ports))
        self.assertEqual((await line.next()).code, 220)
        if user is not None:
            reply = await line.ask(f"REGISTER {user} pw") if user not in self.users else \
                await line.ask(f"LOGIN {user} pw")
            self.assertIn(reply.code, (230, 231))
            self.users.add(user)
        return line

    users: set[str]

    def run(self, result):
        self.users = set()
        return super().run(result)

    async def results(self, line: Line) -> Reply:
        return await line.ask("RESULTS")


class TimeLimitTests(RulesTestCase):
    async def test_time_left_on_each_question(self) -> None:
        """
        If math has a 600 s limit and ada takes it at 09:00:00 sharp, then its first question's
        second line is "Time left: 599 s" (never the whole 600), and after 41.5 s the second's
        is "Time left: 558 s".
        """
        await self.rules(time_limit=600)
        line = await self.connect()
        first = await line.ask("TAKE math")
        self.assertEqual(first.lines[:3],
                         ("Question 1 of 5", "Time left: 599 s", "What is 12 * 12?"))
        self.clock.advance(41.5)
        second = await line.ask("B")
        self.assertEqual(second.lines[:3], ("Question 2 of 5", "Time left: 558 s",
                                            "The sum of the first N odd numbers is:"))

    async def test_time_up_unasked(self) -> None:
        """
        If ada answers one question of a 60 s test right and then nothing, then at the
        deadline the server sends, unasked, "250-Time is up" / "250 Your grade is 20.0 (1/5
        correct)"; she stays logged in, and RESULTS lists "math 20.0 2026-12-01 09:01 UTC".
        """
        await self.rules(time_limit=60)
        line = await self.connect()
        await line.ask("TAKE math")
        await line.ask("B")
        self.clock.advance(59)
        self.assertEqual(line.replies(), [])
        self.clock.advance(1)
        self.assertEqual(await line.next(),
                         Reply(250, (TIME_UP, "Your grade is 20.0 (1/5 correct)")))
        self.assertEqual(await self.results(line), Reply(216, (
            "Your results:", "math 20.0 2026-12-01 09:01 UTC", "End of list")))

    async def test_line_after_the_deadline(self) -> None:
        """
        If an answer arrives after the deadline but before the timer has fired, then it gets
        the time-up reply (0/5 counted: the late answer is not) and then "500 Please choose a
        valid command.", as a line of a logged-in connection.
        """
        await self.rules(time_limit=60)
        line = await self.connect()
        await line.ask("TAKE math")
        self.clock.rightNow += 61  # the timer has not run yet
        self.assertEqual(await line.ask("B"),
                         Reply(250, (TIME_UP, "Your grade is 0.0 (0/5 correct)")))
        self.assertEqual(await line.next(), Reply(500, ("Please choose a valid command.",)))

    async def test_closing_time_is_a_deadline(self) -> None:
        """
        If math closes at 09:10 and ada takes it at 09:09:30 with a 600 s limit, then her
        first question shows "Time left: 29 s" and time is up at 09:10.
        """
        await self.rules(time_limit=600, closes=NINE + 600)
        line = await self.connect()
        self.clock.advance(570.5)
        self.assertEqual((await line.ask("TAKE math")).lines[1], "Time left: 29 s")
        self.clock.advance(29.5)
        self.assertEqual(await line.next(),
                         Reply(250, (TIME_UP, "Your grade is 0.0 (0/5 correct)")))


class WindowTests(RulesTestCase):
    async def test_outside_the_window(self) -> None:
        """
        If math opens at 09:30, then at 09:00 EXAMS lists only "2 python 5", TAKE math and
        TAKE 1 are "554 Test is not open", and INFO 1 still describes it with "Opens:
        2026-12-01 09:30 UTC"; at 09:30 it is listed and can be taken.
        """
        await self.rules(opens=NINE + 1800)
        line = await self.connect()
        self.assertEqual(await line.ask("EXAMS"),
                         Reply(212, ("Available tests:", "2 python 5", "End of list")))
        for take in ("TAKE math", "TAKE 1"):
            self.assertEqual(await line.ask(take), Reply(554, ("Test is not open",)))
        self.assertEqual(await line.ask("INFO 1"), Reply(213, (
            "Test: math", "Questions: 5", "Time limit: none", "Attempts allowed: unlimited",
            "Attempts left: unlimited", "Order: fixed", "Opens: 2026-12-01 09:30 UTC",
            "End of info")))
        self.clock.advance(1800)
        self.assertEqual((await line.ask("EXAMS")).lines[1], "1 math 5")
        self.assertEqual((await line.ask("TAKE 1")).lines[0], "Question 1 of 5")


class AttemptsTests(RulesTestCase):
    async def test_attempts_counted(self) -> None:
        """
        If math allows 2 attempts, then INFO says "Attempts left: 2", then 1 after one attempt
        abandoned by QUIT, then 0 after a graded one, and the third TAKE is "554 No attempts
        left"; RESULTS lists "math abandoned 2026-12-01 09:00 UTC" then "math 100.0 ...".
        """
        await self.rules(attempts=2)
        line = await self.connect()
        self.assertEqual((await line.ask("INFO math")).lines[3:5],
                         ("Attempts allowed: 2", "Attempts left: 2"))
        await line.ask("TAKE math")
        self.assertEqual(await line.ask("QUIT"), Reply(221, ("Bye",)))
        line = await self.connect()
        self.assertEqual((await line.ask("INFO math")).lines[4], "Attempts left: 1")
        await line.ask("TAKE math")
        for letter in "BDCA":
            await line.ask(letter)
        self.assertEqual(await line.ask("C"),
                         Reply(250, ("Your grade is 100.0 (5/5 correct)",)))
        self.assertEqual((await line.ask("INFO math")).lines[4], "Attempts left: 0")
        self.assertEqual(await line.ask("TAKE math"), Reply(554, ("No attempts left",)))
        self.assertEqual(await self.results(line), Reply(216, (
            "Your results:", "math abandoned 2026-12-01 09:00 UTC",
            "math 100.0 2026-12-01 09:00 UTC", "End of list")))


class SuspendedTests(RulesTestCase):
    async def test_continued_after_a_drop(self) -> None:
        """
        If ada's connection drops after two answers of a shuffled 600 s test, then her TAKE
        on a new connection 100 s later shows "Question 3 of 5" with "Time left: 499 s" and
        the question the old one would have asked next, and answering the rest right grades
        her 5/5 counting the two kept answers; INFO then says "Attempts left: 0" of 1.
        """
        await self.rules(attempts=1, time_limit=600, shuffled=True)
        line = await self.connect()
        asked = await line.ask("TAKE math")
        asked = await line.ask(right_letter(asked))
        third = await line.ask(right_letter(asked))
        line.drop()
        self.clock.advance(100)
        again = await self.connect()
        continued = await again.ask("TAKE math")
        self.assertEqual(continued.lines[0], "Question 3 of 5")
        self.assertEqual(continued.lines[1], "Time left: 499 s")
        self.assertEqual(continued.lines[2:], third.lines[2:])
        for _ in range(2):
            continued = await again.ask(right_letter(continued))
        self.assertEqual(await again.ask(right_letter(continued)),
                         Reply(250, ("Your grade is 100.0 (5/5 correct)",)))
        self.assertEqual((await again.ask("INFO math")).lines[3:5],
                         ("Attempts allowed: 1", "Attempts left: 0"))

    async def test_resume_window_runs_out(self) -> None:
        """
        If ada's attempt of a test with an attempts limit and no deadline is suspended at
        09:00 and the resume window is 1800 s, then at 09:31 RESULTS lists it "math abandoned
        2026-12-01 09:30 UTC", and TAKE is "554 No attempts left".
        """
        await self.rules(attempts=1)
        line = await self.connect()
        await line.ask("TAKE math")
        line.drop()
        self.clock.advance(1860)
        again = await self.connect()
        self.assertEqual(await self.results(again), Reply(216, (
            "Your results:", "math abandoned 2026-12-01 09:30 UTC", "End of list")))
        self.assertEqual(await again.ask("TAKE math"), Reply(554, ("No attempts left",)))

    async def test_deadline_passes_while_suspended(self) -> None:
        """
        If ada answers one question right, drops, and never comes back before the 60 s
        deadline, then RESULTS afterwards lists "math 20.0 2026-12-01 09:01 UTC" (time up).
        """
        await self.rules(time_limit=60)
        line = await self.connect()
        await line.ask("TAKE math")
        await line.ask("B")
        line.drop()
        self.clock.advance(3600)
        again = await self.connect()
        self.assertEqual(await self.results(again), Reply(216, (
            "Your results:", "math 20.0 2026-12-01 09:01 UTC", "End of list")))

    async def test_taken_over(self) -> None:
        """
        If ada TAKEs math on a second connection while her first is in it, then the first
        gets "421 Test continued on another connection" at once and closes, and the second
        continues at "Question 2 of 5".
        """
        await self.rules(time_limit=600)
        first = await self.connect()
        await first.ask("TAKE math")
        await first.ask("B")
        second = await self.connect()
        self.assertEqual((await second.ask("TAKE math")).lines[0], "Question 2 of 5")
        self.assertEqual(await first.next(),
                         Reply(421, ("Test continued on another connection",)))
        self.assertTrue(first.closing)

    async def test_quit_abandons(self) -> None:
        """
        If ada QUITs during a timed test, then the attempt is "abandoned" at once: RESULTS
        lists "math abandoned 2026-12-01 09:00 UTC" and the timer sends nothing later.
        """
        await self.rules(time_limit=60)
        line = await self.connect()
        await line.ask("TAKE math")
        self.assertEqual(await line.ask("QUIT"), Reply(221, ("Bye",)))
        self.clock.advance(120)
        self.assertEqual(line.replies(), [])
        again = await self.connect()
        self.assertEqual(await self.results(again), Reply(216, (
            "Your results:", "math abandoned 2026-12-01 09:00 UTC", "End of list")))


class InfoTests(RulesTestCase):
    async def test_info_every_rule(self) -> None:
        """
        If math has every rule, then INFO math before login has no "Attempts left" line and
        after login it has "Attempts left: 2", in protocol.md's order.
        """
        await self.rules(attempts=2, time_limit=600, shuffled=True, opens=NINE,
                         closes=NINE + 7200)
        line = await self.connect(user=None)
        rules = ("Time limit: 600 s", "Attempts allowed: 2")
        window = ("Order: shuffled", "Opens: 2026-12-01 09:00 UTC",
                  "Closes: 2026-12-01 11:00 UTC", "End of info")
        self.assertEqual(await line.ask("INFO math"),
                         Reply(213, ("Test: math", "Questions: 5", *rules, *window)))
        await line.ask("REGISTER ada pw")
        self.assertEqual(await line.ask("INFO 1"), Reply(213, (
            "Test: math", "Questions: 5", *rules, "Attempts left: 2", *window)))

    async def test_info_errors(self) -> None:
        """
        If INFO names no test, then "550 No such test"; without an argument, a 501; the
        built-in python test's rules are all off.
        """
        line = await self.connect(user=None)
        self.assertEqual(await line.ask("INFO chemistry"), Reply(550, ("No such test",)))
        self.assertEqual(await line.ask("INFO"),
                         Reply(501, ("Usage: INFO <number or name>, as EXAMS lists them",)))
        self.assertEqual(await line.ask("INFO python"), Reply(213, (
            "Test: python", "Questions: 5", "Time limit: none", "Attempts allowed: unlimited",
            "Order: fixed", "End of info")))


class RegistrationTests(RulesTestCase):
    async def test_closed(self) -> None:
        """If registration is closed, then REGISTER is "554 Registration is closed"."""
        _, factory = await self.server(registration="closed")
        line = await self.connect(user=None, factory=factory)
        self.assertEqual(await line.ask("REGISTER ada lovelace1815"),
                         Reply(554, ("Registration is closed",)))

    async def test_roster(self) -> None:
        """
        If registration is limited to a roster holding "Ada", then REGISTER bob is "554 Not
        on the class roster" and REGISTER ada is "231 Successfully registered!".
        """
        desk, factory = await self.server(registration="roster")
        self.assertEqual(await desk.store.add_to_roster(["Ada"]), 1)
        line = await self.connect(user=None, factory=factory)
        self.assertEqual(await line.ask("REGISTER bob pw"),
                         Reply(554, ("Not on the class roster",)))
        self.assertEqual(await line.ask("REGISTER ada pw"),
                         Reply(231, ("Successfully registered!",)))


class PostgresTimeLimitTests(OnPostgres, TimeLimitTests):
    pass


class PostgresAttemptsTests(OnPostgres, AttemptsTests):
    pass


class PostgresSuspendedTests(OnPostgres, SuspendedTests):
    pass


class ChangedTestTests(RulesTestCase):
    async def test_questions_replaced_mid_attempt(self) -> None:
        """
        If the admin gives math 3 questions while ada's attempt of its 5 is suspended, then
        her next TAKE starts a new attempt ("Question 1 of 3") instead of failing, and once she
        QUITs it RESULTS lists both: "math abandoned 2026-12-01 09:00 UTC" twice.
        """
        await self.rules(time_limit=600)
        line = await self.connect()
        await line.ask("TAKE math")
        line.drop()
        test = (await self.desk.store.find_test("math"))
        await self.desk.store.add_test(Test("math", test.questions[:3], test.rules), replace=True)
        again = await self.connect()
        self.assertEqual((await again.ask("TAKE math")).lines[0], "Question 1 of 3")
        await again.ask("QUIT")
        third = await self.connect()
        self.assertEqual(await self.results(third), Reply(216, (
            "Your results:", "math abandoned 2026-12-01 09:00 UTC",
            "math abandoned 2026-12-01 09:00 UTC", "End of list")))
