"""
What differs between the two databases examtwist runs on, and nothing else.

The storage package holds every query, written once: C{?} placeholders, and C{{id}},
C{{bigint}} and C{{float}} slots in its schema files. An engine says how to open a pool of
connections to its database, fills in those slots, turns the placeholders into its driver's,
and takes the lock that keeps a migration to itself. L{engine_for} picks one from what C{--db}
says: a PostgreSQL URL, or else a SQLite file.
"""

from __future__ import annotations

import os
import sqlite3

from twisted.enterprise import adbapi
from twisted.python import usage

from examtwist.storage.locations import describe, describe_roughly, without_password

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
URL_FORM = "postgresql://user@host:port/dbname"


class BadDatabase(ValueError):
    """C{--db} names nothing examtwist can open; the message says why, and holds no password."""


def engine_for(db: str, busy_timeout: float = 10.0) -> SQLiteEngine | PostgresEngine:
    if db.startswith(POSTGRES_SCHEMES):
        return PostgresEngine(db)
    if "://" in db:
        scheme = db.split("://", 1)[0]
        raise BadDatabase(
            f"{scheme}:// is no database examtwist knows: give a SQLite file or {URL_FORM}"
        )
    if not db:
        raise BadDatabase(f"give a SQLite file or {URL_FORM}")
    return SQLiteEngine(db, busy_timeout)


def check_database(db: str) -> None:
    """The C{--db} option of twistd and the admin command: refused before anything starts."""
    try:
        engine_for(db)
    except BadDatabase as e:
        raise usage.UsageError(f"--db: {e}") from None


def database_errors() -> tuple[type[Exception], ...]:
    """The drivers' own exceptions: what the admin command reports in one line."""
    try:
        import psycopg
    except ImportError:
        return (sqlite3.Error,)
    return (sqlite3.Error, psycopg.Error)


class SQLiteEngine:
    """
    One file and one connection: SQLite has one writer at a time, and one connection keeps
    each interaction's reads and writes together. Only this process uses the file.
    """

    shared = False
    # What the DDL has said on SQLite since schema 1: an INTEGER PRIMARY KEY is the rowid. A
    # table keyed by its primary key alone is stored as that key's tree: one tree to write.
    types = {"id": "INTEGER PRIMARY KEY", "bigint": "INTEGER", "float": "REAL",
             "keyed_only": "WITHOUT ROWID"}

    def __init__(self, path: str, busy_timeout: float = 10.0) -> None:
        self.path = path
        self.location = path
        self._busy_timeout = busy_timeout

    def exists(self) -> bool:
        return os.path.exists(self.path)

    # What begins a transaction whose reads see one snapshot (Transactions.read).
    snapshot = "BEGIN"

    def open_pool(self, reactor, reading: bool = False) -> adbapi.ConnectionPool:
        """
        The connection; with C{reading}, a second one that cannot write, for long reads: in
        WAL mode it reads beside the writer, so no write waits behind such a read.
        """
        _create_private_file(self.path)
        return adbapi.ConnectionPool(
            "sqlite3",
            self.path,
            timeout=self._busy_timeout,
            check_same_thread=False,
            cp_min=1,
            cp_max=1,
            cp_openfun=_on_sqlite_reading if reading else _on_sqlite_connect,
            cp_reactor=reactor,
            cp_noisy=False,
        )

    def lock_schema(self, txn) -> None:
        """Take the write lock now, so a second process cannot migrate at the same time."""
        txn.execute("BEGIN IMMEDIATE")

    def run(self, txn, interaction, *args):
        return interaction(txn, *args)

    # For copying a whole database (storage.copying): a connection that begins its own
    # transactions, the tables and what they reference, their ids.

    def connect(self) -> sqlite3.Connection:
        _create_private_file(self.path)
        connection = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None)
        _on_sqlite_connect(connection)
        return connection

    def begin(self, connection, writing: bool) -> None:
        """A snapshot to read, or the write lock taken now (no other writer meanwhile)."""
        connection.execute("BEGIN IMMEDIATE" if writing else "BEGIN")

    def cursor(self, connection, name: str | None = None):
        return connection.cursor()  # it reads rows as they are fetched, named or not

    def tables(self, cursor) -> dict[str, set[str]]:
        """Every table, with the tables its foreign keys reference."""
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                       " AND name NOT LIKE 'sqlite!_%' ESCAPE '!'")
        names = [name for (name,) in cursor.fetchall()]
        return {name: {row[2] for row in cursor.execute(
            f"PRAGMA foreign_key_list({_quoted(name)})").fetchall()} for name in names}

    def lock_tables(self, cursor, tables: list[str]) -> None:
        """BEGIN IMMEDIATE holds the lock on every table already."""

    def move_identities_past(self, cursor, tables: list[str]) -> None:
        """An INTEGER PRIMARY KEY is the rowid: the next is past the largest by itself."""


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'  # a name as an identifier, on either database


