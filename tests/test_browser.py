"""
The lookup page in a real browser: headless Chromium driven by Selenium against
C{twistd -n examtwist} on free ports.

Selenium blocks, so every browser step runs in a thread (deferToThread) while the reactor keeps
reading twistd's log. Screenshots of each page land in _trial_temp/screenshots/.

Where Debian's chromium and chromium-driver are missing these tests skip and say so; in CI
(CI set), where .ci/run installs them, a missing browser fails instead.
"""

from __future__ import annotations

import os
import re

from twisted.internet import reactor
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SkipTest, TestCase

from examtwist.students import Student
from tests.support import LOOPBACK, Twistd, open_store, temp_dir

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Headless, and quiet: no connections of its own, which a closed network would refuse.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=800,660",
]
# Relative to where trial runs the tests: _trial_temp.
SCREENSHOTS = "screenshots"
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}


def missing_browser() -> str | None:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        return (f"{' and '.join(missing)} not found: browser tests need Debian's chromium and"
                " chromium-driver (apt-get install chromium chromium-driver)")
    return None


class Browser:
    """
    One Chromium with a fresh profile. Every method blocks: call them through deferToThread.
    The methods that show a page return what a person would read there.
    """

    def __init__(self, base: str, profile: str) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
            options.add_argument(flag)
        self.base = base
        self.driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
        self.driver.set_page_load_timeout(20)

    def quit(self) -> None:
        self.driver.quit()

    def open(self, path: str) -> dict:
        self.driver.get(self.base + path)
        return self.page()

    def submit(self, typed: str) -> dict:
        """Type into the ID field, click GO!, and wait for the next page."""
        from selenium.webdriver.common.by import By

        field = self.driver.find_element(By.NAME, "ID")
        field.clear()
        field.send_keys(typed)
        return self._click_through(self.driver.find_element(By.XPATH, "//button[normalize-space()='GO!']"))

    def follow(self, link_text: str) -> dict:
        from selenium.webdriver.common.by import By

        return self._click_through(self.driver.find_element(By.LINK_TEXT, link_text))

    def _click_through(self, element) -> dict:
        """Click, then wait until another page has loaded: the mark left on this one is gone."""
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.support.wait import WebDriverWait

        self.driver.execute_script("window.examtwist_previous_page = true")
        element.click()
        WebDriverWait(self.driver, 20, ignored_exceptions=(WebDriverException,)).until(
            lambda driver: driver.execute_script(
                "return !window.examtwist_previous_page && document.readyState === 'complete'"
            )
        )
        return self.page()

    def page(self) -> dict:
        """What the page shows: address, title, heading, texts by id, the field and focus."""
        from selenium.common.exceptions import NoAlertPresentException

        run = self.driver.execute_script
        try:
            alert = self.driver.switch_to.alert.text
        except NoAlertPresentException:
            alert = None
        return {
            "url": self.driver.current_url,
            "title": self.driver.title,
            "alert": alert,
            "h1": run("return document.querySelector('h1')?.innerText ?? null"),
            "message": run("return document.querySelector('.message')?.innerText ?? null"),
            "cells": run(
                "return Object.fromEntries([...document.querySelectorAll('td[id]')]"
                ".map(td => [td.id, td.innerText]))"
            ),
            "field": run("return document.querySelector('input[name=ID]')?.value ?? null"),
            "focused": run("return document.activeElement?.name ?? null"),
            "scripts": run("return document.scripts.length"),
            "viewport": run("return window.innerWidth"),
            "page_width": run("return document.documentElement.scrollWidth"),
        }

    def as_phone(self) -> None:
        """Lay pages out as a phone does: 390 CSS pixels wide, honouring the viewport tag."""
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)

    def screenshot(self, name: str) -> str:
        os.makedirs(SCREENSHOTS, exist_ok=True)
        path = os.path.abspath(os.path.join(SCREENSHOTS, f"{name}.png"))
        if not self.driver.save_screenshot(path):
            raise RuntimeError(f"no screenshot saved to {path}")
        return path


