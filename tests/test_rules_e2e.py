"""
Protocol 1.1's test rules end to end: real C{twistd -n examtwist} servers, a line client written
from docs/protocol.md alone (not examtwist's own client), over real sockets on loopback. Rules
and the class roster are set in the database beside the running server, as the admin's
commands do. Every expected reply is the literal text of protocol.md.
"""

from __future__ import annotations

import calendar
import csv
import io
import os
import re
import signal
import time

from twisted.internet import reactor
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import Protocol
from twisted.internet.task import deferLater
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import TestCase

from examtwist.testbank import Rules
from tests.support import (
    LOOPBACK,
    MATH_KEY,
    MATH_QUESTIONS,
    OnPostgres,
    WatchedTwistd,
    admin_path,
    backend_of,
    open_store,
)

# Nobody is the lucky connection: every greeting is the plain one.
NOT_LUCKY = ("--lucky", "1000000")
_LINE = re.compile(r"(\d{3})([- ])(.*)\Z", re.DOTALL)
_TIME_LEFT = re.compile(r"350-Time left: (\d+) s\Z")


class LineClient(Protocol):
    """
    A client of the exam protocol written from docs/protocol.md alone: it splits what arrives
    into CRLF-ended lines and the lines into replies (C{DDD-text} goes on, C{DDD text} ends a
    reply, all lines of one reply carry one code). A reply is the list of its lines as sent,
    code included. A line that breaks those rules is delivered as a reply of its own, starting
    "BROKEN", so that the comparison that meets it fails.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._partial: list[str] = []
        self.replies: list[list[str]] = []
        self._waiting: list[Deferred] = []
        self.closed: Deferred[None] = Deferred()
        self.is_closed = False

    def dataReceived(self, data: bytes) -> None:
        self._buffer += data
        while b"\n" in self._buffer:
            raw, self._buffer = self._buffer.split(b"\n", 1)
            self._line(raw)

    def _line(self, raw: bytes) -> None:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            return self._deliver([f"BROKEN not UTF-8: {raw!r}"])
        if not line.endswith("\r"):
            return self._deliver([f"BROKEN no CRLF: {line!r}"])
        line = line[:-1]
        found = _LINE.match(line)
        if found is None:
            return self._deliver([f"BROKEN not a reply line: {line!r}"])
        if self._partial and self._partial[0][:3] != found.group(1):
            return self._deliver([f"BROKEN code changed within a reply: {self._partial + [line]}"])
        self._partial.append(line)
        if found.group(2) == " ":
            reply, self._partial = self._partial, []
            self._deliver(reply)

    def _deliver(self, reply: list[str]) -> None:
        if self._waiting:
            self._waiting.pop(0).callback(reply)
        else:
            self.replies.append(reply)

    def connectionLost(self, reason=None) -> None:
        self.is_closed = True
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.errback(ConnectionDone("the server closed the connection"))
        self.closed.callback(None)

    def send(self, *lines: str) -> None:
        self.transport.write(b"".join(line.encode("utf-8") + b"\r\n" for line in lines))

    def reply(self) -> Deferred[list[str]]:
        """The next reply, whether asked for or not."""
        if self.replies:
            return succeed(self.replies.pop(0))
        if self.is_closed:
            return fail(ConnectionDone("the server closed the connection"))
        d: Deferred[list[str]] = Deferred()
        self._waiting.append(d)
        return d

    async def ask(self, line: str) -> list[str]:
        self.send(line)
        return await self.reply()

    async def drop(self) -> None:
        """Go away without QUIT, as a client whose network fails does."""
        self.transport.abortConnection()
        await self.closed


async def connect(port: int, source: str = LOOPBACK) -> LineClient:
    """A connection from C{source} (127.0.0.2 and so on: another machine), its greeting read."""
    endpoint = TCP4ClientEndpoint(reactor, LOOPBACK, port, bindAddress=(source, 0))
    client = await connectProtocol(endpoint, LineClient())
    greeting = await client.reply()
    assert greeting == ["220 Welcome to the server!"], greeting
    return client


# The built-in math test, from the wire's point of view: the lines of each question, and the
# text of the right choice for each question's text.
MATH = [[f"350-{line}" for line in q.lines[:-1]] + [f"350 {q.lines[-1]}"] for q in MATH_QUESTIONS]
RIGHT_CHOICE = {
    tuple(q.lines[1:-4]): q.lines[-4:]["ABCD".index(key)][3:]
    for q, key in zip(MATH_QUESTIONS, MATH_KEY)
}
GRADE_100 = ["250 Your grade is 100.0 (5/5 correct)"]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return calendar.timegm((year, month, day, hour, minute, 0))


def minutes_since(start: float) -> set[str]:
    """Every minute from C{start} to now as the wire writes times: "2026-11-25 18:39 UTC"."""
    first, last = int(start // 60), int(time.time() // 60)
    return {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(m * 60))
            for m in range(first, last + 1)}


def split_clock(reply: list[str]) -> tuple[list[str], int]:
    """A question with a deadline: the reply without its second line, and the seconds left."""
    found = _TIME_LEFT.match(reply[1]) if len(reply) > 1 else None
    assert found is not None, f"no Time left line second in {reply}"
    return [reply[0], *reply[2:]], int(found.group(1))


def question(reply: list[str]) -> tuple[str, tuple[str, ...], list[str]]:
    """A 350 reply without a Time left line: its heading, its text, its four choices' text."""
    assert reply[0].startswith("350-Question "), reply
    choices = reply[-4:]
    for line, letter, sep in zip(choices, "ABCD", "--- "):
        assert line.startswith(f"350{sep}{letter}) "), reply
    return reply[0][4:], tuple(line[4:] for line in reply[1:-4]), [c[7:] for c in choices]


