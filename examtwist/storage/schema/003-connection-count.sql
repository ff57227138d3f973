-- Schema 3: the count of connections of every node sharing the database (PostgreSQL). A
-- server on SQLite is the only one on its file and counts in memory, from its own start.

CREATE TABLE connection_count (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        counted {bigint} NOT NULL,
        since TEXT NOT NULL
    );

-- The addresses of connections 1 to the lucky number, for the lucky connection's greeting.
CREATE TABLE counted_connections (
        number {bigint} PRIMARY KEY,
        address TEXT NOT NULL
    );

-- The count starts when this runs: {now} is the current UTC time as the store writes times.
INSERT INTO connection_count (id, counted, since) VALUES (1, 0, {now});
