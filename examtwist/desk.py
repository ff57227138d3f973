"""
The exam desk: the one service that owns the exam. It holds the store, the password hasher,
the connection counter and this node (L{examtwist.nodes}), and offers the exam as plain calls:
greet, register, log in, list and describe the tests open now, a student's results, the web
lookup's find a student, and, through its proctor (L{examtwist.proctor}), the attempts.

It knows no transport and no reply codes: the line protocol and the web app are thin adapters
over it. Refusals are exceptions a front end turns into its own words.
"""

from __future__ import annotations

from twisted.application.service import Service
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from examtwist.nodes import Node
from examtwist.proctor import Grade, NoSuchTest, Proctor, TestNotOpen
from examtwist.rulelines import Info, ResultLine
from examtwist.storage.records import utc_seconds
from examtwist.strength import PasswordRules
from examtwist.testbank import DEFAULT_HEARTBEAT, DEFAULT_RESUME_WINDOW, Test
from examtwist.throttle import Throttle

log = Logger()


class UsernameTaken(Exception):
    """REGISTER of a name that has an account already."""


class WeakPassword(Exception):
    """REGISTER with a password the server's rules refuse; str() says why, for a 501."""


class RegistrationClosed(Exception):
    """REGISTER while the admin has closed registration."""


class NotOnRoster(Exception):
    """REGISTER of a name not on the class roster, while registration is limited to it."""


REGISTRATION_MODES = ("open", "roster", "closed")

__all__ = ["ExamDesk", "Grade", "NoSuchTest", "TestNotOpen", "UsernameTaken", "WeakPassword",
           "RegistrationClosed", "NotOnRoster", "REGISTRATION_MODES"]


