"""
The protocol's shared rules (examtwist/wire.py): replies as the server writes them and as the
clients read them, and the texts both sides agree on.
"""

from hypothesis import given, strategies as st
from twisted.trial.unittest import SynchronousTestCase

from examtwist.wire import (
    GradeLine,
    Reply,
    ReplyFormatError,
    ReplyParser,
    format_reply,
    grade_text,
    insert_line,
    parse_grade,
    parse_question_heading,
    question_heading,
)

line_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
                    max_size=40)


class FormatReplyTests(SynchronousTestCase):
    def test_one_line(self) -> None:
        """If a reply has one line, then it is the code, a space and the text, ended by CRLF."""
        self.assertEqual(format_reply(220, "Welcome to the server!"),
                         b"220 Welcome to the server!\r\n")

    def test_several_lines(self) -> None:
        """If a reply has several lines, then every line but the last has a dash after the code."""
        self.assertEqual(
            format_reply(212, "Available tests:", "1 math 5", "End of list"),
            b"212-Available tests:\r\n212-1 math 5\r\n212 End of list\r\n",
        )

    def test_utf8(self) -> None:
        """If the text is not ASCII, then it is sent as UTF-8."""
        self.assertEqual(format_reply(350, "Größe?"), b"350 Gr\xc3\xb6\xc3\x9fe?\r\n")

    def test_line_inserted(self) -> None:
        """
        If "Time left: 41 s" is put after the first line of a formatted question, then it is
        the question's second line, continued, and the rest is unchanged.
        """
        question = format_reply(350, "Question 2 of 2", "Größe?", "A) 1", "B) 2", "C) 3", "D) 4")
        self.assertEqual(
            insert_line(question, 1, "Time left: 41 s"),
            b"350-Question 2 of 2\r\n350-Time left: 41 s\r\n350-Gr\xc3\xb6\xc3\x9fe?\r\n"
            b"350-A) 1\r\n350-B) 2\r\n350-C) 3\r\n350 D) 4\r\n",
        )


class ReplyParserTests(SynchronousTestCase):
    @given(
        st.lists(st.tuples(st.integers(100, 999), st.lists(line_text, min_size=1, max_size=5)),
                 max_size=6),
        st.integers(1, 9),
    )
    def test_any_chunking(self, replies, chunk) -> None:
        """
        If formatted replies arrive in chunks of any size, then the parser gives back exactly
        the replies that were sent, and nothing is left pending.
        """
        data = b"".join(format_reply(code, *lines) for code, lines in replies)
        parser = ReplyParser()
        got = []
        for i in range(0, len(data), chunk):
            got.extend(parser.feed(data[i:i + chunk]))
        self.assertEqual(got, [Reply(code, tuple(lines)) for code, lines in replies])
        self.assertFalse(parser.pending)

    def test_lf_only(self) -> None:
        """If a line ends with LF alone, then it is read as if it ended with CRLF."""
        self.assertEqual(ReplyParser().feed(b"221 Bye\n"), [Reply(221, ("Bye",))])

    def test_pending_while_incomplete(self) -> None:
        """If only part of a reply has come, then nothing is returned and it is pending."""
        parser = ReplyParser()
        self.assertEqual(parser.feed(b"214-one\r\n214 tw"), [])
        self.assertTrue(parser.pending)
        self.assertEqual(parser.feed(b"o\r\n"), [Reply(214, ("one", "two"))])
        self.assertFalse(parser.pending)

    def test_not_a_reply(self) -> None:
        """If a line has no code, then it is a ReplyFormatError that quotes it."""
        error = self.assertRaises(ReplyFormatError, ReplyParser().feed, b"hello\r\n")
        self.assertEqual(str(error), "not a reply line: 'hello'")

    def test_code_changes_inside_reply(self) -> None:
        """If the code changes inside a reply, then it is a ReplyFormatError saying where."""
        error = self.assertRaises(ReplyFormatError, ReplyParser().feed, b"212-a\r\n213 b\r\n")
        self.assertEqual(str(error), "code 213 inside a 212 reply: '213 b'")

    def test_not_utf8(self) -> None:
        """If a line is not UTF-8, then it is a ReplyFormatError that quotes its bytes."""
        error = self.assertRaises(ReplyFormatError, ReplyParser().feed, b"220 \xff\r\n")
        self.assertEqual(str(error), "reply line is not UTF-8: b'220 \\xff'")

    def test_text_is_last_line(self) -> None:
        """If a reply has lines "a" and "b", then its text is "b"."""
        self.assertEqual(Reply(250, ("a", "b")).text, "b")


class TextTests(SynchronousTestCase):
    def test_question_heading(self) -> None:
        """
        If question 2 of 5 is asked, then its heading is "Question 2 of 5", read back as (2, 5).
        """
        self.assertEqual(question_heading(2, 5), "Question 2 of 5")
        self.assertEqual(parse_question_heading("Question 2 of 5"), (2, 5))
        self.assertIsNone(parse_question_heading("Question two of 5"))

    def test_grade(self) -> None:
        """
        If 2 of 3 answers are right (667 tenths), then the grade line is "Your grade is 66.7
        (2/3 correct)", read back as 66.7, 2 and 3.
        """
        self.assertEqual(grade_text(667, 2, 3), "Your grade is 66.7 (2/3 correct)")
        self.assertEqual(parse_grade("Your grade is 66.7 (2/3 correct)"), GradeLine("66.7", 2, 3))
        self.assertIsNone(parse_grade("Your grade is 66.7%"))
