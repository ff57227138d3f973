"""
The terminal of C{examtwist-client}: prompts, and the lines the user types, read so that the
server can be heard while the user thinks.

In a test with a deadline the server sends the grade unasked when the time is up. A client
blocked in C{input()} would show it only after the user's next line; L{Console.ask} instead
waits on standard input and the server's socket together and says which spoke first. It reads
standard input itself, unbuffered beyond the line in hand: a buffered reader (C{input()},
C{sys.stdin}) may hold typed lines that waiting on the file descriptor cannot see.
"""

from __future__ import annotations

import getpass
import os
import select
import sys

from examtwist.wire import MAX_LINE

# The most of one typed line kept: enough to tell that it is too long to send.
MAX_INPUT = 4 * MAX_LINE
_CHUNK = 4096


class Console:
    """
    Prompts on C{out}, lines from the file descriptor C{fd} (standard input by default).
    Ctrl-C raises KeyboardInterrupt while it waits, as C{input()} would.
    """

    def __init__(self, fd: int | None = None, out=None) -> None:
        self._fd = sys.stdin.fileno() if fd is None else fd
        self._out = out or sys.stdout
        self._buffer = b""
        self._overlong = False  # dropping the rest of a line longer than MAX_INPUT
        self._ended = False

    def ask(self, prompt: str, server=None) -> str | None:
        """
        Show C{prompt} and read one line, without its surrounding blanks.

        @param server: an L{examtwist.client.ExamClient} to listen to meanwhile: when it has
            something to say (L{ready}) before a line is read, the answer is None and the
            line, if any, waits for the next call.
        @raise EOFError: at the end of input.
        """
        self._out.write(prompt)
        self._out.flush()
        while True:
            if server is not None and server.ready():
                return None
            line = self._line()
            if line is not None:
                return line.strip()
            if self._ended:
                raise EOFError
            waiting = [self._fd] if server is None else [self._fd, server]
            if self._fd in select.select(waiting, [], [])[0]:
                self._read()

    def password(self) -> str:
        """
        A password: without echo on a terminal; on a pipe, the next line as it is (spaces
        kept), not shown.
        """
        if os.isatty(self._fd):
            return getpass.getpass("Password: ")
        self._out.write("Password: ")
        self._out.flush()
        while (line := self._line()) is None:
            if self._ended:
                raise EOFError
            self._read()
        self._out.write("\n")
        return line

    def _read(self) -> None:
        data = os.read(self._fd, _CHUNK)
        if not data:
            self._ended = True
            if self._buffer:
                # The last line, without its ending.
                self._buffer += b"\n"
            return
        if self._overlong:
            end = data.find(b"\n")
            if end < 0:
                return
            self._overlong = False
            data = data[end:]
        self._buffer += data
        if b"\n" not in self._buffer and len(self._buffer) > MAX_INPUT:
            # Keep enough to be refused as too long; the rest of the line is dropped.
            self._buffer, self._overlong = self._buffer[:MAX_INPUT + 1], True

    def _line(self) -> str | None:
        """The next whole line in hand, without its ending; None if there is none."""
        line, newline, rest = self._buffer.partition(b"\n")
        if not newline:
            return None
        self._buffer = rest
        return line.removesuffix(b"\r").decode("utf-8", errors="replace")
