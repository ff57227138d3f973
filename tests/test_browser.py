"""
The lookup page in a real browser: headless Chromium driven by Selenium against
C{twistd -n examtwist} on free ports.

Selenium blocks, so every browser step runs in a thread (deferToThread) while the reactor keeps
reading twistd's log. Screenshots of each page land in _trial_temp/screenshots/.

Where Debian's chromium and chromium-driver are missing these tests skip and say so; in CI
(CI set), where .ci/run installs them, a missing browser fails instead (L{require}).
"""

from __future__ import annotations

import os
import re

from twisted.internet.defer import gatherResults
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from examtwist.students import Student
from tests.support import LOOPBACK, WatchedTwistd, open_store, require, temp_dir

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
TITLE = "Student ID lookup"


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
        self.driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER),
                                       options=options)
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
        go = self.driver.find_element(By.XPATH, "//button[normalize-space()='GO!']")
        return self._click_through(go)

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
        require(self, missing_browser())
        self.twistd = WatchedTwistd.spawn(self, "--db", "examtwist.db",
                                          expect=("Exam service", "Web app"))
        ports = await self.twistd.started
        self.db = os.path.join(self.twistd.cwd, "examtwist.db")
        self.base = f"http://{LOOPBACK}:{ports['Web app']}"
        self.browser = await deferToThread(Browser, self.base, temp_dir(self))
        self.addCleanup(deferToThread, self.browser.quit)

    def step(self, method, *args):
        return deferToThread(method, *args)

    def shows(self, path: str, title: str, h1: str, *, message=None, cells=None, field=None,
              focused=None, width: int = 800) -> dict:
        """
        A page as L{Browser.page} reads it: at C{path} on this test's twistd, no alert, no
        script, as wide as the window and no wider.
        """
        return {"url": self.base + path, "title": title, "alert": None, "h1": h1,
                "message": message, "cells": cells or {}, "field": field, "focused": focused,
                "scripts": 0, "viewport": width, "page_width": width}

    async def test_lookup(self):
        """
        If a person opens /, types 1800 and clicks GO!, then they land on the focused form at
        /login, then see "Welcome, Sara" with Sara, 1800, 23; "Look up another ID" brings back
        the empty, focused form.
        """
        page = await self.step(self.browser.open, "/")
        self.assertEqual(page, self.shows("/login", TITLE, "Enter your university ID number",
                                          field="", focused="ID"))
        await self.step(self.browser.screenshot, "login")

        page = await self.step(self.browser.submit, "1800")
        self.assertEqual(page, self.shows(
            "/handlelogin", "Sara · Student ID lookup", "Welcome, Sara",
            cells={"name": "Sara", "student-id": "1800", "age": "23"},
        ))
        await self.step(self.browser.screenshot, "student")

        page = await self.step(self.browser.follow, "Look up another ID")
        self.assertEqual(page, self.shows("/login", TITLE, "Enter your university ID number",
                                          field="", focused="ID"))

    async def test_unknown_id(self):
        """
        If a person looks up 4242, which no student has, then the page says "No such student",
        keeps 4242 in the focused field, and a lookup of 1866 from there shows Ali.
        """
        await self.step(self.browser.open, "/login")
        page = await self.step(self.browser.submit, "4242")
        self.assertEqual(page, self.shows(
            "/handlelogin", "No such student · Student ID lookup", "No such student",
            message="No student has the ID 4242. Check the number and try again.",
            field="4242", focused="ID",
        ))
        await self.step(self.browser.screenshot, "error")

        page = await self.step(self.browser.submit, "1866")
        self.assertEqual(page, self.shows(
            "/handlelogin", "Ali · Student ID lookup", "Welcome, Ali",
            cells={"name": "Ali", "student-id": "1866", "age": "23"},
        ))

    async def test_not_an_id(self):
        """
        If a person types the typo 18OO, then the page says "That is not a university ID" and
        what an ID looks like, with 18OO still in the field; "Back to the start" shows the form.
        """
        await self.step(self.browser.open, "/login")
        page = await self.step(self.browser.submit, "18OO")
        self.assertEqual(page, self.shows(
            "/handlelogin", "That is not a university ID · Student ID lookup",
            "That is not a university ID",
            message="An ID has digits only. A university ID is a whole number of 1 to 19 digits,"
                    " like 1800.",
            field="18OO", focused="ID",
        ))
        await self.step(self.browser.screenshot, "error-400")
        page = await self.step(self.browser.follow, "Back to the start")
        self.assertEqual(page, self.shows("/login", TITLE, "Enter your university ID number",
                                          field="", focused="ID"))

    async def test_script_name_is_text(self):
        """
        If a student is named <script>alert(1)</script>, then looking up their ID shows those
        characters as the name, no alert pops up, and the page has 0 scripts.
        """
        name = "<script>alert(1)</script>"
        store = await open_store(self, self.db)
        await store.add_student(Student(name, 666, 20))
        await store.close()
        await self.step(self.browser.open, "/login")
        page = await self.step(self.browser.submit, "666")
        self.assertEqual(page, self.shows(
            "/handlelogin", f"{name} · Student ID lookup", f"Welcome, {name}",
            cells={"name": name, "student-id": "666", "age": "20"},
        ))

    async def test_phone(self):
        """
        If the pages are laid out on a phone 390 pixels wide, then the form, a student and an
        error page are each 390 pixels wide: nothing to scroll sideways.
        """
        await self.step(self.browser.as_phone)
        page = await self.step(self.browser.open, "/login")
        self.assertEqual(page, self.shows("/login", TITLE, "Enter your university ID number",
                                          field="", focused="ID", width=390))
        await self.step(self.browser.screenshot, "login-phone")

        page = await self.step(self.browser.submit, "1711")
        self.assertEqual(page, self.shows(
            "/handlelogin", "Karam · Student ID lookup", "Welcome, Karam",
            cells={"name": "Karam", "student-id": "1711", "age": "23"}, width=390,
        ))
        await self.step(self.browser.screenshot, "student-phone")

        await self.step(self.browser.open, "/login")
        page = await self.step(self.browser.submit, "99")
        self.assertEqual(page, self.shows(
            "/handlelogin", "No such student · Student ID lookup", "No such student",
            message="No student has the ID 99. Check the number and try again.",
            field="99", focused="ID", width=390,
        ))
        await self.step(self.browser.screenshot, "error-phone")

    async def test_no_missing_files(self):
        """
        If a person opens / and looks up 1800, then twistd's access log shows the redirect,
        the form, the icon the page names and the lookup, each answered 302 or 200: nothing
        the browser asked for is missing.
        """
        await self.step(self.browser.open, "/")
        await self.step(self.browser.submit, "1800")
        await gatherResults([self.twistd.logged('"GET /favicon.ico HTTP/1.1" 200'),
                             self.twistd.logged('"POST /handlelogin HTTP/1.1" 200')])
        requests = re.findall(r'"(GET|POST) (\S+) HTTP/1.1" (\d{3})', self.twistd.output.decode())
        self.assertEqual(set(requests), {("GET", "/", "302"), ("GET", "/login", "200"),
                                         ("GET", "/favicon.ico", "200"),
                                         ("POST", "/handlelogin", "200")})
