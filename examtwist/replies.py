"""
The reply format of the exam protocol, both ways: the server formats, clients parse.

A reply is one or more lines, each starting with the same three-digit code; C{DDD-text} means
more lines follow, C{DDD text} ends the reply. Keeping both directions here means the server
and every client agree on one definition.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_LINE = re.compile(r"(\d{3})([ -])(.*)\Z", re.DOTALL)


def format_reply(code: int, *lines: str) -> bytes:
    """
    Encode one reply: every line but the last is marked as continued.
    """
    last = len(lines) - 1
    return "".join(
        f"{code}{' ' if i == last else '-'}{line}\r\n" for i, line in enumerate(lines)
    ).encode("utf-8")


class Reply(NamedTuple):
    code: int
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        """The last line's text: the one-line answer most replies consist of."""
        return self.lines[-1]

    def __str__(self) -> str:
        return "\n".join(f"{self.code} {line}" for line in self.lines)


class ReplyFormatError(Exception):
    """The server sent something that is not a reply as protocol.md defines it."""


class ReplyParser:
    """
    Turn the bytes a server sends into L{Reply} values, whatever the chunking.

    It does no I/O, so a Twisted protocol, a blocking socket client and a test can all feed it.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._code: int | None = None
        self._lines: list[str] = []

    def feed(self, data: bytes) -> list[Reply]:
        """
        Add received bytes; return the replies they complete, in order.

        @raise ReplyFormatError: on a line that breaks the reply format.
        """
        self._buffer += data
        *complete, self._buffer = self._buffer.split(b"\n")
        replies = []
        for raw in complete:
            reply = self._line(raw[:-1] if raw.endswith(b"\r") else raw)
            if reply is not None:
                replies.append(reply)
        return replies

    @property
    def pending(self) -> bool:
        """True while part of a reply has arrived but not its last line."""
        return bool(self._buffer or self._lines)

    def _line(self, raw: bytes) -> Reply | None:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ReplyFormatError(f"reply line is not UTF-8: {raw!r}") from e
        match = _LINE.match(line)
        if match is None:
            raise ReplyFormatError(f"not a reply line: {line!r}")
        code, more, text = int(match.group(1)), match.group(2) == "-", match.group(3)
        if self._code is not None and code != self._code:
            raise ReplyFormatError(f"code {code} inside a {self._code} reply: {line!r}")
        self._code = code
        self._lines.append(text)
        if more:
            return None
        reply = Reply(code, tuple(self._lines))
        self._code, self._lines = None, []
        return reply
