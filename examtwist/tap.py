"""
The twistd plugin's options and C{makeService}: the one place that reads the configuration and
wires the parts together.
"""

from __future__ import annotations

from twisted.internet.endpoints import serverFromString
from twisted.python import usage
from twisted.web.server import Site

from examtwist.counting import counter_for
from examtwist.engines import URL_FORM, check_database
from examtwist.passwords import QUEUE, QUEUE_PER_ADDRESS, HashCost, PasswordHasher
from examtwist.protocol import ExamFactory
from examtwist.desk import ExamDesk
from examtwist.service import ExamServer, ListeningService
from examtwist.store import Store
from examtwist.web import StudentLookup


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


def _bound(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("must be 0 or more")
    return number


_positive_int.coerceDoc = "Must be 1 or more."
_bound.coerceDoc = "0 turns it off."
_seconds.coerceDoc = "Seconds; 0 turns it off."


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
        ["db", None, "examtwist.db",
         f"SQLite database file (created if missing), or a PostgreSQL database: {URL_FORM}."],
        ["lucky", None, 7, "Which connection gets the lucky greeting.", _positive_int],
        ["idle-timeout", None, 600.0, "Close connections idle this long.", _seconds],
        ["hash-memory", None, HashCost.memory_kib, "Argon2id memory per hash, in KiB.", _positive_int],
        ["hash-rounds", None, HashCost.rounds, "Argon2id passes over that memory.", _positive_int],
        ["hash-threads", None, 2, "Threads hashing passwords at once.", _positive_int],
        ["hash-queue", None, QUEUE,
         "Password checks that may wait for a hash thread; more get 421 Server busy.", _bound],
        ["hash-queue-per-address", None, QUEUE_PER_ADDRESS,
         "Of those, how many may come from one client address.", _bound],
    ]

    def postOptions(self) -> None:
        try:
            self["hash-cost"] = HashCost(self["hash-memory"], self["hash-rounds"])
        except ValueError as e:
            raise usage.UsageError(str(e)) from e
        check_database(self["db"])


# Twisted listens with a backlog of 50. A class connecting at once overflows that, and a client
# whose handshake falls out of a full queue can wait for a greeting that never comes.
LISTEN_BACKLOG = 1024


def listening_endpoint(reactor, description: str):
    """An endpoint from its string, with a deeper listen queue unless the string sets one."""
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
    desk = ExamDesk(store, hasher, counter_for(store, config["lucky"]))
    factory = ExamFactory(reactor, desk, config["idle-timeout"])
    root = ExamServer(reactor, desk, factory)
    exam_endpoint = listening_endpoint(reactor, config["exam"])
    ListeningService("Exam service", exam_endpoint, factory).setServiceParent(root)
    site = Site(StudentLookup(desk, reactor).resource())
    site.noisy = False
    web_endpoint = listening_endpoint(reactor, config["web"])
    ListeningService("Web app", web_endpoint, site).setServiceParent(root)
    return root
