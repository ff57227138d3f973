"""
What the teacher's pages show, as the teacher's area asks the store for it: the attempts as
they stand when asked, under the servers' resume window, and the reports of the two live pages
(the tests, one test) kept for L{FRESH} seconds and shared by every teacher who asks
meanwhile. However many teachers reload a test's page, the store reads that test at most once
every L{FRESH} seconds, and a teacher who asks while it is being read waits for that read
rather than starting another. L{FRESH} is shorter than the pages' refresh, so what a live page
shows is never older than the page.
"""

from __future__ import annotations

from typing import Callable, Hashable

from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.python.failure import Failure

from examtwist.storage.records import utc_text
from examtwist.testbank import DEFAULT_RESUME_WINDOW

FRESH = 5.0
# Reports kept at most: one per test a teacher looked at lately, and the tests' overview.
MOST = 64


class _Kept:
    def __init__(self, until: float) -> None:
        self.until = until
        self.waiting: list[Deferred] | None = []
        self.answer: object = None


class Kept:
    """
    Answers kept for C{seconds} from when their read began, by key, each read by one caller
    at a time; a read that failed is not kept. At most C{most} keys: the oldest goes first.
    """

    def __init__(self, clock, seconds: float = FRESH, most: int = MOST) -> None:
        self._clock, self._seconds, self._most = clock, seconds, most
        self._kept: dict[Hashable, _Kept] = {}

    def get(self, key: Hashable, read: Callable[[], Deferred]) -> Deferred:
        """The answer kept under C{key}, or C{read()}'s once it comes. Cancelling one caller's
        Deferred does not stop the read, which others may wait for."""
        kept = self._kept.get(key)
        if kept is None or kept.until <= self._clock.seconds():
            kept = self._read(key, read)
        if kept.waiting is None:
            return succeed(kept.answer)
        mine: Deferred = Deferred()
        kept.waiting.append(mine)
        return mine

    def forget(self) -> None:
        """Keep nothing read so far: the next caller of each key reads again."""
        self._kept.clear()

    def _read(self, key: Hashable, read: Callable[[], Deferred]) -> _Kept:
        now = self._clock.seconds()
        for old in [k for k, kept in self._kept.items() if kept.until <= now]:
            del self._kept[old]
        while len(self._kept) >= self._most:
            del self._kept[next(iter(self._kept))]
        kept = self._kept[key] = _Kept(now + self._seconds)

        def done(answer):
            kept.answer, (waiting, kept.waiting) = answer, (kept.waiting, None)
            if isinstance(answer, Failure) and self._kept.get(key) is kept:
                del self._kept[key]
            for caller in waiting:  # one cancelled meanwhile ignores this (Twisted's rule)
                caller.callback(answer)

        maybeDeferred(read).addBoth(done)
        return kept


class TeacherReports:
    """
    The store's reads for the teacher's pages, at the clock's time, with the servers' resume
    window; the live pages' kept (L{Kept}). C{lately}: the live counts' span (the refresh).
    """

    def __init__(self, store, clock, resume_window: float = DEFAULT_RESUME_WINDOW,
                 lately: float = 10.0, fresh: float = FRESH) -> None:
        self._store, self._clock = store, clock
        self._window, self._lately = resume_window, lately
        self._kept = Kept(clock, fresh)

    def tests(self) -> Deferred:
        """Every test with its counts (L{examtwist.storage.gradebook.TestRow})."""
        return self._kept.get("tests", lambda: self._store.test_overview(
            self._clock.seconds(), self._window))

    def test(self, name: str) -> Deferred:
        """A test's L{examtwist.storage.gradebook.TestReport}, or None if there is none."""
        return self._kept.get(("test", name), self._read_test(name))

    def _read_test(self, name: str):
        def read():
            now = self._clock.seconds()
            return self._store.test_report(name, utc_text(now - self._lately), now,
                                           self._window)
        return read

    def rules_changed(self) -> None:
        """A teacher set a test's rules: the next page shows them, read anew."""
        self._kept.forget()

    def attempts_of_test(self, name: str) -> Deferred:
        return self._store.attempts_of_test(name, self._clock.seconds(), self._window)

    def attempts_of_student(self, name: str) -> Deferred:
        """None if there is no such student."""
        return self._store.attempts_of_student(name, self._clock.seconds(), self._window)

    def students(self) -> Deferred:
        return self._store.student_overview()
