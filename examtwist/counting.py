"""
Counting connections for the lucky-connection greeting.

The factory asks a counter for each new connection's number; the lucky one also gets the
addresses of every connection counted so far. Only the first C{lucky} addresses can ever be
shown, so no more are kept.

Two counters, one interface (C{count(address) -> Deferred[Counted]}): a server alone on its
SQLite file counts in memory from its start; nodes sharing a PostgreSQL database count in it
together, from when the database was created or the count last restarted (C{examtwist count
restart}), since a cluster has no one start: its nodes start and stop on their own.
"""

from __future__ import annotations

from typing import NamedTuple

from twisted.internet.defer import Deferred, succeed

_WORDS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"]


def ordinal(n: int) -> str:
    """
    "first" … "tenth", then "11th", "21st", "22nd", "23rd", "101st", "111th".
    """
    if 1 <= n <= len(_WORDS):
        return _WORDS[n - 1]
    if 10 <= n % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class Counted(NamedTuple):
    number: int
    # The addresses of connections 1..lucky in counting order, for the lucky connection only.
    lucky_addresses: list[str] | None


class InMemoryCounter:
    """
    Counts connections of one process, from 1 at server start.
    """

    def __init__(self, lucky: int) -> None:
        if lucky < 1:
            raise ValueError("the lucky number must be 1 or more")
        self.lucky = lucky
        self.counted = 0
        self._addresses: list[str] = []

    def count(self, address: str) -> Deferred[Counted]:
        """
        Count one connection; a Deferred so that a shared, database-backed counter fits too.
        """
        self.counted += 1
        if self.counted <= self.lucky:
            self._addresses.append(address)
        listed = list(self._addresses) if self.counted == self.lucky else None
        return succeed(Counted(self.counted, listed))


class SharedCounter:
    """
    Counts the connections of every node that shares the store's database: the lucky
    connection is the Nth of the whole cluster, and its greeting lists addresses from every
    node, in counting order.
    """

    def __init__(self, store, lucky: int) -> None:
        if lucky < 1:
            raise ValueError("the lucky number must be 1 or more")
        self.lucky = lucky
        self._store = store

    def count(self, address: str) -> Deferred[Counted]:
        return self._store.count_connection(address, self.lucky).addCallback(
            lambda counted: Counted(*counted)
        )


def counter_for(store, lucky: int) -> InMemoryCounter | SharedCounter:
    """Count in the database when other nodes may share it, else in memory."""
    return SharedCounter(store, lucky) if store.shared else InMemoryCounter(lucky)
