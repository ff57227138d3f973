"""
C{examtwist users add | passwd} and C{examtwist roster import | list}, run as users run them: a
child process on a real SQLite file or (the Postgres* classes) PostgreSQL. An account the
admin makes is logged in to over a real socket.
"""

from __future__ import annotations

from tests.client_support import write_file
from tests.support import OnPostgres, connect, start_server
from tests.test_admin import AdminTestCase

GOOD = "lovelace 1815"


class UsersAddTests(AdminTestCase):
    async def login(self, username: str, password: str) -> int:
        """The code LOGIN gets on a server on the test's database."""
        if not hasattr(self, "port"):
            self.service, self.port = await start_server(self, "--db", self.db)
        client = await connect(self.port)
        reply = await client.ask(f"LOGIN {username} {password}")
        client.transport.loseConnection()
        return reply.code

    async def test_add_from_file_then_login(self) -> None:
        """
        If ada is added with a password file holding "lovelace 1815" and a line ending, then
        the command says "Added the account ada", and LOGIN ada lovelace 1815 gets 230.
        """
        await self.database()
        path = write_file(self, "pw.txt", GOOD + "\r\n")
        result = await self.admin("users", "add", "ada", "--password-file", path, "--db",
                                  self.db)
        self.assertEqual(result, (0, "Added the account ada\n", ""))
        self.assertEqual(await self.login("ada", GOOD), 230)
        self.assertEqual(await self.login("ada", "lovelace 1816"), 535)

    async def test_add_asks_twice(self) -> None:
        """
        If no password file is given, then the password is asked for twice on standard input;
        the same twice makes the account, two different refuse it (exit 1) and make none.
        """
        store = await self.database()
        result = await self.admin("users", "add", "ada", "--db", self.db,
                                  answer=f"{GOOD}\n{GOOD}")
        self.assertEqual(result, (0, "Password: Again: \nAdded the account ada\n", ""))
        result = await self.admin("users", "add", "bob", "--db", self.db,
                                  answer=f"{GOOD}\nlovelace 1816")
        self.assertEqual(result, (1, "Password: Again: \n",
                                  "examtwist: the two passwords differ\n"))
        result = await self.admin("users", "add", "cy", "--db", self.db, answer=GOOD)
        self.assertEqual(result, (1, "Password: Again: \n", "examtwist: no password given"
                                                             " (the end of input came first)\n"))
        self.assertEqual([u.username for u in await store.list_users()], ["ada"])
        self.assertEqual(await self.login("ada", GOOD), 230)

    async def test_refusals(self) -> None:
        """
        If the password is short or common, the name is taken in another case, or is not a
        username, then nothing is added and the command says why: 1 for the first three, 2
        (usage) for the last. --min-password-length 1 --min-password-score 0 let a weak one
        through, as the server's options of those names do.
        """
        store = await self.database()
        await store.add_user("ada", "h")
        for name, password, message in [
            ("bob", "abc", "The password must be at least 8 characters; nothing was changed"),
            ("bob", "password1", "The password is too easy to guess: this is a very common"
                                 " password; add another word or two; nothing was changed"),
            ("Ada", GOOD, "an account named 'Ada' exists already (usernames are compared"
                          " ignoring case); nothing was added"),
        ]:
            path = write_file(self, "pw.txt", password)
            result = await self.admin("users", "add", name, "--password-file", path, "--db",
                                      self.db)
            self.assertEqual(result, (1, "", f"examtwist: {message}\n"), password)
        code, out, err = await self.admin("users", "add", "bob smith", "--db", self.db)
        self.assertEqual((code, out, err.splitlines()[-1]), (2, "", (
            "examtwist: 'bob smith' is not a username: 1-32 letters, digits, '_', '.' or '-'")))
        self.assertEqual([u.username for u in await store.list_users()], ["ada"])
        path = write_file(self, "pw.txt", "abc")
        result = await self.admin("users", "add", "bob", "--password-file", path,
                                  "--min-password-length", "1", "--min-password-score", "0",
                                  "--db", self.db)
        self.assertEqual(result, (0, "Added the account bob\n", ""))
        self.assertEqual(await self.login("bob", "abc"), 230)

    async def test_passwd(self) -> None:
        """
        If ada's password is changed, then the new one logs in and the old one does not; an
        account that does not exist (Ada, when ada does) is refused with exit 1.
        """
        await self.database()
        old = write_file(self, "old.txt", GOOD)
        new = write_file(self, "new.txt", "correct horse battery")
        self.assertEqual((await self.admin("users", "add", "ada", "--password-file", old,
                                           "--db", self.db))[0], 0)
        result = await self.admin("users", "passwd", "ada", "--password-file", new, "--db",
                                  self.db)
        self.assertEqual(result, (0, "Changed the password of ada\n", ""))
        self.assertEqual(await self.login("ada", "correct horse battery"), 230)
        self.assertEqual(await self.login("ada", GOOD), 535)
        result = await self.admin("users", "passwd", "Ada", "--password-file", new, "--db",
                                  self.db)
        self.assertEqual(result, (1, "", "examtwist: no account named 'Ada' (usernames log in"
                                         " as they are written; examtwist users list shows"
                                         " them)\n"))


