"""
The benchmark (C{make bench}) at its smallest: every scenario runs end to end and writes its
results, so the bench cannot rot. It measures nothing worth reading at this size.
"""

import importlib.util
import json
import os
import shutil
import sys

from twisted.internet.defer import ensureDeferred
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial import unittest

from bench import wrk
from bench.cluster import POSTGRES_ENV
from bench.scenarios import SCENARIOS
from bench.servers import find_peers, find_web_peer
from bench.session import ROOT

from tests.support import POSTGRES, temp_dir
from tests.support import POSTGRES_ENV as TEST_POSTGRES_ENV

PEERS = ROOT.parent / "shared" / "peers"
HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
# Scenario 4's load generator, the Debian package; without it the scenario is skipped and says so.
HAVE_WRK = shutil.which("wrk") is not None


def deferred_test(f):
    def run(self):
        return ensureDeferred(f(self))
    run.__name__, run.__doc__ = f.__name__, f.__doc__
    return run


class BenchSmokeTests(unittest.TestCase):
    timeout = 180

    async def bench(self, *args, plot=""):
        """Run C{python -m bench --smoke} as make bench does; return its JSON and page."""
        out = temp_dir(self)
        page = os.path.join(out, "performance.md")
        argv = ["-m", "bench", "--smoke", "--results", out, "--report", page, "--plot", plot, *args]
        # Scenario 5 runs by default when the environment names a PostgreSQL server: not here.
        env = {k: v for k, v in os.environ.items() if k != POSTGRES_ENV}
        stdout, stderr, code = await getProcessOutputAndValue(
            sys.executable, argv, env=env, path=str(ROOT)
        )
        self.assertEqual(code, 0, stderr.decode(errors="replace"))
        [results] = [name for name in os.listdir(out) if name.endswith(".json")]
        with open(os.path.join(out, results), encoding="utf-8") as f:
            data = json.load(f)
        with open(page, encoding="utf-8") as f:
            return data, f.read(), stderr.decode()

    @deferred_test
    async def test_nodes_on_postgres(self):
        """
        Scenario 5 on the tests' PostgreSQL server: three setups, both workloads, the ratios,
        the database CPU, and every database it made dropped again.
        """
        if POSTGRES.skip:
            raise unittest.SkipTest(POSTGRES.skip)
        if not POSTGRES.admin_url:
            self.fail(f"CI runs the PostgreSQL tests: .ci/run must set {TEST_POSTGRES_ENV}")
        databases = "SELECT datname FROM pg_database WHERE datname LIKE 'examtwist_bench_%'"
        before = POSTGRES.execute(POSTGRES.admin_url, databases)
        data, page, log = await self.bench("--scenarios", "nodes", "--node-clients", "4",
                                           "--postgres", POSTGRES.admin_url)
        rows = [m["server"] for m in data["measurements"]]
        self.assertEqual(rows, [f"{setup}: {work}" for setup in
                                ("SQLite, 1 node", "PostgreSQL, 1 node", "PostgreSQL, 2 nodes")
                                for work in ("sessions", "greetings")])
        for m in data["measurements"]:
            self.assertGreater(m["metrics"]["per_s"], 0, m["server"])
            self.assertEqual(m["metrics"]["errors"], 0, m["server"])
            self.assertGreater(m["metrics"]["generator_cpu"], 0, m["server"])
            on_postgres = m["server"].startswith("PostgreSQL")
            self.assertEqual(m["metrics"]["database_cpu"] is not None, on_postgres, m["server"])
        self.assertIn("| 4 | PostgreSQL, 2 nodes: sessions |", page)
        self.assertIn("sessions/s, 2 nodes ÷ 1 node on PostgreSQL at 4:", page)
        self.assertIn("greetings/s, PostgreSQL ÷ SQLite on 1 node at 4:", page)
        self.assertNotIn(POSTGRES.admin_url, json.dumps(data) + page)  # its password, that is
        self.assertEqual(POSTGRES.execute(POSTGRES.admin_url, databases), before)

    @deferred_test
    async def test_nodes_without_postgres(self):
        """Asked for without a PostgreSQL server, scenario 5 says why it does not run."""
        argv = ["-m", "bench", "--smoke", "--scenarios", "nodes", "--results", temp_dir(self)]
        env = {k: v for k, v in os.environ.items() if k != POSTGRES_ENV}
        stdout, stderr, code = await getProcessOutputAndValue(
            sys.executable, argv, env=env, path=str(ROOT)
        )
        self.assertEqual(code, 0, stderr.decode(errors="replace"))
        self.assertIn(f"skipped: no PostgreSQL server to run on (--postgres URL, or {POSTGRES_ENV}",
                      stderr.decode())

    @deferred_test
    async def test_every_scenario_against_examtwist_alone(self):
        """
        Without the peers the bench runs examtwist only, and says so. The plot needs the
        bench extra (matplotlib), which `make bench` installs.
        """
        plot = os.path.join(temp_dir(self), "performance.png") if HAVE_MATPLOTLIB else ""
        data, page, log = await self.bench("--peers", temp_dir(self), plot=plot)
        if plot:
            with open(plot, "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        self.assertIn("examtwist only", log)
        self.assertIn("examtwist only", page)
        by_scenario = {}
        for m in data["measurements"]:
            by_scenario.setdefault(m["scenario"], []).append(m)
        ran = set(SCENARIOS) if HAVE_WRK else set(SCENARIOS) - {"web"}
        self.assertEqual(set(by_scenario), ran)
        servers = {name: {m["server"] for m in ms} for name, ms in by_scenario.items()}
        expected = {"held": {"examtwist"}, "storm": {"examtwist"},
                    "throughput": {"examtwist", "bare LineReceiver"}, "paced": {"examtwist"},
                    "web": {"examtwist", "bare twisted.web"}}
        self.assertEqual(servers, {name: expected[name] for name in ran})
        [held] = by_scenario["held"]
        self.assertGreater(held["metrics"]["rss_per_connection_kib"], 0)
        self.assertGreater(held["metrics"]["probe_p99_ms"], 0)
        [storm] = by_scenario["storm"]
        self.assertGreater(storm["metrics"]["logins_per_s"], 0)
        self.assertGreater(storm["metrics"]["raw_verifies_per_s"], 0)
        for throughput in by_scenario["throughput"]:
            self.assertGreater(throughput["metrics"]["answers_per_s"], 0)
        for web in by_scenario.get("web", []):
            for metric in ("post_rps", "get_rps", "post_p99_ms", "get_p99_ms", "wrk_cpu"):
                self.assertGreater(web["metrics"][metric], 0, metric)
            self.assertEqual(web["metrics"]["failures"], 0)
        if not HAVE_WRK:
            self.assertIn("Scenario 4 (web lookups) skipped: no wrk on PATH", page)
        for name, scenario in SCENARIOS.items():
            if name not in ran:
                continue
            self.assertIn(f"#### {scenario.title}", page)
            self.assertIn(f"| {scenario.load_label} | server |", page)
        self.assertIn("| 20 | examtwist |", page)

    @deferred_test
    async def test_beside_the_threaded_peer(self):
        """With the peers present each round runs both servers, and ratios are quoted."""
        if find_peers(PEERS) is None:
            raise unittest.SkipTest(f"no threaded_examd.py in {PEERS}")
        # The peer's PBKDF2 login takes tens of milliseconds: give it time for a few.
        data, page, log = await self.bench("--peers", str(PEERS), "--scenarios", "storm",
                                           "--duration", "3")
        self.assertEqual([m["server"] for m in data["measurements"]], ["examtwist", "threaded peer"])
        self.assertIn("| 4 | threaded peer |", page)
        self.assertIn("examtwist ÷ threaded peer at 4:", page)

    @deferred_test
    async def test_web_lookups_beside_the_flask_peer(self):
        """Scenario 4 with the Flask peer: three servers each round, ratios to both others."""
        if not HAVE_WRK:
            raise unittest.SkipTest("no wrk on PATH (Debian: apt-get install wrk)")
        peers, why_not = find_web_peer(PEERS)
        if peers is None:
            raise unittest.SkipTest(why_not)
        data, page, log = await self.bench("--peers", str(PEERS), "--scenarios", "web")
        self.assertEqual([m["server"] for m in data["measurements"]],
                         ["examtwist", "Flask peer", "bare twisted.web"])
        self.assertIn("| 4 | Flask peer |", page)
        self.assertIn("POST /handlelogin req/s, examtwist ÷ Flask peer at 4:", page)
        self.assertIn("GET /api/students/<id> req/s, examtwist ÷ bare twisted.web (ceiling) at 4:",
                      page)


WRK_OUTPUT = """\
Running 1s test @ http://127.0.0.1:36669/handlelogin
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.52ms    1.83ms  18.03ms   88.58%
    Req/Sec     3.73k     1.48k    5.95k    70.00%
  Latency Distribution
     50%  870.00us
     75%    1.18ms
     90%    3.88ms
     99%    1.02s
  3711 requests in 1.00s, 1.02MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 37
Requests/sec:   3697.59
Transfer/sec:      1.01MB
"""


class WrkOutputTests(unittest.TestCase):
    def test_read(self):
        """What scenario 4 takes from wrk --latency: rate, percentiles in ms, failures."""
        result = wrk.parse(WRK_OUTPUT, cpu_seconds=0.5, wall_seconds=2.0)
        self.assertEqual((result.requests, result.requests_per_s), (3711, 3697.59))
        self.assertAlmostEqual(result.p50_ms, 0.87)
        self.assertAlmostEqual(result.p99_ms, 1020.0)
        self.assertEqual((result.non_2xx, result.socket_errors), (37, 3))
        self.assertEqual(result.cpu_cores, 0.25)

    def test_unreadable(self):
        with self.assertRaises(wrk.WrkFailed):
            wrk.parse("unable to connect to 127.0.0.1:1 Connection refused\n")
