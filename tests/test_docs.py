"""
The documentation's example session is replayed against the server, so the page cannot drift
from the code.
"""

import os
import re

from twisted.trial import unittest

from examtwist.wire import format_reply

from tests.support import connect, start_server

HERE = os.path.dirname(os.path.abspath(__file__))
PROTOCOL_PAGE = os.path.join(HERE, "..", "docs", "protocol.md")


def example_session(path):
    """The "A whole session" block of a page: (C: or S:, the line), in order."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    block = re.search(r"## A whole session.*?```\n(.*?)```", text, re.DOTALL).group(1)
    return [(line[:2], line[3:]) for line in block.splitlines()]


class ProtocolPageTests(unittest.TestCase):
    async def test_example_session_is_what_the_server_says(self):
        """
        If a client sends the C: lines of docs/protocol.md's whole session, from EXAMS to
        QUIT, then the server answers with exactly the page's S: lines, from "220 Welcome to
        the server!" to "221 Bye", and then closes the connection.
        """
        session = example_session(PROTOCOL_PAGE)
        self.assertEqual((session[0], session[-2:]), (
            ("S:", "220 Welcome to the server!"), [("C:", "QUIT"), ("S:", "221 Bye")],
        ))
        service, port = await start_server(self)
        c = await connect(port, greeting=False)
        expected, got = [], []
        for who, line in session:
            if who == "C:":
                c.send(line)
            else:
                expected.append(line)
        while len(got) < len(expected):
            reply = await c.reply()
            got.extend(format_reply(reply.code, *reply.lines).decode().splitlines())
        self.assertEqual(got, expected)
        await c.closed
        self.assertEqual(c.received, [])
