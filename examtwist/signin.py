"""
Signing in on the exam port: REGISTER and LOGIN as a mixin of the exam protocol. It reads the
credentials, makes the desk call, and answers what the desk decided: an account, a wrong
password (the third of a connection closes it), a refusal of the throttle (454), a password
the rules refuse (501), a busy hasher (421). A password check still waiting when the
connection goes is dropped unhashed.
"""

from __future__ import annotations

from twisted.internet.defer import CancelledError, Deferred
from twisted.logger import Logger

from examtwist.desk import NotOnRoster, RegistrationClosed, UsernameTaken, WeakPassword
from examtwist.passwords import HasherBusy
from examtwist.throttle import Throttled
from examtwist.wire import MAX_PASSWORD, USERNAME_RULE, format_reply, is_password, is_username

log = Logger()

MAX_FAILED_LOGINS = 3
_BUSY = format_reply(421, "Server busy, try again later")


class SignIn:
    """
    The verbs REGISTER and LOGIN of L{examtwist.protocol.ExamProtocol}, which gives them
    C{desk}, C{address}, C{user}, C{reply} and C{close}.
    """

    failed_logins = 0
    _checking: Deferred | None = None  # a desk call that checks a password

    def cancel_check(self) -> None:
        """The connection has gone: a check still waiting for a thread is never hashed."""
        checking, self._checking = self._checking, None
        if checking is not None:
            checking.cancel()

    def do_REGISTER(self, argument: str):
        if self.user is None:  # docs/protocol.md: 503, 454, 554 closed, then the rest
            try:
                self.desk.check_registration(self.address)
            except Throttled as e:
                return self._too_many_registrations(e)
            except RegistrationClosed:
                return self.reply(554, "Registration is closed")
        credentials = self._credentials("REGISTER", argument)
        if credentials is not None:
            return self._check(self.desk.register(*credentials, self.address)).addCallbacks(
                self._registered, self._taken, callbackArgs=(credentials[0],)
            ).addErrback(self._not_checked)

    def _too_many_registrations(self, throttled: Throttled) -> None:
        log.info("Registration from {address} held back {n} s", address=self.address,
                 n=throttled.seconds)
        self.reply(454, f"Too many registrations, try again in {throttled.seconds} s")

    def _registered(self, _, username: str) -> None:
        self.user = username
        self.reply(231, "Successfully registered!")

    def _taken(self, failure) -> None:
        refusal = failure.trap(UsernameTaken, Throttled, WeakPassword, NotOnRoster)
        if refusal is Throttled:
            return self._too_many_registrations(failure.value)
        if refusal is WeakPassword:
            return self.reply(501, str(failure.value))
        if refusal is NotOnRoster:
            return self.reply(554, "Not on the class roster")
        self.reply(553, "Username already exists")

    def do_LOGIN(self, argument: str):
        credentials = self._credentials("LOGIN", argument)
        if credentials is not None:
            return self._check(self.desk.log_in(*credentials, self.address)).addCallbacks(
                self._logged_in, self._login_throttled,
                callbackArgs=(credentials[0],), errbackArgs=(credentials[0],),
            ).addErrback(self._not_checked)

    def _logged_in(self, ok: bool, username: str) -> None:
        if ok:
            self.user = username
            return self.reply(230, "Successfully logged in!")
        self._login_failed(username, 535, "Invalid username and/or password")

    def _login_throttled(self, failure, username: str) -> None:
        failure.trap(Throttled)
        seconds = failure.value.seconds
        self._login_failed(username, 454, f"Too many failed attempts, try again in {seconds} s")

    def _login_failed(self, username: str, code: int, text: str) -> None:
        self.failed_logins += 1
        log.info("Failed login {count} for {user} from {address}: {code}",
                 count=self.failed_logins, user=username, address=self.address, code=code)
        if self.failed_logins >= MAX_FAILED_LOGINS:
            self.close(format_reply(421, "Too many failed attempts"))
        else:
            self.reply(code, text)

    def _check(self, work: Deferred) -> Deferred:
        """A desk call that checks a password: cancelled if the connection goes first."""
        self._checking = work
        return work.addBoth(self._checked)

    def _checked(self, outcome):
        self._checking = None
        return outcome

    def _not_checked(self, failure) -> None:
        """The hasher is busy: 421 and close. Or the check was dropped: the connection has
        gone, or the server is stopping and its 421 follows."""
        if failure.check(HasherBusy):
            return self.close(_BUSY)
        failure.trap(CancelledError)

    def _credentials(self, verb: str, argument: str) -> tuple[str, str] | None:
        """Username and password from the line, or None after a 503 or 501 reply."""
        if self.user is not None:
            return self.reply(503, "Already logged in")
        username, space, password = argument.partition(" ")
        if not space or not is_username(username):
            return self.reply(
                501, f"Usage: {verb} <username> <password>; the username is {USERNAME_RULE}"
            )
        if not is_password(password):
            return self.reply(501, f"The password must be 1 to {MAX_PASSWORD} characters")
        return username, password
