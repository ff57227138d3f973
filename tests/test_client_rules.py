"""
The client protocol module and the words of its errors against protocol 1.1's new replies
(INFO, RESULTS, Time left, the unasked time-up grade, 454, 554, the new 421s), played by a
scripted line server over a real 127.0.0.1 socket; the real server's side is in
tests.test_client_exams.
"""

from __future__ import annotations

from twisted.internet import reactor
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from examtwist.client import Asked, ExamClient, Grade
from examtwist.clienterrors import ConnectionClosed, ServerError, explain
from examtwist.rulelines import Info, ResultLine
from examtwist.testbank import Question
from tests.client_support import EXAM_INFO, ScriptedServer, in_thread, reply_text
from tests.support import LOOPBACK

QUESTION_1 = reply_text(350, "Question 1 of 3", "Time left: 599 s", "What is 2 + 2?",
                        "A) 3", "B) 4", "C) 5", "D) 22")
ASKED_1 = Asked(1, 3, Question(("What is 2 + 2?",), ("3", "4", "5", "22")), 599)
TIME_UP = reply_text(250, "Time is up", "Your grade is 33.3 (1/3 correct)")


class ScriptedTestCase(TestCase):
    async def client(self, script, **kwargs) -> ExamClient:
        self.server = await ScriptedServer.start(self, script, **kwargs)
        client = await in_thread(ExamClient.connect, LOOPBACK, self.server.port, timeout=5)
        self.addCleanup(client.close)
        return client

    async def until_ready(self, client: ExamClient) -> None:
        for _ in range(1000):
            if client.ready():
                return
            await deferLater(reactor, 0.005, lambda: None)
        raise AssertionError("the client never saw the unasked reply")


class RulesTests(ScriptedTestCase):
    async def test_info(self) -> None:
        """
        If INFO exam is answered with 10 minutes, 2 attempts allowed, 1 left, shuffled, open
        from 2026-12-01 09:00 to 11:00 UTC, then the client's Info holds exactly that.
        """
        info = reply_text(213, "Test: exam", "Questions: 3", "Time limit: 600 s",
                          "Attempts allowed: 2", "Attempts left: 1", "Order: shuffled",
                          "Opens: 2026-12-01 09:00 UTC", "Closes: 2026-12-01 11:00 UTC",
                          "End of info")
        client = await self.client([("INFO exam", info)])
        self.assertEqual(await in_thread(client.info, "exam"),
                         Info("exam", 3, 600, 2, 1, True, 1796115600, 1796122800))

    async def test_info_without_rules(self) -> None:
        """
        If INFO 1 is answered "Time limit: none", "Attempts allowed: unlimited", "Order:
        fixed" (not logged in: no "Attempts left"), then every rule of the Info is off.
        """
        info = reply_text(213, "Test: math", "Questions: 5", "Time limit: none",
                          "Attempts allowed: unlimited", "Order: fixed", "End of info")
        client = await self.client([("INFO 1", info)])
        self.assertEqual(await in_thread(client.info, 1),
                         Info("math", 5, None, None, None, False, None, None))

    async def test_results(self) -> None:
        """
        If RESULTS lists math 80.0 and python abandoned, then the client gives them in that
        order with their grades in tenths (800, None) and their end times.
        """
        results = reply_text(216, "Your results:", "math 80.0 2026-11-25 18:39 UTC",
                             "python abandoned 2026-11-25 18:42 UTC", "End of list")
        client = await self.client([("RESULTS", results)])
        self.assertEqual(await in_thread(client.results), [
            ResultLine("math", 800, 1795631940), ResultLine("python", None, 1795632120)])


