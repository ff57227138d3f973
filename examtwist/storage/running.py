"""
How the store runs its SQL: each call one transaction in a worker thread of an adbapi pool,
after the schema work, and tracked, so closing the store waits for what is in flight. Long
reads (the teacher's pages) run in a pool of their own, on a connection of their own, so the
exam's writes never wait behind them: on SQLite the one writing connection stays free for
writes, on PostgreSQL the exam's connections do.
"""

from __future__ import annotations

from twisted.enterprise import adbapi
from twisted.internet.defer import Deferred, DeferredList, fail

from examtwist.storage import migrations
from examtwist.storage.engines import engine_for
from examtwist.storage.records import StoreClosed


class Transactions:
    """
    A database's pool of worker threads. L{start} opens it (creating and migrating the
    schema); L{close} waits for the interactions in flight and closes it.

    @ivar path: the C{--db} it was given: a SQLite file or a PostgreSQL URL.
    @ivar location: the same without any password, to show.
    @ivar shared: other nodes may use the database at once (PostgreSQL), so connections are
        counted in it.
    @ivar timing: if set, C{timing(interaction, d)} with each interaction's Deferred as it
        starts, to time it (L{examtwist.metrics}).
    """

    timing = None

    def __init__(self, reactor, path: str, busy_timeout: float = 10.0) -> None:
        self._reactor = reactor
        self._engine = engine_for(path, busy_timeout)
        self.path = path
        self.location = self._engine.location
        self.shared = self._engine.shared
        self._pool: adbapi.ConnectionPool | None = None
        self._reading: adbapi.ConnectionPool | None = None
        self._schema_work: Deferred | None = None
        self._inflight: set[Deferred] = set()
        self._closed = False

    def start(self) -> Deferred[None]:
        """Open the database and bring its schema up to date (C{create_db} of the original)."""
        self._pool = self._engine.open_pool(self._reactor)
        self._reading = self._engine.open_pool(self._reactor, reading=True)
        self._schema_work = self._pool.runInteraction(
            self._engine.run, migrations.migrate, self._engine
        )
        return self._track(self._schema_work)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await DeferredList(list(self._inflight), consumeErrors=True)
        for pool in (self._pool, self._reading):
            if pool is not None:
                pool.close()

    def _run(self, interaction, *args) -> Deferred:
        """
        Run one interaction in a worker thread, once the schema is up to date (the pool may have
        several threads). The caller gets a Deferred of its own: cancelling it stops the
        waiting, not the work, which L{close} still waits for.
        """
        return self._in(self._pool, interaction, self._engine.run, interaction, *args)

    def _read(self, interaction, *args) -> Deferred:
        """
        As L{_run}, for an interaction that only reads, however long: on the reading
        connection, its reads seeing one snapshot of the database.
        """
        return self._in(self._reading, interaction, self._engine.run, _snapshot,
                        self._engine.snapshot, interaction, *args)

    def _in(self, pool, interaction, *call) -> Deferred:
        if self._closed or pool is None:
            return fail(StoreClosed())
        if self._schema_work.called:
            work = self._track(pool.runInteraction(*call))
        else:
            work = self._track(
                self._after_schema().addCallback(lambda _: pool.runInteraction(*call))
            )
        return work if self.timing is None else self.timing(interaction, work)

    def _after_schema(self) -> Deferred[None]:
        ready: Deferred[None] = Deferred()

        def over(result):
            ready.callback(None)
            return result

        self._schema_work.addBoth(over)
        return ready

    def _track(self, work: Deferred) -> Deferred:
        self._inflight.add(work)
        answer: Deferred = Deferred()

        def finished(result):
            self._inflight.discard(work)
            if not answer.called:
                answer.callback(result)

        work.addBoth(finished)
        return answer


def _snapshot(txn, begin: str, interaction, *args):
    txn.execute(begin)
    return interaction(txn, *args)
