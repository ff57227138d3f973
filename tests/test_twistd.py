"""
`twistd -n examtwist` as a user starts it: a child process, a real socket, SIGTERM.
"""

import os
import re
import socket

from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial import unittest

from examtwist.storage import Result
from examtwist.wire import Reply

from tests.support import (
    MATH_KEY,
    MATH_QUESTIONS,
    Twistd,
    connect,
    open_store,
    temp_dir,
    twistd_path,
)

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


class TwistdTests(unittest.TestCase):
    async def test_plugin_is_listed(self):
        """
        If a user asks twistd for --help, then it exits 0 and lists examtwist with what it is:
        "An exam server for a class: ...".
        """
        out, err, code = await getProcessOutputAndValue(twistd_path(), ["--help"], env=os.environ)
        [listed] = [line.strip() for line in out.decode().splitlines() if "examtwist" in line]
        self.assertEqual(
            (code, listed),
            (0, "examtwist        An exam server for a class: tests over a line protocol, and"),
            err,
        )

    async def test_session_then_sigterm_keeps_the_result(self):
        """
        If a student registers, takes math (80.0), starts python, and then twistd gets
        SIGTERM, then the student reads "421 Server shutting down", twistd ends by that signal
        after logging "Server Shut Down." and no traceback, and the database keeps the graded
        math, the abandoned python and an argon2id hash of the password.
        """
        server = Twistd.spawn(self, "--lucky", "1")
        ports = await server.started
        c = await connect(ports["Exam service"])
        client = f"127.0.0.1:{c.transport.getHost().port}"
        self.assertEqual(c.greeting, Reply(220, (
            "Congratulations you are the first user!!!", client, "Welcome to the server!",
        )))
        self.assertEqual(await c.ask("REGISTER e2e hunter2"),
                         Reply(231, ("Successfully registered!",)))
        self.assertEqual(await c.ask("TAKE math"), MATH_QUESTIONS[0])
        for letter, question in zip(MATH_KEY[:-1], MATH_QUESTIONS[1:]):
            self.assertEqual(await c.ask(letter), question)
        self.assertEqual(await c.ask("b"), Reply(250, ("Your grade is 80.0 (4/5 correct)",)))
        self.assertEqual(await c.ask("TAKE python"), Reply(350, (
            "Question 1 of 5", "What does 2 ** 10 evaluate to?",
            "A) 20", "B) 100", "C) 1024", "D) 512",
        )))

        await server.terminate()
        # twistd ends as SIGTERM's default would, which service managers count as a clean stop.
        self.assertEqual((server.exit_code, server.signal), (None, 15))
        self.assertEqual(await c.reply(), Reply(421, ("Server shutting down",)))
        self.assertIn(b"Server Shut Down.", server.output)
        self.assertNotIn(b"Traceback", server.output)

        store = await open_store(self, os.path.join(server.cwd, "examtwist.db"))
        results = await store.list_results()
        for r in results:
            self.assertRegex(r.started_at, TIMESTAMP)
            self.assertRegex(r.finished_at, TIMESTAMP)
        self.assertEqual([r._replace(started_at="", finished_at="") for r in results], [
            Result("e2e", "math", "graded", 4, 5, 5, 80.0, "", "", client),
            Result("e2e", "python", "abandoned", 0, 0, 5, None, "", "", client),
        ])
        stored = await store.get_password_hash("e2e")
        settings, salt, digest = stored.rsplit("$", 2)
        self.assertEqual((settings, len(salt), len(digest)),
                         ("$argon2id$v=19$m=64,t=1,p=1", 22, 43))

    async def test_port_in_use_is_refused_with_a_reason(self):
        """
        If the exam port is already taken, then twistd never listens, exits 1, and its log
        says "Address already in use".
        """
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        self.addCleanup(taken.close)
        port = taken.getsockname()[1]
        server = Twistd.spawn(self, "--exam", f"tcp:{port}:interface=127.0.0.1")
        never_listened = self.assertFailure(server.started, RuntimeError)
        self.assertEqual(await server.ended, 1)
        await never_listened
        self.assertIn(b"Address already in use", server.output)

    async def test_bad_option_is_refused(self):
        """
        If a user starts twistd with --lucky 0, then it exits 1 and says the option "must be 1
        or more", after the usage that names --lucky.
        """
        out, err, code = await getProcessOutputAndValue(
            twistd_path(), ["-n", "examtwist", "--lucky", "0"], env=os.environ, path=temp_dir(self)
        )
        said = (out + err).decode()
        self.assertEqual(
            (code, said.splitlines()[-1].split(": ", 1)[1]),
            (1, "Parameter type enforcement failed: must be 1 or more"),
        )
        self.assertIn("--lucky=", said)
