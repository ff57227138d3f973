"""
The students table: seeded once with the samples, its operations, and the migrations that add
it and the shared count to a database made before they existed. Real SQLite files in temp
dirs, and fresh PostgreSQL databases (the Postgres* classes).
"""

from __future__ import annotations

import sqlite3

from twisted.trial.unittest import TestCase

from examtwist.storage import Result, StudentExists, UserSummary
from examtwist.students import Student
from tests.support import OnPostgres, backend_of, database_at, open_store

# The three samples of the original app, in ID order as list_students() gives them.
SAMPLES = [Student("Karam", 1711, 23), Student("Sara", 1800, 23), Student("Ali", 1866, 23)]
LARGEST_ID = 9223372036854775807  # 2**63 - 1: what a 64-bit integer column holds


class StudentsTableTests(TestCase):
    async def test_new_database_has_the_samples(self):
        """
        If the database is new, then it knows Karam 1711, Sara 1800 and Ali 1866 (all 23), so
        the lookup page works at once.
        """
        store = await open_store(self)
        self.assertEqual(await store.list_students(), SAMPLES)
        self.assertEqual(await store.get_student(1800), Student("Sara", 1800, 23))

    async def test_cleared_stays_cleared(self):
        """
        If the 3 students are cleared and the store opened again, then there are none: the
        samples come with the table, not with every start.
        """
        store = await open_store(self)
        self.assertEqual(await store.clear_students(), 3)
        await store.close()
        store = await open_store(self, store.path)
        self.assertEqual(await store.list_students(), [])
        self.assertIsNone(await store.get_student(1800))

    async def test_add_and_get(self):
        """
        If a student's name holds quotes, markup and SQL, then it is stored and given back as
        that very text, beside the 3 samples.
        """
        store = await open_store(self)
        odd = Student("<script>alert(1)</script> O'Brien; DROP TABLE students", 5, 40)
        await store.add_student(odd)
        self.assertEqual(await store.get_student(5), odd)
        self.assertEqual(await store.list_students(), [odd, *SAMPLES])

    async def test_add_taken_id(self):
        """
        If a student is added with the taken ID 1800, then StudentExists names the newcomer
        and Sara stays as she was.
        """
        store = await open_store(self)
        with self.assertRaises(StudentExists) as caught:
            await store.add_student(Student("Impostor", 1800, 99))
        self.assertEqual(caught.exception.args, (Student("Impostor", 1800, 99),))
        self.assertEqual(await store.get_student(1800), Student("Sara", 1800, 23))

    async def test_add_many_is_all_or_nothing(self):
        """
        If one of several new students has a taken ID (1866), then none of them is stored and
        StudentExists names that one; without a clash, all are stored.
        """
        store = await open_store(self)
        with self.assertRaises(StudentExists) as caught:
            await store.add_students([Student("New", 1, 20), Student("Clash", 1866, 20)])
        self.assertEqual(caught.exception.args[0], Student("Clash", 1866, 20))
        self.assertIsNone(await store.get_student(1))
        await store.add_students([Student("New", 1, 20), Student("Other", 2, 21)])
        self.assertEqual(
            await store.list_students(),
            [Student("New", 1, 20), Student("Other", 2, 21), *SAMPLES],
        )

    async def test_replace_all(self):
        """If students are added with replace, then they are all there is: Sara B 1800, 30."""
        store = await open_store(self)
        await store.add_students([Student("Sara B", 1800, 30)], replace=True)
        self.assertEqual(await store.list_students(), [Student("Sara B", 1800, 30)])

    async def test_ids_beyond_storage(self):
        """
        If an ID is beyond what the database holds (2**63, 10**30, -1), then nobody has it;
        the largest it holds, 9223372036854775807, is stored and found.
        """
        store = await open_store(self)
        for wanted in (LARGEST_ID + 1, 10**30, -1):
            self.assertIsNone(await store.get_student(wanted))
        await store.add_student(Student("Max", LARGEST_ID, 20))
        self.assertEqual(await store.get_student(LARGEST_ID), Student("Max", LARGEST_ID, 20))

    async def test_check(self):
        """If the health check asks the schema version of a new database, then it is 8."""
        store = await open_store(self)
        self.assertEqual(await store.schema_version(), 9)


class MigrationTests(TestCase):
    async def test_from_version_1(self):
        """
        If a database made at schema 1 (before the students table) is opened, then it is
        brought to schema 9 with the 3 samples, and keeps the account it had.
        """
        path = await database_at(self, 1)
        backend_of(self).execute(
            path,
            "INSERT INTO users (username, password_hash, created_at)"
            " VALUES ('alice', 'hash', '2025-09-01T08:00:00Z')",
        )
        store = await open_store(self, path)
        self.assertEqual(await store.schema_version(), 9)
        self.assertEqual(await store.get_password_hash("alice"), "hash")
        self.assertEqual(await store.list_students(), SAMPLES)


