"""
The process: the root service that starts the exam desk and the listeners (all of them or
none) and drains connections on stop, the listeners themselves, how a failed start ends a
twistd process (status 1, one line on stderr), and what a server process tunes at start (open
files, garbage collection).
"""

from __future__ import annotations

import atexit
import gc
import os
import resource
import sys

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

    @ivar under_twistd: whether twistd started it (privilegedStartService), so that a failed
        start ends the process with status 1.
    """

    def __init__(self, reactor, desk, factory) -> None:
        super().__init__()
        self.reactor = reactor
        self.desk = desk
        self.factory = factory
        desk.setServiceParent(self)

    under_twistd = False

    def privilegedStartService(self) -> None:
        # twistd calls this, a test that starts the service in its own process does not: the
        # process is tuned for a server, never the test runner's. twistd calls it before it
        # runs the reactor, so no listener accepts a connection before all of them listen.
        self.under_twistd = True
        raise_open_files_limit()
        self.desk.privilegedStartService()
        try:
            self._listen()
        except CannotStart as e:
            # twistd removes its pid file, ends with status 1, and prints the traceback into
            # the log (it sends sys.stderr there); the real stderr gets the one line.
            say_why(str(e))
            raise
        tune_garbage_collection()

    def _listen(self) -> None:
        """
        Listen on every endpoint, or on none: if one cannot listen, those that did stop.

        @raise CannotStart: saying which endpoint could not listen, and why.
        """
        listening = []
        for listener in self._listeners():
            try:
                listener.privilegedStartService()
            except Exception as e:
                for done in listening:
                    done.stopService()
                reason = getattr(e, "socketError", None) or e
                reason = getattr(reason, "strerror", None) or str(reason)
                raise CannotStart(f"could not listen on {listener.where}: {reason}") from e
            listening.append(listener)

    def _listeners(self) -> list[Service]:
        return [child for child in self if child is not self.desk]

    def startService(self) -> None:
        if any(listener.port is None for listener in self._listeners()):
            self._listen()
        super().startService()
        self.desk.ready.addErrback(self._store_failed)

    def _store_failed(self, failure) -> None:
        where = self.desk.store.location
        log.failure("Could not open the database {where}", failure, where=where)
        if self.under_twistd:
            reason = str(failure.value).strip().splitlines() or [type(failure.value).__name__]
            exit_when_twistd_ends(f"could not open the database {where}: {reason[0]}")
        self.reactor.stop()

    def stopService(self) -> Deferred[None]:
        return ensureDeferred(self._stop())

    async def _stop(self) -> None:
        self.running = False
        await DeferredList([maybeDeferred(child.stopService) for child in self._listeners()])
        if self.factory.connections:
            log.info("Closing {n} connections", n=len(self.factory.connections))
        await self.factory.shutdown()
        await self.desk.stopService()
        log.info("Stopped")


class CannotStart(Exception):
    """The server cannot start; the message says why, in words for whoever started it."""


def say_why(why: str) -> None:
    # The real stderr: twistd sends sys.stderr to the log.
    sys.__stderr__.write(f"examtwist: {why}\n")
    sys.__stderr__.flush()


def exit_when_twistd_ends(why: str) -> None:
    """
    After the reactor ran: say why on stderr, and once twistd has stopped the services,
    removed its pid file and closed its log, end the process with status 1, where it would
    end with 0 (twistd has no exit status of its own to set after the reactor ran).
    """
    say_why(why)

    def failed() -> None:
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(1)

    atexit.register(failed)


class ListeningService(Service):
    """
    Listens on an endpoint while running, and logs where, so a user knows where to connect.
    A port that cannot be bound fails the start at once, and twistd says why.

    @ivar where: the endpoint as the user wrote it, to name it when it cannot listen.
    """

    def __init__(self, what: str, endpoint, factory, where: str = "") -> None:
        self.what = what
        self.where = where or repr(endpoint)
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
