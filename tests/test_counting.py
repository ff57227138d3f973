from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.defer import gatherResults
from twisted.trial import unittest

from examtwist.counting import InMemoryCounter, SharedCounter, counter_for, ordinal
from examtwist.wire import format_address

from tests.support import OnPostgres, open_store


class OrdinalTests(unittest.TestCase):
    def test_words_up_to_ten(self):
        self.assertEqual(
            [ordinal(n) for n in range(1, 11)],
            ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"],
        )

    def test_digits_with_suffix(self):
        """protocol.md's examples, plus the teens that break the last-digit rule."""
        cases = {11: "11th", 12: "12th", 13: "13th", 21: "21st", 22: "22nd", 23: "23rd",
                 101: "101st", 111: "111th", 112: "112th", 1000: "1000th", 1002: "1002nd"}
        self.assertEqual({n: ordinal(n) for n in cases}, cases)


class FormatAddressTests(unittest.TestCase):
    def test_ipv4(self):
        self.assertEqual(format_address(IPv4Address("TCP", "127.0.0.1", 38184)), "127.0.0.1:38184")

    def test_ipv6_in_brackets(self):
        self.assertEqual(format_address(IPv6Address("TCP", "::1", 38184)), "[::1]:38184")

    def test_mapped_ipv4_shown_as_ipv4(self):
        self.assertEqual(format_address(IPv6Address("TCP", "::ffff:10.1.2.3", 5)), "10.1.2.3:5")

    def test_unix_socket(self):
        self.assertEqual(format_address(UNIXAddress(b"/run/exam.sock")), "/run/exam.sock")


class InMemoryCounterTests(unittest.TestCase):
    def count(self, counter, n):
        return [self.successResultOf(counter.count(f"10.0.0.{i}:{1000 + i}")) for i in range(1, n + 1)]

    def test_numbers_from_one(self):
        self.assertEqual([c.number for c in self.count(InMemoryCounter(7), 9)], list(range(1, 10)))

    def test_only_the_lucky_one_gets_the_list(self):
        """The lucky connection sees every counted address in order, its own last."""
        counted = self.count(InMemoryCounter(3), 5)
        self.assertEqual([c.lucky_addresses for c in counted[:2] + counted[3:]], [None] * 4)
        self.assertEqual(counted[2].lucky_addresses, ["10.0.0.1:1001", "10.0.0.2:1002", "10.0.0.3:1003"])

    def test_lucky_first(self):
        self.assertEqual(self.count(InMemoryCounter(1), 1)[0].lucky_addresses, ["10.0.0.1:1001"])

    def test_keeps_no_more_than_needed(self):
        """Later connections are counted, not stored."""
        counter = InMemoryCounter(2)
        self.count(counter, 1000)
        self.assertEqual(counter.counted, 1000)
        self.assertEqual(len(counter._addresses), 2)

    def test_lucky_must_be_positive(self):
        self.assertRaises(ValueError, InMemoryCounter, 0)


class SharedCounterTests(unittest.TestCase):
    """
    The count that nodes sharing a database keep in it. Each store here stands for a node: its
    own pool of connections to the one database. (The queries are the same on SQLite, where a
    server counts in memory; they run here on both.)
    """

    async def nodes(self, n=2):
        first = await open_store(self)
        return [first] + [await open_store(self, first.path) for _ in range(n - 1)]

    async def test_numbers_follow_across_nodes(self):
        a, b = await self.nodes()
        counters = [SharedCounter(a, 3), SharedCounter(b, 3)]
        counted = [await counters[i % 2].count(f"10.0.0.{i}:{1000 + i}") for i in range(1, 6)]
        self.assertEqual([c.number for c in counted], [1, 2, 3, 4, 5])
        self.assertEqual([c.lucky_addresses for c in counted[:2] + counted[3:]], [None] * 4)
        self.assertEqual(counted[2].lucky_addresses, ["10.0.0.1:1001", "10.0.0.2:1002", "10.0.0.3:1003"])

    async def test_counted_at_once_on_two_nodes(self):
        """
        Sixty connections counted at the same time on two nodes get the numbers 1 to 60, each
        once; the lucky one lists the addresses of numbers 1 to 7, in that order.
        """
        a, b = await self.nodes()
        counters = [SharedCounter(a, 7), SharedCounter(b, 7)]
        addresses = [f"10.0.{i % 2}.{i}:{2000 + i}" for i in range(60)]
        counted = await gatherResults(
            [counters[i % 2].count(address) for i, address in enumerate(addresses)]
        )
        self.assertEqual(sorted(c.number for c in counted), list(range(1, 61)))
        by_number = {c.number: address for c, address in zip(counted, addresses)}
        [lucky] = [c for c in counted if c.lucky_addresses is not None]
        self.assertEqual(lucky.number, 7)
        self.assertEqual(lucky.lucky_addresses, [by_number[n] for n in range(1, 8)])

    async def test_count_outlives_the_node(self):
        """The count belongs to the database: a node's restart goes on from where it was."""
        a, = await self.nodes(1)
        for i in range(3):
            await SharedCounter(a, 7).count(f"10.0.0.{i}:1")
        await a.close()
        again = await open_store(self, a.path)
        self.assertEqual((await SharedCounter(again, 7).count("10.0.0.9:1")).number, 4)
        self.assertEqual((await again.connection_count()).counted, 4)

    async def test_restart(self):
        """After a restart the next connection is the first, and only new addresses are listed."""
        a, b = await self.nodes()
        for i in range(5):
            await SharedCounter(a, 2).count(f"10.0.0.{i}:1")
        before = await a.connection_count()
        await b.restart_count()
        after = await a.connection_count()
        self.assertEqual(after.counted, 0)
        self.assertGreaterEqual(after.since, before.since)
        first = await SharedCounter(b, 2).count("10.9.9.1:1")
        second = await SharedCounter(a, 2).count("10.9.9.2:2")
        self.assertEqual((first.number, second.number), (1, 2))
        self.assertEqual(second.lucky_addresses, ["10.9.9.1:1", "10.9.9.2:2"])

    async def test_lucky_must_be_positive(self):
        a, = await self.nodes(1)
        self.assertRaises(ValueError, SharedCounter, a, 0)


class CounterChoiceTests(unittest.TestCase):
    backend_counter = InMemoryCounter

    async def test_counter_for_the_database(self):
        """A server alone on its SQLite file counts in memory; nodes on PostgreSQL share a count."""
        store = await open_store(self)
        counter = counter_for(store, 5)
        self.assertIsInstance(counter, self.backend_counter)
        self.assertEqual(counter.lucky, 5)


class PostgresSharedCounterTests(OnPostgres, SharedCounterTests):
    pass


class PostgresCounterChoiceTests(OnPostgres, CounterChoiceTests):
    backend_counter = SharedCounter
