"""
Taking tests on the exam port: TAKE, INFO, RESULTS and the answers of a test under way, as a
mixin of the exam protocol. It makes the proctor's calls (L{examtwist.proctor}) and answers
what they decided; it keeps the timer of an attempt's deadline, which sends the unasked
"Time is up" grade, and closes the connection when another one continues its attempt.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from examtwist.desk import NoSuchTest, TestNotOpen
from examtwist.lines import State
from examtwist.rulelines import TIME_IS_UP, info_lines, result_line, time_left_line
from examtwist.storage import NoAttemptsLeft, TakenOver
from examtwist.wire import format_reply, grade_text, insert_line, parse_answer

log = Logger()

_NOT_AN_ANSWER = format_reply(501, "Answer with A, B, C or D")
_TAKEN_OVER = format_reply(421, "Test continued on another connection")


class TakingTests:
    """
    The verbs TAKE, INFO and RESULTS of L{examtwist.protocol.ExamProtocol}, and its lines
    during a test; the protocol gives them C{desk}, C{factory}, C{clock}, C{user}, C{reply},
    C{write}, C{hold}, C{stop} and C{handleLine}.
    """

    attempt = None
    _deadline = None  # the timer of the attempt's deadline
    _moved = False  # another connection continued this one's attempt: it is closing

    def do_TAKE(self, argument: str):
        if self.user is None:
            return self.reply(530, "Please log in first")
        wanted = argument.strip()
        if not wanted:
            return self.reply(501, "Usage: TAKE <number or name>, as EXAMS lists them")
        return self.desk.start(self.user, wanted, self.address, self._taken_over).addCallbacks(
            self._started, self._not_started
        )

    def _started(self, attempt) -> None:
        if self.state is State.CLOSING or self.state is State.CLOSED:
            self.desk.leave(attempt)  # the client went while it was being taken
            return
        self.attempt = attempt
        if attempt.deadline is not None:
            wait = max(0.0, attempt.deadline - self.clock.seconds())
            self._deadline = self.clock.callLater(wait, self._deadline_passed, attempt)
        self._ask()

    def _not_started(self, failure) -> None:
        refusal = failure.trap(NoSuchTest, TestNotOpen, NoAttemptsLeft)
        if refusal is NoSuchTest:
            return self.reply(550, "No such test")
        self.reply(554, "Test is not open" if refusal is TestNotOpen else "No attempts left")

    def _ask(self) -> None:
        """Send the open question, formatted once; with its time left if it has a clock."""
        attempt = self.attempt
        reply = self.factory.question_reply(*attempt.open_question())
        if attempt.deadline is not None:
            reply = insert_line(reply, 1, time_left_line(self.desk.time_left(attempt)))
        self.write(reply)

    def do_INFO(self, argument: str):
        wanted = argument.strip()
        if not wanted:
            return self.reply(501, "Usage: INFO <number or name>, as EXAMS lists them")
        return self.desk.info(wanted, self.user).addCallbacks(
            lambda info: self.reply(213, *info_lines(info, self.user is not None)),
            self._not_started,
        )

    def do_RESULTS(self, argument: str):
        if self.user is None:
            return self.reply(530, "Please log in first")
        return self.desk.results(self.user).addCallback(
            lambda results: self.reply(216, "Your results:", *map(result_line, results),
                                       "End of list")
        )

    # A test under way: a third of a student's lines; the question replies are formatted once.

    def time_is_up(self) -> bool:
        """Whether the attempt under way is past its deadline (its timer may not have run)."""
        deadline = self.attempt.deadline
        return deadline is not None and self.clock.seconds() >= deadline

    def answer(self, text: str):
        """A line during a test: an answer; or, past the deadline, any line (QUIT too)."""
        attempt = self.attempt
        if self.time_is_up():
            # Time is up before this line: its grade first, then the line outside the test.
            return self._time_up(attempt).addCallback(self._after_time_up, text)
        letter = parse_answer(text)
        if letter is None:
            return self.write(_NOT_AN_ANSWER)
        outcome = self.desk.answer(attempt, letter)
        if type(outcome) is tuple:
            return self.write(self.factory.question_reply(*outcome))
        return outcome.addCallbacks(self._after_answer, self._lost_attempt)

    def _after_answer(self, outcome) -> None:
        attempt = self.attempt
        if attempt is None:
            return
        if type(outcome) is not tuple:
            return self._graded(outcome)
        if attempt.deadline is not None and self.clock.seconds() >= attempt.deadline:
            return self._time_up(attempt)
        self._ask()

    def _after_time_up(self, _, text: str):
        if not self._moved:
            return self.handleLine(text.encode("utf-8"))

    def _graded(self, grade, *first: str) -> None:
        self._finish()
        self.reply(250, *first, grade_text(*grade))

    def _finish(self) -> None:
        self.attempt = None
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None

    def _deadline_passed(self, attempt) -> None:
        """The deadline's timer: the grade unasked, unless a line in hand sends it after."""
        self._deadline = None
        if self.attempt is attempt and self.state is State.WAITING:
            self.hold(self._time_up(attempt))

    def _time_up(self, attempt) -> Deferred[None]:
        return self.desk.time_up(attempt).addCallbacks(
            self._graded, self._lost_attempt, callbackArgs=(TIME_IS_UP,)
        )

    def _lost_attempt(self, failure) -> None:
        """Its answer or its end was not stored: another connection holds it now."""
        failure.trap(TakenOver)
        self._taken_over()

    def _taken_over(self) -> None:
        """Another connection continues this one's attempt: 421, at once or after its line."""
        self._moved = True
        self._finish()
        self.stop(_TAKEN_OVER)

    def leave_test(self) -> None:
        """The connection has gone: its attempt is suspended or abandoned, as its rules say."""
        attempt = self.attempt
        if attempt is not None:
            self._finish()
            self.desk.leave(attempt)
