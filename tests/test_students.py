"""
The rules for a student's fields, and the CSV file the admin imports.
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from examtwist.formats import FileFormatError
from examtwist.students import (
    MAX_ID,
    SAMPLE_STUDENTS,
    InvalidID,
    Student,
    make_student,
    parse_id,
    read_students_csv,
)
from tests.client_support import write_file
from tests.support import temp_dir


class ParseIDTests(SynchronousTestCase):
    def test_digits(self) -> None:
        """
        If an ID is typed as 1800, with blanks around it or with leading zeros, then it is
        1800; "0" is 0.
        """
        self.assertEqual([parse_id(text) for text in ("1800", "  1800\t", "001800", "0")],
                         [1800, 1800, 1800, 0])

    def test_rejected(self) -> None:
        """
        If an ID is empty, has anything but ASCII digits, or has more than 19 of them, then it
        is refused with the reason.
        """
        for text, reason in [
            ("", "No ID was typed."),
            ("   ", "No ID was typed."),
            ("18 00", "An ID has digits only."),
            ("-1800", "An ID has digits only."),
            ("+1800", "An ID has digits only."),
            ("1e3", "An ID has digits only."),
            ("1800' OR '1'='1", "An ID has digits only."),
            ("\u0661\u0668\u0660\u0660", "An ID has digits only."),  # int() takes these digits
            ("1" * 20, "That is longer than 19 digits."),
        ]:
            with self.assertRaises(InvalidID, msg=repr(text)) as caught:
                parse_id(text)
            self.assertEqual(str(caught.exception), reason, repr(text))

    def test_largest(self) -> None:
        """
        If an ID has 19 digits, then it parses, even past what SQLite stores: such an ID
        simply belongs to no one.
        """
        self.assertEqual(parse_id("9223372036854775807"), 9223372036854775807)
        self.assertEqual(parse_id("9" * 19), 9999999999999999999)
        self.assertEqual(MAX_ID, 9223372036854775807)


class MakeStudentTests(SynchronousTestCase):
    def test_good(self) -> None:
        """
        If the fields are " Sara ", 1800, 23, then the student is Sara, 1800, 23; a name may
        have quotes and angle brackets, the ID be the largest, the age 0.
        """
        self.assertEqual(make_student(" Sara ", "1800", "23"), Student("Sara", 1800, 23))
        self.assertEqual(make_student("O'Brien <b>", "9223372036854775807", "0"),
                         Student("O'Brien <b>", 9223372036854775807, 0))

    def test_samples(self) -> None:
        """If a database is new, then its students are the original app's three."""
        self.assertEqual(SAMPLE_STUDENTS, (Student("Sara", 1800, 23), Student("Ali", 1866, 23),
                                           Student("Karam", 1711, 23)))

    def test_bad_fields(self) -> None:
        """If a field breaks its rule, then the error names the field and the rule."""
        for args, message in [
            (("", "1", "20"), "the name is empty"),
            (("a" * 101, "1", "20"), "the name is longer than 100 characters"),
            (("Sa\nra", "1", "20"), "the name has a control character"),
            (("Sara", "", "20"), "bad ID '': use a whole number from 0 to 9223372036854775807"),
            (("Sara", "x", "20"), "bad ID 'x': use a whole number from 0 to 9223372036854775807"),
            (("Sara", "9223372036854775808", "20"),
             "bad ID '9223372036854775808': use a whole number from 0 to 9223372036854775807"),
            (("Sara", "1", "-1"), "bad age '-1': use a whole number from 0 to 150"),
            (("Sara", "1", "151"), "bad age '151': use a whole number from 0 to 150"),
            (("Sara", "1", "twenty"), "bad age 'twenty': use a whole number from 0 to 150"),
        ]:
            with self.assertRaises(ValueError, msg=repr(args)) as caught:
                make_student(*args)
            self.assertEqual(str(caught.exception), message)


class ReadCSVTests(SynchronousTestCase):
    def write(self, content: str | bytes) -> str:
        return write_file(self, "students.csv", content)

    def test_good(self) -> None:
        """
        If the CSV has a byte-order mark, CRLF line ends, a blank line and a quoted name, then
        each student comes back with the number of its line.
        """
        path = self.write('\ufeffName,ID,Age\r\nSara,1800,23\r\n\r\n"Doe, Jane",7,30\r\n')
        self.assertEqual(
            read_students_csv(path),
            [(2, Student("Sara", 1800, 23)), (4, Student("Doe, Jane", 7, 30))],
        )

    def assertFileError(self, content, line, message) -> None:
        path = self.write(content)
        with self.assertRaises(FileFormatError) as caught:
            read_students_csv(path)
        where = f"{path}, line {line}" if line else path
        error = caught.exception
        self.assertEqual((error.path, error.line, error.message, str(error)),
                         (path, line, message, f"{where}: {message}"))

    def test_bad_files(self) -> None:
        """If a CSV has a problem, then the first one is reported with its file and line."""
        self.assertFileError("id,name,age\n1,A,2\n", 1,
                             "the first line must be the header name,id,age")
        self.assertFileError("name,id,age\nA,1,20\nB,x,20\n", 3,
                             "bad ID 'x': use a whole number from 0 to 9223372036854775807")
        self.assertFileError("name,id,age\nA,1,20\nB,2\n", 3, "expected 3 fields (name,id,age),"
                             " found 2")
        self.assertFileError("name,id,age\nA,1,20\n\nB,1,21\n", 4, "ID 1 is on line 2 too")
        self.assertFileError('name,id,age\n"A,1,20\n', 2,
                             "not valid CSV: unexpected end of data")
        self.assertFileError(b"name,id,age\nA,1,20\nB\xff,2,20\n", 3, "not valid UTF-8")
        self.assertFileError("name,id,age\n\n", None, "no students found")
        self.assertFileError("", None, "no students found")

    def test_missing_file(self) -> None:
        """If the file does not exist, then the error names it and says so."""
        path = os.path.join(temp_dir(self), "nowhere.csv")
        with self.assertRaises(FileFormatError) as caught:
            read_students_csv(path)
        self.assertEqual((caught.exception.line, str(caught.exception)),
                         (None, f"{path}: No such file or directory"))
