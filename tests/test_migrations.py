"""
The schema's versions as the .sql files shipped with examtwist: which there are, how a file
reads as statements, and what the log says when a database is created or brought forward.
The migrations' effect on data is in test_store_students.py.
"""

from __future__ import annotations

from twisted.internet.threads import deferToThread
from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase, TestCase

from examtwist.storage import LATEST_VERSION, MIGRATIONS
from tests.client_support import run_admin
from tests.support import OnPostgres, backend_of, database_at, open_store


class SchemaFileTests(SynchronousTestCase):
    def test_versions(self):
        """
        If examtwist reads its schema files, then they are versions 1 to 9, in this order:
        001-users-tests-results.sql, 002-students.sql, 003-connection-count.sql,
        004-tests-version.sql, 005-usernames-ignoring-case.sql,
        006-test-rules-attempts-answers-roster.sql, 007-node-heartbeats.sql,
        008-teachers-sessions.sql, 009-answer-counts.sql.
        """
        self.assertEqual(
            [(m.version, m.file) for m in MIGRATIONS],
            [(1, "001-users-tests-results.sql"), (2, "002-students.sql"),
             (3, "003-connection-count.sql"), (4, "004-tests-version.sql"),
             (5, "005-usernames-ignoring-case.sql"),
             (6, "006-test-rules-attempts-answers-roster.sql"),
             (7, "007-node-heartbeats.sql"), (8, "008-teachers-sessions.sql"),
             (9, "009-answer-counts.sql")],
        )
        self.assertEqual(LATEST_VERSION, 9)

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
        schema 2 to 9".
        """
        path = await database_at(self, 2)
        with capturedLogs() as events:
            await open_store(self, path)
        self.assertEqual(schema_log(events), ["Migrated the database from schema 2 to 9"])


class PostgresSchemaLogTests(OnPostgres, SchemaLogTests):
    pass


class ResultsMigrationTests(TestCase):
    async def test_version_1_results_become_ended_attempts(self):
        """
        If a schema-5 database holds ada's graded 80.0 in math and bob's abandoned python,
        then once migrated (by the admin command itself) examtwist results shows both, in the
        order they were stored, with their outcome, grade and time.
        """
        path = await database_at(self, 5)
        for statement in [
            "INSERT INTO users (username, username_folded, password_hash, created_at)"
            " VALUES ('ada', 'ada', 'h', '2026-11-20T09:00:00Z')",
            "INSERT INTO users (username, username_folded, password_hash, created_at)"
            " VALUES ('bob', 'bob', 'h', '2026-11-20T09:00:00Z')",
            "INSERT INTO results (user_id, test_id, status, correct, answered, total, grade,"
            " started_at, finished_at, client) SELECT users.id, tests.id, 'graded', 4, 5, 5,"
            " 80.0, '2026-11-25T18:35:00Z', '2026-11-25T18:39:07Z', '127.0.0.1:5000'"
            " FROM users, tests WHERE username = 'ada' AND name = 'math'",
            "INSERT INTO results (user_id, test_id, status, correct, answered, total, grade,"
            " started_at, finished_at, client) SELECT users.id, tests.id, 'abandoned', 1, 2,"
            " 5, NULL, '2026-11-25T18:40:00Z', '2026-11-25T18:42:13Z', '127.0.0.1:5001'"
            " FROM users, tests WHERE username = 'bob' AND name = 'python'",
        ]:
            await deferToThread(backend_of(self).execute, path, statement)
        result = await run_admin(self, "results", "--db", path)
        self.assertEqual(result, (0, (
            "+-------+-------+----------+------+------------------------+\n"
            "|Client |Test   |Outcome   |Grade |Date                    |\n"
            "+-------+-------+----------+------+------------------------+\n"
            "|ada    |math   |graded    |80.0  |2026-11-25 18:39:07 UTC |\n"
            "+-------+-------+----------+------+------------------------+\n"
            "|bob    |python |abandoned |      |2026-11-25 18:42:13 UTC |\n"
            "+-------+-------+----------+------+------------------------+\n"
        ), ""))
        [(version,)] = await deferToThread(backend_of(self).execute, path,
                                           "SELECT version FROM schema_version")
        self.assertEqual(version, 9)


class PostgresResultsMigrationTests(OnPostgres, ResultsMigrationTests):
    pass


class AnswerCountsMigrationTests(TestCase):
    async def test_answers_stored_before_are_counted(self):
        """
        If a schema-8 database holds ada's two math attempts (first question: A then B, the
        right one; second: B twice) and one python answer, then once at schema 9
        answer_counts holds math 1 A 1 chosen 0 correct, 1 B 1 1, 2 B 2 0, and python 1 C 1 1.
        """
        path = await database_at(self, 8)
        attempt = ("INSERT INTO attempts (id, user_id, test_id, outcome, correct, answered,"
                   " total, grade, started_at, finished_at, question_order, choice_order, client)"
                   " SELECT {id}, 1, tests.id, 'graded', 1, 2, 5, 20.0, '2026-11-25T18:35:00Z',"
                   " '2026-11-25T18:39:07Z', '', '', '127.0.0.1' FROM tests WHERE name = '{test}'")
        answer = ("INSERT INTO answers (attempt_id, number, position, shown, meant, correct,"
                  " answered_at) VALUES ({}, {}, {}, '{}', '{}', {}, '2026-11-25T18:36:00Z')")
        for statement in [
            "INSERT INTO users (id, username, username_folded, password_hash, created_at)"
            " VALUES (1, 'ada', 'ada', 'h', '2026-11-20T09:00:00Z')",
            attempt.format(id=1, test="math"), attempt.format(id=2, test="math"),
            attempt.format(id=3, test="python"),
            answer.format(1, 1, 1, "A", "A", 0), answer.format(1, 2, 2, "B", "B", 0),
            answer.format(2, 1, 1, "B", "B", 1), answer.format(2, 2, 2, "B", "B", 0),
            answer.format(3, 1, 1, "C", "C", 1),
        ]:
            await deferToThread(backend_of(self).execute, path, statement)
        await open_store(self, path)
        counted = await deferToThread(
            backend_of(self).execute, path,
            "SELECT tests.name, position, meant, chosen, correct FROM answer_counts"
            " JOIN tests ON tests.id = answer_counts.test_id ORDER BY 1, 2, 3")
        self.assertEqual(counted, [("math", 1, "A", 1, 0), ("math", 1, "B", 1, 1),
                                   ("math", 2, "B", 2, 0), ("python", 1, "C", 1, 1)])


class PostgresAnswerCountsMigrationTests(OnPostgres, AnswerCountsMigrationTests):
    pass
