"""
What the teacher's area tests share: a server in this process with a teacher account, an HTTP
client that keeps the session cookie and sends the page's CSRF token, a reader of the pages'
tables, and a scripted class of 50 students who sat the math test.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from urllib.parse import urlencode

import treq

from examtwist.storage import Order, Result
from examtwist.storage.attempts import Answer, Fresh
from examtwist.storage.records import utc_now
from tests.support import LOOPBACK, listening_port, start_server

TEACHER = "ada"
PASSWORD = "correct horse battery"
CSRF = "__csrf_protection__"


async def teacher_server(testcase, *args: str):
    """The whole server in this process, with the teacher ada: (service, base URL)."""
    service, _ = await start_server(testcase, *args)
    await service.desk.ready
    store = service.desk.store
    await store.add_teacher(TEACHER, await service.desk.hasher.hash(PASSWORD))
    return service, f"http://{LOOPBACK}:{listening_port(service, 'Teacher area')}"


class Answered:
    """An HTTP answer as a test reads it."""

    def __init__(self, code: int, headers, body: bytes) -> None:
        self.code, self.headers, self.body = code, headers, body
        self.text = body.decode("utf-8", "replace")

    def header(self, name: bytes) -> str | None:
        values = self.headers.getRawHeaders(name)
        return values[0].decode() if values else None

    @property
    def csrf(self) -> str | None:
        found = re.search(rf'name="{CSRF}" value="([^"]*)"', self.text)
        return found.group(1) if found else None


class Browsing:
    """One browser's cookies, by hand: the session cookie it was given, sent back."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies: dict[str, str] = {}
        self.set_cookies: list[str] = []

    async def request(self, method: str, path: str, fields=None, headers=None) -> Answered:
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if fields is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            data = urlencode(fields).encode()
        response = await treq.request(method, self.base + path, headers=headers, data=data,
                                      persistent=False, allow_redirects=False)
        body = await response.content()
        for value in response.headers.getRawHeaders(b"set-cookie", []):
            value = value.decode()
            self.set_cookies.append(value)
            name, _, rest = value.partition("=")
            cookie = rest.split(";", 1)[0]
            if "Max-Age=0" in value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = cookie
        return Answered(response.code, response.headers, body)

    def get(self, path: str) -> Answered:
        return self.request("GET", path)

    def post(self, path: str, fields: dict) -> Answered:
        return self.request("POST", path, fields)

    async def sign_in(self, username: str = TEACHER, password: str = PASSWORD) -> Answered:
        form = await self.get("/sign-in")
        return await self.post("/sign-in", {CSRF: form.csrf, "username": username,
                                            "password": password, "next": "/"})


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.ids: dict[str, str] = {}
        self._table = self._row = self._cell = self._id = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("id", ""), [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        if "id" in attrs and tag in ("dd", "h1", "p"):
            self._id, self._cell = attrs["id"], []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag in ("dd", "h1", "p") and self._id is not None:
            self.ids[self._id] = " ".join("".join(self._cell).split())
            self._id = self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def read_page(text: str) -> tuple[dict[str, list[list[str]]], dict[str, str]]:
    """The page's tables by id (rows of cell texts, the header first) and texts by id."""
    parser = _Tables()
    parser.feed(text)
    return parser.tables, parser.ids


# The scripted class: who chose what in the math test (key B D C A C), by group.
CLASS = [
    # (how many, correct answers, the letters they chose)
    (10, 5, "BDCAC"),
    (20, 3, "BDCBA"),
    (15, 1, "BAABD"),
    (5, 0, "AAABB"),
]
KEY = "BDCAC"


async def sit_the_class(store) -> None:
    """
    50 students graded in the math test on 2026-11-02, each in 5 min, with every answer; 2
    more abandoned it; 3 more are in it now.
    """
    number = 0
    for count, correct, letters in CLASS:
        for _ in range(count):
            number += 1
            name = f"s{number:02d}"
            await store.add_user(name, "not a hash")
            began = datetime(2026, 11, 2, 9, tzinfo=timezone.utc) + timedelta(minutes=number)
            start = began.strftime("%Y-%m-%dT%H:%M:%SZ")
            end = (began + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
            answers = tuple(
                Answer(i, i, letter, letter, letter == KEY[i - 1], end)
                for i, letter in enumerate(letters, 1))
            grade = round(100 * correct / 5, 1)
            await store.record_result(
                Result(name, "math", "graded", correct, 5, 5, grade, start, end, "127.0.0.1"),
                Order("", ""), answers)
    for name in ("s51", "s52"):
        await store.add_user(name, "not a hash")
        await store.record_result(Result(name, "math", "abandoned", 0, 1, 5, None,
                                         "2026-11-02T10:00:00Z", "2026-11-02T10:01:00Z",
                                         "127.0.0.1"))
    for name in ("s53", "s54", "s55"):
        await store.add_user(name, "not a hash")
        await store.take_attempt(name, "math", None,
                                 Fresh(utc_now(), None, Order("", ""), 5, "127.0.0.1"),
                                 f"holder-{name}", time.time(), 1800)
