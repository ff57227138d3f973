"""
The benchmark (C{make bench}) at its smallest: every scenario runs end to end and writes its
results, so the bench cannot rot. It measures nothing worth reading at this size.

What a scenario needs from outside Python (wrk, the peers in ../shared/peers, a PostgreSQL
server) is skipped for when missing, with the reason; in CI, which has them all, a missing one
fails the test instead (L{tests.support.require}).
"""

import importlib.util
import json
import os
import shutil
import sys

from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial import unittest
from twisted.trial.unittest import SkipTest

from bench import wrk
from bench.cluster import POSTGRES_ENV
from bench.client import UnexpectedReply
from bench.scenarios.ruled import answer_key
from bench.servers import find_peers, find_web_peer
from bench.sitting import ReadingConnection, Sitter, Sitters
from bench.session import ROOT

from tests.support import POSTGRES, require, temp_dir
from tests.support import POSTGRES_ENV as TEST_POSTGRES_ENV

PEERS = ROOT.parent / "shared" / "peers"
PNG = b"\x89PNG\r\n\x1a\n"


def missing_wrk() -> str | None:
    """Scenario 4's load generator, the Debian package."""
    if shutil.which("wrk"):
        return None
    return "no wrk on PATH: scenario 4 (web lookups) needs it (Debian: apt-get install wrk)"


def missing_matplotlib() -> str | None:
    if importlib.util.find_spec("matplotlib"):
        return None
    return ("matplotlib is not installed: the bench draws its plot with it (the test extra:"
            " pip install -c constraints.txt -e '.[test]', as make does)")


def without_peers(testcase) -> None:
    """
    Skip, even in CI, when the peers are not beside the checkout: they are the original design
    rebuilt outside this project, which make test must not need.
    """
    if not find_peers(PEERS):
        raise SkipTest(f"no threaded_examd.py in {PEERS}: the peers come with ../shared beside"
                       " the checkout, outside this project")


def measured(data: dict) -> list[tuple]:
    """Each measurement as what was measured: scenario, server, load, round, metrics' names."""
    return [(m["scenario"], m["server"], m["load"], m["round"], sorted(m["metrics"]))
            for m in data["measurements"]]


def tables(page: str) -> dict[str, list[tuple[str, str]]]:
    """
    Each table of the page under its #### heading, as the first two cells of every row (the
    load and the server), its header first.
    """
    found: dict[str, list[tuple[str, str]]] = {}
    heading = None
    for line in page.splitlines():
        if line.startswith("#### "):
            heading = line[len("#### "):]
            found[heading] = []
        elif line.startswith("| ") and heading:
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            found[heading].append((cells[0], cells[1]))
    return found


HELD = ["generator_cpu", "others_cpu", "probe_p50_ms", "probe_p99_ms", "rss_per_connection_kib",
        "server_cpu", "server_rss_mib", "server_threads"]
STORM = ["generator_cpu", "login_p50_ms", "login_p99_ms", "logins_per_s", "others_cpu",
         "probe_p50_ms", "probe_p99_ms", "raw_verifies_per_s", "server_cpu", "share_of_raw"]
THROUGHPUT = ["answers_per_s", "generator_cpu", "others_cpu", "reply_p50_ms", "reply_p99_ms",
              "server_cpu"]
RULED = ["answers_per_s", "generator_cpu", "graded", "others_cpu", "reply_p50_ms", "reply_p99_ms",
         "server_cpu", "server_us_per_answer", "take_p99_ms", "tests_sat_most"]
PACED = ["answers_per_s", "generator_cpu", "offered_per_s", "others_cpu", "reply_p50_ms",
         "reply_p99_ms", "server_cpu"]
WEB = ["failures", "get_p50_ms", "get_p99_ms", "get_rps", "get_server_cpu", "get_wrk_cpu",
       "others_cpu", "post_p50_ms", "post_p99_ms", "post_rps", "post_server_cpu", "post_wrk_cpu",
       "server_cpu", "server_rss_peak_mib", "wrk_cpu"]
HOSTILE_FLOOD = ["attacker_421", "attacker_454", "attacker_535", "attacker_connect_failures",
                 "attacker_connections", "attacker_replies", "exams_p99_ms", "generator_cpu",
                 "honest_failed", "honest_ok", "honest_refused", "honest_unanswered",
                 "login_p50_ms", "login_p99_ms", "others_cpu", "server_cpu",
                 "server_rss_peak_mib"]
