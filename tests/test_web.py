"""
The student ID lookup's routes, through a real listening port: the whole service runs in this
process as twistd would build it, and treq talks HTTP to it on 127.0.0.1.
"""

from __future__ import annotations

import json
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

from examtwist.storage import Store
from examtwist.students import Student
from examtwist.desk import ExamDesk
from examtwist.web import HEALTH_TIMEOUT, StudentLookup
from tests.client_support import self_signed_certificate
from tests.support import LOOPBACK, listening_port, start_server, temp_db

SQL_INJECTION = "1800' OR '1'='1"
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
            return
        if tag == "form":
            self.forms.append(attrs)
        if tag == "a":
            self.links.append(attrs.get("href"))
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
        return [text for text in map(formatEvent, self.events) if words in text]


class PageTests(WebTestCase):
    async def test_root_redirects_to_login(self):
        response, _ = await self.get("/")
        self.assertEqual((response.code, header(response, "location")), (302, "/login"))

    async def test_login_form(self):
        """One labelled text field named ID, focused, and a GO! button posting to /handlelogin."""
        response, body = await self.get("/login")
        self.assertEqual(response.code, 200)
        page = Page(body.decode())
        self.assertEqual(page.texts["h1"], "Enter your university ID number")
        self.assertEqual(page.forms, [{"action": "/handlelogin", "method": "post"}])
        self.assertEqual(list(page.inputs), ["ID"])
        field = page.inputs["ID"]
        self.assertEqual((field["type"], field["id"], field["value"]), ("text", "ID", ""))
        self.assertIn("autofocus", field)
        self.assertEqual(page.texts["label:ID"], "University ID")
        self.assertEqual(page.buttons, ["GO!"])
        self.assertIn("width=device-width", body.decode())

    async def test_found(self):
        """A stored ID shows that student's name, ID and age."""
        response, page = await self.look_up("1800")
        self.assertEqual(response.code, 200)
        self.assertEqual(page.texts["h1"], "Welcome, Sara")
        self.assertEqual(
            (page.texts["name"], page.texts["student-id"], page.texts["age"]), ("Sara", "1800", "23")
        )
        self.assertIn("/login", page.links)

    async def test_found_as_typed_loosely(self):
        """Spaces around the ID and leading zeros are forgiven."""
        await self.store.add_student(Student("Nadia", 42, 19))
        response, page = await self.look_up("  0042 ")
        self.assertEqual((response.code, page.texts["name"]), (200, "Nadia"))

    async def test_unknown_id(self):
        """404: the error page says no student has it, keeps what was typed, and links back."""
        response, page = await self.look_up("4242")
        self.assertEqual(response.code, 404)
        self.assertIn("No student has the ID 4242", page.texts[".message"])
        self.assertEqual(page.inputs["ID"]["value"], "4242")
        self.assertIn("autofocus", page.inputs["ID"])
        self.assertIn("/login", page.links)

    async def test_not_an_id(self):
        """400 for empty, non-integer and overlong IDs: the page says what an ID looks like."""
        for typed, reason in [
            ("", "No ID was typed"),
            ("Sara", "digits only"),
            ("-1800", "digits only"),
            ("18.00", "digits only"),
            (SQL_INJECTION, "digits only"),
            ("\u0661\u0668\u0660\u0660", "digits only"),
            ("1" * 20, "longer than 19 digits"),
        ]:
            response, page = await self.look_up(typed)
            self.assertEqual(response.code, 400, typed)
            message = page.texts[".message"]
            self.assertIn(reason, message)
            self.assertIn("A university ID is a whole number of 1 to 19 digits, like 1800.", message)
            self.assertEqual(page.inputs["ID"]["value"], typed)

    async def test_missing_field(self):
        """A post without the ID field at all is a 400 like an empty one."""
        response, body = await fetch("POST", self.base + "/handlelogin", data={"name": "Sara"})
        self.assertEqual(response.code, 400)
        self.assertIn("No ID was typed", Page(body.decode()).texts[".message"])

    async def test_huge_input_not_echoed_whole(self):
        """A pasted novel is refused, and only its start is put back in the field."""
        response, page = await self.look_up("9" * 100_000)
        self.assertEqual(response.code, 400)
        self.assertEqual(page.inputs["ID"]["value"], "9" * 64)

    async def test_sql_injection_is_only_text(self):
        """The classic injection neither finds a student nor changes any."""
        response, page = await self.look_up(SQL_INJECTION)
        self.assertEqual(response.code, 400)
        self.assertEqual(len(await self.store.list_students()), 3)

    async def test_names_are_escaped(self):
        """A student named like a script is shown as text: the page has no script element."""
        await self.store.add_student(Student(SCRIPT, 666, 20))
        response, body = await fetch("POST", self.base + "/handlelogin", data={"ID": "666"})
        html = body.decode()
        self.assertEqual(response.code, 200)
        self.assertNotIn("<script", html)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", html)
        self.assertEqual(Page(html).texts["name"], SCRIPT)

    async def test_typed_text_is_escaped(self):
        """What was typed goes back into the field's value, never into the markup."""
        typed = '"><script>alert(1)</script>'
        response, body = await fetch("POST", self.base + "/handlelogin", data={"ID": typed})
        html = body.decode()
        self.assertEqual(response.code, 400)
        self.assertNotIn("<script", html)
        self.assertEqual(Page(html).inputs["ID"]["value"], typed)

    async def test_get_handlelogin_redirects(self):
        """Reloading the result page by address starts over at the form."""
        response, _ = await self.get("/handlelogin")
        self.assertEqual((response.code, header(response, "location")), (302, "/login"))

    async def test_wrong_method(self):
        response, _ = await fetch("POST", self.base + "/login")
        self.assertEqual(response.code, 405)

    async def test_unknown_page(self):
        response, body = await self.get("/students/1800")
        self.assertEqual(response.code, 404)
        self.assertEqual(Page(body.decode()).texts["h1"], "Page not found")

    async def test_protective_headers(self):
        """No script may run on any page, pages are not framed, answers are not cached."""
        for method, path in [("GET", "/login"), ("POST", "/handlelogin"), ("GET", "/nowhere")]:
            response, _ = await fetch(method, self.base + path, data={"ID": "1800"})
            csp = header(response, "content-security-policy")
            self.assertIn("default-src 'none'", csp)
            self.assertNotIn("script-src", csp)
            self.assertIn("frame-ancestors 'none'", csp)
            self.assertEqual(header(response, "x-content-type-options"), "nosniff")
            self.assertEqual(header(response, "cache-control"), "no-store")

    async def test_favicon(self):
        """The page names an icon and the icon is there, so browsers stop asking."""
        _, body = await self.get("/login")
        self.assertIn("/favicon.ico", Page(body.decode()).links)
        response, icon = await self.get("/favicon.ico")
        self.assertEqual(response.code, 200)
        self.assertEqual(header(response, "content-type"), "image/x-icon")
        self.assertEqual(icon[:4], b"\x00\x00\x01\x00")
        self.assertIn("max-age", header(response, "cache-control"))

    async def test_lookups_are_logged(self):
        """One line per lookup with the ID and whether it was found, plus the access log."""
        await self.look_up("1800")
        await self.look_up("4242")
        await self.look_up("abc")
        self.assertEqual(len(self.logged("Lookup of ID 1800 (page): found")), 1)
        self.assertEqual(len(self.logged("Lookup of ID 4242 (page): not found")), 1)
        self.assertEqual(len(self.logged("Lookup refused: 'abc' is not an ID")), 1)
        self.assertEqual(len(self.logged('"POST /handlelogin HTTP/1.1" 200')), 1)
        self.assertEqual(len(self.logged('"POST /handlelogin HTTP/1.1" 404')), 1)
        self.assertFalse(self.logged("Sara"), "a lookup's log line names no student")

    async def test_store_down(self):
        """With the store gone the page says to try later (503) instead of failing."""
        await self.store.close()
        response, page = await self.look_up("1800")
        self.assertEqual(response.code, 503)
        self.assertIn("cannot be read right now", page.texts[".message"])
        self.assertEqual(page.inputs["ID"]["value"], "1800")
        self.flushLoggedErrors()


