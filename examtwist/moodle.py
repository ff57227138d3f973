"""
Tests in the formats Moodle imports and exports, read and written: Aiken, and the
multiple-choice subset of GIFT (docs.moodle.org, "Aiken format" and "GIFT format").

examtwist's questions have four choices and one right answer, so that is all either reader
takes: anything else in a file (another question type, feedback, weights, a text format, a
category, more or fewer choices) is refused with its line number, and nothing is read. What a
writer writes, its reader reads back as the same test; a question a format cannot hold as it is
(a text of two lines in Aiken, say) is refused with L{CannotWrite}.
"""

from __future__ import annotations

import re
from pathlib import Path

from examtwist.formats import CannotWrite, FileFormatError, check_question, read_text
from examtwist.testbank import Question, Test, check_test_name
from examtwist.wire import LETTERS

# Aiken

# Moodle's choice line: a capital letter, ")" or ".", a space or a tab.
_AIKEN_CHOICE = re.compile(r"([A-Z])[.)](?:[ \t]|\Z)(.*)\Z")
_AIKEN_ANSWER = re.compile(r"ANSWER:\s*(.*?)\s*\Z")


def read_aiken(name: str, path: str | Path) -> Test:
    """
    A test from an Aiken file: for each question, its text on one line, the choices C{A) …}
    to C{D) …} (or C{A. …}), then C{ANSWER: X}; blank lines are ignored, as Moodle does.

    @raise FileFormatError: naming the line of the first problem found.
    """
    check_test_name(name)
    questions: list[Question] = []
    text: str | None = None
    choices: list[str] = []
    number = 0
    for number, raw in enumerate(read_text(path).split("\n"), 1):
        line = raw.strip()
        if not line:
            continue
        choice, answer = _AIKEN_CHOICE.match(line), _AIKEN_ANSWER.match(line)
        if text is None:
            if choice or answer:
                raise FileFormatError(path, number, "expected a question's text, found"
                                      f" {'a choice' if choice else 'its answer'} line")
            text = line
        elif len(choices) < 4:
            if choice is None or choice.group(1) != LETTERS[len(choices)]:
                raise FileFormatError(path, number, f"expected {_aiken_next(choices)}"
                                      + (" (the text of a question is one line in Aiken)"
                                         if not choices and not choice and not answer else ""))
            if not choice.group(2).strip():
                raise FileFormatError(path, number, f"choice {choice.group(1)} is empty")
            choices.append(choice.group(2).strip())
        else:
            if answer is None:
                raise FileFormatError(path, number, "expected 'ANSWER: A', B, C or D"
                                      + (" (examtwist takes four choices)" if choice else ""))
            if answer.group(1) not in LETTERS:
                raise FileFormatError(path, number, "the answer must be one letter A, B, C or D,"
                                      f" found {answer.group(1)!r}")
            check_question(path, number, [text], choices)
            questions.append(Question((text,), tuple(choices), answer.group(1)))
            text, choices = None, []
    if text is not None:
        raise FileFormatError(path, number, f"the file ends inside a question; expected"
                              f" {_aiken_next(choices)}")
    if not questions:
        raise FileFormatError(path, None, "no questions found")
    return Test(name, tuple(questions))


def _aiken_next(choices: list[str]) -> str:
    if len(choices) < 4:
        return f"the choice line '{LETTERS[len(choices)]}) …'"
    return "'ANSWER: A', B, C or D"


def write_aiken(test: Test) -> str:
    """
    A test in Aiken format.
    @raise CannotWrite: a question's text is more than one line, or would read back otherwise.
    """
    out = []
    for number, question in enumerate(test.questions, 1):
        if len(question.text) != 1:
            raise CannotWrite(f"question {number} of {test.name} has {len(question.text)}"
                              " lines of text, and Aiken holds one (GIFT holds more)")
        text = question.text[0]
        if text != text.strip() or _AIKEN_CHOICE.match(text) or _AIKEN_ANSWER.match(text):
            raise CannotWrite(f"question {number} of {test.name}: Aiken would read its text"
                              f" {text!r} back otherwise")
        out.append(text + "\n")
        out.extend(f"{letter}) {choice}\n" for letter, choice in zip(LETTERS, question.choices))
        out.append(f"ANSWER: {question.answer}\n\n")
    return "".join(out)


