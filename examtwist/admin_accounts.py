"""
Who may sit tests: C{examtwist users list | add | passwd}, the accounts students log in with,
and C{examtwist roster import | list}, the class roster a server started with
C{--registration roster} lets register.

A password the admin gives meets the rules REGISTER applies (L{examtwist.strength}) unless told
otherwise, and is hashed with argon2id at the server's default cost, in a worker pool of its
own (L{examtwist.passwords}), never on the reactor.
"""

from __future__ import annotations

import getpass
import sys

from twisted.internet.threads import deferToThread
from twisted.python import usage

from examtwist.admin_common import AdminError, CommandGroup, DatabaseOptions, ask, grid, when
from examtwist.formats import FileFormatError, read_text
from examtwist.passwords import HashCost, PasswordHasher
from examtwist.storage import Store
from examtwist.strength import PasswordRules
from examtwist.wire import MAX_PASSWORD, USERNAME_RULE, is_password, is_username

# A password file is read no further than this.
_PASSWORD_FILE_BYTES = 4096
# A roster of a whole school fits many times over.
_ROSTER_BYTES = 1024 * 1024


def _username(name: str) -> str:
    if not is_username(name):
        raise usage.UsageError(f"{name!r} is not a username: {USERNAME_RULE}")
    return name


class UsersListOptions(DatabaseOptions):
    synopsis = "[--db PATH]"
    example = "examtwist users list"

    async def run(self, store: Store, out) -> None:
        users = await store.list_users()
        rows = [(u.username, when(u.created_at), str(u.results)) for u in users]
        out.write(grid(("Username", "Registered", "Results"), rows))


class NewPasswordOptions(DatabaseOptions):
    """A command that asks for a new password, twice, or reads it from --password-file."""

    optParameters = [
        ["password-file", None, None, "Read the password from this file's first line."],
        ["min-password-length", None, PasswordRules.min_length,
         "Characters the password needs (the server's option of that name).", int],
        ["min-password-score", None, PasswordRules.min_score,
         "The zxcvbn score (0 to 4) it needs (the server's option of that name).", int],
    ]

    def parseArgs(self, name) -> None:
        self["name"] = _username(name)

    def postOptions(self) -> None:
        try:
            self["rules"] = PasswordRules(self["min-password-length"],
                                          self["min-password-score"])
        except ValueError as e:
            raise usage.UsageError(str(e)) from None
        super().postOptions()

    async def _typed(self, out) -> str:
        if sys.stdin.isatty():
            first = await deferToThread(getpass.getpass, "Password: ")
            again = await deferToThread(getpass.getpass, "Again: ")
        else:  # Scripted: two lines of standard input.
            first, again = await ask(out, "Password: "), await ask(out, "Again: ")
            out.write("\n")
            if first is None or again is None:
                raise AdminError("no password given (the end of input came first)")
            first, again = first.rstrip("\r\n"), again.rstrip("\r\n")
        if first != again:
            raise AdminError("the two passwords differ")
        return first

    def _from_file(self) -> str:
        path = self["password-file"]
        try:
            text = read_text(path, limit=_PASSWORD_FILE_BYTES)
        except FileFormatError as e:
            raise AdminError(str(e)) from None
        return text.split("\n", 1)[0].rstrip("\r")

    async def hashed_password(self, out) -> str:
        """
        The new password, checked against the rules and hashed.
        @raise AdminError: it is not one a student could register with.
        """
        password = self._from_file() if self["password-file"] else await self._typed(out)
        if not is_password(password):
            raise AdminError(f"a password is 1 to {MAX_PASSWORD} characters")
        from twisted.internet import reactor

        hasher = PasswordHasher(reactor, HashCost(), threads=1)
        hasher.start()
        try:
            problem = await hasher.judge(self["rules"], password, self["name"])
            if problem is not None:
                raise AdminError(f"{problem}; nothing was changed")
            return await hasher.hash(password)
        finally:
            await hasher.stop()


class UsersAddOptions(NewPasswordOptions):
    synopsis = "[--db PATH] [--password-file FILE] NAME"
    example = "examtwist users add ada --password-file ada.txt"
    creates_database = True

    async def run(self, store: Store, out) -> None:
        name = self["name"]
        if await store.username_taken(name):
            raise AdminError(f"an account named {name!r} exists already (usernames are"
                             " compared ignoring case); nothing was added")
        password_hash = await self.hashed_password(out)
        if not await store.add_user(name, password_hash):
            raise AdminError(f"an account named {name!r} was made meanwhile; nothing was added")
        out.write(f"Added the account {name}\n")


class UsersPasswdOptions(NewPasswordOptions):
    synopsis = "[--db PATH] [--password-file FILE] NAME"
    example = "examtwist users passwd ada"

    async def run(self, store: Store, out) -> None:
        name = self["name"]
        if await store.get_password_hash(name) is None:
            raise AdminError(f"no account named {name!r} (usernames log in as they are"
                             " written; examtwist users list shows them)")
        await store.set_password_hash(name, await self.hashed_password(out))
        out.write(f"Changed the password of {name}\n")


class UsersOptions(CommandGroup):
    synopsis = "list | add | passwd"
    missing = "say which: users list, add or passwd"
    subCommands = [
        ["list", None, UsersListOptions, "List the registered students."],
        ["add", None, UsersAddOptions, "Make an account (asks for its password twice)."],
        ["passwd", None, UsersPasswdOptions, "Give an account a new password."],
    ]


def read_roster(path: str) -> list[str]:
    """
    The usernames of a roster file: one a line; blank lines, and C{#} with what follows it on
    its line, ignored.
    @raise FileFormatError: naming the line of the first name that is not a username.
    """
    names = []
    for number, line in enumerate(read_text(path, limit=_ROSTER_BYTES).split("\n"), 1):
        name = line.partition("#")[0].strip()
        if not name:
            continue
        if not is_username(name):
            raise FileFormatError(path, number, f"{name!r} is not a username: {USERNAME_RULE}")
        names.append(name)
    if not names:
        raise FileFormatError(path, None, "no usernames found")
    return names


class RosterImportOptions(DatabaseOptions):
    synopsis = "[--db PATH] FILE"
    example = "examtwist roster import class-2026.txt"
    creates_database = True

    def parseArgs(self, path) -> None:
        self["path"] = path

    async def run(self, store: Store, out) -> None:
        try:
            names = read_roster(self["path"])
        except FileFormatError as e:
            raise AdminError(f"{e}; nothing was imported") from None
        distinct = len({name.lower() for name in names})
        added = await store.add_to_roster(names)
        out.write(f"Added {added} of {distinct} names to the roster;"
                  f" {distinct - added} were on it already\n")


class RosterListOptions(DatabaseOptions):
    synopsis = "[--db PATH]"
    example = "examtwist roster list"

    async def run(self, store: Store, out) -> None:
        roster = await store.list_roster()
        accounts = {user.username.lower() for user in await store.list_users()}
        rows = [(name, when(added), "yes" if name.lower() in accounts else "no")
                for name, added in roster]
        out.write(grid(("Username", "Added", "Registered"), rows))


class RosterOptions(CommandGroup):
    synopsis = "import | list"
    missing = "say which: roster import, or roster list"
    subCommands = [
        ["import", None, RosterImportOptions, "Put the usernames of a file on the roster."],
        ["list", None, RosterListOptions, "The names on the roster, and who has registered."],
    ]
