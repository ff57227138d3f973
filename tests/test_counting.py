"""
Counting connections for the lucky greeting: the words for a number, how an address is
written (examtwist.wire), and the two counters, in memory and shared through the database.
"""

from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.defer import gatherResults
from twisted.trial import unittest

from examtwist.counting import Counted, InMemoryCounter, SharedCounter, counter_for, ordinal
from examtwist.wire import format_address, host_port

from tests.support import OnPostgres, open_store

SINCE = r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z"


class OrdinalTests(unittest.TestCase):
    def test_words_up_to_ten(self):
        """If the lucky one is the 1st to the 10th, then the greeting spells it as a word."""
        self.assertEqual(
            [ordinal(n) for n in range(1, 11)],
            ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
             "tenth"],
        )

    def test_digits_with_suffix(self):
        """
        If the lucky one is past the 10th, then it is digits and a suffix, as protocol.md's
        examples: 11th, 21st, 22nd, 23rd, 101st; the teens break the last-digit rule: 111th.
        """
        cases = {11: "11th", 12: "12th", 13: "13th", 21: "21st", 22: "22nd", 23: "23rd",
                 101: "101st", 111: "111th", 112: "112th", 1000: "1000th", 1002: "1002nd"}
        self.assertEqual({n: ordinal(n) for n in cases}, cases)


class HostPortTests(unittest.TestCase):
    def test_ipv4(self):
        """If the host is 127.0.0.1 and the port 38184, then it is written 127.0.0.1:38184."""
        self.assertEqual(host_port("127.0.0.1", 38184), "127.0.0.1:38184")

    def test_ipv6_in_brackets(self):
        """If the host is ::1, then it is written in brackets: [::1]:38184."""
        self.assertEqual(host_port("::1", 38184), "[::1]:38184")

    def test_mapped_ipv4_shown_as_ipv4(self):
        """
        If an IPv4 peer comes in on an IPv6 socket as ::ffff:10.0.0.1, then it is written as
        the IPv4 address it is: 10.0.0.1:38184.
        """
        self.assertEqual(host_port("::ffff:10.0.0.1", 38184), "10.0.0.1:38184")

    def test_mapped_prefix_without_ipv4_stays_ipv6(self):
        """If the host is ::ffff:a00:1 (no dotted IPv4 in it), then it stays [::ffff:a00:1]."""
        self.assertEqual(host_port("::ffff:a00:1", 38184), "[::ffff:a00:1]:38184")


class FormatAddressTests(unittest.TestCase):
    def test_ipv4(self):
        """If a connection comes from 127.0.0.1 port 38184, then it is "127.0.0.1:38184"."""
        self.assertEqual(format_address(IPv4Address("TCP", "127.0.0.1", 38184)), "127.0.0.1:38184")

    def test_ipv6_in_brackets(self):
        """If a connection comes from ::1 port 38184, then it is "[::1]:38184"."""
        self.assertEqual(format_address(IPv6Address("TCP", "::1", 38184)), "[::1]:38184")

    def test_mapped_ipv4_shown_as_ipv4(self):
        """
        If an IPv4 connection from 10.0.0.1 arrives on an IPv6 socket (::ffff:10.0.0.1), then
        it is "10.0.0.1:38184".
        """
        self.assertEqual(format_address(IPv6Address("TCP", "::ffff:10.0.0.1", 38184)),
                         "10.0.0.1:38184")

    def test_unix_socket(self):
        """If a connection comes over the UNIX socket /run/exam.sock, then it is its path."""
        self.assertEqual(format_address(UNIXAddress(b"/run/exam.sock")), "/run/exam.sock")


def lucky_list(n: int) -> list[str]:
    """The addresses L{InMemoryCounterTests.count} gives connections 1 to C{n}."""
    return [f"10.0.0.{i}:{1000 + i}" for i in range(1, n + 1)]


