"""
The real C{examtwist-client} console script, its stdin scripted, against the real server's
protocol 1.1 in this process: a timed test whose time runs out while the client waits for
input, a continuation after the client was killed, the results listed, and the refusals of a
server with closed or roster registration, password rules and connection limits.
"""

from __future__ import annotations

import re

from twisted.trial.unittest import TestCase

from examtwist.testbank import Rules
from tests.client_support import (
    ClientProcess,
    console_script,
    run_admin,
    stored_results,
    waiting_for_input,
    with_rules,
)
from tests.support import LOOPBACK, MATH_KEY, connect, server_options, start_server

SIGN_IN = "Register or login? [r/l] Username: Password: \n"
LISTED = "Available tests:\n  1. math (5 questions)\n  2. python (5 questions)\n"
QUESTION_1 = "What is 12 * 12?\n  A) 124\n  B) 144\n  C) 132\n  D) 142\nYour answer (A-D): "
NOT_SHUFFLED_3 = ("What is the square root of 169?\n  A) 12\n  B) 14\n  C) 13\n  D) 17\n"
                  "Your answer (A-D): ")


class ExamsCLITestCase(TestCase):
    async def serve(self, *args: str, rules: Rules | None = None) -> None:
        self.service, self.port = await start_server(self, *args)
        if rules is not None:
            await with_rules(self, self.service.desk.store, "math", rules)

    def client(self) -> ClientProcess:
        return ClientProcess.spawn(self, [console_script("examtwist-client"), "--host",
                                          LOOPBACK, "--port", str(self.port)])


class TimedTests(ExamsCLITestCase):
    async def test_time_runs_out_while_waiting(self) -> None:
        """
        If math allows 1 attempt of 2 s and the student starts it and types nothing, then the
        client shows "2 seconds, 1 attempt left: start? [y/n] ", the question with "Time left:
        1 s" (or 0 s), and then, unasked, "Time is up: unanswered questions count as wrong."
        and "Your grade is 0.0 (0/5 correct)". Next session, it lists "math: 0.0 %, ended
        ..." at login, says "no new attempts left" and the server's "No attempts left".
        """
        await self.serve(rules=Rules(attempts=1, time_limit=2))
        process = self.client()
        process.send("r", "ada", "correct horse", "math", "y")
        await process.until("Your answer (A-D): ")
        await waiting_for_input(process)
        await process.until("Take another test? [y/n] ")
        process.send("n")
        self.assertEqual(await process.ended, 0, process.stderr)
        shown = re.sub(r"Time left: [01] s\n", "Time left: 1 s\n", process.stdout)
        self.assertEqual(shown, (
            "Welcome to the server!\n" + SIGN_IN + "Registered and logged in.\n" + LISTED
            + "Test number or name: 2 seconds, 1 attempt left: start? [y/n] \n"
            "Question 1 of 5\nTime left: 1 s\n" + QUESTION_1
            + "\nTime is up: unanswered questions count as wrong.\n"
            "Your grade is 0.0 (0/5 correct)\nTake another test? [y/n] Bye.\n"))

        process = self.client()
        process.send("l", "ada", "correct horse", "math", "y")
        process.close_stdin()
        self.assertEqual(await process.ended, 0, process.stderr)
        shown = re.sub(r"ended \d{4}-\d\d-\d\d \d\d:\d\d UTC", "ended (time)", process.stdout)
        self.assertEqual(shown, (
            "Welcome to the server!\n" + SIGN_IN + "Logged in.\n"
            "Your results:\n  math: 0.0 %, ended (time)\n" + LISTED
            + "Test number or name: 2 seconds, no new attempts left: start? [y/n] "
            "Sorry: No attempts left; you have used every attempt this test allows\n"
            "Test number or name: \nBye.\n"))

    async def test_continued_after_the_client_was_killed(self) -> None:
        """
        If the client is killed after two right answers of a 10-minute, 1-attempt math, then
        the next session's client says "Continuing your unfinished attempt: 2 of 5 questions
        answered, the clock still running.", shows "Question 3 of 5" with its time left, and
        three right answers more grade "Your grade is 100.0 (5/5 correct)".
        """
        await self.serve(rules=Rules(attempts=1, time_limit=600))
        process = self.client()
        process.send("r", "ada", "correct horse", "math", "y", *MATH_KEY[:2])
        await process.until("Question 3 of 5")
        await waiting_for_input(process)
        await process.kill()

        process = self.client()
        process.send("l", "ada", "correct horse", "math", "y", *MATH_KEY[2:], "n")
        self.assertEqual(await process.ended, 0, process.stderr)
        shown = re.sub(r"Time left: 9 min [0-5]?\d s\n", "Time left: 9 min (s) s\n",
                       process.stdout)
        self.assertIn(
            "Test number or name: 10 minutes, no new attempts left: start? [y/n] "
            "Continuing your unfinished attempt: 2 of 5 questions answered, the clock still"
            " running.\n\nQuestion 3 of 5\nTime left: 9 min (s) s\n" + NOT_SHUFFLED_3, shown)
        self.assertTrue(shown.endswith(
            "Your grade is 100.0 (5/5 correct)\nTake another test? [y/n] Bye.\n"), shown)


