"""
The count of connections that every node sharing a database keeps in it (PostgreSQL), for the
lucky connection's greeting; see L{examtwist.counting}.
"""

from __future__ import annotations

from examtwist.storage.records import ConnectionCount


def count_connection(txn, address: str, lucky: int) -> tuple[int, list[str] | None]:
    """
    Count one connection of any node: its number and, for the lucky number only, the
    addresses of connections 1 to C{lucky} in counting order.
    """
    # The row stays locked until this transaction commits: every connection counted before
    # this one has committed its address by the time the lucky one reads them.
    txn.execute("UPDATE connection_count SET counted = counted + 1 RETURNING counted")
    number = txn.fetchone()[0]
    if number <= lucky:
        txn.execute(
            "INSERT INTO counted_connections (number, address) VALUES (?, ?)", (number, address)
        )
    if number != lucky:
        return number, None
    txn.execute(
        "SELECT address FROM counted_connections WHERE number <= ? ORDER BY number", (lucky,)
    )
    return number, [address for (address,) in txn.fetchall()]


def connection_count(txn) -> ConnectionCount:
    txn.execute("SELECT counted, since FROM connection_count")
    return ConnectionCount(*txn.fetchone())


def restart_count(txn, now: str) -> None:
    """Count again from 1, since C{now}: the next connection of any node is the first."""
    txn.execute("UPDATE connection_count SET counted = 0, since = ?", (now,))
    txn.execute("DELETE FROM counted_connections")
