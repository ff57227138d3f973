"""
C{examtwist copy --from SOURCE --to TARGET}, run as users run it: a child process copying a
SQLite file into a real PostgreSQL database and back, after a real server filled the source
(an account, a test taken to its grade) and the store added the rest (a test with rules, a
student, a name on the roster). The copy is checked through a server started on the target.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from twisted.internet import reactor
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from examtwist.storage import Answer, Order, Result, Store
from examtwist.storage.copying import copy_order
from examtwist.students import make_student
from examtwist.testbank import Question, Rules, Test
from tests.client_support import run_admin
from tests.support import (
    MATH_KEY, POSTGRES, SQLITE, OnPostgres, connect, start_server, temp_db,
)

PASSWORD = "lovelace 1815"
ALGEBRA = Test("Algebra", (Question(("What is x if 2x = 6?",), ("1", "2", "3", "6"), "C"),))
STUDENTS = [(42, "Nadia Haddad", 19), (1711, "Karam", 23), (1800, "Sara", 23), (1866, "Ali", 23)]


def location(db: str) -> str:
    """How the admin command names a database: a PostgreSQL URL without its password."""
    if "://" not in db:
        return db
    url = urlsplit(db)
    return f"postgresql://{url.username}@{url.hostname}:{url.port}{url.path}"


def backend(db: str):
    return POSTGRES if "://" in db else SQLITE


async def sql(db: str, statement: str) -> list[tuple]:
    return await deferToThread(backend(db).execute, db, statement)


async def session(port: int, *lines: str):
    """Connect, send each line and read its reply; then QUIT. The replies, and the address."""
    client = await connect(port)
    replies = [await client.ask(line) for line in lines]
    host = client.transport.getHost()
    await client.ask("QUIT")
    return replies, f"{host.host}:{host.port}"


async def fill(testcase, db: str) -> str:
    """
    The store adds Algebra (two attempts, ten minutes, shuffled), Nadia Haddad (ID 42) and
    Grace on the roster; a server on C{db} registers ada, who takes math to a grade of 100;
    the store adds her graded attempt of Algebra with its one answer. Fires with the address
    ada connected from, as the server counted it.
    """
    store = Store(reactor, db)
    await store.start()
    await store.add_test(ALGEBRA)
    await store.set_rules("Algebra", Rules(attempts=2, time_limit=600, shuffled=True))
    await store.add_student(make_student("Nadia Haddad", "42", "19"))
    await store.add_to_roster(["Grace"])
    await store.close()
    service, port = await start_server(testcase, "--db", db)
    replies, address = await session(port, f"REGISTER ada {PASSWORD}", "TAKE math", *MATH_KEY)
    testcase.assertEqual(replies[-1].text, "Your grade is 100.0 (5/5 correct)")
    await service.stopService()
    store = Store(reactor, db)
    await store.start()
    await store.record_result(
        Result("ada", "Algebra", "graded", 1, 1, 1, 100.0, "2026-01-05T09:00:00Z",
               "2026-01-05T09:01:00Z", "127.0.0.1:5000"),
        Order("1", "CABD"), (Answer(1, 1, "A", "C", True, "2026-01-05T09:00:30Z"),),
    )
    await store.close()
    return address


async def what_is_in(db: str) -> dict:
    """What a server on C{db} would offer, read through the store."""
    store = Store(reactor, db)
    await store.start()
    try:
        results = await store.list_results()
        return {
            "tests": [tuple(t) for t in await store.list_tests()],
            "algebra rules": (await store.find_test("Algebra")).rules,
            "results": sorted((r.username, r.test, r.outcome, r.correct, r.answered, r.total,
                               r.grade, r.started_at, r.finished_at, r.client) for r in results
                              if r.test == "Algebra") + [
                (r.username, r.test, r.outcome, r.correct, r.answered, r.total, r.grade)
                for r in results if r.test == "math"],
            "answers": sorted(
                tuple(a) if a.test == "Algebra" else (a.username, a.test, a.number, a.position,
                                                      a.shown, a.meant, bool(a.correct))
                for a in await store.list_answers()),
            "students": sorted((s.id, s.name, s.age) for s in await store.list_students()),
            "roster": [name for name, _ in await store.list_roster()],
        }
    finally:
        await store.close()


EXPECTED = {
    "tests": [(1, "math", 5), (2, "python", 5), (3, "Algebra", 1)],
    "algebra rules": Rules(attempts=2, time_limit=600, shuffled=True),
    "results": [("ada", "Algebra", "graded", 1, 1, 1, 100.0, "2026-01-05T09:00:00Z",
                 "2026-01-05T09:01:00Z", "127.0.0.1:5000"),
                ("ada", "math", "graded", 5, 5, 5, 100.0)],
    "answers": [("ada", "Algebra", "2026-01-05T09:00:00Z", 1, 1, "A", "C", True,
                 "2026-01-05T09:00:30Z")] + [
        ("ada", "math", number, number, letter, letter, True)
        for number, letter in enumerate(MATH_KEY, 1)],
    "students": STUDENTS,
    "roster": ["Grace"],
}


class CopyTestCase(OnPostgres, TestCase):
    async def assert_logs_in_and_numbers_go_on(self, db: str) -> None:
        """ada logs in on the copy; a new test is number 4, a new account registers."""
        store = Store(reactor, db)
        await store.start()
        await store.add_test(Test("Geometry", ALGEBRA.questions))
        await store.close()
        service, port = await start_server(self, "--db", db)
        replies, _ = await session(port, f"LOGIN ada {PASSWORD}", "EXAMS")
        more, _ = await session(port, f"REGISTER bob {PASSWORD}")
        self.assertEqual(
            [(reply.code, reply.lines) for reply in replies + more],
            [(230, ("Successfully logged in!",)),
             (212, ("Available tests:", "1 math 5", "2 python 5", "3 Algebra 1", "4 Geometry 1",
                    "End of list")),
             (231, ("Successfully registered!",))],
        )
        await service.stopService()


class CopyBothWaysTests(CopyTestCase):
    timeout = 120

    async def test_sqlite_to_postgres(self):
        """
        If a SQLite file with an account, a graded attempt, a test with rules, a student and a
        roster name is copied into a new PostgreSQL database, then the command says what it
        copied table by table, the database holds all of it with the same numbers, ada logs in
        with her password, and new tests and accounts are numbered after the copied ones.
        """
        source = temp_db(self)
        await fill(self, source)
        target = await POSTGRES.new_database(self)
        code, out, err = await run_admin(self, "copy", "--from", source, "--to", target)
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out.splitlines(), [
            "connection_count: 1 row",
            "counted_connections: 0 rows",
            "nodes: 1 row",
            "roster: 1 row",
            "students: 4 rows",
            "teachers: 0 rows",
            "tests: 3 rows",
            "answer_counts: 6 rows",
            "questions: 11 rows",
            "tests_version: 1 row",
            "users: 1 row",
            "attempts: 2 rows",
            "answers: 6 rows",
            "web_sessions: 0 rows",
            f"Copied {source} to {location(target)} in one transaction",
        ])
        self.assertEqual(await what_is_in(target), EXPECTED)
        await self.assert_logs_in_and_numbers_go_on(target)

    async def test_postgres_to_sqlite(self):
        """
        If a PostgreSQL database whose nodes counted one connection is copied into a new
        SQLite file, then the file holds the same accounts, tests, results, answers, students
        and roster, the count of 1 with the connection's address, and ada logs in on it.
        """
        source = await POSTGRES.new_database(self)
        address = await fill(self, source)
        target = os.path.join(os.path.dirname(temp_db(self)), "copied.db")
        code, out, err = await run_admin(self, "copy", "--from", source, "--to", target)
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out.splitlines(), [
            "connection_count: 1 row",
            "counted_connections: 1 row",
            "nodes: 1 row",
            "roster: 1 row",
            "students: 4 rows",
            "teachers: 0 rows",
            "tests: 3 rows",
            "answer_counts: 6 rows",
            "questions: 11 rows",
            "tests_version: 1 row",
            "users: 1 row",
            "attempts: 2 rows",
            "answers: 6 rows",
            "web_sessions: 0 rows",
            f"Copied {location(source)} to {target} in one transaction",
        ])
        self.assertEqual(await what_is_in(target), EXPECTED)
        self.assertEqual(
            (await sql(target, "SELECT counted FROM connection_count"),
             await sql(target, "SELECT number, address FROM counted_connections")),
            ([(1,)], [(1, address)]),
        )
        await self.assert_logs_in_and_numbers_go_on(target)

    async def test_a_later_schemas_table_is_copied(self):
        """
        If both databases have a table the migrations do not know (as a later schema file
        adds), referencing users, then it is copied too, after users, with its rows.
        """
        source, target = temp_db(self), await POSTGRES.new_database(self)
        await fill(self, source)
        for db, id_type in ((source, "INTEGER PRIMARY KEY"),
                            (target, "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")):
            await Store(reactor, db).start()  # migrated, as the copy will find it
            await sql(db, f"CREATE TABLE invigilators (id {id_type},"
                          " user_id BIGINT NOT NULL REFERENCES users (id), subject TEXT)")
        await sql(source, "INSERT INTO invigilators (id, user_id, subject) VALUES (7, 1, 'math')")
        code, out, err = await run_admin(self, "copy", "--from", source, "--to", target)
        self.assertEqual((code, err, out.splitlines()[10:14]),
                         (0, "", ["users: 1 row", "attempts: 2 rows", "answers: 6 rows",
                                  "invigilators: 1 row"]))
        self.assertEqual(await sql(target, "SELECT id, user_id, subject FROM invigilators"),
                         [(7, 1, "math")])


class RefusedTests(CopyTestCase):
    timeout = 60

    async def test_target_with_an_account_is_refused(self):
        """
        If the target PostgreSQL database has an account, then copy exits 1 saying the target
        "holds data already (users: 1 row)" and nothing was copied, and the target is as it was.
        """
        source = temp_db(self)
        await fill(self, source)
        target = await POSTGRES.new_database(self)
        store = Store(reactor, target)
        await store.start()
        await store.add_user("grace", "$argon2id$not-a-real-hash")
        await store.close()
        code, out, err = await run_admin(self, "copy", "--from", source, "--to", target)
        self.assertEqual((code, out, err), (1, "", (
            f"examtwist: {location(target)} holds data already (users: 1 row); copy only into"
            " a new database; nothing was copied\n"
        )))
        self.assertEqual(
            (await sql(target, "SELECT id, username FROM users"),
             await sql(target, "SELECT id, name FROM tests ORDER BY id"),
             await sql(target, "SELECT count(*) FROM students"),
             await sql(target, "SELECT count(*) FROM attempts")),
            ([(1, "grace")], [(1, "math"), (2, "python")], [(3,)], [(0,)]),
        )

    async def test_sqlite_target_with_a_test_of_its_own_is_refused(self):
        """
        If the target SQLite file has a test imported into it, then copy exits 1 naming the
        tables that differ from a new database, and the file still has only its own tests.
        """
        source = await POSTGRES.new_database(self)
        await fill(self, source)
        target = temp_db(self)
        store = Store(reactor, target)
        await store.start()
        await store.add_test(Test("Geometry", ALGEBRA.questions))
        await store.close()
        code, out, err = await run_admin(self, "copy", "--from", source, "--to", target)
        self.assertEqual((code, out, err), (1, "", (
            f"examtwist: {target} holds data already (tests: 3 rows, questions: 11 rows,"
            " tests_version: 1 row); copy only into a new database; nothing was copied\n"
        )))
        self.assertEqual(await sql(target, "SELECT id, name FROM tests ORDER BY id"),
                         [(1, "math"), (2, "python"), (3, "Geometry")])


class CopyOrderTests(TestCase):
    async def test_after_what_it_references(self):
        """
        If tables reference others (as schema 6's do), then each comes after those it
        references, and otherwise in order of name.
        """
        self.assertEqual(
            copy_order({"answers": {"attempts"}, "attempts": {"users", "tests"},
                        "questions": {"tests"}, "students": set(), "tests": set(),
                        "users": set(), "invigilators": {"users", "invigilators"}}),
            ["students", "tests", "questions", "users", "attempts", "answers", "invigilators"],
        )

    async def test_a_circle_has_no_order(self):
        """If two tables reference each other, then no order copies them: RuntimeError."""
        with self.assertRaises(RuntimeError) as raised:
            copy_order({"a": {"b"}, "b": {"a"}, "c": set()})
        self.assertEqual(str(raised.exception), "no order copies the tables ['a', 'b']")
