"""
Reading the files an admin imports: the original text format of a test (a questions file and
an answers file), and the one error every file format reports, naming the file and the line.
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


def read_text(path: str | Path) -> str:
    """A UTF-8 file's text (a byte-order mark dropped), or L{FileFormatError} saying why not."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise FileFormatError(path, None, e.strerror or str(e)) from e
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise FileFormatError(path, data.count(b"\n", 0, e.start) + 1, "not valid UTF-8") from e


def read_lines(path: str | Path) -> list[str]:
    return [line.rstrip("\r") for line in read_text(path).split("\n")]


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
