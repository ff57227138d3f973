"""
Listening behind a load balancer that speaks HAProxy's PROXY protocol (version 1 or 2): the
protocol behind it sees the client's address from its very first call.

Twisted's own C{haproxy:} endpoint connects the wrapped protocol the moment the balancer
connects, before the header that names the client has arrived, so the wrapped protocol's
C{connectionMade} sees the balancer's address. Here the wrapped protocol is connected only once
the header has been read whole. A connection whose header is not a PROXY header, or is not
whole within L{HEADER_TIMEOUT} seconds, is closed without a word and never reaches the protocol
behind. Nothing here knows what that protocol is.

A port that reads PROXY headers believes whatever address they name: only the balancer may
reach it.
"""

from __future__ import annotations

from twisted.internet.interfaces import IStreamServerEndpoint
from twisted.internet.protocol import Protocol
from twisted.protocols.haproxy._exceptions import InvalidProxyHeader
from twisted.protocols.haproxy._v1parser import V1Parser
from twisted.protocols.haproxy._v2parser import V2Parser
from twisted.protocols.haproxy._wrapper import HAProxyProtocolWrapper, HAProxyWrappingFactory
from zope.interface import directlyProvides, implementer, providedBy

# HAProxy sends its header with the connection's first bytes; a few seconds is plenty.
HEADER_TIMEOUT = 5.0

_V1_SIGNATURE = V1Parser.PROXYSTR + b" "
_V2_VERSION = 0x20


def parser_for(start: bytes) -> type[V1Parser] | type[V2Parser] | None:
    """
    The parser for a PROXY header that begins with C{start}, or None while C{start} is too
    short to tell (a version 2 header's parser needs its first 16 bytes).

    @raise InvalidProxyHeader: C{start} is the beginning of no PROXY header.
    """
    if start.startswith(_V1_SIGNATURE):
        return V1Parser
    if start.startswith(V2Parser.PREFIX):
        if len(start) > 12 and start[12] & 0xF0 != _V2_VERSION:
            raise InvalidProxyHeader()
        return V2Parser if len(start) >= 16 else None
    if _V1_SIGNATURE.startswith(start) or V2Parser.PREFIX.startswith(start):
        return None
    raise InvalidProxyHeader()


class HeaderFirstWrapper(HAProxyProtocolWrapper):
    """
    One connection from the balancer: reads the PROXY header, then connects the wrapped
    protocol, whose C{getPeer} is from then on the client the header names.
    """

    _start = b""
    _deadline = None

    @property
    def has_header(self) -> bool:
        """Whether the header has been read (and the wrapped protocol connected)."""
        return self._proxyInfo is not None

    def makeConnection(self, transport) -> None:
        # What ProtocolWrapper.makeConnection does, except connect the wrapped protocol.
        directlyProvides(self, providedBy(transport))
        Protocol.makeConnection(self, transport)
        self.factory.registerProtocol(self)
        if self.factory.timeout:
            self._deadline = self.factory.clock.callLater(self.factory.timeout, self.refuse)

    def dataReceived(self, data: bytes) -> None:
        if self.has_header:
            return self.wrappedProtocol.dataReceived(data)
        if self.disconnecting:
            return None
        try:
            info, rest = self._read_header(data)
        except (InvalidProxyHeader, ValueError, LookupError):
            # Twisted's parsers let a few malformed headers out as ValueError or KeyError.
            return self.refuse()
        if info is None:
            return None
        self._stop_waiting()
        self._proxyInfo = info
        self.wrappedProtocol.makeConnection(self)
        if rest and not (self.disconnecting or getattr(self.transport, "disconnecting", False)):
            self.wrappedProtocol.dataReceived(rest)
        return None

    def _read_header(self, data: bytes):
        """Feed the header's parser, once the first bytes say which; (info, rest) or Nones."""
        if self._parser is None:
            self._start += data
            parser = parser_for(self._start)
            if parser is None:
                return None, None
            self._parser, data, self._start = parser(), self._start, b""
        return self._parser.feed(data)

    def refuse(self) -> None:
        """Close the connection without a word: its header was wrong, or too slow."""
        self._stop_waiting()
        self.loseConnection()

    def _stop_waiting(self) -> None:
        deadline, self._deadline = self._deadline, None
        if deadline is not None and deadline.active():
            deadline.cancel()

    def connectionLost(self, reason) -> None:
        self._stop_waiting()
        if self.has_header:
            return super().connectionLost(reason)
        self.factory.unregisterProtocol(self)
        self.wrappedProtocol = None
        return None


class HeaderFirstFactory(HAProxyWrappingFactory):
    """
    Wraps a factory's protocols in L{HeaderFirstWrapper}s: each is connected once its PROXY
    header is read, or dropped if that takes longer than C{timeout} seconds (0: no limit)
    on C{clock}.

    The wrapped factory's C{buildProtocol} is still given the balancer's address, as with
    Twisted's wrapper: the client's is known only later.
    """

    protocol = HeaderFirstWrapper

    def __init__(self, wrappedFactory, clock, timeout: float = HEADER_TIMEOUT) -> None:
        super().__init__(wrappedFactory)
        self.clock = clock
        self.timeout = timeout
        self.noisy = getattr(wrappedFactory, "noisy", self.noisy)

    def buildProtocol(self, addr):
        wrapped = self.wrappedFactory.buildProtocol(addr)
        return None if wrapped is None else self.protocol(self, wrapped)

    def doStop(self) -> None:
        """The port stopped listening: drop the connections still waiting for their header."""
        for wrapper in list(self.protocols):
            if not wrapper.has_header:
                wrapper.refuse()
        super().doStop()


@implementer(IStreamServerEndpoint)
class ProxiedEndpoint:
    """Listens on C{endpoint}, every connection through a L{HeaderFirstFactory}."""

    def __init__(self, reactor, endpoint, timeout: float = HEADER_TIMEOUT) -> None:
        self.reactor = reactor
        self.endpoint = endpoint
        self.timeout = timeout

    def listen(self, protocolFactory):
        return self.endpoint.listen(HeaderFirstFactory(protocolFactory, self.reactor, self.timeout))