# What a SQLite file of the release before PostgreSQL support held besides its schema and the
# built-in tests: an account, a graded and an abandoned result, and a student of its own.
SCHEMA_2_DATA = """
INSERT INTO users VALUES (1, 'ada',
    '$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA', '2026-11-25T19:24:34Z');
INSERT INTO results VALUES (1, 1, 1, 'graded', 4, 5, 5, 80.0, '2026-03-01T09:00:00Z',
    '2026-03-01T09:04:10Z', '127.0.0.1:40001');
INSERT INTO results VALUES (2, 1, 2, 'abandoned', 1, 2, 5, NULL, '2026-03-01T09:05:00Z',
    '2026-03-01T09:06:00Z', '[::1]:40002');
INSERT INTO students VALUES (42, 'Nadia Haddad', 19);
"""


class SchemaTwoFileTests(TestCase):
    """
    A SQLite file made by the release before PostgreSQL support (schema 2) opens as before: its
    data unchanged, the tables of later schemas added beside it.
    """

    async def schema_2_file(self) -> str:
        path = await database_at(self, 2)
        with sqlite3.connect(path) as db:
            db.executescript(SCHEMA_2_DATA)
        db.close()
        return path

    def dump(self, path: str, tables=("users", "tests", "questions", "students")):
        with sqlite3.connect(path) as db:
            rows = {t: db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in tables}
            ddl = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL"))
        db.close()
        return rows, ddl

    async def test_data_unchanged(self):
        """
        If a schema 2 file is opened, then it is at schema 9 with its rows and its tables'
        declarations as they were (student 42 and ada's two results among them, now ended
        attempts), but for the column schema 5 adds to users (ada's name folded to lower case,
        "ada"), the rule columns schema 6 adds to tests (all off) and the results table that
        schema 6 turns into attempts.
        """
        path = await self.schema_2_file()
        rows_before, ddl_before = self.dump(path)
        store = await open_store(self, path)
        self.assertEqual(await store.schema_version(), 9)
        self.assertEqual(await store.get_student(42), Student("Nadia Haddad", 42, 19))
        self.assertEqual(
            await store.list_results(),
            [
                Result("ada", "math", "graded", 4, 5, 5, 80.0, "2026-03-01T09:00:00Z",
                       "2026-03-01T09:04:10Z", "127.0.0.1:40001"),
                Result("ada", "python", "abandoned", 1, 2, 5, None, "2026-03-01T09:05:00Z",
                       "2026-03-01T09:06:00Z", "[::1]:40002"),
            ],
        )
        await store.close()
        rows_after, ddl_after = self.dump(path)
        self.assertEqual(rows_after["users"], [rows_before["users"][0] + ("ada",)])
        self.assertEqual(rows_after["tests"],
                         [row + (None, None, 0, None, None) for row in rows_before["tests"]])
        self.assertEqual({**rows_after, "users": None, "tests": None},
                         {**rows_before, "users": None, "tests": None})
        for changed in ("users", "tests", "results"):
            del ddl_before[changed]
        self.assertEqual({k: ddl_after[k] for k in ddl_before}, ddl_before)

    async def test_one_schema(self):
        """
        If one file is made at schema 2 and migrated, another made new, then every table and
        index of theirs is declared in the same words.
        """
        migrated = await self.schema_2_file()
        await (await open_store(self, migrated)).close()
        new = await backend_of(self).new_database(self)
        await (await open_store(self, new)).close()
        self.assertEqual(self.dump(new)[1], self.dump(migrated)[1])

    async def test_works_on(self):
        """
        If a schema 2 file is opened, then the server's work goes on in it: ada's third
        result, a fifth student, and connection 1 of a count with lucky number 1.
        """
        store = await open_store(self, await self.schema_2_file())
        await store.record_result(Result("ada", "math", "graded", 5, 5, 5, 100.0,
                                         "2026-03-02T09:00:00Z", "2026-03-02T09:03:00Z", "c"))
        self.assertEqual(
            await store.list_users(), [UserSummary("ada", "2026-11-25T19:24:34Z", 3)]
        )
        await store.add_student(Student("Omar", 43, 20))
        self.assertEqual(
            await store.list_students(),
            [Student("Nadia Haddad", 42, 19), Student("Omar", 43, 20), *SAMPLES],
        )
        self.assertEqual(await store.count_connection("127.0.0.1:1", 1), (1, ["127.0.0.1:1"]))


class PostgresStudentsTableTests(OnPostgres, StudentsTableTests):
    pass


class PostgresMigrationTests(OnPostgres, MigrationTests):
    pass
