"""
The servers under test: each a child process on a free 127.0.0.1 port with a database of its
own in a temp dir, and what /proc says about its memory and CPU.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_TWISTD_LISTENING = re.compile(rb"Exam service listening on [\d.]+:(\d+)")
_TWISTD_WEB_LISTENING = re.compile(rb"Web app listening on [\d.]+:(\d+)")
_TWISTD_TEACHER_LISTENING = re.compile(rb"Teacher area listening on [\d.]+:(\d+)")
_TWISTD_METRICS_LISTENING = re.compile(rb"Metrics listening on [\d.]+:(\d+)")
_PEER_LISTENING = re.compile(rb"threaded_examd listening on [\d.]+:(\d+)")
_BARE_LISTENING = re.compile(rb"bare exam server listening on [\d.]+:(\d+)")
_BARE_WEB_LISTENING = re.compile(rb"bare twisted.web listening on [\d.]+:(\d+)")
_FLASK_LISTENING = re.compile(rb"Running on http://[\d.]+:(\d+)")
ROOT = Path(__file__).resolve().parent.parent
# The database file of an examtwist server, in its work dir.
DATABASE = "examtwist.db"


def environment(first_on_path: str = str(ROOT)) -> dict[str, str]:
    """This environment, with a directory first on PYTHONPATH (by default, this checkout)."""
    path = os.pathsep.join(filter(None, [first_on_path, os.environ.get("PYTHONPATH")]))
    return dict(os.environ, PYTHONPATH=path)


class ServerFailed(Exception):
    """A server under test did not start, or died."""


@dataclass
class Contender:
    """
    A server a scenario runs against. C{kind} says which scenarios it fits: "exam" servers
    speak docs/protocol.md, "web" servers answer the student-ID lookup's routes.
    """

    name: str
    kind: str
    start: object  # async (workdir: Path) -> RunningServer
    # What one LOGIN of this server spends on its password hash, as bench.worker.Verify
    # options: the storm's raw rate is measured with exactly this.
    verify: dict = field(default_factory=dict)
    # The checkout it runs from, for examtwist (None: this one).
    tree: str | None = None


class RunningServer:
    # The web port too, for a server that has both (examtwist started as kind "hostile").
    web_port: int | None = None
    # What reads its /metrics while it runs (examtwist with --metrics), stopped with it.
    scraper: asyncio.Task | None = None

    def __init__(self, name: str, process: asyncio.subprocess.Process, port: int, log: Path) -> None:
        self.name = name
        self.process = process
        self.pid = process.pid
        self.host = HOST
        self.port = port
        self.log = log

    def _status(self, key: str) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        raise ServerFailed(f"{self.name}: no {key} in /proc/{self.pid}/status")

    def rss_kib(self) -> int:
        return self._status("VmRSS")

    def threads(self) -> int:
        return self._status("Threads")

    def cpu_seconds(self) -> float:
        """User and system time of every thread of the process so far."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def check_alive(self) -> None:
        if self.process.returncode is not None:
            raise ServerFailed(f"{self.name} exited with {self.process.returncode}: see {self.log}")

    async def stop(self) -> None:
        """SIGTERM, as a service manager stops it; SIGKILL if it takes too long."""
        if self.scraper is not None:
            self.scraper.cancel()
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            await ended_or_killed(self.process)


async def ended_or_killed(process: asyncio.subprocess.Process, grace: float = 30) -> None:
    """Wait for a process asked to end; kill it after C{grace} seconds, or if interrupted."""
    try:
        await asyncio.wait_for(process.wait(), grace)
    except asyncio.TimeoutError:
        pass
    finally:
        if process.returncode is None:
            process.kill()


async def _wait_for_port(process, log: Path, pattern: re.Pattern, name: str) -> int:
    """Poll the server's log for the line that says where it listens."""
    for _ in range(600):
        if log.exists():
            match = pattern.search(log.read_bytes())
            if match:
                return int(match.group(1))
        if process.returncode is not None:
            break
        await asyncio.sleep(0.05)
    if process.returncode is None:
        process.kill()
        await process.wait()
    tail = log.read_bytes()[-2000:].decode(errors="replace") if log.exists() else ""
    raise ServerFailed(f"{name} did not start listening:\n{tail}")


