"""
What the clients make of the server's replies: the greeting, the list of tests, a question
(with the time left in a test with a deadline), a grade (with "Time is up" when the deadline
ended the attempt), a test's rules and the student's results, each as a value a client can
show.

L{examtwist.client.ExamClient} reads the replies and hands them here; nothing here does I/O.
A reply protocol.md does not allow is a L{BadReply}, which the client turns into its
L{examtwist.clienterrors.ProtocolError}.
"""

from __future__ import annotations

from typing import NamedTuple

from examtwist.clienterrors import InputError
from examtwist.rulelines import TIME_IS_UP, Info, ResultLine, parse_info, parse_result_line
from examtwist.rulelines import parse_time_left
from examtwist.testbank import Question
from examtwist.wire import (
    LETTERS,
    Reply,
    choice_lines,
    parse_answer,
    parse_grade,
    parse_question_heading,
    question_heading,
)

# How the clients name the answers they take: "A, B, C or D", "A-D".
LETTER_LIST = f"{', '.join(LETTERS[:-1])} or {LETTERS[-1]}"
LETTER_RANGE = f"{LETTERS[0]}-{LETTERS[-1]}"
# What starts each choice line of a question: "A) " to "D) ".
_CHOICE_PREFIXES = choice_lines([""] * len(LETTERS))


class BadReply(ValueError):
    """A reply of the right code whose lines protocol.md does not allow; str() says how."""


class Greeting(NamedTuple):
    """
    The C{220} reply. A lucky connection's has a congratulation first, the addresses
    of the connections counted so far next, and the welcome last.
    """

    lines: tuple[str, ...]

    @property
    def is_lucky(self) -> bool:
        return len(self.lines) > 1

    @property
    def congratulation(self) -> str | None:
        return self.lines[0] if self.is_lucky else None

    @property
    def addresses(self) -> tuple[str, ...]:
        """Exactly as the server sent them, in its order (its own last)."""
        return self.lines[1:-1]

    @property
    def welcome(self) -> str:
        return self.lines[-1]


class ListedTest(NamedTuple):
    """One line of the C{212} list."""

    number: int
    name: str
    question_count: int


class Asked(NamedTuple):
    """
    One C{350} reply: which question of how many, and the question as shown. C{time_left} is
    the whole seconds the server said were left when it sent it; None in a test without a
    deadline.
    """

    number: int
    total: int
    question: Question
    time_left: int | None = None

    @property
    def heading(self) -> str:
        return question_heading(self.number, self.total)


class Grade(NamedTuple):
    """
    The C{250} reply; C{text} is the server's grade line, to be shown as it is. C{time_up}
    when the deadline ended the attempt (the reply began "Time is up").
    """

    percent: str
    correct: int
    total: int
    text: str
    time_up: bool = False


def check_answer(letter: str) -> str:
    """
    An answer as the server wants it: one letter A to D, any case, surrounding blanks ignored.

    @raise InputError: for anything else, so a client can ask again without a round trip.
    """
    answer = parse_answer(letter)
    if answer is None:
        raise InputError(f"answer with {LETTER_LIST}, not {letter.strip()!r}")
    return answer


def tests_from(reply: Reply) -> list[ListedTest]:
    """The tests of a C{212} reply, in its order."""
    tests = []
    for line in reply.lines[1:-1]:
        fields = line.split(" ")
        if len(fields) != 3 or not (fields[0].isdigit() and fields[2].isdigit()):
            raise BadReply(f"a test list line that is not 'number name count': {line!r}")
        tests.append(ListedTest(int(fields[0]), fields[1], int(fields[2])))
    return tests


def question_from(reply: Reply) -> Asked:
    """A C{350} reply: heading, the optional "Time left" line, the text, four choices."""
    lines, count = reply.lines, len(_CHOICE_PREFIXES)
    heading = parse_question_heading(lines[0])
    time_left = parse_time_left(lines[1]) if len(lines) > 1 else None
    first = 1 if time_left is None else 2
    choices = lines[-count:]
    if (
        heading is None
        or len(lines) < count + first + 1
        or any(not c.startswith(prefix) for prefix, c in zip(_CHOICE_PREFIXES, choices))
    ):
        raise BadReply(f"a question protocol.md does not allow: {lines!r}")
    texts = tuple(c[len(prefix):] for prefix, c in zip(_CHOICE_PREFIXES, choices))
    return Asked(*heading, Question(tuple(lines[first:-count]), texts), time_left)


def grade_from(reply: Reply) -> Grade:
    """A C{250} reply: the grade line, after "Time is up" when the deadline came first."""
    time_up = reply.lines[:-1] == (TIME_IS_UP,)
    grade = parse_grade(reply.text)
    if grade is None or (len(reply.lines) > 1 and not time_up):
        raise BadReply(f"a grade protocol.md does not know: {reply.lines!r}")
    return Grade(*grade, reply.text, time_up)


def info_from(reply: Reply) -> Info:
    """A C{213} reply: the test's rules."""
    info = parse_info(list(reply.lines))
    if info is None:
        raise BadReply(f"test rules protocol.md does not know: {reply.lines!r}")
    return info


def results_from(reply: Reply) -> list[ResultLine]:
    """A C{216} reply: the student's ended attempts, in the order they ended."""
    results = []
    for line in reply.lines[1:-1]:
        result = parse_result_line(line)
        if result is None:
            raise BadReply(f"a result line that is not 'test grade time': {line!r}")
        results.append(result)
    return results
