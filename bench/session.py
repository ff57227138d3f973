"""
One bench run: the contenders, the generator processes, the rounds, and every measurement
taken, in the order it was taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter

from bench.latency import Latencies
from bench.servers import CLOCK_TICKS, ROOT, RunningServer, ended_or_killed, environment


class WorkerFailed(Exception):
    """A generator process stopped before answering: its stderr says why."""


class Worker:
    """A generator process (L{bench.worker}) driven over its stdin and stdout."""

    def __init__(self, role: str, process: asyncio.subprocess.Process) -> None:
        self.role = role
        self.process = process
        self.ready: dict = {}

    @classmethod
    async def start(cls, role: str, **spec) -> "Worker":
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.worker", role, json.dumps(spec),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=environment(), limit=1 << 24,
        )
        worker = cls(role, process)
        worker.ready = (await worker._read())["ready"]
        return worker

    async def _read(self) -> dict:
        line = await self.process.stdout.readline()
        if not line:
            await self.process.wait()
            error = (await self.process.stderr.read()).decode(errors="replace")
            raise WorkerFailed(f"{self.role} generator exited {self.process.returncode}:\n{error}")
        return json.loads(line)

    async def round(self, seconds: float, **options) -> dict:
        self.process.stdin.write(json.dumps({"go": seconds, **options}).encode() + b"\n")
        await self.process.stdin.drain()
        return await self._read()

    async def stop(self) -> None:
        """EOF on its stdin ends it; killed if it does not end (or the bench is interrupted)."""
        if self.process.returncode is None:
            self.process.stdin.close()
            await ended_or_killed(self.process)


@dataclass
class Round:
    """What one timed round measured: each generator's result and the server's side."""

    results: list[dict]
    seconds: float
    server_cpu: float  # cores the server used on average, over the round
    server_rss_peak_kib: int
    # Cores used by everything else on the machine (other engineers' test suites): a round
    # that shared the machine shows it here.
    others_cpu: float

    def latencies(self, role_results: list[dict] | None = None) -> Latencies:
        merged = Latencies()
        for result in role_results if role_results is not None else self.results:
            merged.merge(Latencies.from_json(result["latency"]))
        return merged

    def total(self, key: str, role_results: list[dict] | None = None) -> int:
        return sum(r[key] for r in (role_results if role_results is not None else self.results))

    def generator_cpu(self, role_results: list[dict] | None = None) -> float:
        """The busiest generator process's CPU use over the round, in cores."""
        return max(r["generator_cpu_seconds"] / r["wall_seconds"]
                   for r in (role_results if role_results is not None else self.results))


@dataclass
class ExternalRound:
    """What a round of an outside generator measured: its result and the server's side."""

    result: object
    server_cpu: float  # cores
    server_rss_peak_kib: int
    others_cpu: float  # cores


