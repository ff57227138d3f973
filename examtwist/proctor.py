"""
The proctor: the exam desk's part that runs attempts by their test's rules (docs/protocol.md,
"Test rules"). It starts or continues an attempt, takes its answers, and ends it (graded,
time up, abandoned) or suspends it. It knows no transport and no reply codes.

An attempt of a test whose rules are off lives in memory and is written once, when it ends,
with its answers. One that can be continued (an attempts limit or a deadline) is stored when
it starts and each answer before the next question is sent, held by one connection: a TAKE of
the same attempt elsewhere moves it, and the old holder is told here (same node) or by its
next write (another node).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from twisted.internet.defer import Deferred, ensureDeferred, succeed
from twisted.logger import Logger

from examtwist.attempts import Attempt, draw_order
from examtwist.storage import Ending, Fresh, Result, TakenOver, utc_text
from examtwist.storage.records import utc_seconds
from examtwist.testbank import DEFAULT_RESUME_WINDOW, Question, Test
from examtwist.wire import format_grade

log = Logger()


class NoSuchTest(Exception):
    """TAKE or INFO of a number or name no test has (or a test without questions)."""


class TestNotOpen(Exception):
    """TAKE of a test outside its window."""


class Grade(NamedTuple):
    tenths: int
    correct: int
    total: int


class Proctor:
    """
    A mixin of L{examtwist.desk.ExamDesk}, which gives it C{store}, C{clock} (the reactor:
    C{seconds} and C{callLater}) and C{node} (L{examtwist.nodes.Node}), and may set
    C{resume_window}.
    """

    resume_window: float = DEFAULT_RESUME_WINDOW

    def start_proctoring(self) -> None:
        # The attempts this node's connections hold: who holds each, and how to tell them.
        self._held: dict[int, tuple[str, Callable[[], None]]] = {}

    def _now(self) -> str:
        """Now, as times are stored, by the desk's clock."""
        return utc_text(self.clock.seconds())

    def start(self, username: str, wanted: str, address: str,
              taken_over: Callable[[], None] = lambda: None) -> Deferred[Attempt]:
        """
        Begin an attempt of the test EXAMS lists under this number, or with this name in any
        case; or continue the user's open attempt of it. C{taken_over} is called if another
        connection continues it later.
        @raise NoSuchTest: (in the Deferred) @raise TestNotOpen: (in the Deferred)
        @raise examtwist.storage.NoAttemptsLeft: (in the Deferred)
        """
        return self.store.find_test(wanted).addCallback(
            self._start, wanted, username, address, taken_over
        )

    def _start(self, test: Test | None, wanted: str, username: str, address: str, taken_over):
        if test is None:
            raise NoSuchTest(wanted)
        now = self.clock.seconds()
        rules = test.rules
        if not rules.is_open(now):
            raise TestNotOpen(test.name)
        if not rules.continuable:
            return Attempt(test, self._now(), username, address, draw_order(test))
        return ensureDeferred(self._take(test, username, address, taken_over, now))

    async def _take(self, test: Test, username: str, address: str, taken_over, now: float):
        deadline = test.rules.deadline(now)
        fresh = Fresh(utc_text(now), None if deadline is None else utc_text(deadline),
                      draw_order(test), len(test.questions), address)
        holder = self.node.holder()
        taken = await self.store.take_attempt(username, test.name, test.rules.attempts, fresh,
                                              holder, now, self.resume_window)
        attempt = Attempt(
            test, taken.started_at, username, address, taken.order,
            None if taken.deadline is None else utc_seconds(taken.deadline),
            taken.id, holder, index=taken.answered, correct=taken.correct,
        )
        before = self._held.get(taken.id)
        self._held[taken.id] = (holder, taken_over)
        if taken.continued:
            log.info("{user} continues {test} from question {number} ({address})",
                     user=username, test=test.name, number=taken.answered + 1, address=address)
        if before is not None:
            before[1]()
        return attempt

    def time_left(self, attempt: Attempt) -> int | None:
        """Whole seconds to the attempt's deadline, rounded down; None without one."""
        if attempt.deadline is None:
            return None
        left = attempt.deadline - self.clock.seconds()
        return max(0, -int(-left // 1) - 1)

    def answer(self, attempt: Attempt, letter: str) -> tuple[Question, int, int] | Deferred:
        """
        Record an answer (A to D) to the open question: the next question with its number and
        the count, or a Deferred of it (an attempt that can be continued stores each answer
        first), or, after the last one, a Deferred that fires with the grade once it is
        stored. If the answer cannot be stored, its question is open again.
        @raise TakenOver: (in the Deferred) another connection holds the attempt now.
        """
        last = attempt.answer(letter, utc_text(self.clock.seconds()))
        if attempt.id is None:
            if not last:
                return attempt.open_question()
            return self._end(attempt, "graded")
        given = attempt.last_answer()
        if last:
            attempt.finishing = True
            ending = Ending("graded", attempt.tenths / 10, given.answered_at)
        else:
            ending = None

        def stored(_):
            if last:
                return self._ended(None, attempt, "graded")
            return attempt.open_question()

        return self.store.record_answer(attempt.id, attempt.holder, given, ending).addCallbacks(
            stored, self._not_stored, errbackArgs=(attempt,)
        )

    def _not_stored(self, failure, attempt: Attempt):
        if failure.check(TakenOver):
            self._let_go(attempt)
        else:
            attempt.undo_last()
        return failure

    def time_up(self, attempt: Attempt) -> Deferred[Grade]:
        """End an attempt at its deadline: graded, the questions not answered wrong."""
        return self._end(attempt, "time_up")

    def abandon(self, attempt: Attempt) -> Deferred[None]:
        """QUIT during a test: recorded abandoned. A failure is logged, never raised."""
        if attempt.finishing:
            return succeed(None)
        return self._end(attempt, "abandoned").addErrback(self._not_abandoned)

    def leave(self, attempt: Attempt) -> Deferred[None]:
        """
        The connection has gone mid-test: an attempt that can be continued is suspended, any
        other abandoned. A failure is logged, never raised.
        """
        if attempt.id is None or attempt.finishing:
            return self.abandon(attempt)
        self._let_go(attempt)
        return self.store.suspend_attempt(attempt.id, attempt.holder, self._now()).addCallbacks(
            lambda _: None, self._not_abandoned
        )

    def _not_abandoned(self, failure) -> None:
        if not failure.check(TakenOver):
            log.failure("Could not record an attempt left unfinished", failure)

    def _end(self, attempt: Attempt, outcome: str) -> Deferred:
        attempt.finishing = True
        grade = None if outcome == "abandoned" else attempt.tenths / 10
        finished = self._now()
        if outcome == "time_up":
            finished = utc_text(min(attempt.deadline, self.clock.seconds()))
        if attempt.id is not None:
            written = self.store.end_attempt(
                attempt.id, attempt.holder, Ending(outcome, grade, finished)
            )
        else:
            written = self.store.record_result(
                Result(attempt.username, attempt.test.name, outcome, attempt.correct,
                       attempt.index, attempt.total, grade, attempt.started, finished,
                       attempt.address),
                attempt.order, attempt.answers,
            )

        def not_written(failure):
            if failure.check(TakenOver):
                self._let_go(attempt)
            elif outcome == "graded":
                attempt.undo_last()
            return failure

        return written.addCallbacks(self._ended, not_written, callbackArgs=(attempt, outcome))

    def _ended(self, _, attempt: Attempt, outcome: str) -> Grade | None:
        self._let_go(attempt)
        if outcome == "abandoned":
            return None
        log.info(
            "{user} scored {grade} on {test} ({correct}/{total})" if outcome == "graded" else
            "{user} ran out of time on {test}: {grade} ({correct}/{total})",
            user=attempt.username, grade=format_grade(attempt.tenths), test=attempt.test.name,
            correct=attempt.correct, total=attempt.total, outcome=outcome,
        )
        return Grade(attempt.tenths, attempt.correct, attempt.total)

    def _let_go(self, attempt: Attempt) -> None:
        held = self._held.get(attempt.id)
        if held is not None and held[0] == attempt.holder:
            del self._held[attempt.id]
