"""
C{python -m bench} (C{make bench}): run the scenarios against examtwist and, when the peers
are present, the original thread-per-connection server, then write the results.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shlex
import signal
import sys
from datetime import datetime
from pathlib import Path

from examtwist.passwords import HashCost
from examtwist.service import raise_open_files_limit

from bench import report
from bench.cluster import POSTGRES_ENV, without_passwords
from bench.scenarios import EVERY, ON_REQUEST, SCENARIOS
from bench.servers import (
    bare_line_receiver, bare_web, examtwist, find_peers, find_web_peer, flask_peer, threaded_peer,
)
from bench.session import ROOT, Bench

# Tiny sizes for the smoke test in `make test`: every code path, a few seconds.
SMOKE = {"held": [20], "storm_clients": 4, "students": 8, "rounds": 1, "duration": 0.5,
         "warmup": 0.2, "hash_memory": 64, "hash_rounds": 1, "paced_rate": 100.0,
         "web_connections": 4, "hostile_connections": 8, "hostile_students": 2,
         "guess_seconds": 3.0}


def _loads(text: str) -> list[int]:
    return [int(n) for n in text.split(",")]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run the scenarios against examtwist and, when the peers are present, the "
        "original thread-per-connection server; write bench/results/<date>.json, the tables in "
        "docs/performance.md and the plot docs/performance.png.",
        epilog="The scenarios (docs/performance.md says what each measures): "
        + "; ".join(f"{name}: {scenario.title}" for name, scenario in EVERY.items()) + ".",
    )
    parser.add_argument("--peers", type=Path, default=ROOT.parent / "shared" / "peers",
                        help="directory of threaded_examd.py and flask_lookup.py "
                             "(default: ../shared/peers)")
    parser.add_argument("--scenarios",
                        help=f"comma-separated, of: {', '.join(EVERY)} (default: all but "
                             f"{', '.join(ON_REQUEST)}, which also runs by default with "
                             "--postgres)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per load and server")
    parser.add_argument("--teacher-reload", action="store_true",
                        help="also run examtwist with a teacher reloading a test's page every"
                             " second (scenario 3 beside the plain run)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per round")
    parser.add_argument("--warmup", type=float, default=3.0,
                        help="seconds of untimed load before a scenario's first round")
    parser.add_argument("--held", type=_loads, default=[1000, 5000, 10000],
                        help="held connections, comma-separated")
    parser.add_argument("--storm-clients", type=int, default=64)
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--generators", type=int, default=2,
                        help="generator processes sharing the students of scenario 3")
    parser.add_argument("--ruled-tests", type=int, default=0, metavar="N",
                        help="tests with rules (1 attempt, shuffled, timed) each student of the "
                             "ruled scenario may sit once, one after another (default: enough "
                             "for the run's rounds at any rate this machine reaches)")
    parser.add_argument("--paced-rate", type=float, default=1500.0,
                        help="answers/s for scenario 3b when scenario 3 did not run the peer")
    parser.add_argument("--web-connections", type=int, default=32,
                        help="wrk's keep-alive connections in scenario 4")
    parser.add_argument("--wrk-threads", type=int, default=1,
                        help="wrk's threads in scenario 4 (its CPU use is reported per round)")
    parser.add_argument("--postgres", metavar="URL", default=os.environ.get(POSTGRES_ENV),
                        help="a PostgreSQL server's URL, as a user who may CREATE DATABASE, for "
                             f"scenario 5's fresh databases (default: ${POSTGRES_ENV})")
    parser.add_argument("--node-clients", type=int, default=16,
                        help="clients spread over the nodes in scenario 5")
    parser.add_argument("--hostile-connections", type=int, default=400,
                        help="connections from one address flooding LOGIN in the hostile "
                             "scenario")
    parser.add_argument("--hostile-students", type=int, default=8,
                        help="honest students logging in during that flood, each from an "
                             "address of its own")
    parser.add_argument("--guess-seconds", type=float, default=120.0,
                        help="how long the hostile scenario's attacker guesses one username's "
                             "password; checks are counted after the first minute (or half)")
    parser.add_argument("--hash-memory", type=int, default=HashCost.memory_kib,
                        help="examtwist's --hash-memory, also used for the raw verify rate")
    parser.add_argument("--hash-rounds", type=int, default=HashCost.rounds)
    parser.add_argument("--baseline", metavar="[NAME=]TREE", action="append", default=[],
                        help="another examtwist checkout to run beside this one (before/after), "
                             "shown as 'examtwist NAME'; repeat for several")
    parser.add_argument("--with-metrics", type=Path, metavar="SCRAPES",
                        help="run examtwist with --metrics beside it (as 'examtwist --metrics') "
                             "and append its /metrics, read every second, to this JSON Lines "
                             "file (python -m bench.dashboard draws it)")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--report", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "performance.png",
                        help="PNG to draw; an empty value draws none")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="py-spy each measured round of every server into DIR/*.txt "
                             "(collapsed stacks; summarize with python -m bench.profile)")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes and a cheap hash: checks the bench works, measures nothing")
    if "--smoke" in argv:
        parser.set_defaults(**SMOKE)  # options given beside --smoke still win
    options = parser.parse_args(argv)
    default = [*SCENARIOS, *(ON_REQUEST if options.postgres else [])]
    options.scenarios = options.scenarios.split(",") if options.scenarios else default
    unknown = set(options.scenarios) - set(EVERY)
    if unknown:
        parser.error(f"unknown scenario {', '.join(sorted(unknown))}")
    return options


def contenders(options, say) -> tuple[list, str]:
    hash_cost = {"hash_memory": options.hash_memory, "hash_rounds": options.hash_rounds}
    found = [examtwist(**hash_cost), bare_line_receiver(),
             examtwist(kind="web", **hash_cost), bare_web(),
             examtwist(kind="hostile", protected=True, **hash_cost)]
    if options.teacher_reload:
        found.append(examtwist("examtwist, teacher reloading", teacher_reload=True, **hash_cost))
    if options.with_metrics is not None:
        found.insert(1, examtwist("examtwist --metrics", scrapes=options.with_metrics,
                                  **hash_cost))
    for baseline in options.baseline:
        name, _, tree = baseline.rpartition("=")
        found.append(examtwist(f"examtwist {name or 'baseline'}", tree=tree, **hash_cost))
        found.append(examtwist(f"examtwist {name or 'baseline'}", tree=tree, kind="hostile",
                               protected=True, **hash_cost))
    peers = find_peers(options.peers)
    note = ""
    if peers is None:
        note = f"No threaded_examd.py in {options.peers}: examtwist only, no ratios."
        say(note)
    else:
        found.append(threaded_peer(peers))
    web_peers, web_note = find_web_peer(options.peers)
    if web_peers is None:
        if "web" in options.scenarios:
            say(web_note)
            note = " ".join(filter(None, [note, web_note]))
    else:
        found.append(flask_peer(web_peers))
    return found, note


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


async def run(options, argv: list[str], say) -> None:
    raise_open_files_limit()
    # SIGTERM stops the run like Ctrl-C: servers and generators are stopped, results kept.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
    found, note = contenders(options, say)
    bench = Bench(found, options, say)
    started = datetime.now()
    info = {
        "started": started.strftime("%Y-%m-%d %H:%M"),
        "command": without_passwords("python -m bench " + shlex.join(argv)),
        "machine": machine(),
        "rounds": options.rounds,
        "duration": options.duration,
        "servers": list(dict.fromkeys(c.name for c in found)),
        "peers_note": note,
        "options": {k: without_passwords(str(v)) for k, v in vars(options).items()},
    }
    try:
        for name in options.scenarios:
            say(f"{EVERY[name].title}")
            await EVERY[name].run(bench)
    except BaseException as e:
        # What was measured before a failure or Ctrl-C is kept, marked as incomplete.
        info["incomplete"] = f"stopped by {type(e).__name__} {e}".strip()
        raise
    finally:
        bench.close()
        info["notes"] = bench.notes
        if bench.measurements:
            write_results(options, info, bench.measurements, started, say)


def write_results(options, info: dict, measurements: list[dict], started: datetime, say) -> None:
    info["machine"]["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    info["measurements"] = measurements
    names = [name for name in options.scenarios if any(m["scenario"] == name for m in measurements)]
    summaries = [EVERY[name].summary(measurements) for name in names]
    results = options.results / f"{started.strftime('%Y-%m-%dT%H%M%S')}.json"
    report.write_json(results, info, summaries)
    shown = os.path.relpath(results, ROOT) if results.is_relative_to(ROOT) else str(results)
    report.update_page(options.report, report.markdown(info, summaries, shown))
    if str(options.plot) not in ("", "."):
        report.plot(options.plot, summaries, f"examtwist bench, {info['started']}")
    say(f"Results: {results}; tables: {options.report}")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    options = parse(argv)
    try:
        asyncio.run(run(options, argv, lambda text: print(text, file=sys.stderr, flush=True)))
    except (KeyboardInterrupt, asyncio.CancelledError):
        sys.stderr.write("bench: stopped; what was measured so far is written\n")
        raise SystemExit(130)


if __name__ == "__main__":
    main()
