"""
What a test is (examtwist/testbank.py), an attempt of one and its grade (attempts.py), and the
text files a test is imported from (formats.py).
"""

import os
import random

from twisted.trial.unittest import SynchronousTestCase

from examtwist.attempts import Attempt, draw_order
from examtwist.formats import FileFormatError, read_test
from examtwist.storage.attempts import Answer, Order
from examtwist.testbank import BUILTIN_TESTS, Question, Rules, Test, check_test_name, grade_tenths
from examtwist.wire import format_grade
from tests.client_support import GOOD_QUESTIONS, MATH_AS_SHOWN, PYTHON_KEY
from tests.support import MATH_KEY, temp_dir

GOOD_TEST = Test("quiz", (
    Question(("What is 1 + 1?",), ("1", "2", "3", "4"), "B"),
    Question(("What does this print?", '    print("hi")'), ("hi", '"hi"', "nothing", "an error"),
             "C"),
))


class GradeTests(SynchronousTestCase):
    def test_percentage_with_one_decimal(self) -> None:
        """
        If 4, 2, 0 and 5 answers are right of 5, 3, 5 and 5, then the grades are 80.0, 66.7, 0.0
        and 100.0.
        """
        self.assertEqual(
            [format_grade(grade_tenths(c, t)) for c, t in ((4, 5), (2, 3), (0, 5), (5, 5))],
            ["80.0", "66.7", "0.0", "100.0"],
        )

    def test_halves_round_up(self) -> None:
        """
        If 1 of 16 is right (6.25 %), then the grade is 6.3, as a person rounds, where binary
        floats give 6.2; 1 of 80 (1.25 %) is 1.3.
        """
        self.assertEqual(round(100 / 16, 1), 6.2)
        self.assertEqual((grade_tenths(1, 16), format_grade(grade_tenths(1, 16))), (63, "6.3"))
        self.assertEqual((grade_tenths(1, 80), format_grade(grade_tenths(1, 80))), (13, "1.3"))


class BuiltinTestTests(SynchronousTestCase):
    def test_math_and_python(self) -> None:
        """
        If a database is new, then its tests are math and python, five questions each, with the
        questions and answers of the original app.
        """
        math, python = BUILTIN_TESTS
        self.assertEqual((math.name, python.name), ("math", "python"))
        self.assertEqual([(q.text, q.choices) for q in math.questions], MATH_AS_SHOWN)
        self.assertEqual("".join(q.answer for q in math.questions), MATH_KEY)
        self.assertEqual("".join(q.answer for q in python.questions), PYTHON_KEY)
        self.assertEqual([len(q.choices) for q in python.questions], [4, 4, 4, 4, 4])

    def test_question_reply_lines(self) -> None:
        """
        If question 5 of math is asked, then its 350 reply has the heading, both lines of its
        text, and the choices A) to D).
        """
        question = BUILTIN_TESTS[0].questions[4]
        self.assertEqual(
            question.reply_lines(5, 5),
            ["Question 5 of 5", "A rectangle is 8 cm long and 5 cm wide.", "What is its area?",
             "A) 13 cm^2", "B) 26 cm^2", "C) 40 cm^2", "D) 45 cm^2"],
        )

    def test_test_names(self) -> None:
        """
        If a name starts with a letter and has up to 32 letters, digits, '_', '.' or '-', then
        it is a test name; otherwise the error says the rule.
        """
        for name in ("a", "Math", "ch.1_part-2", "x" * 32):
            check_test_name(name)
        for name in ("", "7", "two words", "x" * 33, "é", "_a"):
            with self.assertRaises(ValueError, msg=repr(name)) as caught:
                check_test_name(name)
            self.assertEqual(str(caught.exception), f"invalid test name {name!r}: use a"
                             " letter, then up to 31 letters, digits, '_', '.' or '-'")


