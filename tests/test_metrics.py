"""
Prometheus metrics (C{--metrics}): the whole service in this process with its /metrics page on
127.0.0.1, read with prometheus_client's own parser after real sessions; and the hooks the
metrics read, in units.
"""

from __future__ import annotations

import socket

import treq
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.trial import unittest

from examtwist.fairqueue import FairQueue
from examtwist.lines import OrderedLineReceiver
from examtwist.metrics import Tally
from examtwist.service import CannotStart
from examtwist.tap import Options, makeService
from examtwist.testbank import Rules

from tests.support import (
    MATH_KEY, connect, eventually, listening_port, server_options, start_server, temp_db,
)
from tests.test_password_queue import AtOnce, DrivenPool

METRICS = ["--metrics", "tcp:0:interface=127.0.0.1"]


async def scrape(service) -> dict:
    """GET /metrics of a running service: its families by name, as the library parses them."""
    port = listening_port(service, "Metrics")
    response = await treq.get(f"http://127.0.0.1:{port}/metrics", persistent=False)
    text = (await response.content()).decode()
    return {family.name: family for family in text_string_to_metric_families(text)}


def values(families: dict, name: str, label: str | None = None) -> dict | float:
    """The C{name} samples' values by the value of C{label}, or the one value."""
    samples = [s for s in families[name].samples if s.name == name + "_total"
               or s.name == name or s.name == name + "_count"]
    if label is None:
        [sample] = samples
        return sample.value
    return {s.labels[label]: s.value for s in samples}


def counts(families: dict, name: str, label: str) -> dict:
    """How many observations a histogram has, by the value of C{label}, zeros left out."""
    return {s.labels[label]: s.value for s in families[name].samples
            if s.name == name + "_count" and s.value}


async def web_get(service, path: str) -> int:
    port = listening_port(service, "Web app")
    response = await treq.get(f"http://127.0.0.1:{port}{path}", persistent=False)
    await response.content()
    return response.code


