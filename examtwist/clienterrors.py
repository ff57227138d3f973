"""
How a conversation with an exam server can go wrong, as the clients tell it.

L{examtwist.client} raises these errors; the command-line client and the GUI catch them and
show their str() as it is, or L{explain}'s sentence, which adds what a student can do about
the refusals of protocol 1.1 (no attempts left, registration closed, a busy server, …).
"""

from __future__ import annotations

import re

from examtwist.wire import Reply

# "454 Too many failed attempts, try again in 30 s": the seconds to wait.
_TRY_AGAIN_IN = re.compile(r", try again in (\d+) s\Z")
# What a student can do about a reply, by its code and text; the server's text stays first.
_ADVICE = {
    (421, "Server busy, try again later"): "wait a moment, then connect again",
    (421, "Too many connections from your address"):
        "close another connection to this server first",
    (421, "Test continued on another connection"):
        "your attempt goes on there",
    (421, "Idle timeout"): "nothing was sent for too long",
    (553, "Username already exists"): "usernames differing only in capitals count as the same",
    (554, "No attempts left"): "you have used every attempt this test allows",
    (554, "Test is not open"): "it can be taken only between the times its teacher set",
    (554, "Registration is closed"): "ask your teacher for an account",
    (554, "Not on the class roster"): "register with the username on your teacher's class list",
}


class ClientError(Exception):
    """Anything that ends an operation; str() is a sentence for the user."""


class ConnectFailed(ClientError):
    """No conversation could start: refused, unreachable, or a failed TLS handshake."""


class ConnectionClosed(ClientError):
    """
    The server is gone. C{reply} is its parting C{421} reply when it sent one (idle timeout,
    too many failed logins, shutting down); None when the connection just broke.
    """

    def __init__(self, message: str, reply: Reply | None = None) -> None:
        super().__init__(message)
        self.reply = reply


class ClientTimeout(ConnectionClosed):
    """The server did not answer in time; the connection is closed, as its state is unknown."""


class ServerError(ClientError):
    """
    The server refused a command (C{501}, C{503}, C{530}, C{535}, C{550}, C{553}, …); the
    connection stays open. str() is the server's own text, e.g. "Username already exists".
    """

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.text)
        self.reply = reply

    @property
    def code(self) -> int:
        return self.reply.code

    @property
    def retry_after(self) -> int | None:
        """The seconds a C{454} reply asks to wait; None for other refusals."""
        found = _TRY_AGAIN_IN.search(self.reply.text) if self.code == 454 else None
        return int(found.group(1)) if found else None


class ProtocolError(ConnectionClosed):
    """The server sent something protocol.md does not allow; the connection is closed."""


class InputError(ClientError, ValueError):
    """Input the client refuses before sending anything: the server is not asked."""


def explain(error: ClientError) -> str:
    """
    What to tell the user: str(error), and after it, for the refusals and farewells that a
    student can act on, what to do ("No attempts left; you have used every attempt this test
    allows"). Other errors (the server's own C{501} reasons among them) are told as they are.
    """
    reply = getattr(error, "reply", None)
    advice = _ADVICE.get((reply.code, reply.text)) if reply is not None else None
    return f"{error}; {advice}" if advice else str(error)