class AdminRulesTests(ExamsCLITestCase):
    async def test_rules_set_by_the_admin_command(self) -> None:
        """
        If the admin runs "examtwist exams set math --time-limit 60 --attempts 1 --shuffle"
        while the server runs, then the client asks "1 minute, 1 attempt left: start? [y/n]
        ", shows "Time left: 59 s" (or less) with the first question, and leaving at the end
        of input sends QUIT: the attempt is stored abandoned, nothing answered.
        """
        options = server_options(self)
        self.service, self.port = await start_server(self, options=options)
        code, out, err = await run_admin(self, "exams", "set", "math", "--time-limit", "60",
                                         "--attempts", "1", "--shuffle", "--db", options["db"])
        self.assertEqual((code, err), (0, ""), out)
        process = self.client()
        process.send("r", "ada", "correct horse", "math", "y")
        await process.until("Your answer (A-D): ")
        process.close_stdin()
        self.assertEqual(await process.ended, 0, process.stderr)
        self.assertIn("Test number or name: 1 minute, 1 attempt left: start? [y/n] \n"
                      "Question 1 of 5\nTime left: ", process.stdout)
        self.assertRegex(process.stdout, r"\nTime left: (59|58) s\n")
        self.assertEqual(await stored_results(self.service.desk.store),
                         [("ada", "math", "abandoned", 0, 0, 5, None)])


class RefusalTests(ExamsCLITestCase):
    async def signing_in(self, *lines: str) -> str:
        """What the client prints for these lines of input, then the end of input."""
        process = self.client()
        process.send(*lines)
        process.close_stdin()
        self.assertEqual(await process.ended, 0, process.stderr)
        return process.stdout

    async def test_registration_closed(self) -> None:
        """
        If registration is closed, then registering prints "Sorry: Registration is closed; ask
        your teacher for an account".
        """
        await self.serve("--registration", "closed")
        self.assertEqual(await self.signing_in("r", "ada", "correct horse"), (
            "Welcome to the server!\n" + SIGN_IN + "Sorry: Registration is closed; ask your"
            " teacher for an account\nRegister or login? [r/l] \nBye.\n"))

    async def test_roster_weak_password_and_case(self) -> None:
        """
        If registration is by roster (empty), then "ada" is told "Not on the class roster;
        register with the username on your teacher's class list"; on an open server with
        the default password rules, "short" is told "The password must be at least 8
        characters", and "Ada" after "ada" "Username already exists; usernames differing
        only in capitals count as the same".
        """
        await self.serve("--registration", "roster")
        self.assertIn("Sorry: Not on the class roster; register with the username on your"
                      " teacher's class list\n",
                      await self.signing_in("r", "ada", "correct horse"))
        await self.serve("--min-password-length", "8")
        out = await self.signing_in("r", "ada", "short", "r", "ada", "correct horse")
        self.assertIn(SIGN_IN + "Sorry: The password must be at least 8 characters\n"
                      + SIGN_IN + "Registered and logged in.\n", out)
        self.assertIn(SIGN_IN + "Sorry: Username already exists; usernames differing only in"
                      " capitals count as the same\n",
                      await self.signing_in("r", "Ada", "correct horse"))

    async def test_too_many_registrations(self) -> None:
        """
        If an address may register once, then its second registration prints "Sorry: Too many
        registrations, try again in N s" with N a whole number of seconds.
        """
        await self.serve("--max-registrations-per-address", "1")
        await self.signing_in("r", "ada", "correct horse")
        out = await self.signing_in("r", "bob", "correct horse")
        self.assertRegex(out, r"\nSorry: Too many registrations, try again in [1-9]\d* s\n")

    async def test_too_many_connections(self) -> None:
        """
        If an address may hold one connection and holds it, then the client prints on stderr
        "the server closed the connection: Too many connections from your address; close
        another connection to this server first" and exits with status 1.
        """
        await self.serve("--max-per-address", "1")
        held = await connect(self.port)
        self.addCleanup(held.transport.loseConnection)
        process = self.client()
        self.assertEqual(await process.ended, 1)
        self.assertEqual((process.stdout, process.stderr), ("", (
            "examtwist-client: the server closed the connection: Too many connections from your"
            " address; close another connection to this server first\n")))
