"""
The client protocol module against a real server in this process, over real sockets.

The client blocks, so each call runs in a thread (L{in_thread}) while the reactor serves.
"""

from __future__ import annotations

from twisted.trial.unittest import TestCase

from examtwist.client import (
    ClientTimeout,
    ConnectFailed,
    ConnectionClosed,
    ExamClient,
    Grade,
    InputError,
    ListedTest,
    ProtocolError,
    Asked,
    ServerError,
    check_answer,
)
from examtwist.testbank import Question
from examtwist.attempts import grade_tenths
from examtwist.wire import format_grade
from tests.client_support import (
    fake_server,
    free_port,
    in_thread,
    self_signed_certificate,
)
from tests.support import LOOPBACK, connect, start_server


class ClientTestCase(TestCase):
    async def serve(self, *args: str) -> int:
        self.service, port = await start_server(self, *args)
        return port

    async def client(self, port: int, **kwargs) -> ExamClient:
        client = await in_thread(ExamClient.connect, LOOPBACK, port, **kwargs)
        self.addCleanup(client.close)
        return client

    async def registered(self, port: int, username: str = "alice") -> ExamClient:
        client = await self.client(port)
        await in_thread(client.register, username, "correct horse")
        return client

    async def exam(self, name: str):
        return await self.service.desk.store.find_test(name)


class GreetingTests(ClientTestCase):
    async def test_plain_greeting(self) -> None:
        """An ordinary connection is welcomed with one line and no address list."""
        client = await self.client(await self.serve())
        self.assertFalse(client.greeting.is_lucky)
        self.assertEqual(client.greeting.welcome, "Welcome to the server!")
        self.assertEqual(client.greeting.addresses, ())

    async def test_lucky_greeting_lists_addresses_as_sent(self) -> None:
        """
        The lucky connection sees the congratulation and every counted connection's address,
        exactly as the server wrote them, its own last.
        """
        port = await self.serve("--lucky", "3")
        first, second = await connect(port), await connect(port)
        self.addCleanup(first.transport.loseConnection)
        self.addCleanup(second.transport.loseConnection)
        client = await self.client(port)
        server_side = sorted(self.service.factory.connections, key=lambda p: p.number)
        self.assertEqual(client.greeting.addresses, tuple(p.address for p in server_side))
        self.assertEqual(len(client.greeting.addresses), 3)
        self.assertEqual(client.greeting.congratulation, "Congratulations you are the third user!!!")
        self.assertEqual(client.greeting.welcome, "Welcome to the server!")


class DialogueTests(ClientTestCase):
    async def test_register_then_login_elsewhere_and_list(self) -> None:
        """An account made on one connection logs in on another, which lists the stored tests."""
        port = await self.serve()
        first = await self.registered(port)
        await in_thread(first.quit)
        self.assertTrue(first.closed)
        second = await self.client(port)
        await in_thread(second.login, "alice", "correct horse")
        listed = await in_thread(second.list_tests)
        stored = await self.service.desk.store.list_tests()
        self.assertEqual(listed, [ListedTest(*e) for e in stored])
        self.assertTrue(listed)

    async def test_whole_test_and_grade(self) -> None:
        """
        Each question arrives with its number, text and choices; the grade counts the right
        answers; the connection can take another test afterwards.
        """
        port = await self.serve()
        client = await self.registered(port)
        exam = await self.exam("math")
        total = len(exam.questions)
        question = await in_thread(client.take, "MATH")
        for i, stored in enumerate(exam.questions):
            self.assertEqual(
                question, Asked(i + 1, total, Question(stored.text, stored.choices))
            )
            self.assertEqual(question.heading, f"Question {i + 1} of {total}")
            # Right for the first three, wrong after.
            letter = stored.answer if i < 3 else "ABCD"[("ABCD".index(stored.answer) + 1) % 4]
            question = await in_thread(client.answer, letter.lower())
        self.assertIsInstance(question, Grade)
        self.assertEqual((question.correct, question.total), (3, total))
        self.assertEqual(question.percent, format_grade(grade_tenths(3, total)))
        self.assertEqual(
            question.text, f"Your grade is {question.percent} (3/{total} correct)"
        )
        again = await in_thread(client.take, 2)
        self.assertEqual((again.number, again.total), (1, len((await self.exam("python")).questions)))

    async def test_quit_during_a_test_is_sent(self) -> None:
        """QUIT reaches the server: the unfinished test is stored as abandoned."""
        port = await self.serve()
        client = await self.registered(port)
        await in_thread(client.take, "python")
        await in_thread(client.answer, "A")
        await in_thread(client.quit)
        results = await self.service.desk.store.list_results()
        self.assertEqual([(r.username, r.status, r.answered) for r in results],
                         [("alice", "abandoned", 1)])


