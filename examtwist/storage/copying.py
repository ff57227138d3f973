"""
Copying a whole database into a new one: a SQLite file into PostgreSQL when a school grows from
one node to several, or back.

Every table the schema has is copied, whatever schema file made it: the tables are read from
each database's own catalog and copied in the order their foreign keys need (L{copy_order}),
with every column and every id as they are, so tests keep their numbers and every reference
holds. The target is written in one transaction, which either copies everything or nothing.

A target must hold nothing yet. One the migrations have just created holds the built-in tests,
the sample students and a count at zero: that is nothing yet, and the copy replaces it. Any
other row (an account, a result, a test or student of its own, a connection counted) is data,
and the target is refused (L{TargetHoldsData}).

L{copy} migrates both databases to this examtwist's schema, then L{copy_database} copies in a
worker thread: it reads the source and writes the target through connections of its own, a
batch of rows at a time.
"""

from __future__ import annotations

import heapq
import re
import sqlite3
from typing import NamedTuple

from twisted.internet.threads import deferToThread

from examtwist.storage import Store
from examtwist.storage.engines import PostgresEngine, SQLiteEngine, _quoted, engine_for
from examtwist.storage.migrations import migrate, schema_version

# The migrations' own record of the schema's version: compared, never copied.
NOT_COPIED = {"schema_version"}
# Rows read and written at a time: the copy holds no more than this many in memory.
BATCH = 1000
# A stored time (records.TIME_FORMAT): a new database's differ only in when it was made.
_STORED_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z")


Engine = SQLiteEngine | PostgresEngine


class Copied(NamedTuple):
    table: str
    rows: int


class Copy(NamedTuple):
    """What L{copy} did: from where, to where, and the rows of each table in copy order."""

    source: str
    target: str
    tables: list[Copied]


def report(done: Copy) -> str:
    """What the admin command says: a line for each table, then one for the whole."""
    lines = [f"{table}: {rows_text(rows)}\n" for table, rows in done.tables]
    return "".join(lines) + f"Copied {done.source} to {done.target} in one transaction\n"


class CopyRefused(Exception):
    """Nothing was copied, for the reason the message gives."""


class TargetHoldsData(CopyRefused):
    """The target has rows a new database would not have: C{tables} is [(table, rows)]."""

    def __init__(self, location: str, tables: list[tuple[str, int]]) -> None:
        self.tables = tables
        held = ", ".join(f"{table}: {rows_text(count)}" for table, count in tables)
        super().__init__(f"{location} holds data already ({held}); copy only into a new"
                         " database")


class NotTheSameSchema(CopyRefused):
    """The two databases differ in schema version or tables; the message says how."""


