"""
The web port's protections: what keeps one client of the student ID lookup from freezing the
reactor, filling memory, holding connections, or reading every student's record.

 - L{GuardedRequest}: a body over the limit is refused with 413 as it arrives (a declared
   C{Content-Length} before any of it is read, a chunked one counted as it comes), and Twisted
   parses no body as a form: the one route that reads a form calls L{form_fields}.
 - L{GuardedChannel}: a request's headers and body must have arrived within a time counted
   from the connection's opening or the previous answer, not restarted by every byte; headers
   have a smaller cap than Twisted's; a refused connection is answered and read no further.
 - L{GuardedSite}: counts open connections per client address, and knows the trusted proxies
   whose C{X-Forwarded-For} names the client, for the limits and the access log.
 - the lookups' limit per client is L{examtwist.ratelimit.RateLimit}.

Everything runs on the reactor and waits for nothing; every table has a bound. HTTP/2 is not
offered: the site speaks HTTP/1.1 only, where these limits hold.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from email import message_from_bytes
from io import BytesIO

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from twisted.web.http import HTTPChannel, parse_qs
from twisted.web.server import Request, Site

from examtwist.ratelimit import client_key, ip_of

log = Logger()

# After a refusal or a timeout, how long the client has to read the answer before the
# connection is cut. Nothing is read from it meanwhile.
CLOSE_GRACE = 2.0
# What a chunked body may add to its size on the wire for its framing (chunk-size lines).
CHUNK_FRAMING = 4096

TOO_LARGE = b"413 Content Too Large", "The request is too large."
TOO_SLOW = b"408 Request Timeout", "The request took too long to arrive."
TOO_BIG_HEADERS = b"431 Request Header Fields Too Large", "The request's headers are too large."
TOO_MANY = b"503 Service Unavailable", "Too many connections from your address."


@dataclass(frozen=True)
class WebLimits:
    """
    The web port's limits (docs/security.md); 0 turns one off. C{max_body}: bytes of a body;
    C{request_timeout}: seconds for a request's headers and body; C{max_header}: bytes of its
    line and headers (0: Twisted's 16 KiB); C{max_per_address}: open connections from one
    client address, trusted proxies not counted; C{trusted_proxies}: the proxies' networks.
    """

    max_body: int = 16384
    request_timeout: float = 10.0
    max_header: int = 8192
    max_per_address: int = 256
    trusted_proxies: tuple = ()


def parse_proxies(text: str) -> tuple:
    """C{"10.0.0.5, 10.1.0.0/16"}: the networks; ValueError for anything else."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False)
                 for part in text.split(",") if part.strip())


def form_fields(request) -> dict[bytes, list[bytes]]:
    """
    The query's arguments, and over them a form in the body, URL-encoded or multipart, as
    Twisted would have parsed them: for the one route that reads a form. The body is small:
    L{GuardedRequest} refused it otherwise.
    """
    fields = dict(request.args or {})
    ctype = request.getHeader(b"content-type") or b""
    kind = ctype.split(b";", 1)[0].strip().lower()
    request.content.seek(0)
    body = request.content.read()
    request.content.seek(0)
    if kind == b"application/x-www-form-urlencoded":
        fields.update(parse_qs(body, 1))
    elif kind == b"multipart/form-data":
        message = message_from_bytes(b"MIME-Version: 1.0\r\nContent-Type: " + ctype
                                     + b"\r\n\r\n" + body)
        parts: dict[bytes, list[bytes]] = {}
        for part in message.get_payload() if message.is_multipart() else []:
            name = part.get_param("name", header="content-disposition")
            if name:
                parts.setdefault(str(name).encode(), []).append(part.get_payload(decode=True))
        fields.update(parts)
    return fields


class GuardedRequest(Request):
    """A request whose body is counted as it arrives, and never parsed as a form by Twisted."""

    _client = None

    def __init__(self, channel, *args, **kwargs) -> None:
        kwargs["parsePOSTFormSubmission"] = False
        super().__init__(channel, *args, **kwargs)

    def gotLength(self, length):
        if self.channel.limits.max_body:
            self.content = BytesIO()  # small by the limit: in memory, never a temporary file
        else:
            super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        limit = self.channel.limits.max_body
        if self.channel.refusing:
            return
        if limit and self.content.tell() + len(data) > limit:
            self.channel.refuse(*TOO_LARGE, f"a body over {limit} bytes")
            return
        self.content.write(data)

    def requestReceived(self, command, path, version):
        self._client = self.channel.site.client_address(self.client, self.requestHeaders)
        super().requestReceived(command, path, version)

    def getClientAddress(self):
        """The client: the peer, or the one a trusted proxy names in C{X-Forwarded-For}."""
        return self._client or self.client


