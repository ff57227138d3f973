"""
One student's attempt of one test: which question is open, how many answers were right, and
the grade they make.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from examtwist.testbank import Question, Test


def grade_tenths(correct: int, total: int) -> int:
    """
    The percentage correct in tenths, rounded half up with exact integers (1/16 is 6.3, not
    the 6.2 that float rounding gives).
    """
    return (2000 * correct + total) // (2 * total)


@dataclass
class Attempt:
    test: Test
    started: str
    username: str
    address: str
    index: int = 0
    correct: int = 0
    # Set once the grade is being stored, so a dropped connection does not also abandon it.
    finishing: bool = field(default=False)

    @property
    def total(self) -> int:
        return len(self.test.questions)

    @property
    def tenths(self) -> int:
        return grade_tenths(self.correct, self.total)

    def open_question(self) -> tuple[Question, int, int]:
        """The open question, its number and how many there are."""
        return self.test.questions[self.index], self.index + 1, self.total

    def answer(self, letter: str) -> bool:
        """Record an answer to the open question; True when it was the last one."""
        if letter == self.test.questions[self.index].answer:
            self.correct += 1
        self.index += 1
        return self.index == self.total

    def undo_last(self, was_correct: bool) -> None:
        """Reopen the last question (its grade could not be stored)."""
        self.index -= 1
        self.correct -= was_correct
        self.finishing = False
