"""
The count of connections that nodes sharing a PostgreSQL database keep (the lucky greeting's):
C{examtwist count show | restart}.
"""

from __future__ import annotations

from examtwist.admin_common import AdminError, CommandGroup, DatabaseOptions, when
from examtwist.storage import Store


class CountShowOptions(DatabaseOptions):
    synopsis = "[--db URL]"
    example = "examtwist count show --db postgresql://exams@db.example/exams"

    async def run(self, store: Store, out) -> None:
        _needs_shared_count(store)
        count = await store.connection_count()
        out.write(f"{count.counted} connections counted since {when(count.since)}\n")


class CountRestartOptions(DatabaseOptions):
    synopsis = "[--db URL]"
    example = "examtwist count restart --db postgresql://exams@db.example/exams"

    async def run(self, store: Store, out) -> None:
        _needs_shared_count(store)
        await store.restart_count()
        out.write("The count starts again: the next connection to any node is the first\n")


def _needs_shared_count(store: Store) -> None:
    if not store.shared:
        raise AdminError(
            f"{store.location} is SQLite: its server counts connections in memory, from its"
            " own start, and restarting it restarts the count; a shared count lives in a"
            " PostgreSQL database"
        )


class CountOptions(CommandGroup):
    synopsis = "show | restart"
    missing = "say which: count show, or count restart"
    subCommands = [
        ["show", None, CountShowOptions, "How many connections the nodes counted, since when."],
        ["restart", None, CountRestartOptions, "Count from 1 again, on every node."],
    ]
