"""
The queue of password checks in front of the hash threads: served fairly across client
addresses, bounded, and dropping the checks of connections that have gone.

Most tests drive a thread pool of their own: a check runs, in the test's thread, when the test
finishes the one before it, so the order the checks run in is exact and nothing sleeps.
"""

from __future__ import annotations

from twisted.internet import reactor
from twisted.internet.defer import CancelledError, gatherResults
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.logger import formatEvent, globalLogPublisher
from twisted.python import usage
from twisted.python.failure import Failure
from twisted.trial import unittest

from examtwist.passwords import HasherBusy, PasswordHasher
from examtwist.tap import makeService
from examtwist.wire import Reply

from tests.support import (
    CHEAP_HASH,
    LOOPBACK,
    GatedHasher,
    ReplyClient,
    SQLiteBackend,
    eventually,
    server_options,
    start_server,
)

A = "127.0.0.2:40000"
B = "127.0.0.3:40000"
C = "127.0.0.4:40000"


class DrivenPool:
    """
    A thread pool the test drives: the jobs handed to it are started in order, and each runs
    (in the test's thread) only when the test calls L{finish}.
    """

    def __init__(self) -> None:
        self.jobs: list = []
        self.stopped = False

    def start(self) -> None:
        pass

    def stop(self) -> None:
        self.stopped = True

    def callInThreadWithCallback(self, onResult, work, *args) -> None:
        self.jobs.append((onResult, work, args))

    def finish(self) -> None:
        """The oldest job handed over runs now and reports its outcome."""
        onResult, work, args = self.jobs.pop(0)
        try:
            result, ok = work(*args), True
        except Exception:
            result, ok = Failure(), False
        onResult(ok, result)

    def finish_all(self) -> None:
        while self.jobs:
            self.finish()


class AtOnce:
    """A reactor for results from the driven pool: they come back at once."""

    def callFromThread(self, f, *args, **kwargs) -> None:
        f(*args, **kwargs)


