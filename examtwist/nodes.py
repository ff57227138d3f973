"""
This server as one node among others on a database: its name in the holder of every attempt
its connections hold, and its heartbeat, by which the others know it is alive. A node silent
for three beats counts as gone, and the attempts it held as suspended since its last beat
(L{examtwist.storage.attempts.settle}).
"""

from __future__ import annotations

import itertools
import os

from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from examtwist.testbank import DEFAULT_HEARTBEAT

log = Logger()


class Node:
    """@ivar heartbeat: seconds between this node's beats."""

    def __init__(self, store, clock, heartbeat: float = DEFAULT_HEARTBEAT) -> None:
        self.name = os.urandom(4).hex()
        self.heartbeat = heartbeat
        self._store = store
        self._clock = clock
        self._holders = itertools.count(1)
        self._beating = LoopingCall(self._beat)
        self._beating.clock = clock

    def holder(self) -> str:
        """A name for one connection's hold on an attempt: this node's, and a number."""
        return f"{self.name}/{next(self._holders)}"

    def start(self) -> None:
        self._beating.start(self.heartbeat, now=True).addErrback(
            lambda f: log.failure("The node's heartbeat stopped", f))

    def stop(self) -> None:
        if self._beating.running:
            self._beating.stop()

    def _beat(self) -> Deferred[None]:
        now = self._clock.seconds()
        # A beat missed (the database busy or away) is no error: the next one may land.
        return self._store.heartbeat(self.name, now, now + 3 * self.heartbeat).addErrback(
            lambda f: log.warn("Could not write the node's heartbeat: {error}", error=f.value))
