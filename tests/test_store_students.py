"""
The students table: seeded once with the samples, its operations, and the migrations that add
it and the shared count to a database made before they existed. Real SQLite files in temp
dirs, and fresh PostgreSQL databases (the Postgres* classes).
"""

from __future__ import annotations

import os
import sqlite3

from twisted.internet import reactor
from twisted.trial.unittest import TestCase

from examtwist import store as store_module
from examtwist.store import MIGRATIONS, Result, Store, StudentExists
from examtwist.students import MAX_ID, SAMPLE_STUDENTS, Student
from tests.support import OnPostgres, backend_of, open_store, temp_db

SCHEMA_2_DUMP = os.path.join(os.path.dirname(__file__), "data", "schema2.sql")

SARA = SAMPLE_STUDENTS[0]


class StudentsTableTests(TestCase):
    async def test_new_database_has_the_samples(self):
        """A new database knows Sara, Ali and Karam, so the lookup page works at once."""
        store = await open_store(self)
        self.assertEqual(await store.list_students(), sorted(SAMPLE_STUDENTS, key=lambda s: s.id))
        self.assertEqual(await store.get_student(1800), Student("Sara", 1800, 23))

    async def test_cleared_stays_cleared(self):
        """The samples come with the table, not with every start: a cleared table stays empty."""
        store = await open_store(self)
        self.assertEqual(await store.clear_students(), 3)
        await store.close()
        store = await open_store(self, store.path)
        self.assertEqual(await store.list_students(), [])
        self.assertIsNone(await store.get_student(1800))

    async def test_add_and_get(self):
        """Names are stored as they are: quotes and markup are only text."""
        store = await open_store(self)
        odd = Student("<script>alert(1)</script> O'Brien; DROP TABLE students", 5, 40)
        await store.add_student(odd)
        self.assertEqual(await store.get_student(5), odd)
        self.assertIn(odd, await store.list_students())
        self.assertEqual(len(await store.list_students()), 4)

    async def test_add_taken_id(self):
        """A taken ID fails and leaves the stored student as it was."""
        store = await open_store(self)
        with self.assertRaises(StudentExists):
            await store.add_student(Student("Impostor", 1800, 99))
        self.assertEqual(await store.get_student(1800), SARA)

    async def test_add_many_is_all_or_nothing(self):
        store = await open_store(self)
        with self.assertRaises(StudentExists) as caught:
            await store.add_students([Student("New", 1, 20), Student("Clash", 1866, 20)])
        self.assertEqual(caught.exception.args[0], Student("Clash", 1866, 20))
        self.assertIsNone(await store.get_student(1))
        await store.add_students([Student("New", 1, 20), Student("Other", 2, 21)])
        self.assertEqual([s.id for s in await store.list_students()], [1, 2, 1711, 1800, 1866])

    async def test_replace_all(self):
        """With replace, the new students take the place of all the stored ones."""
        store = await open_store(self)
        await store.add_students([Student("Sara B", 1800, 30)], replace=True)
        self.assertEqual(await store.list_students(), [Student("Sara B", 1800, 30)])

    async def test_ids_beyond_storage(self):
        """An ID the database cannot hold is nobody's; the largest it can hold works."""
        store = await open_store(self)
        for wanted in (MAX_ID + 1, 10**30, -1):
            self.assertIsNone(await store.get_student(wanted))
        await store.add_student(Student("Max", MAX_ID, 20))
        self.assertEqual(await store.get_student(MAX_ID), Student("Max", MAX_ID, 20))

    async def test_check(self):
        """The health check's query answers with the schema version."""
        store = await open_store(self)
        self.assertEqual(await store.schema_version(), len(store_module.MIGRATIONS))


class MigrationTests(TestCase):
    async def test_from_version_1(self):
        """
        A database made before the students table gets it, with the samples, and keeps what
        it had.
        """
        path = await backend_of(self).new_database(self)
        everything = store_module.MIGRATIONS
        self.patch(store_module, "MIGRATIONS", everything[:1])
        old = Store(reactor, path)
        await old.start()
        await old.add_user("alice", "hash")
        self.assertEqual(await old.schema_version(), 1)
        await old.close()

        store_module.MIGRATIONS = everything
        store = await open_store(self, path)
        self.assertEqual(await store.schema_version(), len(everything))
        self.assertEqual(await store.get_password_hash("alice"), "hash")
        self.assertEqual(await store.list_students(), sorted(SAMPLE_STUDENTS, key=lambda s: s.id))


class SchemaTwoFileTests(TestCase):
    """
    A SQLite file made by the release before PostgreSQL support (schema 2, as sqlite3 dumped
    it) opens as before: its data unchanged, the tables of later schemas added beside it.
    """

    def schema_2_file(self) -> str:
        path = temp_db(self)
        with open(SCHEMA_2_DUMP) as f, sqlite3.connect(path) as db:
            db.executescript(f.read())
        db.close()
        return path

    def dump(self, path: str, tables=("users", "tests", "questions", "results", "students")):
        with sqlite3.connect(path) as db:
            rows = {t: db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in tables}
            ddl = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL"))
        db.close()
        return rows, ddl

    async def test_data_unchanged(self):
        path = self.schema_2_file()
        rows_before, ddl_before = self.dump(path)
        store = await open_store(self, path)
        self.assertEqual(await store.schema_version(), len(MIGRATIONS))
        self.assertEqual(await store.get_student(42), Student("Nadia Haddad", 42, 19))
        self.assertEqual(
            [(r.username, r.test, r.status, r.grade) for r in await store.list_results()],
            [("ada", "math", "graded", 80.0), ("ada", "python", "abandoned", None)],
        )
        await store.close()
        rows_after, ddl_after = self.dump(path)
        self.assertEqual(rows_after, rows_before)
        self.assertEqual({k: ddl_after[k] for k in ddl_before}, ddl_before)

    async def test_one_schema(self):
        """A new file's tables are declared exactly as the migrated old file's."""
        migrated = self.schema_2_file()
        await (await open_store(self, migrated)).close()
        new = temp_db(self)
        await (await open_store(self, new)).close()
        self.assertEqual(self.dump(new)[1], self.dump(migrated)[1])

    async def test_works_on(self):
        """The server's work goes on in the old file: a result, a student, a count."""
        store = await open_store(self, self.schema_2_file())
        await store.record_result(Result("ada", "math", "graded", 5, 5, 5, 100.0,
                                         "2026-03-02T09:00:00Z", "2026-03-02T09:03:00Z", "c"))
        self.assertEqual((await store.list_users())[0].results, 3)
        await store.add_student(Student("Omar", 43, 20))
        self.assertEqual(len(await store.list_students()), 5)
        self.assertEqual((await store.count_connection("127.0.0.1:1", 1))[0], 1)


class PostgresStudentsTableTests(OnPostgres, StudentsTableTests):
    pass


class PostgresMigrationTests(OnPostgres, MigrationTests):
    pass
