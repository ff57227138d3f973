"""
Line handling that knows nothing of exams: one line in hand at a time, later lines held in
order, read and write backpressure, the idle timer, an early "line too long", and a polite
close (half-close, then drop what still arrives for a moment).

A subclass says what a line means (L{OrderedLineReceiver.handleLine}) and what to send when a
line is too long, the client is idle or a handler fails; everything about when a line may be
handled is here, in one state and two facts about the peer.
"""

from __future__ import annotations

import enum

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import (
    IHalfCloseableDescriptor,
    IHalfCloseableProtocol,
    IPushProducer,
)
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from zope.interface import implementer


class State(enum.Enum):
    WAITING = "waiting for the client's next line"
    WORKING = "a line in hand: its reply waits on other work"
    CLOSING = "last reply sent: reading and dropping what still arrives"
    CLOSED = "the connection is gone"


@implementer(IHalfCloseableProtocol)
class OrderedLineReceiver(LineReceiver):
    """
    Lines end with LF, and a CR before it is dropped, so both line endings work. Set C{clock}
    (the reactor's C{callLater} and C{seconds}) before the connection is made. C{lineMeter(self,
    line)}, if set, names what a line's seconds to its reply go to (L{examtwist.metrics}).
    """

    delimiter = b"\n"
    # Bytes a line may hold before its ending; once more have arrived with no ending,
    # lineLengthExceeded at once (a CR right at the limit may start a CRLF: it may wait).
    maxLine = 1024
    # Bytes of lines held while one is in hand or the client does not read its replies;
    # beyond them the socket is not read.
    maxHeld = 65536
    # Seconds a closing connection reads and drops what still arrives, so a reset for unread
    # input does not destroy its last reply.
    linger = 2.0
    # Seconds without a line before timeoutConnection (None: never), counted while waiting.
    idleTimeout: float | None = None
    clock = lineMeter = None

    state = State.WAITING
    readerBlocked = False  # the peer does not read its replies: its transport's buffer is full
    _inputEnded = False  # the peer closed its sending side
    _stopReply: bytes | None = None  # asked to close once the line in hand is answered
    _held = 0  # bytes received and not yet handled
    _lastByte = b""
    _socketPaused = False
    _idle = _backpressure = _lingerTimer = None
    _closedWaiters: tuple[Deferred[None], ...] = ()

    def handleLine(self, line: bytes) -> Deferred | None:
        """
        Handle one line (without its ending). Return None when it is answered, or a Deferred
        that fires once it is: no later line is handled before.
        """
        raise NotImplementedError

    def lineFailed(self, failure: Failure) -> None:
        """A handler raised, or its Deferred failed."""
        raise NotImplementedError

    def lineLengthExceeded(self, line: bytes) -> None:
        self.close()

    def timeoutConnection(self) -> None:
        self.close()

    def connectionMade(self) -> None:
        self.MAX_LENGTH = self.maxLine + 1  # LineReceiver's own limit: a line and a CR
        self._backpressure = _ReaderBackpressure(self)
        self.transport.registerProducer(self._backpressure, True)
        self._idle = _IdleClock(self)

    def connectionLost(self, reason=None) -> None:
        self.state = State.CLOSED
        if self._idle is not None:
            self._idle.stop()
        if self._lingerTimer is not None and self._lingerTimer.active():
            self._lingerTimer.cancel()
        for waiter in self._closedWaiters:
            waiter.callback(None)

    def whenClosed(self) -> Deferred[None]:
        """Fires once the connection is gone."""
        if self.state is State.CLOSED:
            return succeed(None)
        self._closedWaiters += (Deferred(),)
        return self._closedWaiters[-1]

    def readConnectionLost(self) -> None:
        """The client sent EOF: answer the lines it sent before, then close."""
        self._inputEnded = True
        if self.state is State.CLOSING:
            self.transport.loseConnection()
        elif self.state is State.WAITING and not self.readerBlocked:
            self.close()

    def writeConnectionLost(self) -> None:
        pass

    def write(self, data: bytes) -> None:
        """Send (part of) a reply; nothing once the connection is closing."""
        if self.state is State.WAITING or self.state is State.WORKING:
            self.transport.write(data)

    def hold(self, work: Deferred | None) -> None:
        """Handle no further line until C{work} has fired (the greeting, say)."""
        if self._inHand(work):
            self._update()

    def stop(self, reply: bytes) -> None:
        """Close with this reply once the line in hand (if any) is answered."""
        if self.state is State.WORKING:
            self._stopReply = reply
        else:
            self.close(reply)

    def close(self, reply: bytes | None = None) -> None:
        """Send a last reply; FIN, drop what still arrives for a moment, then close for good."""
        if self.state is State.CLOSING or self.state is State.CLOSED:
            return
        if reply is not None:
            self.transport.write(reply)
        self.state = State.CLOSING
        self.clearLineBuffer()
        if self._backpressure is not None:
            self.transport.unregisterProducer()
        if self._inputEnded or not IHalfCloseableDescriptor.providedBy(self.transport):
            self.transport.loseConnection()
            return
        self.transport.loseWriteConnection()
        self._update()  # read on, so the client's EOF or reset can arrive
        self._lingerTimer = self.clock.callLater(self.linger, self.transport.abortConnection)

    def dataReceived(self, data: bytes) -> None:
        if self.state is State.CLOSING or self.state is State.CLOSED:
            return
        if data:
            self._held += len(data)
            self._lastByte = data[-1:]
        super().dataReceived(data)
        if self.paused:
            if not self._socketPaused and self._held > self.maxHeld:
                self._update()
        elif self.state is State.WAITING:
            # Every complete line is handled: what is held is the start of the next one.
            if self._held > self.maxLine and not (
                self._held == self.maxLine + 1 and self._lastByte == b"\r"
            ):
                self.lineLengthExceeded(self.clearLineBuffer())
            elif self._inputEnded:
                self.close()

    def lineReceived(self, line: bytes) -> None:
        self._held -= len(line) + 1
        if line[-1:] == b"\r":
            line = line[:-1]
        if len(line) > self.maxLine:
            return self.lineLengthExceeded(line)
        self._idle.arrived(line)
        try:
            work = self.handleLine(line)
        except Exception:
            self.lineFailed(Failure())
            work = None
        if self._inHand(work):
            self.paused = True
        else:
            self._idle.answered()

    def _inHand(self, work: Deferred | None) -> bool:
        """Whether C{work} is still to finish, holding later lines; a failure is reported."""
        if work is None:
            return False
        work.addErrback(self.lineFailed)
        if work.called and not isinstance(work.result, Deferred):
            return False
        self.state = State.WORKING
        work.addBoth(self._answered)
        return True

    def clearLineBuffer(self) -> bytes:
        self._held = 0
        return super().clearLineBuffer()

    def _answered(self, _=None) -> None:
        self._idle.answered()
        if self.state is not State.WORKING:
            return
        self.state = State.WAITING
        if self._stopReply is not None:
            self.close(self._stopReply)
        else:
            self._update()

    def _setReaderBlocked(self, blocked: bool) -> None:
        self.readerBlocked = blocked
        if self.state is State.WAITING or self.state is State.WORKING:
            self._update()

    def _update(self) -> None:
        """
        Handle lines only while none is in hand and the client takes its replies; read the
        socket on until C{maxHeld} bytes wait (pausing it for every line that waits costs two
        system calls a line, and TLS may need to read to write), and while closing.
        """
        closing = self.state is State.CLOSING
        holdLines = not closing and (self.state is State.WORKING or self.readerBlocked)
        holdSocket = holdLines and self._held > self.maxHeld
        if holdSocket != self._socketPaused:
            self._socketPaused = holdSocket
            if holdSocket:
                self.transport.pauseProducing()
            else:
                self.transport.resumeProducing()
        if holdLines != self.paused and not closing:
            self.paused = holdLines
            if not holdLines:
                self.dataReceived(b"")