class TimeTests(ScriptedTestCase):
    async def test_time_left_and_unasked_time_up(self) -> None:
        """
        If a question comes with "Time left: 599 s" and later the server sends "250-Time is
        up" unasked, then the question carries 599, the client is ready without being asked,
        and the grade read is "Your grade is 33.3 (1/3 correct)" marked time up.
        """
        client = await self.client([("TAKE exam", QUESTION_1)])
        self.assertEqual(await in_thread(client.take, "exam"), ASKED_1)
        self.assertFalse(client.ready())
        self.server.connections[0].speak(TIME_UP)
        await self.until_ready(client)
        self.assertEqual(await in_thread(client.unasked),
                         Grade("33.3", 1, 3, "Your grade is 33.3 (1/3 correct)", True))

    async def test_answer_after_the_deadline(self) -> None:
        """
        If an answer gets the time-up grade and then "500 Please choose a valid command.",
        then answer() gives the grade marked time up and the next EXAMS gets its list, the
        500 passed over.
        """
        client = await self.client([
            ("TAKE exam", QUESTION_1),
            ("B", TIME_UP + "500 Please choose a valid command.\r\n"),
            ("EXAMS", reply_text(212, "Available tests:", "1 math 5", "End of list")),
        ])
        await in_thread(client.take, "exam")
        self.assertEqual(await in_thread(client.answer, "b"),
                         Grade("33.3", 1, 3, "Your grade is 33.3 (1/3 correct)", True))
        self.assertEqual(await in_thread(client.list_tests), [(1, "math", 5)])

    async def test_continued_attempt(self) -> None:
        """
        If TAKE is answered with question 3 of 5 (a suspended attempt continued), then the
        client's question is number 3 of 5 with its 120 s left.
        """
        client = await self.client([("TAKE exam", reply_text(
            350, "Question 3 of 5", "Time left: 120 s", "Pick B.", "A) a", "B) b", "C) c",
            "D) d"))])
        self.assertEqual(await in_thread(client.take, "exam"),
                         Asked(3, 5, Question(("Pick B.",), ("a", "b", "c", "d")), 120))

    async def test_takeover_while_waiting(self) -> None:
        """
        If "421 Test continued on another connection" arrives while the student thinks, then
        the client is ready, and reading it is a ConnectionClosed explained as "the server
        closed the connection: Test continued on another connection; your attempt goes on
        there".
        """
        client = await self.client([("TAKE exam", QUESTION_1)])
        await in_thread(client.take, "exam")
        self.server.connections[0].speak("421 Test continued on another connection\r\n")
        await self.until_ready(client)
        error = await self.assertFailure(in_thread(client.unasked), ConnectionClosed)
        self.assertEqual(explain(error), "the server closed the connection: Test continued on"
                         " another connection; your attempt goes on there")
        self.assertTrue(client.closed)


class RefusalTests(ScriptedTestCase):
    async def test_refusals_explained(self) -> None:
        """
        If REGISTER and TAKE get each refusal of protocol 1.1, then each is a ServerError with
        the server's code and text, and explain() adds what the student can do; a 454's
        seconds are its retry_after.
        """
        refusals = [
            ("REGISTER ada correct horse", "554 Registration is closed",
             "Registration is closed; ask your teacher for an account", None),
            ("REGISTER ada correct horse", "554 Not on the class roster",
             "Not on the class roster; register with the username on your teacher's class"
             " list", None),
            ("REGISTER ada correct horse", "553 Username already exists",
             "Username already exists; usernames differing only in capitals count as the"
             " same", None),
            ("REGISTER ada correct horse", "501 The password is too common",
             "The password is too common", None),
            ("REGISTER ada correct horse", "454 Too many registrations, try again in 30 s",
             "Too many registrations, try again in 30 s", 30),
            ("LOGIN ada correct horse", "454 Too many failed attempts, try again in 1 s",
             "Too many failed attempts, try again in 1 s", 1),
            ("TAKE exam", "554 No attempts left",
             "No attempts left; you have used every attempt this test allows", None),
            ("TAKE exam", "554 Test is not open",
             "Test is not open; it can be taken only between the times its teacher set", None),
        ]
        client = await self.client([(line, reply + "\r\n") for line, reply, _, _ in refusals])
        seen = []
        for line, _, _, _ in refusals:
            verb, _, argument = line.partition(" ")
            if verb == "TAKE":
                call = in_thread(client.take, argument)
            else:
                call = in_thread(getattr(client, verb.lower()), *argument.split(" ", 1))
            error = await self.assertFailure(call, ServerError)
            seen.append((line, f"{error.code} {error}", explain(error), error.retry_after))
        self.assertEqual(seen, [(line, reply, explained, after)
                                for line, reply, explained, after in refusals])

    async def test_too_many_connections_greeting(self) -> None:
        """
        If the greeting is "421 Too many connections from your address", then connecting is
        a ConnectionClosed explained with "close another connection to this server first".
        """
        server = await ScriptedServer.start(
            self, [], greeting="421 Too many connections from your address\r\n")
        error = await self.assertFailure(
            in_thread(ExamClient.connect, LOOPBACK, server.port, timeout=5), ConnectionClosed)
        self.assertEqual(explain(error), "the server closed the connection: Too many"
                         " connections from your address; close another connection to this"
                         " server first")

    async def test_server_busy(self) -> None:
        """
        If LOGIN gets "421 Server busy, try again later", then it is a ConnectionClosed
        explained with "wait a moment, then connect again", and the client is closed.
        """
        client = await self.client([("LOGIN ada correct horse",
                                     "421 Server busy, try again later\r\n")])
        error = await self.assertFailure(in_thread(client.login, "ada", "correct horse"),
                                         ConnectionClosed)
        self.assertEqual(explain(error), "the server closed the connection: Server busy, try"
                         " again later; wait a moment, then connect again")
        self.assertTrue(client.closed)
