import gc

from twisted.internet.defer import ensureDeferred
from twisted.internet.testing import MemoryReactor
from twisted.python import usage
from twisted.trial import unittest

from examtwist.passwords import HashCost
from examtwist.service import YOUNG_GENERATION_THRESHOLD
from examtwist.tap import Options, makeService

from tests.support import start_server, temp_db


class OptionsTests(unittest.TestCase):
    def parse(self, *args):
        options = Options()
        options.parseOptions(list(args))
        return options

    def test_defaults(self):
        options = self.parse()
        self.assertEqual(options["exam"], "tcp:6666:interface=127.0.0.1")
        self.assertEqual(options["db"], "examtwist.db")
        self.assertEqual(options["lucky"], 7)
        self.assertEqual(options["idle-timeout"], 600.0)
        self.assertEqual(options["hash-cost"], HashCost(19456, 2))

    def test_values(self):
        options = self.parse("--lucky", "3", "--idle-timeout", "0", "--hash-memory", "1024", "--hash-rounds", "3")
        self.assertEqual((options["lucky"], options["idle-timeout"]), (3, 0.0))
        self.assertEqual(options["hash-cost"], HashCost(1024, 3))

    def test_refused(self):
        for args in [("--lucky", "0"), ("--lucky", "seven"), ("--idle-timeout", "-1"),
                     ("--idle-timeout", "nan"), ("--hash-memory", "4"), ("--hash-threads", "0")]:
            self.assertRaises(usage.UsageError, self.parse, *args)


class MakeServiceTests(unittest.TestCase):
    def test_listens_on_the_endpoint_given(self):
        reactor = MemoryReactor()
        options = Options()
        options.parseOptions(["--exam", "tcp:7777:interface=127.0.0.2", "--db", temp_db(self)])
        service = makeService(options, reactor)
        service.privilegedStartService()
        exam = [(port, interface) for port, factory, _, interface in reactor.tcpServers
                if factory is service.factory]
        self.assertEqual(exam, [(7777, "127.0.0.2")])
        factory = service.factory
        self.assertEqual(factory.counter.lucky, 7)
        self.assertEqual(factory.idle_timeout, 600.0)

    def test_listen_queue_deep_enough_for_a_class(self):
        """A whole class connecting at once fits the listen queue, unless told otherwise."""
        reactor = MemoryReactor()
        options = Options()
        options.parseOptions(["--exam", "tcp:7777", "--web", "tcp:7778:backlog=7", "--db", temp_db(self)])
        makeService(options, reactor).privilegedStartService()
        backlogs = {port: backlog for port, _, backlog, _ in reactor.tcpServers}
        self.assertEqual(backlogs, {7777: 1024, 7778: 7})

    def test_idle_timeout_zero_turns_it_off(self):
        options = Options()
        options.parseOptions(["--idle-timeout", "0", "--db", temp_db(self)])
        self.assertIsNone(makeService(options, MemoryReactor()).factory.idle_timeout)


class GarbageCollectionTests(unittest.TestCase):
    def test_start_tunes_the_collector(self):
        """
        Once started, what start made is out of the collector's full passes and young objects
        are collected less often, so collections do not stall every connection.
        """
        async def go():
            self.addCleanup(gc.set_threshold, *gc.get_threshold())
            gc.unfreeze()
            gc.set_threshold(700, 10, 10)  # Python's defaults
            await start_server(self)
            self.assertGreater(gc.get_freeze_count(), 1000)
            self.assertGreaterEqual(gc.get_threshold()[0], YOUNG_GENERATION_THRESHOLD)
        return ensureDeferred(go())
