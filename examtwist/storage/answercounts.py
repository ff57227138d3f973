"""
How often each choice of each question was chosen (table C{answer_counts}, schema 9): added to
in the transaction that stores the answers, so that the teacher's page reads a few rows rather
than every answer of a test (L{examtwist.storage.gradebook}).

A batch of answers adds to each row once, after the answers, in the order of the rows' keys:
on PostgreSQL two nodes' batches then wait for each other on a row rather than deadlock, and
hold the rows only until they commit.
"""

from __future__ import annotations

from collections import Counter

_ADD = (
    "INSERT INTO answer_counts (test_id, position, meant, chosen, correct) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (test_id, position, meant) DO UPDATE SET"
    " chosen = answer_counts.chosen + excluded.chosen,"
    " correct = answer_counts.correct + excluded.correct"
)


class AnswerCounts:
    """The answers of one transaction, counted by test, question and choice meant."""

    def __init__(self) -> None:
        self._chosen: Counter = Counter()
        self._correct: Counter = Counter()

    def add(self, test_id: int, answers) -> None:
        """Count L{examtwist.storage.attempts.Answer}s given in an attempt of test C{test_id}."""
        for answer in answers:
            key = (test_id, answer.position, answer.meant)
            self._chosen[key] += 1
            self._correct[key] += int(answer.correct)

    def write(self, txn) -> None:
        """Add them to the table."""
        if self._chosen:
            txn.executemany(_ADD, [(*key, self._chosen[key], self._correct[key])
                                   for key in sorted(self._chosen)])


def of_test(txn, test_id: int) -> dict[int, dict[str, tuple[int, int]]]:
    """By question position and letter meant: (chosen, correct)."""
    txn.execute("SELECT position, meant, chosen, correct FROM answer_counts WHERE test_id = ?",
                (test_id,))
    found: dict[int, dict[str, tuple[int, int]]] = {}
    for position, meant, chosen, correct in txn.fetchall():
        found.setdefault(position, {})[meant] = (chosen, correct)
    return found
