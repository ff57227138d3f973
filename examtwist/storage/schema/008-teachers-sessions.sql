-- Schema 8: the teachers who sign in to the teacher's web area, apart from the students'
-- accounts, and their web sessions, kept here so that a session outlives a restart and every
-- node of a cluster knows it.

-- Names are unique ignoring case, as students' are (username_folded); a teacher signs in with
-- the name in any case.
CREATE TABLE teachers (
        id {id},
        username TEXT NOT NULL,
        username_folded TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL
    );

-- One row per browser session. The row holds the SHA-256 of the session's identifier, never
-- the identifier: a copy of the database opens no session. teacher_id is NULL until the
-- session signs in (then it gets a new identifier). Times are UTC text as the store writes
-- them; a session past expires_at is gone.
CREATE TABLE web_sessions (
        token_hash TEXT PRIMARY KEY,
        teacher_id {bigint} REFERENCES teachers (id) ON DELETE CASCADE,
        confidential INTEGER NOT NULL CHECK (confidential IN (0, 1)),
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );

CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

-- The teacher's pages read the attempts of one test, the latest first.
CREATE INDEX attempts_test_started ON attempts (test_id, started_at);
