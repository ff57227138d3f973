"""
The exam protocol from the student's side: one blocking connection whose methods are the
dialogue (greeting, register, login, list tests, take, answer, quit).

Both the command-line client and the GUI use it. It reads replies only through
L{ReplyParser}, and turns every way a conversation can go wrong into a L{ClientError} whose
message can be shown to a person as it is. Blocking sockets keep it usable from a plain script
and from a GUI's worker thread alike; nothing here runs a reactor.
"""

from __future__ import annotations

import socket
import ssl
from typing import NamedTuple

from examtwist.clienterrors import (
    ClientError,
    ClientTimeout,
    ConnectFailed,
    ConnectionClosed,
    InputError,
    ProtocolError,
    ServerError,
)
from examtwist.testbank import Question
from examtwist.wire import (
    LETTERS,
    MAX_LINE,
    Reply,
    ReplyFormatError,
    ReplyParser,
    choice_lines,
    parse_answer,
    parse_grade,
    parse_question_heading,
    printable,
    question_heading,
)

DEFAULT_TIMEOUT = 30.0  # seconds to wait for a connection or a reply
# How the clients name the answers they take: "A, B, C or D", "A-D".
LETTER_LIST = f"{', '.join(LETTERS[:-1])} or {LETTERS[-1]}"
LETTER_RANGE = f"{LETTERS[0]}-{LETTERS[-1]}"
# What starts each choice line of a question: "A) " to "D) ".
_CHOICE_PREFIXES = choice_lines([""] * len(LETTERS))


class Greeting(NamedTuple):
    """
    The C{220} reply. A lucky connection's has a congratulation first, the addresses
    of the connections counted so far next, and the welcome last.
    """

    lines: tuple[str, ...]

    @property
    def is_lucky(self) -> bool:
        return len(self.lines) > 1

    @property
    def congratulation(self) -> str | None:
        return self.lines[0] if self.is_lucky else None

    @property
    def addresses(self) -> tuple[str, ...]:
        """Exactly as the server sent them, in its order (its own last)."""
        return self.lines[1:-1]

    @property
    def welcome(self) -> str:
        return self.lines[-1]


class ListedTest(NamedTuple):
    """One line of the C{212} list."""

    number: int
    name: str
    question_count: int


class Asked(NamedTuple):
    """One C{350} reply: which question of how many, and the question as shown."""

    number: int
    total: int
    question: Question

    @property
    def heading(self) -> str:
        return question_heading(self.number, self.total)


class Grade(NamedTuple):
    """The C{250} reply; C{text} is the server's line, to be shown as it is."""

    percent: str
    correct: int
    total: int
    text: str


def check_answer(letter: str) -> str:
    """
    An answer as the server wants it: one letter A to D, any case, surrounding blanks ignored.

    @raise InputError: for anything else, so a client can ask again without a round trip.
    """
    answer = parse_answer(letter)
    if answer is None:
        raise InputError(f"answer with {LETTER_LIST}, not {letter.strip()!r}")
    return answer


