"""
The exam protocol, one connection at a time: StringTransport in place of a socket, a
MemoryReactorClock for the idle timer, and a real store and hasher (cheap cost) behind it. Every
suite runs on SQLite and again on PostgreSQL (the Postgres* classes at the end), where the
connections are counted in the database.
"""

import threading

from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.task import deferLater
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure
from twisted.trial import unittest

from examtwist.counting import counter_for
from examtwist.passwords import HashCost, PasswordHasher
from examtwist.protocol import MAX_HELD, ExamFactory
from examtwist.wire import Reply, ReplyParser
from examtwist.storage import StoreClosed

from tests.support import CHEAP_HASH, OnPostgres, backend_of, deferred_test, eventually, open_store

MATH_KEY = "BDCAC"  # the built-in math test's answers



class GatedHasher(PasswordHasher):
    """A hasher whose verify blocks its worker thread until the test opens the gate."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.gate = threading.Event()
        self.entered = threading.Event()

    def _verify(self, password, stored):
        self.entered.set()
        self.gate.wait(10)
        return super()._verify(password, stored)


class Connection:
    """One protocol on a StringTransport; reads its replies as a client would."""

    def __init__(self, factory, port):
        address = IPv4Address("TCP", "127.0.0.1", port)
        self.protocol = factory.buildProtocol(address)
        self.transport = StringTransport(peerAddress=address)
        self.protocol.makeConnection(self.transport)
        self.parser = ReplyParser()
        self.replies = []
        self._read = 0

    def send(self, data: bytes) -> None:
        self.protocol.dataReceived(data)

    def _collect(self):
        data = self.transport.value()
        self.replies.extend(self.parser.feed(data[self._read:]))
        self._read = len(data)

    async def reply(self) -> Reply:
        await eventually(lambda: self.nothing_more() is False)
        return self.replies.pop(0)

    async def ask(self, line: str) -> Reply:
        self.send(line.encode() + b"\r\n")
        return await self.reply()

    def nothing_more(self) -> bool:
        self._collect()
        return not self.replies

    @property
    def closing(self) -> bool:
        return self.transport.disconnecting

    def drop(self) -> None:
        self.protocol.connectionLost(Failure(ConnectionDone()))


class ProtocolTestCase(unittest.TestCase):
    lucky = 7
    idle_timeout = 600.0

    async def setUpServer(self, hasher_class=PasswordHasher):
        self.clock = MemoryReactorClock()
        self.store = await open_store(self)
        self.hasher = hasher_class(reactor, CHEAP_HASH)
        self.hasher.start()
        self.addCleanup(self.hasher.stop)
        self.factory = ExamFactory(
            self.clock, self.store, self.hasher, counter_for(self.store, self.lucky), self.idle_timeout
        )
        self.ports = iter(range(40001, 50000))

    async def connect(self) -> Connection:
        if not hasattr(self, "factory"):
            await self.setUpServer()
        connection = Connection(self.factory, next(self.ports))
        self.addCleanup(lambda: connection.protocol._lost.called or connection.drop())
        connection.greeting = await connection.reply()
        return connection

    async def registered(self, username="alice", password="pw") -> Connection:
        c = await self.connect()
        self.assertEqual(await c.ask(f"REGISTER {username} {password}"), Reply(231, ("Successfully registered!",)))
        return c

    async def take_math(self, c: Connection, answers=MATH_KEY) -> Reply:
        reply = await c.ask("TAKE math")
        for letter in answers:
            self.assertEqual(reply.code, 350)
            reply = await c.ask(letter)
        return reply


class GreetingTests(ProtocolTestCase):
    lucky = 3

    @deferred_test
    async def test_welcome(self):
        c = await self.connect()
        self.assertEqual(c.greeting, Reply(220, ("Welcome to the server!",)))

    @deferred_test
    async def test_lucky_connection_lists_every_counted_address(self):
        first, second, third, fourth = [await self.connect() for _ in range(4)]
        self.assertEqual(
            third.greeting,
            Reply(220, ("Congratulations you are the third user!!!", "127.0.0.1:40001",
                        "127.0.0.1:40002", "127.0.0.1:40003", "Welcome to the server!")),
        )
        self.assertEqual(fourth.greeting, first.greeting)


class CommandTests(ProtocolTestCase):
    @deferred_test
    async def test_help(self):
        c = await self.connect()
        reply = await c.ask("HELP")
        self.assertEqual(reply.code, 214)
        self.assertEqual(reply.text, "End of help")
        for command in ["REGISTER", "LOGIN", "EXAMS", "TAKE", "HELP", "QUIT"]:
            self.assertTrue(any(line.startswith(command) for line in reply.lines), command)
        self.assertEqual(await c.ask("help me please"), reply)

    @deferred_test
    async def test_unknown_and_empty(self):
        c = await self.connect()
        for line in ["HELLO", "", " ", "EXAM", "QUIT!", "ﬁ", "\x00", "TAKE\tmath"]:
            self.assertEqual(await c.ask(line), Reply(500, ("Please choose a valid command.",)), repr(line))

    @deferred_test
    async def test_command_words_any_case(self):
        c = await self.connect()
        self.assertEqual((await c.ask("exams")).code, 212)
        self.assertEqual((await c.ask("ExAmS")).code, 212)
        self.assertEqual((await c.ask("register bob pw")).code, 231)

    @deferred_test
    async def test_exams(self):
        c = await self.connect()
        expected = Reply(212, ("Available tests:", "1 math 5", "2 python 5", "End of list"))
        self.assertEqual(await c.ask("EXAMS"), expected)
        self.assertEqual(await c.ask("EXAMS all of them"), expected)

    @deferred_test
    async def test_quit(self):
        c = await self.connect()
        self.assertEqual(await c.ask("quit now"), Reply(221, ("Bye",)))
        self.assertTrue(c.closing)


class RegisterTests(ProtocolTestCase):
    @deferred_test
    async def test_register_logs_in(self):
        c = await self.registered("alice")
        self.assertEqual((await c.ask("TAKE 1")).code, 350)
        self.assertTrue((await self.store.get_password_hash("alice")).startswith("$argon2id$"))

    @deferred_test
    async def test_name_taken(self):
        await self.registered("alice", "one")
        c = await self.connect()
        self.assertEqual(await c.ask("REGISTER alice two"), Reply(553, ("Username already exists",)))
        self.assertEqual(await c.ask("LOGIN alice one"), Reply(230, ("Successfully logged in!",)))

    @deferred_test
    async def test_bad_arguments(self):
        c = await self.connect()
        for line in ["REGISTER", "REGISTER alice", "REGISTER alice ", "REGISTER  alice pw",
                     "REGISTER al!ce pw", "REGISTER " + "a" * 33 + " pw", "REGISTER ålice pw",
                     "REGISTER alice " + "p" * 129, "REGISTER x' OR '1'='1 pw"]:
            self.assertEqual((await c.ask(line)).code, 501, line)
        self.assertEqual(await self.store.list_users(), [])

    @deferred_test
    async def test_longest_allowed(self):
        c = await self.connect()
        name, password = "a" * 32, "é" * 128
        self.assertEqual((await c.ask(f"REGISTER {name} {password}")).code, 231)
        c2 = await self.connect()
        self.assertEqual((await c2.ask(f"LOGIN {name} {password}")).code, 230)

    @deferred_test
    async def test_password_is_the_rest_of_the_line(self):
        """Spaces inside and around the password are part of it."""
        await self.registered("alice", " two  words ")
        c = await self.connect()
        self.assertEqual((await c.ask("LOGIN alice two  words")).code, 535)
        self.assertEqual((await c.ask("LOGIN alice  two  words ")).code, 230)

    @deferred_test
    async def test_sql_as_a_password_is_just_a_password(self):
        evil = "'); DROP TABLE users; --"
        await self.registered("alice", evil)
        c = await self.connect()
        self.assertEqual((await c.ask(f"LOGIN alice {evil}")).code, 230)
        self.assertEqual(len(await self.store.list_users()), 1)

    @deferred_test
    async def test_already_logged_in_wins_over_bad_arguments(self):
        c = await self.registered()
        for line in ["REGISTER bob pw", "REGISTER", "LOGIN alice pw", "login !!"]:
            self.assertEqual(await c.ask(line), Reply(503, ("Already logged in",)), line)


class LoginTests(ProtocolTestCase):
    @deferred_test
    async def test_wrong_password_and_unknown_user(self):
        await self.registered("alice", "right")
        c = await self.connect()
        self.assertEqual(await c.ask("LOGIN alice wrong"), Reply(535, ("Invalid username and/or password",)))
        self.assertEqual(await c.ask("LOGIN nobody right"), Reply(535, ("Invalid username and/or password",)))
        self.assertEqual((await c.ask("LOGIN alice right")).code, 230)

    @deferred_test
    async def test_third_failure_closes(self):
        c = await self.connect()
        await c.ask("LOGIN a b")
        await c.ask("LOGIN a b")
        self.assertEqual(await c.ask("LOGIN a b"), Reply(421, ("Too many failed attempts",)))
        self.assertTrue(c.closing)

    @deferred_test
    async def test_usage_errors_are_not_failures(self):
        await self.registered("alice", "right")
        c = await self.connect()
        await c.ask("LOGIN a b")
        await c.ask("LOGIN a b")
        for line in ["LOGIN", "LOGIN alice", "LOGIN b@d pw"]:
            self.assertEqual((await c.ask(line)).code, 501)
        self.assertEqual((await c.ask("LOGIN alice right")).code, 230)

    @deferred_test
    async def test_failures_count_per_connection(self):
        await self.registered("alice", "right")
        first = await self.connect()
        await first.ask("LOGIN alice x")
        await first.ask("LOGIN alice x")
        second = await self.connect()
        self.assertEqual((await second.ask("LOGIN alice x")).code, 535)
        self.assertEqual((await second.ask("LOGIN alice right")).code, 230)

    @deferred_test
    async def test_rehash_with_new_settings(self):
        await self.registered("alice", "pw")
        self.factory.hasher = PasswordHasher(reactor, HashCost(memory_kib=96, rounds=1))
        self.factory.hasher.start()
        self.addCleanup(self.factory.hasher.stop)
        c = await self.connect()
        self.assertEqual((await c.ask("LOGIN alice pw")).code, 230)
        self.assertIn("$m=96,t=1,", await self.store.get_password_hash("alice"))


class TakeTests(ProtocolTestCase):
    @deferred_test
    async def test_take_needs_login_first(self):
        c = await self.connect()
        for line in ["TAKE math", "TAKE", "take 1"]:
            self.assertEqual(await c.ask(line), Reply(530, ("Please log in first",)))

    @deferred_test
    async def test_no_such_test(self):
        c = await self.registered()
        for line in ["TAKE 3", "TAKE 0", "TAKE chemistry", "TAKE math' OR '1'='1", "TAKE 1; DROP TABLE tests"]:
            self.assertEqual(await c.ask(line), Reply(550, ("No such test",)), line)
        self.assertEqual(len(await self.store.list_tests()), 2)

    @deferred_test
    async def test_take_without_argument(self):
        c = await self.registered()
        self.assertEqual((await c.ask("TAKE")).code, 501)
        self.assertEqual((await c.ask("TAKE ")).code, 501)

    @deferred_test
    async def test_by_number_or_name_in_any_case(self):
        c = await self.registered()
        first = await c.ask("TAKE 2")
        self.assertEqual(first, Reply(350, ("Question 1 of 5", "What does 2 ** 10 evaluate to?",
                                            "A) 20", "B) 100", "C) 1024", "D) 512")))
        await c.ask("QUIT")
        c = await self.connect()
        await c.ask("LOGIN alice pw")
        self.assertEqual(await c.ask("TAKE PYTHON"), first)

    @deferred_test
    async def test_whole_test_graded_and_stored(self):
        c = await self.registered()
        reply = await self.take_math(c, "BDCAA")
        self.assertEqual(reply, Reply(250, ("Your grade is 80.0 (4/5 correct)",)))
        [stored] = await self.store.list_results()
        self.assertEqual(
            (stored.username, stored.test, stored.status, stored.grade, stored.correct, stored.total, stored.client),
            ("alice", "math", "graded", 80.0, 4, 5, "127.0.0.1:40001"),
        )
        # Still logged in: another test may follow.
        self.assertEqual((await c.ask("TAKE python")).code, 350)

    @deferred_test
    async def test_questions_follow_in_order(self):
        c = await self.registered()
        await c.ask("TAKE math")
        second = await c.ask("a")
        self.assertEqual(second.lines[0], "Question 2 of 5")
        self.assertEqual(second.lines[-4:], ("A) (N*(N+1))/2", "B) N^2 + N", "C) N^2 + 2*N", "D) N^2"))
        last = await c.ask("a") and await c.ask("a") and await c.ask("a")
        self.assertEqual(last.lines[:3], ("Question 5 of 5", "A rectangle is 8 cm long and 5 cm wide.", "What is its area?"))

    @deferred_test
    async def test_answers_any_case_with_spaces_and_tabs(self):
        c = await self.registered()
        reply = await self.take_math(c, ["b", " D ", "\tc\t", " \ta", "c "])
        self.assertEqual(reply.text, "Your grade is 100.0 (5/5 correct)")

    @deferred_test
    async def test_anything_else_is_not_an_answer(self):
        """A bad answer gets 501, the question stays open and is not sent again."""
        c = await self.registered()
        await c.ask("TAKE math")
        for line in ["E", "AB", "A B", "", "EXAMS", "TAKE 2", "LOGIN alice pw", "REGISTER x y", "1", "Ａ"]:
            self.assertEqual(await c.ask(line), Reply(501, ("Answer with A, B, C or D",)), repr(line))
        self.assertTrue(c.nothing_more())
        self.assertEqual((await c.ask("B")).lines[0], "Question 2 of 5")

    @deferred_test
    async def test_help_during_a_test(self):
        c = await self.registered()
        await c.ask("TAKE math")
        self.assertEqual((await c.ask("help")).code, 214)
        self.assertEqual((await c.ask("B")).lines[0], "Question 2 of 5")

    @deferred_test
    async def test_quit_during_a_test_abandons_it(self):
        c = await self.registered()
        await c.ask("TAKE math")
        await c.ask("B")
        self.assertEqual(await c.ask("QUIT"), Reply(221, ("Bye",)))
        [stored] = await self.store.list_results()
        self.assertEqual((stored.status, stored.grade, stored.answered, stored.correct), ("abandoned", None, 1, 1))

    @deferred_test
    async def test_lost_connection_abandons_the_test(self):
        c = await self.registered()
        await c.ask("TAKE python")
        c.drop()
        await self.store.close()  # waits for the write in flight
        store = await open_store(self, self.store.path)
        [stored] = await store.list_results()
        self.assertEqual((stored.test, stored.status, stored.answered), ("python", "abandoned", 0))


class GradeStorageTests(ProtocolTestCase):
    """
    Another connection to the database holds a lock, so the grade's write waits in the store's
    thread exactly as it would behind a slow disk.
    """

    def hold_write_lock(self):
        return backend_of(self).hold_result_writes(self, self.store.path)

    async def answered_all_but_last(self):
        c = await self.registered()
        await self.take_math(c, MATH_KEY[:-1])
        return c

    @deferred_test
    async def test_grade_sent_only_once_stored(self):
        c = await self.answered_all_but_last()
        release = self.hold_write_lock()
        c.send(b"C\r\n")
        await deferLater(reactor, 0.3, lambda: None)
        self.assertTrue(c.nothing_more())
        release()
        self.assertEqual((await c.reply()).code, 250)
        self.assertEqual([r.status for r in await self.store.list_results()], ["graded"])

    @deferred_test
    async def test_grade_not_stored_reopens_the_last_question(self):
        """A grade that cannot be stored is not sent; the last answer can be given again."""
        c = await self.answered_all_but_last()
        await self.store.close()
        self.assertEqual(await c.ask("C"), Reply(451, ("Local error, try again later",)))
        self.assertEqual(len(self.flushLoggedErrors(StoreClosed)), 1)
        self.factory.store = await open_store(self, self.store.path)
        self.assertEqual(await c.ask("C"), Reply(250, ("Your grade is 100.0 (5/5 correct)",)))
        self.assertEqual([r.status for r in await self.factory.store.list_results()], ["graded"])

    @deferred_test
    async def test_dropped_while_grade_is_stored(self):
        """The grade being written is the attempt's only result; it is not also abandoned."""
        c = await self.answered_all_but_last()
        release = self.hold_write_lock()
        c.send(b"C\r\n")
        await deferLater(reactor, 0.1, lambda: None)
        c.drop()
        release()
        await self.store.close()
        store = await open_store(self, self.store.path)
        self.assertEqual([(r.status, r.grade) for r in await store.list_results()], [("graded", 100.0)])


