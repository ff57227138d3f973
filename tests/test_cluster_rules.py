"""
Protocol 1.1's test rules on a cluster: two C{twistd -n examtwist} nodes on one PostgreSQL
database, a student moving between them (or moved by a node's death), spoken to by the line
client of L{tests.test_rules_e2e}, written from docs/protocol.md alone.
"""

from __future__ import annotations

import time

import psycopg
from twisted.trial.unittest import TestCase

from examtwist.testbank import Rules
from tests.support import POSTGRES, OnPostgres, WatchedTwistd, open_store, waiting_for_locks
from tests.test_rules_e2e import (
    GRADE_100,
    MATH,
    NOT_LUCKY,
    connect,
    keep_log,
    letter_for,
    minutes_since,
    split_clock,
    wait,
)

# The rules of a real exam: one attempt of 600 s, questions and choices shuffled.
EXAM = Rules(attempts=1, time_limit=600, shuffled=True)


class ClusterRulesTests(OnPostgres, TestCase):
    timeout = 90

    async def nodes(self, rules: dict[str, Rules], *args: str) -> list[int]:
        """Two nodes on a new database whose tests have these rules: their exam ports."""
        self.db = await POSTGRES.new_database(self)
        self.store = await open_store(self, self.db)
        for name, test_rules in rules.items():
            self.assertTrue(await self.store.set_rules(name, test_rules))
        self.twistds = []
        for _ in range(2):
            node = WatchedTwistd.spawn(self, "--db", self.db, *NOT_LUCKY, *args)
            self.addCleanup(keep_log, node)
            self.twistds.append(node)
        return [(await node.started)["Exam service"] for node in self.twistds]

    async def student(self, port: int, name: str, new: bool = False, source: str = "127.0.0.1"):
        client = await connect(port, source)
        if new:
            self.assertEqual(await client.ask(f"REGISTER {name} pw"),
                             ["231 Successfully registered!"])
        else:
            self.assertEqual(await client.ask(f"LOGIN {name} pw"),
                             ["230 Successfully logged in!"])
        return client

    async def answer(self, client, reply: list[str], pattern: str) -> list[str]:
        """Answer right (R) or wrong (W) from this question on; the last reply."""
        for mark in pattern:
            reply = await client.ask(letter_for(split_clock(reply)[0], mark == "R"))
        return reply

    async def test_attempts_counted_across_nodes(self):
        """
        If math allows 2 attempts and ada uses one on node A (graded 100.0) and one on node B
        (QUIT on question 1), then TAKE math on node A gets "554 No attempts left", and INFO
        math on node B "213-Attempts left: 0".
        """
        a, b = await self.nodes({"math": Rules(attempts=2)})
        ada = await self.student(a, "ada", new=True)
        self.assertEqual(await ada.ask("TAKE math"), MATH[0])
        for letter, then in zip("BDCA", MATH[1:]):
            self.assertEqual(await ada.ask(letter), then)
        self.assertEqual(await ada.ask("C"), GRADE_100)
        elsewhere = await self.student(b, "ada", source="127.0.0.2")
        self.assertEqual(await elsewhere.ask("TAKE math"), MATH[0])
        self.assertEqual(await elsewhere.ask("QUIT"), ["221 Bye"])
        self.assertEqual(await ada.ask("TAKE math"), ["554 No attempts left"])
        elsewhere = await self.student(b, "ada", source="127.0.0.2")
        self.assertEqual((await elsewhere.ask("INFO math"))[4], "213-Attempts left: 0")

    async def test_rule_change_reaches_both_running_nodes(self):
        """
        If the admin gives math a 600 s time limit while both nodes run, then INFO math says
        "213-Time limit: 600 s" on each, and TAKE math on each shows "350-Time left: N s"
        second, N at most 599.
        """
        ports = await self.nodes({})
        clients = [await self.student(p, name, new=True) for p, name in zip(ports, "ab")]
        self.assertEqual((await clients[0].ask("INFO math"))[2], "213-Time limit: none")
        await self.store.set_rules("math", Rules(time_limit=600))
        for client in clients:
            self.assertEqual((await client.ask("INFO math"))[2], "213-Time limit: 600 s")
            first, left = split_clock(await client.ask("TAKE math"))
            self.assertEqual(first, MATH[0])
            self.assertLessEqual(left, 599)

    async def test_continue_on_the_other_node(self):
        """
        If ada's connection to node A drops on question 3 of a shuffled 600 s math attempt
        (1 attempt; question 1 right, 2 wrong), then TAKE math on node B shows the same
        question 3 with the same choices in the same order and a Time left no larger, and
        three right answers give "250 Your grade is 80.0 (4/5 correct)"; then "554 No
        attempts left" on either node.
        """
        a, b = await self.nodes({"math": EXAM})
        ada = await self.student(a, "ada", new=True)
        third, before = split_clock(await self.answer(ada, await ada.ask("TAKE math"), "RW"))
        self.assertEqual(third[0], "350-Question 3 of 5")
        await ada.drop()
        ada = await self.student(b, "ada", source="127.0.0.2")
        reply = await ada.ask("TAKE math")
        again, after = split_clock(reply)
        self.assertEqual(again, third)
        self.assertLessEqual(after, before)
        self.assertEqual(await self.answer(ada, reply, "RRR"),
                         ["250 Your grade is 80.0 (4/5 correct)"])
        self.assertEqual(await ada.ask("TAKE math"), ["554 No attempts left"])
        ada = await self.student(a, "ada")
        self.assertEqual(await ada.ask("TAKE math"), ["554 No attempts left"])

    async def test_node_killed_mid_test(self):
        """
        If node A is killed (SIGKILL) while ada, on it, sees question 3 of a shuffled 600 s
        math attempt (question 1 right, 2 right), then her connection ends; TAKE math on
        node B shows that question 3, the same, and three right answers give "250 Your grade
        is 100.0 (5/5 correct)", which RESULTS on node B lists as "math 100.0".
        """
        a, b = await self.nodes({"math": EXAM})
        ada = await self.student(a, "ada", new=True)
        since = time.time()
        third, _ = split_clock(await self.answer(ada, await ada.ask("TAKE math"), "RR"))
        self.assertEqual(third[0], "350-Question 3 of 5")
        await self.twistds[0].kill()
        self.assertEqual(self.twistds[0].signal, 9)
        await ada.closed
        ada = await self.student(b, "ada", source="127.0.0.2")
        reply = await ada.ask("TAKE math")
        self.assertEqual(split_clock(reply)[0], third)
        self.assertEqual(await self.answer(ada, reply, "RRR"), GRADE_100)
        results = await ada.ask("RESULTS")
        self.assertEqual(len(results), 3, results)
        self.assertIn(results[1], {f"216-math 100.0 {m}" for m in minutes_since(since)})

    async def test_takeover_from_the_other_node(self):
        """
        If ada, on question 2 of a 600 s math attempt on node A, TAKEs math on node B, then B
        continues at "350-Question 2 of 5"; her next line on A ("D", question 2's right
        answer) gets "421 Test continued on another connection" and A closes, and it does not
        count: on B, "A" (wrong) to question 2 brings question 3, and right answers to the
        rest give "250 Your grade is 80.0 (4/5 correct)".
        """
        a, b = await self.nodes({"math": Rules(attempts=1, time_limit=600)})
        first = await self.student(a, "ada", new=True)
        self.assertEqual(split_clock(await first.ask("TAKE math"))[0], MATH[0])
        self.assertEqual(split_clock(await first.ask("B"))[0], MATH[1])
        second = await self.student(b, "ada", source="127.0.0.2")
        reply = await second.ask("TAKE math")
        self.assertEqual(split_clock(reply)[0], MATH[1])
        self.assertEqual(await first.ask("D"), ["421 Test continued on another connection"])
        await first.closed
        self.assertEqual(split_clock(await second.ask("A"))[0], MATH[2])
        self.assertEqual(await self.answer(second, await second.ask("C"), "RR"),
                         ["250 Your grade is 80.0 (4/5 correct)"])

    async def test_take_on_both_nodes_at_once(self):
        """
        If ada sends TAKE math (2 attempts, 600 s) on both nodes at the same moment (both wait
        at the database, then go one after the other), then both show "350-Question 1 of 5",
        one attempt is started (INFO: "213-Attempts left: 1"), and of her answers "B" on each
        one gets "350-Question 2 of 5" and the other "421 Test continued on another
        connection".
        """
        ports = await self.nodes({"math": Rules(attempts=2, time_limit=600)})
        clients = [await self.student(ports[0], "ada", new=True),
                   await self.student(ports[1], "ada", source="127.0.0.2")]
        blocker = psycopg.connect(self.db)
        self.addCleanup(blocker.close)
        blocker.execute("LOCK TABLE attempts IN EXCLUSIVE MODE")
        for client in clients:
            client.send("TAKE math")
        await waiting_for_locks(self.db, 2)
        blocker.commit()
        for client in clients:
            self.assertEqual(split_clock(await client.reply())[0], MATH[0])
        replies = [await client.ask("B") for client in clients]
        self.assertEqual(sorted(reply[0] for reply in replies),
                         ["350-Question 2 of 5", "421 Test continued on another connection"])
        still = await self.student(ports[0], "ada", source="127.0.0.3")
        self.assertEqual((await still.ask("INFO math"))[4], "213-Attempts left: 1")

    async def test_attempt_of_a_killed_node_runs_out_of_resume_window(self):
        """
        If node A is killed (SIGKILL) while ada is on question 2 of math (2 attempts, no time
        limit) and both nodes run with --resume-window 2 and --heartbeat 0.5, then 3 s later,
        without her continuing, RESULTS on node B lists "math abandoned" and INFO "213-Attempts
        left: 1".
        """
        a, b = await self.nodes({"math": Rules(attempts=2)}, "--resume-window", "2",
                                "--heartbeat", "0.5")
        ada = await self.student(a, "ada", new=True)
        since = time.time()
        self.assertEqual(await ada.ask("TAKE math"), MATH[0])
        self.assertEqual(await ada.ask("B"), MATH[1])
        await self.twistds[0].kill()
        await ada.closed
        await wait(3)
        ada = await self.student(b, "ada", source="127.0.0.2")
        results = await ada.ask("RESULTS")
        self.assertEqual(len(results), 3, results)
        self.assertIn(results[1], {f"216-math abandoned {m}" for m in minutes_since(since)})
        self.assertEqual((await ada.ask("INFO math"))[4], "213-Attempts left: 1")
