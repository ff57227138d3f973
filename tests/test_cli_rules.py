"""
The real C{examtwist-client} console script, its stdin scripted, against protocol 1.1's new
replies as a scripted line server plays them: the rules asked before a test, the time left,
the time-up grade shown while the client waits for input, a continued attempt, the results
listed at login, and every new refusal's message. The words they are built from, and the
console's reading of standard input, are tested here too.
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase, TestCase

from examtwist.console import MAX_INPUT, Console
from examtwist.rulelines import Info, ResultLine
from examtwist.rulewords import (
    clock,
    continuation,
    result_words,
    rules_lines,
    rules_summary,
    short_duration,
    spoken_duration,
)
from tests.client_support import (
    EXAM_INFO,
    ClientProcess,
    ScriptedServer,
    console_script,
    reply_text,
    waiting_for_input,
)
from tests.support import LOOPBACK

LOGIN = [("LOGIN ada correct horse", "230 Successfully logged in!\r\n")]
NO_RESULTS = [("RESULTS", reply_text(216, "Your results:", "End of list"))]
EXAM_LISTED = [("EXAMS", reply_text(212, "Available tests:", "1 exam 3", "End of list"))]
QUESTION_1 = reply_text(350, "Question 1 of 3", "Time left: 599 s", "What is 2 + 2?",
                        "A) 3", "B) 4", "C) 5", "D) 22")
TIME_UP = reply_text(250, "Time is up", "Your grade is 0.0 (0/3 correct)")
QUIT = [("QUIT", "221 Bye\r\n")]
SIGNED_IN = ("Welcome to the server!\nRegister or login? [r/l] Username: Password: \n"
             "Logged in.\n")
LISTED = "Available tests:\n  1. exam (3 questions)\nTest number or name: "
SHOWN_1 = ("\nQuestion 1 of 3\nTime left: 9 min 59 s\nWhat is 2 + 2?\n"
           "  A) 3\n  B) 4\n  C) 5\n  D) 22\nYour answer (A-D): ")


class ScriptedCLITestCase(TestCase):
    async def client(self, script) -> ClientProcess:
        self.server = await ScriptedServer.start(self, script)
        return ClientProcess.spawn(self, [console_script("examtwist-client"), "--host",
                                          LOOPBACK, "--port", str(self.server.port)])


class TimedTestTests(ScriptedCLITestCase):
    async def test_time_up_while_waiting_for_input(self) -> None:
        """
        If a test of 10 minutes with 1 attempt left is started after its prompt, and the time
        runs out while the client waits for an answer, then the client has shown "10 minutes,
        1 attempt left: start? [y/n] ", "Time left: 9 min 59 s" with the question, and prints
        "Time is up: unanswered questions count as wrong." and the grade at once, unasked,
        then asks "Take another test? [y/n] ".
        """
        process = await self.client([*LOGIN, *NO_RESULTS, *EXAM_LISTED, ("INFO exam", EXAM_INFO),
                                     ("TAKE exam", QUESTION_1), *QUIT])
        process.send("l", "ada", "correct horse", "exam", "y")
        await process.until("Your answer (A-D): ")
        await waiting_for_input(process)
        self.server.connections[0].speak(TIME_UP)
        await process.until("Take another test? [y/n] ")
        process.send("n")
        self.assertEqual(await process.ended, 0, process.stderr)
        self.assertEqual(process.stdout, SIGNED_IN + LISTED
                         + "10 minutes, 1 attempt left: start? [y/n] " + SHOWN_1
                         + "\nTime is up: unanswered questions count as wrong.\n"
                         "Your grade is 0.0 (0/3 correct)\nTake another test? [y/n] Bye.\n")
        self.assertEqual(self.server.received, ["LOGIN ada correct horse", "RESULTS", "EXAMS",
                                                "INFO exam", "TAKE exam", "QUIT"])

    async def test_declined_then_refused(self) -> None:
        """
        If the student says "n" at the rules prompt, then nothing is taken and the test is
        asked again; if "y" then gets "554 No attempts left", then the client prints "Sorry:
        No attempts left; you have used every attempt this test allows".
        """
        process = await self.client([*LOGIN, *NO_RESULTS, *EXAM_LISTED, ("INFO exam", EXAM_INFO),
                                     ("INFO exam", EXAM_INFO),
                                     ("TAKE exam", "554 No attempts left\r\n"), *QUIT])
        process.send("l", "ada", "correct horse", "exam", "n", "exam", "y")
        process.close_stdin()
        self.assertEqual(await process.ended, 0, process.stderr)
        prompt = "10 minutes, 1 attempt left: start? [y/n] "
        self.assertEqual(process.stdout, SIGNED_IN + LISTED + prompt + "Test number or name: "
                         + prompt + "Sorry: No attempts left; you have used every attempt"
                         " this test allows\nTest number or name: \nBye.\n")
        self.assertEqual(self.server.received, ["LOGIN ada correct horse", "RESULTS", "EXAMS",
                                                "INFO exam", "INFO exam", "TAKE exam", "QUIT"])

    async def test_continued_attempt_then_takeover(self) -> None:
        """
        If TAKE continues an attempt at question 3 of 3 with 2 minutes left, then the client
        says "Continuing your unfinished attempt: 2 of 3 questions answered, the clock still
        running."; if the test is then continued on another connection while it waits, then
        it says so on stderr at once and exits with status 1.
        """
        question_3 = reply_text(350, "Question 3 of 3", "Time left: 120 s", "Pick B.",
                                "A) a", "B) b", "C) c", "D) d")
        process = await self.client([*LOGIN, *NO_RESULTS, *EXAM_LISTED,
                                     ("INFO exam", EXAM_INFO), ("TAKE exam", question_3)])
        process.send("l", "ada", "correct horse", "exam", "y")
        await process.until("Your answer (A-D): ")
        await waiting_for_input(process)
        self.server.connections[0].speak("421 Test continued on another connection\r\n")
        self.assertEqual(await process.ended, 1)
        self.assertEqual(process.stdout, SIGNED_IN + LISTED
                         + "10 minutes, 1 attempt left: start? [y/n] "
                         "Continuing your unfinished attempt: 2 of 3 questions answered, the"
                         " clock still running.\n\nQuestion 3 of 3\nTime left: 2 min 0 s\n"
                         "Pick B.\n  A) a\n  B) b\n  C) c\n  D) d\nYour answer (A-D): ")
        self.assertEqual(process.stderr, "examtwist-client: the server closed the connection:"
                         " Test continued on another connection; your attempt goes on"
                         " there\n")


class ResultsTests(ScriptedCLITestCase):
    async def test_results_listed_at_login(self) -> None:
        """
        If the student has two ended attempts, then after logging in the client lists them:
        "math: 80.0 %, ended 2026-11-25 18:39 UTC" and "python: abandoned, ended 2026-11-25
        18:42 UTC", before the tests.
        """
        results = reply_text(216, "Your results:", "math 80.0 2026-11-25 18:39 UTC",
                             "python abandoned 2026-11-25 18:42 UTC", "End of list")
        process = await self.client([*LOGIN, ("RESULTS", results), *EXAM_LISTED, *QUIT])
        process.send("l", "ada", "correct horse")
        process.close_stdin()
        self.assertEqual(await process.ended, 0, process.stderr)
        self.assertEqual(process.stdout, SIGNED_IN + "Your results:\n"
                         "  math: 80.0 %, ended 2026-11-25 18:39 UTC\n"
                         "  python: abandoned, ended 2026-11-25 18:42 UTC\n" + LISTED + "\nBye.\n")


class RefusalTests(ScriptedCLITestCase):
    async def test_sign_in_refusals(self) -> None:
        """
        If registering gets 554 Registration is closed, 554 Not on the class roster, a 501
        weak-password reason and 553, and logging in gets 454 with its seconds, then each is
        told as "Sorry: " and the server's text, with what to do where there is something to
        do, and the client asks again.
        """
        refusals = [
            ("r", "554 Registration is closed",
             "Registration is closed; ask your teacher for an account"),
            ("r", "554 Not on the class roster",
             "Not on the class roster; register with the username on your teacher's class"
             " list"),
            ("r", "501 The password must be at least 8 characters",
             "The password must be at least 8 characters"),
            ("r", "553 Username already exists",
             "Username already exists; usernames differing only in capitals count as the"
             " same"),
            ("l", "454 Too many failed attempts, try again in 42 s",
             "Too many failed attempts, try again in 42 s"),
        ]
        verbs = {"r": "REGISTER", "l": "LOGIN"}
        process = await self.client(
            [(f"{verbs[action]} ada pw", reply + "\r\n") for action, reply, _ in refusals]
            + QUIT)
        for action, _, _ in refusals:
            process.send(action, "ada", "pw")
        process.close_stdin()
        self.assertEqual(await process.ended, 0, process.stderr)
        asked = "Register or login? [r/l] Username: Password: \n"
        self.assertEqual(process.stdout, "Welcome to the server!\n" + "".join(
            f"{asked}Sorry: {told}\n" for _, _, told in refusals) + "Register or login? [r/l] "
            "\nBye.\n")

    async def test_server_busy(self) -> None:
        """
        If logging in gets "421 Server busy, try again later", then the client says so on
        stderr with "wait a moment, then connect again" and exits with status 1.
        """
        process = await self.client([("LOGIN ada pw", "421 Server busy, try again later\r\n")])
        process.send("l", "ada", "pw")
        self.assertEqual(await process.ended, 1)
        self.assertEqual(process.stderr, "examtwist-client: the server closed the connection:"
                         " Server busy, try again later; wait a moment, then connect again\n")

    async def test_too_many_connections(self) -> None:
        """
        If the greeting is "421 Too many connections from your address", then the client
        says so on stderr with "close another connection to this server first", exit 1.
        """
        self.server = await ScriptedServer.start(
            self, [], greeting="421 Too many connections from your address\r\n")
        process = ClientProcess.spawn(self, [console_script("examtwist-client"), "--host",
                                             LOOPBACK, "--port", str(self.server.port)])
        self.assertEqual(await process.ended, 1)
        self.assertEqual((process.stdout, process.stderr), ("", (
            "examtwist-client: the server closed the connection: Too many connections from"
            " your address; close another connection to this server first\n")))

    async def test_test_not_open(self) -> None:
        """
        If a test open from 2026-12-01 09:00 to 11:00 UTC is asked for, then the prompt says
        "opens 2026-12-01 09:00 UTC, closes 2026-12-01 11:00 UTC", and TAKE's "554 Test is
        not open" is told with "it can be taken only between the times its teacher set".
        """
        info = reply_text(213, "Test: exam", "Questions: 3", "Time limit: none",
                          "Attempts allowed: unlimited", "Attempts left: unlimited",
                          "Order: fixed", "Opens: 2026-12-01 09:00 UTC",
                          "Closes: 2026-12-01 11:00 UTC", "End of info")
        process = await self.client([*LOGIN, *NO_RESULTS, *EXAM_LISTED, ("INFO exam", info),
                                     ("TAKE exam", "554 Test is not open\r\n"), *QUIT])
        process.send("l", "ada", "correct horse", "exam", "y")
        process.close_stdin()
        self.assertEqual(await process.ended, 0, process.stderr)
        self.assertEqual(process.stdout, SIGNED_IN + LISTED + "opens 2026-12-01 09:00 UTC,"
                         " closes 2026-12-01 11:00 UTC: start? [y/n] Sorry: Test is not open;"
                         " it can be taken only between the times its teacher set\n"
                         "Test number or name: \nBye.\n")


class WordsTests(SynchronousTestCase):
    def test_durations(self) -> None:
        """
        If a time is 600, 60, 90, 3600, 5405 or 0 seconds, then it is said "10 minutes", "1
        minute", "1 minute 30 seconds", "1 hour", "1 hour 30 minutes 5 seconds", "0 seconds";
        shown left as "10 min 0 s", "1 min 0 s", "1 min 30 s", "1 h 0 min 0 s", "1 h 30 min 5
        s", "0 s"; and on a countdown "10:00", "1:00", "1:30", "1:00:00", "1:30:05", "0:00".
        """
        times = [600, 60, 90, 3600, 5405, 0]
        self.assertEqual([(spoken_duration(t), short_duration(t), clock(t)) for t in times], [
            ("10 minutes", "10 min 0 s", "10:00"),
            ("1 minute", "1 min 0 s", "1:00"),
            ("1 minute 30 seconds", "1 min 30 s", "1:30"),
            ("1 hour", "1 h 0 min 0 s", "1:00:00"),
            ("1 hour 30 minutes 5 seconds", "1 h 30 min 5 s", "1:30:05"),
            ("0 seconds", "0 s", "0:00"),
        ])

    def test_rules(self) -> None:
        """
        If a test has 10 minutes and 1 attempt left of 2, shuffled, then its summary is "10
        minutes, 1 attempt left" and its lines name every rule; with no attempt left and not
        logged in, "1 attempt allowed"; with 0 left, "no new attempts left" (TAKE may yet
        continue an unfinished one).
        """
        info = Info("exam", 3, 600, 2, 1, True)
        self.assertEqual((rules_summary(info), rules_lines(info)), (
            "10 minutes, 1 attempt left",
            ["3 questions", "Time limit: 10 minutes", "Attempts allowed: 2", "Attempts left: 1",
             "Order: shuffled for each attempt"]))
        self.assertEqual([rules_summary(Info("exam", 3, None, 1, None)),
                          rules_summary(Info("exam", 3, 90, 3, 0))],
                         ["1 attempt allowed", "1 minute 30 seconds, no new attempts left"])

    def test_results_and_continuation(self) -> None:
        """
        If a result is python abandoned or math 66.7, then it reads "python: abandoned, ended
        2026-11-25 18:42 UTC" or "math: 66.7 %, ..."; a TAKE answered with question 1 is no
        continuation, with question 4 of 5 untimed "Continuing your unfinished attempt: 3 of 5
        questions answered."
        """
        self.assertEqual([result_words(ResultLine("python", None, 1795632120)),
                          result_words(ResultLine("math", 667, 1795631940))],
                         ["python: abandoned, ended 2026-11-25 18:42 UTC",
                          "math: 66.7 %, ended 2026-11-25 18:39 UTC"])
        self.assertEqual([continuation(1, 5, True), continuation(4, 5, False)],
                         [None, "Continuing your unfinished attempt: 3 of 5 questions answered."])


class ConsoleTests(SynchronousTestCase):
    def console(self, data: bytes) -> Console:
        """A console reading C{data} from a file, as from a redirected standard input."""
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(data)
        read = os.open(path, os.O_RDONLY)
        self.addCleanup(os.close, read)
        out = open(os.devnull, "w")
        self.addCleanup(out.close)
        return Console(read, out)

    def test_lines_then_end(self) -> None:
        """
        If several lines arrive at once, CRLF or LF, the last without an ending, then each
        is read in turn (blanks stripped, a password kept as typed), then EOFError.
        """
        console = self.console(b" r \r\nada\n  pass word \nexam")
        self.assertEqual([console.ask("? "), console.ask("? "), console.password(),
                          console.ask("? ")], ["r", "ada", "  pass word ", "exam"])
        self.assertRaises(EOFError, console.ask, "? ")

    def test_overlong_line_is_bounded(self) -> None:
        """
        If a line of 100000 bytes is typed, then what is kept of it is 4097 bytes (too long to
        send), and the next line is read whole.
        """
        console = self.console(b"x" * 100_000 + b"\nnext\n")
        self.assertEqual([len(console.ask("? ")), console.ask("? ")], [MAX_INPUT + 1, "next"])
