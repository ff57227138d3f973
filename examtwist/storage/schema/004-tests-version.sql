-- Schema 4: raised by every change to the tests or their questions. A server keeps the tests
-- in memory and reads them again when this differs from the version it read them at.

CREATE TABLE tests_version (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        version {bigint} NOT NULL
    );

INSERT INTO tests_version (id, version) VALUES (1, 1);