class _IdleClock:
    """
    When the client was last waited for, and a timer that looks at it when it fires: the
    timer is not moved for every line, which would cost more than the line. It counts only
    while the client is waited for, never while a line is in hand. And with a C{lineMeter},
    when the line in hand arrived: the time to its reply is told when it is written.
    """

    _timing = None  # (where the line's time goes, when it arrived)

    def __init__(self, lines: OrderedLineReceiver) -> None:
        self._lines = lines
        self.since = lines.clock.seconds()
        self._timer = None
        if lines.idleTimeout:
            self._timer = lines.clock.callLater(lines.idleTimeout, self._check)

    def stop(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()

    def arrived(self, line: bytes) -> None:
        meter = self._lines.lineMeter
        if meter is not None:
            self._timing = meter(self._lines, line), self._lines.clock.seconds()

    def answered(self) -> None:
        """A reply is written (or the greeting): the client is waited for from now."""
        now = self.since = self._lines.clock.seconds()
        if self._timing is not None:
            meter, arrived = self._timing
            self._timing = None
            meter.observe(now - arrived)

    def _check(self) -> None:
        lines, timeout = self._lines, self._lines.idleTimeout
        self._timer = None
        if lines.state is State.CLOSING or lines.state is State.CLOSED:
            return
        quiet = lines.clock.seconds() - self.since
        if lines.state is State.WAITING and quiet >= timeout:
            lines.timeoutConnection()
            return
        wait = timeout if lines.state is State.WORKING else timeout - quiet
        self._timer = lines.clock.callLater(wait, self._check)


@implementer(IPushProducer)
class _ReaderBackpressure:
    """
    Registered with the transport: when a client sends lines but does not read the replies,
    its transport's write buffer fills and its lines are held until it reads again.
    """

    def __init__(self, lines: OrderedLineReceiver) -> None:
        self._lines = lines

    def pauseProducing(self) -> None:
        self._lines._setReaderBlocked(True)

    def resumeProducing(self) -> None:
        self._lines._setReaderBlocked(False)

    def stopProducing(self) -> None:
        pass
