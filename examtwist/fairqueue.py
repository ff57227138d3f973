"""
A bounded queue of blocking jobs in front of a few worker threads, served fairly across keys
(client addresses): one key with hundreds of jobs waiting delays another key's job by about
one job per other key with work waiting, not by hundreds.

Each key has its own first-in first-out queue, and the keys take turns in rounds: a key whose
job was started this round waits for the next one, so a key that arrives goes ahead of every
key that has already had its turn. A job that is cancelled while it waits is dropped unrun; one
that is running finishes, and its result is discarded.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial
from typing import Callable, Hashable

from twisted.internet.defer import Deferred, fail, succeed
from twisted.python.failure import Failure


class QueueFull(Exception):
    """No room for another job now: the queue, or the key's share of it, is full."""


class _Job:
    __slots__ = ("key", "work", "args", "deferred", "submitted", "started")

    def __init__(self, key: Hashable, work: Callable, args: tuple, cancel) -> None:
        self.key = key
        self.work = work
        self.args = args
        self.deferred: Deferred = Deferred(lambda _: cancel(self))


class _Key:
    """The jobs of one key that wait, how many of its jobs run, the round it last had a turn."""

    __slots__ = ("waiting", "running", "round")

    def __init__(self) -> None:
        self.waiting: OrderedDict[_Job, None] = OrderedDict()
        self.running = 0
        self.round = -1


class FairQueue:
    """
    Runs jobs in C{pool}'s threads, at most C{workers} at once, and keeps the rest waiting.

    @ivar waiting: jobs waiting for a thread.
    @ivar running: jobs running in a thread.
    @ivar timed: if set, C{timed(waited, ran)} with each job's seconds waiting for a thread
        and in it (measured on the reactor, from C{reactor.seconds()}), once it has run.
    """

    timed = None

    def __init__(
        self, reactor, pool, workers: int, total: int = 0, per_key: int = 0,
        full: type[QueueFull] = QueueFull,
    ) -> None:
        """
        @param reactor: what results come back through (C{callFromThread}).
        @param pool: a L{twisted.python.threadpool.ThreadPool}, or what behaves as one
            (C{start}, C{stop}, C{callInThreadWithCallback}).
        @param total: jobs that may wait at once; 0 for no bound.
        @param per_key: jobs of one key that may wait at once; 0 for no bound.
        @param full: what a job gets when there is no room for it.
        """
        self._reactor = reactor
        self._pool = pool
        self._workers = workers
        self.total = total
        self.per_key = per_key
        self._full = full
        self._keys: dict[Hashable, _Key] = {}  # keys with jobs waiting or running
        self._turns: OrderedDict[Hashable, _Key] = OrderedDict()  # their turn this round is to come
        self._next: OrderedDict[Hashable, _Key] = OrderedDict()  # had it, and have jobs waiting
        self._round = 0
        self.waiting = 0
        self.running = 0
        self._stopped = False
        self._pool_stopped = False
        self._idle: list[Deferred[None]] = []

    def start(self) -> None:
        self._pool.start()

    def submit(self, key: Hashable, work: Callable, *args) -> Deferred:
        """
        Run C{work(*args)} in a thread in C{key}'s turn. Cancelling the Deferred drops the job
        if it waits, and discards its result if it runs.

        @return: a Deferred that fires with the result, or fails at once with the C{full}
            exception when there is no room (or the queue is stopped).
        """
        state = self._keys.get(key)
        if (
            self._stopped
            or self.total and self.waiting >= self.total
            or self.per_key and state is not None and len(state.waiting) >= self.per_key
        ):
            return fail(self._full())
        if state is None:
            state = self._keys[key] = _Key()
        job = _Job(key, work, args, self._cancel)
        if self.timed is not None:
            job.submitted = self._reactor.seconds()
        if not state.waiting:
            (self._next if state.round == self._round else self._turns)[key] = state
        state.waiting[job] = None
        self.waiting += 1
        self._run()
        return job.deferred

    def stop(self) -> Deferred[None]:
        """
        Take no more jobs and drop every waiting one (its Deferred fails with
        C{CancelledError}); fires once the running ones are done and the threads have ended.
        """
        self._stopped = True
        for state in list(self._keys.values()):
            for job in list(state.waiting):
                job.deferred.cancel()
        if self.running == 0:
            self._stop_pool()
            return succeed(None)
        idle: Deferred[None] = Deferred()
        self._idle.append(idle)
        return idle

    def _cancel(self, job: _Job) -> None:
        state = self._keys[job.key]
        if job not in state.waiting:
            return  # running: it finishes, and the Deferred's CancelledError stands
        del state.waiting[job]
        self.waiting -= 1
        if not state.waiting:
            self._turns.pop(job.key, None)
            self._next.pop(job.key, None)
            self._forget(job.key, state)

    def _run(self) -> None:
        while self.running < self._workers and self.waiting:
            if not self._turns:
                self._turns, self._next = self._next, self._turns
                self._round += 1
            key, state = self._turns.popitem(last=False)
            job, _ = state.waiting.popitem(last=False)
            self.waiting -= 1
            state.round = self._round
            state.running += 1
            self.running += 1
            if state.waiting:
                self._next[key] = state
            if self.timed is not None:
                job.started = self._reactor.seconds()
            ran = partial(self._ranInThread, job)
            self._pool.callInThreadWithCallback(ran, job.work, *job.args)

    def _ranInThread(self, job: _Job, success: bool, result) -> None:
        self._reactor.callFromThread(self._ran, job, success, result)

    def _ran(self, job: _Job, success: bool, result) -> None:
        state = self._keys[job.key]
        state.running -= 1
        self.running -= 1
        self._forget(job.key, state)
        if self.timed is not None and hasattr(job, "submitted") and hasattr(job, "started"):
            ended = self._reactor.seconds()
            self.timed(job.started - job.submitted, ended - job.started)
        if not job.deferred.called:  # else it was cancelled: the result is discarded
            if success:
                job.deferred.callback(result)
            else:
                job.deferred.errback(result if isinstance(result, Failure) else Failure(result))
        self._run()
        if self._stopped and self.running == 0:
            self._stop_pool()
            idle, self._idle = self._idle, []
            for waiter in idle:
                waiter.callback(None)

    def _forget(self, key: Hashable, state: _Key) -> None:
        if not state.waiting and not state.running:
            del self._keys[key]

    def _stop_pool(self) -> None:
        if not self._pool_stopped:
            self._pool_stopped = True
            self._pool.stop()
