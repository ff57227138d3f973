"""
The tests and their questions, and the copy of them kept in memory.

EXAMS and TAKE come many at a time under load: the store answers them from a L{TestBank} read
once and checked against a version number that every change to the tests raises, so a test
the admin command (or another node) imports is seen at once.
"""

from __future__ import annotations

from examtwist.storage.records import TestExists, TestSummary
from examtwist.testbank import Question, Test


class TestBank:
    """Every stored test in number order, as EXAMS lists them and TAKE looks them up."""

    def __init__(self, tests: list[tuple[str, tuple[Question, ...]]]) -> None:
        self.summaries = [
            TestSummary(number, name, len(questions))
            for number, (name, questions) in enumerate(tests, 1)
        ]
        # A test without questions is listed but cannot be taken.
        self._tests = [Test(name, questions) if questions else None for name, questions in tests]
        self._by_name = {_fold(test.name): test for test in self._tests if test is not None}

    def find(self, wanted: str) -> Test | None:
        """By number, or by an ASCII name in any case (the store asks the database otherwise)."""
        if wanted.isdigit():
            number = int(wanted)
            return self._tests[number - 1] if 1 <= number <= len(self._tests) else None
        return self._by_name.get(_fold(wanted))


# Every database's lower() folds A-Z so; letters beyond ASCII are the database's business.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _fold(name: str) -> str:
    return name.translate(_ASCII_LOWER)


class BankCache:
    """
    The last L{TestBank} read and the tests_version it was read at, as one tuple: worker
    threads replace it whole, so none sees a bank with another's version.
    """

    def __init__(self) -> None:
        self.current: tuple[int, TestBank] | None = None


def fresh_bank(txn, calls: list, cache: BankCache) -> list[TestBank]:
    """The tests as stored now, for each call: the cached bank, unless their version moved on."""
    txn.execute("SELECT version FROM tests_version")
    version = txn.fetchone()[0]
    current = cache.current
    if current is None or current[0] != version:
        current = cache.current = (version, _read_bank(txn))
    return [current[1]] * len(calls)


def _read_bank(txn) -> TestBank:
    txn.execute("SELECT id, name FROM tests ORDER BY id")
    tests = {test_id: (name, []) for test_id, name in txn.fetchall()}
    txn.execute(
        "SELECT test_id, text, choice_a, choice_b, choice_c, choice_d, answer FROM questions"
        " ORDER BY test_id, position"
    )
    for test_id, *question in txn.fetchall():
        tests[test_id][1].append(_question(*question))
    return TestBank([(name, tuple(questions)) for name, questions in tests.values()])


def _question(text: str, a: str, b: str, c: str, d: str, answer: str) -> Question:
    """A question from its row: its lines are stored as one text."""
    return Question(tuple(text.split("\n")), (a, b, c, d), answer)


def find_test(txn, wanted: str) -> Test | None:
    """A test by a name beyond ASCII, matched by the database's lower() as its index is."""
    txn.execute("SELECT id, name FROM tests WHERE lower(name) = lower(?)", (wanted,))
    found = txn.fetchone()
    if found is None:
        return None
    test_id, name = found
    txn.execute(
        "SELECT text, choice_a, choice_b, choice_c, choice_d, answer FROM questions"
        " WHERE test_id = ? ORDER BY position",
        (test_id,),
    )
    questions = tuple(_question(*row) for row in txn.fetchall())
    return Test(name, questions) if questions else None


def add_test(txn, test: Test, replace: bool, now: str) -> None:
    """
    With C{replace}, a test of that name gets the new questions and keeps its number.

    @raise TestExists: the name is taken and C{replace} is false.
    """
    txn.execute("UPDATE tests_version SET version = version + 1")
    txn.execute("SELECT id FROM tests WHERE lower(name) = lower(?)", (test.name,))
    row = txn.fetchone()
    if row is None:
        insert_test(txn, test, now)
    elif not replace:
        raise TestExists(test.name)
    else:
        txn.execute("DELETE FROM questions WHERE test_id = ?", (row[0],))
        _insert_questions(txn, row[0], test)


def insert_test(txn, test: Test, now: str) -> None:
    """A new test, numbered after every stored one."""
    txn.execute("INSERT INTO tests (name, created_at) VALUES (?, ?) RETURNING id", (test.name, now))
    _insert_questions(txn, txn.fetchone()[0], test)


def _insert_questions(txn, test_id: int, test: Test) -> None:
    txn.executemany(
        "INSERT INTO questions (test_id, position, text, choice_a, choice_b, choice_c, choice_d,"
        " answer) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (test_id, position, "\n".join(q.text), *q.choices, q.answer)
            for position, q in enumerate(test.questions, 1)
        ],
    )
