"""
The students table: seeded once with the samples, its operations, and the migration that adds
it to a database made before it existed. Real SQLite files in temp dirs.
"""

from __future__ import annotations

from twisted.internet import reactor
from twisted.trial.unittest import TestCase

from examtwist import store as store_module
from examtwist.store import Store, StudentExists
from examtwist.students import MAX_ID, SAMPLE_STUDENTS, Student
from tests.support import open_store, temp_db

SARA = SAMPLE_STUDENTS[0]


class StudentsTableTests(TestCase):
    async def test_new_database_has_the_samples(self):
        """A new database knows Sara, Ali and Karam, so the lookup page works at once."""
        store = await open_store(self)
        self.assertEqual(await store.list_students(), sorted(SAMPLE_STUDENTS, key=lambda s: s.id))
        self.assertEqual(await store.get_student(1800), Student("Sara", 1800, 23))

    async def test_cleared_stays_cleared(self):
        """The samples come with the table, not with every start: a cleared table stays empty."""
        path = temp_db(self)
        store = await open_store(self, path)
        self.assertEqual(await store.clear_students(), 3)
        await store.close()
        store = await open_store(self, path)
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
        """An ID SQLite cannot hold is nobody's; the largest it can hold works."""
        store = await open_store(self)
        for wanted in (MAX_ID + 1, 10**30, -1):
            self.assertIsNone(await store.get_student(wanted))
        await store.add_student(Student("Max", MAX_ID, 20))
        self.assertEqual(await store.get_student(MAX_ID), Student("Max", MAX_ID, 20))

    async def test_check(self):
        """The health check's query answers with the schema version."""
        store = await open_store(self)
        self.assertEqual(await store.check(), len(store_module.MIGRATIONS))


class MigrationTests(TestCase):
    async def test_from_version_1(self):
        """
        A database made before the students table gets it, with the samples, and keeps what
        it had.
        """
        path = temp_db(self)
        everything = store_module.MIGRATIONS
        self.patch(store_module, "MIGRATIONS", everything[:1])
        old = Store(reactor, path)
        await old.start()
        await old.add_user("alice", "hash")
        self.assertEqual(await old.check(), 1)
        await old.close()

        store_module.MIGRATIONS = everything
        store = await open_store(self, path)
        self.assertEqual(await store.check(), len(everything))
        self.assertEqual(await store.get_password_hash("alice"), "hash")
        self.assertEqual(await store.list_students(), sorted(SAMPLE_STUDENTS, key=lambda s: s.id))
