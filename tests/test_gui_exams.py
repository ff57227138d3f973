"""
The tkinter window on Xvfb against the real server's protocol 1.1 in this process: a test's
rules before it starts, the countdown ticking and warning in the last minute, the grade the
server sends unasked when the time is up, and the results screen.

Each screenshot is saved under _trial_temp/screenshots/ as well; C{make docs-screenshots}
copies the countdown's to docs/gui-countdown.png.
"""

from __future__ import annotations

import os
import shutil

from examtwist.testbank import Rules
from tests.client_support import EXAM_INFO, ScriptedServer, reply_text, with_rules
from tests.test_gui import GUITestCase

WARNING_COLOUR = "#b00020"


class TimedGUITestCase(GUITestCase):
    async def taking(self, name: str, rules: Rules):
        """A window logged in as a new user, the test C{name} (with C{rules}) chosen."""
        port = await self.serve()
        await with_rules(self, self.service.desk.store, name, rules)
        window = self.open_window(port)
        screens = window.screens
        screens.connect_button.invoke()
        await self.until(lambda: screens.screen == "account")
        screens.username.set("grace")
        screens.password.set("correct horse")
        screens.register_button.invoke()
        await self.until(lambda: screens.screen == "tests")
        index = ["math", "python"].index(name)
        screens.tests_list.selection_clear(0, "end")
        screens.tests_list.selection_set(index)
        screens.tests_list.event_generate("<<ListboxSelect>>")
        return window, screens

    def countdown(self) -> tuple[str, str]:
        label = self.window.screens.question.countdown.label
        return str(label.cget("text")), str(label.cget("foreground"))

    def keep(self, path: str) -> None:
        """A screenshot kept where `make docs-screenshots` finds it."""
        directory = os.path.join(os.path.abspath("."), "screenshots")
        os.makedirs(directory, exist_ok=True)
        shutil.copy(path, directory)


class CountdownTests(TimedGUITestCase):
    async def test_rules_then_countdown_that_warns(self) -> None:
        """
        If math allows 1 attempt of 61 s, shuffled, then Take shows its rules ("5 questions",
        "Time limit: 1 minute 1 second", "Attempts allowed: 1", "Attempts left: 1", "Order:
        shuffled for each attempt") and "The clock starts when you press Start."; Start (by
        Enter) shows question 1 with "Time left: 1:00" (or 0:59), which ticks down a second at
        a time and in the last minute reads "Time left: 0:5N (less than a minute!)" in red.
        """
        window, screens = await self.taking("math", Rules(attempts=1, time_limit=61,
                                                          shuffled=True))
        screens.take_button.invoke()
        await self.until(lambda: screens.screen == "rules")
        rules = screens.rules
        self.assertEqual(
            (rules.title.cget("text"), rules.rules.cget("text"), rules.hint.cget("text")),
            ("Test: math", "5 questions\nTime limit: 1 minute 1 second\nAttempts allowed: 1\n"
             "Attempts left: 1\nOrder: shuffled for each attempt",
             "The clock starts when you press Start."))
        self.keep(self.screenshot("gui-rules"))
        self.press("Return")
        await self.until(lambda: screens.screen == "question")
        self.assertEqual(screens.heading.cget("text"), "Question 1 of 5")
        countdown = screens.question.countdown
        first = countdown.shown
        self.assertIn(self.countdown(), [("Time left: 1:00", ""),
                                         ("Time left: 0:59 (less than a minute!)",
                                          WARNING_COLOUR)])
        await self.until(lambda: countdown.shown == first - 1, timeout=3)
        await self.until(lambda: countdown.shown == first - 2, timeout=3)
        text, colour = self.countdown()
        self.assertRegex(text, r"\ATime left: 0:5[78] \(less than a minute!\)\Z")
        self.assertEqual(colour, WARNING_COLOUR)
        self.keep(self.screenshot("gui-countdown"))