class InMemoryCounterTests(unittest.TestCase):
    def count(self, counter, n):
        return [self.successResultOf(counter.count(address)) for address in lucky_list(n)]

    def test_numbers_from_one(self):
        """
        If nine connections are counted with 7 as the lucky number, then they are numbered 1 to
        9, and only the 7th gets the list of the first seven addresses.
        """
        self.assertEqual(self.count(InMemoryCounter(7), 9), [
            Counted(1, None), Counted(2, None), Counted(3, None), Counted(4, None),
            Counted(5, None), Counted(6, None),
            Counted(7, ["10.0.0.1:1001", "10.0.0.2:1002", "10.0.0.3:1003", "10.0.0.4:1004",
                        "10.0.0.5:1005", "10.0.0.6:1006", "10.0.0.7:1007"]),
            Counted(8, None), Counted(9, None),
        ])

    def test_only_the_lucky_one_gets_the_list(self):
        """
        If five connections are counted with 3 as the lucky number, then the 3rd sees every
        counted address in order, its own last, and the others see none.
        """
        self.assertEqual(self.count(InMemoryCounter(3), 5), [
            Counted(1, None), Counted(2, None),
            Counted(3, ["10.0.0.1:1001", "10.0.0.2:1002", "10.0.0.3:1003"]),
            Counted(4, None), Counted(5, None),
        ])

    def test_lucky_first(self):
        """If the lucky number is 1, then the first connection gets a list of its own address."""
        self.assertEqual(self.count(InMemoryCounter(1), 1), [Counted(1, ["10.0.0.1:1001"])])

    def test_keeps_no_more_than_needed(self):
        """
        If 1000 connections are counted with 2 as the lucky number, then the count is 1000 and
        only the first 2 addresses are kept.
        """
        counter = InMemoryCounter(2)
        self.count(counter, 1000)
        self.assertEqual((counter.counted, counter._addresses),
                         (1000, ["10.0.0.1:1001", "10.0.0.2:1002"]))

    def test_lucky_must_be_positive(self):
        """If the lucky number is 0, then the counter is refused: it must be 1 or more."""
        with self.assertRaises(ValueError) as refused:
            InMemoryCounter(0)
        self.assertEqual(str(refused.exception), "the lucky number must be 1 or more")


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
        """
        If five connections alternate between two nodes with 3 as the lucky number, then they
        are numbered 1 to 5 across both, and the 3rd lists the first three addresses.
        """
        a, b = await self.nodes()
        counters = [SharedCounter(a, 3), SharedCounter(b, 3)]
        counted = [await counters[i % 2].count(f"10.0.0.{i}:{1000 + i}") for i in range(1, 6)]
        self.assertEqual(counted, [
            Counted(1, None), Counted(2, None),
            Counted(3, ["10.0.0.1:1001", "10.0.0.2:1002", "10.0.0.3:1003"]),
            Counted(4, None), Counted(5, None),
        ])

    async def test_counted_at_once_on_two_nodes(self):
        """
        If sixty connections are counted at the same time on two nodes, then they get the
        numbers 1 to 60, each once; only the 7th gets a list: the addresses of numbers 1 to 7,
        in that order.
        """
        a, b = await self.nodes()
        counters = [SharedCounter(a, 7), SharedCounter(b, 7)]
        addresses = [f"10.0.{i % 2}.{i}:{2000 + i}" for i in range(60)]
        counted = await gatherResults(
            [counters[i % 2].count(address) for i, address in enumerate(addresses)]
        )
        self.assertEqual(sorted(c.number for c in counted), list(range(1, 61)))
        by_number = {c.number: address for c, address in zip(counted, addresses)}
        self.assertEqual([c for c in counted if c.lucky_addresses is not None],
                         [Counted(7, [by_number[n] for n in range(1, 8)])])

    async def test_count_outlives_the_node(self):
        """
        If a node counts three connections and restarts, then the next connection is the 4th:
        the count belongs to the database.
        """
        a, = await self.nodes(1)
        for i in range(3):
            await SharedCounter(a, 7).count(f"10.0.0.{i}:1")
        await a.close()
        again = await open_store(self, a.path)
        self.assertEqual(await SharedCounter(again, 7).count("10.0.0.9:1"), Counted(4, None))
        count = await again.connection_count()
        self.assertEqual(count.counted, 4)
        self.assertRegex(count.since, SINCE)

    async def test_restart(self):
        """
        If the count is restarted after five connections, then it is 0 from now, the next
        connection on either node is the 1st, and the 2nd (lucky) lists only the new addresses.
        """
        a, b = await self.nodes()
        for i in range(5):
            await SharedCounter(a, 2).count(f"10.0.0.{i}:1")
        before = await a.connection_count()
        await b.restart_count()
        after = await a.connection_count()
        self.assertEqual(after.counted, 0)
        self.assertRegex(after.since, SINCE)
        self.assertGreaterEqual(after.since, before.since)
        first = await SharedCounter(b, 2).count("10.9.9.1:1")
        second = await SharedCounter(a, 2).count("10.9.9.2:2")
        self.assertEqual([first, second],
                         [Counted(1, None), Counted(2, ["10.9.9.1:1", "10.9.9.2:2"])])

    async def test_lucky_must_be_positive(self):
        """If the lucky number is 0, then the shared counter is refused too."""
        a, = await self.nodes(1)
        with self.assertRaises(ValueError) as refused:
            SharedCounter(a, 0)
        self.assertEqual(str(refused.exception), "the lucky number must be 1 or more")


class CounterChoiceTests(unittest.TestCase):
    backend_counter = InMemoryCounter

    async def test_counter_for_the_database(self):
        """
        If a server is alone on its SQLite file, then it counts in memory; if nodes share
        PostgreSQL, then they share a count; either way with the lucky number asked for, 5.
        """
        store = await open_store(self)
        counter = counter_for(store, 5)
        self.assertEqual((type(counter), counter.lucky), (self.backend_counter, 5))


class PostgresSharedCounterTests(OnPostgres, SharedCounterTests):
    pass


class PostgresCounterChoiceTests(OnPostgres, CounterChoiceTests):
    backend_counter = SharedCounter
