from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.trial import unittest

from examtwist.counting import InMemoryCounter, format_address, ordinal


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
