"""
The twistd plugin without a network: its options, the service tree makeService builds on a
MemoryReactor, and what the process root tunes only when twistd starts it (the garbage
collector, the open-files limit).
"""

from __future__ import annotations

import gc
import resource

from twisted.internet.testing import MemoryReactor
from twisted.logger import capturedLogs, formatEvent
from twisted.python import usage
from twisted.trial import unittest
from twisted.web.server import Site

import examtwist.service
from examtwist.counting import InMemoryCounter, SharedCounter
from examtwist.desk import ExamDesk
from examtwist.passwords import HashCost, PasswordHasher
from examtwist.examport import ExamFactory
from examtwist.service import ExamServer, ListeningService, raise_open_files_limit
from examtwist.strength import PasswordRules
from examtwist.tap import Options, makeService

from tests.support import CHEAP_HASH, start_server, temp_db


def parse(*args: str) -> Options:
    options = Options()
    options.parseOptions(list(args))
    return options


def built(testcase, *args: str, reactor=None) -> ExamServer:
    """makeService on a MemoryReactor, from these options and a temp SQLite file."""
    return makeService(parse("--db", temp_db(testcase), *args), reactor or MemoryReactor())


class OptionsTests(unittest.SynchronousTestCase):
    def test_defaults(self) -> None:
        """
        If no option is given, then the exam listens on tcp:6666, the web app on tcp:5000 and
        the teacher's area on tcp:5001 (loopback), the data is in examtwist.db, the 7th
        connection is lucky, idle ones close after 600 s, and passwords are hashed at
        m=19456 KiB, t=2, 2 at a time.
        """
        options = parse()
        self.assertEqual(
            {key: options[key] for key in ["exam", "web", "teacher", "db", "lucky",
                                           "idle-timeout", "hash-memory", "hash-rounds",
                                           "hash-threads", "hash-cost"]},
            {"exam": "tcp:6666:interface=127.0.0.1", "web": "tcp:5000:interface=127.0.0.1",
             "teacher": "tcp:5001:interface=127.0.0.1", "db": "examtwist.db", "lucky": 7,
             "idle-timeout": 600.0, "hash-memory": 19456, "hash-rounds": 2, "hash-threads": 2,
             "hash-cost": HashCost(19456, 2)},
        )

    def test_values(self) -> None:
        """
        If --lucky 3 --idle-timeout 0 --hash-memory 65536 --hash-rounds 3 are given, then those
        are the values, and the hash cost is m=65536, t=3; a cheaper cost is taken with
        --insecure-hash-cost.
        """
        options = parse("--lucky", "3", "--idle-timeout", "0", "--hash-memory", "65536",
                        "--hash-rounds", "3")
        self.assertEqual((options["lucky"], options["idle-timeout"]), (3, 0.0))
        self.assertEqual(options["hash-cost"], HashCost(65536, 3))
        cheap = parse("--hash-memory", "1024", "--hash-rounds", "1", "--insecure-hash-cost")
        self.assertEqual(cheap["hash-cost"], HashCost(1024, 1))

    def test_password_rules(self) -> None:
        """
        If nothing is said, then a new password needs 8 characters and a zxcvbn score of 2;
        --min-password-length 1 --min-password-score 0 give version 1's rule back.
        """
        self.assertEqual(parse()["password-rules"], PasswordRules(8, 2))
        self.assertEqual(
            parse("--min-password-length", "1", "--min-password-score", "0")["password-rules"],
            PasswordRules(1, 0),
        )

    def test_refused(self) -> None:
        """If an option's value is out of its range, then parsing fails and says why."""
        refusals = {
            ("--lucky", "0"): "Parameter type enforcement failed: must be 1 or more",
            ("--lucky", "seven"): "Parameter type enforcement failed: invalid literal for int()"
                                  " with base 10: 'seven'",
            ("--idle-timeout", "-1"): "Parameter type enforcement failed: must be 0 or more",
            ("--idle-timeout", "nan"): "Parameter type enforcement failed: must be 0 or more",
            ("--hash-memory", "4"): "argon2 needs at least 8 KiB of memory",
            ("--hash-memory", "19455"): "--hash-memory 19455 --hash-rounds 2 is below OWASP's"
                                        " minimum for argon2id (m=19456 KiB, t=2); give"
                                        " --insecure-hash-cost to use it anyway",
            ("--hash-rounds", "1"): "--hash-memory 19456 --hash-rounds 1 is below OWASP's"
                                    " minimum for argon2id (m=19456 KiB, t=2); give"
                                    " --insecure-hash-cost to use it anyway",
            ("--min-password-score", "5"): "a zxcvbn score is 0 to 4",
            ("--hash-threads", "0"): "Parameter type enforcement failed: must be 1 or more",
            ("--db", "mysql://x/y"): "--db: mysql:// is no database examtwist knows: give a"
                                     " SQLite file or postgresql://user@host:port/dbname",
        }
        for args, message in refusals.items():
            error = self.assertRaises(usage.UsageError, parse, *args)
            self.assertEqual(str(error), message, args)


