"""
L{examtwist.lines}: when a line is handled, held, refused, and how a connection ends, whatever
the lines mean. In the manner of Twisted's own tests of L{LineReceiver}: synchronous, a
StringTransport for the socket, a MemoryReactorClock for time, a tiny line handler whose
answers the test controls, and every input replayed in chunks of 1 to 9 bytes.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IHalfCloseableDescriptor
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from examtwist.lines import OrderedLineReceiver, State


@implementer(IHalfCloseableDescriptor)
class HalfCloseableTransport(StringTransport):
    """
    A StringTransport that can shut its writing side alone, as TCP can (a FIN). What is
    written after that still shows in L{value}, so a test sees it.

    @ivar writeClosed: True once L{loseWriteConnection} was called.
    @ivar bufferSize: when set, the transport pauses its producer once more than this many
        bytes were written, as a real transport does when the client does not read.
    """

    writeClosed = False
    bufferSize: int | None = None

    def loseWriteConnection(self) -> None:
        self.writeClosed = True

    def write(self, data: bytes) -> None:
        super().write(data)
        if self.bufferSize is not None and len(self.value()) > self.bufferSize:
            self.producer.pauseProducing()


class Oops(Exception):
    """What the test handler raises or fails with."""


class Echo(OrderedLineReceiver):
    """
    Answers C{echo <line>}; a line starting with C{wait} is answered C{done <line>} once the
    test fires its Deferred (kept in L{waiting}); C{raise} raises, C{fail} fails, and C{bye}
    closes with C{bye}. A short C{maxLine} and C{maxHeld} keep the inputs readable.
    """

    maxLine = 8
    maxHeld = 20
    linger = 2.0

    def __init__(self) -> None:
        self.handled: list[bytes] = []
        self.waiting: list[Deferred] = []
        self.failed: list[bytes] = []

    def handleLine(self, line: bytes) -> Deferred | None:
        self.handled.append(line)
        if line.startswith(b"wait"):
            work: Deferred = Deferred()
            self.waiting.append(work)
            return work.addCallback(lambda _: self.write(b"done " + line + b"\r\n"))
        if line == b"raise":
            raise Oops(line)
        if line == b"fail":
            return fail(Oops(line))
        if line == b"bye":
            self.close(b"bye\r\n")
            return None
        self.write(b"echo " + line + b"\r\n")
        return None

    def lineFailed(self, failure) -> None:
        failure.trap(Oops)
        self.failed.append(failure.value.args[0])
        self.write(b"failed\r\n")

    def lineLengthExceeded(self, line: bytes) -> None:
        self.close(b"too long\r\n")

    def timeoutConnection(self) -> None:
        self.close(b"idle\r\n")


def connect(transport: StringTransport | None = None, idleTimeout: float | None = None):
    """An L{Echo} connected to C{transport} (half-closeable by default), and its clock."""
    clock = MemoryReactorClock()
    protocol = Echo()
    protocol.clock = clock
    protocol.idleTimeout = idleTimeout
    if transport is None:
        transport = HalfCloseableTransport()
    protocol.makeConnection(transport)
    return protocol, transport, clock


def send(protocol: Echo, data: bytes, packet_size: int) -> None:
    """Deliver C{data} in chunks of C{packet_size} bytes."""
    for i in range(0, len(data), packet_size):
        protocol.dataReceived(data[i:i + packet_size])


class OrderTests(SynchronousTestCase):
    def test_lines_in_order(self):
        """
        If lines end with LF or CRLF, in any chunking, then each is handled once, in order,
        without its ending: C{echo one}, C{echo two}, C{echo three}, C{echo }.
        """
        for packet_size in range(1, 10):
            p, t, _ = connect()
            send(p, b"one\ntwo\r\nthree\r\n\r\n", packet_size)
            self.assertEqual(p.handled, [b"one", b"two", b"three", b""], packet_size)
            self.assertEqual(t.value(), b"echo one\r\necho two\r\necho three\r\necho \r\n")
            self.assertIs(p.state, State.WAITING)

    def test_pending_line_holds_later_lines(self):
        """
        If a line's handler returns a Deferred, then no later line is handled until it fires;
        then the held lines are, in order, up to the next that waits.
        """
        for packet_size in range(1, 10):
            p, t, _ = connect()
            send(p, b"one\nwait1\ntwo\nwait2\nthree\n", packet_size)
            self.assertEqual((p.handled, t.value(), p.state),
                             ([b"one", b"wait1"], b"echo one\r\n", State.WORKING), packet_size)
            p.waiting[0].callback(None)
            self.assertEqual(
                (p.handled, t.value(), p.state),
                ([b"one", b"wait1", b"two", b"wait2"],
                 b"echo one\r\ndone wait1\r\necho two\r\n", State.WORKING),
            )
            p.waiting[1].callback(None)
            self.assertEqual(
                (p.handled, t.value(), p.state),
                ([b"one", b"wait1", b"two", b"wait2", b"three"],
                 b"echo one\r\ndone wait1\r\necho two\r\ndone wait2\r\necho three\r\n",
                 State.WAITING),
            )

    def test_lines_arriving_after_the_reply(self):
        """
        If a line arrives after the line in hand was answered, then it is handled at once:
        C{done wait}, then C{echo one}.
        """
        for packet_size in range(1, 10):
            p, t, _ = connect()
            send(p, b"wait\n", packet_size)
            p.waiting[0].callback(None)
            send(p, b"one\n", packet_size)
            self.assertEqual((p.handled, t.value()),
                             ([b"wait", b"one"], b"done wait\r\necho one\r\n"), packet_size)

    def test_held_work_holds_lines(self):
        """
        If work is held (a greeting, say), then lines wait for it: C{echo one} comes only
        after the work's own C{hello}.
        """
        for packet_size in range(1, 10):
            p, t, _ = connect()
            greeting: Deferred = Deferred()
            p.hold(greeting.addCallback(lambda _: p.write(b"hello\r\n")))
            send(p, b"one\n", packet_size)
            self.assertEqual((p.handled, t.value()), ([], b""), packet_size)
            greeting.callback(None)
            self.assertEqual((p.handled, t.value()), ([b"one"], b"hello\r\necho one\r\n"))


class LengthTests(SynchronousTestCase):
    """C{Echo.maxLine} is 8 bytes."""

    def test_longest_line_is_fine(self):
        """
        If a line holds exactly 8 bytes before LF or CRLF, then it is handled:
        C{echo 12345678} twice, and the connection stays open.
        """
        for packet_size in range(1, 10):
            p, t, _ = connect()
            send(p, b"12345678\n12345678\r\n", packet_size)
            self.assertEqual((p.handled, t.value(), t.writeClosed),
                             ([b"12345678"] * 2, b"echo 12345678\r\n" * 2, False), packet_size)

    def test_too_long_without_its_ending(self):
        """
        If 9 bytes arrive with no line ending, then the answer is C{too long} and the
        connection closes at once, without waiting for the rest; the rest is dropped.
        """
        for packet_size in range(1, 10):
            p, t, _ = connect()
            send(p, b"123456789", packet_size)
            self.assertEqual((p.handled, t.value(), t.writeClosed, p.state),
                             ([], b"too long\r\n", True, State.CLOSING), packet_size)
            send(p, b"\none\n", packet_size)
            self.assertEqual((p.handled, t.value()), ([], b"too long\r\n"))

    def test_too_long_with_its_ending(self):
        """
        If a line of 9 bytes arrives with its ending (even in one chunk), then the answer
        is C{too long}, and the line after it is not handled.
        """
        for packet_size in range(1, 10):
            p, t, _ = connect()
            send(p, b"123456789\none\n", packet_size)
            self.assertEqual((p.handled, t.value(), t.writeClosed),
                             ([], b"too long\r\n", True), packet_size)

    def test_cr_at_the_limit_gets_the_benefit_of_the_doubt(self):
        """
        If the 9th byte is a CR, then it may start CRLF: nothing is answered yet; an LF
        then makes an 8-byte line (C{echo 12345678}).
        """
        for packet_size in range(1, 10):
            p, t, _ = connect()
            send(p, b"12345678\r", packet_size)
            self.assertEqual((p.handled, t.value(), t.writeClosed),
                             ([], b"", False), packet_size)
            send(p, b"\n", packet_size)
            self.assertEqual((p.handled, t.value()), ([b"12345678"], b"echo 12345678\r\n"))

    def test_cr_at_the_limit_then_more(self):
        """
        If the 9th byte is a CR and the 10th is not an LF, then the line is C{too long}.
        """
        for packet_size in range(1, 10):
            p, t, _ = connect()
            send(p, b"12345678\rx", packet_size)
            self.assertEqual((p.handled, t.value(), t.writeClosed),
                             ([], b"too long\r\n", True), packet_size)

    def test_cr_before_the_limit_is_no_excuse(self):
        """
        If the 9th byte arrives and is not a CR, then the line is C{too long}, even when a
        CR came before it (C{1234567\\rx}).
        """
        for packet_size in range(1, 10):
            p, t, _ = connect()
            send(p, b"1234567\rx", packet_size)
            self.assertEqual((p.handled, t.value(), t.writeClosed),
                             ([], b"too long\r\n", True), packet_size)

    def test_complete_lines_before_a_long_one_are_answered(self):
        """
        If complete lines come before an overlong one, then they are answered first:
        C{echo one}, then C{too long}.
        """
        for packet_size in range(1, 10):
            p, t, _ = connect()
            send(p, b"one\n123456789", packet_size)
            self.assertEqual((p.handled, t.value()),
                             ([b"one"], b"echo one\r\ntoo long\r\n"), packet_size)

    def test_too_long_while_a_line_is_in_hand(self):
        """
        If an overlong line arrives while a line is in hand, then nothing is said until that
        line is answered; then the lines before the long one, then C{too long}.
        """
        for packet_size in range(1, 10):
            p, t, _ = connect()
            send(p, b"wait\none\n123456789", packet_size)
            self.assertEqual((p.handled, t.value()), ([b"wait"], b""), packet_size)
            p.waiting[0].callback(None)
            self.assertEqual(
                (p.handled, t.value(), t.writeClosed),
                ([b"wait", b"one"], b"done wait\r\necho one\r\ntoo long\r\n", True),
            )


class ReadBackpressureTests(SynchronousTestCase):
    """C{Echo.maxHeld} is 20 bytes."""

    def test_socket_paused_only_past_max_held(self):
        """
        If a line is in hand, then the socket is read on until more than 20 bytes of later
        lines are held, then paused; once the held lines are handled it is resumed.
        """
        data = b"wait\n" + b"abc\n" * 6
        for packet_size in range(1, 10):
            p, t, _ = connect()
            for end in range(packet_size, len(data) + packet_size, packet_size):
                p.dataReceived(data[end - packet_size:end])
                held = min(end, len(data)) - len(b"wait\n")
                expected = "paused" if held > 20 else "producing"
                self.assertEqual(t.producerState, expected, (packet_size, end))
            self.assertEqual(p.handled, [b"wait"])
            p.waiting[0].callback(None)
            self.assertEqual(
                (p.handled, t.value(), t.producerState),
                ([b"wait"] + [b"abc"] * 6, b"done wait\r\n" + b"echo abc\r\n" * 6, "producing"),
            )

    def test_socket_stays_paused_while_still_too_much_is_held(self):
        """
        If the next held line waits too and more than 20 bytes are still held behind it, then
        the socket is paused again; it is resumed once they are handled.
        """
        for packet_size in range(1, 10):
            p, t, _ = connect()
            send(p, b"wait1\nwait2\n" + b"abcd\n" * 5, packet_size)
            self.assertEqual(t.producerState, "paused", packet_size)
            p.waiting[0].callback(None)
            self.assertEqual((p.handled, t.producerState),
                             ([b"wait1", b"wait2"], "paused"))
            p.waiting[1].callback(None)
            self.assertEqual((p.handled, t.producerState),
                             ([b"wait1", b"wait2"] + [b"abcd"] * 5, "producing"))

    def test_client_stops_reading_with_max_held_bytes_held(self):
        """
        If the client stops reading while a line is in hand and exactly 20 bytes are held,
        then the socket is still read; one more byte pauses it.
        """
        for packet_size in range(1, 10):
            p, t, _ = connect()
            send(p, b"wait\n" + b"abcd\n" * 4, packet_size)
            t.producer.pauseProducing()
            self.assertEqual(t.producerState, "producing", packet_size)
            send(p, b"a", packet_size)
            self.assertEqual(t.producerState, "paused")

    def test_closing_reads_on(self):
        """
        If the connection closes while its socket is paused, then the socket is resumed, so
        what the client still sends (its EOF) can arrive and be dropped.
        """
        for packet_size in range(1, 10):
            p, t, _ = connect()
            send(p, b"wait\n" + b"abcd\n" * 5, packet_size)
            self.assertEqual(t.producerState, "paused", packet_size)
            p.close(b"bye\r\n")
            self.assertEqual((t.value(), t.writeClosed, t.producerState),
                             (b"bye\r\n", True, "producing"))


class WriteBackpressureTests(SynchronousTestCase):
    def test_no_line_while_the_client_does_not_read(self):
        """
        If the transport pauses the registered producer (the client does not read its
        replies), then no line is handled until it resumes; then all are, in order.
        """
        for packet_size in range(1, 10):
            p, t, _ = connect()
            self.assertTrue(t.streaming)
            t.producer.pauseProducing()
            send(p, b"one\ntwo\n", packet_size)
            self.assertEqual((p.handled, t.value(), p.readerBlocked),
                             ([], b"", True), packet_size)
            t.producer.resumeProducing()
            self.assertEqual((p.handled, t.value(), p.readerBlocked),
                             ([b"one", b"two"], b"echo one\r\necho two\r\n", False))

    def test_a_full_write_buffer_holds_the_next_line(self):
        """
        If a reply fills the transport's write buffer, then the next line waits until the
        client has read: C{echo one}, C{echo two}, and C{echo three} only after the resume.
        """
        for packet_size in range(1, 10):
            t = HalfCloseableTransport()
            t.bufferSize = 10
            p, t, _ = connect(t)
            send(p, b"one\ntwo\nthree\n", packet_size)
            self.assertEqual((p.handled, t.value()),
                             ([b"one", b"two"], b"echo one\r\necho two\r\n"), packet_size)
            t.clear()
            t.producer.resumeProducing()
            self.assertEqual((p.handled, t.value()),
                             ([b"one", b"two", b"three"], b"echo three\r\n"))

    def test_socket_paused_past_max_held_while_the_client_does_not_read(self):
        """
        If the client does not read its replies and sends more than 20 bytes of lines, then
        the socket is paused; once it reads again, the socket is resumed and the lines handled.
        """
        for packet_size in range(1, 10):
            p, t, _ = connect()
            t.producer.pauseProducing()
            send(p, b"abc\n" * 5, packet_size)
            self.assertEqual(t.producerState, "producing", packet_size)
            send(p, b"a", packet_size)
            self.assertEqual(t.producerState, "paused")
            t.producer.resumeProducing()
            self.assertEqual((p.handled, t.producerState), ([b"abc"] * 5, "producing"))

    def test_line_in_hand_is_answered_while_the_client_does_not_read(self):
        """
        If the client stops reading while a line is in hand, then that line is still
        answered (C{done wait}), and the next waits until the client reads again.
        """
        for packet_size in range(1, 10):
            p, t, _ = connect()
            send(p, b"wait\none\n", packet_size)
            t.producer.pauseProducing()
            p.waiting[0].callback(None)
            self.assertEqual((p.handled, t.value()), ([b"wait"], b"done wait\r\n"), packet_size)
            t.producer.resumeProducing()
            self.assertEqual((p.handled, t.value()),
                             ([b"wait", b"one"], b"done wait\r\necho one\r\n"))


class IdleTests(SynchronousTestCase):
    def test_idle_timeout(self):
        """
        If no line arrives for 30 seconds, then the answer is C{idle} and the connection
        closes; after 29 seconds nothing has happened.
        """
        p, t, clock = connect(idleTimeout=30)
        clock.advance(29)
        self.assertEqual((t.value(), t.writeClosed), (b"", False))
        clock.advance(1)
        self.assertEqual((t.value(), t.writeClosed, p.state), (b"idle\r\n", True, State.CLOSING))

    def test_counts_from_the_last_reply(self):
        """
        If a line is answered at 20 s, then the idle timeout comes at 50 s, not at 30 s.
        """
        for packet_size in range(1, 10):
            p, t, clock = connect(idleTimeout=30)
            clock.advance(20)
            send(p, b"one\n", packet_size)
            clock.advance(29)
            self.assertEqual((t.value(), t.writeClosed), (b"echo one\r\n", False), packet_size)
            clock.advance(1)
            self.assertEqual((t.value(), t.writeClosed), (b"echo one\r\nidle\r\n", True))

    def test_not_while_a_line_is_in_hand(self):
        """
        If a line is in hand for 100 seconds, then there is no idle timeout meanwhile; it
        comes 30 seconds after the line's reply.
        """
        for packet_size in range(1, 10):
            p, t, clock = connect(idleTimeout=30)
            send(p, b"wait\n", packet_size)
            clock.pump([1] * 100)
            self.assertEqual((t.value(), p.state), (b"", State.WORKING), packet_size)
            p.waiting[0].callback(None)
            clock.advance(29)
            self.assertEqual((t.value(), t.writeClosed), (b"done wait\r\n", False))
            clock.advance(1)
            self.assertEqual((t.value(), t.writeClosed), (b"done wait\r\nidle\r\n", True))

    def test_no_idle_timeout(self):
        """If the idle timeout is None, then no timer is ever set."""
        p, t, clock = connect(idleTimeout=None)
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_timer_cancelled_when_the_connection_is_lost(self):
        """If the connection is lost, then its idle timer is cancelled."""
        p, t, clock = connect(idleTimeout=30)
        p.connectionLost(None)
        self.assertEqual((clock.getDelayedCalls(), p.state), ([], State.CLOSED))


class EndOfInputTests(SynchronousTestCase):
    def test_complete_lines_answered_then_closed(self):
        """
        If the client sends EOF while a line is in hand, then the complete lines it sent are
        answered, an unfinished last line is dropped, and then the connection closes at once
        (no linger: the client sends nothing more).
        """
        for packet_size in range(1, 10):
            p, t, clock = connect()
            send(p, b"wait\none\ntwo\npart", packet_size)
            p.readConnectionLost()
            self.assertEqual((t.value(), t.disconnecting), (b"", False), packet_size)
            p.waiting[0].callback(None)
            self.assertEqual(
                (p.handled, t.value(), t.writeClosed, t.disconnecting, clock.getDelayedCalls()),
                ([b"wait", b"one", b"two"], b"done wait\r\necho one\r\necho two\r\n", False,
                 True, []),
            )

    def test_eof_with_nothing_in_hand(self):
        """
        If the client sends EOF when every line it sent is answered, then the connection
        closes at once.
        """
        for packet_size in range(1, 10):
            p, t, _ = connect()
            send(p, b"one\n", packet_size)
            p.readConnectionLost()
            self.assertEqual((t.value(), t.disconnecting), (b"echo one\r\n", True), packet_size)

    def test_eof_while_the_client_does_not_read(self):
        """
        If the client sends EOF while it does not read its replies, then its lines are
        answered once it reads again, and then the connection closes.
        """
        for packet_size in range(1, 10):
            p, t, _ = connect()
            t.producer.pauseProducing()
            send(p, b"one\ntwo\n", packet_size)
            p.readConnectionLost()
            self.assertEqual((t.value(), t.disconnecting), (b"", False), packet_size)
            t.producer.resumeProducing()
            self.assertEqual((t.value(), t.disconnecting),
                             (b"echo one\r\necho two\r\n", True))

    def test_eof_while_closing(self):
        """
        If the client sends EOF after the server half-closed, then the connection closes
        for good at once.
        """
        p, t, _ = connect()
        p.close(b"bye\r\n")
        self.assertEqual((t.writeClosed, t.disconnecting), (True, False))
        p.readConnectionLost()
        self.assertEqual((t.value(), t.disconnecting), (b"bye\r\n", True))


class CloseTests(SynchronousTestCase):
    def test_close_half_closes_drops_and_aborts_after_linger(self):
        """
        If the protocol closes with a reply, then the reply is written, the writing side is
        shut, lines still arriving are dropped, and after 2 seconds (the linger) the
        connection is aborted.
        """
        for packet_size in range(1, 10):
            p, t, clock = connect()
            p.close(b"bye\r\n")
            self.assertEqual((t.value(), t.writeClosed, t.disconnecting, t.producer),
                             (b"bye\r\n", True, False, None))
            send(p, b"one\ntwo\n", packet_size)
            self.assertEqual(p.handled, [], packet_size)
            clock.advance(1.9)
            self.assertFalse(t.disconnected)
            clock.advance(0.1)
            self.assertEqual((t.value(), t.disconnected), (b"bye\r\n", True))

    def test_lines_after_a_closing_line_are_dropped(self):
        """
        If a line's handler closes the connection, then the lines that came with it are not
        handled: only C{bye} is written.
        """
        for packet_size in range(1, 10):
            p, t, _ = connect()
            send(p, b"bye\none\ntwo\n", packet_size)
            self.assertEqual((p.handled, t.value(), t.writeClosed),
                             ([b"bye"], b"bye\r\n", True), packet_size)

    def test_close_without_half_close(self):
        """
        If the transport cannot half-close, then closing loses the connection at once, with
        no linger timer.
        """
        p, t, clock = connect(StringTransport())
        p.close(b"bye\r\n")
        self.assertEqual((t.value(), t.disconnecting, clock.getDelayedCalls()),
                         (b"bye\r\n", True, []))

    def test_close_twice(self):
        """If the protocol closes twice, then only the first reply is written."""
        p, t, _ = connect()
        p.close(b"bye\r\n")
        p.close(b"again\r\n")
        self.assertEqual(t.value(), b"bye\r\n")

    def test_late_reply_is_dropped(self):
        """
        If the line in hand is answered after the connection closed, then its reply is not
        written, whether or not the transport can half-close.
        """
        for transport in [HalfCloseableTransport(), StringTransport()]:
            p, t, _ = connect(transport)
            p.dataReceived(b"wait\n")
            p.close(b"bye\r\n")
            p.waiting[0].callback(None)
            self.assertEqual((t.value(), p.state), (b"bye\r\n", State.CLOSING))

    def test_connection_lost_cancels_the_linger(self):
        """
        If the connection is lost while lingering, then the linger timer is cancelled and
        those waiting for the close are told.
        """
        p, t, clock = connect()
        closed = p.whenClosed()
        p.close()
        p.connectionLost(None)
        self.assertEqual((clock.getDelayedCalls(), self.successResultOf(closed), t.disconnected),
                         ([], None, False))

    def test_when_closed_after_the_close(self):
        """If the connection is already gone, then L{whenClosed} has fired."""
        p, t, _ = connect()
        p.connectionLost(None)
        self.assertIsNone(self.successResultOf(p.whenClosed()))


class StopTests(SynchronousTestCase):
    def test_stop_waits_for_the_line_in_hand(self):
        """
        If the connection is stopped while a line is in hand, then that line is answered
        first (C{done wait}), then the stop reply C{bye}, and later lines are dropped.
        """
        for packet_size in range(1, 10):
            p, t, _ = connect()
            send(p, b"wait\none\n", packet_size)
            p.stop(b"bye\r\n")
            self.assertEqual((t.value(), t.writeClosed), (b"", False), packet_size)
            p.waiting[0].callback(None)
            self.assertEqual((p.handled, t.value(), t.writeClosed),
                             ([b"wait"], b"done wait\r\nbye\r\n", True))

    def test_stop_while_waiting(self):
        """If the connection is stopped with no line in hand, then C{bye} is sent at once."""
        for packet_size in range(1, 10):
            p, t, _ = connect()
            send(p, b"one\n", packet_size)
            p.stop(b"bye\r\n")
            self.assertEqual((t.value(), t.writeClosed), (b"echo one\r\nbye\r\n", True))

    def test_stop_after_close(self):
        """If the connection is stopped after it closed, then nothing more is written."""
        p, t, _ = connect()
        p.close(b"bye\r\n")
        p.stop(b"stopping\r\n")
        self.assertEqual(t.value(), b"bye\r\n")


class FailureTests(SynchronousTestCase):
    def test_handler_raises(self):
        """
        If a handler raises, then L{lineFailed} answers C{failed} and the next line is still
        handled: C{echo one}.
        """
        for packet_size in range(1, 10):
            p, t, _ = connect()
            send(p, b"raise\none\n", packet_size)
            self.assertEqual((p.failed, t.value(), p.state),
                             ([b"raise"], b"failed\r\necho one\r\n", State.WAITING), packet_size)

    def test_handler_returns_a_failed_deferred(self):
        """
        If a handler returns a failed Deferred, then C{failed}, and the next line is still
        handled: C{echo one}.
        """
        for packet_size in range(1, 10):
            p, t, _ = connect()
            send(p, b"fail\none\n", packet_size)
            self.assertEqual((p.failed, t.value()),
                             ([b"fail"], b"failed\r\necho one\r\n"), packet_size)

    def test_handlers_deferred_fails_later(self):
        """
        If the Deferred of the line in hand fails, then C{failed}, and the held line is
        handled next: C{echo one}.
        """
        for packet_size in range(1, 10):
            p, t, _ = connect()
            send(p, b"wait\none\n", packet_size)
            p.waiting[0].errback(Oops(b"late"))
            self.assertEqual((p.failed, t.value(), p.state),
                             ([b"late"], b"failed\r\necho one\r\n", State.WAITING), packet_size)
