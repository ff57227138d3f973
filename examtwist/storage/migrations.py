"""
The schema's versions: the .sql files in examtwist/storage/schema, run forward when the store
starts.

Version N is reached by running the file whose name starts with N (C{002-students.sql}). A
released file is never edited; a change to the schema is a new file. Each file is written
once for both databases: the engine fills in C{{id}}, C{{bigint}} and C{{float}}, and
C{{now}} is the current time as the store writes times. A new database gets the built-in tests
besides.
"""

from __future__ import annotations

import re
from importlib.resources import files
from typing import NamedTuple

from twisted.logger import Logger

from examtwist.storage.catalog import insert_test
from examtwist.storage.records import utc_now
from examtwist.testbank import BUILTIN_TESTS

log = Logger()

_FILE_NAME = re.compile(r"(\d+)-[a-z0-9-]+\.sql\Z")
# A statement ends with ";" at the end of a line; a line starting with "--" is a comment.
_STATEMENT_END = re.compile(r";[ \t]*$", re.MULTILINE)


class Migration(NamedTuple):
    version: int
    file: str
    statements: tuple[str, ...]


def read_migrations() -> tuple[Migration, ...]:
    """The schema files shipped with examtwist, in version order: 1, 2, ... with none missing."""
    found = []
    for resource in (files("examtwist.storage") / "schema").iterdir():
        named = _FILE_NAME.match(resource.name)
        if named:
            text = resource.read_text(encoding="utf-8")
            found.append(Migration(int(named.group(1)), resource.name, _statements(text)))
    found.sort()
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"the schema files are not versions 1 to {len(found)}: {found}")
    return tuple(found)


def _statements(text: str) -> tuple[str, ...]:
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return tuple(part.strip() for part in _STATEMENT_END.split(code) if part.strip())


MIGRATIONS = read_migrations()
LATEST_VERSION = len(MIGRATIONS)


def migrate(txn, engine, target: int = LATEST_VERSION) -> None:
    """
    Bring the schema up to version C{target}: the latest, unless a test builds an old database.

    @raise RuntimeError: the database is at a version newer than this examtwist knows.
    """
    engine.lock_schema(txn)
    txn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    txn.execute("SELECT version FROM schema_version")
    row = txn.fetchone()
    current = row[0] if row else 0
    if current > LATEST_VERSION:
        raise RuntimeError(
            f"the database is at schema version {current}, newer than this examtwist knows"
        )
    for migration in MIGRATIONS[current:target]:
        for statement in migration.statements:
            txn.execute(statement.format(**engine.types, now=f"'{utc_now()}'"))
    if current == 0:
        for test in BUILTIN_TESTS:
            insert_test(txn, test, utc_now())
        txn.execute("INSERT INTO schema_version (version) VALUES (?)", (target,))
        log.info("Created the database schema with the built-in tests and sample students")
    elif current < target:
        txn.execute("UPDATE schema_version SET version = ?", (target,))
        log.info("Migrated the database from schema {old} to {new}", old=current, new=target)


def schema_version(txn) -> int:
    txn.execute("SELECT version FROM schema_version")
    return txn.fetchone()[0]