class MakeServiceTests(unittest.SynchronousTestCase):
    def test_the_tree(self) -> None:
        """
        If makeService is given the defaults, then the root holds the desk first (on the file
        given, hashing at m=19456, t=2, counting in memory with 7 lucky) and then the exam and
        web listeners, then the teacher's area's; the exam protocol uses that desk and closes
        idle connections at 600 s.
        """
        reactor = MemoryReactor()
        db = temp_db(self)
        service = makeService(parse("--db", db), reactor)
        self.assertIsInstance(service, ExamServer)
        desk, exam, web, teacher = service
        self.assertEqual(teacher.what, "Teacher area")
        self.assertIsInstance(desk, ExamDesk)
        self.assertIs(service.desk, desk)
        self.assertEqual((desk.store.path, desk.store.shared), (db, False))
        self.assertEqual(desk.hasher.cost, HashCost(19456, 2))
        self.assertIsInstance(desk.counter, InMemoryCounter)
        self.assertEqual(desk.lucky, 7)
        self.assertIsInstance(exam, ListeningService)
        self.assertEqual((exam.what, exam.factory), ("Exam service", service.factory))
        self.assertIsInstance(service.factory, ExamFactory)
        self.assertEqual(
            (service.factory.desk, service.factory.reactor, service.factory.idle_timeout),
            (desk, reactor, 600.0),
        )
        self.assertIsInstance(web, ListeningService)
        self.assertEqual(web.what, "Web app")
        self.assertIsInstance(web.factory, Site)

    def test_postgresql_counts_in_the_database(self) -> None:
        """
        If --db is a PostgreSQL URL and --lucky 4, then the desk counts connections in that
        database (shared by every node), with the 4th lucky; nothing connects before start.
        """
        service = makeService(
            parse("--db", "postgresql://examtwist:secret@db.invalid:5432/exams", "--lucky", "4"),
            MemoryReactor(),
        )
        self.assertEqual(service.desk.store.shared, True)
        self.assertIsInstance(service.desk.counter, SharedCounter)
        self.assertEqual(service.desk.lucky, 4)

    def test_hasher_given(self) -> None:
        """If makeService is given a hasher, then the desk hashes with that one."""
        hasher = PasswordHasher(MemoryReactor(), CHEAP_HASH)
        service = makeService(parse("--db", temp_db(self)), MemoryReactor(), hasher=hasher)
        self.assertIs(service.desk.hasher, hasher)

    def test_listens_on_the_endpoint_given(self) -> None:
        """
        If --exam is tcp:7777:interface=127.0.0.2, then the exam protocol listens on port 7777
        of 127.0.0.2, with a listen queue of 1024.
        """
        reactor = MemoryReactor()
        service = built(self, "--exam", "tcp:7777:interface=127.0.0.2", reactor=reactor)
        _, exam, *_ = service
        exam.privilegedStartService()
        self.assertEqual(reactor.tcpServers, [(7777, service.factory, 1024, "127.0.0.2")])

    def test_listen_queue_deep_enough_for_a_class(self) -> None:
        """
        If an endpoint does not set a backlog, then it listens with 1024 (a whole class
        connecting at once fits); one that sets backlog=7 keeps 7.
        """
        reactor = MemoryReactor()
        service = built(self, "--exam", "tcp:7777", "--web", "tcp:7778:backlog=7",
                        "--teacher", "none", reactor=reactor)
        for listener in list(service)[1:]:
            listener.privilegedStartService()
        backlogs = {port: backlog for port, _, backlog, _ in reactor.tcpServers}
        self.assertEqual(backlogs, {7777: 1024, 7778: 7})

    def test_port_taken_fails_the_start(self) -> None:
        """If the exam port cannot be bound, then starting its listener raises at once."""
        from twisted.internet.error import CannotListenError

        class TakenReactor(MemoryReactor):
            def listenTCP(self, port, factory, backlog=50, interface=""):
                raise CannotListenError(interface, port, OSError("Address already in use"))

        _, exam, *_ = built(self, "--exam", "tcp:7777", reactor=TakenReactor())
        self.assertRaises(CannotListenError, exam.privilegedStartService)
        self.assertIsNone(exam.port)

    def test_teacher_none(self) -> None:
        """If --teacher is none (in any case), then the root holds no teacher's listener."""
        for value in ("none", "NONE"):
            self.assertEqual([child.what for child in list(built(self, "--teacher", value))[1:]],
                             ["Exam service", "Web app"])

    def test_idle_timeout_zero_turns_it_off(self) -> None:
        """If --idle-timeout is 0, then idle connections are never closed (no timeout: None)."""
        self.assertIsNone(built(self, "--idle-timeout", "0").factory.idle_timeout)