class APITests(WebTestCase):
    async def api(self, raw_id: str):
        response, body = await self.get("/api/students/" + quote(raw_id, safe=""))
        self.assertEqual(header(response, "content-type"), "application/json")
        return response.code, json.loads(body)

    async def test_found(self):
        self.assertEqual(await self.api("1866"), (200, {"name": "Ali", "id": 1866, "age": 23}))

    async def test_names_as_stored(self):
        """JSON carries the name exactly; nosniff keeps browsers from reading it as HTML."""
        await self.store.add_student(Student(SCRIPT + " Ünal", 666, 20))
        self.assertEqual(await self.api("666"), (200, {"name": SCRIPT + " Ünal", "id": 666, "age": 20}))

    async def test_unknown(self):
        self.assertEqual(await self.api("4242"), (404, {"error": "no student has the ID 4242"}))

    async def test_beyond_storage(self):
        """19 digits past what SQLite holds: a well-formed ID nobody has."""
        code, answer = await self.api("9" * 19)
        self.assertEqual(code, 404)

    async def test_not_an_id(self):
        for raw in ["abc", SQL_INJECTION, "1" * 20, "-5", " "]:
            code, answer = await self.api(raw)
            self.assertEqual(code, 400, raw)
            self.assertIn("A university ID is a whole number of 1 to 19 digits", answer["error"])

    async def test_store_down(self):
        await self.store.close()
        code, answer = await self.api("1800")
        self.assertEqual(code, 503)
        self.assertIn("cannot be read", answer["error"])
        self.flushLoggedErrors()

    async def test_logged(self):
        await self.api("1866")
        self.assertEqual(len(self.logged("Lookup of ID 1866 (api): found")), 1)


class HealthTests(WebTestCase):
    async def test_healthy(self):
        response, body = await self.get("/healthz")
        self.assertEqual((response.code, body), (200, b"ok\n"))

    async def test_store_closed(self):
        await self.store.close()
        response, body = await self.get("/healthz")
        self.assertEqual((response.code, body), (503, b"store not answering\n"))


class StuckStoreTests(TestCase):
    def test_health_check_gives_up(self):
        """
        A store whose thread never answers (its pool never starts on this reactor) makes the
        health check answer 503 once its time is up, instead of hanging the prober.
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
        self.assertEqual(response.code, 503)
        self.assertEqual(self.successResultOf(response.content()), b"store not answering\n")


class TLSTests(TestCase):
    async def test_web_over_tls(self):
        """--web ssl:... serves the same app over HTTPS; a client that trusts the cert reads it."""
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
        self.assertEqual(response.code, 200)
        self.assertEqual(await response.json(), {"name": "Sara", "id": 1800, "age": 23})
