"""
The files an admin imports and exports: the original text format of a test (a questions file
and an answers file, "seed" on the command line), the bounds every format of a test keeps, the
one error every file format reports, naming the file and the line, and CSV as the admin
command writes it. Moodle's formats are in L{examtwist.moodle}.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from examtwist.testbank import Question, Test, check_test_name
from examtwist.wire import LETTERS

_CHOICE = re.compile(r"([A-D])\)\s*(.*)\Z")
_DASHES = re.compile(r"\s*-+\s*\Z")
# Characters that would break a reply line, or split it for a client using str.splitlines().
_BREAKS_LINE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")


# The largest file an import reads: a test of thousands of questions fits many times over.
MAX_FILE_BYTES = 4 * 1024 * 1024
# A question's line or choice fits in one reply line ("350-A) ..."), which a client reads up to
# 4096 bytes (examtwist.wire.MAX_REPLY_LINE); a question's text has at most this many lines.
MAX_TEXT_BYTES = 4000
MAX_TEXT_LINES = 100


# What a spreadsheet takes for the start of a formula in a cell (OWASP: CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell):
    """A cell to write to CSV: text a spreadsheet would run as a formula gets a quote before."""
    if isinstance(cell, str) and cell.startswith(_FORMULA_START):
        return "'" + cell
    return cell


def from_spreadsheet_safe(cell: str) -> str:
    """A cell read from CSV, without the quote L{spreadsheet_safe} put before a formula."""
    if cell.startswith("'") and cell[1:].startswith(_FORMULA_START):
        return cell[1:]
    return cell


def write_csv(out, header, rows) -> None:
    """CSV as the admin command writes it: every cell spreadsheet-safe."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([spreadsheet_safe(cell) for cell in row] for row in rows)


class FileFormatError(ValueError):
    """A file the admin imports that cannot be read; says which file and which line."""

    def __init__(self, path: str | Path, line: int | None, message: str) -> None:
        self.path, self.line, self.message = str(path), line, message
        where = f"{path}, line {line}" if line else f"{path}"
        super().__init__(f"{where}: {message}")


def read_test(name: str, questions_path: str | Path, answers_path: str | Path) -> Test:
    """
    Read a test in the original text format.

    The questions file is made of blocks: the question (one or more lines), four choice lines
    C{A) …} to C{D) …}, then a line of dashes. The answers file has one letter per line, in
    the same order. Blank lines are ignored in both.

    @raise FileFormatError: naming the file and line of the first problem found.
    @raise ValueError: for a bad test name.
    """
    check_test_name(name)
    blocks = _parse_questions(read_lines(questions_path), questions_path)
    answers = _parse_answers(read_lines(answers_path), answers_path)
    if len(answers) != len(blocks):
        line = answers[len(blocks)][1] if len(answers) > len(blocks) else None
        raise FileFormatError(
            answers_path, line,
            f"{len(answers)} answers for {len(blocks)} questions in {questions_path}",
        )
    questions = tuple(
        Question(tuple(text), choices, letter)
        for (text, choices), (letter, _) in zip(blocks, answers)
    )
    return Test(name, questions)


class CannotWrite(ValueError):
    """A test that a file format cannot hold as it is: exported, it would come back changed."""


def read_text(path: str | Path, limit: int = MAX_FILE_BYTES) -> str:
    """
    A UTF-8 file's text (a byte-order mark dropped), or L{FileFormatError} saying why not; a
    file over C{limit} bytes is refused without reading the rest.
    """
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise FileFormatError(path, None, e.strerror or str(e)) from e
    if len(data) > limit:
        raise FileFormatError(path, None, f"larger than {limit // 1024} KiB, the most read")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise FileFormatError(path, data.count(b"\n", 0, e.start) + 1, "not valid UTF-8") from e


def read_lines(path: str | Path) -> list[str]:
    return [line.rstrip("\r") for line in read_text(path).split("\n")]


def check_question(path: str | Path, line: int, text: list[str], choices) -> None:
    """
    What every format's question must be to reach a client whole: no line breaks or control
    characters in its lines, each line and choice one reply line, at most L{MAX_TEXT_LINES}
    lines. C{line} is the file's line the problem is reported at.
    """
    if len(text) > MAX_TEXT_LINES:
        raise FileFormatError(path, line, f"a question of more than {MAX_TEXT_LINES} lines")
    for part in (*text, *choices):
        if _BREAKS_LINE.search(part):
            raise FileFormatError(path, line, "control character in the text")
        if len(part.encode("utf-8")) > MAX_TEXT_BYTES:
            raise FileFormatError(path, line, f"a line longer than {MAX_TEXT_BYTES} bytes")


def write_test(test: Test) -> tuple[str, str]:
    """
    A test in the original text format: (the questions file's text, the answers file's).

    @raise CannotWrite: a question line would read back as a choice or a line of dashes.
    """
    blocks, letters = [], []
    for number, question in enumerate(test.questions, 1):
        for line in question.text:
            if _CHOICE.match(line) or _DASHES.match(line) or not line.strip():
                raise CannotWrite(f"question {number} has the line {line!r}, which the text"
                                  " format would read as a choice, dashes or nothing")
        choices = [f"{letter}) {choice}" for letter, choice in zip(LETTERS, question.choices)]
        blocks.append("\n".join([*question.text, *choices, "-" * 10]) + "\n")
        letters.append(f"{question.answer}\n")
    return "".join(blocks), "".join(letters)


def _parse_questions(lines: list[str], path: str | Path):
    blocks: list[tuple[list[str], tuple[str, ...]]] = []
    text: list[str] = []
    choices: list[str] = []
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip()
        if not line.strip():
            continue
        if _BREAKS_LINE.search(line):
            raise FileFormatError(path, number, "control character in the text")
        dashes = _DASHES.match(line)
        choice = _CHOICE.match(line)
        if len(choices) == 4:
            if not dashes:
                raise FileFormatError(path, number, "expected a line of dashes after the D) choice")
            check_question(path, number, text, choices)
            blocks.append((text, tuple(choices)))
            text, choices = [], []
        elif dashes:
            raise FileFormatError(
                path, number,
                "a line of dashes before the question's four choices" if text
                else "a line of dashes with no question before it",
            )
        elif choices or (choice and text):
            expected = LETTERS[len(choices)]
            if not choice or choice.group(1) != expected:
                raise FileFormatError(path, number, f"expected the choice line '{expected}) …'")
            if not choice.group(2).strip():
                raise FileFormatError(path, number, f"choice {expected} is empty")
            choices.append(choice.group(2).strip())
        elif choice:
            raise FileFormatError(path, number, "a choice line with no question before it")
        else:
            text.append(line)
    if len(choices) == 4:
        check_question(path, len(lines), text, choices)
        blocks.append((text, tuple(choices)))  # the last block may end without dashes
    elif text:
        raise FileFormatError(path, len(lines), "the file ends inside a question")
    if not blocks:
        raise FileFormatError(path, None, "no questions found")
    return blocks


def _parse_answers(lines: list[str], path: str | Path) -> list[tuple[str, int]]:
    answers = []
    for number, raw in enumerate(lines, 1):
        letter = raw.strip().upper()
        if not letter:
            continue
        if letter not in LETTERS:
            raise FileFormatError(path, number, f"expected one letter A, B, C or D, found {raw.strip()!r}")
        answers.append((letter, number))
    return answers
