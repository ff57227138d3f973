"""
The real C{examtwist-client} console script as a child process, its stdin scripted, against
a real server: the in-process one, or C{twistd} where the server must die abruptly.
"""

from __future__ import annotations

from twisted.trial.unittest import TestCase

from examtwist.attempts import grade_tenths
from examtwist.wire import format_grade
from tests.client_support import (

    ClientProcess,
    console_script,
    free_port,
    self_signed_certificate,
)
from tests.support import LOOPBACK, Twistd, connect, logged_in, start_server

PLEASE = "Please answer A, B, C or D."


def wrong(letter: str) -> str:
    return "ABCD"[("ABCD".index(letter) + 1) % 4]


class CLITestCase(TestCase):
    async def serve(self, *args: str) -> int:
        self.service, self.port = await start_server(self, *args)
        return self.port

    def client(self, *args: str, port: int | None = None) -> ClientProcess:
        argv = [console_script("examtwist-client"), "--host", LOOPBACK,
                "--port", str(port or self.port), *args]
        return ClientProcess.spawn(self, argv)

    async def answers(self, name: str) -> list[str]:
        exam = await self.service.desk.store.find_test(name)
        return [q.answer for q in exam.questions]

    def assertOneLineError(self, process: ClientProcess, *fragments: str) -> None:
        self.assertNotIn("Traceback", process.stderr + process.stdout)
        lines = process.stderr.splitlines()
        self.assertEqual(len(lines), 1, process.stderr)
        self.assertTrue(lines[0].startswith("examtwist-client: "), lines[0])
        for fragment in fragments:
            self.assertIn(fragment, lines[0])


class SessionTests(CLITestCase):
    async def test_full_session(self) -> None:
        """
        Register, take a test by name, another by number; each question is shown with its
        choices, each grade as the server computed it; QUIT at the end.
        """
        await self.serve()
        math, python = await self.answers("math"), await self.answers("python")
        math_answers = [math[0], wrong(math[1]), *math[2:]]
        process = self.client()
        process.send("r", "carol", "correct horse", "math", *(a.lower() for a in math_answers),
                      "y", "2", *python, "n")
        self.assertEqual(await process.ended, 0, process.stderr)
        out = process.stdout
        self.assertIn("Welcome to the server!\n", out)
        self.assertIn("Registered and logged in.", out)
        for exam in await self.service.desk.store.list_tests():
            self.assertIn(f"  {exam.number}. {exam.name} ({exam.question_count} questions)", out)
        stored = await self.service.desk.store.find_test("math")
        first = stored.questions[0]
        total = len(stored.questions)
        self.assertIn(
            f"Question 1 of {total}\n" + "\n".join(first.text) + "\n"
            + "".join(f"  {l}) {c}\n" for l, c in zip("ABCD", first.choices)),
            out,
        )
        one_wrong = format_grade(grade_tenths(total - 1, total))
        self.assertIn(f"Your grade is {one_wrong} ({total - 1}/{total} correct)", out)
        self.assertIn(f"Your grade is 100.0 ({len(python)}/{len(python)} correct)", out)
        self.assertTrue(out.rstrip().endswith("Bye."))
        results = await self.service.desk.store.list_results()
        self.assertEqual([(r.username, r.test, r.grade) for r in results],
                         [("carol", "math", float(one_wrong)), ("carol", "python", 100.0)])

    async def test_wrong_password_then_right(self) -> None:
        """A refused login shows the server's reason and asks again; the next one works."""
        port = await self.serve()
        (await logged_in(port, "dave")).transport.loseConnection()
        process = self.client()
        process.send("l", "dave", "not it", "L", "dave", "correct horse")
        process.close_stdin()
        self.assertEqual(await process.ended, 0, process.stderr)
        out = process.stdout
        self.assertEqual(out.count("Sorry: Invalid username and/or password"), 1)
        self.assertEqual(out.count("Register or login? [r/l] "), 2)
        self.assertIn("Logged in.", out)
        self.assertIn("Available tests:", out)
        self.assertEqual(process.stderr, "")

    async def test_lucky_greeting_shows_addresses_as_sent(self) -> None:
        """The lucky greeting is printed line for line, the addresses as the server saw them."""
        port = await self.serve("--lucky", "3")
        others = [await connect(port), await connect(port)]
        for other in others:
            self.addCleanup(other.transport.loseConnection)
        process = self.client()
        await process.until("Register or login? ")
        addresses = [p.address for p in sorted(self.service.factory.connections, key=lambda p: p.number)]
        process.close_stdin()
        await process.ended
        self.assertIn(
            "\n".join(["Congratulations you are the third user!!!", *addresses,
                       "Welcome to the server!"]) + "\n",
            process.stdout,
        )

    async def test_tls(self) -> None:
        """--tls with --cafile: the server's greeting arrives over TLS."""
        key, cert = self_signed_certificate(self)
        await self.serve("--exam", f"ssl:0:interface={LOOPBACK}:privateKey={key}:certKey={cert}")
        process = self.client("--tls", "--cafile", cert)
        process.close_stdin()
        self.assertEqual(await process.ended, 0, process.stderr)
        self.assertTrue(process.stdout.startswith("Welcome to the server!\n"))