class ExamDesk(Proctor, Service):
    """
    Start it before the front ends and stop it after them: it opens the store and the
    password pool on start and closes them on stop.

    @ivar clock: the reactor (C{seconds}, C{callLater}): deadlines and windows are read off it.
    @ivar registration: who may REGISTER: anyone (C{open}), the names on the class roster
        (C{roster}), nobody (C{closed}: the admin makes accounts).
    """

    def __init__(self, store, hasher, counter, throttle: Throttle | None = None,
                 rules: PasswordRules | None = None, clock=None, registration: str = "open",
                 resume_window: float = DEFAULT_RESUME_WINDOW,
                 heartbeat: float = DEFAULT_HEARTBEAT) -> None:
        if clock is None:
            from twisted.internet import reactor as clock
        self.store = store
        self.hasher = hasher
        self.counter = counter
        self.throttle = throttle or Throttle.off()
        self.rules = rules or PasswordRules(min_length=1, min_score=0)
        self.clock = clock
        self.registration = registration
        self.resume_window = resume_window
        self.node = Node(store, clock, heartbeat)
        self.start_proctoring()

    @property
    def lucky(self) -> int:
        return self.counter.lucky

    def startService(self) -> None:
        super().startService()
        self.hasher.start()
        log.info("Using the database {where}", where=self.store.location)
        # Every query waits for the schema work; the process root watches it fail.
        self.ready = self.store.start()
        self.node.start()

    def stopService(self) -> Deferred[None]:
        super().stopService()
        self.node.stop()
        return self.stop_password_checks().addCallback(lambda _: ensureDeferred(self.store.close()))

    def stop_password_checks(self) -> Deferred[None]:
        """
        The server is stopping: take no more password checks and drop the waiting ones (their
        calls fail with C{CancelledError}); fires once the running ones are done.
        """
        return self.hasher.stop()

    # Arriving

    def greet(self, address: str):
        """Count a connection: fires with its number and, for the lucky one, the addresses."""
        return self.counter.count(address)

    def check_registration(self, address: str) -> None:
        """
        @raise examtwist.throttle.Throttled: too many registrations from there lately.
        @raise RegistrationClosed: the admin closed registration.
        """
        self.throttle.check_registration(address)
        if self.registration == "closed":
            raise RegistrationClosed()

    def register(self, username: str, password: str, address: str) -> Deferred[None]:
        """
        Cancel it when the client has gone: a password check still waiting is dropped.

        @raise UsernameTaken: (in the Deferred)
        @raise WeakPassword: (in the Deferred)
        @raise NotOnRoster: (in the Deferred)
        @raise examtwist.throttle.Throttled: (in the Deferred) before anything else is done.
        @raise examtwist.passwords.HasherBusy: (in the Deferred)
        """
        return ensureDeferred(self._register(username, password, address))

    async def _register(self, username: str, password: str, address: str) -> None:
        self.throttle.begin_registration(address)
        problem = await self.hasher.judge(self.rules, password, username, address=address)
        if problem is not None:
            raise WeakPassword(problem)
        if self.registration == "roster" and not await self.store.on_roster(username):
            raise NotOnRoster(username)
        if await self.store.username_taken(username):
            raise UsernameTaken(username)
        password_hash = await self.hasher.hash(password, address=address)
        await _uncancelled(ensureDeferred(self._add_user(username, password_hash, address)))

    async def _add_user(self, username: str, password_hash: str, address: str) -> None:
        # The database decides a race between two registrations of one name.
        if not await self.store.add_user(username, password_hash):
            raise UsernameTaken(username)
        log.info("Account {user} created from {address}", user=username, address=address)

    def log_in(self, username: str, password: str, address: str) -> Deferred[bool]:
        """
        Fires with whether the password is right; a right one stored with old settings is
        hashed again with the current ones. Cancelling, and failures, as for L{register}.
        @raise examtwist.throttle.Throttled: (in the Deferred) before any hashing, when this
            username from there, or any from there, failed too often lately.
        """
        return ensureDeferred(self._log_in(username, password, address))

    async def _log_in(self, username: str, password: str, address: str) -> bool:
        self.throttle.check_login(username, address)
        stored = await self.store.get_password_hash(username)
        ok, new_hash = await self.hasher.verify(password, stored, address=address)
        if not ok:
            self.throttle.login_failed(username, address)
            return False
        self.throttle.login_succeeded(username, address)
        await _uncancelled(ensureDeferred(self._logged_in(username, new_hash, address)))
        return True

    async def _logged_in(self, username: str, new_hash: str | None, address: str) -> None:
        if new_hash is not None:
            await self.store.set_password_hash(username, new_hash)
            log.info("Rehashed the password of {user} with the current settings", user=username)
        log.info("{user} logged in from {address}", user=username, address=address)

    # Tests and results, as a student reads them

    def list_tests(self):
        """The tests students may take now (a test outside its window is not listed)."""
        return self.store.list_tests(now=self.clock.seconds())

    def info(self, wanted: str, username: str | None) -> Deferred[Info]:
        """A test's rules, and, for a logged-in user of a test with a limit, attempts left."""
        return ensureDeferred(self._info(wanted, username))

    async def _info(self, wanted: str, username: str | None) -> Info:
        test = await self._find(wanted)
        rules = test.rules
        left = None
        if username is not None and rules.attempts is not None:
            used = await self.store.count_attempts(username, test.name)
            left = max(0, rules.attempts - used)
        return Info(test.name, len(test.questions), rules.time_limit, rules.attempts, left,
                    rules.shuffled, rules.opens, rules.closes)

    def _find(self, wanted: str) -> Deferred[Test]:
        def found(test):
            if test is None:
                raise NoSuchTest(wanted)
            return test

        return self.store.find_test(wanted).addCallback(found)

    def results(self, username: str) -> Deferred[list[ResultLine]]:
        """The user's attempts that have ended, in the order they ended."""
        return self.store.list_results(
            user=username, now=self.clock.seconds(), resume_window=self.resume_window
        ).addCallback(lambda results: [
            ResultLine(r.test, None if r.grade is None else round(r.grade * 10),
                       utc_seconds(r.finished_at))
            for r in results
        ])

    # The web lookup

    def find_student(self, student_id: int):
        """The student record with this ID, None if none."""
        return self.store.get_student(student_id)

    def check(self) -> Deferred[int]:
        """Fires once the database answers a query: for a health check."""
        return self.store.schema_version()


def _uncancelled(work: Deferred) -> Deferred:
    """
    C{work}'s outcome in a Deferred of its own, which a client that has gone may cancel while
    C{work} goes on: what a checked password leads to is written and logged either way.
    """
    outcome: Deferred = Deferred()

    def deliver(result) -> None:
        if outcome.called:  # cancelled
            if isinstance(result, Failure) and not result.check(UsernameTaken):
                log.failure("After a password check for a client that has gone", result)
        elif isinstance(result, Failure):
            outcome.errback(result)
        else:
            outcome.callback(result)

    work.addBoth(deliver)
    return outcome