class ScrapedTests(unittest.TestCase):
    async def test_a_session_counted(self):
        """
        If ada registers, leaves, comes back, logs in with a wrong then the right password,
        takes math with one line that is no answer among the five answers, quits, and the web
        port is asked for /healthz, a student and a page that is not there, then /metrics
        says: logins ok 1 and bad_password 1, registrations ok 1, 5 answers, 1 attempt graded,
        2 connections taken in and none open, reply times of 1 REGISTER, 2 LOGINs, 1 TAKE, 6
        answer lines and 2 QUITs, 3 password checks (1 hash, 2 verifies) in each phase, the
        queries that read the password hash twice and wrote the result once, and the web
        requests by route and status; with the library's process and Python collectors.
        """
        service, port = await start_server(self, *METRICS)
        first = await connect(port)
        self.assertEqual((await first.ask("REGISTER ada pw")).code, 231)
        await first.ask("QUIT")
        client = await connect(port)
        codes = [(await client.ask(line)).code for line in [
            "LOGIN ada wrong", "LOGIN ada pw", "TAKE math", MATH_KEY[0], "maybe",
            *MATH_KEY[1:], "QUIT"]]
        self.assertEqual(codes, [535, 230, 350, 350, 501, 350, 350, 350, 250, 221])
        await client.closed
        self.assertEqual([await web_get(service, path) for path in
                          ["/healthz", "/api/students/42", "/no/such/page"]], [200, 404, 404])
        await eventually(lambda: not service.factory.connections)
        families = await scrape(service)
        self.assertEqual(
            {
                "logins": values(families, "examtwist_logins", "outcome"),
                "registrations": values(families, "examtwist_registrations", "outcome"),
                "attempts": values(families, "examtwist_attempts", "outcome"),
                "answers": values(families, "examtwist_answers"),
                "connections": values(families, "examtwist_connections"),
                "open": values(families, "examtwist_connections_open"),
                "queue depth": values(families, "examtwist_password_queue_depth"),
                "replies": counts(families, "examtwist_reply_seconds", "command"),
                "password checks": counts(families, "examtwist_password_check_seconds", "phase"),
                "queries": {query: n for query, n in
                            counts(families, "examtwist_db_seconds", "query").items()
                            if query in ("get_password_hash", "record_results", "add_user")},
                "web": {(s.labels["route"], s.labels["status"]): s.value
                        for s in families["examtwist_web_requests"].samples
                        if s.name == "examtwist_web_requests_total"},
                "library": sorted({"process_cpu_seconds", "python_info",
                                   "python_gc_collections"} & set(families)),
            },
            {
                "logins": {"ok": 1, "bad_password": 1, "throttled": 0, "busy": 0},
                "registrations": {"ok": 1, "taken": 0, "weak_password": 0, "throttled": 0,
                                  "busy": 0, "closed": 0, "not_on_roster": 0},
                "attempts": {"graded": 1, "time_up": 0, "abandoned": 0},
                "answers": 5,
                "connections": 2,
                "open": 0,
                "queue depth": 0,
                "replies": {"REGISTER": 1, "LOGIN": 2, "TAKE": 1, "answer": 6, "QUIT": 2},
                "password checks": {"queue": 3, "hash": 3},
                "queries": {"get_password_hash": 2, "record_results": 1, "add_user": 1},
                "web": {("/healthz", "200"): 1, ("/api/students/<raw_id>", "404"): 1,
                        ("other", "404"): 1},
                "library": ["process_cpu_seconds", "python_gc_collections", "python_info"],
            },
        )

    async def test_refusals_counted(self):
        """
        If a server allows three registrations and one failed login per address and asks 8
        characters of a new password, and from one address a short password is refused (501),
        ada registers, takes math and QUITs during it, Ada is refused as taken (553), bob is
        held back (454), a wrong password for ada fails (535) and the right one is then held
        back (454), then /metrics counts registrations ok 1, taken 1, weak_password 1,
        throttled 1; logins bad_password 1, throttled 1; attempts abandoned 1.
        """
        service, port = await start_server(
            self, *METRICS, "--min-password-length", "8", "--max-registrations-per-address",
            "3", "--max-failures-per-address", "1")
        client = await connect(port)
        replies = [(await client.ask(line)).code for line in [
            "REGISTER ada short", "REGISTER ada a-long-password", "TAKE math", "QUIT"]]
        other = await connect(port)
        replies += [(await other.ask(line)).code for line in [
            "REGISTER Ada another-long-one", "REGISTER bob another-long-one",
            "LOGIN ada wrong", "LOGIN ada a-long-password"]]
        self.assertEqual(replies, [501, 231, 350, 221, 553, 454, 535, 454])
        families = await scrape(service)
        self.assertEqual(
            (values(families, "examtwist_registrations", "outcome"),
             values(families, "examtwist_logins", "outcome"),
             values(families, "examtwist_attempts", "outcome")),
            ({"ok": 1, "taken": 1, "weak_password": 1, "throttled": 1, "busy": 0, "closed": 0,
              "not_on_roster": 0},
             {"ok": 0, "bad_password": 1, "throttled": 1, "busy": 0},
             {"graded": 0, "time_up": 0, "abandoned": 1}),
        )

    async def test_rules_counted(self):
        """
        If registration is limited to a roster holding only ada, math has a 1 s time limit,
        bob is refused (554) and ada answers one question and lets the time run out, then
        /metrics counts registrations ok 1 and not_on_roster 1, 1 answer and 1 attempt
        time_up.
        """
        service, port = await start_server(self, *METRICS, "--registration", "roster")
        store = service.desk.store
        await store.add_to_roster(["ada"])
        await store.set_rules("math", Rules(time_limit=1))
        client = await connect(port)
        replies = [(await client.ask(line)).code for line in [
            "REGISTER bob pw", "REGISTER ada pw", "TAKE math", MATH_KEY[0]]]
        replies.append((await client.reply()).lines)
        self.assertEqual(replies, [554, 231, 350, 350,
                                   ("Time is up", "Your grade is 20.0 (1/5 correct)")])
        families = await scrape(service)
        self.assertEqual(
            (values(families, "examtwist_registrations", "outcome"),
             values(families, "examtwist_answers"),
             values(families, "examtwist_attempts", "outcome")),
            ({"ok": 1, "taken": 0, "weak_password": 0, "throttled": 0, "busy": 0, "closed": 0,
              "not_on_roster": 1}, 1, {"graded": 0, "time_up": 1, "abandoned": 0}),
        )

    async def test_metrics_port_taken(self):
        """
        If the metrics port is taken, then the server does not start (CannotStart naming
        the endpoint) and its exam port, which could listen, is closed again: a connection
        to it is refused.
        """
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        self.addCleanup(taken.close)
        where = f"tcp:{taken.getsockname()[1]}:interface=127.0.0.1"
        service = makeService(server_options(self, "--metrics", where), reactor)
        with self.assertRaises(CannotStart) as raised:
            service.startService()
        exam = next(c for c in service if getattr(c, "what", None) == "Exam service")
        self.assertEqual(
            (str(raised.exception).startswith(f"could not listen on {where}: "), exam.port),
            (True, None))


