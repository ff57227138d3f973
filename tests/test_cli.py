"""
The real C{examtwist-client} console script as a child process, its stdin scripted, against
a real server: the in-process one, or C{twistd} where the server must die abruptly.
"""

from __future__ import annotations

from twisted.trial.unittest import TestCase

from tests.client_support import (
    PYTHON_KEY,
    ClientProcess,
    console_script,
    free_port,
    self_signed_certificate,
    stored_results,
    waiting_for_input,
)
from tests.support import LOOPBACK, MATH_KEY, Twistd, connect, logged_in, start_server

PLEASE = "Please answer A, B, C or D."
LISTED = "Available tests:\n  1. math (5 questions)\n  2. python (5 questions)\n"


class CLITestCase(TestCase):
    async def serve(self, *args: str) -> int:
        self.service, self.port = await start_server(self, *args)
        return self.port

    def client(self, *args: str, port: int | None = None) -> ClientProcess:
        argv = [console_script("examtwist-client"), "--host", LOOPBACK,
                "--port", str(port or self.port), *args]
        return ClientProcess.spawn(self, argv)

    async def results(self) -> list[tuple]:
        return await stored_results(self.service.desk.store)


class SessionTests(CLITestCase):
    async def test_full_session(self) -> None:
        """
        If a student registers, takes "math" (one answer wrong, in lower case), then test "2"
        (all right), then says no more, then the client lists both tests, shows each question
        with its choices, prints "Your grade is 80.0 (4/5 correct)" and "Your grade is 100.0
        (5/5 correct)", says "Bye." and exits 0; both grades are stored.
        """
        await self.serve()
        math_answers = [MATH_KEY[0], "A", *MATH_KEY[2:]]  # the second is D
        process = self.client()
        process.send("r", "carol", "correct horse", "math", *(a.lower() for a in math_answers),
                     "y", "2", *PYTHON_KEY, "n")
        self.assertEqual(await process.ended, 0, process.stderr)
        out = process.stdout
        self.assertTrue(out.startswith(
            "Welcome to the server!\nRegister or login? [r/l] Username: Password: \n"
            "Registered and logged in.\n" + LISTED + "Test number or name: \n"
            "Question 1 of 5\nWhat is 12 * 12?\n  A) 124\n  B) 144\n  C) 132\n  D) 142\n"
            "Your answer (A-D): \n"
            "Question 2 of 5\nThe sum of the first N odd numbers is:\n"
            "  A) (N*(N+1))/2\n  B) N^2 + N\n  C) N^2 + 2*N\n  D) N^2\n"
        ), out)
        self.assertIn(
            "\nQuestion 5 of 5\nA rectangle is 8 cm long and 5 cm wide.\nWhat is its area?\n"
            "  A) 13 cm^2\n  B) 26 cm^2\n  C) 40 cm^2\n  D) 45 cm^2\nYour answer (A-D): \n"
            "Your grade is 80.0 (4/5 correct)\nTake another test? [y/n] " + LISTED,
            out,
        )
        self.assertTrue(out.endswith(
            "Your answer (A-D): \nYour grade is 100.0 (5/5 correct)\n"
            "Take another test? [y/n] Bye.\n"
        ), out)
        self.assertEqual(await self.results(), [("carol", "math", "graded", 4, 5, 5, 80.0),
                                                ("carol", "python", "graded", 5, 5, 5, 100.0)])

    async def test_wrong_password_then_right(self) -> None:
        """
        If a login is refused, then the client prints "Sorry: Invalid username and/or
        password" and asks again; the next login works and the tests are listed.
        """
        port = await self.serve()
        (await logged_in(port, "dave")).transport.loseConnection()
        process = self.client()
        process.send("l", "dave", "not it", "L", "dave", "correct horse")
        process.close_stdin()
        self.assertEqual(await process.ended, 0, process.stderr)
        self.assertEqual(process.stdout, (
            "Welcome to the server!\n"
            "Register or login? [r/l] Username: Password: \n"
            "Sorry: Invalid username and/or password\n"
            "Register or login? [r/l] Username: Password: \n"
            "Logged in.\n" + LISTED + "Test number or name: \nBye.\n"
        ))
        self.assertEqual(process.stderr, "")

    async def test_lucky_greeting_shows_addresses_as_sent(self) -> None:
        """
        If the client is the third connection with --lucky 3, then it prints the
        congratulation, the three addresses as the server wrote them, and the welcome.
        """
        port = await self.serve("--lucky", "3")
        others = [await connect(port), await connect(port)]
        for other in others:
            self.addCleanup(other.transport.loseConnection)
        process = self.client()
        await process.until("Register or login? ")
        own = max(self.service.factory.connections, key=lambda p: p.number).address
        process.close_stdin()
        self.assertEqual(await process.ended, 0, process.stderr)
        self.assertTrue(process.stdout.startswith(
            "Congratulations you are the third user!!!\n"
            f"{LOOPBACK}:{others[0].transport.getHost().port}\n"
            f"{LOOPBACK}:{others[1].transport.getHost().port}\n"
            f"{own}\n"
            "Welcome to the server!\nRegister or login? [r/l] \nBye.\n"
        ), process.stdout)

    async def test_tls(self) -> None:
        """If --tls and --cafile are given, then the server's greeting arrives over TLS."""
        key, cert = self_signed_certificate(self)
        await self.serve("--exam", f"ssl:0:interface={LOOPBACK}:privateKey={key}:certKey={cert}")
        process = self.client("--tls", "--cafile", cert)
        process.close_stdin()
        self.assertEqual(await process.ended, 0, process.stderr)
        self.assertEqual(process.stdout,
                         "Welcome to the server!\nRegister or login? [r/l] \nBye.\n")