class Bench:
    """
    The run's settings and measurements. Scenarios start servers and generators through it
    and L{record} what they measure; the report is made from L{measurements}.
    """

    def __init__(self, contenders, options, say=None) -> None:
        self.contenders = contenders
        self.options = options
        self.measurements: list[dict] = []
        # What the report should say about the run beyond its tables (a scenario skipped).
        self.notes: list[str] = []
        self.say = say or (lambda text: print(text, file=sys.stderr, flush=True))
        self._tmp = Path(tempfile.mkdtemp(prefix="examtwist-bench-"))
        self._started = 0

    def close(self) -> None:
        """Remove the servers' temp dirs (databases, logs)."""
        shutil.rmtree(self._tmp, ignore_errors=True)

    def note(self, text: str) -> None:
        self.notes.append(text)
        self.say(text)

    def of_kind(self, kind: str):
        return [c for c in self.contenders if c.kind == kind]

    def alternating(self, contenders, rounds: int | None = None):
        """(round, contender) pairs, the order flipped every round so neither always goes first."""
        for number in range(self.options.rounds if rounds is None else rounds):
            order = contenders if number % 2 == 0 else contenders[::-1]
            for contender in order:
                yield number, contender

    @contextlib.asynccontextmanager
    async def serving(self, contender):
        """A fresh server with an empty database, stopped on the way out."""
        self._started += 1
        workdir = self._tmp / f"{self._started:03d}-{contender.name.replace(' ', '-')}"
        workdir.mkdir()
        server = await contender.start(workdir)
        try:
            yield server
        finally:
            await server.stop()

    @contextlib.asynccontextmanager
    async def generators(self, *starting):
        """Start generator processes at once; stop them all on the way out."""
        started = await asyncio.gather(*starting, return_exceptions=True)
        workers = [w for w in started if isinstance(w, Worker)]
        try:
            for failed in started:
                if isinstance(failed, BaseException):
                    raise failed
            yield workers
        finally:
            await asyncio.gather(*(w.stop() for w in workers))

    async def measure(self, server: RunningServer, workers: list[Worker], seconds: float,
                      profile_as: str | None = None, **options) -> Round:
        """
        Run the workers for one timed round (C{options} go to each worker's round), sampling
        the server's CPU and memory. With --profile, py-spy samples the server over the
        round into C{profile_as}.txt.
        """
        results, server_cpu, peak, others = await self._sample(
            server, seconds, profile_as,
            asyncio.gather(*(w.round(seconds, **options) for w in workers)),
            lambda results: sum(r["generator_cpu_seconds"] for r in results),
        )
        return Round(results, seconds, server_cpu, peak, others)

    async def measure_external(self, server: RunningServer, load, seconds: float,
                               profile_as: str | None = None) -> "ExternalRound":
        """
        One timed round driven by a generator that is not a L{bench.worker} (wrk): C{load} is
        awaited while the server's CPU and memory are sampled; its result gives its own CPU
        time as C{cpu_seconds}.
        """
        result, server_cpu, peak, others = await self._sample(
            server, seconds, profile_as, load, lambda result: result.cpu_seconds
        )
        return ExternalRound(result, server_cpu, peak, others)

    async def _sample(self, server: RunningServer, seconds: float, profile_as: str | None,
                      load, load_cpu_seconds):
        """
        Await C{load} while sampling the server's peak RSS; then its CPU and what the rest of
        the machine used, leaving out this process and the load's own CPU
        (C{load_cpu_seconds(result)}).

        @return: the load's result, the server's cores, its peak RSS (KiB), others' cores.
        """
        server.check_alive()
        spy = await self.start_profile(server, seconds, profile_as)
        machine, own = _machine_busy_seconds(), _own_cpu_seconds()
        cpu, started = server.cpu_seconds(), perf_counter()
        running = asyncio.ensure_future(load)
        peak = server.rss_kib()
        while not running.done():
            await asyncio.wait([running], timeout=0.25)
            if server.process.returncode is None:
                peak = max(peak, server.rss_kib())
        server.check_alive()
        wall = perf_counter() - started
        server_cpu = server.cpu_seconds() - cpu
        result = running.result()
        others = ((_machine_busy_seconds() - machine) - (_own_cpu_seconds() - own) - server_cpu
                  - load_cpu_seconds(result))
        if spy is not None:
            await spy.wait()
        return result, server_cpu / wall, peak, max(others, 0.0) / wall

    @property
    def scratch(self) -> Path:
        """A temp dir of the run's own, removed with it (wrk's scripts)."""
        return self._tmp

    async def start_profile(self, server: RunningServer, seconds: float, name: str | None):
        """With --profile, py-spy the server for C{seconds} into C{name}.txt; else None."""
        if not (self.options.profile and name):
            return None
        self.options.profile.mkdir(parents=True, exist_ok=True)
        spy = Path(sys.executable).with_name("py-spy")
        return await asyncio.create_subprocess_exec(
            str(spy), "record", "--pid", str(server.pid), "--duration", str(max(1, round(seconds))),
            "--rate", "250", "--format", "raw", "--nonblocking",
            "--output", str(self.options.profile / f"{name}.txt"),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )

    @staticmethod
    def profile_name(scenario: str, load: int, contender, round_number: int) -> str:
        return f"{scenario}-{load}-{contender.name.replace(' ', '-')}-round{round_number + 1}"

    def record(self, scenario: str, server: str, load: int, round_number: int, **metrics) -> None:
        self.measurements.append(
            {"scenario": scenario, "server": server, "load": load, "round": round_number,
             "metrics": metrics}
        )
        shown = ", ".join(f"{k}={_short(v)}" for k, v in metrics.items())
        self.say(f"  {scenario} {load} {server} round {round_number + 1}: {shown}")


def _machine_busy_seconds() -> float:
    """CPU time every core of the machine has spent busy since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        user, nice, system, idle, iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000
