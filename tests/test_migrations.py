"""
The schema's versions as the .sql files shipped with examtwist: which there are, how a file
reads as statements, and what the log says when a database is created or brought forward.
The migrations' effect on data is in test_store_students.py.
"""

from __future__ import annotations

from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase, TestCase

from examtwist.storage import LATEST_VERSION, MIGRATIONS
from tests.support import OnPostgres, database_at, open_store


class SchemaFileTests(SynchronousTestCase):
    def test_versions(self):
        """
        If examtwist reads its schema files, then they are versions 1 to 7, in this order:
        001-users-tests-results.sql, 002-students.sql, 003-connection-count.sql,
        004-tests-version.sql, 005-usernames-ignoring-case.sql,
        006-test-rules-attempts-answers-roster.sql, 007-teachers-sessions.sql.
        """
        self.assertEqual(
            [(m.version, m.file) for m in MIGRATIONS],
            [(1, "001-users-tests-results.sql"), (2, "002-students.sql"),
             (3, "003-connection-count.sql"), (4, "004-tests-version.sql"),
             (5, "005-usernames-ignoring-case.sql"),
             (6, "006-test-rules-attempts-answers-roster.sql"),
             (7, "007-teachers-sessions.sql")],
        )
        self.assertEqual(LATEST_VERSION, 7)

    def test_statements(self):
        """
        If a schema file has comments and several statements, then it reads as its statements
        without the comments or the ending ";": 002 is the students table and 3 students.
        """
        self.assertEqual(
            MIGRATIONS[1].statements,
            (
                "CREATE TABLE students (\n"
                "        id {bigint} PRIMARY KEY CHECK (id >= 0),\n"
                "        name TEXT NOT NULL,\n"
                "        age INTEGER NOT NULL CHECK (age >= 0)\n"
                "    )",
                "INSERT INTO students (id, name, age) VALUES (1800, 'Sara', 23)",
                "INSERT INTO students (id, name, age) VALUES (1866, 'Ali', 23)",
                "INSERT INTO students (id, name, age) VALUES (1711, 'Karam', 23)",
            ),
        )


def schema_log(events) -> list[str]:
    return [formatEvent(e) for e in events if e["log_namespace"] == "examtwist.storage.migrations"]


class SchemaLogTests(TestCase):
    async def test_created(self):
        """
        If the database is new, then the log says "Created the database schema with the
        built-in tests and sample students", once: opening it again says nothing.
        """
        with capturedLogs() as events:
            store = await open_store(self)
            await store.close()
            await open_store(self, store.path)
        self.assertEqual(
            schema_log(events),
            ["Created the database schema with the built-in tests and sample students"],
        )

    async def test_migrated(self):
        """
        If a database at schema 2 is opened, then the log says "Migrated the database from
        schema 2 to 7".
        """
        path = await database_at(self, 2)
        with capturedLogs() as events:
            await open_store(self, path)
        self.assertEqual(schema_log(events), ["Migrated the database from schema 2 to 7"])


class PostgresSchemaLogTests(OnPostgres, SchemaLogTests):
    pass