class GuardedChannel(HTTPChannel):
    """HTTP/1.1 with the limits of its site's L{WebLimits}."""

    refusing = False
    _deadline = None
    _closer = None
    _slot = None
    _heard = False
    _in_body = False
    _body_bytes = 0
    _header_bytes = 0

    def connectionMade(self) -> None:
        self.limits = self.site.limits
        if self.limits.max_header:
            self.MAX_LENGTH = self.limits.max_header
        super().connectionMade()
        self.site.connections += 1
        slot = self.site.slot_key(self.transport.getPeer())
        if slot is not None and not self.site.take_slot(slot):
            self.refuse(*TOO_MANY, "too many connections from that address")
            return
        self._slot = slot
        self._await_request()

    def _await_request(self) -> None:
        self._heard = False
        self._body_bytes = self._header_bytes = 0
        if self.limits.request_timeout:
            self._deadline = self.callLater(self.limits.request_timeout, self._too_slow)

    def _stop_waiting(self) -> None:
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self._heard:
            self.refuse(*TOO_SLOW, f"no whole request within {self.limits.request_timeout:g} s")
        else:
            self.refuse(None, "", "")

    def dataReceived(self, data: bytes) -> None:
        if self.refusing:
            return
        self._heard = True
        super().dataReceived(data)

    def lineReceived(self, line: bytes) -> None:
        self._header_bytes += len(line) + 2
        limit = self.limits.max_header
        if limit and self._header_bytes > limit:
            self.refuse(*TOO_BIG_HEADERS, f"a request line and headers over {limit} bytes")
            return
        super().lineReceived(line)

    def lineLengthExceeded(self, line: bytes) -> None:
        self.refuse(*TOO_BIG_HEADERS, f"a line over {self.MAX_LENGTH} bytes")

    def allHeadersReceived(self) -> None:
        limit = self.limits.max_body
        if limit and self.length is not None and self.length > limit:
            self.refuse(*TOO_LARGE, f"a declared body of {self.length} bytes")
            return
        super().allHeadersReceived()
        self._in_body = True

    def rawDataReceived(self, data: bytes) -> None:
        if self.refusing:
            return
        chunked_body = self._in_body and self.length is None
        super().rawDataReceived(data)
        limit = self.limits.max_body
        if chunked_body and limit and self._in_body and not self.refusing:
            self._body_bytes += len(data)
            if self._body_bytes > limit + CHUNK_FRAMING:
                self.refuse(*TOO_LARGE, f"a chunked body of over {limit} bytes")

    def allContentReceived(self) -> None:
        if self.refusing:
            return
        self._in_body = False
        self._stop_waiting()
        super().allContentReceived()

    def requestDone(self, request) -> None:
        if self.persistent and not self.refusing:
            self._await_request()
        super().requestDone(request)

    def resumeProducing(self) -> None:
        if not self.refusing:
            super().resumeProducing()

    def refuse(self, status: bytes | None, text: str, why: str) -> None:
        """
        Answer C{status} (none: close in silence), read nothing more, and cut the connection
        once the client has had L{CLOSE_GRACE} seconds to read the answer.
        """
        if self.refusing:
            return
        self.refusing = True
        self._stop_waiting()
        self.clearLineBuffer()
        if why:
            log.info("Web request from {peer} refused: {why}",
                     peer=getattr(self.transport.getPeer(), "host", "?"), why=why)
        if status:
            body = text.encode() + b"\n"
            self.transport.write(
                b"HTTP/1.1 %s\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8"
                b"\r\nContent-Length: %d\r\n\r\n%s" % (status, len(body), body))
        producer = IPushProducer(self.transport, None)
        if producer is not None:
            producer.pauseProducing()
        half_close = getattr(self.transport, "loseWriteConnection", self.transport.loseConnection)
        half_close()
        self._closer = self.callLater(CLOSE_GRACE, self.transport.abortConnection)

    def connectionLost(self, reason) -> None:
        self._stop_waiting()
        if self._closer is not None and self._closer.active():
            self._closer.cancel()
        if self._slot is not None:
            self.site.release_slot(self._slot)
            self._slot = None
        self.site.connections -= 1
        super().connectionLost(reason)


class GuardedSite(Site):
    """
    A L{Site} of L{GuardedChannel}s and L{GuardedRequest}s.

    @ivar connections: how many connections are open, refused ones included.
    """

    protocol = GuardedChannel
    requestFactory = GuardedRequest
    connections = 0

    def __init__(self, resource, limits: WebLimits = WebLimits(), **kwargs) -> None:
        super().__init__(resource, **kwargs)
        self.limits = limits
        self._open: dict[str, int] = {}

    def _trusted(self, ip) -> bool:
        return ip is not None and any(ip in net for net in self.limits.trusted_proxies)

    def slot_key(self, peer) -> str | None:
        """What a connection from C{peer} counts against; None: it is not counted."""
        host = getattr(peer, "host", None)
        if not self.limits.max_per_address or host is None or self._trusted(ip_of(host)):
            return None
        return client_key(host)

    def take_slot(self, key: str) -> bool:
        if self._open.get(key, 0) >= self.limits.max_per_address:
            return False
        self._open[key] = self._open.get(key, 0) + 1
        return True

    def release_slot(self, key: str) -> None:
        left = self._open.pop(key) - 1
        if left:
            self._open[key] = left

    def open_connections(self) -> dict[str, int]:
        return dict(self._open)

    def client_address(self, peer, headers):
        """
        The client of a request from C{peer}: from a trusted proxy, the last address in
        C{X-Forwarded-For} that is not itself a trusted proxy; the peer otherwise.
        """
        if not self._trusted(ip_of(getattr(peer, "host", ""))):
            return peer
        hops = [hop for value in headers.getRawHeaders(b"x-forwarded-for", [])
                for hop in value.decode("latin-1").split(",")]
        client = None
        for hop in reversed(hops):
            client = ip_of(hop)
            if not self._trusted(client):
                break
        if client is None:
            return peer
        kind = IPv6Address if client.version == 6 else IPv4Address
        return kind("TCP", str(client), 0)