def rows_text(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


async def copy(reactor, source: str, target: str) -> Copy:
    """
    Copy the database at C{source} into the one at C{target} (each a C{--db}: a SQLite file or
    a PostgreSQL URL), after migrating both; see L{copy_database}.

    @raise CopyRefused: and nothing was copied.
    """
    if not engine_for(source).exists():
        raise CopyRefused(f"no database at {source}")
    for path in (source, target):
        store = Store(reactor, path)
        try:
            await store.start()
        except RuntimeError as e:  # at a schema newer than this examtwist's
            raise NotTheSameSchema(f"{store.location}: {e}") from None
        finally:
            await store.close()
    source_engine, target_engine = engine_for(source), engine_for(target)
    tables = await deferToThread(copy_database, source_engine, target_engine)
    return Copy(source_engine.location, target_engine.location, tables)


def copy_order(tables: dict[str, set[str]]) -> list[str]:
    """
    The tables (each with the tables it references), every one after those it references,
    and otherwise by name.

    @raise RuntimeError: the references go round in a circle, so no order inserts them.
    """
    waiting = {name: set(refs) & set(tables) - {name} for name, refs in tables.items()}
    ready = [name for name, refs in waiting.items() if not refs]
    heapq.heapify(ready)
    order = []
    while ready:
        name = heapq.heappop(ready)
        order.append(name)
        for other, refs in waiting.items():
            if name in refs:
                refs.discard(name)
                if not refs:
                    heapq.heappush(ready, other)
    if len(order) != len(tables):
        raise RuntimeError(f"no order copies the tables {sorted(set(tables) - set(order))}")
    return order


def copy_database(source: Engine, target: Engine, batch: int = BATCH) -> list[Copied]:
    """
    Copy every row of C{source} into C{target} (engines of databases migrated to the same
    version), in one transaction on the target; what was copied, table by table in copy order.

    @raise TargetHoldsData: and nothing was copied.
    @raise NotTheSameSchema: and nothing was copied.
    """
    reading, writing = source.connect(), target.connect()
    try:
        source.begin(reading, writing=False)
        target.begin(writing, writing=True)
        read, write = source.cursor(reading), target.cursor(writing)
        tables = _tables_of_both(source.tables(read), target.tables(write))
        target.lock_tables(write, tables)
        versions = schema_version(read), schema_version(write)
        if versions[0] != versions[1]:
            raise NotTheSameSchema(f"the source is at schema {versions[0]}, the target at"
                                   f" {versions[1]}")
        holding = _holding_data(write, tables)
        if holding:
            raise TargetHoldsData(target.location, holding)
        for table in reversed(tables):
            write.execute(f"DELETE FROM {_quoted(table)}")
        copied = [Copied(table, _copy_table(source.cursor(reading, f"copy_{number}"), write,
                                            table, batch))
                  for number, table in enumerate(tables)]
        target.move_identities_past(write, tables)
        writing.commit()
        return copied
    finally:
        # A commit above leaves nothing to roll back; anything else leaves the target as it was.
        writing.rollback()
        writing.close()
        reading.rollback()
        reading.close()


def _tables_of_both(source: dict[str, set[str]], target: dict[str, set[str]]) -> list[str]:
    """The tables to copy, in order, once both databases have the same ones."""
    if set(source) != set(target):
        raise NotTheSameSchema(
            f"tables only in the source: {sorted(set(source) - set(target))}; only in the"
            f" target: {sorted(set(target) - set(source))}"
        )
    return [name for name in copy_order(source) if name not in NOT_COPIED]


def _rows(cursor, table: str, most: int) -> tuple[list[str], list[tuple]]:
    """A table's column names, and its first C{most} rows."""
    cursor.execute(f"SELECT * FROM {_quoted(table)}")
    return [column[0] for column in cursor.description], cursor.fetchmany(most)


def _as_made(columns: list[str], rows: list[tuple]) -> list[tuple]:
    """Rows comparable between databases made at different times: by column, times blanked."""
    by_name = sorted(range(len(columns)), key=columns.__getitem__)
    same = []
    for row in rows:
        cells = [row[i] for i in by_name]
        same.append(tuple(
            (columns[i], "<time>" if isinstance(cell, str) and _STORED_TIME.match(cell) else cell)
            for i, cell in zip(by_name, cells)
        ))
    return sorted(same, key=repr)


def _holding_data(cursor, tables: list[str]) -> list[tuple[str, int]]:
    """
    The tables whose rows are not what the migrations write into a new database, with how many
    rows each has. Only as many rows are read as a new database has.
    """
    new = sqlite3.connect(":memory:", isolation_level=None)
    try:
        migrate(new.cursor(), SQLiteEngine(":memory:"))
        made_tables = SQLiteEngine(":memory:").tables(new.cursor())
        holding = []
        for table in tables:
            cursor.execute(f"SELECT count(*) FROM {_quoted(table)}")
            (count,) = cursor.fetchone()
            made = [] if table not in made_tables else _as_made(
                *_rows(new.cursor(), table, count + 1))
            if len(made) != count or (count and _as_made(*_rows(cursor, table, count)) != made):
                holding.append((table, count))
        return holding
    finally:
        new.close()


def _copy_table(read, write, table: str, batch: int) -> int:
    """Every row of one table, a batch at a time; how many."""
    read.execute(f"SELECT * FROM {_quoted(table)}")
    columns = ", ".join(_quoted(column[0]) for column in read.description)
    marks = ", ".join("?" * len(read.description))
    insert = f"INSERT INTO {_quoted(table)} ({columns}) VALUES ({marks})"
    count = 0
    while rows := read.fetchmany(batch):
        write.executemany(insert, rows)
        count += len(rows)
    read.close()
    return count
