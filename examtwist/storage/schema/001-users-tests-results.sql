-- Schema 1: accounts, the tests and their questions, and results.
-- Written once for both databases: the engine fills in {id} (a generated key), {bigint} and
-- {float}. A released file is never edited; a change is a new file.

CREATE TABLE users (
        id {id},
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL
    );

CREATE TABLE tests (
        id {id},
        name TEXT NOT NULL,
        created_at TEXT NOT NULL
    );

-- TAKE matches names case-insensitively, so they must be unique that way.
CREATE UNIQUE INDEX tests_name ON tests (lower(name));

CREATE TABLE questions (
        test_id {bigint} NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        text TEXT NOT NULL,
        choice_a TEXT NOT NULL,
        choice_b TEXT NOT NULL,
        choice_c TEXT NOT NULL,
        choice_d TEXT NOT NULL,
        answer TEXT NOT NULL CHECK (answer IN ('A', 'B', 'C', 'D')),
        PRIMARY KEY (test_id, position)
    );

CREATE TABLE results (
        id {id},
        user_id {bigint} NOT NULL REFERENCES users (id),
        test_id {bigint} NOT NULL REFERENCES tests (id),
        status TEXT NOT NULL CHECK (status IN ('graded', 'abandoned')),
        correct INTEGER NOT NULL,
        answered INTEGER NOT NULL,
        total INTEGER NOT NULL,
        grade {float},
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        client TEXT NOT NULL
    );