class BadInputTests(ProtocolTestCase):
    @deferred_test
    async def test_line_too_long_without_waiting_for_its_end(self):
        c = await self.connect()
        c.send(b"x" * 1025)
        self.assertEqual(await c.reply(), Reply(500, ("Line too long",)))
        self.assertTrue(c.closing)

    @deferred_test
    async def test_longest_line_is_fine(self):
        """1024 bytes before CRLF or LF is not too long; nor is 1024 bytes and a CR so far."""
        c = await self.connect()
        for ending in [b"\r\n", b"\n"]:
            c.send(b"x" * 1024 + ending)
            self.assertEqual((await c.reply()).code, 500)
            self.assertEqual(c.replies, [])
        c.send(b"HELP" + b" " * 1020 + b"\r")
        self.assertTrue(c.nothing_more())
        self.assertFalse(c.closing)
        c.send(b"\n")
        self.assertEqual((await c.reply()).code, 214)

    @deferred_test
    async def test_too_long_in_any_chunking(self):
        for chunk in [1, 7, 100, 1025, 3000]:
            c = await self.connect()
            data = b"y" * 1025 + b"\r\n"
            for i in range(0, len(data), chunk):
                c.send(data[i:i + chunk])
            self.assertEqual(await c.reply(), Reply(500, ("Line too long",)), chunk)
            self.assertTrue(c.nothing_more())

    @deferred_test
    async def test_invalid_utf8_keeps_the_state(self):
        c = await self.registered()
        await c.ask("TAKE math")
        c.send(b"\xff\xfe\r\n")
        self.assertEqual(await c.reply(), Reply(500, ("Invalid UTF-8",)))
        self.assertFalse(c.closing)
        self.assertEqual((await c.ask("B")).lines[0], "Question 2 of 5")

    @deferred_test
    async def test_too_long_mid_test_abandons_it(self):
        c = await self.registered()
        await c.ask("TAKE math")
        c.send(b"B" * 2000)
        self.assertEqual((await c.reply()).text, "Line too long")
        c.drop()
        await self.store.close()
        store = await open_store(self, self.store.path)
        self.assertEqual([r.status for r in await store.list_results()], ["abandoned"])

    @deferred_test
    async def test_one_connection_cannot_hurt_another(self):
        student = await self.registered("alice")
        await student.ask("TAKE math")
        await student.ask("B")
        vandal = await self.connect()
        vandal.send(b"\xff\r\nDROP TABLE users;\r\nREGISTER alice x\r\n")
        vandal.send(b"z" * 5000)
        while not vandal.closing:
            await vandal.reply()
        reply = await student.ask("D")
        self.assertEqual(reply.lines[0], "Question 3 of 5")
        self.assertEqual(len(await self.store.list_users()), 1)


