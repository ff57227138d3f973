from hypothesis import given, strategies as st
from twisted.trial import unittest

from examtwist.wire import Reply, ReplyFormatError, ReplyParser, format_reply

line_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=40)


class FormatReplyTests(unittest.TestCase):
    def test_one_line(self):
        """A one-line reply is the code, a space and the text, ended by CRLF."""
        self.assertEqual(format_reply(220, "Welcome to the server!"), b"220 Welcome to the server!\r\n")

    def test_several_lines(self):
        """Every line but the last says more follows with a dash."""
        self.assertEqual(
            format_reply(212, "Available tests:", "1 math 5", "End of list"),
            b"212-Available tests:\r\n212-1 math 5\r\n212 End of list\r\n",
        )

    def test_utf8(self):
        self.assertEqual(format_reply(350, "Größe?"), "350 Größe?\r\n".encode())


class ReplyParserTests(unittest.TestCase):
    @given(
        st.lists(st.tuples(st.integers(100, 999), st.lists(line_text, min_size=1, max_size=5)), max_size=6),
        st.integers(1, 9),
    )
    def test_any_chunking(self, replies, chunk):
        """Whatever the chunk size, the parser gives back exactly the replies that were sent."""
        data = b"".join(format_reply(code, *lines) for code, lines in replies)
        parser = ReplyParser()
        got = []
        for i in range(0, len(data), chunk):
            got.extend(parser.feed(data[i:i + chunk]))
        self.assertEqual(got, [Reply(code, tuple(lines)) for code, lines in replies])
        self.assertFalse(parser.pending)

    def test_lf_only(self):
        self.assertEqual(ReplyParser().feed(b"221 Bye\n"), [Reply(221, ("Bye",))])

    def test_pending_while_incomplete(self):
        parser = ReplyParser()
        self.assertEqual(parser.feed(b"214-one\r\n214 tw"), [])
        self.assertTrue(parser.pending)
        self.assertEqual(parser.feed(b"o\r\n"), [Reply(214, ("one", "two"))])

    def test_not_a_reply(self):
        self.assertRaises(ReplyFormatError, ReplyParser().feed, b"hello\r\n")

    def test_code_changes_inside_reply(self):
        self.assertRaises(ReplyFormatError, ReplyParser().feed, b"212-a\r\n213 b\r\n")

    def test_not_utf8(self):
        self.assertRaises(ReplyFormatError, ReplyParser().feed, b"220 \xff\r\n")

    def test_text_is_last_line(self):
        self.assertEqual(Reply(250, ("a", "b")).text, "b")
