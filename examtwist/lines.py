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
    Lines end with LF, and a CR before it is dropped, so both line endings work.

    @cvar maxLine: bytes a line may hold before its ending. Once more than that have arrived
        with no ending, L{lineLengthExceeded} is called at once (a CR exactly at the limit may
        be the start of CRLF, so it gets the benefit of the doubt).
    @cvar maxHeld: bytes of lines held while one is in hand or the client does not read its
        replies; beyond them the socket is not read.
    @cvar linger: seconds a closing connection reads and drops what the client still sends, so
        its last reply is not destroyed by a reset for unread input.
    @ivar clock: the reactor's time (C{callLater}, C{seconds}); set before the connection is made.
    @ivar idleTimeout: seconds without a line before L{timeoutConnection}; None for never. The
        clock runs only while the client is waited for.
    """

    delimiter = b"\n"
    maxLine = 1024
    maxHeld = 65536
    linger = 2.0
    clock = None
    idleTimeout: float | None = None

    state = State.WAITING
    # What is known of the peer, beside the state:
    _readerBlocked = False  # it does not read our replies (its transport's buffer is full)
    _inputEnded = False  # it closed its sending side
    _stopReply: bytes | None = None  # asked to close once the line in hand is answered
    _held = 0  # bytes received and not yet handled
    _lastByte = b""
    _socketPaused = False
    _quietSince = 0.0
    _idleTimer = None
    _lingerTimer = None
    _closedWaiters: tuple | list = ()

    @property
    def readerBlocked(self) -> bool:
        """True while the client does not read its replies, so its lines are held."""
        return self._readerBlocked

    @property
    def MAX_LENGTH(self) -> int:  # LineReceiver's own limit: a line plus a CR
        return self.maxLine + 1

    # What a subclass says

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

    # Connection life

    def connectionMade(self) -> None:
        self.transport.registerProducer(_ReaderBackpressure(self), True)
        self._quietSince = self.clock.seconds()
        if self.idleTimeout:
            self._idleTimer = self.clock.callLater(self.idleTimeout, self._idleCheck)

    def connectionLost(self, reason=None) -> None:
        self.state = State.CLOSED
        for timer in (self._idleTimer, self._lingerTimer):
            if timer is not None and timer.active():
                timer.cancel()
        waiters, self._closedWaiters = self._closedWaiters, ()
        for waiter in waiters:
            waiter.callback(None)

    def whenClosed(self) -> Deferred[None]:
        """Fires once the connection is gone."""
        if self.state is State.CLOSED:
            return succeed(None)
        if not self._closedWaiters:
            self._closedWaiters = []
        waiter: Deferred[None] = Deferred()
        self._closedWaiters.append(waiter)
        return waiter

    def readConnectionLost(self) -> None:
        """The client sent EOF: answer the lines it sent before, then close."""
        self._inputEnded = True
        if self.state is State.CLOSING:
            self.transport.loseConnection()
        elif self.state is State.WAITING and not self._readerBlocked:
            self.close()

    def writeConnectionLost(self) -> None:
        pass

    def write(self, data: bytes) -> None:
        """Send (part of) a reply; nothing once the connection is closing."""
        if self.state is State.WAITING or self.state is State.WORKING:
            self.transport.write(data)

    def hold(self, work: Deferred | None) -> None:
        """Handle no further line until C{work} has fired (the greeting, say)."""
        if work is None or work.called and not isinstance(work.result, Deferred):
            if work is not None:
                work.addErrback(self.lineFailed)
            return
        self.state = State.WORKING
        self._update()
        work.addErrback(self.lineFailed).addBoth(self._answered)

    def stop(self, reply: bytes) -> None:
        """Close with this reply once the line in hand (if any) is answered."""
        if self.state is State.WORKING:
            self._stopReply = reply
        else:
            self.close(reply)

    def close(self, reply: bytes | None = None) -> None:
        """
        Send a last reply, then close politely: FIN first, drop what still arrives for a
        moment, then close for good.
        """
        if self.state is State.CLOSING or self.state is State.CLOSED:
            return
        if reply is not None:
            self.transport.write(reply)
        self.state = State.CLOSING
        self.clearLineBuffer()
        self.transport.unregisterProducer()
        if self._inputEnded or not IHalfCloseableDescriptor.providedBy(self.transport):
            self.transport.loseConnection()
            return
        self.transport.loseWriteConnection()
        self._update()  # read on, so the client's EOF or reset can arrive
        self._lingerTimer = self.clock.callLater(self.linger, self.transport.abortConnection)

    # Lines

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
        try:
            work = self.handleLine(line)
        except Exception:
            self.lineFailed(Failure())
            work = None
        if work is None or work.called and not isinstance(work.result, Deferred):
            if work is not None:
                work.addErrback(self.lineFailed)
            self._quietSince = self.clock.seconds()
            return
        self.state = State.WORKING
        self.paused = True
        work.addErrback(self.lineFailed).addBoth(self._answered)

    def clearLineBuffer(self) -> bytes:
        self._held = 0
        return super().clearLineBuffer()

    def _answered(self, _=None) -> None:
        if self.state is not State.WORKING:
            return
        self.state = State.WAITING
        self._quietSince = self.clock.seconds()
        if self._stopReply is not None:
            self.close(self._stopReply)
        else:
            self._update()

    def _setReaderBlocked(self, blocked: bool) -> None:
        self._readerBlocked = blocked
        if self.state is State.WAITING or self.state is State.WORKING:
            self._update()

    def _update(self) -> None:
        """
        Handle lines only while none is in hand and the client takes its replies. Held lines
        wait in the buffer and the socket is read on until C{maxHeld} bytes wait: pausing it
        for every line that waits on other work costs two system calls a line, and TLS may
        need to read before it can write. A closing connection reads on, to drop what arrives.
        """
        closing = self.state is State.CLOSING
        holdLines = not closing and (self.state is State.WORKING or self._readerBlocked)
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

    def _idleCheck(self) -> None:
        """
        The idle timer is not moved for every line (that costs more than the line): when it
        fires it looks at when the client was last waited for, and fires again later if need be.
        """
        self._idleTimer = None
        if self.state is State.CLOSING or self.state is State.CLOSED:
            return
        quiet = self.clock.seconds() - self._quietSince
        if self.state is State.WAITING and quiet >= self.idleTimeout:
            self.timeoutConnection()
            return
        wait = self.idleTimeout if self.state is State.WORKING else self.idleTimeout - quiet
        self._idleTimer = self.clock.callLater(wait, self._idleCheck)


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
