"""
JSON logs: C{twistd --logger=examtwist.jsonlog.observer -n examtwist} writes one JSON object per
line, with each event's fields, and never a password.
"""

from __future__ import annotations

import io
import json
import re
import sys

from twisted.logger import LogLevel
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from examtwist.jsonlog import json_lines_observer, observer
from examtwist.wire import Reply
from tests.support import LOOPBACK, MATH_KEY, MATH_QUESTIONS, JsonTwistd, connect

PASSWORD = "sesame street 1815"
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


class ObserverTests(SynchronousTestCase):
    def test_event_is_one_line_of_json(self) -> None:
        """
        If the observer is given a hand-made "scored" event, then it writes exactly one line:
        a JSON object with the time in ISO 8601 UTC, the level, the namespace, the formatted
        text and the event's own fields, and a field JSON cannot hold is left out.
        """
        out = io.StringIO()
        json_lines_observer(out)({
            "log_time": 86400.25, "log_level": LogLevel.info, "log_namespace": "examtwist.desk",
            "log_format": "{user} scored {grade} on {test} ({correct}/{total})",
            "log_logger": object(), "user": "ada", "grade": "80.0", "test": "math",
            "correct": 4, "total": 5, "opaque": object(),
        })
        self.assertEqual(out.getvalue().count("\n"), 1)
        self.assertTrue(out.getvalue().endswith("}\n"), out.getvalue())
        self.assertEqual(json.loads(out.getvalue()), {
            "time": "1970-01-02T00:00:00.250000Z", "level": "info",
            "namespace": "examtwist.desk", "text": "ada scored 80.0 on math (4/5)",
            "user": "ada", "grade": "80.0", "test": "math", "correct": 4, "total": 5,
        })

    def test_failure_has_its_traceback(self) -> None:
        """
        If an event carries a failure, then its line holds the message as text and the
        traceback, ending in the exception, under "traceback".
        """
        out = io.StringIO()
        failure = Failure(ValueError("no such test"))
        json_lines_observer(out)({
            "log_time": 0.0, "log_level": LogLevel.critical, "log_namespace": "examtwist.protocol",
            "log_format": "Handling a line of connection {number}", "log_failure": failure,
            "number": 7,
        })
        record = json.loads(out.getvalue())
        traceback = record.pop("traceback")
        self.assertEqual(record, {
            "time": "1970-01-01T00:00:00.000000Z", "level": "critical",
            "namespace": "examtwist.protocol", "text": "Handling a line of connection 7",
            "number": 7,
        })
        self.assertTrue(traceback.endswith("builtins.ValueError: no such test\n"), traceback)

    def test_factory_writes_to_stdout(self) -> None:
        """
        If twistd calls the factory named in the README with no arguments, as its --logger
        option does, then the observer it gets writes each event to standard output as a line
        of JSON.
        """
        out = io.StringIO()
        self.patch(sys, "stdout", out)
        observer()({"log_time": 0.0, "log_level": LogLevel.warn, "log_namespace": "examtwist.web",
                    "log_format": "Health check failed"})
        self.assertEqual(out.getvalue(), '{"time": "1970-01-01T00:00:00.000000Z", "level": '
                         '"warn", "namespace": "examtwist.web", "text": "Health check failed"}\n')


class TwistdTests(TestCase):
    timeout = 60

    async def test_session_logged_as_json_lines(self) -> None:
        """
        If twistd runs with --logger=examtwist.jsonlog.observer and a student registers with
        the password "sesame street 1815", takes math and answers BDCAC, then every stdout line
        parses as JSON; "Connection 1 from ...", "Account ada created from ..." and "ada scored
        100.0 on math (5/5)" carry their fields; and the password is in no line.
        """
        twistd = JsonTwistd.spawn(self, "--db", "examtwist.db")
        ports = await twistd.started
        client = await connect(ports["Exam service"])
        address = f"{LOOPBACK}:{client.transport.getHost().port}"
        self.assertEqual(await client.ask(f"REGISTER ada {PASSWORD}"),
                         Reply(231, ("Successfully registered!",)))
        self.assertEqual(await client.ask("TAKE math"), MATH_QUESTIONS[0])
        for letter, question in zip(MATH_KEY[:-1], MATH_QUESTIONS[1:]):
            self.assertEqual(await client.ask(letter), question)
        self.assertEqual(await client.ask(MATH_KEY[-1]),
                         Reply(250, ("Your grade is 100.0 (5/5 correct)",)))
        self.assertEqual(await client.ask("QUIT"), Reply(221, ("Bye",)))
        await client.closed
        self.assertIsNone(await twistd.terminate())
        self.assertEqual(twistd.signal, 15)

        lines = twistd.stdout.decode("utf-8").splitlines()
        self.assertNotIn(PASSWORD, twistd.output.decode("utf-8", "replace"))
        records = [json.loads(line) for line in lines]
        for record in records:
            self.assertRegex(record.pop("time"), ISO_UTC)
        self.assertIn("Server Shut Down.", [record["text"] for record in records])
        self.assertIn({"level": "info", "namespace": "examtwist.protocol",
                       "text": f"Connection 1 from {address}", "number": 1,
                       "address": address}, records)
        self.assertIn({"level": "info", "namespace": "examtwist.desk",
                       "text": f"Account ada created from {address}", "user": "ada",
                       "address": address}, records)
        self.assertIn({"level": "info", "namespace": "examtwist.proctor",
                       "text": "ada scored 100.0 on math (5/5)", "user": "ada",
                       "grade": "100.0", "test": "math", "correct": 5, "total": 5,
                       "outcome": "graded"}, records)
        self.assertIn({"level": "info", "namespace": "examtwist.protocol",
                       "text": f"Connection 1 from {address} closed (user ada)", "number": 1,
                       "address": address, "user": "ada"}, records)
