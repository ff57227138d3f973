"""
The twistd plugin's options and C{makeService}: the one place that reads the configuration and
wires the parts together.
"""

from __future__ import annotations

from twisted.internet.endpoints import serverFromString
from twisted.python import usage

from examtwist.counting import counter_for
from examtwist.storage.engines import URL_FORM, check_database
from examtwist.passwords import MINIMUM, QUEUE, QUEUE_PER_ADDRESS, HashCost, PasswordHasher
from examtwist.strength import PasswordRules
from examtwist.examport import ExamFactory
from examtwist.metered import MeteredDesk
from examtwist.metrics import CountedRequests, ExamMetrics, metrics_site
from examtwist.proxied import ProxiedEndpoint
from examtwist.ratelimit import RateLimit
from examtwist.desk import REGISTRATION_MODES, ExamDesk
from examtwist.service import ExamServer, ListeningService
from examtwist.storage import Store
from examtwist.teacherweb import teacher_site
from examtwist.testbank import DEFAULT_HEARTBEAT, DEFAULT_RESUME_WINDOW
from examtwist.throttle import FREE_FAILURES, Throttle
from examtwist.web import StudentLookup
from examtwist.webguard import GuardedSite, WebLimits, parse_proxies


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError("must be 1 or more")
    return number


def _seconds(value: str) -> float:
    number = float(value)
    if not number >= 0:
        raise ValueError("must be 0 or more")
    return number


def _registration(value: str) -> str:
    if value not in REGISTRATION_MODES:
        raise ValueError(f"use one of {', '.join(REGISTRATION_MODES)}")
    return value


def _positive_seconds(value: str) -> float:
    seconds = float(value)
    if not seconds > 0:
        raise ValueError("must be a number of seconds above 0")
    return seconds


