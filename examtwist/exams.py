"""
Exam banks: what a test is, the two built-in tests, the original text format, and grading.

Nothing here does I/O on the reactor or knows about the wire; the store keeps exams and the
protocol walks a student through an L{Attempt}.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

LETTERS = "ABCD"
NAME_RULE = "a letter, then up to 31 letters, digits, '_', '.' or '-'"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,31}\Z")
_CHOICE = re.compile(r"([A-D])\)\s*(.*)\Z")
_DASHES = re.compile(r"\s*-+\s*\Z")
# Characters that would break a reply line, or split it for a client using str.splitlines().
_BREAKS_LINE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")


@dataclass(frozen=True)
class Question:
    text: tuple[str, ...]
    choices: tuple[str, str, str, str]
    answer: str

    def reply_lines(self, number: int, total: int) -> list[str]:
        """The lines of this question's 350 reply."""
        return [
            f"Question {number} of {total}",
            *self.text,
            *(f"{letter}) {choice}" for letter, choice in zip(LETTERS, self.choices)),
        ]


@dataclass(frozen=True)
class Exam:
    name: str
    questions: tuple[Question, ...]


def grade_tenths(correct: int, total: int) -> int:
    """
    The percentage correct in tenths, rounded half up with exact integers (1/16 is 6.3, not
    the 6.2 that float rounding gives).
    """
    return (2000 * correct + total) // (2 * total)


def format_grade(tenths: int) -> str:
    return f"{tenths // 10}.{tenths % 10}"


@dataclass
class Attempt:
    """
    One student's way through one exam: which question is open and how many were right.
    """

    exam: Exam
    started: str
    index: int = 0
    correct: int = 0
    # Set once the grade is being stored, so a dropped connection does not also abandon it.
    finishing: bool = field(default=False)

    @property
    def total(self) -> int:
        return len(self.exam.questions)

    def open_question(self) -> tuple[Question, int, int]:
        """The open question, its number and how many there are."""
        return self.exam.questions[self.index], self.index + 1, self.total

    def question_lines(self) -> list[str]:
        question, number, total = self.open_question()
        return question.reply_lines(number, total)

    def answer(self, letter: str) -> bool:
        """
        Record an answer to the open question; True when it was the last one.
        """
        if letter == self.exam.questions[self.index].answer:
            self.correct += 1
        self.index += 1
        return self.index == self.total

    def undo_last(self, was_correct: bool) -> None:
        """Reopen the last question (its grade could not be stored)."""
        self.index -= 1
        self.correct -= was_correct
        self.finishing = False


def check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"invalid test name {name!r}: use {NAME_RULE}")


BUILTIN_EXAMS = (
    Exam(
        "math",
        (
            Question(("What is 12 * 12?",), ("124", "144", "132", "142"), "B"),
            Question(
                ("The sum of the first N odd numbers is:",),
                ("(N*(N+1))/2", "N^2 + N", "N^2 + 2*N", "N^2"),
                "D",
            ),
            Question(("What is the square root of 169?",), ("12", "14", "13", "17"), "C"),
            Question(("Solve for x: 3x + 7 = 22",), ("5", "6", "4", "7"), "A"),
            Question(
                ("A rectangle is 8 cm long and 5 cm wide.", "What is its area?"),
                ("13 cm^2", "26 cm^2", "40 cm^2", "45 cm^2"),
                "C",
            ),
        ),
    ),
    Exam(
        "python",
        (
            Question(("What does 2 ** 10 evaluate to?",), ("20", "100", "1024", "512"), "C"),
            Question(("Which keyword starts a function definition?",), ("func", "def", "fn", "sub"), "B"),
            Question(
                ("What does this print?", "    print(sorted([3, 1, 2]))"),
                ("[3, 1, 2]", "[1, 2, 3]", "None", "[3, 2, 1]"),
                "B",
            ),
            Question(("Which of these types is mutable?",), ("tuple", "str", "frozenset", "list"), "D"),
            Question(
                ("What is the value of bool('False')?",),
                ("True", "False", "None", "It raises ValueError"),
                "A",
            ),
        ),
    ),
)


class ExamFileError(ValueError):
    """
    A questions or answers file that cannot be imported; says which file and which line.
    """

    def __init__(self, path: str | Path, line: int | None, message: str) -> None:
        self.path, self.line, self.message = str(path), line, message
        where = f"{path}, line {line}" if line else f"{path}"
        super().__init__(f"{where}: {message}")


def read_exam(name: str, questions_path: str | Path, answers_path: str | Path) -> Exam:
    """
    Read a test in the original text format.

    The questions file is made of blocks: the question (one or more lines), four choice lines
    C{A) …} to C{D) …}, then a line of dashes. The answers file has one letter per line, in
    the same order. Blank lines are ignored in both.

    @raise ExamFileError: naming the file and line of the first problem found.
    @raise ValueError: for a bad test name.
    """
    check_name(name)
    blocks = _parse_questions(_read_lines(questions_path), questions_path)
    answers = _parse_answers(_read_lines(answers_path), answers_path)
    if len(answers) != len(blocks):
        line = answers[len(blocks)][1] if len(answers) > len(blocks) else None
        raise ExamFileError(
            answers_path, line,
            f"{len(answers)} answers for {len(blocks)} questions in {questions_path}",
        )
    questions = tuple(
        Question(tuple(text), choices, letter)
        for (text, choices), (letter, _) in zip(blocks, answers)
    )
    return Exam(name, questions)


def _read_lines(path: str | Path) -> list[str]:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ExamFileError(path, None, e.strerror or str(e)) from e
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ExamFileError(path, data.count(b"\n", 0, e.start) + 1, "not valid UTF-8") from e
    return [line.rstrip("\r") for line in text.split("\n")]


def _parse_questions(lines: list[str], path: str | Path):
    blocks: list[tuple[list[str], tuple[str, ...]]] = []
    text: list[str] = []
    choices: list[str] = []
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip()
        if not line.strip():
            continue
        if _BREAKS_LINE.search(line):
            raise ExamFileError(path, number, "control character in the text")
        dashes = _DASHES.match(line)
        choice = _CHOICE.match(line)
        if len(choices) == 4:
            if not dashes:
                raise ExamFileError(path, number, "expected a line of dashes after the D) choice")
            blocks.append((text, tuple(choices)))
            text, choices = [], []
        elif dashes:
            raise ExamFileError(
                path, number,
                "a line of dashes before the question's four choices" if text
                else "a line of dashes with no question before it",
            )
        elif choices or (choice and text):
            expected = LETTERS[len(choices)]
            if not choice or choice.group(1) != expected:
                raise ExamFileError(path, number, f"expected the choice line '{expected}) …'")
            if not choice.group(2).strip():
                raise ExamFileError(path, number, f"choice {expected} is empty")
            choices.append(choice.group(2).strip())
        elif choice:
            raise ExamFileError(path, number, "a choice line with no question before it")
        else:
            text.append(line)
    if len(choices) == 4:
        blocks.append((text, tuple(choices)))  # the last block may end without dashes
    elif text:
        raise ExamFileError(path, len(lines), "the file ends inside a question")
    if not blocks:
        raise ExamFileError(path, None, "no questions found")
    return blocks


def _parse_answers(lines: list[str], path: str | Path) -> list[tuple[str, int]]:
    answers = []
    for number, raw in enumerate(lines, 1):
        letter = raw.strip().upper()
        if not letter:
            continue
        if letter not in LETTERS:
            raise ExamFileError(path, number, f"expected one letter A, B, C or D, found {raw.strip()!r}")
        answers.append((letter, number))
    return answers