HOSTILE_GUESSING = ["attacker_421", "attacker_454", "attacker_535", "attacker_replies",
                    "generator_cpu", "guesses", "guesses_per_min", "others_cpu", "server_cpu"]
HOSTILE_POST = ["answer_ms", "others_cpu", "probe_p50_ms", "probe_p99_ms", "sent_mib",
                "server_cpu", "server_rss_peak_mib", "status"]
HOSTILE_ROWS = [("stay flood", 8, HOSTILE_FLOOD), ("close flood", 8, HOSTILE_FLOOD),
                ("guessing", 1, HOSTILE_GUESSING), ("20 MiB form POST", 1, HOSTILE_POST),
                ("20 MiB chunked POST", 1, HOSTILE_POST)]
NODES = ["database_cpu", "database_cpu_ms_each", "errors", "generator_cpu", "nodes_cpu",
         "nodes_cpu_ms_each", "others_cpu", "p50_ms", "p99_ms", "per_s"]


class BenchSmokeTests(unittest.TestCase):
    timeout = 180

    async def bench(self, *args, plot="", env=None):
        """
        Run C{python -m bench --smoke} as make bench does, which must exit 0; return its JSON,
        its page and its log.
        """
        out = temp_dir(self)
        page = os.path.join(out, "performance.md")
        argv = ["-m", "bench", "--smoke", "--results", out, "--report", page, "--plot", plot, *args]
        # Scenario 5 runs by default when the environment names a PostgreSQL server: not here.
        env = {k: v for k, v in (env or os.environ).items() if k != POSTGRES_ENV}
        stdout, stderr, code = await getProcessOutputAndValue(
            sys.executable, argv, env=env, path=str(ROOT)
        )
        self.assertEqual(code, 0, stderr.decode(errors="replace"))
        [results] = [name for name in os.listdir(out) if name.endswith(".json")]
        with open(os.path.join(out, results), encoding="utf-8") as f:
            data = json.load(f)
        with open(page, encoding="utf-8") as f:
            return data, f.read(), stderr.decode()

    async def test_nodes_on_postgres(self):
        """
        If scenario 5 runs on the tests' PostgreSQL server with 4 clients, then it measures
        three setups (SQLite on 1 node, PostgreSQL on 1 and 2 nodes) on both workloads without
        an error, the database's CPU on PostgreSQL only, quotes the ratios, shows no password,
        and drops every database it made.
        """
        require(self, POSTGRES.skip)
        if not POSTGRES.admin_url:
            self.fail(f"CI runs the PostgreSQL tests: .ci/run must set {TEST_POSTGRES_ENV}")
        databases = "SELECT datname FROM pg_database WHERE datname LIKE 'examtwist_bench_%'"
        before = POSTGRES.execute(POSTGRES.admin_url, databases)
        data, page, log = await self.bench("--scenarios", "nodes", "--node-clients", "4",
                                           "--postgres", POSTGRES.admin_url)
        setups = ["SQLite, 1 node: sessions", "SQLite, 1 node: greetings",
                  "PostgreSQL, 1 node: sessions", "PostgreSQL, 1 node: greetings",
                  "PostgreSQL, 2 nodes: sessions", "PostgreSQL, 2 nodes: greetings"]
        self.assertEqual(measured(data), [("nodes", setup, 4, 0, NODES) for setup in setups])
        self.assertEqual(
            [(m["server"], m["metrics"]["errors"], m["metrics"]["database_cpu"] is None)
             for m in data["measurements"]],
            [(setup, 0, setup.startswith("SQLite")) for setup in setups],
        )
        for m in data["measurements"]:
            self.assertGreater(m["metrics"]["per_s"], 0, m["server"])
            self.assertGreater(m["metrics"]["generator_cpu"], 0, m["server"])
        self.assertEqual(tables(page), {"5. One node or two, SQLite or PostgreSQL": [
            ("clients", "server"), *(("4", setup) for setup in setups),
        ]})
        self.assertIn("sessions/s, 2 nodes ÷ 1 node on PostgreSQL at 4:", page)
        self.assertIn("greetings/s, PostgreSQL ÷ SQLite on 1 node at 4:", page)
        self.assertNotIn(POSTGRES.admin_url, json.dumps(data) + page)  # its password, that is
        self.assertEqual(POSTGRES.execute(POSTGRES.admin_url, databases), before)

    async def test_nodes_without_postgres(self):
        """
        If scenario 5 is asked for without a PostgreSQL server, then the bench exits 0 and says
        why it does not run: no PostgreSQL server (--postgres URL, or EXAMTWIST_BENCH_POSTGRES).
        """
        argv = ["-m", "bench", "--smoke", "--scenarios", "nodes", "--results", temp_dir(self),
                "--peers", str(PEERS if find_peers(PEERS) else temp_dir(self))]
        env = {k: v for k, v in os.environ.items() if k != POSTGRES_ENV}
        stdout, stderr, code = await getProcessOutputAndValue(
            sys.executable, argv, env=env, path=str(ROOT)
        )
        lines = [line for line in stderr.decode().splitlines()
                 if not line.startswith("No threaded_examd.py in")]
        self.assertEqual((code, lines), (0, [
            "5. One node or two, SQLite or PostgreSQL",
            "  skipped: no PostgreSQL server to run on (--postgres URL, or"
            " EXAMTWIST_BENCH_POSTGRES; scripts/pg-throwaway start DIR --durable prints one)",
        ]))

    async def test_every_scenario_against_examtwist_alone(self):
        """
        If the peers are missing, then the bench says "examtwist only", runs scenarios 1 to 4
        and 6 against examtwist (beside the bare LineReceiver and the bare twisted.web
        ceilings), measures every metric above 0 with no failed web request, tables each
        scenario on the page, and draws the plot as a PNG.
        """
        require(self, missing_matplotlib())
        require(self, missing_wrk())
        no_peers = temp_dir(self)
        plot = os.path.join(temp_dir(self), "performance.png")
        data, page, log = await self.bench("--peers", no_peers, plot=plot)
        with open(plot, "rb") as f:
            self.assertEqual(f.read(8), PNG)
        self.assertIn(f"No threaded_examd.py in {no_peers}: examtwist only, no ratios.",
                      log.splitlines())
        self.assertIn(f"No threaded_examd.py in {no_peers}: examtwist only, no ratios.", page)
        self.assertEqual(measured(data), [
            ("held", "examtwist", 20, 0, HELD),
            ("storm", "examtwist", 4, 0, STORM),
            ("throughput", "examtwist", 8, 0, THROUGHPUT),
            ("throughput", "bare LineReceiver", 8, 0, THROUGHPUT),
            ("paced", "examtwist", 8, 0, PACED),
            ("ruled", "examtwist: math", 8, 0, RULED),
            ("ruled", "examtwist: ruled", 8, 0, RULED),
            ("web", "examtwist", 4, 0, WEB),
            ("web", "bare twisted.web", 4, 0, WEB),
            *(("hostile", f"examtwist: {attack}", load, 0, metrics)
              for attack, load, metrics in HOSTILE_ROWS),
        ])
        for m in data["measurements"]:
            for metric in {"held": ["rss_per_connection_kib", "probe_p99_ms"],
                           "storm": ["logins_per_s", "raw_verifies_per_s"],
                           "throughput": ["answers_per_s"], "paced": ["answers_per_s"],
                           "ruled": ["answers_per_s", "graded"],
                           "web": ["post_rps", "get_rps", "post_p99_ms", "get_p99_ms",
                                   "wrk_cpu"],
                           "hostile": []}[m["scenario"]]:  # test_hostile_students checks it
                self.assertGreater(m["metrics"][metric], 0, (m["server"], metric))
            if m["scenario"] == "web":
                self.assertEqual(m["metrics"]["failures"], 0, m["server"])
        self.assertEqual(tables(page), {
            "1. Held connections": [("held connections", "server"), ("20", "examtwist")],
            "2. Login storm": [("clients", "server"), ("4", "examtwist")],
            "3. Test throughput": [("students", "server"), ("8", "examtwist"),
                                   ("8", "bare LineReceiver")],
            "3b. Test throughput at the peer's best rate": [("students", "server"),
                                                            ("8", "examtwist")],
            "3c. A test with rules beside one without": [
                ("students", "server"), ("8", "examtwist: math"), ("8", "examtwist: ruled"),
            ],
            "4. Web lookups": [("wrk connections", "server"), ("4", "examtwist"),
                               ("4", "bare twisted.web")],
            "6. Hostile students": [
                ("attacker connections", "server"), ("1", "examtwist: guessing"),
                ("1", "examtwist: 20 MiB form POST"), ("1", "examtwist: 20 MiB chunked POST"),
                ("8", "examtwist: stay flood"), ("8", "examtwist: close flood"),
            ],
        })

    async def test_web_lookups_without_wrk(self):
        """
        If wrk is not on PATH, then scenario 4 says it was skipped and why, on the page and in
        the log, and the other scenarios asked for still run.
        """
        env = dict(os.environ, PATH=os.path.dirname(sys.executable))
        data, page, log = await self.bench("--peers", temp_dir(self), "--scenarios", "held,web",
                                           env=env)
        skipped = "Scenario 4 (web lookups) skipped: no wrk on PATH (Debian: apt-get install wrk)."
        self.assertIn(skipped, log.splitlines())
        self.assertIn(f"- {skipped}", page.splitlines())
        self.assertEqual(measured(data), [("held", "examtwist", 20, 0, HELD)])
        self.assertEqual(tables(page), {
            "1. Held connections": [("held connections", "server"), ("20", "examtwist")],
        })

    async def test_beside_the_threaded_peer(self):
        """
        If the peers are present, then the login storm runs examtwist and the threaded peer in
        each round, tables both, and quotes examtwist ÷ threaded peer.
        """
        without_peers(self)
        # The peer's PBKDF2 login takes tens of milliseconds: give it time for a few.
        data, page, log = await self.bench("--peers", str(PEERS), "--scenarios", "storm",
                                           "--duration", "3")
        self.assertEqual(measured(data), [("storm", "examtwist", 4, 0, STORM),
                                          ("storm", "threaded peer", 4, 0, STORM)])
        self.assertEqual(tables(page), {"2. Login storm": [
            ("clients", "server"), ("4", "examtwist"), ("4", "threaded peer"),
        ]})
        self.assertIn("examtwist ÷ threaded peer at 4:", page)

    async def test_web_lookups_beside_the_flask_peer(self):
        """
        If wrk and the Flask peer are present, then scenario 4 runs examtwist, the Flask peer
        and the bare twisted.web ceiling in each round, and quotes examtwist's rate over both.
        """
        require(self, missing_wrk())
        without_peers(self)
        why_not = find_web_peer(PEERS)[1]
        require(self, f"the Flask peer cannot run: {why_not}" if why_not else None)
        data, page, log = await self.bench("--peers", str(PEERS), "--scenarios", "web")
        self.assertEqual(measured(data), [("web", "examtwist", 4, 0, WEB),
                                          ("web", "Flask peer", 4, 0, WEB),
                                          ("web", "bare twisted.web", 4, 0, WEB)])
        self.assertEqual(tables(page), {"4. Web lookups": [
            ("wrk connections", "server"), ("4", "examtwist"), ("4", "Flask peer"),
            ("4", "bare twisted.web"),
        ]})
        self.assertIn("POST /handlelogin req/s, examtwist ÷ Flask peer at 4:", page)
        self.assertIn("GET /api/students/<id> req/s, examtwist ÷ bare twisted.web (ceiling) at 4:",
                      page)

    async def test_ruled_beside_untimed(self):
        """
        If scenario 3c runs beside a baseline tree (this one, as "examtwist same"), then the
        built-in math test and the ruled tests are sat on both in every round, every attempt
        graded as its answers earned, no student runs out of tests, and the page quotes the
        ruled test against math, and each test against the baseline, with a verdict on each of
        the four targets.
        """
        data, page, log = await self.bench("--scenarios", "ruled", "--baseline", f"same={ROOT}",
                                           "--ruled-tests", "1000")
        rows = ["examtwist: math", "examtwist: ruled", "examtwist same: math",
                "examtwist same: ruled"]
        self.assertEqual(measured(data), [("ruled", row, 8, 0, RULED) for row in rows])
        for m in data["measurements"]:
            self.assertGreater(m["metrics"]["graded"], 0, m["server"])
            self.assertGreater(m["metrics"]["answers_per_s"], 0, m["server"])
        for m in data["measurements"]:
            if m["server"].endswith(": ruled"):
                self.assertLess(m["metrics"]["tests_sat_most"], 1000)
        self.assertEqual(tables(page), {"3c. A test with rules beside one without": [
            ("students", "server"), *(("8", row) for row in rows),
        ]})
        quoted = [line.split(" at 8:")[0] for line in page.splitlines() if " at 8: **" in line]
        self.assertEqual(quoted, [
            "- answers/s, ruled ÷ math", "- reply p99, ruled ÷ math",
            "- math answers/s, examtwist ÷ examtwist same",
            "- math reply p99, examtwist ÷ examtwist same",
            "- ruled answers/s, examtwist ÷ examtwist same",
            "- ruled reply p99, examtwist ÷ examtwist same",
        ])
        verdicts = [line.split(":")[0] for line in page.splitlines() if line.startswith("- Target")]
        self.assertEqual(verdicts, [
            "- Target answers/s of the ruled test ≥ 60 % of the untimed test's",
            "- Target reply p99 of the ruled test ≤ 2× the untimed test's",
            "- Target math answers/s ≥ 95 % of examtwist same's",
            "- Target math reply p99 ≤ 105 % of examtwist same's",
        ])

    async def test_hostile_students(self):
        """
        If scenario 6 runs beside a baseline tree (this one, as "examtwist same"), then each
        attack is measured on both in turn; on examtwist, with its limits on, the flood from
        127.0.0.2 meets 454s while every honest student gets in, the guesser's passwords are
        checked (535), each 20 MiB POST is answered 413 (its body refused) or 404 (read to its
        end), and the page tables every attack and gives all ten targets a verdict.
        """
        data, page, log = await self.bench("--scenarios", "hostile", "--baseline",
                                           f"same={ROOT}")
        self.assertEqual(measured(data), [
            ("hostile", f"{server}: {attack}", load, 0, metrics)
            for server in ("examtwist", "examtwist same") for attack, load, metrics in HOSTILE_ROWS
        ])
        rows = {m["server"]: m["metrics"] for m in data["measurements"]}
        for attack in ("stay flood", "close flood"):
            flood = rows[f"examtwist: {attack}"]
            self.assertEqual((flood["honest_failed"], flood["honest_refused"]), (0, {}), attack)
            self.assertGreater(flood["honest_ok"], 0, attack)
            self.assertGreater(flood["login_p99_ms"], 0, attack)
            self.assertGreater(flood["exams_p99_ms"], 0, attack)
            self.assertGreater(flood["attacker_connections"], 0, attack)
        self.assertGreater(rows["examtwist: stay flood"]["attacker_454"], 0)
        self.assertEqual(rows["examtwist: close flood"]["attacker_replies"], {})
        self.assertGreater(rows["examtwist: guessing"]["attacker_535"], 0)
        for post in ("20 MiB form POST", "20 MiB chunked POST"):
            self.assertIn(rows[f"examtwist: {post}"]["status"], (404, 413), post)
            self.assertGreater(rows[f"examtwist: {post}"]["answer_ms"], 0, post)
            self.assertGreater(rows[f"examtwist: {post}"]["probe_p99_ms"], 0, post)
        self.assertEqual(tables(page), {"6. Hostile students": [
            ("attacker connections", "server"),
            *(("1", f"{server}: {attack}") for server in ("examtwist", "examtwist same")
              for attack, load, _ in HOSTILE_ROWS if load == 1),
            *(("8", f"{server}: {attack}") for server in ("examtwist", "examtwist same")
              for attack, load, _ in HOSTILE_ROWS if load == 8),
        ]})
        verdicts = [line.split(":")[0] for line in page.splitlines() if line.startswith("- Target")]
        self.assertEqual(verdicts, [
            "- Target honest login p99 ≤ 1 s while one address floods LOGIN, staying for replies",
            "- Target honest login p99 ≤ 1 s while one address floods LOGIN, closing at once",
            "- Target honest EXAMS p99 ≤ 20 ms during the stay flood",
            "- Target honest EXAMS p99 ≤ 20 ms during the close flood",
            "- Target every honest login gets in during the stay flood",
            "- Target every honest login gets in during the close flood",
            "- Target a 20 MiB form POST answered 413 within 100 ms",
            "- Target a 20 MiB chunked POST answered 413 within 100 ms",
            "- Target exam probe p99 ≤ 20 ms during the 20 MiB form POST",
            "- Target exam probe p99 ≤ 20 ms during the 20 MiB chunked POST",
        ])


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
        """
        If wrk --latency printed 3711 requests at 3697.59/s, p50 870.00us, p99 1.02s, 37
        non-2xx answers and 3 socket errors, using 0.5 s of CPU in 2 s, then scenario 4 reads
        exactly those, the percentiles in ms, and 0.25 cores.
        """
        result = wrk.parse(WRK_OUTPUT, cpu_seconds=0.5, wall_seconds=2.0)
        # The units' conversion may leave a last-digit float error: compare to 9 places.
        rounded = wrk.WrkResult(**{**vars(result), "p50_ms": round(result.p50_ms, 9),
                                   "p99_ms": round(result.p99_ms, 9)})
        self.assertEqual(rounded, wrk.WrkResult(
            requests=3711, requests_per_s=3697.59, p50_ms=0.87, p99_ms=1020.0, non_2xx=37,
            socket_errors=3, cpu_seconds=0.5, wall_seconds=2.0,
        ))
        self.assertEqual(result.cpu_cores, 0.25)

    def test_unreadable(self):
        """If wrk printed only that it could not connect, then reading it fails and says so."""
        with self.assertRaises(wrk.WrkFailed) as failed:
            wrk.parse("unable to connect to 127.0.0.1:1 Connection refused\n")
        self.assertEqual(str(failed.exception), "cannot read wrk's output:\n"
                                                "unable to connect to 127.0.0.1:1 Connection"
                                                " refused\n")