# GIFT

# A text format's name before a text: examtwist shows plain text only.
_TEXT_FORMAT = re.compile(r"\[(moodle|html|plain|markdown)\]")
_WEIGHT = re.compile(r"%-*[0-9]{1,2}\.?[0-9]*%")
# One piece of a GIFT question: an escaped character, a special one, a line break, plain text.
_PIECE = re.compile(r"\\(.)|([{}~=#:])|(\n)|([^\\{}~=#:\n]+|\\)", re.DOTALL)
_ESCAPED = {"n": "\n", "\\": "\\", ":": ":", "#": "#", "=": "=", "{": "{", "}": "}", "~": "~"}
_SPECIAL = "\\~=#{}:"
# A question is parsed piece by piece, so its size is bounded apart from the file's.
MAX_QUESTION_BYTES = 64 * 1024


class _Piece:
    """Text (escapes undone), a special character, or a line break of the file; its line."""

    __slots__ = ("text", "special", "line")

    def __init__(self, text: str, special: bool, line: int) -> None:
        self.text, self.special, self.line = text, special, line


def _pieces(block: list[tuple[int, str]]) -> list[_Piece]:
    pieces: list[_Piece] = []
    for number, line in block:
        for found in _PIECE.finditer(line):
            escaped, special, _, plain = found.groups()
            if escaped is not None:
                pieces.append(_Piece(_ESCAPED.get(escaped, "\\" + escaped), False, number))
            elif special is not None:
                pieces.append(_Piece(special, True, number))
            else:
                pieces.append(_Piece(plain, False, number))
        pieces.append(_Piece("\n", True, number))
    return pieces


def read_gift(name: str, path: str | Path) -> Test:
    """
    A test from a GIFT file of multiple-choice questions: each C{[::title::] text {=right
    ~wrong ~wrong ~wrong}}, the answers in any order, questions apart by blank lines, lines
    starting with C{//} ignored, C{\\} before C{~ = # { } :} for the character itself and
    C{\\n} for a line break in the text.

    @raise FileFormatError: naming the line of the first problem found.
    """
    check_test_name(name)
    questions: list[Question] = []
    block: list[tuple[int, str]] = []
    size = 0
    lines = read_text(path).split("\n")
    for number, raw in enumerate([*lines, ""], 1):
        line = raw.rstrip("\r")
        if line.strip().startswith("//"):
            continue
        if line.strip():
            block.append((number, line))
            size += len(line.encode("utf-8")) + 1
            if size > MAX_QUESTION_BYTES:
                raise FileFormatError(path, number, f"a question longer than"
                                      f" {MAX_QUESTION_BYTES // 1024} KiB (is a blank line"
                                      " missing after the one before?)")
        elif block:
            questions.append(_gift_question(path, block))
            block, size = [], 0
    if not questions:
        raise FileFormatError(path, None, "no questions found")
    return Test(name, tuple(questions))


