"""
The teacher's web area: its sessions on the database (units, on a real SQLite file), the rules'
form, the histogram, and the whole server in this process on real sockets: sign-in, what a
page without a session does, CSRF, throttling, and the numbers a class of 50 makes.
"""

from __future__ import annotations

import re

from klein.interfaces import NoSuchSession, SessionMechanism
from twisted.trial.unittest import TestCase

from examtwist.storage import Store
from examtwist.teacherforms import RULE_FIELDS, rules_from_form, safe_next
from examtwist.teacherpages import histogram
from examtwist.testbank import Rules
from examtwist.websession import StoredSessions, token_hash
from twisted.web.template import flattenString
from klein.interfaces import ValidationError
from tests.support import backend_of, open_store, temp_db
from tests.teacher_support import (
    CSRF, PASSWORD, TEACHER, Browsing, read_page, sit_the_class, teacher_server,
)

COOKIE = SessionMechanism.Cookie


class _Request:
    """What StoredSessions asks of a request when it sets a cookie."""

    def __init__(self, secure: bool = False) -> None:
        self.secure, self.cookies = secure, []

    def isSecure(self) -> bool:
        return self.secure

    def addCookie(self, name, value, **kwargs) -> None:
        self.cookies.append((name, value, kwargs))


class SessionStoreTests(TestCase):
    async def setUp(self):
        self.db = temp_db(self)
        self.store = await open_store(self, self.db)
        await self.store.add_teacher(TEACHER, "hash")
        self.sessions = StoredSessions(self.store)

    async def test_new_then_load(self):
        """
        If a session is made over plain HTTP, then loading its identifier gives a session with
        that identifier, not confidential, signed in as nobody.
        """
        made = await self.sessions.newSession(False, COOKIE)
        loaded = await self.sessions.loadSession(made.identifier, False, COOKIE)
        self.assertEqual((loaded.identifier, loaded.isConfidential, loaded.teacher),
                         (made.identifier, False, None))
        self.assertEqual(await loaded.authorize([]), {})

    async def test_unknown_and_other_security(self):
        """
        If an identifier was never issued, or a session made over TLS is asked for over plain
        HTTP, then loading it fails with NoSuchSession.
        """
        with self.assertRaises(NoSuchSession):
            await self.sessions.loadSession("nobody-has-this", False, COOKIE)
        secure = await self.sessions.newSession(True, COOKIE)
        with self.assertRaises(NoSuchSession):
            await self.sessions.loadSession(secure.identifier, False, COOKIE)

    async def test_sign_in_replaces_the_session(self):
        """
        If a session signs in as ADA, then the old identifier opens nothing, the new one (in the
        cookie set, HttpOnly, 8 h) is signed in as ada, and the database holds only its SHA-256.
        """
        old = await self.sessions.newSession(False, COOKIE)
        request = _Request()
        self.assertTrue(await self.sessions.sign_in(request, old, "ADA"))
        [(name, new_id, options)] = request.cookies
        self.assertEqual((name, options), (b"examtwist-teacher", {
            "max_age": "28800", "path": b"/", "secure": False, "httpOnly": True}))
        with self.assertRaises(NoSuchSession):
            await self.sessions.loadSession(old.identifier, False, COOKIE)
        new = await self.sessions.loadSession(new_id, False, COOKIE)
        self.assertEqual(new.teacher, "ada")
        rows = backend_of(self).execute(self.db, "SELECT token_hash FROM web_sessions")
        self.assertEqual(rows, [(token_hash(new_id),)])
        self.assertNotIn(new_id, str(rows))

    async def test_survives_a_restart(self):
        """If the store is closed and opened again, then a signed-in session still loads."""
        made = await self.sessions.newSession(False, COOKIE)
        request = _Request()
        await self.sessions.sign_in(request, made, TEACHER)
        new_id = request.cookies[0][1]
        await self.store.close()
        again = await open_store(self, self.db)
        loaded = await StoredSessions(again).loadSession(new_id, False, COOKIE)
        self.assertEqual(loaded.teacher, "ada")

    async def test_expired(self):
        """If a session's expiry has passed, then it does not load."""
        made = await self.sessions.newSession(False, COOKIE)
        backend_of(self).execute(self.db, "UPDATE web_sessions SET expires_at ="
                                          " '2020-01-01T00:00:00Z'")
        with self.assertRaises(NoSuchSession):
            await self.sessions.loadSession(made.identifier, False, COOKIE)

    async def test_sign_out_and_removed_teacher(self):
        """
        If one signed-in session signs out and the teacher of another is removed, then neither
        loads any more, and sign-out told the browser to drop its cookie (Max-Age 0).
        """
        first, second = _Request(), _Request()
        await self.sessions.sign_in(first, await self.sessions.newSession(False, COOKIE), "ada")
        await self.sessions.sign_in(second, await self.sessions.newSession(False, COOKIE), "ada")
        one = await self.sessions.loadSession(first.cookies[0][1], False, COOKIE)
        await self.sessions.sign_out(first, one)
        self.assertEqual(first.cookies[1][1:], ("", {"max_age": "0", "path": b"/",
                                                     "secure": False, "httpOnly": True}))
        with self.assertRaises(NoSuchSession):
            await self.sessions.loadSession(first.cookies[0][1], False, COOKIE)
        self.assertEqual(await self.store.remove_teacher("ADA"), "ada")
        with self.assertRaises(NoSuchSession):
            await self.sessions.loadSession(second.cookies[0][1], False, COOKIE)

    async def test_sent_in_clear(self):
        """
        If the identifiers of a TLS session and of a plain one are seen on a plain request,
        then the TLS one is ended and the plain one still loads.
        """
        secure = await self.sessions.newSession(True, COOKIE)
        plain = await self.sessions.newSession(False, COOKIE)
        self.sessions.sentInsecurely([secure.identifier.encode(), plain.identifier])
        await self.store.schema_version()  # after the ending, on the one connection
        with self.assertRaises(NoSuchSession):
            await self.sessions.loadSession(secure.identifier, True, COOKIE)
        self.assertEqual((await self.sessions.loadSession(plain.identifier, False,
                                                           COOKIE)).identifier,
                         plain.identifier)


