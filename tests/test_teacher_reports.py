"""
What the teacher's pages read, and how cheaply: reports kept a few seconds and shared
(L{examtwist.teacherreports.Kept}, on a Clock), the counts from schema 9's answer_counts and
the attempts' indexes, open attempts whose time has come counted as ended, and the pages'
reads on a connection of their own, beside the exam's writes (SQLite, and PostgreSQL in the
Postgres* classes).
"""

from __future__ import annotations

import threading

from twisted.internet import reactor
from twisted.internet.defer import CancelledError, Deferred, fail
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase, TestCase

from examtwist.storage import Order, Result, TakenOver, gradebook
from examtwist.storage.attempts import Answer, Fresh
from examtwist.storage.engines import database_errors
from examtwist.storage.gradebook import AttemptRow, TestRow
from examtwist.storage.records import utc_text
from examtwist.teacherreports import Kept
from examtwist.testbank import Rules
from tests.support import OnPostgres, backend_of, open_store

T = 1796115600  # 2026-12-01 09:00:00 UTC


class _Reads:
    """A store's read, by hand: each call a Deferred the test fires."""

    def __init__(self) -> None:
        self.pending: list[Deferred] = []

    def __call__(self) -> Deferred:
        self.pending.append(Deferred())
        return self.pending[-1]


def _results(deferreds) -> list:
    found = []
    for d in deferreds:
        d.addBoth(found.append)
    return found


class KeptTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock, self.reads = Clock(), _Reads()
        self.kept = Kept(self.clock, 5.0, most=3)

    def test_one_read_for_every_teacher(self):
        """
        If three teachers ask for math's report while it is being read, then it is read once
        and all three get it; 4.9 s after the read began a fourth gets it without a read; at
        5 s the next asks the store again.
        """
        waiting = _results([self.kept.get("math", self.reads) for _ in range(3)])
        self.assertEqual((len(self.reads.pending), waiting), (1, []))
        self.clock.advance(1)
        self.reads.pending[0].callback("report 1")
        self.clock.advance(3.9)
        later = _results([self.kept.get("math", self.reads)])
        self.assertEqual((len(self.reads.pending), waiting, later),
                         (1, ["report 1"] * 3, ["report 1"]))
        self.clock.advance(0.1)
        again = _results([self.kept.get("math", self.reads)])
        self.reads.pending[1].callback("report 2")
        self.assertEqual((len(self.reads.pending), again), (2, ["report 2"]))

    def test_failure_not_kept(self):
        """
        If a read fails, then the teachers waiting for it get the failure, and the next teacher
        at once asks the store again.
        """
        waiting = _results([self.kept.get("math", self.reads) for _ in range(2)])
        self.reads.pending[0].errback(RuntimeError("database gone"))
        self.assertEqual([f.value.args for f in waiting], [("database gone",)] * 2)
        again = _results([self.kept.get("math", self.reads)])
        self.reads.pending[1].callback("report")
        self.assertEqual((len(self.reads.pending), again), (2, ["report"]))

    def test_cancelled_teacher(self):
        """
        If one teacher's browser goes away while the report is read, then only that teacher's
        Deferred is cancelled: the read goes on and the other teacher gets the report.
        """
        leaving, staying = self.kept.get("math", self.reads), self.kept.get("math", self.reads)
        left, stayed = _results([leaving]), _results([staying])
        leaving.cancel()
        self.reads.pending[0].callback("report")
        self.assertEqual(([f.type for f in left], stayed), ([CancelledError], ["report"]))

    def test_forget(self):
        """
        If the rules change while a report is read (forget), then the teachers waiting get the
        report being read, and the next teacher asks the store again.
        """
        waiting = _results([self.kept.get("math", self.reads)])
        self.kept.forget()
        after = _results([self.kept.get("math", self.reads)])
        self.reads.pending[0].callback("before")
        self.reads.pending[1].callback("after")
        self.assertEqual((waiting, after), (["before"], ["after"]))

    def test_most(self):
        """
        If a fourth test's report is asked for while three are kept (at most 3 here), then the
        first asked for is dropped and read again; the others are still kept.
        """
        for name in ("a", "b", "c", "d"):
            self.kept.get(name, self.reads)
        for read in self.reads.pending:
            read.callback("x")
        for name in ("b", "c", "d", "a"):
            self.kept.get(name, self.reads)
        self.assertEqual(len(self.reads.pending), 5)

    def test_synchronous_failure(self):
        """If the read fails at once, then the teacher gets that failure and nothing is kept."""
        got = _results([self.kept.get("math", lambda: fail(ValueError("no")))])
        again = _results([self.kept.get("math", self.reads)])
        self.assertEqual(([f.type for f in got], again, len(self.reads.pending)),
                         ([ValueError], [], 1))


