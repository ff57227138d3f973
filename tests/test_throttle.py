"""
Throttling of failed logins and registrations: the logic on a L{Clock}, then the real server
over sockets bound to different loopback addresses (each stands for another machine).
"""

from twisted.internet.task import Clock
from twisted.trial import unittest

from examtwist.ratelimit import client_of
from examtwist.throttle import Sizes, Throttle, Throttled
from examtwist.wire import Reply

from tests.support import connect_from, start_server

ATTACKER = "127.0.0.2:40000"
HONEST = "127.0.0.3:40000"
NAT = "198.51.100.7:50000"


def waited(call, *args) -> int | None:
    """The seconds a call is told to wait, or None when it is let through."""
    try:
        call(*args)
    except Throttled as e:
        return e.seconds
    return None


class BackoffTests(unittest.TestCase):
    def setUp(self):
        self.clock = Clock()
        self.throttle = Throttle(self.clock)

    def guess_wrong(self, username="ada", address=ATTACKER):
        self.throttle.check_login(username, address)
        self.throttle.login_failed(username, address)

    def test_doubles_up_to_its_cap(self):
        """
        If one address keeps guessing ada's password as soon as it may, then the first 5
        failures are free and the waits after the next ones are 1, 2, 4, 8, 16, 32, 60, 60 s.
        """
        for _ in range(5):
            self.guess_wrong()
        waits = []
        for _ in range(8):
            seconds = waited(self.throttle.check_login, "ada", ATTACKER)
            waits.append(seconds)
            self.clock.advance(seconds)
            self.guess_wrong()
        self.assertEqual(waits, [1, 2, 4, 8, 16, 32, 60, 60])

    def test_wait_is_the_real_wait_rounded_up(self):
        """If 2.5 s of a 4 s wait have passed, then the wait given is 2 s; after 4 s, none."""
        for _ in range(5):
            self.guess_wrong()
        self.clock.advance(1)
        self.guess_wrong()
        self.clock.advance(2)
        self.guess_wrong()  # the 7th failure: 4 s until the next try
        self.clock.advance(2.5)
        self.assertEqual(waited(self.throttle.check_login, "ada", ATTACKER), 2)
        self.clock.advance(1.5)
        self.assertIsNone(waited(self.throttle.check_login, "ada", ATTACKER))

    def test_a_fraction_of_a_second_is_1_s(self):
        """If 0.9 s of a 1 s wait have passed, then the wait given is 1 s, never 0."""
        for _ in range(5):
            self.guess_wrong()
        self.clock.advance(0.9)
        self.assertEqual(waited(self.throttle.check_login, "ada", ATTACKER), 1)

    def test_another_address_is_not_held_back(self):
        """
        If ada's password is guessed from 127.0.0.2 until it waits 60 s, then ada from
        127.0.0.3 is let through at once, and so is bob from 127.0.0.2.
        """
        for _ in range(12):
            self.guess_wrong()
            self.clock.advance(60)
        self.guess_wrong()
        self.assertEqual(waited(self.throttle.check_login, "ada", ATTACKER), 60)
        self.assertIsNone(waited(self.throttle.check_login, "ada", HONEST))
        self.assertIsNone(waited(self.throttle.check_login, "bob", ATTACKER))

    def test_success_clears_the_backoff(self):
        """If ada fails 6 times, waits 2 s and logs in, then her next 5 failures are free again."""
        for _ in range(5):
            self.guess_wrong()
        self.clock.advance(1)
        self.guess_wrong()
        self.clock.advance(2)
        self.throttle.check_login("ada", ATTACKER)
        self.throttle.login_succeeded("ada", ATTACKER)
        for _ in range(5):
            self.guess_wrong()
        self.assertEqual(waited(self.throttle.check_login, "ada", ATTACKER), 1)

    def test_logins_sent_at_once_count_before_they_are_answered(self):
        """
        If 10 LOGINs of ada from one address arrive before any is answered, then 5 are let
        through and the other 5 are told to wait 1 s.
        """
        waits = [waited(self.throttle.check_login, "ada", ATTACKER) for _ in range(10)]
        self.assertEqual(waits, [None] * 5 + [1] * 5)

    def test_forgotten_15_minutes_after_the_last_failure(self):
        """
        If ada's guesser from one address stops at a 60 s wait, then 899 s later it is still
        remembered (60 s after its next failure), and 900 s after its last failure its next 5
        failures are free again.
        """
        for _ in range(12):
            self.guess_wrong()
            self.clock.advance(60)
        self.guess_wrong()
        self.clock.advance(899)
        self.guess_wrong()
        self.assertEqual(waited(self.throttle.check_login, "ada", ATTACKER), 60)
        self.clock.advance(900)
        for _ in range(5):
            self.guess_wrong()
        self.assertEqual(waited(self.throttle.check_login, "ada", ATTACKER), 1)

    def test_clock_set_back(self):
        """
        If the clock is set back an hour right after a 13th failure, then the wait is still
        60 s, and 60 s later (by the clock) ada may try again.
        """
        self.clock.advance(7200)
        for _ in range(12):
            self.guess_wrong()
            self.clock.advance(60)
        self.guess_wrong()
        self.clock.rightNow -= 3600
        self.assertEqual(waited(self.throttle.check_login, "ada", ATTACKER), 60)
        self.clock.advance(60)
        self.assertIsNone(waited(self.throttle.check_login, "ada", ATTACKER))

    def test_other_settings(self):
        """
        If the back-off is 5 s up to 30 s, then after 5 free failures the waits are 5, 10, 20
        and 30 s.
        """
        self.throttle = Throttle(self.clock, login_backoff=5, login_backoff_max=30)
        for _ in range(5):
            self.guess_wrong()
        waits = []
        for _ in range(4):
            seconds = waited(self.throttle.check_login, "ada", ATTACKER)
            waits.append(seconds)
            self.clock.advance(seconds)
            self.guess_wrong()
        self.assertEqual(waits, [5, 10, 20, 30])


