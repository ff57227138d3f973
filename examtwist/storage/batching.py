"""
One transaction for the calls of one interaction that arrive while it waits its turn.

Two kinds of call come many at a time under load: results to write, and the tests EXAMS and
TAKE need. At rest each call runs alone and at once; under load one transaction serves every
call that came in meanwhile, so results are written with one commit per batch.
"""

from __future__ import annotations

import threading
from typing import Callable

from twisted.internet.defer import Deferred


class Coalescing:
    """
    Calls of one interaction that arrive while it still waits for a worker thread join it. The
    interaction takes the list of the calls' items and returns one outcome per item, an
    exception instance for an item that failed alone.

    @ivar query: the interaction's name, which names a batch of it (L{examtwist.metrics}).
    @ivar _run: runs an interaction in a worker thread and returns a Deferred of its outcome
        (L{examtwist.storage.Store}'s, so the batch waits for the schema and close waits for it).
    """

    def __init__(self, run: Callable[..., Deferred], interaction, *args) -> None:
        self._run = run
        self._interaction = interaction
        self.query = interaction.__name__
        self._args = args
        # The lock makes "joined a batch" and "the batch started" exclusive: a call never
        # joins a batch that has begun to read or write.
        self._lock = threading.Lock()
        self._waiting: list[tuple[object, Deferred]] | None = None

    def __call__(self, item) -> Deferred:
        done: Deferred = Deferred()
        with self._lock:
            batch = self._waiting
            first = batch is None
            if first:
                batch = self._waiting = []
            batch.append((item, done))
        if first:
            self._run(self._start, batch).addCallbacks(
                self._deliver, self._fail, callbackArgs=(batch,), errbackArgs=(batch,)
            )
        return done

    def _start(self, txn, batch):
        """In a worker thread: close the batch to newcomers, then run it."""
        with self._lock:
            self._waiting = None
        return self._interaction(txn, [item for item, _ in batch], *self._args)

    def _deliver(self, outcomes, batch) -> None:
        for (_, done), outcome in zip(batch, outcomes):
            if isinstance(outcome, Exception):
                done.errback(outcome)
            else:
                done.callback(outcome)

    def _fail(self, failure, batch) -> None:
        with self._lock:
            if self._waiting is batch:  # it never started (the store was closed)
                self._waiting = None
        for _, done in batch:
            done.errback(failure)
