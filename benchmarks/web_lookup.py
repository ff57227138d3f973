"""
How many lookups a second the web app answers, and how fast: a figure to watch, not a test.

Start a server first (`make run`, or twistd with --web), then:

    .venv/bin/python benchmarks/web_lookup.py [--url http://127.0.0.1:5000] [--clients 8]
        [--seconds 10]

Each client is a thread with one keep-alive connection, alternating the form post and the JSON
API for the sample IDs (found) and one unknown ID. On one machine the clients compete with the
server for the CPU, so the figure is a floor.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import threading
import time
from urllib.parse import urlsplit

REQUESTS = [
    ("POST", "/handlelogin", "ID=1800"),
    ("GET", "/api/students/1866", None),
    ("POST", "/handlelogin", "ID=4242"),
    ("GET", "/api/students/1711", None),
]
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def client(host: str, port: int, until: float, latencies: list[float], errors: list[str]) -> None:
    connection = http.client.HTTPConnection(host, port, timeout=10)
    mine, n = [], 0
    while time.perf_counter() < until:
        method, path, body = REQUESTS[n % len(REQUESTS)]
        n += 1
        started = time.perf_counter()
        try:
            connection.request(method, path, body=body, headers=FORM if body else {})
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as e:
            errors.append(repr(e))
            connection.close()
            connection = http.client.HTTPConnection(host, port, timeout=10)
            continue
        if response.status not in (200, 404):
            errors.append(f"{method} {path}: {response.status}")
        mine.append(time.perf_counter() - started)
    connection.close()
    latencies.extend(mine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:5000")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    address = urlsplit(args.url)
    latencies: list[float] = []
    errors: list[str] = []
    until = time.perf_counter() + args.seconds
    threads = [
        threading.Thread(target=client, args=(address.hostname, address.port, until, latencies, errors))
        for _ in range(args.clients)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    ms = sorted(x * 1000 for x in latencies)
    print(f"{len(ms)} lookups in {elapsed:.1f} s by {args.clients} clients: {len(ms) / elapsed:.0f}/s")
    if ms:
        print(f"latency ms: median {statistics.median(ms):.2f}, p99 {ms[int(len(ms) * 0.99)]:.2f},"
              f" max {ms[-1]:.2f}")
    print(f"errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))


if __name__ == "__main__":
    main()
