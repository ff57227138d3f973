"""
The load generator's side of docs/protocol.md, on asyncio: an instrument apart from the
Twisted server it measures.

A bench connection has one request in flight at a time, so a reply is complete when the bytes
received end with a last line (C{DDD text}); only its code is read. examtwist.replies parses
replies in full, for clients that need their text; here that would cost the generator more CPU
than the server spends on some lines.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque


class UnexpectedReply(Exception):
    """The server answered with another code than the scenario expects: figures are void."""


class ExamConnection(asyncio.Protocol):
    # Whether to keep the whole text of the last reply (C{text}), for a student who reads it.
    keeps_text = False
    text = b""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._codes: deque[int] = deque()
        self._waiter: asyncio.Future[int] | None = None
        self.closed = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        if not buffer.endswith(b"\r\n"):
            return
        last = buffer.rfind(b"\n", 0, len(buffer) - 1) + 1
        if buffer[last + 3] != 0x20:  # "DDD-": more lines of this reply follow
            return
        if self.keeps_text:
            self.text = bytes(buffer)
        code = int(buffer[last:last + 3])
        buffer.clear()
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(code)
        else:
            self._codes.append(code)

    def connection_lost(self, exc) -> None:
        self.closed = True
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(ConnectionError("the server closed the connection"))

    def reply(self) -> asyncio.Future[int]:
        """The code of the next reply."""
        future = asyncio.get_running_loop().create_future()
        if self._codes:
            future.set_result(self._codes.popleft())
        elif self.closed:
            future.set_exception(ConnectionError("the server closed the connection"))
        else:
            self._waiter = future
        return future

    def ask(self, line: bytes) -> asyncio.Future[int]:
        self.transport.write(line + b"\r\n")
        return self.reply()

    async def expect(self, line: bytes, *codes: int) -> int:
        code = await self.ask(line)
        if code not in codes:
            raise UnexpectedReply(f"{line.decode(errors='replace')!r} got {code}, wanted {codes}")
        return code

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


# A connect whose greeting has not come by then is tried again: when a listen queue
# overflows, Linux (with SYN cookies) can drop a connection the client already counts as
# established, and a client that waits for the server to speak first would wait forever.
GREETING_TIMEOUT = 10.0
CONNECT_TRIES = 3


# At most this many connects in flight, fewer than twistd's default listen backlog (50):
# an overflowing backlog costs SYN retries of whole seconds, or a lost connection.
CONNECTS_AT_ONCE = 32


async def bounded(count: int, make, at_once: int = CONNECTS_AT_ONCE) -> list:
    """C{make(i)} for each i below C{count}, at most C{at_once} at a time: their results."""
    gate = asyncio.Semaphore(at_once)

    async def one(i):
        async with gate:
            return await make(i)

    return await asyncio.gather(*(one(i) for i in range(count)))


async def connect(host: str, port: int, source: str | None = None,
                  protocol=ExamConnection) -> ExamConnection:
    """
    A connection past the greeting, an instance of C{protocol}; from the local address
    C{source} when given.
    """
    loop = asyncio.get_running_loop()
    for attempt in range(CONNECT_TRIES):
        if source is None:
            _, connection = await loop.create_connection(protocol, host, port)
        else:
            connection = await dial(host, port, source, protocol)
        try:
            code = await asyncio.wait_for(connection.reply(), GREETING_TIMEOUT)
        except asyncio.TimeoutError:
            connection.close()
            continue
        if code != 220:
            connection.close()
            raise UnexpectedReply(f"greeting {code}")
        return connection
    raise ConnectionError(f"no greeting from {host}:{port} in {CONNECT_TRIES} tries")


async def leave(connection: ExamConnection) -> None:
    """QUIT, then close once the server's 221 is in."""
    try:
        await connection.expect(b"QUIT", 221)
    finally:
        connection.close()


class TextConnection(ExamConnection):
    """An L{ExamConnection} that also keeps the text of the last reply line it received."""

    _tail = b""

    def data_received(self, data: bytes) -> None:
        self._tail = (self._tail + data)[-512:]
        super().data_received(data)

    @property
    def last_line(self) -> str:
        return self._tail.rstrip(b"\r\n").rsplit(b"\n", 1)[-1].decode(errors="replace")


# Linux's IP_BIND_ADDRESS_NO_PORT: a socket bound to an address only gets its port at connect,
# which may then reuse a port in TIME_WAIT on loopback (net.ipv4.tcp_tw_reuse), so that one
# address can open and close connections for minutes without running out of ports.
_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


async def bound_socket(host: str, port: int, source: str) -> socket.socket:
    """
    A TCP socket connected from the local address C{source} (127.0.0.2, 127.0.0.3, ...: on
    loopback, each stands for another machine), non-blocking.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.IPPROTO_IP, _BIND_ADDRESS_NO_PORT, 1)
        sock.setblocking(False)
        sock.bind((source, 0))
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
    except BaseException:
        sock.close()
        raise
    return sock


async def dial(host: str, port: int, source: str, protocol=ExamConnection) -> ExamConnection:
    """A connection from C{source} (L{bound_socket}), before its greeting."""
    sock = await bound_socket(host, port, source)
    try:
        _, connection = await asyncio.get_running_loop().create_connection(protocol, sock=sock)
    except BaseException:
        sock.close()
        raise
    return connection
