-- Schema 6 (protocol 1.1): a test's rules, every attempt from its first question on, each
-- answer given, and the class roster.
--
-- Times are UTC text as the store writes them ('2026-12-01T09:00:00Z'); a rule that is off is
-- NULL (shuffled: 0). Booleans are integers 0/1 on both databases.

ALTER TABLE tests ADD COLUMN max_attempts INTEGER CHECK (max_attempts >= 1);
ALTER TABLE tests ADD COLUMN time_limit INTEGER CHECK (time_limit >= 1);
ALTER TABLE tests ADD COLUMN shuffled INTEGER NOT NULL DEFAULT 0 CHECK (shuffled IN (0, 1));
ALTER TABLE tests ADD COLUMN opens_at TEXT;
ALTER TABLE tests ADD COLUMN closes_at TEXT;

-- One row per attempt. An attempt of a test whose rules let it be continued (an attempts
-- limit or a deadline) is written when it starts and is 'open' until it ends; any other is
-- written once, when it ends. An open attempt is held by one connection (holder), or
-- suspended (holder NULL, suspended_at set).
--   question_order: the stored positions of the questions in the order shown, "3,1,2".
--   choice_order: for each question shown, which stored choice each letter shows, "BDAC,ABCD".
CREATE TABLE attempts (
        id {id},
        user_id {bigint} NOT NULL REFERENCES users (id),
        test_id {bigint} NOT NULL REFERENCES tests (id),
        outcome TEXT NOT NULL CHECK (outcome IN ('open', 'graded', 'time_up', 'abandoned')),
        correct INTEGER NOT NULL,
        answered INTEGER NOT NULL,
        total INTEGER NOT NULL,
        grade {float},
        started_at TEXT NOT NULL,
        finished_at TEXT,
        deadline TEXT,
        question_order TEXT NOT NULL,
        choice_order TEXT NOT NULL,
        holder TEXT,
        suspended_at TEXT,
        client TEXT NOT NULL
    );

-- Version 1's results are attempts that ended, in the order they were stored.
INSERT INTO attempts (user_id, test_id, outcome, correct, answered, total, grade, started_at,
        finished_at, question_order, choice_order, client)
    SELECT user_id, test_id, status, correct, answered, total, grade, started_at, finished_at,
        '', '', client
    FROM results ORDER BY id;

DROP TABLE results;

-- At most one open attempt of a test per user: two TAKEs racing on two nodes continue one.
CREATE UNIQUE INDEX attempts_open ON attempts (user_id, test_id) WHERE outcome = 'open';
CREATE INDEX attempts_user_test ON attempts (user_id, test_id);

-- Each answer given: the question's number as shown, its stored position, the letter the
-- student chose and the stored choice it showed (the same letter unless shuffled).
-- Five rows for every attempt of a five-question test: the store writes them (letters A to D,
-- correct 0 or 1) and no CHECK re-reads each one; on SQLite the rows are the key's own tree
-- ({keyed_only}), so each is written once, not in a table and again in its key's index.
CREATE TABLE answers (
        attempt_id {bigint} NOT NULL REFERENCES attempts (id),
        number INTEGER NOT NULL,
        position INTEGER NOT NULL,
        shown TEXT NOT NULL,
        meant TEXT NOT NULL,
        correct INTEGER NOT NULL,
        answered_at TEXT NOT NULL,
        PRIMARY KEY (attempt_id, number)
    ) {keyed_only};

-- The class roster: who may register when registration is limited to it (compared ignoring
-- case, as usernames are).
CREATE TABLE roster (
        username_folded TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        added_at TEXT NOT NULL
    );