def letter_for(reply: list[str], right: bool) -> str:
    """The letter of the right choice of a math question as shown, or of a wrong one."""
    _, text, choices = question(reply)
    if right:
        return "ABCD"[choices.index(RIGHT_CHOICE[text])]
    return next(letter for letter, c in zip("ABCD", choices) if c != RIGHT_CHOICE[text])


async def wait(seconds: float) -> None:
    """Real time passing, for a deadline or a resume window to come."""
    await deferLater(reactor, seconds, lambda: None)


async def admin_results(db: str) -> list[dict[str, str]]:
    """The admin's results as CSV rows, only the columns these tests look at."""
    out, err, code = await getProcessOutputAndValue(
        admin_path(), ["results", "--csv", "--db", db], env=os.environ
    )
    assert code == 0, err
    keys = ("username", "test", "outcome", "grade", "correct", "answered", "total")
    return [{k: row[k] for k in keys} for row in csv.DictReader(io.StringIO(out.decode()))]


def keep_log(node: WatchedTwistd) -> None:
    """Leave what twistd logged in its folder under _trial_temp, to read when a test fails."""
    with open(os.path.join(node.cwd, "twistd.log"), "wb") as f:
        f.write(node.output)


class RulesOverTheWire(TestCase):
    """On SQLite; L{PostgresRulesOverTheWire} runs the same on PostgreSQL."""

    timeout = 60

    async def serve(self, *args: str, rules: dict[str, Rules] | None = None,
                    roster: tuple[str, ...] = ()) -> int:
        """
        A new database with these rules and roster, and a twistd on it: its exam port. The
        store stays open in C{self.store}, to change rules while the server runs.
        """
        self.db = await backend_of(self).new_database(self)
        self.store = await open_store(self, self.db)
        for name, test_rules in (rules or {}).items():
            self.assertTrue(await self.store.set_rules(name, test_rules))
        if roster:
            await self.store.add_to_roster(list(roster))
        return await self.another_node(*args)

    async def another_node(self, *args: str) -> int:
        self.node = node = WatchedTwistd.spawn(self, "--db", self.db, *NOT_LUCKY, *args)
        self.addCleanup(keep_log, node)
        return (await node.started)["Exam service"]

    async def student(self, port: int, name: str, new: bool = True,
                      source: str = LOOPBACK) -> LineClient:
        client = await connect(port, source)
        if new:
            self.assertEqual(await client.ask(f"REGISTER {name} pw"),
                             ["231 Successfully registered!"])
        else:
            self.assertEqual(await client.ask(f"LOGIN {name} pw"),
                             ["230 Successfully logged in!"])
        return client

    async def take_to_the_end(self, client: LineClient, first: list[str],
                              pattern: str) -> list[str]:
        """
        Answer each question of math from C{first} on, right (R) or wrong (W) as C{pattern}
        says, reading the choices as shown; the reply to the last answer.
        """
        reply = first
        for mark in pattern:
            if _TIME_LEFT.match(reply[1]):
                reply = split_clock(reply)[0]
            reply = await client.ask(letter_for(reply, mark == "R"))
        return reply

    # INFO

    async def test_info_of_tests_without_rules(self):
        """
        If a client asks INFO of the built-in tests, then a client not logged in gets
        "213-Test: math", "213-Questions: 5", "213-Time limit: none", "213-Attempts allowed:
        unlimited", "213-Order: fixed", "213 End of info" (by name in any case or by number),
        a logged-in one gets "213-Attempts left: unlimited" after the allowed line; "INFO 3"
        and "INFO nosuch" get "550 No such test", and INFO without an argument a one-line 501.
        """
        port = await self.serve()
        client = await connect(port)
        math = ["213-Test: math", "213-Questions: 5", "213-Time limit: none",
                "213-Attempts allowed: unlimited", "213-Order: fixed", "213 End of info"]
        self.assertEqual(await client.ask("INFO math"), math)
        self.assertEqual(await client.ask("info MATH"), math)
        self.assertEqual(await client.ask("INFO 2"), [
            "213-Test: python", "213-Questions: 5", "213-Time limit: none",
            "213-Attempts allowed: unlimited", "213-Order: fixed", "213 End of info",
        ])
        self.assertEqual(await client.ask("INFO 3"), ["550 No such test"])
        self.assertEqual(await client.ask("INFO nosuch"), ["550 No such test"])
        usage = await client.ask("INFO")
        self.assertEqual((len(usage), usage[0][:4]), (1, "501 "))
        self.assertEqual(await client.ask("REGISTER ada pw"), ["231 Successfully registered!"])
        self.assertEqual(await client.ask("INFO 1"), [
            "213-Test: math", "213-Questions: 5", "213-Time limit: none",
            "213-Attempts allowed: unlimited", "213-Attempts left: unlimited", "213-Order: fixed",
            "213 End of info",
        ])

    async def test_info_with_every_rule(self):
        """
        If math allows 2 attempts of 600 s, shuffled, open from 2025-01-01 09:00 to 2099-12-01
        11:00 UTC, then INFO math lists exactly those rules in protocol.md's order, with
        "213-Attempts left: 2" for a logged-in user, 1 after one attempt (on a new
        connection), 0 after two, when TAKE math gets "554 No attempts left".
        """
        port = await self.serve(rules={"math": Rules(
            attempts=2, time_limit=600, shuffled=True, opens=utc(2025, 1, 1, 9, 0),
            closes=utc(2099, 12, 1, 11, 0))})

        def info(left: int | None) -> list[str]:
            return ["213-Test: math", "213-Questions: 5", "213-Time limit: 600 s",
                    "213-Attempts allowed: 2",
                    *([] if left is None else [f"213-Attempts left: {left}"]),
                    "213-Order: shuffled", "213-Opens: 2025-01-01 09:00 UTC",
                    "213-Closes: 2099-12-01 11:00 UTC", "213 End of info"]

        anonymous = await connect(port)
        self.assertEqual(await anonymous.ask("INFO math"), info(None))
        for left in (2, 1):
            ada = await self.student(port, "ada", new=left == 2)
            self.assertEqual(await ada.ask("INFO math"), info(left))
            self.assertEqual(split_clock(await ada.ask("TAKE math"))[0][0], "350-Question 1 of 5")
            self.assertEqual(await ada.ask("QUIT"), ["221 Bye"])
        ada = await self.student(port, "ada", new=False)
        self.assertEqual(await ada.ask("INFO math"), info(0))
        self.assertEqual(await ada.ask("TAKE math"), ["554 No attempts left"])

    async def test_outside_its_window(self):
        """
        If math opens on 2099-12-01 09:00 UTC, then EXAMS lists only "212-2 python 5", INFO 1
        still describes math with "213-Opens: 2099-12-01 09:00 UTC" (and no Closes line),
        TAKE 1 and TAKE math get "554 Test is not open"; once the admin opens it (2025-01-01
        09:00), the running server lists "212-1 math 5" again and TAKE 1 starts it.
        """
        port = await self.serve(rules={"math": Rules(opens=utc(2099, 12, 1, 9, 0))})
        client = await connect(port)
        self.assertEqual(await client.ask("EXAMS"),
                         ["212-Available tests:", "212-2 python 5", "212 End of list"])
        self.assertEqual(await client.ask("INFO 1"), [
            "213-Test: math", "213-Questions: 5", "213-Time limit: none",
            "213-Attempts allowed: unlimited", "213-Order: fixed",
            "213-Opens: 2099-12-01 09:00 UTC", "213 End of info",
        ])
        self.assertEqual(await client.ask("REGISTER ada pw"), ["231 Successfully registered!"])
        self.assertEqual(await client.ask("TAKE 1"), ["554 Test is not open"])
        self.assertEqual(await client.ask("TAKE math"), ["554 Test is not open"])
        await self.store.set_rules("math", Rules(opens=utc(2025, 1, 1, 9, 0)))
        self.assertEqual(await client.ask("EXAMS"), [
            "212-Available tests:", "212-1 math 5", "212-2 python 5", "212 End of list",
        ])
        self.assertEqual(await client.ask("TAKE 1"), MATH[0])

    async def test_closed_test_keeps_others_numbers(self):
        """
        If python closed on 2020-01-01 00:00 UTC, then EXAMS lists "212-1 math 5" alone, and
        "TAKE 2" gets "554 Test is not open" while "TAKE 1" starts math.
        """
        port = await self.serve(rules={"python": Rules(closes=utc(2020, 1, 1))})
        ada = await self.student(port, "ada")
        self.assertEqual(await ada.ask("EXAMS"),
                         ["212-Available tests:", "212-1 math 5", "212 End of list"])
        self.assertEqual(await ada.ask("TAKE 2"), ["554 Test is not open"])
        self.assertEqual(await ada.ask("TAKE 1"), MATH[0])

    async def test_commands_during_a_test_are_answers(self):
        """
        If a student on math's first question sends "INFO math", "RESULTS", "EXAMS" and
        "TAKE python", then each gets "501 Answer with A, B, C or D" and the question stays
        open: "B" then brings question 2.
        """
        port = await self.serve()
        ada = await self.student(port, "ada")
        self.assertEqual(await ada.ask("TAKE math"), MATH[0])
        for line in ("INFO math", "RESULTS", "EXAMS", "TAKE python"):
            self.assertEqual(await ada.ask(line), ["501 Answer with A, B, C or D"])
        self.assertEqual(await ada.ask("B"), MATH[1])

    # Attempts

    async def test_attempts_counted_across_connections(self):
        """
        If math allows 2 attempts, then ada's first (graded 100.0) on one connection and her
        second (QUIT on question 1, from 127.0.0.2) on another use them up: a third
        connection gets "554 No attempts left" for TAKE math, INFO shows "213-Attempts left:
        0", python is still open to her, and RESULTS lists "math 100.0" then "math abandoned".
        """
        port = await self.serve(rules={"math": Rules(attempts=2)})
        first = await self.student(port, "ada")
        since = time.time()
        self.assertEqual(await first.ask("TAKE math"), MATH[0])  # no deadline: no Time left
        self.assertEqual(await self.take_to_the_end(first, MATH[0], "RRRRR"), GRADE_100)
        second = await self.student(port, "ada", new=False, source="127.0.0.2")
        self.assertEqual((await second.ask("INFO math"))[4], "213-Attempts left: 1")
        self.assertEqual(await second.ask("TAKE math"), MATH[0])
        self.assertEqual(await second.ask("QUIT"), ["221 Bye"])
        third = await self.student(port, "ada", new=False, source="127.0.0.3")
        self.assertEqual(await third.ask("TAKE math"), ["554 No attempts left"])
        self.assertEqual((await third.ask("INFO math"))[4], "213-Attempts left: 0")
        results = await third.ask("RESULTS")
        self.assertEqual(len(results), 4, results)
        self.assertIn(results[1], {f"216-math 100.0 {m}" for m in minutes_since(since)})
        self.assertIn(results[2], {f"216-math abandoned {m}" for m in minutes_since(since)})
        self.assertEqual([results[0], results[3]], ["216-Your results:", "216 End of list"])
        self.assertEqual(await third.ask("TAKE python"), [
            "350-Question 1 of 5", "350-What does 2 ** 10 evaluate to?", "350-A) 20",
            "350-B) 100", "350-C) 1024", "350 D) 512",
        ])

    async def test_take_checks_in_order(self):
        """
        If math allows 1 attempt of 600 s and python opens in 2099, then before login TAKE of
        anything ("TAKE nosuch", "TAKE", "TAKE python") gets "530 Please log in first";
        logged in, "TAKE nosuch" and "TAKE 3" get "550 No such test", "TAKE python" "554 Test
        is not open"; a math attempt left after one answer is continued ("350-Question 2 of
        5") although no attempt is left, and once it is graded TAKE math gets "554 No
        attempts left"; then, with math's window closed by the admin, "554 Test is not open".
        """
        port = await self.serve(rules={
            "math": Rules(attempts=1, time_limit=600),
            "python": Rules(attempts=1, opens=utc(2099, 1, 1)),
        })
        client = await connect(port)
        for line in ("TAKE nosuch", "TAKE", "TAKE python"):
            self.assertEqual(await client.ask(line), ["530 Please log in first"])
        self.assertEqual(await client.ask("REGISTER ada pw"), ["231 Successfully registered!"])
        self.assertEqual(await client.ask("TAKE nosuch"), ["550 No such test"])
        self.assertEqual(await client.ask("TAKE 3"), ["550 No such test"])
        self.assertEqual(await client.ask("TAKE python"), ["554 Test is not open"])
        first, _ = split_clock(await client.ask("TAKE math"))
        self.assertEqual(first, MATH[0])
        self.assertEqual(split_clock(await client.ask("B"))[0], MATH[1])
        await client.drop()

        again = await self.student(port, "ada", new=False)
        second, _ = split_clock(await again.ask("TAKE math"))
        self.assertEqual(second, MATH[1])
        self.assertEqual(await self.take_to_the_end(again, second, "RRRR"), GRADE_100)
        self.assertEqual(await again.ask("TAKE math"), ["554 No attempts left"])
        await self.store.set_rules("math", Rules(attempts=1, time_limit=600,
                                                 closes=utc(2020, 1, 1)))
        self.assertEqual(await again.ask("TAKE math"), ["554 Test is not open"])

    async def test_closed_window_wins_over_continuing(self):
        """
        If ada leaves a 600 s math attempt after one answer and the admin moves math's opening
        to 2099, then TAKE math gets "554 Test is not open"; opened again with a time limit of
        3600 s, TAKE math continues at "350-Question 2 of 5" with "350-Time left:" still 599 s
        or less (the deadline was fixed when the attempt started).
        """
        port = await self.serve(rules={"math": Rules(attempts=1, time_limit=600)})
        ada = await self.student(port, "ada")
        self.assertEqual(split_clock(await ada.ask("TAKE math"))[0], MATH[0])
        self.assertEqual(split_clock(await ada.ask("B"))[0], MATH[1])
        await ada.drop()
        await self.store.set_rules("math", Rules(attempts=1, time_limit=600,
                                                 opens=utc(2099, 1, 1)))
        ada = await self.student(port, "ada", new=False)
        self.assertEqual(await ada.ask("TAKE math"), ["554 Test is not open"])
        await self.store.set_rules("math", Rules(attempts=1, time_limit=3600))
        second, left = split_clock(await ada.ask("TAKE math"))
        self.assertEqual(second, MATH[1])
        self.assertLessEqual(left, 599)

    # The clock

    async def test_time_left(self):
        """
        If math has a time limit of 600 s, then its first question is MATH's with a second
        line "350-Time left: N s", N at most 599 (and, the reply being quick, at least 590),
        and question 2's N is no more than question 1's.
        """
        port = await self.serve(rules={"math": Rules(time_limit=600)})
        ada = await self.student(port, "ada")
        first, left = split_clock(await ada.ask("TAKE math"))
        self.assertEqual(first, MATH[0])
        self.assertTrue(590 <= left <= 599, left)
        second, later = split_clock(await ada.ask("B"))
        self.assertEqual(second, MATH[1])
        self.assertTrue(590 <= later <= left, (left, later))

    async def test_time_up_unasked(self):
        """
        If math has a time limit of 3 s and ada answers question 1 right and question 2 wrong,
        then without another line she gets "250-Time is up", "250 Your grade is 20.0 (1/5
        correct)", and stays logged in: "A" gets "500 Please choose a valid command.",
        RESULTS lists "math 20.0", and QUIT "221 Bye".
        """
        port = await self.serve(rules={"math": Rules(time_limit=3)})
        ada = await self.student(port, "ada")
        since = time.time()
        self.assertEqual(split_clock(await ada.ask("TAKE math"))[0], MATH[0])
        self.assertEqual(split_clock(await ada.ask("B"))[0], MATH[1])
        self.assertEqual(split_clock(await ada.ask("A"))[0], MATH[2])
        self.assertEqual(await ada.reply(),
                         ["250-Time is up", "250 Your grade is 20.0 (1/5 correct)"])
        self.assertEqual(await ada.ask("A"), ["500 Please choose a valid command."])
        results = await ada.ask("RESULTS")
        self.assertEqual(len(results), 3, results)
        self.assertIn(results[1], {f"216-math 20.0 {m}" for m in minutes_since(since)})
        self.assertEqual(await ada.ask("QUIT"), ["221 Bye"])
        await ada.closed

    async def test_lines_after_the_deadline(self):
        """
        If the answer store is held up (a slow disk) when a 3 s math attempt's deadline
        passes after one right answer, and "A" then "QUIT" arrive after the deadline, then
        once the store goes on they get "250-Time is up", "250 Your grade is 20.0 (1/5
        correct)", then "500 Please choose a valid command." and "221 Bye"; the attempt is
        listed as "math 20.0", not abandoned.
        """
        port = await self.serve(rules={"math": Rules(time_limit=3)})
        ada = await self.student(port, "ada")
        since = time.time()
        self.assertEqual(split_clock(await ada.ask("TAKE math"))[0], MATH[0])
        self.assertEqual(split_clock(await ada.ask("B"))[0], MATH[1])
        release = backend_of(self).hold_result_writes(self, self.db)
        await wait(since + 3.3 - time.time())
        ada.send("A", "QUIT")
        release()
        self.assertEqual(await ada.reply(),
                         ["250-Time is up", "250 Your grade is 20.0 (1/5 correct)"])
        self.assertEqual(await ada.reply(), ["500 Please choose a valid command."])
        self.assertEqual(await ada.reply(), ["221 Bye"])
        await ada.closed
        ada = await self.student(port, "ada", new=False)
        results = await ada.ask("RESULTS")
        self.assertEqual(len(results), 3, results)
        self.assertIn(results[1], {f"216-math 20.0 {m}" for m in minutes_since(since)})

    async def test_quit_just_after_the_deadline(self):
        """
        If the server stalls (SIGSTOP, as a paused machine) across a 2 s math attempt's
        deadline after one right answer and "QUIT" arrives meanwhile, then once it runs again
        the line gets "250-Time is up", "250 Your grade is 20.0 (1/5 correct)" first and then
        "221 Bye", and RESULTS lists "math 20.0", not "math abandoned".
        """
        port = await self.serve(rules={"math": Rules(time_limit=2)})
        ada = await self.student(port, "ada")
        since = time.time()
        self.assertEqual(split_clock(await ada.ask("TAKE math"))[0], MATH[0])
        self.assertEqual(split_clock(await ada.ask("B"))[0], MATH[1])
        self.node.transport.signalProcess(signal.SIGSTOP)
        ada.send("QUIT")
        await wait(since + 2.5 - time.time())
        self.node.transport.signalProcess(signal.SIGCONT)
        self.assertEqual(await ada.reply(),
                         ["250-Time is up", "250 Your grade is 20.0 (1/5 correct)"])
        self.assertEqual(await ada.reply(), ["221 Bye"])
        ada = await self.student(port, "ada", new=False)
        results = await ada.ask("RESULTS")
        self.assertEqual(len(results), 3, results)
        self.assertIn(results[1], {f"216-math 20.0 {m}" for m in minutes_since(since)})

    async def test_closing_time_is_a_deadline(self):
        """
        If math (600 s) closes 3 s after ada's TAKE (a closing time to the second, which the
        store takes though the admin's commands set whole minutes), then question 1 shows
        "350-Time left: N s" with N at most 3, the unasked "250-Time is up", "250 Your grade
        is 20.0 (1/5 correct)" comes after one right answer, and then EXAMS lists only
        "212-2 python 5" and TAKE math gets "554 Test is not open".
        """
        port = await self.serve()
        ada = await self.student(port, "ada")
        closes = int(time.time()) + 3
        await self.store.set_rules("math", Rules(time_limit=600, closes=closes))
        first, left = split_clock(await ada.ask("TAKE math"))
        self.assertEqual(first, MATH[0])
        self.assertLessEqual(left, 3)
        self.assertEqual(split_clock(await ada.ask("B"))[0], MATH[1])
        self.assertEqual(await ada.reply(),
                         ["250-Time is up", "250 Your grade is 20.0 (1/5 correct)"])
        self.assertGreaterEqual(time.time(), closes)
        self.assertEqual(await ada.ask("EXAMS"),
                         ["212-Available tests:", "212-2 python 5", "212 End of list"])
        self.assertEqual(await ada.ask("TAKE math"), ["554 Test is not open"])

    async def test_shutdown_and_idle_timeout_suspend(self):
        """
        If ada is on question 2 of math (1 attempt, 600 s) when her connection is closed with
        "421 Idle timeout" (--idle-timeout 1), then TAKE math continues at "350-Question 2 of
        5"; and if the server then stops (SIGTERM: "421 Server shutting down") while she is on
        question 3, a server started again on the database continues at "350-Question 3 of
        5", and right answers give "250 Your grade is 100.0 (5/5 correct)".
        """
        port = await self.serve("--idle-timeout", "1", rules={
            "math": Rules(attempts=1, time_limit=600)})
        ada = await self.student(port, "ada")
        self.assertEqual(split_clock(await ada.ask("TAKE math"))[0], MATH[0])
        self.assertEqual(split_clock(await ada.ask("B"))[0], MATH[1])
        self.assertEqual(await ada.reply(), ["421 Idle timeout"])
        await ada.closed
        ada = await self.student(port, "ada", new=False)
        self.assertEqual(split_clock(await ada.ask("TAKE math"))[0], MATH[1])
        self.assertEqual(split_clock(await ada.ask("D"))[0], MATH[2])
        await self.node.terminate()
        self.assertEqual(await ada.reply(), ["421 Server shutting down"])
        port = await self.another_node()
        ada = await self.student(port, "ada", new=False)
        third = await ada.ask("TAKE math")
        self.assertEqual(split_clock(third)[0], MATH[2])
        self.assertEqual(await self.take_to_the_end(ada, third, "RRR"), GRADE_100)

    # Shuffling

    async def test_shuffled_orders(self):
        """
        If math is shuffled, then over six attempts of two users each attempt shows the five
        questions, each once, numbered "Question 1 of 5" to "Question 5 of 5", each with its
        own four choices; neither the orders of the questions nor those of their choices are
        all the same; and answering by the choices' text, right on the first three questions
        shown and wrong on the last two, always gets "250 Your grade is 60.0 (3/5 correct)".
        """
        port = await self.serve(rules={"math": Rules(shuffled=True)})
        stored = {tuple(q.lines[1:-4]): sorted(line[3:] for line in q.lines[-4:])
                  for q in MATH_QUESTIONS}
        orders = set()
        for name in ("ada", "grace"):
            client = await self.student(port, name)
            for _ in range(3):
                reply = await client.ask("TAKE math")
                seen = []
                for number, mark in enumerate("RRRWW", 1):
                    heading, text, choices = question(reply)
                    self.assertEqual(heading, f"Question {number} of 5")
                    self.assertEqual(sorted(choices), stored[text])
                    seen.append((text, tuple(choices)))
                    reply = await client.ask(letter_for(reply, mark == "R"))
                self.assertEqual(reply, ["250 Your grade is 60.0 (3/5 correct)"])
                self.assertEqual(sorted(text for text, _ in seen), sorted(stored))
                orders.add(tuple(seen))
        # Both are drawn: the questions' order, and each question's choices.
        self.assertGreater(len({tuple(text for text, _ in order) for order in orders}), 1)
        self.assertGreater(len({tuple(sorted(order)) for order in orders}), 1)

    # Suspended attempts

    async def test_continue_after_a_dropped_connection(self):
        """
        If ada's connection drops on question 3 of a shuffled math attempt (1 attempt, 600 s;
        question 1 answered right, 2 wrong), then TAKE math from 127.0.0.2 shows the same
        question 3, same choices in the same order, with a Time left no larger than before;
        three right answers then give "250 Your grade is 80.0 (4/5 correct)", after which
        TAKE math gets "554 No attempts left".
        """
        port = await self.serve(rules={"math": Rules(attempts=1, time_limit=600, shuffled=True)})
        ada = await self.student(port, "ada")
        reply = await ada.ask("TAKE math")
        reply = await ada.ask(letter_for(split_clock(reply)[0], True))
        reply = await ada.ask(letter_for(split_clock(reply)[0], False))
        third, before = split_clock(reply)
        self.assertEqual(third[0], "350-Question 3 of 5")
        await ada.drop()

        ada = await self.student(port, "ada", new=False, source="127.0.0.2")
        again, after = split_clock(await ada.ask("TAKE math"))
        self.assertEqual(again, third)
        self.assertLessEqual(after, before)
        self.assertEqual(await self.take_to_the_end(ada, again, "RRR"),
                         ["250 Your grade is 80.0 (4/5 correct)"])
        self.assertEqual(await ada.ask("TAKE math"), ["554 No attempts left"])

    async def test_resume_window_runs_out(self):
        """
        If ada drops her connection after one answer of math (2 attempts, no time limit) on a
        server with --resume-window 2, then 3 s later RESULTS lists "math abandoned", INFO
        "213-Attempts left: 1", and TAKE math starts afresh at "Question 1 of 5".
        """
        port = await self.serve("--resume-window", "2", rules={"math": Rules(attempts=2)})
        ada = await self.student(port, "ada")
        since = time.time()
        self.assertEqual(await ada.ask("TAKE math"), MATH[0])
        self.assertEqual(await ada.ask("B"), MATH[1])
        await ada.drop()
        await wait(3)
        ada = await self.student(port, "ada", new=False)
        results = await ada.ask("RESULTS")
        self.assertEqual(len(results), 3, results)
        self.assertIn(results[1], {f"216-math abandoned {m}" for m in minutes_since(since)})
        self.assertEqual((await ada.ask("INFO math"))[4], "213-Attempts left: 1")
        self.assertEqual(await ada.ask("TAKE math"), MATH[0])

    async def test_suspended_attempt_times_up_by_itself(self):
        """
        If ada drops her connection after one right answer of a 2 s math attempt (1 attempt)
        and does not come back, then after the deadline the admin's results show it as
        outcome "time_up", grade "20.0", 1 correct of 1 answered of 5; when she logs in,
        RESULTS lists "math 20.0" and TAKE math gets "554 No attempts left".
        """
        port = await self.serve(rules={"math": Rules(attempts=1, time_limit=2)})
        ada = await self.student(port, "ada")
        since = time.time()
        self.assertEqual(split_clock(await ada.ask("TAKE math"))[0], MATH[0])
        self.assertEqual(split_clock(await ada.ask("B"))[0], MATH[1])
        await ada.drop()
        await wait(since + 2.5 - time.time())
        self.assertEqual(await admin_results(self.db), [
            {"username": "ada", "test": "math", "outcome": "time_up", "grade": "20.0",
             "correct": "1", "answered": "1", "total": "5"},
        ])
        ada = await self.student(port, "ada", new=False)
        results = await ada.ask("RESULTS")
        self.assertEqual(len(results), 3, results)
        self.assertIn(results[1], {f"216-math 20.0 {m}" for m in minutes_since(since)})
        self.assertEqual(await ada.ask("TAKE math"), ["554 No attempts left"])

    async def test_takeover_on_one_node(self):
        """
        If ada, on question 2 of math (1 attempt, 600 s), TAKEs math on a second connection,
        then that one continues at "350-Question 2 of 5" and the first gets, unasked, "421
        Test continued on another connection" and is closed; the second finishes with "250
        Your grade is 100.0 (5/5 correct)".
        """
        port = await self.serve(rules={"math": Rules(attempts=1, time_limit=600)})
        first = await self.student(port, "ada")
        self.assertEqual(split_clock(await first.ask("TAKE math"))[0], MATH[0])
        self.assertEqual(split_clock(await first.ask("B"))[0], MATH[1])
        second = await self.student(port, "ada", new=False, source="127.0.0.2")
        again = split_clock(await second.ask("TAKE math"))[0]
        self.assertEqual(again, MATH[1])
        self.assertEqual(await first.reply(), ["421 Test continued on another connection"])
        await first.closed
        self.assertEqual(await self.take_to_the_end(second, again, "RRRR"), GRADE_100)

    # RESULTS

    async def test_results(self):
        """
        If ada gets 80.0 on math, QUITs python on question 1, and gets 40.0 on math on a new
        connection, while grace gets 100.0, then ada's RESULTS is exactly "216-Your results:",
        "216-math 80.0 <time>", "216-python abandoned <time>", "216-math 40.0 <time>", "216
        End of list"; before login RESULTS gets "530 Please log in first", and with nothing
        ended yet "216-Your results:", "216 End of list".
        """
        port = await self.serve()
        client = await connect(port)
        self.assertEqual(await client.ask("RESULTS"), ["530 Please log in first"])
        self.assertEqual(await client.ask("REGISTER ada pw"), ["231 Successfully registered!"])
        self.assertEqual(await client.ask("RESULTS"), ["216-Your results:", "216 End of list"])
        since = time.time()
        self.assertEqual(await client.ask("TAKE math"), MATH[0])
        self.assertEqual(await self.take_to_the_end(client, MATH[0], "RRRRW"),
                         ["250 Your grade is 80.0 (4/5 correct)"])
        self.assertEqual((await client.ask("TAKE python"))[0], "350-Question 1 of 5")
        self.assertEqual(await client.ask("QUIT"), ["221 Bye"])
        grace = await self.student(port, "grace")
        self.assertEqual(await grace.ask("TAKE math"), MATH[0])
        self.assertEqual(await self.take_to_the_end(grace, MATH[0], "RRRRR"), GRADE_100)
        client = await self.student(port, "ada", new=False)
        self.assertEqual(await client.ask("TAKE math"), MATH[0])
        self.assertEqual(await self.take_to_the_end(client, MATH[0], "WRWRW"),
                         ["250 Your grade is 40.0 (2/5 correct)"])
        results = await client.ask("RESULTS")
        minutes = minutes_since(since)
        self.assertEqual(len(results), 5, results)
        self.assertEqual([results[0], results[4]], ["216-Your results:", "216 End of list"])
        for line, expected in zip(results[1:4], ("math 80.0", "python abandoned", "math 40.0")):
            self.assertIn(line, {f"216-{expected} {m}" for m in minutes})

    # Version 1 behaviour

    async def test_tests_without_rules_behave_as_version_1(self):
        """
        If math has no rules, then ada takes it three times in a row (MATH's questions, no
        Time left line, no 554), a connection dropped on question 2 leaves nothing to continue
        (TAKE math starts at "Question 1 of 5" again), and RESULTS lists three "math 100.0"
        then two "math abandoned" (the dropped attempt and one left by QUIT).
        """
        port = await self.serve()
        ada = await self.student(port, "ada")
        for _ in range(3):
            self.assertEqual(await ada.ask("TAKE math"), MATH[0])
            self.assertEqual(await self.take_to_the_end(ada, MATH[0], "RRRRR"), GRADE_100)
        self.assertEqual(await ada.ask("TAKE math"), MATH[0])
        self.assertEqual(await ada.ask("B"), MATH[1])
        await ada.drop()
        ada = await self.student(port, "ada", new=False)
        self.assertEqual(await ada.ask("TAKE math"), MATH[0])
        self.assertEqual(await ada.ask("QUIT"), ["221 Bye"])
        ada = await self.student(port, "ada", new=False)
        results = await ada.ask("RESULTS")
        self.assertEqual([line.split(" ")[:2] for line in results], [
            ["216-Your", "results:"], *[["216-math", "100.0"]] * 3,
            *[["216-math", "abandoned"]] * 2, ["216", "End"],
        ])

    # Registration

    async def test_registration_closed(self):
        """
        If one node runs with --registration closed beside an open one on the same database,
        then on the closed node "REGISTER bob pw", "REGISTER" and "REGISTER bad/name pw" get
        "554 Registration is closed"; ada, registered on the open node, logs in there with
        "230 Successfully logged in!", and REGISTER then gets "503 Already logged in".
        """
        open_port = await self.serve()
        closed_port = await self.another_node("--registration", "closed")
        self.assertEqual(await (await connect(open_port)).ask("REGISTER ada pw"),
                         ["231 Successfully registered!"])
        client = await connect(closed_port)
        for line in ("REGISTER bob pw", "REGISTER", "REGISTER bad/name pw"):
            self.assertEqual(await client.ask(line), ["554 Registration is closed"])
        self.assertEqual(await client.ask("LOGIN ada pw"), ["230 Successfully logged in!"])
        self.assertEqual(await client.ask("REGISTER bob pw"), ["503 Already logged in"])

    async def test_registration_by_roster(self):
        """
        If the roster holds "Ada" and "grace.hopper", registration is by roster, new
        passwords need 8 characters and one address may register 4 times, then "REGISTER"
        gets a 501 (usage), "REGISTER bob short" a 501 (the password), "REGISTER bob
        long-enough" "554 Not on the class roster", "REGISTER ada long-enough" 231 (the
        roster ignores case), "REGISTER ADA long-enough" "553 Username already exists";
        the fifth REGISTER, even one without arguments, gets "454 Too many registrations, try
        again in N s", while grace.hopper registers from 127.0.0.2.
        """
        port = await self.serve("--registration", "roster", "--min-password-length", "8",
                                "--max-registrations-per-address", "4",
                                roster=("Ada", "grace.hopper"))
        client = await connect(port)
        self.assertEqual((await client.ask("REGISTER"))[0][:4], "501 ")
        self.assertEqual((await client.ask("REGISTER bob short"))[0][:4], "501 ")
        self.assertEqual(await client.ask("REGISTER bob long-enough"),
                         ["554 Not on the class roster"])
        self.assertEqual(await client.ask("REGISTER ada long-enough"),
                         ["231 Successfully registered!"])
        other = await connect(port)
        self.assertEqual(await other.ask("REGISTER ADA long-enough"),
                         ["553 Username already exists"])
        for line in ("REGISTER grace.hopper long-enough", "REGISTER"):
            [refusal] = await other.ask(line)
            self.assertRegex(refusal, r"\A454 Too many registrations, try again in [1-9]\d* s\Z")
        elsewhere = await connect(port, "127.0.0.2")
        self.assertEqual(await elsewhere.ask("REGISTER Grace.Hopper long-enough"),
                         ["231 Successfully registered!"])

    async def test_usernames_differing_in_case(self):
        """
        If ada is registered, then "REGISTER Ada other" and "REGISTER ADA other" get "553
        Username already exists", "LOGIN Ada pw" gets "535 Invalid username and/or password"
        (LOGIN compares exactly), and "LOGIN ada pw" "230 Successfully logged in!".
        """
        port = await self.serve()
        await self.student(port, "ada")
        client = await connect(port)
        for line in ("REGISTER Ada other", "REGISTER ADA other"):
            self.assertEqual(await client.ask(line), ["553 Username already exists"])
        self.assertEqual(await client.ask("LOGIN Ada pw"),
                         ["535 Invalid username and/or password"])
        self.assertEqual(await client.ask("LOGIN ada pw"), ["230 Successfully logged in!"])


class PostgresRulesOverTheWire(OnPostgres, RulesOverTheWire):
    pass