class AttemptTests(SynchronousTestCase):
    def test_counts_correct_answers(self) -> None:
        """
        If math is answered B, D, C, A, A, then only the last answer ends it, and 4 of 5 are
        right: 80.0.
        """
        attempt = Attempt(BUILTIN_TESTS[0], started="t", username="ada", address="127.0.0.1:4242")
        finished = [attempt.answer(letter, "t") for letter in "BDCAA"]
        self.assertEqual(finished, [False, False, False, False, True])
        self.assertEqual((attempt.index, attempt.correct, attempt.total, attempt.tenths),
                         (5, 4, 5, 800))

    def test_undo_last_reopens_the_question(self) -> None:
        """
        If the first answer (right) is undone, then question 1 of 5 is open again with none
        right.
        """
        attempt = Attempt(BUILTIN_TESTS[0], started="t", username="ada", address="127.0.0.1:4242")
        attempt.answer("B", "t")
        attempt.finishing = True
        attempt.undo_last()
        self.assertEqual((attempt.index, attempt.correct, attempt.finishing, attempt.answers),
                         (0, 0, False, ()))
        self.assertEqual(attempt.open_question(), (BUILTIN_TESTS[0].questions[0], 1, 5))

    def test_shuffled_order_shows_and_grades_by_what_is_shown(self) -> None:
        """
        If an attempt shows math's question 2 first with its choices in the order D, A, B, C,
        then its first question reads "Question 1 of 5" / "The sum of the first N odd numbers
        is:" with A) N^2 first, and answering A (the stored D, right) is stored as shown A,
        meant D, correct; answering B next (question 1's stored A, "124") is wrong.
        """
        order = Order("2,1,3,4,5", "DABC,ABCD,ABCD,ABCD,ABCD")
        attempt = Attempt(BUILTIN_TESTS[0], "t", "ada", "127.0.0.1:4242", order)
        shown, number, total = attempt.open_question()
        self.assertEqual(shown.reply_lines(number, total), [
            "Question 1 of 5", "The sum of the first N odd numbers is:",
            "A) N^2", "B) (N*(N+1))/2", "C) N^2 + N", "D) N^2 + 2*N",
        ])
        self.assertFalse(attempt.answer("A", "t1"))
        self.assertEqual(attempt.last_answer(), Answer(1, 2, "A", "D", True, "t1"))
        self.assertEqual(attempt.open_question()[0].choices, ("124", "144", "132", "142"))
        self.assertFalse(attempt.answer("A", "t2"))
        self.assertEqual(attempt.answers, (Answer(1, 2, "A", "D", True, "t1"),
                                           Answer(2, 1, "A", "A", False, "t2")))
        self.assertEqual((attempt.index, attempt.correct), (2, 1))

    def test_drawn_orders_differ_and_keep_every_question(self) -> None:
        """
        If 20 orders are drawn for a shuffled math test, then each shows questions 1 to 5 once
        with each question's letters A to D once, and they are not all the same; a test with
        its rules off is shown as stored ("", "").
        """
        shuffled = Test("math", BUILTIN_TESTS[0].questions, Rules(shuffled=True))
        rng = random.Random(1)
        orders = [draw_order(shuffled, rng) for _ in range(20)]
        for order in orders:
            self.assertEqual(sorted(order.questions.split(",")), ["1", "2", "3", "4", "5"])
            self.assertEqual([sorted(c) for c in order.choices.split(",")], [list("ABCD")] * 5)
        self.assertGreater(len(set(orders)), 1)
        self.assertEqual(draw_order(BUILTIN_TESTS[0], rng), Order("", ""))


class ReadTestTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.dir = temp_dir(self)

    def write(self, name: str, text: str | bytes) -> str:
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(text.encode("utf-8") if isinstance(text, str) else text)
        return path

    def assertRefused(self, questions, answers, line, message, in_answers=False) -> None:
        q, a = self.write("q.txt", questions), self.write("a.txt", answers)
        e = self.assertRaises(FileFormatError, read_test, "quiz", q, a)
        path = a if in_answers else q
        where = f"{path}, line {line}" if line else path
        self.assertEqual((e.path, e.line, e.message, str(e)),
                         (path, line, message, f"{where}: {message}"))

    def test_reads_blocks_and_answers(self) -> None:
        """
        If the files hold two questions and the answers "b" and "C", then the test has both
        questions, a two-line text kept as written, and the answers B and C.
        """
        q, a = self.write("q.txt", GOOD_QUESTIONS), self.write("a.txt", "b\nC\n")
        self.assertEqual(read_test("quiz", q, a), GOOD_TEST)

    def test_crlf_bom_and_missing_last_dashes(self) -> None:
        """
        If the files have a byte-order mark, CRLF line ends and no dashes after the last
        question, then they read as the same test.
        """
        text = "\ufeff" + GOOD_QUESTIONS.rstrip("-\n").replace("\n", "\r\n")
        q, a = self.write("q.txt", text), self.write("a.txt", "B\r\nC\r\n")
        self.assertEqual(read_test("quiz", q, a), GOOD_TEST)

    def test_missing_choice(self) -> None:
        """If C) is missing, then line 4 (the D) line) is refused: it expected C)."""
        self.assertRefused("Q?\nA) 1\nB) 2\nD) 4\n---\n", "A\n", 4,
                           "expected the choice line 'C) …'")

    def test_choices_out_of_order(self) -> None:
        """If B) comes before A), then line 2 is refused: it expected A)."""
        self.assertRefused("Q?\nB) 1\nA) 2\n", "A\n", 2, "expected the choice line 'A) …'")

    def test_no_dashes_between_blocks(self) -> None:
        """If a question follows D) without dashes, then its line 6 is refused."""
        self.assertRefused("Q?\nA) 1\nB) 2\nC) 3\nD) 4\nNext?\n", "A\n", 6,
                           "expected a line of dashes after the D) choice")

    def test_empty_choice(self) -> None:
        """If B) has no text, then line 3 is refused: choice B is empty."""
        self.assertRefused("Q?\nA) 1\nB)\nC) 3\nD) 4\n", "A\n", 3, "choice B is empty")

    def test_choice_without_question(self) -> None:
        """If the file starts with A), then line 1 is refused: no question before it."""
        self.assertRefused("A) 1\n", "A\n", 1, "a choice line with no question before it")

    def test_file_ends_inside_a_question(self) -> None:
        """If the file ends after B), then its last line (4) is refused."""
        self.assertRefused("Q?\nA) 1\nB) 2\n", "A\n", 4, "the file ends inside a question")

    def test_invalid_utf8_names_its_line(self) -> None:
        """If line 3 is not UTF-8, then line 3 is refused for it."""
        self.assertRefused(b"Q?\nA) 1\nB) \xff\n", "A\n", 3, "not valid UTF-8")

    def test_control_character(self) -> None:
        """If the question has an escape character, then line 1 is refused."""
        self.assertRefused("Q\x1b[2J?\nA) 1\nB) 2\nC) 3\nD) 4\n", "A\n", 1,
                           "control character in the text")

    def test_bad_answer_letter(self) -> None:
        """If the answers file has E on line 2, then that line is refused."""
        self.assertRefused(GOOD_QUESTIONS, "B\nE\n", 2,
                           "expected one letter A, B, C or D, found 'E'", in_answers=True)

    def test_too_many_answers(self) -> None:
        """
        If there are 3 answers for 2 questions, then the answers file is refused at the first
        extra answer (line 4).
        """
        self.assertRefused(GOOD_QUESTIONS, "B\nC\n\nA\n", 4,
                           f"3 answers for 2 questions in {self.dir}/q.txt", in_answers=True)

    def test_too_few_answers(self) -> None:
        """If there is 1 answer for 2 questions, then the answers file is refused, no line."""
        self.assertRefused(GOOD_QUESTIONS, "B\n", None,
                           f"1 answers for 2 questions in {self.dir}/q.txt", in_answers=True)

    def test_no_questions(self) -> None:
        """If the questions file is blank, then it is refused: no questions found."""
        self.assertRefused("\n\n", "", None, "no questions found")

    def test_missing_file(self) -> None:
        """If the questions file does not exist, then the error names it and says why."""
        path = os.path.join(self.dir, "nope")
        e = self.assertRaises(FileFormatError, read_test, "quiz", path, "x")
        self.assertEqual((e.path, e.line, str(e)),
                         (path, None, f"{path}: No such file or directory"))

    def test_bad_name(self) -> None:
        """If the test's name breaks the rule, then nothing is read and the name is refused."""
        q, a = self.write("q.txt", GOOD_QUESTIONS), self.write("a.txt", "B\nC\n")
        for name in ["", "7", "two words", "x" * 33, "é"]:
            e = self.assertRaises(ValueError, read_test, name, q, a)
            self.assertEqual(str(e), f"invalid test name {name!r}: use a letter, then up to 31"
                                     " letters, digits, '_', '.' or '-'")
