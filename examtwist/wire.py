"""
Every rule of the exam protocol (docs/protocol.md) that both sides need, once: the reply
format, the line limit, the answer letters, the username and password rules, the texts a
client reads back (greeting, question heading, grade), and how an address is written.

The server formats with it and both clients parse with it, so they cannot disagree.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# A client line holds at most this many bytes before its ending.
MAX_LINE = 1024
LETTERS = "ABCD"
MAX_USERNAME = 32
MAX_PASSWORD = 128
USERNAME_RULE = "1-32 letters, digits, '_', '.' or '-'"
_USERNAME = re.compile(r"[A-Za-z0-9_.-]{1,32}\Z")

WELCOME = "Welcome to the server!"
_QUESTION_HEADING = re.compile(r"Question (\d+) of (\d+)\Z")
_GRADE = re.compile(r"Your grade is (\d+\.\d) \((\d+)/(\d+) correct\)\Z")
_REPLY_LINE = re.compile(r"(\d{3})([ -])(.*)\Z", re.DOTALL)
# What a client takes from a server before it calls the server broken.
MAX_REPLY_LINE = 4096
MAX_REPLY_LINES = 1000
# Terminal escape sequences (CSI ... final byte; OSC, DCS, PM, APC ... BEL or ST; any other
# ESC + one character), then every other C0 and C1 control but tab.
_ESCAPES = re.compile(
    r"\x1b\[[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
    r"|[\x1b][\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|[\x9b][\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
    r"|[\x9d\x90\x98\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b.?"
    r"|[\x00-\x08\x0a-\x1f\x7f-\x9f]"
)


def printable(text: str) -> str:
    """
    Server text made safe to show in a terminal or a window: escape sequences and control
    characters (C0 but tab, DEL, C1) removed, so a server cannot move the cursor, erase lines
    or write the clipboard of the person reading.
    """
    return _ESCAPES.sub("", text)


def is_username(text: str) -> bool:
    return _USERNAME.match(text) is not None


def is_password(text: str) -> bool:
    """What LOGIN takes: 1 to 128 characters, spaces included."""
    return 1 <= len(text) <= MAX_PASSWORD


def parse_answer(text: str) -> str | None:
    """An answer line as the letter it means (A to D, any case, blanks around it), or None."""
    letter = text.strip(" \t").upper()
    return letter if len(letter) == 1 and letter in LETTERS else None


def question_heading(number: int, total: int) -> str:
    return f"Question {number} of {total}"


def parse_question_heading(text: str) -> tuple[int, int] | None:
    match = _QUESTION_HEADING.match(text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def choice_lines(choices) -> list[str]:
    return [f"{letter}) {choice}" for letter, choice in zip(LETTERS, choices)]


def format_grade(tenths: int) -> str:
    """A percentage in tenths as the protocol writes it: one decimal, C{66.7}."""
    return f"{tenths // 10}.{tenths % 10}"


def grade_text(tenths: int, correct: int, total: int) -> str:
    return f"Your grade is {format_grade(tenths)} ({correct}/{total} correct)"


class GradeLine(NamedTuple):
    percent: str
    correct: int
    total: int


def parse_grade(text: str) -> GradeLine | None:
    match = _GRADE.match(text)
    if match is None:
        return None
    return GradeLine(match.group(1), int(match.group(2)), int(match.group(3)))


def host_port(host: str, port: int) -> str:
    """
    C{127.0.0.1:38184}, C{[::1]:38184}; an IPv4 peer on an IPv6 socket is written as IPv4.
    """
    if host.startswith("::ffff:") and "." in host:
        host = host[len("::ffff:"):]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def format_address(address) -> str:
    """A Twisted address as the lucky greeting and the logs write it."""
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    if host is None or port is None:
        # UNIX sockets and other transports have no ip:port.
        name = getattr(address, "name", None)
        return str(name.decode() if isinstance(name, bytes) else name or address)
    return host_port(host, port)


# Replies


def format_reply(code: int, *lines: str) -> bytes:
    """Encode one reply: every line but the last is marked as continued."""
    last = len(lines) - 1
    return "".join(
        f"{code}{' ' if i == last else '-'}{line}\r\n" for i, line in enumerate(lines)
    ).encode("utf-8")


def insert_line(reply: bytes, after: int, line: str) -> bytes:
    """
    A reply encoded by L{format_reply} with one more line after its first C{after} lines (not
    as its last): a reply formatted once can still carry a line of its own.
    """
    cut = 0
    for _ in range(after):
        cut = reply.index(b"\n", cut) + 1
    return b"%s%s-%s\r\n%s" % (reply[:cut], reply[:3], line.encode("utf-8"), reply[cut:])


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
    Its memory is bounded: a line over L{MAX_REPLY_LINE} bytes or a reply over
    L{MAX_REPLY_LINES} lines is a L{ReplyFormatError}, found as soon as it arrives.
    """

    def __init__(self) -> None:
        self._partial: list[bytes] = []
        self._partial_size = 0
        self._code: int | None = None
        self._lines: list[str] = []

    def feed(self, data: bytes) -> list[Reply]:
        """
        Add received bytes; return the replies they complete, in order.

        @raise ReplyFormatError: on a line that breaks the reply format or the bounds.
        """
        replies = []
        *complete, rest = data.split(b"\n")
        for piece in complete:
            if self._partial:
                piece = b"".join(self._partial) + piece
                self._partial, self._partial_size = [], 0
            self._check_size(len(piece) - piece.endswith(b"\r"))
            reply = self._line(piece[:-1] if piece.endswith(b"\r") else piece)
            if reply is not None:
                replies.append(reply)
        if rest:
            self._partial.append(rest)
            self._partial_size += len(rest)
            self._check_size(self._partial_size - 1)  # the CR of a CRLF may be in it
        return replies

    @property
    def pending(self) -> bool:
        """True while part of a reply has arrived but not its last line."""
        return bool(self._partial or self._lines)

    def _check_size(self, length: int) -> None:
        if length > MAX_REPLY_LINE:
            raise ReplyFormatError(f"a reply line longer than {MAX_REPLY_LINE} bytes")

    def _line(self, raw: bytes) -> Reply | None:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ReplyFormatError(f"reply line is not UTF-8: {raw[:80]!r}") from e
        match = _REPLY_LINE.match(line)
        if match is None:
            raise ReplyFormatError(f"not a reply line: {line[:80]!r}")
        code, more, text = int(match.group(1)), match.group(2) == "-", match.group(3)
        if self._code is not None and code != self._code:
            raise ReplyFormatError(f"code {code} inside a {self._code} reply: {line[:80]!r}")
        self._code = code
        self._lines.append(text)
        if more:
            if len(self._lines) >= MAX_REPLY_LINES:
                raise ReplyFormatError(f"a reply of more than {MAX_REPLY_LINES} lines")
            return None
        reply = Reply(code, tuple(self._lines))
        self._code, self._lines = None, []
        return reply
