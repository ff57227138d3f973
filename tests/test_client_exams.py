"""
The client protocol module against the real server's protocol 1.1 in this process, over real
sockets: a test's rules by INFO, the time left, the unasked time-up grade, attempts counted,
an attempt continued after a dropped connection, the takeover, RESULTS.
"""

from __future__ import annotations

import time

from twisted.trial.unittest import TestCase

from examtwist.client import ExamClient, Grade
from examtwist.clienterrors import ConnectionClosed, ServerError, explain
from examtwist.rulelines import Info
from examtwist.testbank import Rules
from tests.client_support import in_thread, right_letter, stored_results, with_rules
from tests.support import LOOPBACK, eventually, start_server


class ExamsTestCase(TestCase):
    async def serve(self, rules: Rules, *args: str) -> int:
        self.service, port = await start_server(self, *args)
        await with_rules(self, self.service.desk.store, "math", rules)
        return port

    async def client(self, port: int, username: str = "ada", register: bool = True):
        client = await in_thread(ExamClient.connect, LOOPBACK, port)
        self.addCleanup(client.close)
        sign_in = client.register if register else client.login
        await in_thread(sign_in, username, "correct horse")
        return client


class TimedTests(ExamsTestCase):
    async def test_rules_clock_and_time_up(self) -> None:
        """
        If math allows 1 attempt of 2 s, shuffled, then INFO says so with 1 attempt left, the
        first question has 0 or 1 s left, and after one right answer the server's unasked
        "Time is up" grade reads "Your grade is 20.0 (1/5 correct)"; RESULTS lists math 20.0,
        INFO then says 0 left and TAKE gets "554 No attempts left".
        """
        port = await self.serve(Rules(attempts=1, time_limit=2, shuffled=True))
        client = await self.client(port)
        self.assertEqual(await in_thread(client.info, "math"),
                         Info("math", 5, 2, 1, 1, True, None, None))
        first = await in_thread(client.take, "math")
        self.assertIn(first.time_left, (0, 1))
        second = await in_thread(client.answer, right_letter(first))
        self.assertEqual((second.number, second.total), (2, 5))
        await eventually(client.ready)
        self.assertEqual(await in_thread(client.unasked),
                         Grade("20.0", 1, 5, "Your grade is 20.0 (1/5 correct)", True))
        results = await in_thread(client.results)
        self.assertEqual([(r.test, r.tenths) for r in results], [("math", 200)])
        self.assertLess(abs(results[0].ended - time.time()), 120)
        self.assertEqual((await in_thread(client.info, 1)).attempts_left, 0)
        error = await self.assertFailure(in_thread(client.take, "math"), ServerError)
        self.assertEqual((error.code, explain(error)), (
            554, "No attempts left; you have used every attempt this test allows"))

    async def test_answer_after_the_deadline(self) -> None:
        """
        If the answer is sent after a 1 s deadline has passed, then answer() gives the time-up
        grade "Your grade is 0.0 (0/5 correct)" (the answer not counted), and the connection
        goes on: EXAMS lists both tests.
        """
        port = await self.serve(Rules(time_limit=1))
        client = await self.client(port)
        first = await in_thread(client.take, "math")
        await eventually(client.ready)
        self.assertEqual(await in_thread(client.answer, right_letter(first)),
                         Grade("0.0", 0, 5, "Your grade is 0.0 (0/5 correct)", True))
        self.assertEqual(await in_thread(client.list_tests),
                         [(1, "math", 5), (2, "python", 5)])


class ContinuedTests(ExamsTestCase):
    async def test_continued_after_a_dropped_connection(self) -> None:
        """
        If the connection drops after two answers of a 1-attempt, 10-minute test, then the
        same user's TAKE on a new connection gets "Question 3 of 5" with at most 599 s left,
        and finishing it right grades 5/5: "Your grade is 100.0 (5/5 correct)".
        """
        port = await self.serve(Rules(attempts=1, time_limit=600))
        first = await self.client(port)
        asked = await in_thread(first.take, "math")
        for _ in range(2):
            asked = await in_thread(first.answer, right_letter(asked))
        first.close()
        again = await self.client(port, register=False)
        asked = await in_thread(again.take, "math")
        self.assertEqual((asked.number, asked.total), (3, 5))
        self.assertLessEqual(asked.time_left, 599)
        while not isinstance(asked, Grade):
            asked = await in_thread(again.answer, right_letter(asked))
        self.assertEqual(asked, Grade("100.0", 5, 5, "Your grade is 100.0 (5/5 correct)"))
        self.assertEqual(await stored_results(self.service.desk.store),
                         [("ada", "math", "graded", 5, 5, 5, 100.0)])

    async def test_takeover(self) -> None:
        """
        If the same user TAKEs a test under way on another open connection, then the new one
        gets the next question, and the old one hears "421 Test continued on another
        connection", explained as "your attempt goes on there".
        """
        port = await self.serve(Rules(attempts=2))
        old = await self.client(port)
        asked = await in_thread(old.take, "math")
        await in_thread(old.answer, right_letter(asked))
        new = await self.client(port, register=False)
        self.assertEqual((await in_thread(new.take, "math")).number, 2)
        error = await self.assertFailure(in_thread(old.answer, "A"), ConnectionClosed)
        self.assertEqual(explain(error), "the server closed the connection: Test continued on"
                         " another connection; your attempt goes on there")
