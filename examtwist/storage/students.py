"""The students the web lookup shows: their records, by ID (L{examtwist.students.Student})."""

from __future__ import annotations

from examtwist.storage.records import StudentExists
from examtwist.students import MAX_ID, Student


def add_students(txn, students, replace: bool) -> None:
    """
    All of them or none; with C{replace}, in the place of every stored student.

    @raise StudentExists: naming the first student whose ID is taken.
    """
    if replace:
        clear_students(txn)
    insert_students(txn, students)


def insert_students(txn, students) -> None:
    """@raise StudentExists: naming the first student whose ID is taken."""
    for student in students:
        txn.execute(
            "INSERT INTO students (id, name, age) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
            (student.id, student.name, student.age),
        )
        if txn.rowcount != 1:
            raise StudentExists(student)


def get_student(txn, student_id: int) -> Student | None:
    """The student with this ID, None if none (an ID too large to store is nobody's)."""
    if not 0 <= student_id <= MAX_ID:
        return None
    txn.execute("SELECT name, id, age FROM students WHERE id = ?", (student_id,))
    row = txn.fetchone()
    return Student(*row) if row else None


def list_students(txn) -> list[Student]:
    txn.execute("SELECT name, id, age FROM students ORDER BY id")
    return [Student(*row) for row in txn.fetchall()]


def clear_students(txn) -> int:
    """Remove every student; how many there were."""
    txn.execute("DELETE FROM students")
    return txn.rowcount
