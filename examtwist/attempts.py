"""
One student's attempt of one test: the order it shows the questions and choices in, which
question is open, the answers given, its deadline, and the grade they make.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field

from examtwist.storage.attempts import Answer, Order
from examtwist.testbank import Question, Test, grade_tenths
from examtwist.wire import LETTERS


def draw_order(test: Test, rng: random.Random | None = None) -> Order:
    """
    A new attempt's order: the test's own, or drawn anew when the test is shuffled, by C{rng}
    or a generator of the attempt's own seeded with 128 bits from the system (one read of its
    randomness per attempt: SystemRandom made a system call per choice drawn, 25 for five
    questions, 9 % of the reactor's samples in scenario 3c).
    """
    if not test.rules.shuffled:
        return Order("", "")
    rng = rng or random.Random(os.urandom(16))
    positions = list(range(1, len(test.questions) + 1))
    rng.shuffle(positions)
    choices = []
    for _ in positions:
        letters = list(LETTERS)
        rng.shuffle(letters)
        choices.append("".join(letters))
    return Order(",".join(map(str, positions)), ",".join(choices))


@dataclass
class Attempt:
    """
    C{order} is as stored (L{Order}); C{id} and C{holder} are set for an attempt that can be
    continued, which is stored from its start and held by one connection.
    """

    test: Test
    started: str
    username: str
    address: str
    order: Order = Order("", "")
    deadline: int | None = None  # seconds since the epoch
    id: int | None = None
    holder: str | None = None
    index: int = 0
    correct: int = 0
    # Set once the grade is being stored, so a dropped connection does not also abandon it.
    finishing: bool = field(default=False)

    def __post_init__(self) -> None:
        questions = self.test.questions
        self.total = len(questions)
        # The answers given here (an attempt continued has C{index} given before): the letter
        # and when, as few objects as an answer can cost.
        self._before = self.index
        self._given: list[tuple[str, str]] = []
        if not self.order.questions:
            self._positions = range(self.total)
            self._letters: list[str] | None = None
            self._shown = questions
            return
        self._positions = [int(p) - 1 for p in self.order.questions.split(",")]
        self._letters = self.order.choices.split(",")
        self._shown = tuple(_as_shown(questions[p], letters)
                            for p, letters in zip(self._positions, self._letters))

    @property
    def tenths(self) -> int:
        return grade_tenths(self.correct, self.total)

    def open_question(self) -> tuple[Question, int, int]:
        """The open question as this attempt shows it, its number and how many there are."""
        return self._shown[self.index], self.index + 1, self.total

    def answer(self, letter: str, when: str) -> bool:
        """Record an answer to the open question; True when it was the last one."""
        index = self.index
        self._given.append((letter, when))
        self.correct += letter == self._shown[index].answer
        self.index = index + 1
        return self.index == self.total

    @property
    def answers(self) -> tuple[Answer, ...]:
        """The answers given since this attempt was started or continued, as stored."""
        return tuple(self._answer(number) for number in range(self._before + 1, self.index + 1))

    def last_answer(self) -> Answer:
        return self._answer(self.index)

    def _answer(self, number: int) -> Answer:
        index = number - 1
        letter, when = self._given[index - self._before]
        position = self._positions[index]
        meant = letter if self._letters is None else self._letters[index][LETTERS.index(letter)]
        right = meant == self.test.questions[position].answer
        return Answer(number, position + 1, letter, meant, right, when)

    def undo_last(self) -> None:
        """Reopen the last question (its answer or grade could not be stored)."""
        letter, _ = self._given.pop()
        self.index -= 1
        self.correct -= letter == self._shown[self.index].answer
        self.finishing = False


def _as_shown(question: Question, letters: str) -> Question:
    """A question with its choices in this attempt's order: A shows stored choice letters[0]."""
    choices = tuple(question.choices[LETTERS.index(letter)] for letter in letters)
    return Question(question.text, choices, LETTERS[letters.index(question.answer)])
