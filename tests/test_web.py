"""
The student ID lookup's routes, through a real listening port: the whole service runs in this
process as twistd would build it, and treq talks HTTP to it on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from urllib.parse import quote

import treq
from treq.client import HTTPClient
from treq.testing import StubTreq
from twisted.internet import reactor
from twisted.internet.ssl import Certificate
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import TestCase
from twisted.web.client import Agent, BrowserLikePolicyForHTTPS, HTTPConnectionPool

from examtwist.storage import Store, StoreClosed
from examtwist.students import Student
from examtwist.desk import ExamDesk
from examtwist.web import HEALTH_TIMEOUT, StudentLookup
from tests.client_support import self_signed_certificate
from tests.support import LOOPBACK, listening_port, start_server, temp_db

SQL_INJECTION = "1800' OR '1'='1"
ACCESS = re.compile(r'"([A-Z]+ \S+ HTTP/1.1)" (\d{3}) ')
SCRIPT = "<script>alert(1)</script>"


class Page(HTMLParser):
    """What a person sees of a page: headings, texts by id or class, the form's fields."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.texts: dict[str, str] = {}
        self.inputs: dict[str, dict[str, str | None]] = {}
        self.forms: list[dict[str, str | None]] = []
        self.buttons: list[str] = []
        self.labels: dict[str, str] = {}
        self.links: list[str] = []
        self.metas: dict[str, str | None] = {}
        self.cells: list[str] = []
        self._open: list[tuple[str, str | None]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input":
            self.inputs[attrs.get("name")] = attrs
            return
        if tag in ("meta", "link", "br"):
            if tag == "link":
                self.links.append(attrs.get("href"))
            if tag == "meta" and "name" in attrs:
                self.metas[attrs["name"]] = attrs.get("content")
            return
        if tag == "form":
            self.forms.append(attrs)
        if tag == "a":
            self.links.append(attrs.get("href"))
        if tag == "td" and attrs.get("id"):
            self.cells.append(attrs["id"])
        key = attrs.get("id") or (attrs.get("class") and "." + attrs["class"]) or tag
        if tag == "label":
            key = "label:" + attrs.get("for", "")
        self._open.append((tag, key))
        self.texts.setdefault(key, "")

    def handle_endtag(self, tag):
        if self._open and self._open[-1][0] == tag:
            _, key = self._open.pop()
            if tag == "button":
                self.buttons.append(self.texts[key])

    def handle_data(self, data):
        for _, key in self._open:
            self.texts[key] += data

    def shown(self) -> dict:
        """
        The page as a person reads it: title, heading, message, the student's table, what the
        ID field holds, and where its links go.
        """
        return {
            "title": self.texts.get("title"),
            "h1": self.texts.get("h1"),
            "message": self.texts.get(".message"),
            "cells": {key: self.texts[key] for key in self.cells},
            "field": self.inputs["ID"]["value"] if "ID" in self.inputs else None,
            "links": self.links,
        }


async def fetch(method: str, url: str, **kwargs):
    """One request on a fresh connection; no redirect followed. (response, body bytes)"""
    response = await treq.request(method, url, persistent=False, allow_redirects=False, **kwargs)
    return response, await response.content()


def header(response, name: str) -> str | None:
    values = response.headers.getRawHeaders(name)
    return values[0] if values else None


class WebTestCase(TestCase):
    async def setUp(self):
        self.service, _ = await start_server(self)
        self.store = self.service.desk.store
        self.base = f"http://{LOOPBACK}:{listening_port(self.service, 'Web app')}"
        self.events: list[dict] = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    async def get(self, path: str):
        return await fetch("GET", self.base + path)

    async def look_up(self, typed: str):
        """Submit the form as a browser does: (response, parsed page)."""
        response, body = await fetch("POST", self.base + "/handlelogin", data={"ID": typed})
        self.assertEqual(header(response, "content-type"), "text/html; charset=utf-8")
        return response, Page(body.decode("utf-8"))

    def logged(self, words: str) -> list[str]:
        """The log lines that hold C{words}, in order."""
        return [text for text in map(formatEvent, self.events) if words in text]

    def requests(self) -> list[tuple[str, str]]:
        """The access log's requests and their status codes, in order."""
        return [match.groups() for match in map(ACCESS.search, map(formatEvent, self.events))
                if match]


# The texts every page of the lookup shows.
TITLE = "Student ID lookup"
ID_RULE = "A university ID is a whole number of 1 to 19 digits, like 1800."
# Every page names the icon; a student's page and the error pages link back to the form.
ICON = "/favicon.ico"


def student_page(name: str, student_id: str, age: str) -> dict:
    return {"title": f"{name} · {TITLE}", "h1": f"Welcome, {name}", "message": None,
            "cells": {"name": name, "student-id": student_id, "age": age}, "field": None,
            "links": [ICON, "/login"]}


def error_page(heading: str, message: str, typed: str = "") -> dict:
    return {"title": f"{heading} · {TITLE}", "h1": heading, "message": message, "cells": {},
            "field": typed, "links": [ICON, "/login"]}


class PageTests(WebTestCase):
    async def test_root_redirects_to_login(self):
        """If a browser asks for /, then it is sent to /login with a 302 and an empty body."""
        response, body = await self.get("/")
        self.assertEqual((response.code, header(response, "location"), body), (302, "/login", b""))

    async def test_login_form(self):
        """
        If a browser asks for /login, then it gets 200 and "Enter your university ID number"
        over one labelled, focused, empty text field named ID and a GO! button posting to
        /handlelogin, laid out for the device's width.
        """
        response, body = await self.get("/login")
        self.assertEqual(response.code, 200)
        page = Page(body.decode())
        self.assertEqual(page.shown(), {"title": TITLE, "h1": "Enter your university ID number",
                                        "message": None, "cells": {}, "field": "",
                                        "links": [ICON]})
        self.assertEqual(page.forms, [{"action": "/handlelogin", "method": "post"}])
        self.assertEqual(page.inputs, {"ID": {
            "id": "ID", "name": "ID", "type": "text", "inputmode": "numeric",
            "autocomplete": "off", "spellcheck": "false", "autofocus": "", "required": "",
            "value": "",
        }})
        self.assertEqual(page.texts["label:ID"], "University ID")
        self.assertEqual(page.buttons, ["GO!"])
        self.assertEqual(page.metas, {"viewport": "width=device-width, initial-scale=1"})

    async def test_found(self):
        """If someone looks up 1800, then the page (200) shows Sara, 1800, 23 and links back."""
        response, page = await self.look_up("1800")
        self.assertEqual((response.code, page.shown()), (200, student_page("Sara", "1800", "23")))

    async def test_found_as_typed_loosely(self):
        """
        If someone types "  0042 " for Nadia's ID 42, then the spaces and leading zeros are
        forgiven: 200 and Nadia, 42, 19.
        """
        await self.store.add_student(Student("Nadia", 42, 19))
        response, page = await self.look_up("  0042 ")
        self.assertEqual((response.code, page.shown()), (200, student_page("Nadia", "42", "19")))

    async def test_unknown_id(self):
        """
        If someone looks up 4242, which no student has, then they get 404 and a page saying
        so, with 4242 kept in the focused field and a link back.
        """
        response, page = await self.look_up("4242")
        self.assertEqual((response.code, page.shown()), (404, error_page(
            "No such student", "No student has the ID 4242. Check the number and try again.",
            "4242",
        )))
        self.assertEqual(page.inputs["ID"], {
            "id": "ID", "name": "ID", "type": "text", "inputmode": "numeric",
            "autocomplete": "off", "spellcheck": "false", "autofocus": "", "required": "",
            "value": "4242",
        })

    async def test_not_an_id(self):
        """
        If someone types nothing, letters, a sign, a point, an injection, Arabic-Indic digits
        or 20 digits, then they get 400 and a page that says what is wrong and what an ID
        looks like, with what they typed kept in the field.
        """
        for typed, reason in [
            ("", "No ID was typed."),
            ("Sara", "An ID has digits only."),
            ("-1800", "An ID has digits only."),
            ("18.00", "An ID has digits only."),
            (SQL_INJECTION, "An ID has digits only."),
            ("\u0661\u0668\u0660\u0660", "An ID has digits only."),
            ("1" * 20, "That is longer than 19 digits."),
        ]:
            response, page = await self.look_up(typed)
            self.assertEqual(
                (response.code, page.shown()),
                (400, error_page("That is not a university ID", f"{reason} {ID_RULE}", typed)),
                typed,
            )

    async def test_missing_field(self):
        """If a post has no ID field at all, then it is a 400 that says no ID was typed."""
        response, body = await fetch("POST", self.base + "/handlelogin", data={"name": "Sara"})
        self.assertEqual((response.code, Page(body.decode()).shown()), (400, error_page(
            "That is not a university ID", f"No ID was typed. {ID_RULE}",
        )))

    async def test_huge_input_not_echoed_whole(self):
        """
        If someone pastes 10,000 nines (a form within the 16 KiB body limit), then they get 400
        and only the first 64 are put back in the field.
        """
        response, page = await self.look_up("9" * 10_000)
        self.assertEqual((response.code, page.shown()), (400, error_page(
            "That is not a university ID", f"That is longer than 19 digits. {ID_RULE}", "9" * 64,
        )))

    async def test_sql_injection_is_only_text(self):
        """
        If someone types 1800' OR '1'='1, then it is refused (400) as not an ID, and the
        students stay Sara, Ali and Karam.
        """
        response, page = await self.look_up(SQL_INJECTION)
        self.assertEqual(response.code, 400)
        self.assertEqual(sorted(await self.store.list_students()), [
            Student("Ali", 1866, 23), Student("Karam", 1711, 23), Student("Sara", 1800, 23),
        ])

    async def test_names_are_escaped(self):
        """
        If a student is named <script>alert(1)</script>, then their page (200) shows that name
        as text, escaped in the markup, and has no script element.
        """
        await self.store.add_student(Student(SCRIPT, 666, 20))
        response, body = await fetch("POST", self.base + "/handlelogin", data={"ID": "666"})
        html = body.decode()
        self.assertEqual((response.code, Page(html).shown()),
                         (200, student_page(SCRIPT, "666", "20")))
        self.assertNotIn("<script", html)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", html)

    async def test_typed_text_is_escaped(self):
        """
        If someone types "><script>alert(1)</script>, then the 400 page puts it back into the
        field's value, never into the markup.
        """
        typed = '"><script>alert(1)</script>'
        response, body = await fetch("POST", self.base + "/handlelogin", data={"ID": typed})
        html = body.decode()
        self.assertEqual((response.code, Page(html).shown()), (400, error_page(
            "That is not a university ID", f"An ID has digits only. {ID_RULE}", typed,
        )))
        self.assertNotIn("<script", html)

    async def test_get_handlelogin_redirects(self):
        """If someone reloads /handlelogin by address, then a 302 sends them to /login."""
        response, body = await self.get("/handlelogin")
        self.assertEqual((response.code, header(response, "location"), body), (302, "/login", b""))

    async def test_wrong_method(self):
        """If someone posts to /login, then they get 405 and are told it allows GET and HEAD."""
        response, _ = await fetch("POST", self.base + "/login")
        # Werkzeug lists the methods in no fixed order.
        allowed = set(header(response, "allow").split(", "))
        self.assertEqual((response.code, allowed), (405, {"GET", "HEAD"}))

    async def test_unknown_page(self):
        """If someone asks for /students/1800, then they get 404 and "Page not found"."""
        response, body = await self.get("/students/1800")
        self.assertEqual((response.code, Page(body.decode()).shown()), (404, error_page(
            "Page not found", "There is no page at this address.",
        )))

    async def test_protective_headers(self):
        """
        If a browser gets the form, a lookup or a missing page, then every answer forbids
        scripts and framing, sniffing, referrers and caching, in the same five headers.
        """
        for method, path in [("GET", "/login"), ("POST", "/handlelogin"), ("GET", "/nowhere")]:
            response, _ = await fetch(method, self.base + path, data={"ID": "1800"})
            self.assertEqual(
                {name: header(response, name) for name in (
                    "content-security-policy", "x-content-type-options", "referrer-policy",
                    "cache-control", "x-frame-options")},
                {"content-security-policy": "default-src 'none'; style-src 'unsafe-inline';"
                                            " img-src 'self'; form-action 'self';"
                                            " frame-ancestors 'none'; base-uri 'none'",
                 "x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
                 "cache-control": "no-store", "x-frame-options": None},
                path,
            )

    async def test_favicon(self):
        """
        If a browser asks for the icon the form names, /favicon.ico, then it gets 200 and an
        ICO file it may keep for a day, so it stops asking.
        """
        _, body = await self.get("/login")
        self.assertEqual(Page(body.decode()).links, ["/favicon.ico"])
        response, icon = await self.get("/favicon.ico")
        self.assertEqual(
            (response.code, header(response, "content-type"), header(response, "cache-control"),
             icon[:4]),
            (200, "image/x-icon", "public, max-age=86400", b"\x00\x00\x01\x00"),
        )

    async def test_lookups_are_logged(self):
        """
        If 1800, 4242 and abc are looked up, then the log has one line for each (found, not
        found, refused), naming no student, and the access log has their 200, 404 and 400.
        """
        await self.look_up("1800")
        await self.look_up("4242")
        await self.look_up("abc")
        self.assertEqual(self.logged("Lookup"), [
            "Lookup of ID 1800 (page): found",
            "Lookup of ID 4242 (page): not found",
            "Lookup refused: 'abc' is not an ID",
        ])
        self.assertEqual(self.requests(), [
            ("POST /handlelogin HTTP/1.1", "200"),
            ("POST /handlelogin HTTP/1.1", "404"),
            ("POST /handlelogin HTTP/1.1", "400"),
        ])
        self.assertEqual(self.logged("Sara"), [], "a lookup's log line names no student")

    async def test_store_down(self):
        """
        If the store has closed, then a lookup of 1800 gets 503 and a page that says to try
        again in a minute, with 1800 kept in the field; the failure is logged.
        """
        await self.store.close()
        response, page = await self.look_up("1800")
        self.assertEqual((response.code, page.shown()), (503, error_page(
            "The lookup is not working",
            "Student records cannot be read right now. Please try again in a minute.",
            "1800",
        )))
        self.assertEqual([error.type for error in self.flushLoggedErrors()], [StoreClosed])
        self.assertEqual(self.logged("Lookup of ID"), ["Lookup of ID 1800 failed"])


class APITests(WebTestCase):
    async def api(self, raw_id: str):
        response, body = await self.get("/api/students/" + quote(raw_id, safe=""))
        self.assertEqual(header(response, "content-type"), "application/json")
        return response.code, json.loads(body)

    async def test_found(self):
        """If a program asks for /api/students/1866, then it gets 200 and Ali's JSON."""
        self.assertEqual(await self.api("1866"), (200, {"name": "Ali", "id": 1866, "age": 23}))

    async def test_names_as_stored(self):
        """
        If a student is named <script>alert(1)</script> Ünal, then the JSON carries that name
        exactly, and nosniff keeps browsers from reading it as HTML.
        """
        await self.store.add_student(Student(SCRIPT + " Ünal", 666, 20))
        self.assertEqual(await self.api("666"),
                         (200, {"name": "<script>alert(1)</script> Ünal", "id": 666, "age": 20}))

    async def test_unknown(self):
        """If a program asks for 4242, which no student has, then it gets 404 and says so."""
        self.assertEqual(await self.api("4242"), (404, {"error": "no student has the ID 4242"}))

    async def test_beyond_storage(self):
        """
        If a program asks for 19 nines, past what SQLite holds, then it is a well-formed ID
        nobody has: 404.
        """
        self.assertEqual(await self.api("9" * 19),
                         (404, {"error": "no student has the ID 9999999999999999999"}))

    async def test_not_an_id(self):
        """
        If a program asks for abc, an injection, 20 digits, -5 or a blank, then it gets 400 and
        what is wrong with it and what an ID looks like.
        """
        for raw, reason in [
            ("abc", "An ID has digits only."),
            (SQL_INJECTION, "An ID has digits only."),
            ("1" * 20, "That is longer than 19 digits."),
            ("-5", "An ID has digits only."),
            (" ", "No ID was typed."),
        ]:
            self.assertEqual(await self.api(raw), (400, {"error": f"{reason} {ID_RULE}"}), raw)

    async def test_store_down(self):
        """If the store has closed, then the API answers 503 and that records cannot be read."""
        await self.store.close()
        self.assertEqual(await self.api("1800"),
                         (503, {"error": "student records cannot be read right now"}))
        self.assertEqual([error.type for error in self.flushLoggedErrors()], [StoreClosed])

    async def test_logged(self):
        """If a program looks up 1866, then the log says it was found through the API."""
        await self.api("1866")
        self.assertEqual(self.logged("Lookup"), ["Lookup of ID 1866 (api): found"])


class HealthTests(WebTestCase):
    async def test_healthy(self):
        """If the store answers, then /healthz answers 200 "ok"."""
        response, body = await self.get("/healthz")
        self.assertEqual((response.code, body), (200, b"ok\n"))

    async def test_store_closed(self):
        """If the store has closed, then /healthz answers 503 "store not answering"."""
        await self.store.close()
        response, body = await self.get("/healthz")
        self.assertEqual((response.code, body), (503, b"store not answering\n"))


class StuckStoreTests(TestCase):
    def test_health_check_gives_up(self):
        """
        If the store's thread never answers (its pool never starts on this reactor), then the
        health check still waits 4.9 s, and answers 503 "store not answering" at 5.1 s instead
        of hanging the prober.
        """
        clock = MemoryReactorClock()
        stuck = Store(clock, temp_db(self))
        stuck.start()
        http = StubTreq(StudentLookup(ExamDesk(stuck, None, None), clock).resource())
        answer = http.get(f"http://{LOOPBACK}/healthz")
        clock.advance(HEALTH_TIMEOUT - 0.1)
        http.flush()
        self.assertNoResult(answer)
        clock.advance(0.2)
        http.flush()
        response = self.successResultOf(answer)
        self.assertEqual((response.code, self.successResultOf(response.content())),
                         (503, b"store not answering\n"))


class TLSTests(TestCase):
    async def test_web_over_tls(self):
        """
        If the web port is ssl:..., then a client that trusts the certificate reads Sara's
        JSON over HTTPS: 200.
        """
        key, cert = self_signed_certificate(self)
        service, _ = await start_server(
            self, "--web", f"ssl:0:interface={LOOPBACK}:privateKey={key}:certKey={cert}"
        )
        with open(cert, "rb") as f:
            trust = Certificate.loadPEM(f.read())
        agent = Agent(reactor, BrowserLikePolicyForHTTPS(trustRoot=trust),
                      pool=HTTPConnectionPool(reactor, persistent=False))
        url = f"https://{LOOPBACK}:{listening_port(service, 'Web app')}/api/students/1800"
        response = await HTTPClient(agent).get(url)
        self.assertEqual((response.code, await response.json()),
                         (200, {"name": "Sara", "id": 1800, "age": 23}))
