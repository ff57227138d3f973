"""
The documentation's example session is replayed against the server, so the page cannot drift
from the code.
"""

import os
import re

from twisted.trial import unittest

from examtwist.wire import format_reply

from tests.support import connect, deferred_test, start_server

HERE = os.path.dirname(os.path.abspath(__file__))


def example_session(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    block = re.search(r"## A whole session.*?```\n(.*?)```", text, re.DOTALL).group(1)
    return [(line[:2], line[3:]) for line in block.splitlines()]


class ProtocolPageTests(unittest.TestCase):
    @deferred_test
    async def test_example_session_is_what_the_server_says(self):
        service, port = await start_server(self)
        c = await connect(port, greeting=False)
        expected, got = [], []
        for who, line in example_session(os.path.join(HERE, "..", "docs", "protocol.md")):
            if who == "C:":
                c.send(line)
            else:
                expected.append(line)
        while len(got) < len(expected):
            reply = await c.reply()
            got.extend(format_reply(reply.code, *reply.lines).decode().splitlines())
        self.assertEqual(got, expected)
