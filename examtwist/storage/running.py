"""
How the store runs its SQL: each call one transaction in a worker thread of an adbapi pool,
after the schema work, and tracked, so closing the store waits for what is in flight.
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
        self._schema_work: Deferred | None = None
        self._inflight: set[Deferred] = set()
        self._closed = False

    def start(self) -> Deferred[None]:
        """Open the database and bring its schema up to date (C{create_db} of the original)."""
        self._pool = self._engine.open_pool(self._reactor)
        self._schema_work = self._pool.runInteraction(
            self._engine.run, migrations.migrate, self._engine
        )
        return self._track(self._schema_work)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await DeferredList(list(self._inflight), consumeErrors=True)
        if self._pool is not None:
            self._pool.close()

    def _run(self, interaction, *args) -> Deferred:
        """
        Run one interaction in a worker thread, once the schema is up to date (the pool may have
        several threads). The caller gets a Deferred of its own: cancelling it stops the
        waiting, not the work, which L{close} still waits for.
        """
        if self._closed or self._pool is None:
            return fail(StoreClosed())
        if self._schema_work.called:
            work = self._track(self._pool.runInteraction(self._engine.run, interaction, *args))
        else:
            work = self._track(
                self._after_schema().addCallback(
                    lambda _: self._pool.runInteraction(self._engine.run, interaction, *args)
                )
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