class AnswerTests(CLITestCase):
    async def test_invalid_letters_asked_again_locally(self) -> None:
        """
        If the answers are "e", "AB", "", "1" and "a.", then the client alone asks again with
        "Please answer A, B, C or D." (it does so with the server stopped), and only the valid
        "a" after them finds the server gone: one line on stderr, exit status 1.
        """
        await self.serve()
        process = self.client()
        process.send("r", "erin", "correct horse", "1")
        await process.until("Your answer (A-D): ")
        # What stopping the service does to each connection, at once.
        stopping = self.service.factory.shutdown()
        process.send("e", "AB", "", "1", "a.")
        await process.until("Your answer (A-D): ", count=6)
        self.assertEqual(process.stdout.count(PLEASE), 5)
        self.assertEqual(process.stdout.count("Question 1 of 5"), 1)
        process.send("a")
        self.assertEqual(await process.ended, 1)
        self.assertNotIn("Traceback", process.stdout)
        self.assertEqual(process.stderr, "examtwist-client: the server closed the connection:"
                                         " Server shutting down\n")
        await stopping

    async def test_invalid_letters_then_grade(self) -> None:
        """
        If "x" and "5" come between valid answers of python, then each is asked again and
        the grade counts only the five valid answers: "Your grade is 100.0 (5/5 correct)".
        """
        await self.serve()
        process = self.client()
        process.send("r", "frank", "correct horse", "python", "x", PYTHON_KEY[0], "5",
                     *PYTHON_KEY[1:], "n")
        self.assertEqual(await process.ended, 0, process.stderr)
        self.assertEqual(process.stdout.count(PLEASE), 2)
        self.assertIn("Your grade is 100.0 (5/5 correct)\n", process.stdout)
        self.assertEqual(await self.results(), [("frank", "python", "graded", 5, 5, 5, 100.0)])


class LeavingTests(CLITestCase):
    async def test_server_killed_mid_test(self) -> None:
        """
        If the twistd process is killed mid-test, then the client prints one line about the
        connection on stderr, no traceback, and exits with status 1.
        """
        server = Twistd.spawn(self)
        ports = await server.started
        process = self.client(port=ports["Exam service"])
        process.send("r", "gina", "correct horse", "math")
        await process.until("Your answer (A-D): ")
        await server.kill()
        process.send("b")
        self.assertEqual(await process.ended, 1)
        self.assertIn(process.stderr, (
            "examtwist-client: the server closed the connection\n",
            "examtwist-client: the connection to the server was lost (Connection reset by peer)\n",
        ))
        self.assertNotIn("Traceback", process.stdout)

    async def test_interrupt_mid_test_quits(self) -> None:
        """
        If Ctrl-C comes mid-test, then QUIT is sent (the test is stored as abandoned after 1
        answer), the client says "Bye." and exits with status 130.
        """
        await self.serve()
        process = self.client()
        process.send("r", "hank", "correct horse", "math", "a")
        await process.until("Your answer (A-D): ", count=2)
        await waiting_for_input(process)
        process.transport.signalProcess("INT")
        self.assertEqual(await process.ended, 130)
        self.assertEqual(process.stderr, "")
        self.assertTrue(process.stdout.endswith("Your answer (A-D): \nBye.\n"), process.stdout)
        self.assertEqual(await self.results(), [("hank", "math", "abandoned", 0, 1, 5, None)])

    async def test_end_of_input_quits(self) -> None:
        """If the input ends at the password prompt, then the client says "Bye." and exits 0."""
        await self.serve()
        process = self.client()
        process.send("r", "ivan")
        process.close_stdin()
        self.assertEqual(await process.ended, 0)
        self.assertEqual(process.stderr, "")
        self.assertEqual(process.stdout, "Welcome to the server!\n"
                                         "Register or login? [r/l] Username: Password: \nBye.\n")

    async def test_no_server(self) -> None:
        """
        If nothing listens, then the client prints one line saying where it tried and that
        it was refused, and exits with status 1.
        """
        port = await free_port()
        process = self.client(port=port)
        self.assertEqual(await process.ended, 1)
        self.assertEqual(process.stderr, f"examtwist-client: could not connect to {LOOPBACK}:"
                                         f"{port}: Connection refused\n")
        self.assertEqual(process.stdout, "")
