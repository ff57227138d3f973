"""
The process: the root service that starts the exam desk and the listeners in order and drains
connections on stop, the listeners themselves, and what a server process tunes at start (open
files, garbage collection).
"""

from __future__ import annotations

import gc
import resource

from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred, DeferredList, ensureDeferred, maybeDeferred
from twisted.logger import Logger

from examtwist.wire import format_address

log = Logger()


class ExamServer(MultiService):
    """
    The process root. Its first child is the exam desk, which owns the exam and its data; the
    others are the listeners of the front ends. On start it tunes the process; on stop the
    listeners stop and their connections drain before the desk closes what they use.
    """

    def __init__(self, reactor, desk, factory) -> None:
        super().__init__()
        self.reactor = reactor
        self.desk = desk
        self.factory = factory
        desk.setServiceParent(self)

    def privilegedStartService(self) -> None:
        # twistd calls this, a test that starts the service in its own process does not: the
        # process is tuned for a server, never the test runner's.
        raise_open_files_limit()
        super().privilegedStartService()
        tune_garbage_collection()

    def startService(self) -> None:
        super().startService()
        self.desk.ready.addErrback(self._store_failed)

    def _store_failed(self, failure) -> None:
        log.failure("Could not open the database {where}", failure, where=self.desk.store.location)
        self.reactor.stop()

    def stopService(self) -> Deferred[None]:
        return ensureDeferred(self._stop())

    async def _stop(self) -> None:
        self.running = False
        listeners = [child for child in self if child is not self.desk]
        await DeferredList([maybeDeferred(child.stopService) for child in listeners])
        if self.factory.connections:
            log.info("Closing {n} connections", n=len(self.factory.connections))
        await self.factory.shutdown()
        await self.desk.stopService()
        log.info("Stopped")


class ListeningService(Service):
    """
    Listens on an endpoint while running, and logs where, so a user knows where to connect.
    A port that cannot be bound fails the start at once, and twistd says why.
    """

    def __init__(self, what: str, endpoint, factory) -> None:
        self.what = what
        self.endpoint = endpoint
        self.factory = factory
        self.port = None

    def privilegedStartService(self) -> None:
        # Listen here, before twistd drops privileges, so ports below 1024 work.
        failures = []
        self.endpoint.listen(self.factory).addCallbacks(self._listening, failures.append)
        if failures:
            failures[0].raiseException()
        super().privilegedStartService()

    def startService(self) -> None:
        if self.port is None:
            self.privilegedStartService()
        super().startService()

    def _listening(self, port) -> None:
        self.port = port
        log.info("{what} listening on {where}", what=self.what, where=format_address(port.getHost()))

    def stopService(self):
        super().stopService()
        port, self.port = self.port, None
        if port is not None:
            return port.stopListening()


# Young objects are collected after this many more allocations than frees (Python's is 700).
YOUNG_GENERATION_THRESHOLD = 5000


def tune_garbage_collection() -> None:
    """
    What the process made to start (modules, services, pools) lives as long as it does:
    freeze it, so a full collection walks only what connections made since. And collect the
    young generation less often: most of what a line allocates is freed by reference counting
    before then, and less is promoted to the older generations whose passes stall every
    connection at once (docs/performance.md). Once per process: a second service in it (a
    test suite) must not freeze what the first one's connections left behind.
    """
    if gc.get_freeze_count() == 0:
        gc.collect()  # what start made and already dropped is not kept for good
        gc.freeze()
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], YOUNG_GENERATION_THRESHOLD), *old[1:])
    log.info(
        "Garbage collection: {frozen} objects made at start frozen, young generation every"
        " {young} allocations", frozen=gc.get_freeze_count(), young=gc.get_threshold()[0],
    )


def raise_open_files_limit() -> None:
    """Each connection is a file descriptor: allow as many as the hard limit does."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ValueError, OSError) as e:
        log.warn("Could not raise the open-files limit from {soft}: {e}", soft=soft, e=e)
    else:
        log.info("Raised the open-files limit from {soft} to {new}", soft=soft, new=wanted)