class ExamClient:
    """
    One connection to an exam server. Use L{connect} to make one; each operation sends one
    line and waits for its reply. Not thread-safe: one thread talks at a time.
    """

    def __init__(self, sock: socket.socket, timeout: float | None = DEFAULT_TIMEOUT) -> None:
        self._sock = sock
        self._sock.settimeout(timeout)
        self._parser = ReplyParser()
        self._replies: list[Reply] = []
        self._closed = False
        try:
            self.greeting = Greeting(self._expect(self._read_reply(), 220).lines)
        except ClientError:
            self.close()
            raise

    @classmethod
    def connect(cls, host: str, port: int, *, tls: bool = False, cafile: str | None = None,
                timeout: float | None = DEFAULT_TIMEOUT) -> "ExamClient":
        """
        Connect, over TLS if asked (the server's certificate is checked against the system's
        authorities, or C{cafile}), and read the greeting.

        @raise ConnectFailed: when no connection could be made.
        """
        where = f"{host}:{port}"
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except socket.timeout:
            raise ConnectFailed(
                f"could not connect to {where}: no answer in {timeout:g} s"
            ) from None
        except OSError as e:
            raise ConnectFailed(f"could not connect to {where}: {e.strerror or e}") from None
        if tls or cafile:
            try:
                context = ssl.create_default_context(cafile=cafile)
                sock = context.wrap_socket(sock, server_hostname=host)
            except socket.timeout:
                sock.close()
                raise ConnectFailed(
                    f"TLS with {where} failed: no handshake in {timeout:g} s"
                ) from None
            except (ssl.SSLError, OSError) as e:
                sock.close()
                reason = getattr(e, "verify_message", None) or getattr(e, "reason", None) or e
                raise ConnectFailed(f"TLS with {where} failed: {reason}") from None
        return cls(sock, timeout)

    # The dialogue

    def register(self, username: str, password: str) -> None:
        """Create an account and be logged in as it. @raise ServerError: 553, 501, 503."""
        self._command("REGISTER", _credentials(username, password), 231)

    def login(self, username: str, password: str) -> None:
        """
        @raise ServerError: 535 (wrong), 501, 503.
        @raise ConnectionClosed: the third failure gets 421 and the server closes.
        """
        self._command("LOGIN", _credentials(username, password), 230)

    def list_tests(self) -> list[ListedTest]:
        reply = self._command("EXAMS", None, 212)
        tests = []
        for line in reply.lines[1:-1]:
            fields = line.split(" ")
            if len(fields) != 3 or not (fields[0].isdigit() and fields[2].isdigit()):
                raise self._broken(f"a test list line that is not 'number name count': {line!r}")
            tests.append(ListedTest(int(fields[0]), fields[1], int(fields[2])))
        return tests

    def take(self, test: str | int) -> Asked:
        """
        Start a test, by its number or name as L{list_tests} gives them.

        @raise ServerError: 550 no such test, 530 not logged in.
        """
        wanted = str(test).strip()
        if not wanted:
            raise InputError("say which test: its number or its name")
        return self._question(self._command("TAKE", wanted, 350))

    def answer(self, letter: str) -> Asked | Grade:
        """
        Answer the open question: the next L{Asked} question, or the L{Grade} after the last one.

        @raise InputError: for anything but A-D, without sending it.
        """
        reply = self._command(check_answer(letter), None, 350, 250)
        if reply.code == 250:
            grade = parse_grade(reply.text)
            if grade is None:
                raise self._broken(f"a grade line protocol.md does not know: {reply.text!r}")
            return Grade(*grade, reply.text)
        return self._question(reply)

    def quit(self) -> None:
        """
        Say goodbye (an unfinished test is recorded as abandoned) and close. Never raises: it
        is what a client does on its way out, whatever state the connection is in.
        """
        if self._closed:
            return
        try:
            self._send("QUIT")
            # Replies to a command interrupted (Ctrl-C) before its reply was read come first.
            while self._read_reply().code not in (221, 421):
                pass
        except ClientError:
            pass
        finally:
            self.close()

    def close(self) -> None:
        """Drop the connection without a word; safe to call twice."""
        self._closed = True
        try:
            self._sock.close()
        except OSError:
            pass

    @property
    def closed(self) -> bool:
        return self._closed

    # Lines and replies

    def _command(self, verb: str, argument: str | None, *expected: int) -> Reply:
        self._send(verb if argument is None else f"{verb} {argument}")
        return self._expect(self._read_reply(), *expected)

    def _send(self, line: str) -> None:
        data = line.encode("utf-8")
        if len(data) > MAX_LINE:
            raise InputError(f"that is too long to send: {len(data)} bytes, at most {MAX_LINE}")
        if self._closed:
            raise ConnectionClosed("not connected")
        try:
            self._sock.sendall(data + b"\r\n")
        except socket.timeout:
            raise self._timed_out() from None
        except OSError:
            # The server may have said why it left before it did: the next read tells.
            pass

    def _expect(self, reply: Reply, *expected: int) -> Reply:
        if reply.code in expected:
            return reply
        if reply.code == 421:
            self.close()
            raise ConnectionClosed(f"the server closed the connection: {reply.text}", reply)
        if 400 <= reply.code < 600:
            raise ServerError(reply)
        raise self._broken(f"unexpected reply {reply.code} {reply.text!r}")

    def _read_reply(self) -> Reply:
        while not self._replies:
            if self._closed:
                raise ConnectionClosed("not connected")
            try:
                data = self._sock.recv(65536)
            except socket.timeout:
                raise self._timed_out() from None
            except OSError as e:
                self.close()
                raise ConnectionClosed(
                    f"the connection to the server was lost ({e.strerror or e})"
                ) from None
            if not data:
                self.close()
                raise ConnectionClosed("the server closed the connection")
            try:
                self._replies.extend(map(_printable, self._parser.feed(data)))
            except ReplyFormatError as e:
                raise self._broken(str(e)) from None
        return self._replies.pop(0)

    def _question(self, reply: Reply) -> Asked:
        lines, count = reply.lines, len(_CHOICE_PREFIXES)
        heading = parse_question_heading(lines[0])
        choices = lines[-count:]
        if (
            heading is None
            or len(lines) < count + 2
            or any(not c.startswith(prefix) for prefix, c in zip(_CHOICE_PREFIXES, choices))
        ):
            raise self._broken(f"a question protocol.md does not allow: {lines!r}")
        texts = tuple(c[len(prefix):] for prefix, c in zip(_CHOICE_PREFIXES, choices))
        return Asked(*heading, Question(tuple(lines[1:-count]), texts))

    def _timed_out(self) -> ClientTimeout:
        self.close()
        return ClientTimeout("the server did not answer in time; disconnected")

    def _broken(self, what: str) -> ProtocolError:
        self.close()
        return ProtocolError(f"the server broke the protocol ({what}); disconnected")


def _printable(reply: Reply) -> Reply:
    """A reply as a person may be shown it: no escape sequence or control character of the
    server's reaches the terminal or the window."""
    return Reply(reply.code, tuple(printable(line) for line in reply.lines))


def _credentials(username: str, password: str) -> str:
    """
    The argument of REGISTER and LOGIN. What would change the line's meaning (a blank in the
    username, a line break anywhere) is refused here; the server judges the rest.
    """
    if not username or any(c.isspace() for c in username):
        raise InputError("the username must be one word, without spaces")
    if not password:
        raise InputError("the password must not be empty")
    if any(c in "\r\n" for c in password):
        raise InputError("the password must be on one line")
    return f"{username} {password}"