ROSTER = """\
# Class of 2026
ada      # Ada Lovelace
Grace.Hopper

alan_t
ADA
"""


class RosterTests(AdminTestCase):
    async def test_import_and_list(self) -> None:
        """
        If a roster of ada, Grace.Hopper, alan_t and ADA (with comments and a blank line) is
        imported, then 3 names are added; again, none is, the 3 were there; the list shows
        them by name with when they were added, and ada as registered.
        """
        store = await self.database()
        path = write_file(self, "roster.txt", ROSTER)
        result = await self.admin("roster", "import", path, "--db", self.db)
        self.assertEqual(result, (0, "Added 3 of 3 names to the roster; 0 were on it"
                                     " already\n", ""))
        result = await self.admin("roster", "import", "--db", self.db, path)
        self.assertEqual(result, (0, "Added 0 of 3 names to the roster; 3 were on it"
                                     " already\n", ""))
        await store.add_user("ada", "h")
        await self.sql("UPDATE roster SET added_at = '2026-11-20T09:00:00Z'")
        result = await self.admin("roster", "list", "--db", self.db)
        self.assertEqual(result, (0, (
            "+-------------+------------------------+-----------+\n"
            "|Username     |Added                   |Registered |\n"
            "+-------------+------------------------+-----------+\n"
            "|ada          |2026-11-20 09:00:00 UTC |yes        |\n"
            "+-------------+------------------------+-----------+\n"
            "|alan_t       |2026-11-20 09:00:00 UTC |no         |\n"
            "+-------------+------------------------+-----------+\n"
            "|Grace.Hopper |2026-11-20 09:00:00 UTC |no         |\n"
            "+-------------+------------------------+-----------+\n"
        ), ""))
        self.assertTrue(await store.on_roster("grace.hopper"))

    async def test_bad_line_imports_nothing(self) -> None:
        """
        If line 4 of a roster is "Grace Hopper" (a space), then the import names the file and
        line 4, exits 1, and the roster stays empty.
        """
        store = await self.database()
        path = write_file(self, "roster.txt", "ada\nalan\n\nGrace Hopper\n")
        result = await self.admin("roster", "import", path, "--db", self.db)
        self.assertEqual(result, (1, "", (
            f"examtwist: {path}, line 4: 'Grace Hopper' is not a username: 1-32 letters,"
            " digits, '_', '.' or '-'; nothing was imported\n")))
        self.assertEqual(await store.list_roster(), [])
        empty = write_file(self, "empty.txt", "# nobody yet\n\n")
        result = await self.admin("roster", "import", empty, "--db", self.db)
        self.assertEqual(result, (1, "", f"examtwist: {empty}: no usernames found; nothing was"
                                         " imported\n"))


class PostgresUsersAddTests(OnPostgres, UsersAddTests):
    pass


class PostgresRosterTests(OnPostgres, RosterTests):
    pass