class OptionTests(unittest.TestCase):
    def test_off_by_default(self):
        """If --metrics is not given, then the server has no Metrics listener."""
        options = Options()
        options.parseOptions(["--db", temp_db(self)])
        service = makeService(options, MemoryReactorClock())
        self.assertEqual((options["metrics"], [child.what for child in service
                                               if hasattr(child, "what")]),
                         (None, ["Exam service", "Web app", "Teacher area"]))

    def test_endpoint(self):
        """
        If --metrics tcp:9464:interface=127.0.0.1 is given, then the server has a listener
        "Metrics" on that endpoint as written, after the teacher's area.
        """
        options = Options()
        options.parseOptions(["--db", temp_db(self), "--metrics", "tcp:9464:interface=127.0.0.1"])
        service = makeService(options, MemoryReactorClock())
        self.assertEqual([(child.what, child.where) for child in service if hasattr(child, "what")],
                         [("Exam service", "tcp:6666:interface=127.0.0.1"),
                          ("Web app", "tcp:5000:interface=127.0.0.1"),
                          ("Teacher area", "tcp:5001:interface=127.0.0.1"),
                          ("Metrics", "tcp:9464:interface=127.0.0.1")])


class Lines(OrderedLineReceiver):
    """Lines that answer at once, except "wait", answered when the test fires C{pending}."""

    def handleLine(self, line):
        if line == b"wait":
            self.pending = Deferred()
            return self.pending
        self.transport.write(line + b"\n")


class Meter:
    def __init__(self) -> None:
        self.told: list = []

    def __call__(self, lines, line: bytes):
        return Seen(self.told, line)


class Seen:
    def __init__(self, told: list, line: bytes) -> None:
        self.told, self.line = told, line

    def observe(self, seconds: float) -> None:
        self.told.append((self.line, seconds))


class HookTests(unittest.TestCase):
    def test_lines_timed(self):
        """
        If a line is answered at once and another 0.25 s later by the clock, then the meter is
        told each line with 0.0 and 0.25 seconds; with no meter, lines are handled alike.
        """
        clock = MemoryReactorClock()
        meter = Meter()
        lines = Lines()
        lines.clock, lines.lineMeter = clock, meter
        lines.makeConnection(StringTransport())
        lines.dataReceived(b"now\nwait\n")
        clock.advance(0.25)
        lines.pending.callback(None)
        plain = Lines()
        plain.clock = clock
        plain.makeConnection(StringTransport())
        plain.dataReceived(b"now\n")
        self.assertEqual((meter.told, plain.transport.value()),
                         ([(b"now", 0.0), (b"wait", 0.25)], b"now\n"))

    def test_password_queue_timed(self):
        """
        If a job runs 2 s on the only thread, another waits for it from 1 s in and then runs
        0.5 s, then the queue's timer is told (0.0, 2.0) and (1.0, 0.5): waited, ran.
        """
        clock, pool = Clock(), DrivenPool()

        class Reactor(AtOnce):
            seconds = clock.seconds

        queue = FairQueue(Reactor(), pool, workers=1)
        told = []
        queue.timed = lambda waited, ran: told.append((waited, ran))
        queue.submit("a", lambda: 1)
        clock.advance(1.0)
        queue.submit("b", lambda: 2)
        clock.advance(1.0)
        pool.finish()
        clock.advance(0.5)
        pool.finish()
        self.assertEqual(told, [(0.0, 2.0), (1.0, 0.5)])

    def test_tally_buckets(self):
        """
        If 0.0001, 0.003, 0.003 and 20 seconds are observed, then the buckets are cumulative
        with the bound itself inside its bucket and 20 only in +Inf, and the sum is 20.0061.
        """
        tally = Tally((0.0001, 0.001, 0.01))
        for seconds in (0.0001, 0.003, 0.003, 20):
            tally.observe(seconds)
        buckets, total = tally.buckets()
        self.assertEqual((buckets, round(total, 6)),
                         ([("0.0001", 1), ("0.001", 1), ("0.01", 3), ("+Inf", 4)], 20.0061))
