"""
The rules for a student's fields, and the CSV file the admin imports.
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from examtwist.students import (
    MAX_ID,
    InvalidID,
    Student,
    FileFormatError,
    make_student,
    parse_id,
    read_students_csv,
)
from tests.support import temp_dir


class ParseIDTests(SynchronousTestCase):
    def test_digits(self):
        """An ID is its digits; spaces around it and leading zeros do not matter."""
        self.assertEqual(parse_id("1800"), 1800)
        self.assertEqual(parse_id("  1800\t"), 1800)
        self.assertEqual(parse_id("001800"), 1800)
        self.assertEqual(parse_id("0"), 0)

    def test_rejected(self):
        """Anything but 1 to 19 ASCII digits is not an ID, and the reason says why."""
        for text, reason in [
            ("", "No ID"),
            ("   ", "No ID"),
            ("18 00", "digits only"),
            ("-1800", "digits only"),
            ("+1800", "digits only"),
            ("1e3", "digits only"),
            ("1800' OR '1'='1", "digits only"),
            ("\u0661\u0668\u0660\u0660", "digits only"),  # Arabic-Indic digits: int() takes them
            ("1" * 20, "longer than 19 digits"),
        ]:
            with self.assertRaises(InvalidID, msg=repr(text)) as caught:
                parse_id(text)
            self.assertIn(reason, str(caught.exception))

    def test_largest(self):
        """19 digits parse even past what SQLite stores: such an ID simply belongs to no one."""
        self.assertEqual(parse_id(str(MAX_ID)), MAX_ID)
        self.assertEqual(parse_id("9" * 19), int("9" * 19))


class MakeStudentTests(SynchronousTestCase):
    def test_good(self):
        self.assertEqual(make_student(" Sara ", "1800", "23"), Student("Sara", 1800, 23))
        self.assertEqual(make_student("O'Brien <b>", str(MAX_ID), "0"), Student("O'Brien <b>", MAX_ID, 0))

    def test_bad_fields(self):
        """Each broken rule names its field."""
        for args, field in [
            (("", "1", "20"), "name"),
            (("a" * 101, "1", "20"), "name"),
            (("Sa\nra", "1", "20"), "name"),
            (("Sara", "", "20"), "ID"),
            (("Sara", "x", "20"), "ID"),
            (("Sara", str(MAX_ID + 1), "20"), "ID"),
            (("Sara", "1", "-1"), "age"),
            (("Sara", "1", "151"), "age"),
            (("Sara", "1", "twenty"), "age"),
        ]:
            with self.assertRaises(ValueError, msg=repr(args)) as caught:
                make_student(*args)
            self.assertIn(field, str(caught.exception))


class ReadCSVTests(SynchronousTestCase):
    def write(self, content: str | bytes) -> str:
        path = os.path.join(temp_dir(self), "students.csv")
        with open(path, "wb") as f:
            f.write(content.encode() if isinstance(content, str) else content)
        return path

    def test_good(self):
        """Rows come back with their line numbers; blank lines, a BOM and CRLF are fine."""
        path = self.write('\ufeffName,ID,Age\r\nSara,1800,23\r\n\r\n"Doe, Jane",7,30\r\n')
        self.assertEqual(
            read_students_csv(path),
            [(2, Student("Sara", 1800, 23)), (4, Student("Doe, Jane", 7, 30))],
        )

    def assertFileError(self, content, line, words):
        path = self.write(content)
        with self.assertRaises(FileFormatError) as caught:
            read_students_csv(path)
        self.assertEqual((caught.exception.path, caught.exception.line), (path, line))
        self.assertIn(words, str(caught.exception))
        self.assertTrue(str(caught.exception).startswith(path))

    def test_bad_files(self):
        """The first problem is reported with its file and line."""
        self.assertFileError("id,name,age\n1,A,2\n", 1, "header name,id,age")
        self.assertFileError("name,id,age\nA,1,20\nB,x,20\n", 3, "bad ID")
        self.assertFileError("name,id,age\nA,1,20\nB,2\n", 3, "expected 3 fields")
        self.assertFileError("name,id,age\nA,1,20\n\nB,1,21\n", 4, "ID 1 is on line 2 too")
        self.assertFileError('name,id,age\n"A,1,20\n', 2, "not valid CSV")
        self.assertFileError(b"name,id,age\nA,1,20\nB\xff,2,20\n", 3, "not valid UTF-8")
        self.assertFileError("name,id,age\n\n", None, "no students")
        self.assertFileError("", None, "no students")

    def test_missing_file(self):
        path = os.path.join(temp_dir(self), "nowhere.csv")
        with self.assertRaises(FileFormatError) as caught:
            read_students_csv(path)
        self.assertIn("No such file", str(caught.exception))
