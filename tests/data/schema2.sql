-- A database made by examtwist at schema 2 (before PostgreSQL support), as sqlite3's iterdump wrote it.
BEGIN TRANSACTION;
CREATE TABLE questions (
        test_id INTEGER NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        text TEXT NOT NULL,
        choice_a TEXT NOT NULL,
        choice_b TEXT NOT NULL,
        choice_c TEXT NOT NULL,
        choice_d TEXT NOT NULL,
        answer TEXT NOT NULL CHECK (answer IN ('A', 'B', 'C', 'D')),
        PRIMARY KEY (test_id, position)
    );
INSERT INTO "questions" VALUES(1,1,'What is 12 * 12?','124','144','132','142','B');
INSERT INTO "questions" VALUES(1,2,'The sum of the first N odd numbers is:','(N*(N+1))/2','N^2 + N','N^2 + 2*N','N^2','D');
INSERT INTO "questions" VALUES(1,3,'What is the square root of 169?','12','14','13','17','C');
INSERT INTO "questions" VALUES(1,4,'Solve for x: 3x + 7 = 22','5','6','4','7','A');
INSERT INTO "questions" VALUES(1,5,'A rectangle is 8 cm long and 5 cm wide.
What is its area?','13 cm^2','26 cm^2','40 cm^2','45 cm^2','C');
INSERT INTO "questions" VALUES(2,1,'What does 2 ** 10 evaluate to?','20','100','1024','512','C');
INSERT INTO "questions" VALUES(2,2,'Which keyword starts a function definition?','func','def','fn','sub','B');
INSERT INTO "questions" VALUES(2,3,'What does this print?
    print(sorted([3, 1, 2]))','[3, 1, 2]','[1, 2, 3]','None','[3, 2, 1]','B');
INSERT INTO "questions" VALUES(2,4,'Which of these types is mutable?','tuple','str','frozenset','list','D');
INSERT INTO "questions" VALUES(2,5,'What is the value of bool(''False'')?','True','False','None','It raises ValueError','A');
CREATE TABLE results (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id),
        test_id INTEGER NOT NULL REFERENCES tests (id),
        status TEXT NOT NULL CHECK (status IN ('graded', 'abandoned')),
        correct INTEGER NOT NULL,
        answered INTEGER NOT NULL,
        total INTEGER NOT NULL,
        grade REAL,
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        client TEXT NOT NULL
    );
INSERT INTO "results" VALUES(1,1,1,'graded',4,5,5,80.0,'2026-03-01T09:00:00Z','2026-03-01T09:04:10Z','127.0.0.1:40001');
INSERT INTO "results" VALUES(2,1,2,'abandoned',1,2,5,NULL,'2026-03-01T09:05:00Z','2026-03-01T09:06:00Z','[::1]:40002');
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO "schema_version" VALUES(2);
CREATE TABLE students (
        id INTEGER PRIMARY KEY CHECK (id >= 0),
        name TEXT NOT NULL,
        age INTEGER NOT NULL CHECK (age >= 0)
    );
INSERT INTO "students" VALUES(42,'Nadia Haddad',19);
INSERT INTO "students" VALUES(1711,'Karam',23);
INSERT INTO "students" VALUES(1800,'Sara',23);
INSERT INTO "students" VALUES(1866,'Ali',23);
CREATE TABLE tests (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
INSERT INTO "tests" VALUES(1,'math','2026-11-25T19:24:34Z');
INSERT INTO "tests" VALUES(2,'python','2026-11-25T19:24:34Z');
CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
INSERT INTO "users" VALUES(1,'ada','$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA','2026-11-25T19:24:34Z');
CREATE UNIQUE INDEX tests_name ON tests (lower(name));
COMMIT;
