-- Schema 2: the students of the web lookup.

-- On SQLite the ID is the rowid: an integer, unique, and the fastest lookup SQLite has.
CREATE TABLE students (
        id {bigint} PRIMARY KEY CHECK (id >= 0),
        name TEXT NOT NULL,
        age INTEGER NOT NULL CHECK (age >= 0)
    );

-- The three students of the original app, so a new server's lookup page works at once.
INSERT INTO students (id, name, age) VALUES (1800, 'Sara', 23);
INSERT INTO students (id, name, age) VALUES (1866, 'Ali', 23);
INSERT INTO students (id, name, age) VALUES (1711, 'Karam', 23);