def _field(name: str, text: str | None):
    return RULE_FIELDS[name].validateValue(text)


class FormTests(TestCase):
    def test_rules_from_form(self):
        """
        If the form says 2 attempts, 1.5 minutes, shuffled, open 2026-12-01 09:00 to 10:30,
        then the rules are 2, 90 s, shuffled, 1796115600 to 1796121000; blank fields are off.
        """
        typed = {"attempts": _field("attempts", "2"), "minutes": _field("minutes", "1.5"),
                 "shuffled": _field("shuffled", "on"),
                 "opens": _field("opens", "2026-12-01T09:00"),
                 "closes": _field("closes", "2026-12-01 10:30")}
        self.assertEqual(rules_from_form(typed), (Rules(2, 90, True, 1796115600, 1796121000), {}))
        blank = {"attempts": _field("attempts", ""), "minutes": _field("minutes", " "),
                 "shuffled": _field("shuffled", None), "opens": _field("opens", ""),
                 "closes": _field("closes", "")}
        self.assertEqual(rules_from_form(blank), (Rules(), {}))

    def test_refused_values(self):
        """
        If attempts is 0 or "two", minutes is -1, or a time is "tomorrow" or 2026-02-30, then
        each field says why; a window that closes before it opens is refused on "closes".
        """
        for name, text, why in [
            ("attempts", "0", "The number of attempts is a whole number from 1 to 1000, or blank"),
            ("attempts", "two", "The number of attempts is a whole number from 1 to 1000, or"
                                " blank"),
            ("minutes", "-1", "The time limit is in minutes, from 1 s (0.02) to 10080, or blank"),
            ("opens", "tomorrow", "A time is written YYYY-MM-DD HH:MM (UTC), or blank"),
            ("closes", "2026-02-30T09:00", "There is no such time as 2026-02-30T09:00"),
        ]:
            with self.assertRaises(ValidationError) as caught:
                _field(name, text)
            self.assertEqual(caught.exception.message, why, (name, text))
        backwards = {"attempts": None, "minutes": None, "shuffled": False,
                     "opens": 1796121000, "closes": 1796115600}
        self.assertEqual(rules_from_form(backwards)[1],
                         {"closes": "The test must close after it opens"})

    def test_safe_next(self):
        """
        If sign-in is asked to go on to another site, a scheme, the sign-in or sign-out page, or
        a path with odd characters, then it goes to / instead; a page here keeps its path.
        """
        cases = {"/tests/math?saved=1": "/tests/math", "//evil.example/": "/",
                 "https://evil.example/": "/", "/sign-out": "/", "/students/a b": "/",
                 "/students/s01": "/students/s01", "": "/"}
        self.assertEqual({given: safe_next(given) for given in cases}, cases)


class HistogramTests(TestCase):
    async def test_bars(self):
        """
        If the grades fall 5, 0, 15, 0, 0, 0, 20, 0, 0, 10 in the tenths, then the SVG has four
        bars, 40, 120, 160 and 80 units high, and a count over every tenth.
        """
        svg = (await flattenString(None, histogram((5, 0, 15, 0, 0, 0, 20, 0, 0, 10)))).decode()
        bars = re.findall(r'<rect class="bar" x="(\d+)" y="(\d+)" width="48" height="(\d+)"',
                          svg)
        self.assertEqual(bars, [("14", "150", "40"), ("126", "70", "120"),
                                ("350", "30", "160"), ("518", "110", "80")])
        counts = re.findall(r'text-anchor="middle">(\d+)</text>', svg)
        self.assertEqual(counts[0::2], ["5", "0", "15", "0", "0", "0", "20", "0", "0", "10"])
        self.assertNotIn("<script", svg)


