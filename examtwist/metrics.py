"""
Prometheus metrics of a server process (C{--metrics}): every metric's definition, the hooks
that keep them, and the web site that serves C{/metrics} through prometheus_client's Twisted
C{MetricsResource}.

The registry is the server's own, not prometheus_client's global one, so that two servers in
one process (the tests) never count into each other's; it holds the library's process,
platform and garbage-collection collectors too.

Where each metric comes from, so the exam's own code stays unaware of them:
 - logins, registrations, answers, attempts and connections: L{examtwist.metered.MeteredDesk},
   which stands for the exam desk before the exam port and reads the outcome of each call;
 - each line's reply time: L{examtwist.lines.OrderedLineReceiver.lineMeter};
 - each query's time: L{examtwist.storage.running.Transactions.timing};
 - password checks: the hasher's queue (L{examtwist.passwords.PasswordHasher.observe_checks});
 - web requests: L{CountedRequests} around the web app's resource.

A line's reply time and the answers are kept on the reactor thread in plain lists (L{Tally})
and handed to the library as metric families when scraped: the library's C{Histogram} takes
a lock for each observation, a few per cent of a line's cost in scenario 3.
"""

from __future__ import annotations

from bisect import bisect_left

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.twisted import MetricsResource
from twisted.web.resource import Resource
from twisted.web.server import Site


__all__ = ["ExamMetrics", "CountedRequests", "Tally", "metrics_site"]

# Seconds: a line's reply (an answer takes well under a millisecond, a LOGIN a hash).
REPLY_BUCKETS = (.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1.0,
                 2.5, 5.0, 10.0)
PASSWORD_BUCKETS = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1.0, 2.5, 5.0, 10.0, 30.0)
DB_BUCKETS = (.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1.0, 2.5, 5.0, 10.0)

# The label of a line: its verb when the protocol has it, "answer" during a test (but for
# QUIT and HELP), "other" for anything else, so a client cannot make new series.
VERBS = ("REGISTER", "LOGIN", "EXAMS", "TAKE", "INFO", "RESULTS", "HELP", "QUIT")
ANSWER, OTHER = "answer", "other"
_KEEP_MEANING = (b"QUIT", b"HELP")

LOGINS = ("ok", "bad_password", "throttled", "busy")
REGISTRATIONS = ("ok", "taken", "weak_password", "throttled", "busy", "closed", "not_on_roster")
ATTEMPTS = ("graded", "time_up", "abandoned")
# A refusal of REGISTER, by its exception: a refusal class whose C{outcome} attribute names
# one of REGISTRATIONS (closed, not_on_roster) is counted under it too.
class Tally:
    """
    A histogram kept on one thread with no lock: the count of each bucket, then the sum, in
    one list, which C{list()} copies whole for a scrape from another thread.
    """

    __slots__ = ("bounds", "counts")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts: list[float] = [0] * (len(bounds) + 2)  # the buckets, +Inf, the sum

    def observe(self, seconds: float) -> None:
        counts = self.counts
        counts[bisect_left(self.bounds, seconds)] += 1
        counts[-1] += seconds

    def buckets(self) -> tuple[list[tuple[str, float]], float]:
        """Cumulative (le, count) pairs as the exposition format wants them, and the sum."""
        counts = list(self.counts)
        total, pairs = 0, []
        for bound, count in zip((*map(str, self.bounds), "+Inf"), counts):
            total += count
            pairs.append((bound, total))
        return pairs, counts[-1]