# What protects a server from hostile students would also stop the bench's own load, which
# comes from one address and registers thousands of accounts: off, in the trees that have it,
# except where a scenario measures the protection itself. A file of the tree says it has it.
PROTECTIONS_OFF = {
    "examtwist/throttle.py": ["--max-registrations-per-address", "0",
                              "--max-failures-per-address", "0", "--login-backoff", "0",
                              "--max-per-address", "0"],
    "examtwist/examport.py": ["--connect-burst", "0"],
    "examtwist/webguard.py": ["--lookup-burst", "0", "--web-max-per-address", "0"],
    "examtwist/strength.py": ["--min-password-length", "1", "--min-password-score", "0"],
}


def examtwist_options(tree: str | None, hash_memory: int, hash_rounds: int,
                      protected: bool = False) -> list[str]:
    """
    The hash cost, allowed below OWASP's minimum where the tree asks for that; and, unless
    C{protected}, the protections against hostile students off.
    """
    root = Path(tree or ROOT)
    options = ["--hash-memory", str(hash_memory), "--hash-rounds", str(hash_rounds)]
    if (hash_memory, hash_rounds) < (19456, 2) and (root / "examtwist/strength.py").exists():
        options.append("--insecure-hash-cost")
    if not protected:
        options += [option for path, off in PROTECTIONS_OFF.items() if (root / path).exists()
                    for option in off]
    return options


def examtwist(name: str = "examtwist", tree: str | None = None, hash_memory: int = 19456,
              hash_rounds: int = 2, kind: str = "exam", protected: bool = False,
              scrapes: Path | None = None, teacher_reload: bool = False) -> Contender:
    """
    C{twistd -n examtwist}, as a user runs it; from another checkout C{tree} when given (to
    measure an earlier version beside this one). Its port is the exam port, or with
    C{kind="web"} the web lookup's: both listen on a free port. With C{kind="hostile"} its
    port is the exam port and its C{web_port} the web lookup's, if the tree has one. Unless
    C{protected}, the limits against hostile students are off. With C{scrapes}, it serves
    C{--metrics} too, read every second while it runs into that file (L{scrape}). The
    teacher's area is off, unless C{teacher_reload}: then a teacher signs in and reloads the
    math test's page every second while the server runs (L{bench.teacher_reload}).
    """
    hash_options = examtwist_options(tree, hash_memory, hash_rounds, protected)
    if scrapes is not None:
        hash_options += ["--metrics", f"tcp:0:interface={HOST}"]
    # A tree from before the web lookup has no --web option.
    has_web = (Path(tree or ROOT) / "examtwist" / "web.py").exists()
    web_options = ["--web", f"tcp:0:interface={HOST}"] if has_web else []
    if (Path(tree or ROOT) / "examtwist" / "teacherweb.py").exists():
        web_options += ["--teacher", f"tcp:0:interface={HOST}" if teacher_reload else "none"]
    listening = _TWISTD_WEB_LISTENING if kind == "web" else _TWISTD_LISTENING

    async def start(workdir: Path) -> RunningServer:
        log = workdir / "twistd.log"
        twistd = Path(sys.executable).with_name("twistd")
        env = environment(tree) if tree else dict(os.environ)
        with open(workdir / "twistd.out", "wb") as out:
            process = await asyncio.create_subprocess_exec(
                str(twistd), "--nodaemon", "--pidfile=", "--logfile", str(log), "examtwist",
                "--exam", f"tcp:0:interface={HOST}", *web_options,
                "--db", str(workdir / DATABASE), *hash_options,
                cwd=workdir, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
            )
        port = await _wait_for_port(process, log, listening, name)
        server = RunningServer(name, process, port, log)
        if kind == "hostile" and has_web:
            server.web_port = await _wait_for_port(process, log, _TWISTD_WEB_LISTENING, name)
        if teacher_reload:
            await _watch_as_teacher(workdir, process, log, name)
        if scrapes is not None:
            port = await _wait_for_port(process, log, _TWISTD_METRICS_LISTENING, name)
            server.scraper = asyncio.create_task(scrape(port, scrapes))
        return server

    return Contender(name, kind, start, {"memory_kib": hash_memory, "rounds": hash_rounds}, tree)