class PipeliningTests(ProtocolTestCase):
    @deferred_test
    async def test_lines_in_one_write_answered_in_order(self):
        script = ["REGISTER pat pw", "EXAMS", "TAKE math", *MATH_KEY, "EXAMS", "QUIT"]
        for chunk in [None, 1, 5]:
            c = await self.connect()
            script[0] = f"REGISTER pat{chunk} pw"
            data = "".join(line + "\r\n" for line in script).encode()
            chunks = [data] if chunk is None else [data[i:i + chunk] for i in range(0, len(data), chunk)]
            for part in chunks:
                c.send(part)
            codes = [(await c.reply()).code for _ in script]
            self.assertEqual(codes, [231, 212, 350, 350, 350, 350, 350, 250, 212, 221])

    @deferred_test
    async def test_held_while_waiting(self):
        """
        While a line waits on a worker thread, later lines wait their turn, and past MAX_HELD
        bytes of them the socket is not read either: a client cannot make the server hold
        more. Once the line is answered, every held line is, in order.
        """
        await self.setUpServer(GatedHasher)
        c = await self.connect()
        c.send(b"LOGIN alice pw\r\nEXAMS\r\n")
        self.assertTrue(c.nothing_more())
        self.assertEqual(c.transport.producerState, "producing")
        held = (MAX_HELD // len(b"HELP\r\n")) + 1
        c.send(b"HELP\r\n" * held)
        self.assertEqual(c.transport.producerState, "paused")
        self.assertTrue(c.nothing_more())
        self.hasher.gate.set()
        self.assertEqual((await c.reply()).code, 535)
        self.assertEqual((await c.reply()).code, 212)
        self.assertEqual({(await c.reply()).code for _ in range(held)}, {214})
        self.assertEqual(c.transport.producerState, "producing")


class IdleTimeoutTests(ProtocolTestCase):
    idle_timeout = 30.0

    @deferred_test
    async def test_idle_connection_closed(self):
        c = await self.connect()
        self.clock.advance(29)
        self.assertFalse(c.closing)
        await c.ask("HELP")
        self.clock.advance(29)
        self.assertFalse(c.closing)
        self.clock.advance(1)
        self.assertEqual(await c.reply(), Reply(421, ("Idle timeout",)))
        self.assertTrue(c.closing)

    @deferred_test
    async def test_timer_stopped_while_the_server_works(self):
        await self.setUpServer(GatedHasher)
        c = await self.connect()
        c.send(b"LOGIN alice pw\r\n")
        self.clock.advance(100)
        self.assertTrue(c.nothing_more())
        self.hasher.gate.set()
        self.assertEqual((await c.reply()).code, 535)
        self.clock.advance(29)
        self.assertFalse(c.closing)
        self.clock.advance(1)
        self.assertEqual((await c.reply()).text, "Idle timeout")

    @deferred_test
    async def test_idle_mid_test_abandons_it(self):
        c = await self.registered()
        await c.ask("TAKE math")
        self.clock.advance(30)
        self.assertEqual((await c.reply()).text, "Idle timeout")
        c.drop()
        await self.store.close()
        store = await open_store(self, self.store.path)
        self.assertEqual([r.status for r in await store.list_results()], ["abandoned"])


class ShutdownTests(ProtocolTestCase):
    @deferred_test
    async def test_every_connection_told(self):
        a, b = await self.connect(), await self.registered()
        done = self.factory.shutdown()
        self.assertEqual(await a.reply(), Reply(421, ("Server shutting down",)))
        self.assertEqual(await b.reply(), Reply(421, ("Server shutting down",)))
        self.assertTrue(a.closing and b.closing)
        self.assertFalse(done.called)
        a.drop(), b.drop()
        self.assertTrue(done.called)

    @deferred_test
    async def test_line_in_hand_is_answered_first(self):
        await self.setUpServer(GatedHasher)
        c = await self.connect()
        c.send(b"LOGIN alice pw\r\n")
        self.factory.shutdown()
        self.assertTrue(c.nothing_more())
        self.hasher.gate.set()
        self.assertEqual((await c.reply()).code, 535)
        self.assertEqual(await c.reply(), Reply(421, ("Server shutting down",)))


class PostgresGreetingTests(OnPostgres, GreetingTests):
    pass


class PostgresCommandTests(OnPostgres, CommandTests):
    pass


class PostgresRegisterTests(OnPostgres, RegisterTests):
    pass


class PostgresLoginTests(OnPostgres, LoginTests):
    pass


class PostgresTakeTests(OnPostgres, TakeTests):
    pass


class PostgresGradeStorageTests(OnPostgres, GradeStorageTests):
    pass


class PostgresBadInputTests(OnPostgres, BadInputTests):
    pass


class PostgresPipeliningTests(OnPostgres, PipeliningTests):
    pass


class PostgresIdleTimeoutTests(OnPostgres, IdleTimeoutTests):
    pass


class PostgresShutdownTests(OnPostgres, ShutdownTests):
    pass