class GradebookTests(TestCase):
    """A real store: what the teacher's pages read from it."""

    async def setUp(self):
        self.store = await open_store(self)
        for name in ("amy", "ben", "cat", "dan"):
            await self.store.add_user(name, "not a hash")

    async def _take(self, name: str, started: int, deadline: int | None,
                    node: str = "node1") -> int:
        fresh = Fresh(utc_text(started), None if deadline is None else utc_text(deadline),
                      Order("", ""), 5, "127.0.0.1")
        taken = await self.store.take_attempt(name, "math", None, fresh, f"{node}/{name}",
                                              started, 1800)
        return taken.id

    async def test_overdue_attempts_are_not_in_progress(self):
        """
        If amy's attempt (1 right) passed its deadline at 09:10, ben's was suspended at 09:00:10
        and the resume window of 10 min ran out, and cat is still in it, then at 09:11:40 the
        page counts 1 in progress, 1 finished (time up, 20.0 %) and 1 abandoned, as settling
        them stores them afterwards; until then the database still holds three open attempts.
        """
        amy = await self._take("amy", T, T + 600)
        await self.store.record_answer(amy, "node1/amy",
                                       Answer(1, 1, "B", "B", True, utc_text(T + 5)))
        ben = await self._take("ben", T + 1, None)
        await self.store.suspend_attempt(ben, "node1/ben", utc_text(T + 10))
        await self._take("cat", T + 2, None)
        now, window = T + 700, 600
        report = await self.store.test_report("math", utc_text(now - 10), now, window)
        row = TestRow("math", 5, Rules(), 1, 1, 1, 20.0, 20.0, "2026-12-01T09:10:10Z")
        latest = [
            AttemptRow("cat", "math", "open", None, 0, 0, 5, "2026-12-01T09:00:02Z", None, None),
            AttemptRow("ben", "math", "abandoned", None, 0, 0, 5, "2026-12-01T09:00:01Z",
                       "2026-12-01T09:10:10Z", 609),
            AttemptRow("amy", "math", "time_up", 20.0, 1, 1, 5, "2026-12-01T09:00:00Z",
                       "2026-12-01T09:10:00Z", 600),
        ]
        self.assertEqual((report.row, report.histogram, report.latest),
                         (row, (0, 0, 1, 0, 0, 0, 0, 0, 0, 0), latest))
        self.assertEqual(await self.store.test_overview(now, window),
                         [row, TestRow("python", 5, Rules(), 0, 0, 0, None, None, None)])
        self.assertEqual(await self.store.attempts_of_student("amy", now, window), latest[2:])
        self.assertEqual(await self.store.count_open_attempts("math"), 3)
        await self.store.list_results(now=now, resume_window=window)  # settles them
        settled = await self.store.test_report("math", utc_text(now - 10), now, window)
        self.assertEqual((settled.row, settled.latest), (row, latest))

    async def test_counts(self):
        """
        If amy, ben, cat and dan got 20, 40, 60 and 100 % in math, then the report says 4
        finished, mean 55.0 %, median 50.0 %, bars 1/1/1/1 in the 20s, 40s, 60s and 90-100, and
        per question how often each choice was chosen and how often rightly, from
        answer_counts, which holds the same as the answers.
        """
        chosen = {"amy": "BBBBB", "ben": "BDBBB", "cat": "BDCBB", "dan": "BDCAC"}
        for number, (name, letters) in enumerate(chosen.items()):
            right = sum(a == b for a, b in zip(letters, "BDCAC"))
            answers = tuple(Answer(i, i, c, c, c == "BDCAC"[i - 1], utc_text(T + 60))
                            for i, c in enumerate(letters, 1))
            await self.store.record_result(
                Result(name, "math", "graded", right, 5, 5, right * 20.0, utc_text(T + number),
                       utc_text(T + 60), "127.0.0.1"), Order("", ""), answers)
        report = await self.store.test_report("math", utc_text(T + 55), T + 65, 1800)
        self.assertEqual((report.row[3:], report.histogram, report.started_lately,
                          report.ended_lately),
                         ((0, 4, 0, 55.0, 50.0, "2026-12-01T09:01:00Z"),
                          (0, 0, 1, 0, 1, 0, 1, 0, 0, 1), 0, 4))
        self.assertEqual([(q.answered, q.right, q.chosen) for q in report.questions], [
            (4, 4, (0, 4, 0, 0)), (4, 3, (0, 1, 0, 3)), (4, 2, (0, 2, 2, 0)),
            (4, 1, (1, 3, 0, 0)), (4, 1, (0, 3, 1, 0))])
        sql = backend_of(self).execute
        counted = "SELECT position, meant, chosen, correct FROM answer_counts ORDER BY 1, 2"
        from_answers = ("SELECT position, meant, count(*), sum(correct) FROM answers"
                        " GROUP BY position, meant ORDER BY 1, 2")
        self.assertEqual(sql(self.store.path, counted), sql(self.store.path, from_answers))

    async def test_held_attempts_answers_counted(self):
        """
        If amy answers A then B to math's first two questions in a held attempt, and a
        connection that no longer holds it sends a third, then answer_counts holds (1, A, 1
        chosen, 0 right) and (2, B, 1, 0) only.
        """
        amy = await self._take("amy", T, T + 600)
        await self.store.record_answer(amy, "node1/amy",
                                       Answer(1, 1, "A", "A", False, utc_text(T + 5)))
        await self.store.record_answer(amy, "node1/amy",
                                       Answer(2, 2, "B", "B", False, utc_text(T + 6)))
        await self._take("amy", T + 7, T + 600, "node2")  # continued on another node
        refused = self.store.record_answer(amy, "node1/amy",
                                           Answer(3, 3, "C", "C", True, utc_text(T + 9)))
        await self.assertFailure(refused, TakenOver)
        self.assertEqual(backend_of(self).execute(
            self.store.path,
            "SELECT test_id, position, meant, chosen, correct FROM answer_counts ORDER BY 2"),
            [(1, 1, "A", 1, 0), (1, 2, "B", 1, 0)])

    async def test_writes_do_not_wait_for_the_pages(self):
        """
        If a teacher's report is still being read, then a student's result is stored
        meanwhile: the exam's writes do not wait behind the pages' reads.
        """
        release = threading.Event()
        # So that a failure ends rather than hangs.
        safety = reactor.callLater(20, release.set)
        self.addCleanup(lambda: safety.active() and safety.cancel())

        def slow_report(txn, *args):
            release.wait()
            return "report"

        self.patch(gradebook, "test_report", slow_report)
        reading = self.store.test_report("math", utc_text(T), T, 1800)
        await self.store.record_result(Result("amy", "math", "graded", 5, 5, 5, 100.0,
                                              utc_text(T), utc_text(T + 60), "127.0.0.1"))
        stored_while_reading = not release.is_set()
        release.set()
        self.assertEqual((stored_while_reading, await reading), (True, "report"))

    async def test_pages_cannot_write(self):
        """
        If a read of the pages tried to write, then the database refuses it (the reading
        connection is read-only) and no account is added.
        """
        def writing(txn):
            txn.execute("UPDATE users SET password_hash = 'x' WHERE username = 'amy'")

        self.patch(gradebook, "students", writing)
        await self.assertFailure(self.store.student_overview(), *database_errors())
        self.assertEqual(backend_of(self).execute(
            self.store.path, "SELECT password_hash FROM users WHERE username = 'amy'"),
            [("not a hash",)])


class PostgresGradebookTests(OnPostgres, GradebookTests):
    pass
