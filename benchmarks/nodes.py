"""
One node against two, on one PostgreSQL database: a figure for docs/deploy.md's sizing note, not
a test.

    .venv/bin/python benchmarks/nodes.py --db postgresql://... [--nodes 2] [--clients 16]
        [--seconds 20] [--scenario session|greeting] [--hash-memory KIB --hash-rounds N]

It starts the nodes (`twistd -n examtwist` on free loopback ports, sharing --db), spreads the
clients over them in turn as a load balancer would, and counts what finishes in the time:

- session: connect, greeting, REGISTER a new user, TAKE math, five answers, the grade, QUIT.
  The password hash (argon2id at the server's default cost unless told) is most of the work.
- greeting: connect, read the greeting, QUIT: the cost of counting a connection in the shared
  count, which every node's connections queue for.

The clients run in this process (asyncio) on the same machine as the nodes and the database, so
they all compete for its cores: the figures are a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HOST = "127.0.0.1"
LISTENING = re.compile(rb"Exam service listening on (\S+):(\d+)")
MATH_KEY = "BDCAC"


def start_node(db: str, extra: list[str], folder: str) -> tuple[subprocess.Popen, int]:
    twistd = os.path.join(os.path.dirname(sys.executable), "twistd")
    argv = [twistd, "--nodaemon", "--pidfile=", "examtwist", "--db", db,
            "--exam", f"tcp:0:interface={HOST}", "--web", f"tcp:0:interface={HOST}", *extra]
    log = tempfile.NamedTemporaryFile(dir=folder, suffix=".log", delete=False)
    node = subprocess.Popen(argv, cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(600):
        with open(log.name, "rb") as f:
            found = LISTENING.search(f.read())
        if found:
            return node, int(found.group(2))
        if node.poll() is not None:
            break
        time.sleep(0.05)
    raise SystemExit(f"a node did not start: {' '.join(argv)}")


async def reply(reader: asyncio.StreamReader) -> tuple[int, list[str]]:
    lines = []
    while True:
        line = (await reader.readline()).decode().rstrip("\r\n")
        if not line:
            raise ConnectionError("the server closed the connection")
        lines.append(line[4:])
        if line[3] == " ":
            return int(line[:3]), lines


async def session(port: int, name: str, scenario: str) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        code, _ = await reply(reader)
        assert code == 220, code
        if scenario == "session":
            for line, expected in [(f"REGISTER {name} pw-{name}", 231), ("TAKE math", 350),
                                   *[(letter, 350) for letter in MATH_KEY[:-1]],
                                   (MATH_KEY[-1], 250)]:
                writer.write(line.encode() + b"\r\n")
                code, lines = await reply(reader)
                assert code == expected, (line, code, lines)
        writer.write(b"QUIT\r\n")
        code, _ = await reply(reader)
        assert code == 221, code
    finally:
        writer.close()


async def client(ports, index, until, scenario, times, errors) -> None:
    n = 0
    while time.perf_counter() < until:
        port = ports[(index + n) % len(ports)]
        n += 1
        started = time.perf_counter()
        try:
            await session(port, f"c{index}x{n}x{os.getpid()}", scenario)
        except (OSError, AssertionError, ConnectionError) as e:
            errors.append(repr(e))
            continue
        times.append(time.perf_counter() - started)


async def load(ports, clients, seconds, scenario) -> None:
    times: list[float] = []
    errors: list[str] = []
    until = time.perf_counter() + seconds
    started = time.perf_counter()
    await asyncio.gather(*[client(ports, i, until, scenario, times, errors) for i in range(clients)])
    elapsed = time.perf_counter() - started
    ms = sorted(t * 1000 for t in times)
    print(f"{len(ports)} node(s), {clients} clients, {scenario}: {len(ms)} in {elapsed:.1f} s"
          f" = {len(ms) / elapsed:.1f}/s")
    if ms:
        print(f"  ms per {scenario}: median {statistics.median(ms):.1f},"
              f" p99 {ms[int(len(ms) * 0.99)]:.1f}, max {ms[-1]:.1f}")
    print(f"  errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="the database every node uses")
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--scenario", choices=["session", "greeting"], default="session")
    parser.add_argument("--hash-memory")
    parser.add_argument("--hash-rounds")
    args = parser.parse_args()
    extra = ["--idle-timeout=60"]
    if args.hash_memory:
        extra += ["--hash-memory", args.hash_memory]
    if args.hash_rounds:
        extra += ["--hash-rounds", args.hash_rounds]
    with tempfile.TemporaryDirectory() as folder:
        nodes = [start_node(args.db, extra, folder) for _ in range(args.nodes)]
        try:
            asyncio.run(load([port for _, port in nodes], args.clients, args.seconds, args.scenario))
        finally:
            for node, _ in nodes:
                node.terminate()
                node.wait(30)


if __name__ == "__main__":
    main()