class GuessRateTests(unittest.TestCase):
    def test_guesses_per_minute_against_one_username(self):
        """
        If one address guesses ada's password as fast as the defaults allow (trying again the
        moment it is told), then it gets 10 guesses in the first minute and 10 in the ten
        minutes after it: 1 a minute.
        """
        clock = Clock()
        throttle = Throttle(clock)
        guesses = []
        while clock.seconds() < 660:
            seconds = waited(throttle.check_login, "ada", ATTACKER)
            if seconds is not None:
                clock.advance(seconds)
                continue
            throttle.login_failed("ada", ATTACKER)
            guesses.append(clock.seconds())
        first_minute = [t for t in guesses if t < 60]
        after = [t for t in guesses if 60 <= t < 660]
        self.assertEqual(first_minute, [0, 0, 0, 0, 0, 1, 3, 7, 15, 31])
        self.assertEqual(after, [63, 123, 183, 243, 303, 363, 423, 483, 543, 603])

    def test_guesses_per_minute_against_many_usernames(self):
        """
        If one address guesses a new username each time (spraying), then the address limit
        lets 300 through at once and then 1 a second: 359 in the first minute, 60 a minute after.
        """
        clock = Clock()
        throttle = Throttle(clock)
        guesses = []
        while clock.seconds() < 120:
            seconds = waited(throttle.check_login, f"user{len(guesses)}", ATTACKER)
            if seconds is not None:
                clock.advance(seconds)
                continue
            throttle.login_failed(f"user{len(guesses)}", ATTACKER)
            guesses.append(clock.seconds())
        self.assertEqual(
            (len([t for t in guesses if t < 60]), len([t for t in guesses if 60 <= t < 120])),
            (359, 60),
        )


