"""
C{python -m bench.ruled_tests DB COUNT TIME_LIMIT}: the tests with rules the "ruled" scenario
sits, added to a fresh database before its server starts.

Each is the built-in math test's five questions under a name of its own (C{ruled1},
C{ruled2}, …) with the rules an exam has: one attempt per user, shuffled questions and
choices, a time limit of C{TIME_LIMIT} seconds. A student may sit each once, so a logged-in
student sits the next one when it is done with one: the load measures answering, not the
registrations and logins a fresh account per attempt would cost.

It stores them through examtwist's own L{examtwist.storage.Store}, as C{examtwist exams
import} and C{examtwist exams set NAME --attempts 1 --time-limit N --shuffle} would.
"""

from __future__ import annotations

import sys

from twisted.internet.task import react

from examtwist.storage import Store
from examtwist.testbank import BUILTIN_TESTS, Rules, Test

PREFIX = "ruled"


def ruled_test(number: int, time_limit: int) -> Test:
    """The C{number}th ruled test: math's questions, one attempt, shuffled, timed."""
    [math] = [test for test in BUILTIN_TESTS if test.name == "math"]
    return Test(f"{PREFIX}{number}", math.questions,
                Rules(attempts=1, time_limit=time_limit, shuffled=True))


async def add(reactor, path: str, count: int, time_limit: int) -> None:
    store = Store(reactor, path)
    await store.start()
    try:
        for number in range(1, count + 1):
            await store.add_test(ruled_test(number, time_limit))
    finally:
        await store.close()


def main(argv: list[str]) -> None:
    path, count, time_limit = argv
    react(lambda reactor: add(reactor, path, int(count), int(time_limit)))


if __name__ == "__main__":
    main(sys.argv[1:])
