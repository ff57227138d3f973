"""
The admin command's C{teachers} commands, run as users run them: a child process on a real
SQLite file.
"""

from passlib.hash import argon2
from twisted.trial import unittest

from tests.client_support import run_admin, write_file
from tests.support import open_store

PASSWORD = "correct horse battery"


class TeachersCommandTests(unittest.TestCase):
    async def setUp(self):
        self.store = await open_store(self)
        self.db = self.store.path

    def admin(self, *args: str, answer: str | None = None):
        return run_admin(self, "teachers", *args, "--db", self.db, answer=answer)

    async def test_add_asks_twice(self):
        """
        If teachers add ada is answered with the same password twice, then ada is stored with
        an argon2id hash of it at OWASP's cost (m=19456, t=2) that verifies it.
        """
        code, out, err = await self.admin("add", "ada", answer=f"{PASSWORD}\n{PASSWORD}")
        self.assertEqual((code, out, err), (0, (
            "Password: Again: \n"
            "Added teacher ada: they sign in to the teacher's pages with that password\n"), ""))
        name, stored = await self.store.teacher_password_hash("ADA")
        made = argon2.from_string(stored)
        self.assertEqual((name, made.type, made.memory_cost, made.rounds,
                          argon2.verify(PASSWORD, stored)), ("ada", "id", 19456, 2, True))

    async def test_add_refusals(self):
        """
        If the two passwords differ, the password is too easy, or the name is taken in another
        case, then the command says so, ends with status 1, and adds nobody more.
        """
        differ = await self.admin("add", "ada", answer=f"{PASSWORD}\nanother one")
        easy = await self.admin("add", "ada", answer="password\npassword")
        self.assertEqual((differ[0], differ[2]),
                         (1, "examtwist: the two passwords differ\n"))
        self.assertEqual(easy[0], 1)
        self.assertRegex(easy[2], r"^examtwist: The password is too easy to guess.*; nothing"
                                  r" was changed\n$")
        from_file = write_file(self, "pw.txt", PASSWORD + "\n")
        self.assertEqual((await self.admin("add", "ada", "--password-file", from_file))[0], 0)
        taken = await self.admin("add", "ADA", "--password-file", from_file)
        self.assertEqual(taken, (1, "", "examtwist: a teacher named 'ADA' exists already (names"
                                        " ignore case); nothing was added\n"))
        self.assertEqual([t.username for t in await self.store.list_teachers()], ["ada"])

    async def test_passwd(self):
        """
        If ada's password is changed with teachers passwd ADA, then the command says "Changed
        the password of teacher ada" and the new password verifies; for a teacher who does
        not exist it says so with status 1.
        """
        await self.admin("add", "ada", "--password-file", write_file(self, "pw.txt", PASSWORD))
        other = "a different long passphrase 42"
        new_file = write_file(self, "new.txt", other)
        self.assertEqual(await self.admin("passwd", "ADA", "--password-file", new_file),
                         (0, "Changed the password of teacher ada\n", ""))
        name, stored = await self.store.teacher_password_hash("ada")
        self.assertEqual((name, argon2.verify(other, stored)), ("ada", True))
        self.assertEqual(await self.admin("passwd", "bob", "--password-file", new_file),
                         (1, "", "examtwist: no teacher is named 'bob'\n"))

    async def test_list_and_remove(self):
        """
        If ada and bob are added, then list shows both with 0 sessions; remove BOB removes bob
        and says so; removing him again says there is no such teacher (status 1).
        """
        from_file = write_file(self, "pw.txt", PASSWORD)
        for name in ("bob", "ada"):
            await self.admin("add", name, "--password-file", from_file)
        code, out, err = await self.admin("list")
        lines = out.splitlines()
        self.assertEqual((code, err, lines[1], lines[3][:10], lines[3][-12:], lines[5][:10]),
                         (0, "", "|Teacher |Added                   |Signed in |",
                          "|ada     |", "|0         |", "|bob     |"))
        self.assertEqual(await self.admin("remove", "BOB"),
                         (0, "Removed teacher bob, signed out of every browser\n", ""))
        self.assertEqual(await self.admin("remove", "bob"),
                         (1, "", "examtwist: no teacher is named 'bob'\n"))
