"""
A line handled after an attempt's deadline but before the deadline's timer has run (the reactor
reads a socket before it runs the timers that came due meanwhile): docs/protocol.md, "Time left
and time up", says it gets the time-up reply first, whatever the line. The real desk on a
SQLite file, its clock a MemoryReactorClock moved on without running its calls.
"""

from __future__ import annotations

import time

from twisted.internet import reactor
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import TestCase

from examtwist.counting import counter_for
from examtwist.desk import ExamDesk
from examtwist.examport import ExamFactory
from examtwist.passwords import PasswordHasher
from examtwist.storage import Store
from examtwist.testbank import Rules
from examtwist.wire import Reply
from tests.support import CHEAP_HASH, eventually, temp_db
from tests.test_protocol import MATH, Client

TIME_UP = Reply(250, ("Time is up", "Your grade is 20.0 (1/5 correct)"))


class LinesAtTheDeadlineTests(TestCase):
    async def setUp(self) -> None:
        store = Store(reactor, temp_db(self))
        self.clock = MemoryReactorClock()
        self.clock.rightNow = float(int(time.time()))
        desk = ExamDesk(store, PasswordHasher(reactor, CHEAP_HASH), counter_for(store, 7),
                        clock=self.clock)
        desk.startService()
        self.addCleanup(desk.stopService)
        await desk.ready
        self.assertTrue(await store.set_rules("math", Rules(time_limit=60)))
        self.factory = ExamFactory(self.clock, desk, 600)

    async def replies(self, client: Client, count: int) -> list[Reply]:
        """The next C{count} replies, once the desk's threads have answered."""
        got: list[Reply] = []

        def arrived() -> bool:
            got.extend(client.replies())
            return len(got) >= count

        try:
            await eventually(arrived)
        except AssertionError:
            self.fail(f"{count} replies expected, these came: {got}")
        return got

    async def on_question_2(self) -> Client:
        """A student of math (60 s) who answered question 1 right."""
        client = Client(self.factory, 40001, None)
        self.assertEqual(await self.replies(client, 1), [Reply(220, ("Welcome to the server!",))])
        for line, expected in (("REGISTER ada pw", Reply(231, ("Successfully registered!",))),
                               ("TAKE math", None), ("B", None)):
            client.send(line.encode() + b"\r\n")
            [reply] = await self.replies(client, 1)
            if expected is not None:
                self.assertEqual(reply, expected)
            else:
                self.assertEqual(reply.lines[1], "Time left: 59 s")
        self.assertEqual(reply.lines[0], MATH[1].lines[0])
        # The deadline passes; its timer is due but the reactor has not run it yet.
        self.clock.rightNow += 61
        return client

    async def test_quit(self):
        """
        If "QUIT" is handled after a 60 s math attempt's deadline (1 right answer) before the
        deadline's timer has run, then it gets "250-Time is up", "250 Your grade is 20.0 (1/5
        correct)" and then "221 Bye", not only "221 Bye" (an abandoned attempt).
        """
        client = await self.on_question_2()
        client.send(b"QUIT\r\n")
        self.assertEqual(await self.replies(client, 2), [TIME_UP, Reply(221, ("Bye",))])

    async def test_help(self):
        """
        If "HELP" is handled after the deadline before its timer has run, then it gets the
        time-up reply ("250-Time is up", "250 Your grade is 20.0 (1/5 correct)") first, then
        the 214 help; the connection stays logged in ("TAKE 9" gets "550 No such test").
        """
        client = await self.on_question_2()
        client.send(b"HELP\r\n")
        time_up, help_reply = await self.replies(client, 2)
        self.assertEqual((time_up, help_reply.code), (TIME_UP, 214))
        client.send(b"TAKE 9\r\n")
        self.assertEqual(await self.replies(client, 1), [Reply(550, ("No such test",))])

    async def test_answer(self):
        """
        If "C" is handled after the deadline before its timer has run, then it gets the
        time-up reply ("250 Your grade is 20.0 (1/5 correct)": the late answer not counted),
        then "500 Please choose a valid command.".
        """
        client = await self.on_question_2()
        client.send(b"C\r\n")
        self.assertEqual(await self.replies(client, 2),
                         [TIME_UP, Reply(500, ("Please choose a valid command.",))])
