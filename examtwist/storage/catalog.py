"""
The tests and their questions, and the copy of them kept in memory.

EXAMS and TAKE come many at a time under load: the store answers them from a L{TestBank} read
once and checked against a version number that every change to the tests raises, so a test
the admin command (or another node) imports is seen at once.
"""

from __future__ import annotations

from examtwist.storage.records import TestExists, TestSummary, utc_seconds, utc_text
from examtwist.testbank import NO_RULES, Question, Rules, Test


class TestBank:
    """Every stored test in number order, as EXAMS lists them and TAKE looks them up."""

    def __init__(self, tests: list[Test]) -> None:
        self.summaries = [
            TestSummary(number, test.name, len(test.questions))
            for number, test in enumerate(tests, 1)
        ]
        self._windows = [(s, t.rules) for s, t in zip(self.summaries, tests) if t.rules.opens
                         is not None or t.rules.closes is not None]
        # A test without questions is listed but cannot be taken.
        self._tests = [test if test.questions else None for test in tests]
        self._by_name = {_fold(test.name): test for test in self._tests if test is not None}

    def listed(self, now: float) -> list[TestSummary]:
        """The tests EXAMS lists now: every one whose window (if any) is open."""
        if not self._windows:
            return self.summaries
        shut = {s.number for s, rules in self._windows if not rules.is_open(now)}
        return [s for s in self.summaries if s.number not in shut]

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


_TEST_COLUMNS = "id, name, max_attempts, time_limit, shuffled, opens_at, closes_at"


def _read_bank(txn) -> TestBank:
    txn.execute(f"SELECT {_TEST_COLUMNS} FROM tests ORDER BY id")
    tests = {row[0]: (row[1], _rules(*row[2:]), []) for row in txn.fetchall()}
    txn.execute(
        "SELECT test_id, text, choice_a, choice_b, choice_c, choice_d, answer FROM questions"
        " ORDER BY test_id, position"
    )
    for test_id, *question in txn.fetchall():
        tests[test_id][2].append(_question(*question))
    return TestBank([Test(name, tuple(qs), rules) for name, rules, qs in tests.values()])


def _question(text: str, a: str, b: str, c: str, d: str, answer: str) -> Question:
    """A question from its row: its lines are stored as one text."""
    return Question(tuple(text.split("\n")), (a, b, c, d), answer)


def _rules(attempts, time_limit, shuffled, opens_at, closes_at) -> Rules:
    if attempts is None and time_limit is None and not shuffled and opens_at is None \
            and closes_at is None:
        return NO_RULES
    return Rules(
        attempts, time_limit, bool(shuffled),
        None if opens_at is None else utc_seconds(opens_at),
        None if closes_at is None else utc_seconds(closes_at),
    )


def find_test(txn, wanted: str) -> Test | None:
    """A test by a name beyond ASCII, matched by the database's lower() as its index is."""
    txn.execute(f"SELECT {_TEST_COLUMNS} FROM tests WHERE lower(name) = lower(?)", (wanted,))
    found = txn.fetchone()
    if found is None:
        return None
    test_id, name = found[:2]
    txn.execute(
        "SELECT text, choice_a, choice_b, choice_c, choice_d, answer FROM questions"
        " WHERE test_id = ? ORDER BY position",
        (test_id,),
    )
    questions = tuple(_question(*row) for row in txn.fetchall())
    return Test(name, questions, _rules(*found[2:])) if questions else None


def set_rules(txn, name: str, rules: Rules) -> bool:
    """Give the test of this name (in any case) these rules; False if there is none."""
    txn.execute(
        "UPDATE tests SET max_attempts = ?, time_limit = ?, shuffled = ?, opens_at = ?,"
        " closes_at = ? WHERE lower(name) = lower(?)",
        (rules.attempts, rules.time_limit, int(rules.shuffled),
         None if rules.opens is None else utc_text(rules.opens),
         None if rules.closes is None else utc_text(rules.closes), name),
    )
    if txn.rowcount != 1:
        return False
    txn.execute("UPDATE tests_version SET version = version + 1")
    return True


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
    if test.rules is not NO_RULES:
        set_rules(txn, test.name, test.rules)


def insert_test(txn, test: Test, now: str) -> None:
    """A new test, numbered after every stored one (its rules are L{set_rules}' business)."""
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
