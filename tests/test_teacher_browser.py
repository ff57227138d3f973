"""
The teacher's area in headless Chromium against C{twistd -n examtwist}: sign in, read the
pages, change a test's rules; the store then has them, and the exam port's INFO shows them. Screenshots of each page, wide and as a phone, land in _trial_temp/screenshots/
(C{make docs-screenshots} copies them to docs/).
"""

from __future__ import annotations

import os

from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from examtwist.testbank import Rules
from tests.client_support import run_admin, write_file
from examtwist.wire import Reply
from tests.support import LOOPBACK, WatchedTwistd, connect, open_store, require, temp_dir
from tests.teacher_support import PASSWORD, TEACHER, sit_the_class
from tests.test_browser import Browser, missing_browser

PAGES = ("sign-in", "tests", "test", "students", "student")


class TeacherBrowser(Browser):
    """The lookup's browser, with what the teacher's pages need. Every method blocks."""

    def fill(self, fields: dict[str, str], button: str) -> dict:
        from selenium.webdriver.common.by import By

        for name, value in fields.items():
            field = self.driver.find_element(By.NAME, name)
            if field.get_attribute("type") == "checkbox":
                if field.is_selected() != bool(value):
                    field.click()
            elif field.get_attribute("type") == "datetime-local":
                self.driver.execute_script("arguments[0].value = arguments[1]", field, value)
            else:
                field.clear()
                field.send_keys(value)
        return self._click_through(
            self.driver.find_element(By.XPATH, f"//button[normalize-space()='{button}']"))

    def texts(self) -> dict:
        """The page's address, heading, message, and the summary's and tables' texts."""
        run = self.driver.execute_script
        return {
            "url": self.driver.current_url,
            "h1": run("return document.querySelector('h1')?.innerText ?? null"),
            "message": run("return document.querySelector('.message, .saved')?.innerText"
                           " ?? null"),
            "summary": run("return Object.fromEntries([...document.querySelectorAll('dd[id]')]"
                           ".map(dd => [dd.id, dd.innerText]))"),
            "first_rows": run("return Object.fromEntries([...document.querySelectorAll("
                              "'table[id]')].map(t => [t.id, t.rows[1]?.innerText ?? null]))"),
            "scripts": run("return document.scripts.length"),
            "bars": run("return document.querySelectorAll('svg.histogram rect.bar').length"),
            "fits": run("return document.documentElement.scrollWidth <= window.innerWidth"),
        }


class TeacherBrowserTests(TestCase):
    timeout = 180

    async def setUp(self):
        require(self, missing_browser())
        cwd = temp_dir(self)
        self.db = os.path.join(cwd, "examtwist.db")
        password_file = write_file(self, "pw.txt", PASSWORD)
        code, out, err = await run_admin(self, "teachers", "add", TEACHER, "--password-file",
                                         password_file, "--db", self.db)
        self.assertEqual((code, err), (0, ""))
        self.store = await open_store(self, self.db)
        await sit_the_class(self.store)
        self.twistd = WatchedTwistd.spawn(self, "--db", self.db, cwd=cwd,
                                          expect=("Exam service", "Teacher area"))
        ports = await self.twistd.started
        self.base = f"http://{LOOPBACK}:{ports['Teacher area']}"
        self.exam_port = ports["Exam service"]
        self.browser = await deferToThread(TeacherBrowser, self.base, temp_dir(self))
        self.addCleanup(deferToThread, self.browser.quit)

    def step(self, method, *args):
        return deferToThread(method, *args)

    async def tour(self, suffix: str = "") -> dict:
        """Sign in and visit every page, a screenshot of each; what each page showed."""
        seen = {}
        await self.step(self.browser.open, "/tests/math")
        seen["sign-in"] = await self.step(self.browser.texts)
        await self.step(self.browser.screenshot, "teacher-sign-in" + suffix)
        await self.step(self.browser.fill, {"username": TEACHER, "password": PASSWORD}, "Sign in")
        seen["test"] = await self.step(self.browser.texts)
        await self.step(self.browser.screenshot, "teacher-test" + suffix)
        for page, path in [("tests", "/"), ("students", "/students"),
                           ("student", "/students/s01")]:
            await self.step(self.browser.open, path)
            seen[page] = await self.step(self.browser.texts)
            await self.step(self.browser.screenshot, f"teacher-{page}{suffix}")
        return seen

    async def test_sign_in_read_and_change_rules(self):
        """
        If a teacher opens /tests/math in Chromium, then she is asked to sign in, lands on
        math's page (3 in progress, 50 finished, mean 50.0 %, median 60.0 %, 4 bars, live), and
        reads the tests, the students and s01; no page has a script. Saving 1 attempt, 10
        minutes, shuffled, then says so, the store's math test has those rules, and a student's
        INFO math on the exam port shows them.
        """
        seen = await self.tour()
        self.assertEqual((seen["sign-in"]["url"], seen["sign-in"]["h1"]),
                         (self.base + "/sign-in?next=/tests/math", "Teachers: sign in"))
        self.assertEqual({k: v for k, v in seen["test"].items() if k != "first_rows"}, {
            "url": self.base + "/tests/math", "h1": "Test math", "message": None,
            "summary": {"summary-questions": "5", "summary-rules": "none (version 1 behaviour)",
                        "summary-in-progress": "3", "summary-finished": "50",
                        "summary-abandoned": "2", "summary-mean-grade": "50.0 %",
                        "summary-median-grade": "60.0 %"},
            "scripts": 0, "bars": 4, "fits": True})
        self.assertEqual(seen["tests"]["first_rows"]["tests"].split("\t"),
                         ["math", "5", "none (version 1 behaviour)", "3", "50", "50.0 %",
                          "60.0 %"])
        self.assertEqual(seen["student"]["first_rows"]["attempts"].split("\t"),
                         ["math", "graded", "100.0 %", "5/5", "2026-11-02 09:01:00",
                          "5 min 00 s"])
        self.assertEqual({page: seen[page]["scripts"] for page in PAGES},
                         dict.fromkeys(PAGES, 0))
        await self.step(self.browser.open, "/tests/math")
        after = await self.step(self.browser.fill, {"attempts": "1", "minutes": "10",
                                                    "shuffled": "on"}, "Save the rules")
        self.assertEqual((after["h1"], after["message"] if "message" in after else None),
                         ("Test math", None))
        saved = await self.step(self.browser.texts)
        self.assertEqual((saved["message"], saved["summary"]["summary-rules"]),
                         ("Rules saved: each server applies them from the next attempt.",
                          "1 attempt, 10 min 00 s, shuffled"))
        await self.step(self.browser.screenshot, "teacher-rules-saved")
        self.assertEqual((await self.store.find_test("math")).rules, Rules(1, 600, True))
        student = await connect(self.exam_port)
        self.addCleanup(student.transport.loseConnection)
        self.assertEqual(await student.ask("INFO math"), Reply(213, (
            "Test: math", "Questions: 5", "Time limit: 600 s", "Attempts allowed: 1",
            "Order: shuffled", "End of info")))

    async def test_phone(self):
        """
        If the pages are laid out on a phone 390 pixels wide, then none is wider than the
        screen (wide tables scroll inside the page).
        """
        await self.step(self.browser.as_phone)
        seen = await self.tour("-phone")
        self.assertEqual({page: seen[page]["fits"] for page in PAGES}, dict.fromkeys(PAGES, True))