def _count(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("must be 0 or more")
    return number


_positive_int.coerceDoc = "Must be 1 or more."
_count.coerceDoc = "0 turns it off."
_seconds.coerceDoc = "Seconds; 0 turns it off."
_registration.coerceDoc = "open, roster or closed."


class Options(usage.Options):
    synopsis = "[options]"
    longdesc = (
        "Run the examtwist exam server. Endpoints are Twisted endpoint strings: "
        "tcp:6666:interface=0.0.0.0 for every IPv4 interface, tcp6:6666:interface=\\:\\: for "
        "IPv6, ssl:6666:privateKey=key.pem:certKey=cert.pem for TLS."
    )
    optParameters = [
        ["exam", None, "tcp:6666:interface=127.0.0.1", "Endpoint of the exam service."],
        ["web", None, "tcp:5000:interface=127.0.0.1", "Endpoint of the student ID lookup web app."],
        ["teacher", None, "tcp:5001:interface=127.0.0.1",
         "Endpoint of the teacher's web area (sign-in, tests, grades); none turns it off."],
        ["metrics", None, None,
         "Endpoint of Prometheus' /metrics page, e.g. tcp:9464:interface=127.0.0.1 (none:"
         " no metrics)."],
        ["db", None, "examtwist.db",
         f"SQLite database file (created if missing), or a PostgreSQL database: {URL_FORM}."],
        ["lucky", None, 7, "Which connection gets the lucky greeting.", _positive_int],
        ["idle-timeout", None, 600.0, "Close connections idle this long.", _seconds],
        ["registration", None, "open",
         "Who may REGISTER: open (anyone), roster (the names `examtwist roster import` put on"
         " the class roster), closed (nobody: `examtwist users add` makes accounts).",
         _registration],
        ["resume-window", None, float(DEFAULT_RESUME_WINDOW),
         "Seconds a suspended attempt of a test without a time limit may be continued; then it"
         " is recorded abandoned.", _positive_seconds],
        ["heartbeat", None, float(DEFAULT_HEARTBEAT),
         "Seconds between this server's \"alive\" in the database; an attempt held on a"
         " server silent for three of them (killed, say) counts as suspended since.",
         _positive_seconds],
        ["max-per-address", None, 1000,
         "Connections one address may hold open on the exam port; the next is told 421 and"
         " closed, uncounted.", _count],
        ["connect-burst", None, 600,
         "Connections one address may open on the exam port at once; then one more each"
         " --connect-interval (more are told 421 and closed, uncounted).", _count],
        ["connect-interval", None, 0.02,
         "Seconds after which an address may open one more exam connection.", _seconds],
        ["hash-memory", None, HashCost.memory_kib, "Argon2id memory per hash, in KiB.", _positive_int],
        ["hash-rounds", None, HashCost.rounds, "Argon2id passes over that memory.", _positive_int],
        ["hash-threads", None, 2, "Threads hashing passwords at once.", _positive_int],
        ["min-password-length", None, PasswordRules.min_length,
         "Characters a new account's password needs.", _count],
        ["min-password-score", None, PasswordRules.min_score,
         "The zxcvbn score (0 to 4) a new account's password needs; 0 judges nothing.", int],
        ["hash-queue", None, QUEUE,
         "Password checks that may wait for a hash thread; more get 421 Server busy.", _count],
        ["hash-queue-per-address", None, QUEUE_PER_ADDRESS,
         "Of those, how many may come from one client address.", _count],
        ["login-backoff", None, 1.0,
         f"After {FREE_FAILURES} failed logins in a row of one username from one address, its"
         " next LOGIN waits this long, doubled by each further failure.", _seconds],
        ["login-backoff-max", None, 60.0, "The longest wait of that back-off.", _seconds],
        ["max-failures-per-address", None, 300,
         "Failed logins one address may make in --failures-window, whatever the usernames;"
         " then one more each window/N seconds.", _count],
        ["failures-window", None, 300.0, "Seconds of --max-failures-per-address.", _seconds],
        ["max-registrations-per-address", None, 600,
         "Accounts one address may register in --registrations-window; then one more each"
         " window/N seconds.", _count],
        ["registrations-window", None, 3600.0,
         "Seconds of --max-registrations-per-address.", _seconds],
        ["throttle-table-size", None, 50_000,
         "Addresses (and usernames per address) each throttle remembers; at the cap the one"
         " seen longest ago is forgotten.", _positive_int],
        ["web-max-body", None, WebLimits.max_body,
         "Largest request body on the web port, in bytes; a larger one gets 413.", _count],
        ["web-max-header", None, WebLimits.max_header,
         "Largest request line and headers on the web port, in bytes (Twisted's own 16384"
         " always holds).", _count],
        ["web-request-timeout", None, WebLimits.request_timeout,
         "Seconds a web request has to arrive whole, from the connection's opening or the"
         " previous answer.", _seconds],
        ["web-max-per-address", None, WebLimits.max_per_address,
         "Open web connections from one client address.", _count],
        ["lookup-burst", None, 30, "ID lookups one client address may make at once.", _count],
        ["lookup-interval", None, 10.0,
         "Seconds after which a client address may make one more ID lookup.", _seconds],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["trusted-proxy"] = ()

    def opt_trusted_proxy(self, value: str) -> None:
        """A web proxy's address or network; its X-Forwarded-For is believed. Repeatable."""
        try:
            self["trusted-proxy"] += parse_proxies(value)
        except ValueError as e:
            raise usage.UsageError(f"--trusted-proxy: {e}") from e

    optFlags = [
        ["insecure-hash-cost", None,
         "Allow --hash-memory below 19456 or --hash-rounds below 2 (OWASP's minimum): for"
         " tests and benchmarks, never for students' passwords."],
    ]

    def postOptions(self) -> None:
        try:
            self["hash-cost"] = HashCost(self["hash-memory"], self["hash-rounds"])
            self["password-rules"] = PasswordRules(
                self["min-password-length"], self["min-password-score"]
            )
        except ValueError as e:
            raise usage.UsageError(str(e)) from e
        if self["hash-cost"].insecure and not self["insecure-hash-cost"]:
            raise usage.UsageError(
                f"--hash-memory {self['hash-memory']} --hash-rounds {self['hash-rounds']} is below"
                f" OWASP's minimum for argon2id (m={MINIMUM.memory_kib} KiB, t={MINIMUM.rounds});"
                " give --insecure-hash-cost to use it anyway"
            )
        check_database(self["db"])


# Twisted listens with a backlog of 50. A class connecting at once overflows that, and a client
# whose handshake falls out of a full queue can wait for a greeting that never comes.
LISTEN_BACKLOG = 1024


PROXIED = "haproxy:"


def listening_endpoint(reactor, description: str):
    """
    An endpoint from its string, with a deeper listen queue unless the string sets one. One
    that starts C{haproxy:} reads each connection's PROXY header before the protocol sees it
    (L{ProxiedEndpoint}), and listens on the endpoint the rest of the string describes.
    """
    if description[:len(PROXIED)].lower() == PROXIED:
        return ProxiedEndpoint(reactor, listening_endpoint(reactor, description[len(PROXIED):]))
    kind = description.split(":", 1)[0]
    if kind in ("tcp", "tcp6", "ssl") and "backlog=" not in description:
        description = f"{description}:backlog={LISTEN_BACKLOG}"
    return serverFromString(reactor, description)


def makeService(config: Options, reactor=None, hasher: PasswordHasher | None = None) -> ExamServer:
    """
    Build the whole server from the options: the desk that owns the exam, and the line
    protocol and the web app over it. C{reactor} and C{hasher} are for tests.
    """
    if reactor is None:
        from twisted.internet import reactor
    store = Store(reactor, config["db"])
    if hasher is None:
        hasher = PasswordHasher(
            reactor, config["hash-cost"], threads=config["hash-threads"],
            queue=config["hash-queue"], per_address=config["hash-queue-per-address"],
        )
    throttle = _throttle(reactor, config)
    desk = ExamDesk(store, hasher, counter_for(store, config["lucky"]), throttle,
                    config["password-rules"], clock=reactor,
                    registration=config["registration"], resume_window=config["resume-window"],
                    heartbeat=config["heartbeat"])
    metrics = ExamMetrics(reactor) if config["metrics"] else None
    arrivals = RateLimit(reactor, config["connect-burst"], config["connect-interval"])
    factory = ExamFactory(reactor, desk if metrics is None else MeteredDesk(desk, metrics),
                          config["idle-timeout"], config["max-per-address"], arrivals)
    root = ExamServer(reactor, desk, factory)
    exam_endpoint = listening_endpoint(reactor, config["exam"])
    ListeningService("Exam service", exam_endpoint, factory, config["exam"]).setServiceParent(root)
    lookups = RateLimit(reactor, config["lookup-burst"], config["lookup-interval"])
    limits = WebLimits(
        max_body=config["web-max-body"], max_header=config["web-max-header"],
        request_timeout=config["web-request-timeout"],
        max_per_address=config["web-max-per-address"], trusted_proxies=config["trusted-proxy"],
    )
    app = StudentLookup(desk, reactor, limit=lookups).resource()
    if metrics is not None:
        app = CountedRequests(app, StudentLookup.app.url_map, metrics)
    site = GuardedSite(app, limits, reactor=reactor)
    site.noisy = False
    web_endpoint = listening_endpoint(reactor, config["web"])
    ListeningService("Web app", web_endpoint, site, config["web"]).setServiceParent(root)
    if config["teacher"].lower() != "none":
        # Teachers' sign-ins are throttled by the same rules as students' logins, apart.
        teachers = teacher_site(desk, _throttle(reactor, config), reactor, limits,
                                RateLimit(reactor, SIGN_IN_BURST, SIGN_IN_INTERVAL))
        ListeningService("Teacher area", listening_endpoint(reactor, config["teacher"]), teachers,
                         config["teacher"]).setServiceParent(root)
    if metrics is not None:
        metrics.attach(factory, hasher, store)
        metrics_endpoint = listening_endpoint(reactor, config["metrics"])
        ListeningService("Metrics", metrics_endpoint, metrics_site(metrics),
                         config["metrics"]).setServiceParent(root)
    return root


# The sign-in page, which makes a session for each new visitor: so many at once per client
# address, then one more every so many seconds.
SIGN_IN_BURST = 30
SIGN_IN_INTERVAL = 2.0


def _throttle(reactor, config: Options) -> Throttle:
    return Throttle(
        reactor,
        login_backoff=config["login-backoff"],
        login_backoff_max=config["login-backoff-max"],
        failures_per_address=config["max-failures-per-address"],
        failures_window=config["failures-window"],
        registrations_per_address=config["max-registrations-per-address"],
        registrations_window=config["registrations-window"],
        size=config["throttle-table-size"],
    )