def sitters(time_limit=None) -> Sitters:
    """Students of the math test as scenario 3c gives it, not connected."""
    return Sitters("127.0.0.1", 1, 0, "s", "pw", ["ruled1"], answer_key(),
                   time_limit=time_limit)


def shown(student: Sitter, reply: bytes, number: int) -> Sitter:
    student.connection.text, student.number, student.take = reply, number, b"TAKE ruled1"
    return student


SHUFFLED_Q1 = (b"350-Question 1 of 5\r\n350-Time left: 3599 s\r\n350-What is 12 * 12?\r\n"
               b"350-A) 132\r\n350-B) 124\r\n350-C) 144\r\n350 D) 142\r\n")


class SittingTests(unittest.TestCase):
    """How scenario 3c's students read a question and check a grade (bench.sitting)."""

    def student(self) -> Sitter:
        return Sitter(ReadingConnection(), "ada")

    def test_answer_by_the_text(self):
        """
        If question 1 shows 144, the right choice, under C, then a student answering right
        sends C, and one answering wrong sends A.
        """
        reader = sitters(time_limit=3600)
        sent = [reader._choose(shown(self.student(), SHUFFLED_Q1, 1), right)
                for right in (True, False)]
        self.assertEqual(sent, [b"C", b"A"])

    def test_no_time_left(self):
        """
        If a question of a timed test comes without its "Time left" line, or one of the untimed
        test with one, then reading it fails: the round's figures are void.
        """
        untimed = SHUFFLED_Q1.replace(b"350-Time left: 3599 s\r\n", b"")
        with self.assertRaises(UnexpectedReply):
            sitters(time_limit=3600)._choose(shown(self.student(), untimed, 1), True)
        with self.assertRaises(UnexpectedReply):
            sitters()._choose(shown(self.student(), SHUFFLED_Q1, 1), True)

    def test_wrong_grade(self):
        """
        If 4 of 5 answers were right and the server grades 60.0, then checking the grade
        fails and says both; "80.0 (4/5 correct)" passes.
        """
        student = shown(self.student(), b"250 Your grade is 60.0 (3/5 correct)\r\n", 5)
        student.correct = 4
        with self.assertRaises(UnexpectedReply) as failed:
            sitters()._check_grade(student)
        self.assertEqual(str(failed.exception),
                         "b'TAKE ruled1': graded b'250 Your grade is 60.0 (3/5 correct)\\r\\n',"
                         " earned b'250 Your grade is 80.0 (4/5 correct)\\r\\n'")
        student.connection.text = b"250 Your grade is 80.0 (4/5 correct)\r\n"
        self.assertIsNone(sitters()._check_grade(student))
