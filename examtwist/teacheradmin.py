"""
The admin command's C{teachers} commands: the accounts that sign in to the teacher's web area
(L{examtwist.teacherweb}), apart from the students' accounts. C{examtwist teachers add NAME}
asks for the password twice (or reads C{--password-file}) and stores its argon2id hash, made by
the same hasher the server checks it with; C{list} and C{remove} do what they say.

The admin command (L{examtwist.admin}) lists C{TeachersOptions} among its commands and runs
each one's C{run}; this module takes nothing from it when imported, so the two never import
each other half-made.
"""

from __future__ import annotations

import getpass
import sys

from twisted.internet.threads import deferToThread
from twisted.python import usage

from examtwist.commandline import CommandOptions
from examtwist.passwords import HashCost, PasswordHasher
from examtwist.storage.engines import URL_FORM, check_database
from examtwist.strength import PasswordRules
from examtwist.wire import MAX_PASSWORD, USERNAME_RULE, is_password, is_username


class _TeachersCommand(CommandOptions):
    """A C{teachers} command: C{--db} as every admin command takes it."""

    optParameters = [["db", None, "examtwist.db", f"The server's SQLite file, or {URL_FORM}."]]
    creates_database = False

    def postOptions(self) -> None:
        check_database(self["db"])


def _admin_error(message: str) -> Exception:
    """The admin command's one-line error (imported late: the admin command imports us)."""
    from examtwist.admin import AdminError

    return AdminError(message)


def _named(name: str) -> str:
    if not is_username(name):
        raise usage.UsageError(f"a teacher's name is {USERNAME_RULE}")
    return name


class TeachersAddOptions(_TeachersCommand):
    synopsis = "[--db PATH] [--password-file FILE] NAME"
    example = "examtwist teachers add mrs.haddad"
    optParameters = [
        ["password-file", None, None,
         "Read the password from the first line of FILE instead of asking for it."],
    ]
    creates_database = True

    def parseArgs(self, name) -> None:
        self["name"] = _named(name)

    async def run(self, store, out) -> None:
        name = self["name"]
        password = await self._password(name, out)
        hasher = PasswordHasher(_reactor(), HashCost(), threads=1)
        hasher.start()
        try:
            problem = await hasher.judge(PasswordRules(), password, name)
            if problem:
                raise _admin_error(f"{problem}; nothing was added")
            password_hash = await hasher.hash(password)
        finally:
            await hasher.stop()
        if not await store.add_teacher(name, password_hash):
            raise _admin_error(f"a teacher named {name!r} exists already (names ignore case);"
                               " nothing was added")
        out.write(f"Added teacher {name}: they sign in to the teacher's pages with that"
                  " password\n")

    async def _password(self, name: str, out) -> str:
        if self["password-file"]:
            try:
                with open(self["password-file"], encoding="utf-8") as f:
                    password = f.readline(MAX_PASSWORD + 2).rstrip("\r\n")
            except UnicodeDecodeError:
                raise _admin_error(f"{self['password-file']} is not UTF-8 text") from None
        else:
            password = await _ask(out, f"Password for teacher {name}: ")
            again = await _ask(out, "The same password again: ")
            if password != again:
                raise _admin_error("the two passwords differ; nothing was added")
        if not is_password(password):
            raise _admin_error(f"a password is 1 to {MAX_PASSWORD} characters; nothing was"
                               " added")
        return password


async def _ask(out, prompt: str) -> str:
    """A password typed at a terminal without echo, or a line of stdin from a script."""
    if sys.stdin.isatty():
        return await deferToThread(getpass.getpass, prompt)
    out.write(prompt)
    out.flush()
    line = await deferToThread(sys.stdin.readline, MAX_PASSWORD + 2)
    out.write("\n")
    if not line:
        raise _admin_error("no password given (stdin ended); nothing was added")
    return line.rstrip("\r\n")


def _reactor():
    from twisted.internet import reactor

    return reactor


class TeachersListOptions(_TeachersCommand):
    synopsis = "[--db PATH]"
    example = "examtwist teachers list"

    async def run(self, store, out) -> None:
        from examtwist.admin import _when, grid

        teachers = await store.list_teachers()
        rows = [(t.username, _when(t.created_at), str(t.sessions)) for t in teachers]
        out.write(grid(("Teacher", "Added", "Signed in"), rows))


class TeachersRemoveOptions(_TeachersCommand):
    synopsis = "[--db PATH] NAME"
    example = "examtwist teachers remove mrs.haddad"

    def parseArgs(self, name) -> None:
        self["name"] = _named(name)

    async def run(self, store, out) -> None:
        removed = await store.remove_teacher(self["name"])
        if removed is None:
            raise _admin_error(f"no teacher is named {self['name']!r}")
        out.write(f"Removed teacher {removed}, signed out of every browser\n")


class TeachersOptions(CommandOptions):
    synopsis = "add | list | remove"
    subCommands = [
        ["add", None, TeachersAddOptions, "Add a teacher (asks for the password twice)."],
        ["list", None, TeachersListOptions, "List the teachers."],
        ["remove", None, TeachersRemoveOptions, "Remove a teacher and end their sessions."],
    ]

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError("say which: teachers add, list or remove")