class TeacherAreaTests(TestCase):
    """The whole server in this process, over real sockets."""

    timeout = 60

    async def setUp(self):
        self.service, self.base = await teacher_server(self, "--login-backoff", "30")
        self.store: Store = self.service.desk.store
        self.browser = Browsing(self.base)

    async def test_every_page_wants_a_session(self):
        """
        If a browser without a session asks for any teacher's page or table, or posts a form,
        then it is sent (303) to /sign-in, pages with ?next= their path; nothing else is shown.
        """
        wanted = {("GET", "/"): "/sign-in", ("GET", "/tests/math"): "/sign-in?next=/tests/math",
                  ("GET", "/students"): "/sign-in?next=/students",
                  ("GET", "/students/s01"): "/sign-in?next=/students/s01",
                  ("GET", "/tests.csv"): "/sign-in?next=/tests.csv",
                  ("GET", "/tests/math/attempts.csv"): "/sign-in?next=/tests/math/attempts.csv",
                  ("POST", "/tests/math/rules"): "/sign-in", ("POST", "/sign-out"): "/sign-in"}
        seen = {}
        for method, path in wanted:
            answer = await self.browser.request(method, path, {} if method == "POST" else None)
            seen[method, path] = (answer.code, answer.header(b"location"), answer.body)
        self.assertEqual(seen, {key: (303, where, b"") for key, where in wanted.items()})

    async def test_sign_in_and_out(self):
        """
        If ada signs in with her password, then she lands on / (the cookie HttpOnly and
        SameSite=Strict) and sees the tests; a sign-out without the CSRF token is refused (403);
        after signing out, / sends her to sign in again.
        """
        answer = await self.browser.sign_in()
        self.assertEqual((answer.code, answer.header(b"location")), (303, "/"))
        self.assertRegex(self.browser.set_cookies[-1],
                         r"^examtwist-teacher=[A-Za-z0-9_-]{43}; Path=/; Max-Age=28800; HttpOnly;"
                         r" SameSite=strict$")
        page = await self.browser.get("/")
        self.assertEqual((page.code, read_page(page.text)[0]["tests"][1][:2]), (200, ["math", "5"]))
        forged = await self.browser.post("/sign-out", {})
        self.assertEqual(forged.code, 403)
        out = await self.browser.post("/sign-out", {CSRF: page.csrf})
        self.assertEqual((out.code, out.header(b"location")), (303, "/sign-in"))
        again = await self.browser.get("/")
        self.assertEqual((again.code, again.header(b"location")), (303, "/sign-in"))

    async def test_forged_post(self):
        """
        If a signed-in browser posts new rules without the CSRF token, or with another, then
        the answer is 403 and the math test keeps its rules (none).
        """
        await self.browser.sign_in()
        fields = {"attempts": "1", "minutes": "5"}
        without = await self.browser.post("/tests/math/rules", fields)
        wrong = await self.browser.post("/tests/math/rules", {**fields, CSRF: "guess"})
        self.assertEqual((without.code, wrong.code), (403, 403))
        self.assertEqual((await self.store.find_test("math")).rules, Rules())

    async def test_student_credentials(self):
        """
        If a student's name and password are typed at the teacher's sign-in, then it says they
        do not match a teacher's (401) and / still sends the browser to sign in.
        """
        await self.store.add_user("bob", await self.service.desk.hasher.hash(PASSWORD))
        answer = await self.browser.sign_in("bob", PASSWORD)
        self.assertEqual(answer.code, 401)
        self.assertIn('<p class="message" role="alert">That name and password do not match a'
                      " teacher's.</p>", answer.text)
        self.assertEqual((await self.browser.get("/")).code, 303)

    async def test_throttled(self):
        """
        If ada's password is wrong 5 times from one address, then the 6th try, even with the
        right password, is refused with 429 and Retry-After: 30.
        """
        codes = [(await self.browser.sign_in(TEACHER, "wrong")).code for _ in range(5)]
        sixth = await self.browser.sign_in()
        self.assertEqual((codes, sixth.code, sixth.header(b"retry-after")),
                         ([401] * 5, 429, "30"))
        self.assertIn("Too many failed sign-ins: wait 30 s.", sixth.text)

    async def test_class_of_50(self):
        """
        If 50 students sat math (10 got 100 %, 20 got 60 %, 15 got 20 %, 5 got 0 %), 2 abandoned
        it and 3 are in it now, then the pages say: 3 in progress, 50 finished, mean 50.0 %,
        median 60.0 %, the histogram 5/15/20/10, each question's share right and choices, and
        s01's attempt; the database holds the same counts.
        """
        await sit_the_class(self.store)
        await self.browser.sign_in()
        tables, _ = read_page((await self.browser.get("/")).text)
        self.assertEqual(tables["tests"][1], ["math", "5", "none (version 1 behaviour)", "3", "50",
                                              "50.0 %", "60.0 %"])
        page = await self.browser.get("/tests/math")
        tables, texts = read_page(page.text)
        self.assertEqual({k: v for k, v in texts.items() if k.startswith("summary-")}, {
            "summary-questions": "5", "summary-rules": "none (version 1 behaviour)",
            "summary-in-progress": "3", "summary-finished": "50", "summary-abandoned": "2",
            "summary-mean-grade": "50.0 %", "summary-median-grade": "60.0 %"})
        self.assertIn('aria-label="Grades: 0 to 9.9 %: 5, 10 to 19.9 %: 0, 20 to 29.9 %: 15,'
                      ' 30 to 39.9 %: 0, 40 to 49.9 %: 0, 50 to 59.9 %: 0, 60 to 69.9 %: 20,'
                      ' 70 to 79.9 %: 0, 80 to 89.9 %: 0, 90 to 100 %: 10"', page.text)
        self.assertEqual([row[2:] for row in tables["questions"][1:]], [
            ["90 %", "5", "45", "0", "0"], ["60 %", "20", "0", "0", "30"],
            ["60 %", "20", "0", "30", "0"], ["20 %", "10", "40", "0", "0"],
            ["20 %", "20", "5", "10", "15"]])
        self.assertIn('<td class="n fooled">40</td>', page.text)
        self.assertIn("in the last 10 s, 3 started and 0 ended", page.text)
        self.assertIn('<meta http-equiv="refresh" content="10" />', page.text)
        student = read_page((await self.browser.get("/students/s01")).text)[0]["attempts"]
        self.assertEqual(student, [
            ["Test", "Outcome", "Grade", "Correct", "Started (UTC)", "Time taken"],
            ["math", "graded", "100.0 %", "5/5", "2026-11-02 09:01:00", "5 min 00 s"]])
        sql = backend_of(self).execute
        self.assertEqual(sql(self.store.path, "SELECT outcome, count(*), avg(grade) FROM attempts"
                                              " GROUP BY outcome ORDER BY outcome"),
                         [("abandoned", 2, None), ("graded", 50, 50.0), ("open", 3, None)])
        self.assertEqual(sql(self.store.path, "SELECT count(*), sum(correct) FROM answers"),
                         [(250, 125)])
        csv = await self.browser.get("/tests/math/grades.csv")
        self.assertEqual((csv.header(b"content-type"), csv.text), ("text/csv; charset=utf-8", (
            "grade_percent,attempts\n0 to 9.9,5\n10 to 19.9,0\n20 to 29.9,15\n30 to 39.9,0\n"
            "40 to 49.9,0\n50 to 59.9,0\n60 to 69.9,20\n70 to 79.9,0\n80 to 89.9,0\n"
            "90 to 100,10\n")))

    async def test_change_rules(self):
        """
        If ada saves 1 attempt, 10 minutes, shuffled, open 2026-12-01 09:00 to 10:30, then she is
        sent back to the test's page, which says so, and the store's math test has those rules.
        """
        await self.browser.sign_in()
        page = await self.browser.get("/tests/math")
        answer = await self.browser.post("/tests/math/rules", {
            CSRF: page.csrf, "attempts": "1", "minutes": "10", "shuffled": "on",
            "opens": "2026-12-01T09:00", "closes": "2026-12-01T10:30"})
        self.assertEqual((answer.code, answer.header(b"location")),
                         (303, "/tests/math?saved=1#rules-form"))
        self.assertEqual((await self.store.find_test("math")).rules,
                         Rules(1, 600, True, 1796115600, 1796121000))
        shown = await self.browser.get("/tests/math?saved=1")
        self.assertEqual(read_page(shown.text)[1]["summary-rules"],
                         "1 attempt, 10 min 00 s, shuffled, 2026-12-01 09:00 to 2026-12-01 10:30")

    async def test_refused_rules(self):
        """
        If ada types "two" attempts, then the page comes back 400 with "two" still in the field,
        the reason beside it, and the rules unchanged.
        """
        await self.browser.sign_in()
        page = await self.browser.get("/tests/math")
        answer = await self.browser.post("/tests/math/rules", {CSRF: page.csrf, "attempts": "two"})
        self.assertEqual(answer.code, 400)
        self.assertIn('name="attempts" type="number" min="1" step="1" inputmode="numeric"'
                      ' value="two"', answer.text)
        self.assertIn("The number of attempts is a whole number from 1 to 1000, or blank",
                      answer.text)
        self.assertEqual((await self.store.find_test("math")).rules, Rules())