class AddressLimitTests(unittest.TestCase):
    def setUp(self):
        self.clock = Clock()
        self.throttle = Throttle(self.clock)

    def test_window_of_failures_per_address(self):
        """
        If one address fails 300 logins of 300 usernames, then its next LOGIN, of any
        username, waits 1 s, one more is let through each second, and another address is
        not held back.
        """
        for i in range(300):
            self.throttle.check_login(f"user{i}", ATTACKER)
            self.throttle.login_failed(f"user{i}", ATTACKER)
        self.assertEqual(waited(self.throttle.check_login, "ada", ATTACKER), 1)
        self.assertIsNone(waited(self.throttle.check_login, "ada", HONEST))
        self.clock.advance(1)
        self.assertIsNone(waited(self.throttle.check_login, "ada", ATTACKER))
        self.throttle.login_failed("ada", ATTACKER)
        self.assertEqual(waited(self.throttle.check_login, "bob", ATTACKER), 1)

    def test_window_forgets(self):
        """If an address failed 300 logins, then 300 s later it may fail 300 more at once."""
        for i in range(300):
            self.throttle.check_login(f"user{i}", ATTACKER)
            self.throttle.login_failed(f"user{i}", ATTACKER)
        self.clock.advance(300)
        for i in range(300):
            self.throttle.check_login(f"other{i}", ATTACKER)
            self.throttle.login_failed(f"other{i}", ATTACKER)
        self.assertEqual(waited(self.throttle.check_login, "ada", ATTACKER), 1)

    def test_successes_do_not_count(self):
        """If 1,000 students log in right from one address, then none of them waits."""
        waits = set()
        for i in range(1000):
            waits.add(waited(self.throttle.check_login, f"student{i}", NAT))
            self.throttle.login_succeeded(f"student{i}", NAT)
        self.assertEqual(waits, {None})

    def test_registrations_per_address(self):
        """
        If one address registers 600 accounts at once, then its next REGISTER waits 6 s,
        another address's does not, and 6 s later one more is let through.
        """
        for _ in range(600):
            self.throttle.begin_registration(ATTACKER)
        self.assertEqual(waited(self.throttle.check_registration, ATTACKER), 6)
        self.assertEqual(waited(self.throttle.begin_registration, ATTACKER), 6)
        self.assertIsNone(waited(self.throttle.check_registration, HONEST))
        self.clock.advance(6)
        self.assertIsNone(waited(self.throttle.check_registration, ATTACKER))
        self.assertIsNone(waited(self.throttle.begin_registration, ATTACKER))
        self.assertEqual(waited(self.throttle.begin_registration, ATTACKER), 6)

    def test_check_registration_does_not_count(self):
        """If an address is only checked 1,000 times, then it may still register 600 at once."""
        for _ in range(1000):
            self.throttle.check_registration(ATTACKER)
        for _ in range(600):
            self.throttle.begin_registration(ATTACKER)
        self.assertEqual(waited(self.throttle.begin_registration, ATTACKER), 6)

    def test_zero_turns_each_limit_off(self):
        """
        If every limit is 0, then 1,000 failed logins of ada and 1,000 registrations from one
        address are all let through and nothing is kept.
        """
        throttle = Throttle(self.clock, login_backoff=0, failures_per_address=0,
                            registrations_per_address=0)
        waits = set()
        for _ in range(1000):
            waits.add(waited(throttle.check_login, "ada", ATTACKER))
            throttle.login_failed("ada", ATTACKER)
            waits.add(waited(throttle.begin_registration, ATTACKER))
        self.assertEqual((waits, throttle.sizes()), ({None}, Sizes(0, 0, 0)))

    def test_off(self):
        """If the desk has no throttle settings, then nothing is held back and no clock is read."""
        throttle = Throttle.off()
        for _ in range(100):
            throttle.check_login("ada", ATTACKER)
            throttle.login_failed("ada", ATTACKER)
            throttle.begin_registration(ATTACKER)
        self.assertEqual(throttle.sizes(), Sizes(0, 0, 0))

    def test_ipv6_counts_by_64_network(self):
        """
        If two IPv6 addresses share their first 64 bits, then they share a limit; one in
        another /64 does not.
        """
        self.assertEqual(
            [client_of(a) for a in ["127.0.0.1:38184", "[2001:db8::1]:1", "[2001:db8::2:3]:2",
                                    "[2001:db8:0:1::1]:3", "[::1]:4", "/tmp/exam.sock"]],
            ["127.0.0.1", "2001:db8::/64", "2001:db8::/64", "2001:db8:0:1::/64", "::/64",
             "/tmp/exam.sock"],
        )
        for _ in range(600):
            self.throttle.begin_registration("[2001:db8::1]:5000")
        self.assertEqual(waited(self.throttle.check_registration, "[2001:db8::99]:6000"), 6)
        self.assertIsNone(waited(self.throttle.check_registration, "[2001:db8:0:1::1]:6000"))


