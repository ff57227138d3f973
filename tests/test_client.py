"""
The client protocol module against a real server in this process, over real sockets.

The client blocks, so each call runs in a thread (L{in_thread}) while the reactor serves.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase, TestCase

from examtwist.client import Asked, ExamClient, Grade, ListedTest, check_answer
from examtwist.clienterrors import (
    ClientTimeout,
    ConnectFailed,
    ConnectionClosed,
    InputError,
    ProtocolError,
    ServerError,
)
from examtwist.testbank import Question
from tests.client_support import (
    MATH_AS_SHOWN,
    fake_server,
    free_port,
    in_thread,
    self_signed_certificate,
    stored_results,
)
from tests.support import LOOPBACK, MATH_KEY, connect, start_server

BUILTIN_LIST = [ListedTest(1, "math", 5), ListedTest(2, "python", 5)]


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

    async def results(self) -> list[tuple]:
        return await stored_results(self.service.desk.store)

    async def assertRefused(self, code: int, text: str, function, *args) -> None:
        error = await self.assertFailure(in_thread(function, *args), ServerError)
        self.assertEqual((error.code, str(error)), (code, text))


class GreetingTests(ClientTestCase):
    async def test_plain_greeting(self) -> None:
        """
        If the connection is not the lucky one, then its greeting is the one line
        "Welcome to the server!", with no congratulation and no addresses.
        """
        client = await self.client(await self.serve())
        self.assertEqual(
            (client.greeting.lines, client.greeting.is_lucky, client.greeting.congratulation,
             client.greeting.addresses, client.greeting.welcome),
            (("Welcome to the server!",), False, None, (), "Welcome to the server!"),
        )

    async def test_lucky_greeting_lists_addresses_as_sent(self) -> None:
        """
        If the connection is the third with --lucky 3, then its greeting has
        "Congratulations you are the third user!!!", the three connections' addresses as the
        server wrote them (the two earlier ones first, its own last), and the welcome.
        """
        port = await self.serve("--lucky", "3")
        first, second = await connect(port), await connect(port)
        self.addCleanup(first.transport.loseConnection)
        self.addCleanup(second.transport.loseConnection)
        client = await self.client(port)
        own = max(self.service.factory.connections, key=lambda p: p.number).address
        self.assertEqual(client.greeting.lines, (
            "Congratulations you are the third user!!!",
            f"{LOOPBACK}:{first.transport.getHost().port}",
            f"{LOOPBACK}:{second.transport.getHost().port}",
            own,
            "Welcome to the server!",
        ))
        self.assertEqual(
            (client.greeting.is_lucky, client.greeting.congratulation, client.greeting.welcome),
            (True, "Congratulations you are the third user!!!", "Welcome to the server!"),
        )
        self.assertEqual(client.greeting.addresses, client.greeting.lines[1:4])


class DialogueTests(ClientTestCase):
    async def test_register_then_login_elsewhere_and_list(self) -> None:
        """
        If an account is registered on one connection, then another connection logs in with
        it and lists the built-in tests: 1 math (5 questions), 2 python (5 questions).
        """
        port = await self.serve()
        first = await self.registered(port)
        await in_thread(first.quit)
        self.assertTrue(first.closed)
        second = await self.client(port)
        await in_thread(second.login, "alice", "correct horse")
        self.assertEqual(await in_thread(second.list_tests), BUILTIN_LIST)

    async def test_whole_test_and_grade(self) -> None:
        """
        If a student takes "MATH" and answers the first three right and the last two wrong
        (in lower case), then each question arrives as "Question N of 5" with its text and
        choices, the grade is "Your grade is 60.0 (3/5 correct)", and the same connection can
        take test 2 next.
        """
        port = await self.serve()
        client = await self.registered(port)
        question = await in_thread(client.take, "MATH")
        letters = [*MATH_KEY[:3], "B", "D"]  # the right ones are BDC, then A and C
        for number, ((text, choices), letter) in enumerate(zip(MATH_AS_SHOWN, letters), 1):
            self.assertEqual(question, Asked(number, 5, Question(text, choices)))
            self.assertEqual(question.heading, f"Question {number} of 5")
            question = await in_thread(client.answer, letter.lower())
        self.assertEqual(question, Grade("60.0", 3, 5, "Your grade is 60.0 (3/5 correct)"))
        self.assertEqual(await self.results(), [("alice", "math", "graded", 3, 5, 5, 60.0)])
        again = await in_thread(client.take, 2)
        self.assertEqual(again, Asked(1, 5, Question(
            ("What does 2 ** 10 evaluate to?",), ("20", "100", "1024", "512"))))

    async def test_quit_during_a_test_is_sent(self) -> None:
        """
        If a student quits after answering one question of python, then the server stores the
        test as abandoned with 1 answered and no grade.
        """
        port = await self.serve()
        client = await self.registered(port)
        await in_thread(client.take, "python")
        await in_thread(client.answer, "A")
        await in_thread(client.quit)
        self.assertTrue(client.closed)
        self.assertEqual(await self.results(), [("alice", "python", "abandoned", 0, 1, 5, None)])

    async def test_username_with_dot_underscore_and_dash(self) -> None:
        """
        If "ada.l_b-c" registers, then a login with a wrong password is refused with 535
        "Invalid username and/or password", and one with the right password is accepted.
        """
        port = await self.serve()
        await in_thread((await self.registered(port, "ada.l_b-c")).quit)
        client = await self.client(port)
        await self.assertRefused(535, "Invalid username and/or password",
                                 client.login, "ada.l_b-c", "correct horsE")
        await in_thread(client.login, "ada.l_b-c", "correct horse")
        self.assertEqual(await in_thread(client.list_tests), BUILTIN_LIST)


class RefusalTests(ClientTestCase):
    async def test_server_refusals_keep_the_connection(self) -> None:
        """
        If a client registers a taken name, takes a test before logging in, logs in with a
        wrong password, registers "bad/name", logs in twice or takes "history", then each
        refusal carries the server's code and text, and the connection still lists the tests.
        """
        port = await self.serve()
        await self.registered(port, "bob")
        client = await self.client(port)
        await self.assertRefused(553, "Username already exists", client.register, "bob", "x")
        await self.assertRefused(530, "Please log in first", client.take, "math")
        await self.assertRefused(535, "Invalid username and/or password", client.login, "bob", "no")
        await self.assertRefused(
            501, "Usage: REGISTER <username> <password>; the username is 1-32 letters, digits,"
            " '_', '.' or '-'",
            client.register, "bad/name", "pw",
        )
        await in_thread(client.login, "bob", "correct horse")
        await self.assertRefused(503, "Already logged in", client.login, "bob", "correct horse")
        await self.assertRefused(550, "No such test", client.take, "history")
        self.assertEqual(await in_thread(client.list_tests), BUILTIN_LIST)

    async def test_third_failed_login_closes(self) -> None:
        """
        If a login fails three times, then the third is a ConnectionClosed carrying the 421
        "Too many failed attempts", the client is closed, and a further call says so.
        """
        client = await self.client(await self.serve())
        for _ in range(2):
            await self.assertRefused(535, "Invalid username and/or password",
                                     client.login, "nobody", "wrong")
        error = await self.assertFailure(in_thread(client.login, "nobody", "wrong"),
                                         ConnectionClosed)
        self.assertEqual((error.reply.code, error.reply.lines),
                         (421, ("Too many failed attempts",)))
        self.assertEqual(str(error), "the server closed the connection: Too many failed attempts")
        self.assertTrue(client.closed)
        error = await self.assertFailure(in_thread(client.list_tests), ConnectionClosed)
        self.assertEqual(str(error), "not connected")

    async def test_bad_answer_is_not_sent(self) -> None:
        """
        If the answer is "E", "", "AB", "1" or "a b", then the client refuses it without
        sending it, and the next valid answer " \\tb " gets question 2, not a 501.
        """
        client = await self.registered(await self.serve())
        await in_thread(client.take, "math")
        for bad in ("E", "", "AB", "1", "a b"):
            error = await self.assertFailure(in_thread(client.answer, bad), InputError)
            self.assertEqual(str(error), f"answer with A, B, C or D, not {bad!r}")
        question = await in_thread(client.answer, " \tb ")
        self.assertEqual(question, Asked(2, 5, Question(*MATH_AS_SHOWN[1])))

    async def test_input_that_would_break_the_line(self) -> None:
        """
        If the username has a blank or is empty, or the password is empty, has a line break
        or makes the line longer than 1024 bytes, then the client refuses before sending;
        a password with spaces is sent as it is and logs in elsewhere.
        """
        port = await self.serve()
        client = await self.client(port)
        for username, password, reason in [
            ("al ice", "pw", "the username must be one word, without spaces"),
            ("", "pw", "the username must be one word, without spaces"),
            ("alice", "", "the password must not be empty"),
            ("alice", "two\nlines", "the password must be on one line"),
            ("alice", "x" * 1100, "that is too long to send: 1115 bytes, at most 1024"),
        ]:
            error = await self.assertFailure(in_thread(client.register, username, password),
                                             InputError)
            self.assertEqual(str(error), reason)
        await in_thread(client.register, "alice", " spaces  are kept ")
        other = await self.client(port)
        await in_thread(other.login, "alice", " spaces  are kept ")
        self.assertEqual(await in_thread(other.list_tests), BUILTIN_LIST)


class CheckAnswerTests(SynchronousTestCase):
    def test_check_answer(self) -> None:
        """
        If an answer is a, " B", "c\\t" or D, then it is the capital letter; if it is "",
        e, ab, "A." or Ä, then it is an InputError.
        """
        self.assertEqual([check_answer(x) for x in ("a", " B", "c\t", "D")], ["A", "B", "C", "D"])
        for bad in ("", "e", "ab", "A.", "Ä"):
            self.assertRaises(InputError, check_answer, bad)


class ClosingTests(ClientTestCase):
    async def test_server_shutdown_mid_test(self) -> None:
        """
        If the server stops mid-test, then the next answer fails with ConnectionClosed
        carrying its 421 "Server shutting down", and the client is closed.
        """
        client = await self.registered(await self.serve())
        await in_thread(client.take, "math")
        # What stopping the service does to each connection, at once.
        stopped = self.service.factory.shutdown()
        error = await self.assertFailure(in_thread(client.answer, "A"), ConnectionClosed)
        self.assertEqual((error.reply.code, error.reply.lines), (421, ("Server shutting down",)))
        self.assertTrue(client.closed)
        await stopped

    async def test_connection_broken(self) -> None:
        """
        If the connection is cut without a 421, then the next answer fails with
        ConnectionClosed "the server closed the connection" and no reply.
        """
        client = await self.registered(await self.serve())
        await in_thread(client.take, "math")
        for connection in list(self.service.factory.connections):
            connection.transport.abortConnection()
        error = await self.assertFailure(in_thread(client.answer, "A"), ConnectionClosed)
        self.assertIsNone(error.reply)
        self.assertIn(str(error), (
            "the server closed the connection",
            "the connection to the server was lost (Connection reset by peer)",
        ))
        self.assertTrue(client.closed)

    async def test_refused(self) -> None:
        """If nothing listens, then ConnectFailed says where and that it was refused."""
        port = await free_port()
        error = await self.assertFailure(in_thread(ExamClient.connect, LOOPBACK, port),
                                         ConnectFailed)
        self.assertEqual(str(error), f"could not connect to {LOOPBACK}:{port}: Connection refused")

    async def test_silent_server_times_out(self) -> None:
        """
        If a server never greets, then connecting fails with ClientTimeout once the client's
        timeout (0.2 s) passes.
        """
        port = await fake_server(self)
        error = await self.assertFailure(
            in_thread(ExamClient.connect, LOOPBACK, port, timeout=0.2), ClientTimeout
        )
        self.assertEqual(str(error), "the server did not answer in time; disconnected")

    async def test_not_an_exam_server(self) -> None:
        """
        If the server sends something that is not a reply (an SSH banner), then connecting
        fails with a ProtocolError that quotes it.
        """
        port = await fake_server(self, b"SSH-2.0-OpenSSH_9.2\r\n")
        error = await self.assertFailure(in_thread(ExamClient.connect, LOOPBACK, port),
                                         ProtocolError)
        self.assertEqual(
            str(error),
            "the server broke the protocol (not a reply line: 'SSH-2.0-OpenSSH_9.2');"
            " disconnected",
        )


    async def test_terminal_escapes_are_not_shown(self) -> None:
        """
        If a server's greeting holds ESC ] 52 (a clipboard write), ESC [ 2K (erase the line),
        a C1 CSI, a BEL and a NUL, then the client's greeting is the text without any of them:
        "Welcome! to the server".
        """
        port = await fake_server(
            self, b"220 Welcome\x1b]52;c;ZXZpbA==\x07! \x1b[2Kto the\xc2\x9b2J \x07server\x00\r\n"
        )
        client = await in_thread(ExamClient.connect, LOOPBACK, port)
        self.addCleanup(client.close)
        self.assertEqual(client.greeting.lines, ("Welcome! to the server",))

    async def test_endless_reply_line_ends_the_session(self) -> None:
        """
        If a server sends 8 MB without a newline, then the client gives up as soon as the line
        passes 4 KiB, with a ProtocolError saying so, instead of reading all of it.
        """
        port = await fake_server(self, b"220 " + b"x" * 8_000_000)
        error = await self.assertFailure(in_thread(ExamClient.connect, LOOPBACK, port),
                                         ProtocolError)
        self.assertEqual(
            str(error),
            "the server broke the protocol (a reply line longer than 4096 bytes); disconnected",
        )

    async def test_reply_of_too_many_lines_ends_the_session(self) -> None:
        """
        If a server's greeting goes on for 1,001 lines, then the client gives up with a
        ProtocolError saying a reply may have 1,000.
        """
        port = await fake_server(self, b"220-line\r\n" * 1001 + b"220 end\r\n")
        error = await self.assertFailure(in_thread(ExamClient.connect, LOOPBACK, port),
                                         ProtocolError)
        self.assertEqual(
            str(error),
            "the server broke the protocol (a reply of more than 1000 lines); disconnected",
        )


class TLSTests(ClientTestCase):
    async def tls_server(self) -> tuple[int, str]:
        key, cert = self_signed_certificate(self)
        port = await self.serve(
            "--exam", f"ssl:0:interface={LOOPBACK}:privateKey={key}:certKey={cert}"
        )
        return port, cert

    async def test_tls_dialogue(self) -> None:
        """
        If the server's certificate is trusted (cafile), then over TLS the client is welcomed,
        registers and lists the built-in tests as over TCP.
        """
        port, cert = await self.tls_server()
        client = await self.client(port, tls=True, cafile=cert)
        self.assertEqual(client.greeting.lines, ("Welcome to the server!",))
        await in_thread(client.register, "alice", "correct horse")
        self.assertEqual(await in_thread(client.list_tests), BUILTIN_LIST)
        await in_thread(client.quit)
        self.assertTrue(client.closed)

    async def test_untrusted_certificate(self) -> None:
        """
        If nobody vouches for the server's certificate, then connecting with TLS fails with
        ConnectFailed saying the certificate could not be verified.
        """
        port, cert = await self.tls_server()
        error = await self.assertFailure(
            in_thread(ExamClient.connect, LOOPBACK, port, tls=True), ConnectFailed
        )
        self.assertEqual(str(error), f"TLS with {LOOPBACK}:{port} failed: self-signed certificate")
