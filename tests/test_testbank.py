import os

from twisted.trial import unittest

from examtwist.attempts import Attempt, grade_tenths
from examtwist.formats import FileFormatError, read_test
from examtwist.testbank import BUILTIN_TESTS
from examtwist.wire import format_grade

GOOD_QUESTIONS = """\
What is 1 + 1?
A) 1
B) 2
C) 3
D) 4
----------
What does this print?
    print("hi")
A) hi
B) "hi"
C) nothing
D) an error
----------
"""


class GradeTests(unittest.TestCase):
    def test_percentage_with_one_decimal(self):
        self.assertEqual(format_grade(grade_tenths(4, 5)), "80.0")
        self.assertEqual(format_grade(grade_tenths(2, 3)), "66.7")
        self.assertEqual(format_grade(grade_tenths(0, 5)), "0.0")
        self.assertEqual(format_grade(grade_tenths(5, 5)), "100.0")

    def test_halves_round_up(self):
        """1/16 is 6.25 %: 6.3, as a person rounds, where binary floats give 6.2."""
        self.assertEqual(round(100 / 16, 1), 6.2)
        self.assertEqual(format_grade(grade_tenths(1, 16)), "6.3")
        self.assertEqual(format_grade(grade_tenths(1, 80)), "1.3")


class BuiltinExamTests(unittest.TestCase):
    def test_math_and_python(self):
        self.assertEqual([e.name for e in BUILTIN_TESTS], ["math", "python"])

    def test_five_questions_of_four_choices(self):
        for exam in BUILTIN_TESTS:
            self.assertEqual(len(exam.questions), 5)
            for q in exam.questions:
                self.assertEqual(len(q.choices), 4)
                self.assertIn(q.answer, "ABCD")

    def test_question_reply_lines(self):
        q = BUILTIN_TESTS[0].questions[4]
        self.assertEqual(
            q.reply_lines(5, 5),
            ["Question 5 of 5", "A rectangle is 8 cm long and 5 cm wide.", "What is its area?",
             "A) 13 cm^2", "B) 26 cm^2", "C) 40 cm^2", "D) 45 cm^2"],
        )


class AttemptTests(unittest.TestCase):
    def test_counts_correct_answers(self):
        exam = BUILTIN_TESTS[0]
        attempt = Attempt(exam, started="t", username="ada", address="127.0.0.1:4242")
        finished = [attempt.answer(letter) for letter in "BDCAA"]
        self.assertEqual(finished, [False, False, False, False, True])
        self.assertEqual((attempt.correct, attempt.total), (4, 5))

    def test_undo_last_reopens_the_question(self):
        attempt = Attempt(BUILTIN_TESTS[0], started="t", username="ada", address="127.0.0.1:4242")
        attempt.answer("B")
        attempt.undo_last(True)
        self.assertEqual((attempt.index, attempt.correct), (0, 0))
        self.assertEqual(attempt.open_question()[1:], (1, 5))


class ReadExamTests(unittest.TestCase):
    def write(self, name, text, mode="w"):
        path = os.path.join(self.dir, name)
        with open(path, mode) as f:
            f.write(text)
        return path

    def setUp(self):
        self.dir = self.mktemp()
        os.makedirs(self.dir)

    def assertRefused(self, questions, answers, line, words, in_answers=False):
        q = self.write("q.txt", questions, "wb" if isinstance(questions, bytes) else "w")
        a = self.write("a.txt", answers)
        e = self.assertRaises(FileFormatError, read_test, "quiz", q, a)
        self.assertEqual(e.path, a if in_answers else q)
        self.assertEqual(e.line, line)
        self.assertIn(words, str(e))
        self.assertIn(e.path, str(e))

    def test_reads_blocks_and_answers(self):
        exam = read_test("quiz", self.write("q.txt", GOOD_QUESTIONS), self.write("a.txt", "b\nC\n"))
        self.assertEqual(exam.name, "quiz")
        self.assertEqual(exam.questions[0].text, ("What is 1 + 1?",))
        self.assertEqual(exam.questions[0].choices, ("1", "2", "3", "4"))
        self.assertEqual(exam.questions[1].text, ("What does this print?", '    print("hi")'))
        self.assertEqual([q.answer for q in exam.questions], ["B", "C"])

    def test_crlf_bom_and_missing_last_dashes(self):
        text = "\ufeff" + GOOD_QUESTIONS.rstrip("-\n").replace("\n", "\r\n")
        exam = read_test("quiz", self.write("q.txt", text, "w"), self.write("a.txt", "B\r\nC\r\n"))
        self.assertEqual(len(exam.questions), 2)
        self.assertEqual(exam.questions[1].choices[3], "an error")

    def test_missing_choice(self):
        self.assertRefused("Q?\nA) 1\nB) 2\nD) 4\n---\n", "A\n", 4, "'C) …'")

    def test_choices_out_of_order(self):
        self.assertRefused("Q?\nB) 1\nA) 2\n", "A\n", 2, "'A) …'")

    def test_no_dashes_between_blocks(self):
        self.assertRefused("Q?\nA) 1\nB) 2\nC) 3\nD) 4\nNext?\n", "A\n", 6, "dashes")

    def test_empty_choice(self):
        self.assertRefused("Q?\nA) 1\nB)\nC) 3\nD) 4\n", "A\n", 3, "empty")

    def test_choice_without_question(self):
        self.assertRefused("A) 1\n", "A\n", 1, "no question")

    def test_file_ends_inside_a_question(self):
        self.assertRefused("Q?\nA) 1\nB) 2\n", "A\n", 4, "ends inside")

    def test_invalid_utf8_names_its_line(self):
        self.assertRefused(b"Q?\nA) 1\nB) \xff\n", "A\n", 3, "UTF-8")

    def test_control_character(self):
        self.assertRefused("Q\x1b[2J?\nA) 1\nB) 2\nC) 3\nD) 4\n", "A\n", 1, "control character")

    def test_bad_answer_letter(self):
        self.assertRefused(GOOD_QUESTIONS, "B\nE\n", 2, "found 'E'", in_answers=True)

    def test_too_many_answers(self):
        self.assertRefused(GOOD_QUESTIONS, "B\nC\n\nA\n", 4, "3 answers for 2 questions", in_answers=True)

    def test_too_few_answers(self):
        self.assertRefused(GOOD_QUESTIONS, "B\n", None, "1 answers for 2 questions", in_answers=True)

    def test_no_questions(self):
        self.assertRefused("\n\n", "", None, "no questions")

    def test_missing_file(self):
        e = self.assertRaises(FileFormatError, read_test, "quiz", os.path.join(self.dir, "nope"), "x")
        self.assertIn("nope", str(e))

    def test_bad_name(self):
        q, a = self.write("q.txt", GOOD_QUESTIONS), self.write("a.txt", "B\nC\n")
        for name in ["", "7", "two words", "x" * 33, "é"]:
            self.assertRaises(ValueError, read_test, name, q, a)
