"""
The admin command's C{teachers} commands: the accounts that sign in to the teacher's web area
(L{examtwist.teacherweb}), apart from the students' accounts. C{add} and C{passwd} take the
password as C{users add} does (asked twice, or C{--password-file}; the same strength rules;
argon2id at the server's cost); C{list} and C{remove} do what they say.
"""

from __future__ import annotations

from twisted.python import usage

from examtwist.admin_accounts import NewPasswordOptions
from examtwist.admin_common import AdminError, CommandGroup, DatabaseOptions, grid, when
from examtwist.wire import USERNAME_RULE, is_username


def _named(name: str) -> str:
    if not is_username(name):
        raise usage.UsageError(f"a teacher's name is {USERNAME_RULE}")
    return name


class TeachersAddOptions(NewPasswordOptions):
    synopsis = "[--db PATH] [--password-file FILE] NAME"
    example = "examtwist teachers add mrs.haddad"
    creates_database = True

    async def run(self, store, out) -> None:
        name = self["name"]
        password_hash = await self.hashed_password(out)
        if not await store.add_teacher(name, password_hash):
            raise AdminError(f"a teacher named {name!r} exists already (names ignore case);"
                             " nothing was added")
        out.write(f"Added teacher {name}: they sign in to the teacher's pages with that"
                  " password\n")


class TeachersPasswdOptions(NewPasswordOptions):
    synopsis = "[--db PATH] [--password-file FILE] NAME"
    example = "examtwist teachers passwd mrs.haddad"

    async def run(self, store, out) -> None:
        found = await store.teacher_password_hash(self["name"])
        if found is None:
            raise AdminError(f"no teacher is named {self['name']!r}")
        await store.set_teacher_password_hash(found[0], await self.hashed_password(out))
        out.write(f"Changed the password of teacher {found[0]}\n")


class TeachersListOptions(DatabaseOptions):
    synopsis = "[--db PATH]"
    example = "examtwist teachers list"

    async def run(self, store, out) -> None:
        teachers = await store.list_teachers()
        rows = [(t.username, when(t.created_at), str(t.sessions)) for t in teachers]
        out.write(grid(("Teacher", "Added", "Signed in"), rows))


class TeachersRemoveOptions(DatabaseOptions):
    synopsis = "[--db PATH] NAME"
    example = "examtwist teachers remove mrs.haddad"

    def parseArgs(self, name) -> None:
        self["name"] = _named(name)

    async def run(self, store, out) -> None:
        removed = await store.remove_teacher(self["name"])
        if removed is None:
            raise AdminError(f"no teacher is named {self['name']!r}")
        out.write(f"Removed teacher {removed}, signed out of every browser\n")


class TeachersOptions(CommandGroup):
    synopsis = "add | passwd | list | remove"
    missing = "say which: teachers add, passwd, list or remove"
    subCommands = [
        ["add", None, TeachersAddOptions, "Add a teacher (asks for the password twice)."],
        ["passwd", None, TeachersPasswdOptions, "Change a teacher's password."],
        ["list", None, TeachersListOptions, "List the teachers."],
        ["remove", None, TeachersRemoveOptions, "Remove a teacher and end their sessions."],
    ]
