"""
The exam protocol from the student's side: one blocking connection whose methods are the
dialogue (greeting, register, login, list tests, a test's rules, take, answer, results, quit),
and the one reply that comes unasked: the grade when a test's time is up.

Both the command-line client and the GUI use it. It reads replies only through
L{ReplyParser}, makes values of them with L{examtwist.clientreplies}, and turns every way a
conversation can go wrong into a L{ClientError} whose message can be shown to a person as it
is. Blocking sockets keep it usable from a plain script and from a GUI's worker thread alike;
nothing here runs a reactor.
"""

from __future__ import annotations

import select
import socket
import ssl

from examtwist.clienterrors import (
    ClientError,
    ClientTimeout,
    ConnectFailed,
    ConnectionClosed,
    InputError,
    ProtocolError,
    ServerError,
)
from examtwist.clientreplies import (  # noqa: F401 (the clients' names for what they get)
    LETTER_LIST,
    LETTER_RANGE,
    Asked,
    BadReply,
    Grade,
    Greeting,
    ListedTest,
    check_answer,
    grade_from,
    info_from,
    question_from,
    results_from,
    tests_from,
)
from examtwist.rulelines import Info, ResultLine
from examtwist.wire import MAX_LINE, Reply, ReplyFormatError, ReplyParser, printable

DEFAULT_TIMEOUT = 30.0  # seconds to wait for a connection or a reply


class ExamClient:
    """
    One connection to an exam server. Use L{connect} to make one; each operation sends one
    line and waits for its reply. Not thread-safe: one thread talks at a time. In a test with
    a deadline the server may speak unasked: L{ready} says so at once, L{unasked} reads it.
    """

    def __init__(self, sock: socket.socket, timeout: float | None = DEFAULT_TIMEOUT) -> None:
        self._sock = sock
        self._sock.settimeout(timeout)
        self._parser = ReplyParser()
        self._replies: list[Reply] = []
        self._closed = False
        self._stale = 0  # replies to come for answers sent after the deadline (in answer)
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
        return cls(_open(host, port, tls or bool(cafile), cafile, timeout), timeout)

    # The dialogue

    def register(self, username: str, password: str) -> None:
        """Create an account, logged in as it. @raise ServerError: 553, 501, 503, 554, 454."""
        self._command("REGISTER", _credentials(username, password), 231)

    def login(self, username: str, password: str) -> None:
        """
        @raise ServerError: 535 (wrong), 501, 503, 454 (too many failures lately).
        @raise ConnectionClosed: the third failure gets 421 and the server closes.
        """
        self._command("LOGIN", _credentials(username, password), 230)

    def list_tests(self) -> list[ListedTest]:
        return self._parsed(tests_from, self._command("EXAMS", None, 212))

    def info(self, test: str | int) -> Info:
        """A test's rules, by its number or name. @raise ServerError: 550, 500 (version 1)."""
        return self._parsed(info_from, self._command("INFO", _test(test), 213))

    def take(self, test: str | int) -> Asked:
        """
        Start a test, by its number or name as L{list_tests} gives them; or continue the
        user's suspended attempt of it, whose next unanswered question comes back.

        @raise ServerError: 550 no such test, 530 not logged in, 554 not open or no attempts.
        """
        return self._parsed(question_from, self._command("TAKE", _test(test), 350))

    def answer(self, letter: str) -> Asked | Grade:
        """
        Answer the open question: the next L{Asked} question, or the L{Grade} after the last
        one, or after the deadline (C{time_up}; the answer was not counted).

        @raise InputError: for anything but A-D, without sending it.
        """
        reply = self._command(check_answer(letter), None, 350, 250)
        if reply.code == 350:
            return self._parsed(question_from, reply)
        grade = self._parsed(grade_from, reply)
        if grade.time_up:
            # The server read the answer as a command of a logged-in connection: its
            # "500 Please choose a valid command." comes next, to be passed over.
            self._stale += 1
        return grade

    def results(self) -> list[ResultLine]:
        """The user's ended attempts. @raise ServerError: 530, 500 (version 1)."""
        return self._parsed(results_from, self._command("RESULTS", None, 216))

    def ready(self) -> bool:
        """True when the server has said something unasked; never waits."""
        if self._replies:
            return True
        if self._closed:
            return False
        pending = self._sock.pending() if isinstance(self._sock, ssl.SSLSocket) else 0
        return pending > 0 or bool(select.select([self._sock], [], [], 0)[0])

    def unasked(self) -> Grade:
        """
        What the server said without being asked, during a test: the grade at its deadline.

        @raise ConnectionClosed: a 421 (the test continued on another connection, idle
            timeout, shutdown), or the server gone.
        """
        return self._parsed(grade_from, self._expect(self._read_reply(), 250))

    def fileno(self) -> int:
        return self._sock.fileno()

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
        reply = self._read_reply()
        while self._stale and reply.code != 421:
            self._stale -= 1
            reply = self._read_reply()
        return self._expect(reply, *expected)

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

    def _parsed(self, parse, reply: Reply):  # a reply's value, or the server is broken
        try:
            return parse(reply)
        except BadReply as e:
            raise self._broken(str(e)) from None

    def _timed_out(self) -> ClientTimeout:
        self.close()
        return ClientTimeout("the server did not answer in time; disconnected")

    def _broken(self, what: str) -> ProtocolError:
        self.close()
        return ProtocolError(f"the server broke the protocol ({what}); disconnected")


def _open(host: str, port: int, tls: bool, cafile: str | None,
          timeout: float | None) -> socket.socket:
    """A connected socket, over TLS if asked. @raise ConnectFailed: with the reason."""
    where = f"{host}:{port}"
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except socket.timeout:
        raise ConnectFailed(f"could not connect to {where}: no answer in {timeout:g} s") from None
    except OSError as e:
        raise ConnectFailed(f"could not connect to {where}: {e.strerror or e}") from None
    if not tls:
        return sock
    try:
        context = ssl.create_default_context(cafile=cafile)
        return context.wrap_socket(sock, server_hostname=host)
    except socket.timeout:
        sock.close()
        raise ConnectFailed(f"TLS with {where} failed: no handshake in {timeout:g} s") from None
    except (ssl.SSLError, OSError) as e:
        sock.close()
        reason = getattr(e, "verify_message", None) or getattr(e, "reason", None) or e
        raise ConnectFailed(f"TLS with {where} failed: {reason}") from None


def _test(test: str | int) -> str:
    """The argument of TAKE and INFO: a test's number or name."""
    wanted = str(test).strip()
    if not wanted:
        raise InputError("say which test: its number or its name")
    return wanted


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
