"""
Moodle's Aiken and GIFT formats as examtwist reads and writes them (examtwist/moodle.py), and
the original text format's writer: files on disk, whole tests compared.
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from examtwist.formats import CannotWrite, FileFormatError, read_test, write_test
from examtwist.moodle import read_aiken, read_gift, write_aiken, write_gift
from examtwist.testbank import BUILTIN_TESTS, Question, Test

# Every character GIFT escapes, a backslash, a text of three lines (the last indented) and a
# backslash before an "n" that is not a line break.
AWKWARD = Test("awkward", (
    Question(("Which of ~ = # { } : is a brace?", "Pick one:", "    (the first)"),
             ("{", "}", "~=#", "a:b \\ c"), "A"),
    Question(("What does print('a\\nb') print?",), ("a\\nb", "two lines", "ab", "=1"), "B"),
))
# A test Aiken can hold: one line of text to each question.
ONE_LINERS = Test("oneliners", (
    Question(("What is 2 + 2?",), ("3", "4", "5", "22"), "B"),
    Question(("Which is a prime? (# and : are plain here)",), ("9", "15", "21", "7"), "D"),
))


class FileTestCase(SynchronousTestCase):
    def write(self, text: str, name: str = "test.txt") -> str:
        directory = self.mktemp()
        os.makedirs(directory)
        path = os.path.join(directory, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def refused(self, reader, text: str) -> tuple[int | None, str]:
        path = self.write(text)
        with self.assertRaises(FileFormatError) as caught:
            reader("t", path)
        self.assertEqual(caught.exception.path, path)
        return caught.exception.line, caught.exception.message


class RoundTripTests(FileTestCase):
    def test_gift(self):
        """
        If the built-in tests and one with every character GIFT escapes and a text of three
        lines are written as GIFT and read back, then each is the same test.
        """
        for test in (*BUILTIN_TESTS, AWKWARD, ONE_LINERS):
            self.assertEqual(read_gift(test.name, self.write(write_gift(test))), test)

    def test_aiken(self):
        """If a test of one-line questions is written as Aiken and read back, it is the same."""
        self.assertEqual(read_aiken("oneliners", self.write(write_aiken(ONE_LINERS))),
                         ONE_LINERS)

    def test_seed(self):
        """
        If the built-in tests and the awkward one are written in the original format and read
        back, then each is the same test.
        """
        for test in (*BUILTIN_TESTS, AWKWARD, ONE_LINERS):
            questions, answers = write_test(test)
            back = read_test(test.name, self.write(questions), self.write(answers))
            self.assertEqual(back, test)

    def test_gift_as_written(self):
        """
        If the awkward test is written as GIFT, then each question has its title, its text on
        one line with \\n between lines and a backslash before ~ = # { } : and \\, and its
        choices one to a line, the right one with "=".
        """
        self.assertEqual(write_gift(AWKWARD), (
            "// awkward: 2 questions, exported by examtwist\n"
            "\n"
            "::awkward 1::Which of \\~ \\= \\# \\{ \\} \\: is a brace?\\nPick one\\:\\n"
            "    (the first) {\n"
            "\t=\\{\n"
            "\t~\\}\n"
            "\t~\\~\\=\\#\n"
            "\t~a\\:b \\\\ c\n"
            "}\n"
            "\n"
            "::awkward 2::What does print('a\\\\nb') print? {\n"
            "\t~a\\\\nb\n"
            "\t=two lines\n"
            "\t~ab\n"
            "\t~\\=1\n"
            "}\n"
            "\n"
        ))

    def test_aiken_as_written(self):
        """If a test is written as Aiken, then each question is its text, A) to D), ANSWER."""
        self.assertEqual(write_aiken(ONE_LINERS), (
            "What is 2 + 2?\nA) 3\nB) 4\nC) 5\nD) 22\nANSWER: B\n\n"
            "Which is a prime? (# and : are plain here)\nA) 9\nB) 15\nC) 21\nD) 7\nANSWER: D\n\n"
        ))

    def test_what_cannot_be_written(self):
        """
        If a question has two lines of text, then Aiken refuses to write it; a text starting
        with a space, GIFT; a line reading like a choice, the original format.
        """
        with self.assertRaises(CannotWrite) as caught:
            write_aiken(BUILTIN_TESTS[0])
        self.assertEqual(str(caught.exception), "question 5 of math has 2 lines of text, and"
                                                " Aiken holds one (GIFT holds more)")
        spaced = Test("s", (Question(("  x",), ("1", "2", "3", "4"), "A"),))
        with self.assertRaises(CannotWrite) as caught:
            write_gift(spaced)
        self.assertEqual(str(caught.exception),
                         "question 1 of s: GIFT would read its text '  x' back otherwise")
        choice_like = Test("c", (Question(("x", "A) y"), ("1", "2", "3", "4"), "A"),))
        with self.assertRaises(CannotWrite) as caught:
            write_test(choice_like)
        self.assertEqual(str(caught.exception), "question 1 has the line 'A) y', which the text"
                                                " format would read as a choice, dashes or nothing")


class GiftReadingTests(FileTestCase):
    def test_moodle_example(self):
        """
        If a GIFT file has comments, a titled question over several lines with its answers
        one to a line, and an untitled one on one line with the right answer last, then it
        reads as those two questions, the comments and titles dropped.
        """
        path = self.write(
            "// Chapter 1\n"
            "::Japan::Japanese characters originally\n"
            "came from what country? {\n"
            "    ~India\n"
            "    =China\n"
            "// not this one\n"
            "    ~Korea\n"
            "    ~Egypt}\n"
            "\n"
            "\n"
            "1 + 2 \\= ? {~1 ~2 ~4 =3}\n"
        )
        self.assertEqual(read_gift("geo", path), Test("geo", (
            Question(("Japanese characters originally", "came from what country?"),
                     ("India", "China", "Korea", "Egypt"), "B"),
            Question(("1 + 2 = ?",), ("1", "2", "4", "3"), "D"),
        )))

    def test_refused_with_line_numbers(self):
        """
        If a GIFT file holds anything but four-choice questions with one right answer, then it
        is refused at the line of the problem, saying what it is.
        """
        good = "Good {=a ~b ~c ~d}\n\n"
        cases = [
            ("Q {=a ~b ~c}\n", 1, "3 choices: examtwist takes four"),
            ("Q {=a ~b ~c ~d\n~e}\n", 2, "a fifth choice: examtwist takes four"),
            ("Q {\n=a\n=b\n~c ~d}\n", 3, "a second right answer '=': examtwist takes one"),
            ("Q {~a ~b ~c ~d}\n", 1, "no right answer '=': examtwist takes one"),
            ("Q {=a ~b\n~c ~d #no}\n", 2, "feedback '#' or a numerical question: examtwist"
             " imports multiple-choice questions without feedback"),
            ("Q {=a ~%50%b ~c ~d}\n", 1, "a weight '%…%': examtwist imports one right answer,"
             " no weights"),
            ("Q {TRUE}\n", 1, "answers that are not '=right' and '~wrong' ones: examtwist"
             " imports only multiple-choice questions"),
            ("Q {#1822:5}\n", 1, "feedback '#' or a numerical question: examtwist imports"
             " multiple-choice questions without feedback"),
            ("Q {\n=a -> b\n=c -> d\n=e -> f}\n", 3, "a matching question: examtwist imports"
             " multiple choice only"),
            ("Q {}\n", 1, "answers that are not '=right' and '~wrong' ones: examtwist imports"
             " only multiple-choice questions"),
            ("Grant is {=buried ~a ~b ~c} in his tomb.\n", 1, "text after the answers:"
             " examtwist imports no missing-word questions"),
            ("A description alone\n", 1, "no answers '{…}': only multiple-choice questions can"
             " be imported"),
            ("::title Q {=a ~b ~c ~d}\n", 1, "a title '::' without its closing '::'"),
            ("$CATEGORY: top/x\n", 1, "a category: examtwist's tests have none"),
            ("[html]<p>Q</p> {=a ~b ~c ~d}\n", 1, "a text format '[…]': examtwist shows plain"
             " text"),
            ("Q\n} {=a ~b ~c ~d}\n", 2, "a '}' before the '{' of the answers (\\} writes the"
             " character)"),
            ("Q {=a {~b ~c ~d}\n", 1, "a second '{' inside the answers (\\{ writes the"
             " character)"),
            ("Q {=a ~b ~c ~d\n", 1, "the '{' of the answers is not closed by '}'"),
            ("Q {=a ~b ~c\\nd ~e}\n", 1, "a choice of more than one line"),
            ("Q {=a ~b ~c ~}\n", 1, "an empty choice"),
        ]
        for text, line, message in cases:
            # The problem is in the second question: the first, good, one is not imported.
            self.assertEqual(self.refused(read_gift, good + text), (line + 2, message), text)

    def test_bounded(self):
        """If a GIFT file is larger than 4 MiB, then it is refused unread: "larger than…"."""
        path = self.write("Q {=a ~b ~c ~d}\n\n" * (4 * 1024 * 1024 // 17 + 1))
        with self.assertRaises(FileFormatError) as caught:
            read_gift("big", path)
        self.assertEqual(caught.exception.message, "larger than 4096 KiB, the most read")

    def test_question_bounded(self):
        """
        If a GIFT question runs past 64 KiB (lines 3 and 4 hold 80,000 characters without a
        blank line between), then it is refused at line 4, where it did, with a hint.
        """
        text = "Q {=a ~b ~c ~d}\n\n" + "x" * 40000 + "\n" + "y" * 40000 + " {=a ~b ~c ~d}\n"
        self.assertEqual(self.refused(read_gift, text), (4, (
            "a question longer than 64 KiB (is a blank line missing after the one before?)")))

    def test_no_questions(self):
        """If a GIFT file holds only comments, then it is refused: "no questions found"."""
        self.assertEqual(self.refused(read_gift, "// nothing\n\n"), (None, "no questions found"))


class AikenReadingTests(FileTestCase):
    def test_moodle_example(self):
        """
        If an Aiken file has choices written "A." and "A)", and blank lines between questions,
        then it reads as its questions with the right letters.
        """
        path = self.write(
            "What is the correct answer to this question?\n"
            "A. Is it this one?\nB. Maybe this answer?\nC. Possibly this one?\n"
            "D. Must be this one!\nANSWER: D\n\n"
            "Which LMS has the most quiz import formats?\n"
            "A) Moodle\nB) ATutor\nC) Claroline\nD) Blackboard\nANSWER: A\n"
        )
        self.assertEqual(read_aiken("lms", path), Test("lms", (
            Question(("What is the correct answer to this question?",),
                     ("Is it this one?", "Maybe this answer?", "Possibly this one?",
                      "Must be this one!"), "D"),
            Question(("Which LMS has the most quiz import formats?",),
                     ("Moodle", "ATutor", "Claroline", "Blackboard"), "A"),
        )))

    def test_refused_with_line_numbers(self):
        """
        If an Aiken file has more or fewer than four choices, a text of two lines, or a bad
        answer, then it is refused at that line, saying what was expected.
        """
        good = "Good?\nA) a\nB) b\nC) c\nD) d\nANSWER: A\n\n"
        cases = [
            ("Q\nA) a\nB) b\nC) c\nANSWER: A\n", 5, "expected the choice line 'D) …'"),
            ("Q\nA) a\nB) b\nC) c\nD) d\nE) e\nANSWER: A\n", 6,
             "expected 'ANSWER: A', B, C or D (examtwist takes four choices)"),
            ("Q\nmore\nA) a\n", 2,
             "expected the choice line 'A) …' (the text of a question is one line in Aiken)"),
            ("A) a\n", 1, "expected a question's text, found a choice line"),
            ("Q\nA) a\nB) b\nC) c\nD) d\nANSWER: E\n", 6,
             "the answer must be one letter A, B, C or D, found 'E'"),
            ("Q\nA) a\nB) b\nC) c\nD) d\n", 6,
             "the file ends inside a question; expected 'ANSWER: A', B, C or D"),
            ("Q\nA) a\nC) b\n", 3, "expected the choice line 'B) …'"),
        ]
        for text, line, message in cases:
            self.assertEqual(self.refused(read_aiken, good + text), (line + 7, message), text)
