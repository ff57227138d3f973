"""
What a test is: its questions with their four choices and the right one, the rule for a test's
name, and the two built-in tests every new database starts with.

Nothing here does I/O or knows the wire; the store keeps tests, the desk walks a student
through an attempt of one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from examtwist.wire import choice_lines, question_heading

TEST_NAME_RULE = "a letter, then up to 31 letters, digits, '_', '.' or '-'"
_TEST_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,31}\Z")


@dataclass(frozen=True)
class Question:
    """
    One multiple-choice question. C{answer} is the right letter; a client that read the
    question off the wire does not know it (None).
    """

    text: tuple[str, ...]
    choices: tuple[str, str, str, str]
    answer: str | None = None

    def reply_lines(self, number: int, total: int) -> list[str]:
        """The lines of this question's 350 reply."""
        return [question_heading(number, total), *self.text, *choice_lines(self.choices)]


@dataclass(frozen=True)
class Rules:
    """
    A test's rules (docs/protocol.md, "Test rules"); each is off by default, and a test with
    all off behaves as in protocol version 1. Times are seconds since the epoch, UTC, whole
    minutes: the opening minute is inside the window, the closing minute is not.
    """

    attempts: int | None = None  # how many attempts one user may start; None: unlimited
    time_limit: int | None = None  # seconds from TAKE to the deadline; None: none
    shuffled: bool = False  # questions and their choices in an order drawn per attempt
    opens: int | None = None
    closes: int | None = None

    @property
    def continuable(self) -> bool:
        """An attempt left by anything but QUIT is suspended, to be continued, not abandoned."""
        return self.attempts is not None or self.time_limit is not None or self.closes is not None

    def is_open(self, now: float) -> bool:
        return (self.opens is None or self.opens <= now) and (self.closes is None or now < self.closes)

    def deadline(self, start: float) -> int | None:
        """
        The deadline of an attempt started at C{start}: the earlier of the time limit's end
        (counted from the whole second it started in) and the closing time.
        """
        ends = [t for t in (self.closes,) if t is not None]
        if self.time_limit is not None:
            ends.append(int(start // 1) + self.time_limit)
        return min(ends) if ends else None


NO_RULES = Rules()

# Seconds a suspended attempt of a test without a time limit waits to be continued.
DEFAULT_RESUME_WINDOW = 1800


@dataclass(frozen=True)
class Test:
    name: str
    questions: tuple[Question, ...]
    rules: Rules = NO_RULES


def grade_tenths(correct: int, total: int) -> int:
    """
    The grade: the percentage correct in tenths, rounded half up with exact integers (1/16 is
    6.3, not the 6.2 that float rounding gives). Unanswered questions count as wrong.
    """
    return (2000 * correct + total) // (2 * total)


def check_test_name(name: str) -> None:
    if not _TEST_NAME.match(name):
        raise ValueError(f"invalid test name {name!r}: use {TEST_NAME_RULE}")


BUILTIN_TESTS = (
    Test(
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
    Test(
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