def _gift_question(path, block: list[tuple[int, str]]) -> Question:
    pieces = _pieces(block)
    at = 0

    def refuse(piece: _Piece, why: str):
        raise FileFormatError(path, piece.line, why)

    def is_(index: int, char: str) -> bool:
        return index < len(pieces) and pieces[index].special and pieces[index].text == char

    while at < len(pieces) and not pieces[at].text.strip():
        at += 1
    if at < len(pieces) and not pieces[at].special and pieces[at].text.startswith("$CATEGORY"):
        refuse(pieces[at], "a category: examtwist's tests have none")
    if is_(at, ":") and is_(at + 1, ":"):
        title = pieces[at]
        at += 2
        while not (is_(at, ":") and is_(at + 1, ":")):
            at += 1
            if at >= len(pieces):
                refuse(title, "a title '::' without its closing '::'")
        at += 2
    text: list[str] = []
    while not is_(at, "{"):
        if at == len(pieces):
            refuse(pieces[0], "no answers '{…}': only multiple-choice questions can be imported")
        if is_(at, "}"):
            refuse(pieces[at], "a '}' before the '{' of the answers (\\} writes the character)")
        text.append(pieces[at].text)
        at += 1
    opening = pieces[at]
    answers: list[tuple[_Piece, list[str]]] = []
    before: list[str] = []
    at += 1
    while not is_(at, "}"):
        if at == len(pieces):
            refuse(opening, "the '{' of the answers is not closed by '}'")
        piece = pieces[at]
        if is_(at, "{"):
            refuse(piece, "a second '{' inside the answers (\\{ writes the character)")
        if is_(at, "#"):
            refuse(piece, "feedback '#' or a numerical question: examtwist imports"
                   " multiple-choice questions without feedback")
        if is_(at, "=") or is_(at, "~"):
            if len(answers) == 4:
                refuse(piece, "a fifth choice: examtwist takes four")
            if piece.text == "=" and any(mark.text == "=" for mark, _ in answers):
                if any("->" in "".join(parts) for _, parts in answers):
                    refuse(piece, "a matching question: examtwist imports multiple choice only")
                refuse(piece, "a second right answer '=': examtwist takes one")
            answers.append((piece, []))
        else:
            (answers[-1][1] if answers else before).append(piece.text)
        at += 1
    closing = pieces[at]
    for piece in pieces[at + 1:]:
        if piece.text.strip():
            refuse(piece, "text after the answers: examtwist imports no missing-word questions")
    if "".join(before).strip() or not answers:
        refuse(opening, "answers that are not '=right' and '~wrong' ones: examtwist imports"
               " only multiple-choice questions")
    choices, right = [], None
    for mark, parts in answers:
        choice = "".join(parts).strip(" \t\n")
        if _WEIGHT.match(choice):
            refuse(mark, "a weight '%…%': examtwist imports one right answer, no weights")
        if "\n" in choice:
            refuse(mark, "a choice of more than one line")
        if not choice or _TEXT_FORMAT.match(choice):
            refuse(mark, "an empty choice" if not choice else
                   "a text format '[…]': examtwist shows plain text")
        if mark.text == "=":
            right = LETTERS[len(choices)]
        choices.append(choice)
    if len(choices) != 4:
        refuse(closing, f"{len(choices)} choices: examtwist takes four")
    if right is None:
        refuse(opening, "no right answer '=': examtwist takes one")
    text_lines = [line.rstrip() for line in "".join(text).strip(" \t\n").split("\n")]
    if _TEXT_FORMAT.match(text_lines[0]):
        refuse(opening, "a text format '[…]': examtwist shows plain text")
    if not text_lines[0]:
        refuse(opening, "a question without text")
    if not all(line.strip() for line in text_lines):
        refuse(opening, "a blank line inside the question's text")
    check_question(path, opening.line, text_lines, choices)
    return Question(tuple(text_lines), tuple(choices), right)


def _gift_escaped(text: str) -> str:
    return "".join("\\n" if c == "\n" else "\\" + c if c in _SPECIAL else c for c in text)


def write_gift(test: Test) -> str:
    """
    A test in GIFT: each question titled with the test's name and its number, its text on one
    line (C{\\n} between its lines), its choices in order, one to a line.

    @raise CannotWrite: a text GIFT would read back otherwise (a space before it, say).
    """
    out = [f"// {test.name}: {len(test.questions)} questions, exported by examtwist\n\n"]
    for number, question in enumerate(test.questions, 1):
        text = "\n".join(question.text)
        if text != text.strip() or _TEXT_FORMAT.match(text):
            raise CannotWrite(f"question {number} of {test.name}: GIFT would read its text"
                              f" {text!r} back otherwise")
        for choice in question.choices:
            if _WEIGHT.match(choice) or _TEXT_FORMAT.match(choice):
                raise CannotWrite(f"question {number} of {test.name}: GIFT would read its"
                                  f" choice {choice!r} back otherwise")
        out.append(f"::{_gift_escaped(f'{test.name} {number}')}::{_gift_escaped(text)} {{\n")
        for letter, choice in zip(LETTERS, question.choices):
            mark = "=" if letter == question.answer else "~"
            out.append(f"\t{mark}{_gift_escaped(choice)}\n")
        out.append("}\n\n")
    return "".join(out)