class RefusalTests(ClientTestCase):
    async def assertRefused(self, code: int, text: str, function, *args) -> None:
        error = await self.assertFailure(in_thread(function, *args), ServerError)
        self.assertEqual((error.code, str(error)), (code, text))

    async def test_server_refusals_keep_the_connection(self) -> None:
        """Each refusal carries the server's code and text; the connection stays usable."""
        port = await self.serve()
        await self.registered(port, "bob")
        client = await self.client(port)
        await self.assertRefused(553, "Username already exists", client.register, "bob", "x")
        await self.assertRefused(530, "Please log in first", client.take, "math")
        await self.assertRefused(535, "Invalid username and/or password", client.login, "bob", "no")
        error = await self.assertFailure(in_thread(client.register, "bad/name", "pw"), ServerError)
        self.assertEqual(error.code, 501)
        self.assertIn("username", str(error))
        await in_thread(client.login, "bob", "correct horse")
        await self.assertRefused(503, "Already logged in", client.login, "bob", "correct horse")
        await self.assertRefused(550, "No such test", client.take, "history")
        self.assertTrue(await in_thread(client.list_tests))

    async def test_third_failed_login_closes(self) -> None:
        """The server's 421 after three failures is a ConnectionClosed carrying its reason."""
        client = await self.client(await self.serve())
        for _ in range(2):
            await self.assertFailure(in_thread(client.login, "nobody", "wrong"), ServerError)
        error = await self.assertFailure(in_thread(client.login, "nobody", "wrong"), ConnectionClosed)
        self.assertEqual((error.reply.code, error.reply.text), (421, "Too many failed attempts"))
        self.assertIn("Too many failed attempts", str(error))
        self.assertTrue(client.closed)
        await self.assertFailure(in_thread(client.list_tests), ConnectionClosed)

    async def test_bad_answer_is_not_sent(self) -> None:
        """
        A letter outside A-D is refused locally: the next valid answer gets the next question,
        not a 501 left waiting in the stream.
        """
        client = await self.registered(await self.serve())
        await in_thread(client.take, "math")
        for bad in ("E", "", "AB", "1", "a b"):
            await self.assertFailure(in_thread(client.answer, bad), InputError)
        question = await in_thread(client.answer, " \tb ")
        self.assertEqual(question.number, 2)

    def test_check_answer(self) -> None:
        """Any case and surrounding blanks are fine; anything else is an InputError."""
        self.assertEqual([check_answer(x) for x in ("a", " B", "c\t", "D")], list("ABCD"))
        for bad in ("", "e", "ab", "A.", "Ä"):
            self.assertRaises(InputError, check_answer, bad)

    async def test_input_that_would_break_the_line(self) -> None:
        """Blanks in a username, line breaks, an over-long line: refused before sending."""
        port = await self.serve()
        client = await self.client(port)
        for username, password in [("al ice", "pw"), ("alice", "two\nlines"), ("", "pw"),
                                   ("alice", ""), ("alice", "x" * 1100)]:
            await self.assertFailure(in_thread(client.register, username, password), InputError)
        await in_thread(client.register, "alice", " spaces  are kept ")
        other = await self.client(port)
        await in_thread(other.login, "alice", " spaces  are kept ")


class ClosingTests(ClientTestCase):
    async def test_server_shutdown_mid_test(self) -> None:
        """A server stopping mid-test: the next answer reports its 421 reason."""
        client = await self.registered(await self.serve())
        await in_thread(client.take, "math")
        # What stopping the service does to each connection, at once.
        stopped = self.service.factory.shutdown()
        error = await self.assertFailure(in_thread(client.answer, "A"), ConnectionClosed)
        self.assertEqual(error.reply.text, "Server shutting down")
        self.assertTrue(client.closed)
        await stopped

    async def test_connection_broken(self) -> None:
        """A connection cut without a 421 is a ConnectionClosed with no reply."""
        client = await self.registered(await self.serve())
        await in_thread(client.take, "math")
        for connection in list(self.service.factory.connections):
            connection.transport.abortConnection()
        error = await self.assertFailure(in_thread(client.answer, "A"), ConnectionClosed)
        self.assertIsNone(error.reply)
        self.assertTrue(client.closed)

    async def test_refused(self) -> None:
        """Nothing listening: ConnectFailed, naming where."""
        port = await free_port()
        error = await self.assertFailure(in_thread(ExamClient.connect, LOOPBACK, port), ConnectFailed)
        self.assertIn(f"{LOOPBACK}:{port}", str(error))

    async def test_silent_server_times_out(self) -> None:
        """A server that never greets: ClientTimeout once the client's timeout passes."""
        port = await fake_server(self)
        await self.assertFailure(
            in_thread(ExamClient.connect, LOOPBACK, port, timeout=0.2), ClientTimeout
        )

    async def test_not_an_exam_server(self) -> None:
        """Something that is not a reply: ProtocolError, not a crash."""
        port = await fake_server(self, b"SSH-2.0-OpenSSH_9.2\r\n")
        error = await self.assertFailure(in_thread(ExamClient.connect, LOOPBACK, port), ProtocolError)
        self.assertIn("SSH-2.0", str(error))


class TLSTests(ClientTestCase):
    async def tls_server(self) -> tuple[int, str]:
        key, cert = self_signed_certificate(self)
        port = await self.serve(
            "--exam", f"ssl:0:interface={LOOPBACK}:privateKey={key}:certKey={cert}"
        )
        return port, cert

    async def test_tls_dialogue(self) -> None:
        """Over TLS, with the server's certificate trusted, the dialogue is the same."""
        port, cert = await self.tls_server()
        client = await self.client(port, tls=True, cafile=cert)
        self.assertEqual(client.greeting.welcome, "Welcome to the server!")
        await in_thread(client.register, "alice", "correct horse")
        self.assertTrue(await in_thread(client.list_tests))
        await in_thread(client.quit)

    async def test_untrusted_certificate(self) -> None:
        """A certificate nobody vouches for: ConnectFailed that says so."""
        port, cert = await self.tls_server()
        error = await self.assertFailure(
            in_thread(ExamClient.connect, LOOPBACK, port, tls=True), ConnectFailed
        )
        self.assertIn("certificate", str(error))
