"""
How a conversation with an exam server can go wrong, as the clients tell it.

L{examtwist.client} raises these errors; the command-line client and the GUI catch them and
show their str() as it is.
"""

from __future__ import annotations

from examtwist.wire import Reply


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


class ProtocolError(ConnectionClosed):
    """The server sent something protocol.md does not allow; the connection is closed."""


class InputError(ClientError, ValueError):
    """Input the client refuses before sending anything: the server is not asked."""
