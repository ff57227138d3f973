"""
The exam desk as the exam port sees it when the server keeps metrics (L{examtwist.metrics}):
every call goes to the desk, and what comes back is counted on its way: connections, logins,
registrations by outcome, answers, attempts by how they ended. A suspended attempt is counted
when it ends on a connection (graded, time up, abandoned by QUIT), not when it runs out unseen.
"""

from __future__ import annotations

from twisted.internet.defer import CancelledError

from examtwist.desk import NotOnRoster, RegistrationClosed, UsernameTaken, WeakPassword
from examtwist.passwords import HasherBusy
from examtwist.throttle import Throttled

_REFUSALS = {UsernameTaken: "taken", WeakPassword: "weak_password", Throttled: "throttled",
             HasherBusy: "busy", RegistrationClosed: "closed", NotOnRoster: "not_on_roster"}


class MeteredDesk:
    """
    The exam desk as the exam port sees it: every call goes to the desk, and what comes back
    is counted (connections, logins, registrations, answers, attempts) on its way.
    """

    def __init__(self, desk, metrics) -> None:
        self._desk = desk
        self._metrics = metrics

    def __getattr__(self, name: str):
        return getattr(self._desk, name)

    def greet(self, address: str):
        self._metrics.connections.inc()
        return self._desk.greet(address)

    def check_registration(self, address: str) -> None:
        try:
            self._desk.check_registration(address)
        except (Throttled, RegistrationClosed) as refusal:
            self._metrics.registrations[_REFUSALS[type(refusal)]].inc()
            raise

    def register(self, username: str, password: str, address: str):
        return self._desk.register(username, password, address).addBoth(self._registered)

    def _registered(self, outcome):
        if outcome is None:
            self._metrics.registrations["ok"].inc()
        else:
            refusal = getattr(outcome, "value", None)
            name = _REFUSALS.get(type(refusal)) or getattr(refusal, "outcome", None)
            if name in self._metrics.registrations:
                self._metrics.registrations[name].inc()
        return outcome

    def log_in(self, username: str, password: str, address: str):
        return self._desk.log_in(username, password, address).addBoth(self._logged_in)

    def _logged_in(self, outcome):
        if outcome is True or outcome is False:
            self._metrics.logins["ok" if outcome else "bad_password"].inc()
        elif not outcome.check(CancelledError):
            name = _REFUSALS.get(type(outcome.value))
            if name in self._metrics.logins:
                self._metrics.logins[name].inc()
        return outcome

    def answer(self, attempt, letter: str):
        outcome = self._desk.answer(attempt, letter)
        if type(outcome) is tuple:
            self._metrics.answers += 1
            return outcome
        return outcome.addCallback(self._answered)

    def _answered(self, outcome):
        """The next question of an attempt stored as it goes, or the grade."""
        self._metrics.answers += 1
        if type(outcome) is not tuple:
            self._metrics.attempts["graded"].inc()
        return outcome

    def time_up(self, attempt):
        return self._desk.time_up(attempt).addCallback(self._counted, "time_up")

    def _counted(self, outcome, name: str):
        self._metrics.attempts[name].inc()
        return outcome

    def abandon(self, attempt):
        if not attempt.finishing:
            self._metrics.attempts["abandoned"].inc()
        return self._desk.abandon(attempt)

    def leave(self, attempt):
        """A connection gone mid-test: abandoned, unless its rules suspend it (not counted)."""
        if attempt.id is None and not attempt.finishing:
            self._metrics.attempts["abandoned"].inc()
        return self._desk.leave(attempt)
