"""
C{wrk} (the Debian package) as the load generator of scenario 4: one run on one route of one
server, its text output read back (Requests/sec, the latency percentiles of C{--latency},
non-2xx answers, socket errors), and the CPU that wrk itself used, so a report can show that
the generator was not the bottleneck.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter

# What wrk sends on each connection. The POST is the form of /login; the GET goes round the
# sample students a fresh database holds, so every answer is a found student (200).
SAMPLE_IDS = (1800, 1866, 1711)
POST_SCRIPT = """\
wrk.method = "POST"
wrk.body = "ID=1800"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
"""
GET_SCRIPT = """\
local paths = {%s}
local requests = {}
local next_one = 0
init = function(args)
  for i, path in ipairs(paths) do requests[i] = wrk.format("GET", path) end
end
request = function()
  next_one = next_one %% #requests + 1
  return requests[next_one]
end
""" % ", ".join(f'"/api/students/{n}"' for n in SAMPLE_IDS)


@dataclass(frozen=True)
class Route:
    """One of the two routes scenario 4 loads: a short name for metrics, the path, the script."""

    key: str
    label: str
    path: str
    script: str


POST_HANDLELOGIN = Route("post", "POST /handlelogin", "/handlelogin", POST_SCRIPT)
GET_API_STUDENT = Route("get", "GET /api/students/<id>", "/api/students/1800", GET_SCRIPT)
ROUTES = (POST_HANDLELOGIN, GET_API_STUDENT)


class WrkFailed(Exception):
    """wrk did not run, or its output could not be read."""


@dataclass(frozen=True)
class WrkResult:
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int  # wrk counts answers that are not 2xx or 3xx
    socket_errors: int  # connect, read, write and timeout errors, summed
    cpu_seconds: float  # wrk's own user + system time, all its threads
    wall_seconds: float

    @property
    def cpu_cores(self) -> float:
        return self.cpu_seconds / self.wall_seconds


def wrk_path() -> str | None:
    return shutil.which("wrk")


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_PERCENTILE = re.compile(r"^\s*(\d+)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M)
_REQUESTS = re.compile(r"^\s*(\d+) requests in ", re.M)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


def parse(output: str, cpu_seconds: float = 0.0, wall_seconds: float = 1.0) -> WrkResult:
    """Read what C{wrk --latency} printed."""
    percentiles = {int(p): float(v) * _UNITS_MS[unit] for p, v, unit in _PERCENTILE.findall(output)}
    requests, rate = _REQUESTS.search(output), _RATE.search(output)
    if requests is None or rate is None or 99 not in percentiles:
        raise WrkFailed(f"cannot read wrk's output:\n{output}")
    non_2xx = _NON_2XX.search(output)
    errors = _SOCKET_ERRORS.search(output)
    return WrkResult(
        requests=int(requests.group(1)),
        requests_per_s=float(rate.group(1)),
        p50_ms=percentiles.get(50),
        p99_ms=percentiles[99],
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(map(int, errors.groups())) if errors else 0,
        cpu_seconds=cpu_seconds,
        wall_seconds=wall_seconds,
    )


def _run_and_reap(argv: list[str]) -> tuple[str, str, int, float, float]:
    """
    Run wrk to its end and reap it with wait4, which gives the CPU time of that one child
    (all its threads), not of every child the bench has reaped meanwhile.
    """
    started = perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = process.stdout.read(), process.stderr.read()
        _, status, usage = os.wait4(process.pid, 0)
    except BaseException:
        process.kill()
        process.wait()
        raise
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = perf_counter() - started
    return (out.decode(errors="replace"), err.decode(errors="replace"), process.returncode,
            usage.ru_utime + usage.ru_stime, wall)


async def run(host: str, port: int, route: Route, seconds: float, connections: int,
              threads: int, workdir: Path) -> WrkResult:
    """One wrk run of C{seconds} (whole seconds, at least one: wrk takes no fractions)."""
    wrk = wrk_path()
    if wrk is None:
        raise WrkFailed("no wrk on PATH")
    script = workdir / f"wrk-{route.key}.lua"
    script.write_text(route.script, encoding="utf-8")
    argv = [wrk, "--latency", "--threads", str(threads), "--connections", str(connections),
            "--duration", f"{max(1, round(seconds))}s", "--timeout", "5s",
            "--script", str(script), f"http://{host}:{port}{route.path}"]
    out, err, code, cpu, wall = await asyncio.to_thread(_run_and_reap, argv)
    if code != 0:
        raise WrkFailed(f"wrk exited with {code}:\n{err}{out}")
    return parse(out, cpu, wall)
