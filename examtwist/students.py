"""
Students for the ID lookup: what a student is, the rules for their fields, the three samples of
the original app, and the CSV format the admin command imports.

Nothing here does I/O on the reactor; the store keeps students and the web app shows them.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import NamedTuple

from examtwist.formats import FileFormatError, from_spreadsheet_safe, read_text

# SQLite stores integers in 64 bits: a larger ID cannot be stored, so no student has it.
MAX_ID = 2**63 - 1
MAX_ID_DIGITS = len(str(MAX_ID))
MAX_NAME = 100
MAX_AGE = 150
ID_RULE = f"a whole number of 1 to {MAX_ID_DIGITS} digits, like 1800"
CSV_HEADER = ("name", "id", "age")

_DIGITS = re.compile(r"[0-9]+\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class Student(NamedTuple):
    name: str
    id: int
    age: int


SAMPLE_STUDENTS = (Student("Sara", 1800, 23), Student("Ali", 1866, 23), Student("Karam", 1711, 23))


class InvalidID(ValueError):
    """Text that is not a university ID; the message says what is wrong with it."""


def parse_id(text: str) -> int:
    """
    A university ID as typed: digits only (ASCII), spaces around it ignored.

    @raise InvalidID: for an empty, non-integer or overlong ID.
    """
    text = text.strip()
    if not text:
        raise InvalidID("No ID was typed.")
    if not _DIGITS.match(text):
        raise InvalidID("An ID has digits only.")
    if len(text) > MAX_ID_DIGITS:
        raise InvalidID(f"That is longer than {MAX_ID_DIGITS} digits.")
    return int(text)


def make_student(name: str, student_id: str, age: str) -> Student:
    """
    A student from the text of its three fields, as an admin gives them.

    @raise ValueError: saying which field breaks which rule.
    """
    name = name.strip()
    if not name:
        raise ValueError("the name is empty")
    if len(name) > MAX_NAME:
        raise ValueError(f"the name is longer than {MAX_NAME} characters")
    if _CONTROL.search(name):
        raise ValueError("the name has a control character")
    try:
        number = parse_id(student_id)
    except InvalidID:
        number = None
    if number is None or number > MAX_ID:
        raise ValueError(f"bad ID {student_id.strip()!r}: use a whole number from 0 to {MAX_ID}")
    age = age.strip()
    if not _DIGITS.match(age) or not 0 <= int(age) <= MAX_AGE:
        raise ValueError(f"bad age {age!r}: use a whole number from 0 to {MAX_AGE}")
    return Student(name, number, int(age))


def read_students_csv(path: str | Path) -> list[tuple[int, Student]]:
    """
    Read students from CSV with the header C{name,id,age} (in any case). Blank lines are
    skipped; an ID may appear once.

    @return: each student with the number of the line it came from, for later messages.

    @raise FileFormatError: naming the file and line of the first problem found.
    """
    text = read_text(path)
    reader = csv.reader(text.splitlines(keepends=True), strict=True)
    students: list[tuple[int, Student]] = []
    seen: dict[int, int] = {}
    header_read = False
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if not header_read:
                _check_header(path, line, row)
                header_read = True
                continue
            if len(row) != 3:
                raise FileFormatError(path, line, f"expected 3 fields (name,id,age), found {len(row)}")
            try:
                student = make_student(*(from_spreadsheet_safe(cell) for cell in row))
            except ValueError as e:
                raise FileFormatError(path, line, str(e)) from None
            if student.id in seen:
                raise FileFormatError(path, line, f"ID {student.id} is on line {seen[student.id]} too")
            seen[student.id] = line
            students.append((line, student))
    except csv.Error as e:
        raise FileFormatError(path, reader.line_num, f"not valid CSV: {e}") from None
    if not students:
        raise FileFormatError(path, None, "no students found")
    return students


def _check_header(path, line: int, row: list[str]) -> None:
    if tuple(cell.strip().lower() for cell in row) != CSV_HEADER:
        raise FileFormatError(path, line, "the first line must be the header name,id,age")
