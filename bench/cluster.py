"""
Several examtwist nodes on one database, as docs/deploy.md runs them: a fresh PostgreSQL
database per cluster on the server the bench is given, the nodes as C{twistd -n examtwist}
children, and the CPU of both sides.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit

from bench.servers import (
    _TWISTD_LISTENING, CLOCK_TICKS, HOST, Contender, RunningServer, _wait_for_port,
)

POSTGRES_ENV = "EXAMTWIST_BENCH_POSTGRES"
_PASSWORD_IN_URL = re.compile(r"(postgres(?:ql)?://[^:/@\s]*:)[^@\s]*@")


def without_passwords(text: str) -> str:
    """C{text} with the password of any PostgreSQL URL in it hidden, for what the bench writes."""
    return _PASSWORD_IN_URL.sub(r"\1***@", text)


def _admin(url: str, sql: str):
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        cursor = connection.execute(sql)
        return cursor.fetchone() if cursor.description else None


async def create_database(admin_url: str) -> str:
    """
    A new database on the server of C{admin_url} (a user allowed to CREATE DATABASE): its URL.
    """
    name = f"examtwist_bench_{secrets.token_hex(6)}"
    await asyncio.to_thread(_admin, admin_url, f'CREATE DATABASE "{name}"')
    return urlsplit(admin_url)._replace(path=f"/{name}").geturl()


async def drop_database(admin_url: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    await asyncio.to_thread(_admin, admin_url, f'DROP DATABASE "{name}" WITH (FORCE)')


class PostgresServerCPU:
    """
    The CPU time of a PostgreSQL server on this machine: its postmaster, found as the parent of
    a backend, with every child it has reaped, and the children alive now.
    """

    def __init__(self, postmaster: int) -> None:
        self.postmaster = postmaster

    @classmethod
    async def of(cls, admin_url: str) -> "PostgresServerCPU | None":
        """None when the server is not a process here (another host, or another container)."""
        postmaster = await asyncio.to_thread(_postmaster_of, admin_url)
        return None if postmaster is None else cls(postmaster)

    def seconds(self) -> float:
        fields = _stat(self.postmaster)
        total = sum(int(f) for f in fields[11:15])  # utime, stime, and its reaped children's
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    child = _stat(int(entry))
                except OSError:
                    continue  # ended meanwhile: its time is in the postmaster's by now
                if int(child[1]) == self.postmaster:
                    total += int(child[11]) + int(child[12])
        return total / CLOCK_TICKS


def _postmaster_of(url: str) -> int | None:
    """The parent of this connection's backend, read while the backend is there."""
    import psycopg

    with psycopg.connect(url) as connection:
        (backend,) = connection.execute("SELECT pg_backend_pid()").fetchone()
        try:
            with open(f"/proc/{backend}/comm") as f:
                if not f.read().startswith("postgres"):
                    return None  # a process of this machine that merely has the same pid
            return int(_stat(backend)[1])
        except OSError:
            return None


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat's fields after the command name: state, ppid, … (man 5 proc, from 3)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


async def start_node(name: str, workdir: Path, db: str, options: list[str]) -> RunningServer:
    """C{twistd -n examtwist} on free 127.0.0.1 ports (exam and web) with C{--db db}."""
    workdir.mkdir(parents=True)
    log = workdir / "twistd.log"
    twistd = Path(sys.executable).with_name("twistd")
    with open(workdir / "twistd.out", "wb") as out:
        process = await asyncio.create_subprocess_exec(
            str(twistd), "--nodaemon", "--pidfile=", "--logfile", str(log), "examtwist",
            "--exam", f"tcp:0:interface={HOST}", "--web", f"tcp:0:interface={HOST}",
            "--teacher", "none", "--db", db, *options,
            cwd=workdir, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
        )
    port = await _wait_for_port(process, log, _TWISTD_LISTENING, name)
    return RunningServer(name, process, port, log)


class Cluster:
    """
    The nodes of one setup, as one server to L{bench.session.Bench.measure}: their CPU and
    memory summed, alive only while every node is. py-spy (--profile) samples the first node.
    Stopping it stops the nodes, then drops its database if it made one.
    """

    def __init__(self, name: str, nodes: list[RunningServer], drop=None) -> None:
        self.name = name
        self.nodes = nodes
        self.process = nodes[0].process
        self.pid = nodes[0].pid
        self._drop = drop

    @property
    def addresses(self) -> list[list]:
        return [[node.host, node.port] for node in self.nodes]

    def cpu_seconds(self) -> float:
        return sum(node.cpu_seconds() for node in self.nodes)

    def rss_kib(self) -> int:
        return sum(node.rss_kib() for node in self.nodes if node.process.returncode is None)

    def check_alive(self) -> None:
        for node in self.nodes:
            node.check_alive()

    async def stop(self) -> None:
        try:
            await asyncio.gather(*(node.stop() for node in self.nodes))
        finally:
            if self._drop is not None:
                await self._drop()


def cluster(name: str, nodes: int, postgres: str | None, options: list[str]) -> Contender:
    """
    C{nodes} nodes sharing a fresh database: a new one on the PostgreSQL server of C{postgres}
    (its admin URL) each time it starts, or else an SQLite file in its workdir. The nodes start
    one after the other, so the first makes the schema.
    """

    async def start(workdir: Path) -> Cluster:
        db = await create_database(postgres) if postgres else str(workdir / "examtwist.db")
        drop = (lambda: drop_database(postgres, db)) if postgres else None
        started: list[RunningServer] = []
        try:
            for number in range(1, nodes + 1):
                started.append(await start_node(f"{name} node {number}",
                                                workdir / f"node{number}", db, options))
        except BaseException:
            await asyncio.gather(*(node.stop() for node in started))
            if drop is not None:
                await drop()
            raise
        return Cluster(name, started, drop)

    return Contender(name, "cluster", start)