class RecordingHasher(PasswordHasher):
    """Records the password of every check that runs; the hash of C{pw} is C{hash of pw}."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.hashed: list[str] = []

    def _hash(self, password: str) -> str:
        self.hashed.append(password)
        return f"hash of {password}"

    def _verify(self, password: str, stored: str | None) -> tuple[bool, str | None]:
        self.hashed.append(password)
        if password == "boom":
            raise ValueError("the hash function broke")
        return stored == f"hash of {password}", None


class FairQueueTests(unittest.TestCase):
    def hasher(self, threads=1, **bounds) -> tuple[RecordingHasher, DrivenPool]:
        pool = DrivenPool()
        hasher = RecordingHasher(AtOnce(), CHEAP_HASH, threads=threads, pool=pool, **bounds)
        hasher.start()
        return hasher, pool

    def test_an_address_that_arrives_goes_before_one_with_checks_waiting(self):
        """
        If address A asks for five checks (one runs, four wait) and address B then asks for
        one, then B's check runs second, and every check gets its own result.
        """
        hasher, pool = self.hasher(queue=0, per_address=0)
        a = [hasher.verify(f"a{i}", "hash of a3", address=A) for i in range(1, 6)]
        b = hasher.verify("b1", "hash of b1", address=B)
        pool.finish_all()
        self.assertEqual(hasher.hashed, ["a1", "b1", "a2", "a3", "a4", "a5"])
        self.assertEqual(
            [self.successResultOf(d) for d in [*a, b]],
            [(False, None), (False, None), (True, None), (False, None), (False, None),
             (True, None)],
        )

    def test_a_newcomer_waits_one_check_per_other_address(self):
        """
        If addresses A and B each have many checks waiting and C asks for one, then C's check
        runs after at most one more check of each of them: B's turn of this round.
        """
        hasher, pool = self.hasher(queue=0, per_address=0)
        for i in range(1, 5):
            hasher.verify(f"a{i}", None, address=A)
        for i in range(1, 5):
            hasher.verify(f"b{i}", None, address=B)
        pool.finish()
        pool.finish()
        self.assertEqual(hasher.hashed, ["a1", "b1"])
        c = hasher.verify("c1", None, address=C)
        pool.finish_all()
        self.assertEqual(hasher.hashed, ["a1", "b1", "a2", "b2", "c1", "a3", "b3", "a4", "b4"])
        self.assertEqual(self.successResultOf(c), (False, None))

    def test_registration_hash_takes_its_turn_like_a_login(self):
        """
        If address A floods logins and address B registers, then B's hash runs second and
        fires with the new hash.
        """
        hasher, pool = self.hasher(queue=0, per_address=0)
        for i in range(1, 4):
            hasher.verify(f"a{i}", None, address=A)
        registered = hasher.hash("lovelace 1815", address=B)
        pool.finish_all()
        self.assertEqual(hasher.hashed, ["a1", "lovelace 1815", "a2", "a3"])
        self.assertEqual(self.successResultOf(registered), "hash of lovelace 1815")

    def test_full_queue_refuses_at_once(self):
        """
        If two checks may wait and two do (a third runs), then a fourth fails at once with
        HasherBusy and never runs; once one has run, there is room again.
        """
        hasher, pool = self.hasher(queue=2, per_address=0)
        accepted = [hasher.verify(f"p{i}", None, address=f"127.0.0.{i}:1") for i in range(2, 5)]
        refused = hasher.verify("p5", None, address="127.0.0.5:1")
        self.failureResultOf(refused, HasherBusy)
        self.assertEqual(hasher.waiting, 2)
        pool.finish()
        later = hasher.verify("p6", None, address="127.0.0.6:1")
        self.assertNoResult(later)
        pool.finish_all()
        self.assertEqual(hasher.hashed, ["p2", "p3", "p4", "p6"])
        self.assertEqual([self.successResultOf(d) for d in accepted], [(False, None)] * 3)

    def test_one_address_cannot_fill_the_queue(self):
        """
        If one address has as many checks waiting as one address may, then its next check
        fails at once with HasherBusy, whichever port it comes from, while another address's
        check is still taken.
        """
        hasher, pool = self.hasher(queue=10, per_address=2)
        for i in range(1, 4):
            hasher.verify(f"a{i}", None, address=f"127.0.0.2:{40000 + i}")
        self.failureResultOf(hasher.verify("a4", None, address="127.0.0.2:40004"), HasherBusy)
        b = hasher.verify("b1", None, address=B)
        self.assertEqual(hasher.waiting, 3)
        pool.finish_all()
        self.assertEqual(hasher.hashed, ["a1", "b1", "a2", "a3"])
        self.assertEqual(self.successResultOf(b), (False, None))

    def test_default_bounds(self):
        """
        If one address asks for 66 checks at once with the default bounds (1024 in all, 64
        from one address), then one runs, 64 wait and the 66th fails with HasherBusy.
        """
        hasher, pool = self.hasher()
        self.assertEqual((hasher.queue, hasher.per_address), (1024, 64))
        checks = [hasher.verify(f"a{i}", None, address=A) for i in range(1, 67)]
        self.assertEqual((len(pool.jobs), hasher.waiting), (1, 64))
        for d in checks[:65]:
            self.assertNoResult(d)
        self.failureResultOf(checks[65], HasherBusy)

    def test_zero_turns_the_bounds_off(self):
        """If both bounds are 0, then 2,000 checks from one address all wait their turn."""
        hasher, pool = self.hasher(queue=0, per_address=0)
        checks = [hasher.verify(f"a{i}", None, address=A) for i in range(2000)]
        self.assertEqual((len(pool.jobs), hasher.waiting), (1, 1999))
        for d in checks:
            self.assertNoResult(d)

    def test_cancelled_check_is_never_hashed(self):
        """
        If a waiting check is cancelled (its connection has gone), then it fails with
        CancelledError at once, it never runs, and its place is free for another check.
        """
        hasher, pool = self.hasher(queue=10, per_address=1)
        hasher.verify("a1", None, address=A)
        gone = hasher.verify("a2", None, address=A)
        hasher.verify("b1", None, address=B)
        self.failureResultOf(hasher.verify("a3", None, address=A), HasherBusy)
        gone.cancel()
        self.failureResultOf(gone, CancelledError)
        self.assertEqual(hasher.waiting, 1)
        again = hasher.verify("a4", None, address=A)
        pool.finish_all()
        self.assertEqual(hasher.hashed, ["a1", "b1", "a4"])
        self.assertEqual(self.successResultOf(again), (False, None))

    def test_cancelled_running_check_finishes_and_is_discarded(self):
        """
        If a running check is cancelled, then its Deferred fails with CancelledError at once,
        its hash still finishes, and the next check runs after it.
        """
        hasher, pool = self.hasher()
        running = hasher.verify("a1", None, address=A)
        waiting = hasher.verify("b1", "hash of b1", address=B)
        running.cancel()
        self.failureResultOf(running, CancelledError)
        self.assertEqual(len(pool.jobs), 1)
        pool.finish()
        self.assertEqual(hasher.hashed, ["a1"])
        pool.finish()
        self.assertEqual(hasher.hashed, ["a1", "b1"])
        self.assertEqual(self.successResultOf(waiting), (True, None))

    def test_failed_hash_fails_its_check_only(self):
        """
        If the hash function raises for one check, then that check fails with the error and
        the next one runs and succeeds.
        """
        hasher, pool = self.hasher()
        broken = hasher.verify("boom", None, address=A)
        fine = hasher.verify("b1", "hash of b1", address=B)
        pool.finish_all()
        self.assertEqual(str(self.failureResultOf(broken, ValueError).value),
                         "the hash function broke")
        self.assertEqual(self.successResultOf(fine), (True, None))

    def test_stop_drops_waiting_checks_and_waits_for_the_running_one(self):
        """
        If the hasher stops with one check running and two waiting, then the waiting ones fail
        with CancelledError at once and never run, a new check fails with HasherBusy, and the
        stop fires once the running check has delivered its result.
        """
        hasher, pool = self.hasher()
        running = hasher.verify("a1", "hash of a1", address=A)
        waiting = [hasher.verify("a2", None, address=A), hasher.verify("b1", None, address=B)]
        stopped = hasher.stop()
        for d in waiting:
            self.failureResultOf(d, CancelledError)
        self.failureResultOf(hasher.verify("c1", None, address=C), HasherBusy)
        self.assertNoResult(stopped)
        self.assertFalse(pool.stopped)
        pool.finish()
        self.assertEqual(self.successResultOf(running), (True, None))
        self.assertIsNone(self.successResultOf(stopped))
        self.assertTrue(pool.stopped)
        self.assertEqual(hasher.hashed, ["a1"])
        self.assertIsNone(self.successResultOf(hasher.stop()))

    def test_checks_are_keyed_by_client(self):
        """
        If checks come from 127.0.0.2 on three ports, then they are one client's: the one from
        127.0.0.3 that comes last goes second, before the two that wait behind the first.
        """
        hasher, pool = self.hasher(queue=0, per_address=0)
        for port, password in [(40000, "a1"), (40001, "a2"), (40002, "a3")]:
            hasher.hash(password, address=f"127.0.0.2:{port}")
        hasher.hash("b1", address="127.0.0.3:40000")
        pool.finish_all()
        self.assertEqual(hasher.hashed, ["a1", "b1", "a2", "a3"])


class RealThreadTests(unittest.TestCase):
    async def test_real_argon2_in_a_real_thread_is_served_fairly(self):
        """
        If address A asks for four checks of a wrong password and address B then for one of
        the right password, with one real thread and real argon2id, then B's answer comes
        second and is a match, and A's are not.
        """
        hasher = PasswordHasher(reactor, CHEAP_HASH, threads=1)
        hasher.start()
        self.addCleanup(hasher.stop)
        stored = await hasher.hash("lovelace 1815", address=B)
        answered = []

        def check(name, password, address):
            def done(result):
                answered.append(name)
                return result

            return hasher.verify(password, stored, address=address).addCallback(done)

        checks = [check(f"a{i}", "lovelace 1816", A) for i in range(1, 5)]
        checks.append(check("b1", "lovelace 1815", B))
        results = await gatherResults(checks)
        self.assertEqual(answered, ["a1", "b1", "a2", "a3", "a4"])
        self.assertEqual(results, [(False, None)] * 4 + [(True, None)])


# The real server in this process, over real sockets. Clients bind 127.0.0.2, 127.0.0.3, ...
# before connecting: different machines, as far as the server can tell.

BUSY = Reply(421, ("Server busy, try again later",))
WRONG = Reply(535, ("Invalid username and/or password",))
SHUTTING_DOWN = Reply(421, ("Server shutting down",))


async def connect_from(port: int, source: str) -> ReplyClient:
    """A connection from the address C{source}, its greeting read."""
    endpoint = TCP4ClientEndpoint(reactor, LOOPBACK, port, bindAddress=(source, 0))
    client = await connectProtocol(endpoint, ReplyClient())
    assert (await client.reply()).code == 220
    return client


class RecordingGatedHasher(GatedHasher):
    """One hash thread; every verify waits for the gate; the passwords verified, in order."""

    def __init__(self, queue: int, per_address: int) -> None:
        super().__init__(reactor, CHEAP_HASH, threads=1, queue=queue, per_address=per_address)
        self.verified: list[str] = []
        self.hashed: list[str] = []

    def _hash(self, password):
        self.hashed.append(password)
        return super()._hash(password)

    def _verify(self, password, stored):
        self.verified.append(password)
        return super()._verify(password, stored)


class ServerTests(unittest.TestCase):
    async def serve(self, queue: int = 100, per_address: int = 30):
        """The server, with the throttle off: these floods are of one username, and the queue,
        not the throttle, is what is tested."""
        self.hasher = RecordingGatedHasher(queue, per_address)
        self.service, port = await start_server(
            self, "--login-backoff", "0", "--max-failures-per-address", "0", hasher=self.hasher
        )
        self.addCleanup(self.hasher.gate.set)  # before the server stops
        return port

    async def one_running_one_waiting(self, port: int) -> tuple[ReplyClient, ReplyClient]:
        """A LOGIN from 127.0.0.2 being hashed (password x), one from 127.0.0.3 waiting (y)."""
        running = await connect_from(port, "127.0.0.2")
        running.send("LOGIN nobody x")
        await eventually(self.hasher.entered.is_set)
        waiting = await connect_from(port, "127.0.0.3")
        waiting.send("LOGIN nobody y")
        await eventually(lambda: self.hasher.waiting == 1)
        return running, waiting

    async def test_honest_login_is_answered_before_a_flood_from_another_address(self):
        """
        If 41 connections from 127.0.0.2 flood LOGIN while its first check is being hashed
        (30 may wait from one address: 10 get 421 Server busy and are closed, and 10 of the
        waiting ones go at once), then a LOGIN from 127.0.0.3 is hashed second and answered
        230 before most of the flood, the 20 that stayed get 535, and the checks of the
        connections that went are never hashed.
        """
        port = await self.serve()
        ada = await connect_from(port, "127.0.0.3")
        self.assertEqual(await ada.ask("REGISTER ada lovelace 1815"),
                         Reply(231, ("Successfully registered!",)))
        self.assertEqual(await ada.ask("QUIT"), Reply(221, ("Bye",)))

        first = await connect_from(port, "127.0.0.2")
        first.send("LOGIN ada wrong 0")
        await eventually(self.hasher.entered.is_set)
        flood = {f"wrong {i}": await connect_from(port, "127.0.0.2") for i in range(1, 41)}
        for password, client in flood.items():
            client.send(f"LOGIN ada {password}")
        await eventually(lambda: self.hasher.waiting == 30
                         and sum(c.is_closed for c in flood.values()) == 10)
        busy = [c for c in flood.values() if c.is_closed]
        self.assertEqual([await c.reply() for c in busy], [BUSY] * 10)

        waiting = [password for password, c in flood.items() if not c.is_closed]
        gone, stayed = waiting[:10], waiting[10:]
        for password in gone:
            flood[password].transport.abortConnection()
        await eventually(lambda: self.hasher.waiting == 20)

        honest = await connect_from(port, "127.0.0.3")
        honest.send("LOGIN ada lovelace 1815")
        await eventually(lambda: self.hasher.waiting == 21)
        answered = []

        def answer(who, client):
            return client.reply().addCallback(lambda reply: answered.append(who) or reply)

        replies = [answer("first", first), answer("honest", honest),
                   *(answer(password, flood[password]) for password in stayed)]
        self.hasher.gate.set()
        self.assertEqual(await gatherResults(replies),
                         [WRONG, Reply(230, ("Successfully logged in!",))] + [WRONG] * 20)

        self.assertEqual(self.hasher.verified[:2], ["wrong 0", "lovelace 1815"])
        self.assertEqual(sorted(self.hasher.verified[2:]), sorted(stayed))
        self.assertEqual(len(self.hasher.verified), 22)
        # Replies travel on 22 sockets: allow for their arrival order, not for a queue.
        self.assertLess(answered.index("honest"), 5, answered)

    async def test_busy_hasher_answers_421_and_closes(self):
        """
        If one check runs and the one that may wait waits, then a REGISTER and a LOGIN from
        other addresses get 421 Server busy, try again later and are closed, no account is
        made, and the two checks in hand are answered 535 once hashed.
        """
        port = await self.serve(queue=1, per_address=0)
        running, waiting = await self.one_running_one_waiting(port)

        registering = await connect_from(port, "127.0.0.4")
        self.assertEqual(await registering.ask("REGISTER bob correct horse"), BUSY)
        await registering.closed
        logging_in = await connect_from(port, "127.0.0.5")
        self.assertEqual(await logging_in.ask("LOGIN nobody z"), BUSY)
        await logging_in.closed
        self.assertIsNone(await self.service.desk.store.get_password_hash("bob"))

        self.hasher.gate.set()
        self.assertEqual([await running.reply(), await waiting.reply()], [WRONG, WRONG])
        self.assertEqual(self.hasher.verified, ["x", "y"])

    async def test_stopping_server_drops_waiting_checks(self):
        """
        If the server stops while one check runs and another waits, then the waiting one's
        connection gets 421 Server shutting down at once and its check is never hashed; the
        running one is answered 535 and then told 421, and the stop ends after it.
        """
        port = await self.serve()
        running, waiting = await self.one_running_one_waiting(port)

        stopped = self.service.stopService()
        self.assertEqual(await waiting.reply(), SHUTTING_DOWN)
        await waiting.closed
        self.assertNoResult(stopped)
        self.hasher.gate.set()
        self.assertEqual([await running.reply(), await running.reply()], [WRONG, SHUTTING_DOWN])
        await stopped
        self.assertEqual(self.hasher.verified, ["x"])

    async def test_account_is_made_and_logged_when_its_client_goes_after_the_hash(self):
        """
        If a client that registers goes while its account is being written (its hash done),
        then the account is still made and the log still says "Account bob created from
        127.0.0.2:<port>".
        """
        port = await self.serve()
        logged: list[str] = []
        observer = lambda event: logged.append(formatEvent(event))  # noqa: E731
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        await self.service.desk.ready
        release = SQLiteBackend().hold_result_writes(self, self.service.desk.store.path)

        client = await connect_from(port, "127.0.0.2")
        client.send("REGISTER bob correct horse")
        await eventually(lambda: self.hasher.hashed == ["correct horse"]
                         and self.hasher.running == 0)
        where = f"127.0.0.2:{client.transport.getHost().port}"
        client.transport.abortConnection()
        await eventually(lambda: not self.service.factory.connections)
        release()
        await eventually(lambda: f"Account bob created from {where}" in logged)
        self.assertTrue((await self.service.desk.store.get_password_hash("bob"))
                        .startswith("$argon2id$v=19$m=64,t=1,p=1$"))


class OptionsTests(unittest.TestCase):
    def hasher(self, *args: str) -> PasswordHasher:
        return makeService(server_options(self, *args), reactor).desk.hasher

    def test_defaults(self):
        """If no option is given, then 1,024 checks may wait, 64 of them from one address."""
        hasher = self.hasher()
        self.assertEqual((hasher.queue, hasher.per_address), (1024, 64))

    def test_values(self):
        """If --hash-queue 5 and --hash-queue-per-address 0 are given, then 5 may wait, from any
        one address as well."""
        hasher = self.hasher("--hash-queue", "5", "--hash-queue-per-address", "0")
        self.assertEqual((hasher.queue, hasher.per_address), (5, 0))

    def test_refused(self):
        """If a bound is negative or not a number, then twistd refuses the options."""
        for args in [("--hash-queue", "-1"), ("--hash-queue-per-address", "many")]:
            self.assertRaises(usage.UsageError, server_options, self, *args)