def _on_sqlite_connect(connection: sqlite3.Connection) -> None:
    connection.execute("PRAGMA journal_mode = WAL")
    # FULL: every commit is on disk before it returns, so a grade whose 250 was sent survives
    # a power loss too (NORMAL would survive only a crash of the process). Results are
    # committed in batches, so the flush is shared by the students who finish together.
    connection.execute("PRAGMA synchronous = FULL")
    connection.execute("PRAGMA foreign_keys = ON")


def _on_sqlite_reading(connection: sqlite3.Connection) -> None:
    connection.execute("PRAGMA query_only = ON")


def _create_private_file(path: str) -> None:
    """
    The database holds password hashes: create it readable by its owner only. SQLite gives
    its -wal and -shm files the same mode.
    """
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass


class PostgresEngine:
    """
    A PostgreSQL database that several examtwist nodes share, through psycopg 3: a few
    connections per node, each in its own worker thread. A connection the server dropped
    (a restart, a network cut) is replaced by a new one.
    """

    shared = True
    types = {"id": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "bigint": "BIGINT",
             "float": "DOUBLE PRECISION", "keyed_only": ""}
    # Connections per node: a line of the protocol needs one for a few milliseconds at most.
    POOL_SIZE = 4
    # Unless the URL says otherwise: give up on an unreachable server in seconds, not
    # minutes, notice a vanished one, and be named in pg_stat_activity.
    DEFAULTS = {
        "connect_timeout": "5",
        "keepalives_idle": "30",
        "keepalives_interval": "10",
        "keepalives_count": "3",
        "application_name": "examtwist",
    }
    # The advisory lock a migration holds until it commits: "exam" in ASCII.
    SCHEMA_LOCK = 0x6578616D

    def __init__(self, url: str) -> None:
        self._psycopg = _import_psycopg(url)
        from psycopg.conninfo import conninfo_to_dict

        try:
            params = conninfo_to_dict(url)
        except self._psycopg.ProgrammingError as e:
            reason = without_password(str(e).strip(), url)
            raise BadDatabase(f"not a PostgreSQL URL ({URL_FORM}): {reason}") from None
        self.url = url
        self.location = describe(params)
        self._extra = {k: v for k, v in self.DEFAULTS.items() if k not in params}

    def exists(self) -> bool:
        """Only the server can say; connecting to a database it lacks fails with that reason."""
        return True

    snapshot = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"

    def open_pool(self, reactor, reading: bool = False) -> adbapi.ConnectionPool:
        """With C{reading}, one more connection, for long reads, apart from the exam's."""
        return _Pool(
            "psycopg",
            self.url,
            cp_min=1,
            cp_max=1 if reading else self.POOL_SIZE,
            cp_reconnect=True,
            cp_reactor=reactor,
            cp_noisy=False,
            **self._extra,
        )

    def lock_schema(self, txn) -> None:
        """Nodes starting together: one migrates, the others wait, then find nothing to do."""
        txn.execute(f"SELECT pg_advisory_xact_lock({self.SCHEMA_LOCK})")

    def run(self, txn, interaction, *args):
        try:
            return interaction(_Placeholders(txn), *args)
        except self._psycopg.OperationalError:
            if not txn.connection.broken:
                raise
        # The connection died before this transaction could commit (the server restarted, the
        # network dropped it), so nothing of it was kept: once more, on a new connection.
        txn.reconnect()
        txn.reopen()
        return interaction(_Placeholders(txn), *args)

    # For copying a whole database, as SQLiteEngine's.

    def connect(self):
        return self._psycopg.connect(self.url, **self._extra)

    def begin(self, connection, writing: bool) -> None:
        """psycopg begins on the first statement; a reader sees one snapshot throughout."""
        if not writing:
            connection.isolation_level = self._psycopg.IsolationLevel.REPEATABLE_READ
            connection.read_only = True

    def cursor(self, connection, name: str | None = None):
        """With a name, a server-side cursor: rows come as they are fetched, not all at once."""
        return _Placeholders(connection.cursor(name) if name else connection.cursor())

    def tables(self, cursor) -> dict[str, set[str]]:
        cursor.execute("SELECT relname FROM pg_class WHERE relkind = 'r'"
                       " AND relnamespace = current_schema()::regnamespace")
        found = {name: set() for (name,) in cursor.fetchall()}
        cursor.execute(
            "SELECT t.relname, r.relname FROM pg_constraint k"
            " JOIN pg_class t ON t.oid = k.conrelid JOIN pg_class r ON r.oid = k.confrelid"
            " WHERE k.contype = 'f' AND t.relnamespace = current_schema()::regnamespace"
        )
        for name, referenced in cursor.fetchall():
            found[name].add(referenced)
        return found

    def lock_tables(self, cursor, tables: list[str]) -> None:
        """No node writes to them until this transaction ends; reading goes on."""
        cursor.execute(f"LOCK TABLE {', '.join(map(_quoted, tables))} IN EXCLUSIVE MODE")

    def move_identities_past(self, cursor, tables: list[str]) -> None:
        """Ids given explicitly leave an identity's sequence behind: the next is past the max."""
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND is_identity = 'YES'"
        )
        for table, column in cursor.fetchall():
            if table in tables:
                cursor.execute(f"SELECT setval(pg_get_serial_sequence(?, ?), coalesce(max("
                               f"{_quoted(column)}), 0) + 1, false) FROM {_quoted(table)}",
                               (_quoted(table), column))


def _import_psycopg(url: str):
    try:
        import psycopg
    except ImportError:
        raise BadDatabase(
            f"{describe_roughly(url)} needs psycopg: pip install 'examtwist[postgres]'"
        ) from None
    return psycopg


class _Placeholders:
    """A transaction that takes the queries' C{?} placeholders, handing psycopg its C{%s}."""

    def __init__(self, txn) -> None:
        self._txn = txn

    def execute(self, sql: str, params=None):
        if params is None:
            return self._txn.execute(sql)
        return self._txn.execute(_format_style(sql), params)

    def executemany(self, sql: str, params_seq):
        return self._txn.executemany(_format_style(sql), params_seq)

    def __getattr__(self, name: str):
        return getattr(self._txn, name)


def _format_style(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class _Connection(adbapi.Connection):
    """
    A connection that died is dropped without the two tracebacks adbapi logs for a failed
    rollback; the error that found it dead still reaches the caller, and the next
    interaction in this thread opens a new connection.
    """

    def rollback(self) -> None:
        if not self._connection.closed:
            super().rollback()
            return
        if self._pool.connections.get(self._pool.threadID()) is self._connection:
            self._pool.disconnect(self._connection)


class _Pool(adbapi.ConnectionPool):
    connectionFactory = _Connection
