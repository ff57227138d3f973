"""
Password hashing with argon2id, in a small worker pool of its own so the reactor never waits.

Each concurrent hash holds C{memory_cost} KiB, so the pool size bounds the memory too.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from passlib.context import CryptContext
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool


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
    Hash and verify passwords off the reactor thread.

    L{start} before use and L{stop} when done: the pool's threads are this object's own.
    """

    def __init__(self, reactor, cost: HashCost = HashCost(), threads: int = 2) -> None:
        self._reactor = reactor
        self.cost = cost
        self._context = crypt_context(cost)
        self._pool = ThreadPool(minthreads=0, maxthreads=threads, name="examtwist-passwords")
        self._dummy: str | None = None
        self._dummy_lock = threading.Lock()

    def start(self) -> None:
        self._pool.start()

    def stop(self) -> None:
        """Stop the pool; waits for a hash that is running (tens of milliseconds)."""
        self._pool.stop()

    def hash(self, password: str) -> Deferred[str]:
        return deferToThreadPool(self._reactor, self._pool, self._hash, password)

    def verify(self, password: str, stored: str | None) -> Deferred[tuple[bool, str | None]]:
        """
        Check C{password} against C{stored}, the hash of the account or None when there is no
        such account: that case still spends one verify, so timing does not tell which
        usernames exist.

        @return: (matches, a new hash when C{stored} was made with other settings, else None)
        """
        return deferToThreadPool(self._reactor, self._pool, self._verify, password, stored)

    # What runs in the worker threads. Tests override these to make hashing slow on purpose.

    def _hash(self, password: str) -> str:
        return self._context.hash(password)

    def _verify(self, password: str, stored: str | None) -> tuple[bool, str | None]:
        if stored is None:
            self._context.verify(password, self._dummy_hash())
            return False, None
        try:
            return self._context.verify_and_update(password, stored)
        except ValueError:
            # Not a hash this context knows (a corrupted row): fail like a wrong password.
            self._context.verify(password, self._dummy_hash())
            return False, None

    def _dummy_hash(self) -> str:
        with self._dummy_lock:
            if self._dummy is None:
                self._dummy = self._context.hash("no such user")
            return self._dummy
