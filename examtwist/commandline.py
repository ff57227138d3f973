"""
What the three programs (C{examtwist}, C{examtwist-client}, C{examtwist-gui}) share on their
command lines: C{--version}, the options that say where an exam server is (both clients),
commands with subcommands whose options go before or after their arguments (the admin
command), and parsing options or printing the usage and leaving with status 2.
"""

from __future__ import annotations

import getopt
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


class CommandOptions(VersionOption, usage.Options):
    """
    Options of a program with subcommands, or of one of its subcommands. A subcommand that
    runs (one without subcommands of its own) takes its options before or after its
    arguments, as GNU programs do; C{--} ends the options. Its usage starts with the words
    that call it (C{Usage: examtwist students add [--db PATH] NAME ID AGE}); C{example} is a
    one-line example of it, which the program's C{--help} lists (L{examples}).
    """

    program = ""
    synopsis = ""
    example = ""

    def parseOptions(self, options: list[str] | None = None) -> None:
        if options is None:
            options = sys.argv[1:]
        if not getattr(self, "subCommands", None):
            options = self._options_first(options)
        super().parseOptions(options)

    def _options_first(self, argv: list[str]) -> list[str]:
        """C{argv} with every option before every argument, and C{--} between them."""
        try:
            opts, args = getopt.gnu_getopt(argv, self.shortOpt, self.longOpt)
        except getopt.error as e:
            raise usage.UsageError(str(e))
        first = []
        for name, value in opts:
            if name.startswith("--"):
                takes_value = name[2:] + "=" in self.longOpt
                first.append(f"{name}={value}" if takes_value else name)
            else:
                takes_value = name[1:] + ":" in self.shortOpt
                first.extend([name, value] if takes_value else [name])
        return [*first, "--", *args]

    def getSynopsis(self) -> str:
        words, options = [], self
        while options.parent is not None:
            words.insert(0, options.parent.subCommand)
            options = options.parent
        return " ".join(["Usage:", options.program, *words, self.synopsis])

    def examples(self) -> list[tuple[str, str]]:
        """Every subcommand that runs, under this one: (its words, its example)."""
        found = []
        for name, _, parser, _ in getattr(self, "subCommands", None) or []:
            command = parser()
            if getattr(command, "subCommands", None):
                found.extend((f"{name} {words}", ex) for words, ex in command.examples())
            else:
                found.append((name, command.example))
        return found


def innermost(options: usage.Options) -> usage.Options:
    """The subcommand's options that were being parsed last (C{options} if none)."""
    while getattr(options, "subOptions", None) is not None:
        options = options.subOptions
    return options


def parse_or_exit(options: _Options, program: str, argv: list[str] | None = None) -> _Options:
    """
    Parse C{argv} (the process's arguments when None) into C{options}; on a usage error, write
    the usage (the failing subcommand's, if any) and C{program: reason} to stderr and exit
    with status 2.
    """
    try:
        options.parseOptions(sys.argv[1:] if argv is None else argv)
    except usage.UsageError as e:
        sys.stderr.write(f"{innermost(options)}\n{program}: {e}\n")
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
