"""
What the three programs (C{examtwist}, C{examtwist-client}, C{examtwist-gui}) share on their
command lines: C{--version}, the options that say where an exam server is (both clients), and
parsing options or printing the usage and leaving with status 2.
"""

from __future__ import annotations

import sys
from typing import TypeVar

from twisted.python import usage

from examtwist import __version__
from examtwist.client import DEFAULT_TIMEOUT, ExamClient

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 6666
PORT_RULE = "the port must be a number from 1 to 65535"

_Options = TypeVar("_Options", bound=usage.Options)


def is_port(number: int) -> bool:
    return 0 < number < 65536


class VersionOption:
    """Mix into a L{usage.Options} to give it C{--version}."""

    def opt_version(self) -> None:
        """Display the examtwist version and exit."""
        print(f"examtwist {__version__}")
        raise SystemExit(0)


def parse_or_exit(options: _Options, program: str, argv: list[str] | None = None) -> _Options:
    """
    Parse C{argv} (the process's arguments when None) into C{options}; on a usage error, write
    the usage and C{program: reason} to stderr and exit with status 2.
    """
    try:
        options.parseOptions(sys.argv[1:] if argv is None else argv)
    except usage.UsageError as e:
        sys.stderr.write(f"{options}\n{program}: {e}\n")
        raise SystemExit(2)
    return options


class ConnectionOptions(VersionOption, usage.Options):
    """
    Where the server is and how to reach it: the same for both clients. A client's synopsis
    is its name, then L{SYNOPSIS}.
    """

    SYNOPSIS = "[--host HOST] [--port PORT] [--tls [--cafile FILE]]"

    optFlags = [["tls", None, "Connect with TLS, checking the server's certificate."]]
    optParameters = [
        ["host", None, DEFAULT_HOST, "Server host name or address."],
        ["port", None, DEFAULT_PORT, "Server port.", int],
        ["cafile", None, None, "Trust the CA certificate(s) in this PEM file (implies --tls)."],
        ["timeout", None, DEFAULT_TIMEOUT, "Seconds to wait for the server.", float],
    ]

    def postOptions(self) -> None:
        if not is_port(self["port"]):
            raise usage.UsageError(PORT_RULE)
        if self["cafile"]:
            self["tls"] = True

    @property
    def timeout(self) -> float | None:
        """Seconds to wait for the server; None (wait for ever) for C{--timeout 0}."""
        return self["timeout"] or None

    def connect(self) -> ExamClient:
        return ExamClient.connect(
            self["host"], self["port"], tls=self["tls"], cafile=self["cafile"],
            timeout=self.timeout,
        )