async def _watch_as_teacher(workdir: Path, process, log: Path, name: str) -> None:
    """A teacher account, then the reloading teacher beside the server (it ends with it)."""
    from bench import teacher_reload

    port = await _wait_for_port(process, log, _TWISTD_TEACHER_LISTENING, name)
    python = Path(sys.executable)
    (workdir / "teacher.pw").write_text(teacher_reload.PASSWORD)
    add = await asyncio.create_subprocess_exec(
        str(python.with_name("examtwist")), "teachers", "add", teacher_reload.TEACHER,
        "--password-file", str(workdir / "teacher.pw"), "--db", str(workdir / "examtwist.db"),
        stdout=asyncio.subprocess.DEVNULL)
    if await add.wait():
        raise ServerFailed(f"{name}: could not add the teacher")
    with open(workdir / "teacher.out", "wb") as out:
        await asyncio.create_subprocess_exec(
            str(python), "-m", "bench.teacher_reload", f"http://{HOST}:{port}",
            cwd=ROOT, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out)


async def scrape(port: int, into: Path, every: float = 1.0) -> None:
    """
    GET /metrics every C{every} seconds, as Prometheus would (more often than its default),
    appending each answer to C{into} as one JSON line: C{{"t": unix time, "text": body}}.
    """
    loop = asyncio.get_running_loop()
    into.parent.mkdir(parents=True, exist_ok=True)
    with open(into, "a") as out:
        while True:
            due = loop.time() + every
            try:
                reader, writer = await asyncio.open_connection(HOST, port)
                writer.write(b"GET /metrics HTTP/1.0\r\nHost: bench\r\n\r\n")
                body = (await reader.read()).split(b"\r\n\r\n", 1)[1]
                writer.close()
                out.write(json.dumps({"t": time.time(), "text": body.decode()}) + "\n")
                out.flush()
            except (OSError, IndexError):
                pass  # the server is stopping
            await asyncio.sleep(max(0.0, due - loop.time()))


def _program(name: str, kind: str, argv, listening: re.Pattern, verify=None) -> Contender:
    """A server that prints where it listens; C{argv(workdir)} is its command line."""

    async def start(workdir: Path) -> RunningServer:
        log = workdir / "server.out"
        with open(log, "wb") as out:
            process = await asyncio.create_subprocess_exec(
                *argv(workdir), cwd=workdir, env=environment(),
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
            )
        port = await _wait_for_port(process, log, listening, name)
        return RunningServer(name, process, port, log)

    return Contender(name, kind, start, verify or {})


def threaded_peer(peers: Path) -> Contender:
    """The original design: one thread per connection (../shared/peers/threaded_examd.py)."""
    script = peers / "threaded_examd.py"
    return _program(
        "threaded peer", "exam",
        lambda workdir: [sys.executable, str(script), "--host", HOST, "--port", "0",
                         "--db", str(workdir / "users.db")],
        _PEER_LISTENING, verify={"peer": str(script)},
    )


def bare_line_receiver() -> Contender:
    """The stack's ceiling for scenario 3 (L{bench.bare_exam}); it cannot log anyone in."""
    return _program(
        "bare LineReceiver", "exam-ceiling",
        lambda workdir: [sys.executable, "-m", "bench.bare_exam"], _BARE_LISTENING,
    )


def bare_web() -> Contender:
    """The stack's ceiling for scenario 4 (L{bench.bare_web}): one fixed page for any request."""
    return _program(
        "bare twisted.web", "web-ceiling",
        lambda workdir: [sys.executable, "-m", "bench.bare_web"], _BARE_WEB_LISTENING,
    )


def flask_peer(peers: Path) -> Contender:
    """The original web lookup, Flask's own server with threads (../shared/peers/flask_lookup.py)."""
    script = peers / "flask_lookup.py"
    return _program(
        "Flask peer", "web",
        lambda workdir: [sys.executable, str(script), "--host", HOST, "--port", "0",
                         "--db", str(workdir / "Student_log")],
        _FLASK_LISTENING,
    )


def find_web_peer(peers: Path | None) -> tuple[Path | None, str]:
    """
    The peers directory if it holds the Flask lookup and Flask is installed (the bench
    extra), else None and why not.
    """
    if peers is None or not (peers / "flask_lookup.py").is_file():
        return None, f"No flask_lookup.py in {peers}: scenario 4 without the Flask peer."
    if importlib.util.find_spec("flask") is None:
        return None, ("Flask is not installed (the bench extra, `make bench`): scenario 4 "
                      "without the Flask peer.")
    return peers, ""


def find_peers(peers: Path | None) -> Path | None:
    """The peers directory if it holds the threaded server, else None."""
    if peers is not None and (peers / "threaded_examd.py").is_file():
        return peers
    return None