class FakeResource:
    """The C{resource} module's open-files calls, on limits of the test's choosing."""

    RLIMIT_NOFILE = resource.RLIMIT_NOFILE
    RLIM_INFINITY = resource.RLIM_INFINITY

    def __init__(self, soft: int, hard: int, refuse: Exception | None = None) -> None:
        self.limits = (soft, hard)
        self.refuse = refuse
        self.set_calls: list[tuple[int, tuple[int, int]]] = []

    def getrlimit(self, which: int) -> tuple[int, int]:
        assert which == resource.RLIMIT_NOFILE
        return self.limits

    def setrlimit(self, which: int, limits: tuple[int, int]) -> None:
        self.set_calls.append((which, limits))
        if self.refuse is not None:
            raise self.refuse
        self.limits = limits


class OpenFilesTests(unittest.SynchronousTestCase):
    def raised(self, fake: FakeResource) -> list[str]:
        """What raising the limit asked of C{fake}, and what it logged."""
        self.patch(examtwist.service, "resource", fake)
        with capturedLogs() as events:
            raise_open_files_limit()
        return [formatEvent(event) for event in events]

    def test_raised_to_the_hard_limit(self) -> None:
        """If the soft limit is 1024 of a hard 524288, then it is raised to 524288, and logged."""
        fake = FakeResource(1024, 524288)
        self.assertEqual(self.raised(fake), ["Raised the open-files limit from 1024 to 524288"])
        self.assertEqual(fake.set_calls, [(resource.RLIMIT_NOFILE, (524288, 524288))])

    def test_unlimited_hard_limit(self) -> None:
        """If the hard limit is unlimited, then the soft limit is raised to 1048576."""
        fake = FakeResource(1024, resource.RLIM_INFINITY)
        self.assertEqual(self.raised(fake), ["Raised the open-files limit from 1024 to 1048576"])
        self.assertEqual(fake.set_calls,
                         [(resource.RLIMIT_NOFILE, (1048576, resource.RLIM_INFINITY))])

    def test_already_at_the_limit(self) -> None:
        """If the soft limit is the hard one (4096), then nothing is changed or logged."""
        fake = FakeResource(4096, 4096)
        self.assertEqual(self.raised(fake), [])
        self.assertEqual(fake.set_calls, [])

    def test_refused(self) -> None:
        """If the system refuses, then the start goes on, and the warning says from what."""
        fake = FakeResource(1024, 4096, refuse=ValueError("not allowed"))
        self.assertEqual(self.raised(fake),
                         ["Could not raise the open-files limit from 1024: not allowed"])
        self.assertEqual(fake.set_calls, [(resource.RLIMIT_NOFILE, (4096, 4096))])


class GarbageCollectionTests(unittest.TestCase):
    def collector_at_python_defaults(self) -> None:
        """Nothing frozen and Python's thresholds, until the test ends; then as before."""
        self.addCleanup(gc.set_threshold, *gc.get_threshold())
        self.addCleanup(gc.unfreeze)
        gc.unfreeze()
        gc.set_threshold(700, 10, 10)

    def test_twistd_start_tunes_the_collector(self) -> None:
        """
        If twistd starts the service (privilegedStartService), then what start made is frozen
        out of the collector's full passes (over 1000 objects) and young objects are collected
        every 5000 allocations instead of 700; the open-files limit is raised too.
        """
        self.collector_at_python_defaults()
        fake = FakeResource(1024, 4096)
        self.patch(examtwist.service, "resource", fake)
        service = built(self)
        service.privilegedStartService()
        self.assertGreater(gc.get_freeze_count(), 1000)
        self.assertEqual(gc.get_threshold(), (5000, 10, 10))
        self.assertEqual(fake.set_calls, [(resource.RLIMIT_NOFILE, (4096, 4096))])

    async def test_start_alone_leaves_the_collector_alone(self) -> None:
        """
        If the service is started with startService alone (as a test in its own process
        does), then nothing is frozen, the thresholds stay 700, 10, 10, and the open-files
        limit is not touched.
        """
        self.collector_at_python_defaults()
        fake = FakeResource(1024, 4096)
        self.patch(examtwist.service, "resource", fake)
        service, port = await start_server(self)
        self.assertTrue(service.running)
        self.assertEqual(gc.get_freeze_count(), 0)
        self.assertEqual(gc.get_threshold(), (700, 10, 10))
        self.assertEqual(fake.set_calls, [])
