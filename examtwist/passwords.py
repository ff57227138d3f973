"""
Password hashing with argon2id, in a small worker pool of its own so the reactor never waits.

Each concurrent hash holds C{memory_cost} KiB, so the pool size bounds the memory too. Checks
wait for a thread in a bounded queue served fairly across client addresses
(L{examtwist.fairqueue}): one address that floods the server with logins delays another's by
about one hash per other address with checks waiting.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from passlib.context import CryptContext
from passlib.hash import argon2
from twisted.internet.defer import Deferred, succeed
from twisted.python.threadpool import ThreadPool

from examtwist.fairqueue import FairQueue, QueueFull
from examtwist.ratelimit import client_of

# Password checks that may wait for a thread at once, in all and from one address.
QUEUE = 1024
QUEUE_PER_ADDRESS = 64


class HasherBusy(QueueFull):
    """No room for another password check now (or the hasher has stopped): try again later."""


@dataclass(frozen=True)
class HashCost:
    """
    Argon2id parameters. The defaults are OWASP's minimum (m=19 MiB, t=2, p=1).
    """

    memory_kib: int = 19456
    rounds: int = 2

    def __post_init__(self) -> None:
        if self.memory_kib < 8:
            raise ValueError("argon2 needs at least 8 KiB of memory")
        if self.rounds < 1:
            raise ValueError("argon2 needs at least 1 round")

    @property
    def insecure(self) -> bool:
        """Below OWASP's minimum: for tests and benchmarks only."""
        return self.memory_kib < MINIMUM.memory_kib or self.rounds < MINIMUM.rounds

    def stronger_than(self, stored: str) -> bool:
        """
        Whether a stored hash should be made again at this cost: it is argon2 at no more memory
        and no more rounds, and at less of one, or not argon2id. A hash made at a greater cost
        (by another node, or before the cost was lowered) is never weakened.
        """
        made = argon2.from_string(stored)
        if made.memory_cost > self.memory_kib or made.rounds > self.rounds:
            return False
        return (made.memory_cost, made.rounds) != (self.memory_kib, self.rounds) or (
            made.type != "id"
        )


MINIMUM = HashCost()


def crypt_context(cost: HashCost) -> CryptContext:
    """
    The argon2id settings of every hash the server makes; the benchmark measures the raw
    verify rate of this same context.
    """
    return CryptContext(
        schemes=["argon2"],
        argon2__type="ID",
        argon2__memory_cost=cost.memory_kib,
        argon2__rounds=cost.rounds,
        argon2__parallelism=1,
    )


class PasswordHasher:
    """
    Hash and verify passwords off the reactor thread, fairly across client addresses.

    L{start} before use and L{stop} when done: the pool's threads are this object's own.
    Cancelling the Deferred of a check drops it if it waits for a thread; one that is being
    hashed finishes, and its result is discarded.
    """

    def __init__(
        self, reactor, cost: HashCost = HashCost(), threads: int = 2,
        queue: int = QUEUE, per_address: int = QUEUE_PER_ADDRESS, pool=None,
    ) -> None:
        """
        @param queue: checks that may wait for a thread at once; 0 for no bound.
        @param per_address: checks from one address that may wait at once; 0 for no bound.
        @param pool: the thread pool to hash in (tests give one they drive); by default one of
            C{threads} threads of this object's own.
        """
        self._reactor = reactor
        self.cost = cost
        self.queue, self.per_address = queue, per_address
        self._context = crypt_context(cost)
        if pool is None:
            pool = ThreadPool(minthreads=0, maxthreads=threads, name="examtwist-passwords")
        self._checks = FairQueue(reactor, pool, threads, queue, per_address, full=HasherBusy)
        self._dummy: str | None = None
        self._dummy_lock = threading.Lock()

    @property
    def waiting(self) -> int:
        """Checks waiting for a thread."""
        return self._checks.waiting

    @property
    def running(self) -> int:
        """Checks being hashed."""
        return self._checks.running

    def observe_checks(self, timed) -> None:
        """Tell C{timed(waited, hashed)} the seconds of each check in the queue and hashing."""
        self._checks.timed = timed

    def start(self) -> None:
        self._checks.start()

    def stop(self) -> Deferred[None]:
        """
        Drop every check that waits (its Deferred fails with C{CancelledError}) and take no
        more; fires once the hashes running now are done.
        """
        return self._checks.stop()

    def hash(self, password: str, *, address: str | None = None) -> Deferred[str]:
        """
        @param address: the client's address as the logs write it (C{host:port}): checks are
            served fairly, and bounded, by client (L{examtwist.ratelimit.client_of}).
        @raise HasherBusy: (in the Deferred, at once) when no check can wait now.
        """
        return self._checks.submit(_client(address), self._hash, password)

    def verify(
        self, password: str, stored: str | None, *, address: str | None = None
    ) -> Deferred[tuple[bool, str | None]]:
        """
        Check C{password} against C{stored}, the hash of the account or None when there is no
        such account: that case still spends one verify, so timing does not tell which
        usernames exist. C{address} and L{HasherBusy} as for L{hash}.

        @return: (matches, a new hash when C{stored} was made with other settings, else None)
        """
        return self._checks.submit(_client(address), self._verify, password, stored)

    def judge(self, rules, password: str, username: str, *, address: str | None = None):
        """
        The problem C{rules} find with a new account's password, or None: zxcvbn takes
        milliseconds, so it waits its turn with the hashes. A rule that needs no judging is
        answered at once.
        """
        if not rules.min_score:
            return succeed(rules.problem(password, username))
        return self._checks.submit(_client(address), rules.problem, password, username)

    # What runs in the worker threads. Tests override these to make hashing slow on purpose.

    def _hash(self, password: str) -> str:
        return self._context.hash(password)

    def _verify(self, password: str, stored: str | None) -> tuple[bool, str | None]:
        if stored is None:
            self._context.verify(password, self._dummy_hash())
            return False, None
        try:
            if not self._context.verify(password, stored):
                return False, None
            return True, self._context.hash(password) if self.cost.stronger_than(stored) else None
        except ValueError:
            # Not a hash this context knows (a corrupted row): fail like a wrong password.
            self._context.verify(password, self._dummy_hash())
            return False, None

    def _dummy_hash(self) -> str:
        with self._dummy_lock:
            if self._dummy is None:
                self._dummy = self._context.hash("no such user")
            return self._dummy


def _client(address: str | None) -> str | None:
    """Whose turn a check waits for: the client as every per-address limit counts it."""
    return None if address is None else client_of(address)