class BrowserTests(TestCase):
    timeout = 120

    async def setUp(self):
        missing = missing_browser()
        if missing and os.environ.get("CI"):
            self.fail(f"{missing}; .ci/run should have installed them")
        if missing:
            raise SkipTest(missing)
        self.twistd = Twistd.spawn(self, "--db", "examtwist.db", expect=("Exam service", "Web app"))
        ports = await self.twistd.started
        self.db = os.path.join(self.twistd.cwd, "examtwist.db")
        base = f"http://{LOOPBACK}:{ports['Web app']}"
        self.browser = await deferToThread(Browser, base, temp_dir(self))
        self.addCleanup(deferToThread, self.browser.quit)

    def step(self, method, *args):
        return deferToThread(method, *args)

    async def test_lookup(self):
        """Open /, land on the focused form, type an ID, click GO!, read the name."""
        page = await self.step(self.browser.open, "/")
        self.assertTrue(page["url"].endswith("/login"), page["url"])
        self.assertEqual(page["h1"], "Enter your university ID number")
        self.assertEqual(page["focused"], "ID")
        await self.step(self.browser.screenshot, "login")

        page = await self.step(self.browser.submit, "1800")
        self.assertEqual(page["h1"], "Welcome, Sara")
        self.assertEqual(page["cells"], {"name": "Sara", "student-id": "1800", "age": "23"})
        self.assertIn("Sara", page["title"])
        await self.step(self.browser.screenshot, "student")

        page = await self.step(self.browser.follow, "Look up another ID")
        self.assertTrue(page["url"].endswith("/login"), page["url"])
        self.assertEqual((page["focused"], page["field"]), ("ID", ""))

    async def test_unknown_id(self):
        """An unknown ID shows the error page, with what was typed kept and focused."""
        await self.step(self.browser.open, "/login")
        page = await self.step(self.browser.submit, "4242")
        self.assertEqual(page["h1"], "No such student")
        self.assertIn("No student has the ID 4242", page["message"])
        self.assertEqual((page["field"], page["focused"]), ("4242", "ID"))
        await self.step(self.browser.screenshot, "error")

        page = await self.step(self.browser.submit, "1866")
        self.assertEqual(page["cells"]["name"], "Ali")

    async def test_not_an_id(self):
        """A typo gets the page that says what an ID looks like, the typo still in the field."""
        await self.step(self.browser.open, "/login")
        page = await self.step(self.browser.submit, "18OO")
        self.assertEqual(page["h1"], "That is not a university ID")
        self.assertIn("whole number of 1 to 19 digits", page["message"])
        self.assertEqual(page["field"], "18OO")
        await self.step(self.browser.screenshot, "error-400")
        page = await self.step(self.browser.follow, "Back to the start")
        self.assertEqual(page["h1"], "Enter your university ID number")

    async def test_script_name_is_text(self):
        """A student named like a script is shown as those characters; nothing runs."""
        name = "<script>alert(1)</script>"
        store = await open_store(self, self.db)
        await store.add_student(Student(name, 666, 20))
        await store.close()
        await self.step(self.browser.open, "/login")
        page = await self.step(self.browser.submit, "666")
        self.assertEqual(page["cells"]["name"], name)
        self.assertEqual((page["alert"], page["scripts"]), (None, 0))

    async def test_phone(self):
        """On a phone the pages fit the screen's width: nothing to scroll sideways."""
        await self.step(self.browser.as_phone)
        for typed, shot in [(None, "login-phone"), ("1711", "student-phone"), ("99", "error-phone")]:
            page = await self.step(self.browser.open, "/login")
            if typed:
                page = await self.step(self.browser.submit, typed)
            self.assertEqual(page["viewport"], PHONE["width"], shot)
            self.assertLessEqual(page["page_width"], PHONE["width"], shot)
            await self.step(self.browser.screenshot, shot)

    async def test_no_missing_files(self):
        """
        The browser fetches the icon the page names, and nothing it asks for is missing.
        """
        await self.step(self.browser.open, "/")
        await self.step(self.browser.submit, "1800")
        requests = await self.requests_until(("GET", "/favicon.ico", "200"))
        self.assertEqual([r for r in requests if r[2].startswith(("4", "5"))], [])

    async def requests_until(self, wanted: tuple[str, str, str], seconds: float = 20.0):
        """The requests twistd's access log shows, once C{wanted} is among them."""
        for _ in range(int(seconds / 0.1)):
            requests = re.findall(r'"(GET|POST) (\S+) HTTP/1.1" (\d{3})', self.twistd.output.decode())
            if wanted in requests:
                return requests
            await deferLater(reactor, 0.1)
        self.fail(f"no {wanted} in the access log: {requests}")
