"""
Throttling of failed logins and of registrations (docs/protocol.md, "Protecting the server"):
how long a C{LOGIN} or a C{REGISTER} from a client must wait, from what that client did lately.

Three records, each kept per client (an address without its port; for IPv6 its /64 network,
which one machine usually holds whole):

 - failed logins of one username from one client: the first L{FREE_FAILURES} in a row are
   free, then each further one doubles the wait before the next try, up to a longest wait
   (exponential back-off). A success clears it. A username is never held back for everyone:
   the record belongs to a username I{and} a client.
 - failed logins of one client, whatever the usernames: C{N} per C{WINDOW} seconds, C{N} of
   them at once, then one more every C{WINDOW / N} seconds.
 - registrations of one client: the same kind of limit. Every C{REGISTER} that gets as far as
   the username counts, whether it makes an account or finds the name taken (which tells the
   client something too).

It is pure logic on an injected clock (anything with C{seconds()}, the reactor or a
L{twisted.internet.task.Clock}): it never waits and schedules nothing. Each record is a table
of at most C{size} entries; entries that no longer hold anything back are dropped, and at the
cap the entry touched longest ago is forgotten (that client, or that username from that
client, starts afresh). An entry costs about 380 bytes in the back-off (a 32-character
username) and 175 in the others: under 40 MB for all three tables at 50,000 entries each.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Callable, NamedTuple

from twisted.logger import Logger

from examtwist.ratelimit import client_of

log = Logger()

# Failed logins in a row of one username from one client before the back-off starts: more than
# one connection's three, so a student who is closed after three typos tries again at once.
FREE_FAILURES = 5
# The back-off forgets a username-from-client this many longest waits after its last failure.
# Long enough that waiting for it to forget gives fewer guesses than waiting out the back-off.
FORGET_AFTER_LONGEST = 15


class Throttled(Exception):
    """
    Too many failures or registrations from this client lately.

    @ivar seconds: the whole seconds to wait, at least 1 (the real wait, rounded up).
    """

    def __init__(self, wait: float) -> None:
        self.seconds = max(1, math.ceil(wait))
        super().__init__(self.seconds)


class Sizes(NamedTuple):
    """Entries held in each table."""

    backoff: int
    failures: int
    registrations: int


class _Table:
    """
    Entries by key, the one touched longest ago first; at most C{size}. A new key first drops
    the expired entries at the front; if the table is still full, the oldest entry goes.
    """

    def __init__(self, what: str, size: int, expired: Callable[[object, float], bool]) -> None:
        self.what = what
        self.size = size
        self.expired = expired
        self.entries: OrderedDict = OrderedDict()
        self.forgotten = 0  # entries dropped at the cap before they expired
        self._warned = -math.inf

    def get(self, key):
        return self.entries.get(key)

    def put(self, key, value, now: float) -> None:
        entries = self.entries
        if key in entries:
            entries.move_to_end(key)
        else:
            while entries and self.expired(next(iter(entries.values())), now):
                entries.popitem(last=False)
            if len(entries) >= self.size:
                entries.popitem(last=False)
                self.forgotten += 1
                if now - self._warned >= 60:
                    self._warned = now
                    log.warn("The table of {what} is full ({size} entries): forgetting the"
                             " oldest ({n} so far)",
                             what=self.what, size=self.size, n=self.forgotten)
        entries[key] = value

    def discard(self, key) -> None:
        self.entries.pop(key, None)


class _Backoff:
    """Failed logins in a row per key: (failures, time of the last one)."""

    def __init__(self, first: float, longest: float, free: int, size: int) -> None:
        self.first = first
        self.longest = longest
        self.free = free
        self.forget = FORGET_AFTER_LONGEST * longest
        self.table = _Table("failed logins per username and address", size, self._expired)

    def _expired(self, entry: tuple[int, float], now: float) -> bool:
        return now - entry[1] >= self.forget

    def delay(self, failures: int) -> float:
        """The wait after this many failures in a row."""
        if failures < self.free:
            return 0.0
        return min(self.first * 2.0 ** min(failures - self.free, 64), self.longest)

    def wait(self, key, now: float) -> float:
        entry = self.table.get(key)
        if entry is None or self._expired(entry, now):
            return 0.0
        failures, last = entry
        return last + self.delay(failures) - now

    def charge(self, key, now: float) -> None:
        entry = self.table.get(key)
        failures = 0 if entry is None or self._expired(entry, now) else entry[0]
        self.table.put(key, (failures + 1, now), now)


class _Rate:
    """
    C{count} events per C{window} seconds per key, C{count} of them at once: the generic cell
    rate algorithm, one number per key (when the key's bucket would be full again).
    """

    def __init__(self, what: str, count: int, window: float, size: int) -> None:
        self.window = window
        self.interval = window / count
        self.tolerance = window - self.interval
        self.table = _Table(what, size, lambda full_at, now: full_at <= now)

    def wait(self, key, now: float) -> float:
        full_at = self.table.get(key)
        if full_at is None:
            return 0.0
        return full_at - self.tolerance - now

    def charge(self, key, now: float) -> None:
        full_at = self.table.get(key)
        full_at = now if full_at is None else max(full_at, now)
        # Failures let through together and charged later may go beyond the limit: never
        # more than a window's wait.
        self.table.put(key, min(full_at + self.interval, now + self.tolerance + self.window), now)


class Throttle:
    """
    What the exam desk asks before a C{LOGIN} or C{REGISTER} does any work, and tells after.

    A C{LOGIN} counts as a failure of its username from its client from the moment it is let
    through until L{login_succeeded} says otherwise, so logins sent at once cannot slip past the
    back-off together. Failures of the client as a whole are counted when they happen
    (L{login_failed}), so a class logging in at once is not held back by logins still hashing.

    @param clock: anything with C{seconds()}.
    @param login_backoff: seconds to wait after L{FREE_FAILURES} failed logins in a row of one
        username from one client; each further failure doubles it. 0: no back-off.
    @param login_backoff_max: the longest such wait.
    @param failures_per_address: failed logins a client may make in C{failures_window}
        seconds, whatever the usernames. 0: no limit.
    @param registrations_per_address: registrations a client may make in
        C{registrations_window} seconds. 0: no limit.
    @param size: entries each of the three tables may hold.
    """

    def __init__(self, clock, *, login_backoff: float = 1.0, login_backoff_max: float = 60.0,
                 failures_per_address: int = 300, failures_window: float = 300.0,
                 registrations_per_address: int = 600, registrations_window: float = 3600.0,
                 size: int = 50_000, free_failures: int = FREE_FAILURES) -> None:
        self.clock = clock
        self._offset = 0.0
        self._latest = -math.inf
        self._backoff = self._failures = self._registrations = None
        if login_backoff > 0 and login_backoff_max > 0:
            self._backoff = _Backoff(login_backoff, login_backoff_max, free_failures, size)
        if failures_per_address > 0 and failures_window > 0:
            self._failures = _Rate(
                "failed logins per address", failures_per_address, failures_window, size)
        if registrations_per_address > 0 and registrations_window > 0:
            self._registrations = _Rate(
                "registrations per address", registrations_per_address, registrations_window,
                size)

    @classmethod
    def off(cls) -> Throttle:
        """One that never holds anything back (and never reads its clock)."""
        return cls(None, login_backoff=0, failures_per_address=0, registrations_per_address=0)

    def _now(self) -> float:
        """The clock's time, never going back: a clock set back moves this time no more."""
        now = self.clock.seconds() + self._offset
        if now < self._latest:
            self._offset += self._latest - now
            now = self._latest
        self._latest = now
        return now

    def check_login(self, username: str, address: str) -> None:
        """
        Let a C{LOGIN} through, counted as failed until it succeeds.
        @raise Throttled: when this username from this client, or this client, must wait.
        """
        if self._backoff is None and self._failures is None:
            return
        now, client = self._now(), client_of(address)
        wait = 0.0
        if self._backoff is not None:
            wait = self._backoff.wait((username, client), now)
        if self._failures is not None:
            wait = max(wait, self._failures.wait(client, now))
        if wait > 0:
            raise Throttled(wait)
        if self._backoff is not None:
            self._backoff.charge((username, client), now)

    def login_failed(self, username: str, address: str) -> None:
        """A C{LOGIN} let through was refused: it counts for the client as a whole."""
        if self._failures is not None:
            self._failures.charge(client_of(address), self._now())

    def login_succeeded(self, username: str, address: str) -> None:
        """A C{LOGIN} let through was right: this username from this client starts afresh."""
        if self._backoff is not None:
            self._backoff.table.discard((username, client_of(address)))

    def check_registration(self, address: str) -> None:
        """@raise Throttled: when this client has made too many registrations lately."""
        if self._registrations is not None:
            wait = self._registrations.wait(client_of(address), self._now())
            if wait > 0:
                raise Throttled(wait)

    def begin_registration(self, address: str) -> None:
        """
        Let a C{REGISTER} through and count it, whatever its outcome.
        @raise Throttled: as L{check_registration}.
        """
        if self._registrations is not None:
            now, client = self._now(), client_of(address)
            wait = self._registrations.wait(client, now)
            if wait > 0:
                raise Throttled(wait)
            self._registrations.charge(client, now)

    def sizes(self) -> Sizes:
        """How many entries each table holds now."""
        return Sizes(*(len(part.table.entries) if part is not None else 0
                       for part in (self._backoff, self._failures, self._registrations)))
