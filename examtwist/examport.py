"""
The exam port's factory: one L{ExamProtocol} per connection, who may connect (a cap and a rate
per client address), the open connections a shutdown must tell, and each question's 350
reply, formatted once for every student.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.protocol import ServerFactory
from twisted.logger import Logger

from examtwist.protocol import ExamProtocol
from examtwist.ratelimit import RateLimit, client_of
from examtwist.wire import format_reply

log = Logger()


class ExamFactory(ServerFactory):
    """
    Makes one L{ExamProtocol} per connection, and keeps what they share: the desk, the open
    connections, and each question's 350 reply, formatted once for every student.
    """

    protocol = ExamProtocol
    noisy = False
    QUESTIONS_KEPT = 1024
    lineMeter = None  # what each connection's lines are timed by (examtwist.metrics)

    def __init__(self, reactor, desk, idle_timeout: float | None = 600.0,
                 max_per_address: int = 0, arrivals: RateLimit | None = None) -> None:
        self.reactor = reactor
        self.desk = desk
        self.idle_timeout = idle_timeout or None
        self.max_per_address = max_per_address
        self.arrivals = arrivals
        self.connections: set[ExamProtocol] = set()
        self._per_client: dict[str, int] = {}
        self._refused: dict[str, int] = {}
        self._refusal_log = None
        self._questions: dict[tuple[int, int, int], tuple[object, bytes]] = {}

    def buildProtocol(self, addr):
        connection = super().buildProtocol(addr)
        if self.lineMeter is not None:
            connection.lineMeter = self.lineMeter
        return connection

    def admit(self, connection: ExamProtocol) -> bool:
        """
        Take a connection in, unless its client already holds C{max_per_address} or has
        opened more than C{arrivals} allows lately (0 or None: no limit); a connection not
        taken in is neither counted nor greeted. Refusals are logged once a second at most.
        """
        client = client_of(connection.address)
        held = self._per_client.get(client, 0)
        if (self.max_per_address and held >= self.max_per_address) or (
            self.arrivals is not None and self.arrivals.wait(client)
        ):
            self._log_refusal(client)
            return False
        self._per_client[client] = held + 1
        self.connections.add(connection)
        return True

    def _log_refusal(self, client: str) -> None:
        if not self._refused:
            self._refusal_log = self.reactor.callLater(1, self._refusals_logged)
        self._refused[client] = self._refused.get(client, 0) + 1

    def _refusals_logged(self) -> None:
        if self._refusal_log is not None and self._refusal_log.active():
            self._refusal_log.cancel()
        self._refusal_log = None
        refused, self._refused = self._refused, {}
        for client, count in refused.items():
            log.info("Refused {count} connections from {client}: too many from there",
                     count=count, client=client)

    def release(self, connection: ExamProtocol) -> bool:
        """A connection is gone; False if it was never taken in."""
        if connection not in self.connections:
            return False
        self.connections.discard(connection)
        client = client_of(connection.address)
        held = self._per_client.pop(client) - 1
        if held:
            self._per_client[client] = held
        return True

    def question_reply(self, question, number: int, total: int) -> bytes:
        key = (id(question), number, total)
        kept = self._questions.get(key)
        if kept is not None and kept[0] is question:
            return kept[1]
        if len(self._questions) >= self.QUESTIONS_KEPT:
            self._questions.clear()
        reply = format_reply(350, *question.reply_lines(number, total))
        self._questions[key] = (question, reply)
        return reply

    def shutdown(self) -> Deferred:
        """
        Tell every connection the server is stopping; fires once all have closed. A line
        whose password check still waits for a thread is not answered: its connection gets
        the 421 at once.
        """
        closed = DeferredList([p.shutdown() for p in list(self.connections)])
        self.desk.stop_password_checks()
        if self._refused:
            self._refusals_logged()
        return closed