class ClassBehindNatTests(unittest.TestCase):
    def test_500_students_behind_one_address(self):
        """
        If a class of 500 behind one NAT address all register at once, and 2 minutes later all
        log in at once, 100 of them mistyping their password once and typing it right 5 s
        later, then nobody is told to wait and all 500 are in 125 s after the start.
        """
        clock = Clock()
        throttle = Throttle(clock)
        waits, logged_in = [], {}

        def attempt(step, student):
            try:
                step(student)
            except Throttled as e:  # a student who is told to wait tries again then
                waits.append(e.seconds)
                clock.callLater(e.seconds, attempt, step, student)

        def register(student):
            throttle.begin_registration(NAT)

        def log_in(student):
            throttle.check_login(student, NAT)
            if int(student[7:]) % 5 == 0 and student not in mistyped:
                mistyped.add(student)
                throttle.login_failed(student, NAT)
                clock.callLater(5, attempt, log_in, student)
            else:
                throttle.login_succeeded(student, NAT)
                logged_in[student] = clock.seconds()

        mistyped = set()
        for student in range(500):
            clock.callLater(0, attempt, register, f"student{student}")
            clock.callLater(120, attempt, log_in, f"student{student}")
        clock.advance(0)
        clock.pump([1] * 300)
        self.assertEqual(
            (waits, len(mistyped), len(logged_in), max(logged_in.values())),
            ([], 100, 500, 125),
        )

    def test_700_students_behind_one_address(self):
        """
        If 700 register at once from one address, then 600 get in at once and the other 100,
        each trying again when told, one every 6 s: the last after 600 s (raise
        --max-registrations-per-address for such a class).
        """
        clock = Clock()
        throttle = Throttle(clock)
        registered = []

        def register(student):
            try:
                throttle.begin_registration(NAT)
            except Throttled as e:
                clock.callLater(e.seconds, register, student)
            else:
                registered.append(clock.seconds())

        for student in range(700):
            register(student)
        clock.pump([1] * 700)
        self.assertEqual(
            (len(registered), registered.count(0), registered[600], registered[-1]),
            (700, 600, 6, 600),
        )


class MemoryTests(unittest.TestCase):
    def test_tables_are_capped(self):
        """
        If 5,000 addresses each fail a login of a username of their own and register once,
        with room for 1,000 entries a table, then each table holds 1,000: the oldest are
        forgotten (the first address starts afresh), the newest still held back.
        """
        clock = Clock()
        throttle = Throttle(clock, size=1000, failures_per_address=1, registrations_per_address=1)
        for i in range(5000):
            address = f"10.0.{i // 256}.{i % 256}:1"
            throttle.check_login(f"user{i}", address)
            throttle.login_failed(f"user{i}", address)
            throttle.begin_registration(address)
        self.assertEqual(throttle.sizes(), Sizes(1000, 1000, 1000))
        self.assertIsNone(waited(throttle.begin_registration, "10.0.0.0:1"))
        self.assertEqual(waited(throttle.begin_registration, "10.0.19.135:1"), 3600)

    def test_flood_of_usernames_from_one_address(self):
        """
        If one address fails a login of a new username each time, as fast as it is let, for an
        hour, then it fails 3,899 and the tables hold 900, 1 and 0 entries: each username from
        that address is forgotten 900 s after its failure.
        """
        clock = Clock()
        throttle = Throttle(clock)
        tried = 0
        while clock.seconds() < 3600:
            seconds = waited(throttle.check_login, f"user{tried}", ATTACKER)
            if seconds is not None:
                clock.advance(seconds)
                continue
            throttle.login_failed(f"user{tried}", ATTACKER)
            tried += 1
        self.assertEqual((tried, throttle.sizes()), (3899, Sizes(900, 1, 0)))

    def test_expired_entries_are_dropped(self):
        """
        If 1,000 addresses each fail a login and register once, then an hour later the next
        failure and registration leave one entry in each table.
        """
        clock = Clock()
        throttle = Throttle(clock)
        for i in range(1000):
            address = f"10.0.{i // 256}.{i % 256}:1"
            throttle.check_login("ada", address)
            throttle.login_failed("ada", address)
            throttle.begin_registration(address)
        self.assertEqual(throttle.sizes(), Sizes(1000, 1000, 1000))
        clock.advance(3600)
        throttle.check_login("ada", ATTACKER)
        throttle.login_failed("ada", ATTACKER)
        throttle.begin_registration(ATTACKER)
        self.assertEqual(throttle.sizes(), Sizes(1, 1, 1))


