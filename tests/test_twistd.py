"""
`twistd -n examtwist` as a user starts it: a child process, a real socket, SIGTERM.
"""

import os
import socket

from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial import unittest

from examtwist.wire import Reply

from tests.support import Twistd, connect, deferred_test, open_store, temp_dir, twistd_path
from tests.support import MATH_KEY



class TwistdTests(unittest.TestCase):
    @deferred_test
    async def test_plugin_is_listed(self):
        out, err, code = await getProcessOutputAndValue(twistd_path(), ["--help"], env=os.environ)
        self.assertEqual(code, 0, err)
        self.assertIn(b"examtwist", out)

    @deferred_test
    async def test_session_then_sigterm_keeps_the_result(self):
        server = Twistd.spawn(self, "--lucky", "1")
        ports = await server.started
        c = await connect(ports["Exam service"])
        self.assertEqual(c.greeting.lines[0], "Congratulations you are the first user!!!")
        self.assertEqual((await c.ask("REGISTER e2e hunter2")).code, 231)
        self.assertEqual((await c.ask("TAKE math")).code, 350)
        for letter in MATH_KEY[:-1]:
            await c.ask(letter)
        self.assertEqual(await c.ask("b"), Reply(250, ("Your grade is 80.0 (4/5 correct)",)))
        await c.ask("TAKE python")
        await server.terminate()
        self.assertEqual(await c.reply(), Reply(421, ("Server shutting down",)))
        self.assertIn(b"Server Shut Down.", server.output)
        self.assertNotIn(b"Traceback", server.output)
        store = await open_store(self, os.path.join(server.cwd, "examtwist.db"))
        results = await store.list_results()
        self.assertEqual([(r.username, r.test, r.status, r.grade) for r in results],
                         [("e2e", "math", "graded", 80.0), ("e2e", "python", "abandoned", None)])
        self.assertTrue((await store.get_password_hash("e2e")).startswith("$argon2id$"))

    @deferred_test
    async def test_port_in_use_is_refused_with_a_reason(self):
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        self.addCleanup(taken.close)
        port = taken.getsockname()[1]
        server = Twistd.spawn(self, "--exam", f"tcp:{port}:interface=127.0.0.1")
        server.started.addErrback(lambda failure: None)
        code = await server.ended
        self.assertNotEqual(code, 0)
        self.assertIn(b"Address already in use", server.output)

    @deferred_test
    async def test_bad_option_is_refused(self):
        out, err, code = await getProcessOutputAndValue(
            twistd_path(), ["-n", "examtwist", "--lucky", "0"], env=os.environ, path=temp_dir(self)
        )
        self.assertNotEqual(code, 0)
        self.assertIn(b"lucky", out + err)