class TimeUpTests(TimedGUITestCase):
    async def test_time_up_then_results(self) -> None:
        """
        If python has 2 s and the student starts it and waits, then the grade screen comes
        unasked with "Time is up: unanswered questions count as wrong." and "Your grade is
        0.0 (0/5 correct)", the countdown gone; the results screen then lists python, 0.0 %
        and when it ended, and Back returns to the tests.
        """
        window, screens = await self.taking("python", Rules(time_limit=2))
        screens.take_button.invoke()
        await self.until(lambda: screens.screen == "rules")
        screens.rules.start_button.invoke()
        await self.until(lambda: screens.screen == "question")
        await self.until(lambda: screens.screen == "grade", timeout=10)
        self.assertEqual((screens.grade_note.cget("text"), screens.grade_label.cget("text"),
                          self.countdown()[0]),
                         ("Time is up: unanswered questions count as wrong.",
                          "Your grade is 0.0 (0/5 correct)", ""))
        self.keep(self.screenshot("gui-time-up"))
        screens.again_button.invoke()
        await self.until(lambda: screens.screen == "tests")
        screens.results_button.invoke()
        await self.until(lambda: screens.screen == "results")
        rows = screens.results.rows()
        self.assertEqual([(test, grade) for test, grade, _ in rows], [("python", "0.0 %")])
        self.assertRegex(rows[0][2], r"\A\d{4}-\d\d-\d\d \d\d:\d\d UTC\Z")
        self.assertEqual(screens.results.empty.cget("text"), "")
        self.keep(self.screenshot("gui-results"))
        screens.results.back_button.invoke()
        self.assertEqual(screens.screen, "tests")

    async def test_no_rules_no_rules_screen(self) -> None:
        """
        If a test has no rules, then Take goes straight to its first question, with no
        countdown, as in protocol version 1; the results screen of a new student says "No
        test finished yet."
        """
        window, screens = await self.taking("math", Rules())
        screens.results_button.invoke()
        await self.until(lambda: screens.screen == "results")
        self.assertEqual((screens.results.rows(), screens.results.empty.cget("text")),
                         ([], "No test finished yet."))
        screens.results.back_button.invoke()
        screens.take_button.invoke()
        await self.until(lambda: screens.screen == "question")
        self.assertEqual((screens.heading.cget("text"), self.countdown()[0]),
                         ("Question 1 of 5", ""))


class FarewellTests(GUITestCase):
    async def test_takeover_shown_at_once(self) -> None:
        """
        If "421 Test continued on another connection" arrives while the window waits for the
        student's choice, then without any click the window goes back to the connect screen
        and its status says "The server closed the connection: Test continued on another
        connection; your attempt goes on there."
        """
        server = await ScriptedServer.start(self, [
            ("LOGIN ada correct horse", "230 Successfully logged in!\r\n"),
            ("EXAMS", reply_text(212, "Available tests:", "1 exam 3", "End of list")),
            ("INFO 1", EXAM_INFO),
            ("TAKE 1", reply_text(350, "Question 1 of 3", "Time left: 599 s", "Pick B.",
                                  "A) a", "B) b", "C) c", "D) d")),
        ])
        window = self.open_window(server.port)
        screens = window.screens
        screens.connect_button.invoke()
        await self.until(lambda: screens.screen == "account")
        screens.username.set("ada")
        screens.password.set("correct horse")
        screens.login_button.invoke()
        await self.until(lambda: screens.screen == "tests")
        screens.take_button.invoke()
        await self.until(lambda: screens.screen == "rules")
        screens.rules.start_button.invoke()
        await self.until(lambda: screens.screen == "question")
        self.assertEqual(screens.question.countdown.label.cget("text"), "Time left: 9:59")
        server.connections[0].speak("421 Test continued on another connection\r\n")
        await self.until(lambda: screens.screen == "connect")
        self.assertEqual((self.status(), window.client), (
            "The server closed the connection: Test continued on another connection; your"
            " attempt goes on there.", None))