class ServerTests(unittest.TestCase):
    """The real server in this process, clients on 127.0.0.2 and 127.0.0.3."""

    async def test_attacker_held_back_while_the_student_logs_in(self):
        """
        If 127.0.0.2 guesses ada's password 5 times, then its next LOGIN of ada, even with
        the right password, is answered 454 (the connection's third failure 421), while ada
        logs in from 127.0.0.3 at once and bob from 127.0.0.2.
        """
        service, port = await start_server(self, "--login-backoff", "30")
        for name in ["ada", "bob"]:
            student = await connect_from(port, "127.0.0.3")
            self.assertEqual(await student.ask(f"REGISTER {name} lovelace 1815"),
                             Reply(231, ("Successfully registered!",)))
            student.transport.loseConnection()
        wrong = Reply(535, ("Invalid username and/or password",))
        closed = Reply(421, ("Too many failed attempts",))
        first = await connect_from(port, "127.0.0.2")
        self.assertEqual(
            [await first.ask(f"LOGIN ada guess{i}") for i in range(3)], [wrong, wrong, closed])
        second = await connect_from(port, "127.0.0.2")
        self.assertEqual([await second.ask(f"LOGIN ada guess{i}") for i in range(3, 5)],
                         [wrong, wrong])
        second.transport.loseConnection()
        third = await connect_from(port, "127.0.0.2")
        held = Reply(454, ("Too many failed attempts, try again in 30 s",))
        self.assertEqual(
            [await third.ask(line) for line in ["LOGIN ada guess5", "LOGIN ada lovelace 1815",
                                                "LOGIN ada guess6"]],
            [held, held, closed],
        )
        honest = await connect_from(port, "127.0.0.3")
        self.assertEqual(await honest.ask("LOGIN ada lovelace 1815"),
                         Reply(230, ("Successfully logged in!",)))
        other = await connect_from(port, "127.0.0.2")
        self.assertEqual(await other.ask("LOGIN bob lovelace 1815"),
                         Reply(230, ("Successfully logged in!",)))
        for client in (honest, other):
            client.transport.loseConnection()

    async def test_registrations_from_one_address(self):
        """
        If 127.0.0.2 may register 2 an hour, and has made one account and tried a taken name,
        then its next REGISTER, even one with bad arguments, is answered "454 Too many
        registrations, try again in 1800 s"; LOGIN still works, a logged-in connection still
        gets 503, and 127.0.0.3 registers at once.
        """
        service, port = await start_server(self, "--max-registrations-per-address", "2")
        registered = Reply(231, ("Successfully registered!",))
        first = await connect_from(port, "127.0.0.2")
        self.assertEqual(await first.ask("REGISTER one lovelace 1815"), registered)
        self.assertEqual(await first.ask("REGISTER two lovelace 1815"),
                         Reply(503, ("Already logged in",)))
        second = await connect_from(port, "127.0.0.2")
        self.assertEqual(await second.ask("REGISTER one lovelace 1815"),
                         Reply(553, ("Username already exists",)))
        held = Reply(454, ("Too many registrations, try again in 1800 s",))
        self.assertEqual(
            [await second.ask(line) for line in ["REGISTER two lovelace 1815", "REGISTER",
                                                 "LOGIN one lovelace 1815"]],
            [held, held, Reply(230, ("Successfully logged in!",))],
        )
        self.assertEqual(await first.ask("REGISTER three lovelace 1815"),
                         Reply(503, ("Already logged in",)))
        elsewhere = await connect_from(port, "127.0.0.3")
        self.assertEqual(await elsewhere.ask("REGISTER two lovelace 1815"), registered)
        for client in (first, second, elsewhere):
            client.transport.loseConnection()