class AnswerTests(CLITestCase):
    async def test_invalid_letters_asked_again_locally(self) -> None:
        """
        Bad letters are asked again by the client alone: it does so even with the server
        stopped, and only the valid letter after them finds the server gone.
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
        self.assertEqual(process.stdout.count("Question 1 of"), 1)
        process.send("a")
        self.assertEqual(await process.ended, 1)
        self.assertOneLineError(process, "Server shutting down")
        await stopping

    async def test_invalid_letters_then_grade(self) -> None:
        """After bad letters the same question is still open; the grade counts valid answers."""
        await self.serve()
        key = await self.answers("python")
        process = self.client()
        process.send("r", "frank", "correct horse", "python", "x", key[0], "5", *key[1:], "n")
        self.assertEqual(await process.ended, 0, process.stderr)
        self.assertEqual(process.stdout.count(PLEASE), 2)
        self.assertIn(f"Your grade is 100.0 ({len(key)}/{len(key)} correct)", process.stdout)


class LeavingTests(CLITestCase):
    async def test_server_killed_mid_test(self) -> None:
        """The twistd process killed mid-test: one clear line, exit status 1, no traceback."""
        server = Twistd.spawn(self)
        ports = await server.started
        process = self.client(port=ports["Exam service"])
        process.send("r", "gina", "correct horse", "math")
        await process.until("Your answer (A-D): ")
        await server.kill()
        process.send("b")
        self.assertEqual(await process.ended, 1)
        self.assertOneLineError(process, "connection")

    async def test_interrupt_mid_test_quits(self) -> None:
        """Ctrl-C mid-test: QUIT is sent (the test is stored as abandoned), exit status 130."""
        await self.serve()
        process = self.client()
        process.send("r", "hank", "correct horse", "math", "a")
        await process.until("Your answer (A-D): ", count=2)
        process.transport.signalProcess("INT")
        self.assertEqual(await process.ended, 130)
        self.assertNotIn("Traceback", process.stderr)
        self.assertTrue(process.stdout.rstrip().endswith("Bye."))
        results = await self.service.desk.store.list_results()
        self.assertEqual([(r.username, r.status, r.answered) for r in results],
                         [("hank", "abandoned", 1)])

    async def test_end_of_input_quits(self) -> None:
        """End of input at any prompt leaves cleanly with exit status 0."""
        await self.serve()
        process = self.client()
        process.send("r", "ivan")
        process.close_stdin()
        self.assertEqual(await process.ended, 0)
        self.assertEqual(process.stderr, "")
        self.assertTrue(process.stdout.rstrip().endswith("Bye."))

    async def test_no_server(self) -> None:
        """Nothing listening: one line saying where it tried."""
        port = await free_port()
        process = self.client(port=port)
        self.assertEqual(await process.ended, 1)
        self.assertOneLineError(process, f"{LOOPBACK}:{port}", "refused")