class ExamMetrics:
    """
    The metrics of one server, in a registry of its own (L{registry}). Make it, give its
    hooks to the parts (L{attach}), and serve L{registry} (L{metrics_site}).

    @ivar clock: what times queries (the reactor's C{seconds}).
    """

    def __init__(self, clock) -> None:
        self.clock = clock
        self.registry = registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        self.answers = 0
        self._replies = {verb: Tally(REPLY_BUCKETS) for verb in (*VERBS, ANSWER, OTHER)}
        self._by_verb = {verb.encode(): self._replies[verb] for verb in VERBS}
        self._answer = self._replies[ANSWER]
        self._queries: dict[object, Tally] = {}
        self._query_names: dict[str, Tally] = {}
        registry.register(_HotPath(self))
        self.connections_open = Gauge(
            "examtwist_connections_open", "Connections open on the exam port.",
            registry=registry)
        self.connections = Counter(
            "examtwist_connections", "Connections the exam port took in (and greeted).",
            registry=registry)
        self.logins = _labelled(Counter(
            "examtwist_logins", "LOGINs whose password was checked or refused, by outcome.",
            ["outcome"], registry=registry), LOGINS)
        self.registrations = _labelled(Counter(
            "examtwist_registrations", "REGISTERs past the usage check, by outcome.",
            ["outcome"], registry=registry), REGISTRATIONS)
        self.attempts = _labelled(Counter(
            "examtwist_attempts", "Attempts of a test that ended, by how.", ["outcome"],
            registry=registry), ATTEMPTS)
        self.password_checks = _labelled(Histogram(
            "examtwist_password_check_seconds",
            "Password checks (hashes, verifies, strength judgements): seconds waiting for a"
            " hash thread (phase=queue) and in it (phase=hash).",
            ["phase"], buckets=PASSWORD_BUCKETS, registry=registry), ("queue", "hash"))
        self.password_queue_depth = Gauge(
            "examtwist_password_queue_depth", "Password checks waiting for a hash thread.",
            registry=registry)
        self.web_requests = Counter(
            "examtwist_web_requests", "Answered web requests, by route and status.",
            ["route", "status"], registry=registry)

    def attach(self, factory, hasher, store) -> None:
        """
        Read the open connections and the waiting password checks when scraped, and time
        each password check, each line (of every connection C{factory} makes from now on)
        and each query of C{store}.
        """
        self.connections_open.set_function(lambda: len(factory.connections))
        self.password_queue_depth.set_function(lambda: hasher.waiting)
        hasher.observe_checks(self.password_checked)
        factory.lineMeter = self.line_tally
        store.timing = self.timed_query

    # The hooks

    def line_tally(self, protocol, line: bytes) -> Tally:
        """Where a line's reply time goes (L{examtwist.lines}), named before it is handled."""
        if protocol.attempt is not None and (
            len(line) < 4 or line.partition(b" ")[0].upper() not in _KEEP_MEANING
        ):
            return self._answer  # most lines: an answer is a letter
        return self._by_verb.get(line.partition(b" ")[0].upper()) or self._replies[OTHER]

    def password_checked(self, waited: float, hashed: float) -> None:
        self.password_checks["queue"].observe(waited)
        self.password_checks["hash"].observe(hashed)

    def timed_query(self, interaction, work):
        """
        C{work} is the Deferred of a storage interaction starting now: its time goes to the
        histogram of the interaction's name.
        """
        tally = self._queries.get(interaction)
        if tally is None:
            tally = self._query_tally(interaction)
        return work.addBoth(_observed, tally, self.clock.seconds(), self.clock)

    def _query_tally(self, interaction) -> Tally:
        # A batch of calls (examtwist.storage.batching) is named for the interaction it runs.
        name = getattr(getattr(interaction, "__self__", None), "query", None)
        name = name or getattr(interaction, "__name__", OTHER)
        tally = self._query_names.get(name)
        if tally is None:
            tally = self._query_names[name] = Tally(DB_BUCKETS)
        if len(self._queries) < 1000:  # bound methods are made afresh: remember a few
            self._queries[interaction] = tally
        return tally

    def web_request(self, route: str, status: int) -> None:
        self.web_requests.labels(route, str(status)).inc()


def _labelled(metric, values: tuple[str, ...]) -> dict:
    """Every label value's child, made now, so each series shows 0 before its first event."""
    return {value: metric.labels(value) for value in values}


def _observed(result, tally: Tally, started: float, clock):
    tally.observe(clock.seconds() - started)
    return result


class _HotPath:
    """The metrics kept without the library's locks, as the library's metric families."""

    def __init__(self, metrics: ExamMetrics) -> None:
        self._metrics = metrics

    def describe(self):
        return []

    def collect(self):
        metrics = self._metrics
        yield CounterMetricFamily(
            "examtwist_answers", "Answers to a question of a test, taken and kept.",
            value=metrics.answers)
        yield _histogram(
            "examtwist_reply_seconds",
            "Seconds from handling a line of the exam port to writing its reply, by command"
            " (answer: a line during a test).", "command", metrics._replies)
        yield _histogram(
            "examtwist_db_seconds",
            "Seconds from a storage interaction's call to its result, waiting for a database"
            " thread and committing included, by its name.", "query", metrics._query_names)


def _histogram(name: str, documentation: str, label: str, tallies: dict) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, documentation, labels=[label])
    for value, tally in list(tallies.items()):
        buckets, total = tally.buckets()
        family.add_metric([value], buckets, total)
    return family


class CountedRequests(Resource):
    """
    The web app's resource, each request counted once answered, by the route it matched
    (its pattern, as C{/api/students/<raw_id>}; C{other} when none) and its status.
    """

    isLeaf = True

    def __init__(self, inner, url_map, metrics: ExamMetrics) -> None:
        super().__init__()
        self._inner = inner
        self._routes = url_map.bind("localhost")
        self._metrics = metrics

    def render(self, request):
        request.notifyFinish().addBoth(self._answered, request)
        return self._inner.render(request)

    def _answered(self, _, request) -> None:
        try:
            rule, _ = self._routes.match(
                request.path.decode("utf-8", "replace"), request.method.decode("latin-1"),
                return_rule=True)
            route = rule.rule
        except Exception:  # no route, another method, a redirect: werkzeug raises them all
            route = OTHER
        self._metrics.web_request(route, request.code)


class _Unlogged(Site):
    """A site whose requests are not logged: a scrape every few seconds is not news."""

    noisy = False

    def log(self, request) -> None:
        pass


def metrics_site(metrics: ExamMetrics) -> Site:
    """
    The site of C{--metrics}: C{/metrics} in Prometheus' text format, nothing else. The
    library renders it in the reactor's thread pool (C{MetricsResource} is a WSGI app).
    """
    root = Resource()
    root.putChild(b"metrics", MetricsResource(metrics.registry))
    return _Unlogged(root)
