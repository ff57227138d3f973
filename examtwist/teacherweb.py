"""
The teacher's web area: a Klein app on its own port (C{--teacher}), on the exam server's
reactor. A teacher signs in (L{examtwist.teacheradmin} makes the accounts) and sees the tests,
one test (its grades' histogram, how each question went, its latest attempts, a form for its
rules), the students and one student; every table downloads as CSV.

Sessions and CSRF are Klein's: a C{Requirer} procures each request's session through a
C{SessionProcurer} over L{examtwist.websession.StoredSessions}, C{Authorization(ITeacher)}
lets only a signed-in session through (any other request is sent to the sign-in page), and
every form that changes something is a Klein C{Form}, whose CSRF token is checked before the
route runs. Sign-in checks the password with the server's own hasher (argon2id, fair across
client addresses, off the reactor) and is throttled as student logins are. Every query runs in
the store's threads, the pages' on its reading connection (L{examtwist.teacherreports}: the
live pages' reports are kept a few seconds, one read for every teacher reloading).
"""

from __future__ import annotations

import re
import time
from urllib.parse import quote

from klein import Authorization, Field, Form, Klein, RenderableForm, Requirer
from klein.interfaces import EarlyExit, ISession, NoSuchSession
from twisted.internet.defer import CancelledError
from twisted.logger import Logger
from twisted.web.resource import IResource, Resource
from werkzeug.exceptions import NotFound

from examtwist.ratelimit import RateLimit, client_key
from examtwist.testbank import DEFAULT_RESUME_WINDOW
from examtwist.teacherforms import (
    CSRF_FIELD, RULE_FIELDS, ThisRequest, form_values, is_live, rules_from_form, safe_next,
)
from examtwist.teacherpages import (
    Body, Page, StudentBody, StudentsBody, teacher_templates, TestBody, TestsBody,
)
from examtwist.teacherreports import TeacherReports
from examtwist.teachersignin import NO_MATCH, Refused, TeacherSignIn
from examtwist.teachertables import csv_table
from examtwist.web import _HEADERS, Templates, WithHeaders
from examtwist.websession import ITeacher, StoredSessions, TeacherRequest, procurer
from examtwist.webguard import GuardedSite, WebLimits, form_fields
from examtwist.wire import format_address

log = Logger()

# The live pages count what started and ended since their last reload.
REFRESH = 10
SIGN_IN = b"/sign-in"


class _ToSignIn(Resource):
    """303 to the sign-in page, which comes back here once signed in."""

    isLeaf = True

    def __init__(self, *ignored) -> None:
        super().__init__()

    def render(self, request):
        back = "/"
        if request.method == b"GET":
            back = safe_next(request.uri.decode("utf-8", "replace"))
        target = SIGN_IN if back == "/" else SIGN_IN + b"?next=" + quote(back, safe="/").encode()
        request.setResponseCode(303)
        request.setHeader(b"location", target)
        return b""


class TeacherWeb:
    """The app; its state is this instance's, its routes are its methods."""

    app = Klein()
    signing_in = Requirer()
    teaching = Requirer()

    def __init__(self, store, hasher, throttle, reactor, *, limit: RateLimit | None = None,
                 templates: Templates | None = None,
                 resume_window: float = DEFAULT_RESUME_WINDOW) -> None:
        self._store = store
        self._reports = TeacherReports(store, reactor, resume_window, lately=REFRESH)
        self._sign_ins = TeacherSignIn(store, hasher, throttle)
        self._reactor, self._limit = reactor, limit
        self._templates = templates or teacher_templates()
        self.sessions = StoredSessions(store)
        self._creating = procurer(self.sessions, creates=True)
        self._finding = procurer(self.sessions, creates=False)

    def resource(self) -> IResource:
        return _TeacherResource(self.app.resource())

    # Sessions: the sign-in page makes one; every other page needs one signed in.

    @signing_in.prerequisite([ISession])
    async def _any_session(self, request):
        client = getattr(request.getClientAddress(), "host", "")
        wait = self._limit.wait(client_key(client)) if self._limit is not None else 0
        if wait:
            request.setHeader(b"retry-after", b"%d" % wait)
            raise EarlyExit(self._error(request, 429, "Too many requests",
                                        f"Please wait {wait} s and try again."))
        try:
            await self._creating.procureSession(request)
        except NoSuchSession:
            raise EarlyExit(_ToSignIn()) from None

    @teaching.prerequisite([ISession])
    async def _signed_in_session(self, request):
        try:
            await self._finding.procureSession(request)
        except NoSuchSession:
            raise EarlyExit(_ToSignIn()) from None

    @signing_in.require(
        app.route("/sign-in", methods=["POST"]), request=ThisRequest(),
        username=Field.text(required=False, default=""),
        password=Field.password(required=False, default=""),
        after=Field.text(formFieldName="next", required=False, default="/"),
    )
    async def sign_in(self, request, username: str, password: str, after: str):
        session = ISession(request)
        address = format_address(request.getClientAddress())
        try:
            teacher = await self._sign_ins.check(username, password, address)
            if not await self.sessions.sign_in(request, session, teacher):
                raise Refused(401, NO_MATCH)  # removed meanwhile
        except Refused as e:
            if e.retry_after:
                request.setHeader(b"retry-after", b"%d" % e.retry_after)
            return self._sign_in_page(request, session, e.code, username, after, e.message)
        log.info("Teacher {name} signed in from {address}", name=teacher, address=address)
        return _see_other(request, safe_next(after))

    @signing_in.require(app.route("/sign-in", methods=["GET"]), request=ThisRequest())
    def sign_in_form(self, request):
        after = safe_next(request.args.get(b"next", [b"/"])[0].decode("utf-8", "replace"))
        return self._sign_in_page(request, ISession(request), 200, "", after, None)

    def _sign_in_page(self, request, session, code, username, after, message):
        request.setResponseCode(code)
        body = Body(self._templates, "teacher_signin", _glue(session),
                    ("message", message) if message else None, username=username, next=after)
        return self._html(request, Page(self._templates, "Sign in", body))

    @teaching.require(app.route("/sign-out", methods=["POST"]), request=ThisRequest(),
                      teacher=Authorization(ITeacher, whenDenied=_ToSignIn),
                      # A form of no fields but its button, so that Klein checks its CSRF token.
                      done=Field(converter=str, formInputType="submit", required=False))
    async def sign_out(self, request, teacher, done):
        await self.sessions.sign_out(request, ISession(request))
        log.info("Teacher {name} signed out", name=teacher.username)
        return _see_other(request, "/sign-in")

    # Pages

    def _page(self, request, teacher, title, body, live=False):
        page = Page(self._templates, title, body, teacher.username, _glue(ISession(request)),
                    live)
        return self._html(request, page)

    @teaching.require(app.route("/", methods=["GET"]), request=ThisRequest(),
                      teacher=Authorization(ITeacher, whenDenied=_ToSignIn))
    async def tests(self, request, teacher):
        rows = await self._reports.tests()
        live = any(is_live(row, time.time()) for row in rows)
        return self._page(request, teacher, "Tests", TestsBody(self._templates, rows, live), live)

    @teaching.require(app.route("/tests/<name>", methods=["GET"]), request=ThisRequest(),
                      teacher=Authorization(ITeacher, whenDenied=_ToSignIn))
    async def test(self, request, teacher, name):
        message = None
        if request.args.get(b"saved"):
            message = ("saved", "Rules saved: each server applies them from the next attempt.")
        return await self._test_page(request, teacher, name, None, {}, message)

    async def _test_page(self, request, teacher, name, typed, errors, message=None):
        report = await self._reports.test(name)
        if report is None:
            return self._error(request, 404, "No such test", f"No test is named {name}.")
        if errors:
            request.setResponseCode(400)
        live = is_live(report.row, time.time())
        body = TestBody(self._templates, report, live, _glue(ISession(request)),
                        typed or form_values(report.row.rules), errors, message)
        return self._page(request, teacher, f"Test {report.row.name}", body, live)

    @teaching.require(app.route("/tests/<name>/rules", methods=["POST"]), request=ThisRequest(),
                      teacher=Authorization(ITeacher, whenDenied=_ToSignIn), **RULE_FIELDS)
    async def set_rules(self, request, teacher, name, **typed):
        rules, errors = rules_from_form(typed)
        if errors:
            return await self._test_page(request, teacher, name, _typed(request), errors)
        if not await self._store.set_rules(name, rules):
            return self._error(request, 404, "No such test", f"No test is named {name}.")
        self._reports.rules_changed()
        log.info("Teacher {teacher} set the rules of {test}: {rules}",
                 teacher=teacher.username, test=name, rules=rules)
        return _see_other(request, f"/tests/{name}?saved=1#rules-form")

    @Form.onValidationFailureFor(set_rules)
    async def _rules_refused(self, request, values):
        """A value no rule can take: the page again, with what was typed and why not."""
        name = re.match(r"/tests/([^/]+)/rules", request.path.decode("utf-8", "replace"))
        errors = {field.pythonArgumentName: error.message
                  for field, error in values.validationErrors.items()}
        teacher = (await ISession(request).authorize([ITeacher]))[ITeacher]
        return await self._test_page(request, teacher, name.group(1), _typed(request), errors)

    @teaching.require(app.route("/students", methods=["GET"]), request=ThisRequest(),
                      teacher=Authorization(ITeacher, whenDenied=_ToSignIn))
    async def students(self, request, teacher):
        rows = await self._reports.students()
        return self._page(request, teacher, "Students", StudentsBody(self._templates, rows))

    @teaching.require(app.route("/students/<name>", methods=["GET"]), request=ThisRequest(),
                      teacher=Authorization(ITeacher, whenDenied=_ToSignIn))
    async def student(self, request, teacher, name):
        attempts = await self._reports.attempts_of_student(name)
        if attempts is None:
            return self._error(request, 404, "No such student", f"No student is named {name}.")
        return self._page(request, teacher, f"Student {name}",
                          StudentBody(self._templates, name, attempts))

    @teaching.require(app.route("/<path:path>.csv", methods=["GET"]), request=ThisRequest(),
                      teacher=Authorization(ITeacher, whenDenied=_ToSignIn))
    async def table(self, request, teacher, path):
        """Any table of the pages, as CSV with spreadsheet-safe cells."""
        found = await csv_table(self._reports, path)
        if found is None:
            return self._error(request, 404, "No such table", "There is no table here.")
        request.setHeader(b"content-type", b"text/csv; charset=utf-8")
        filename = path.replace("/", "-") + ".csv"
        request.setHeader(b"content-disposition", f'attachment; filename="{filename}"'.encode())
        return found

    @app.route("/favicon.ico", methods=["GET"])
    def favicon(self, request):
        request.setHeader(b"content-type", b"image/x-icon")
        request.setHeader(b"cache-control", b"public, max-age=86400")
        return self._templates.favicon

    @app.handle_errors(NotFound)
    def not_found(self, request, failure):
        return self._error(request, 404, "Page not found", "There is no page at this address.")

    @app.handle_errors(Exception)
    def failed(self, request, failure):
        if failure.check(CancelledError):
            return b""
        log.failure("A teacher's page failed", failure)
        return self._error(request, 503, "This page is not working",
                           "The server could not read the data. Please try again in a minute.")

    # Helpers

    def _html(self, request, element):
        """Klein writes an element as HTML, after <!DOCTYPE html>."""
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return element

    def _error(self, request, code, heading, message):
        request.setResponseCode(code)
        body = Body(self._templates, "teacher_error", heading=heading, message=message)
        return self._html(request, Page(self._templates, heading, body))


def _glue(session):
    """Klein's hidden field with the session's CSRF token, which its forms check."""
    return RenderableForm(_NO_FIELDS, session, "", "post", RenderableForm.ENCTYPE_URL_ENCODED,
                          "utf-8").glue()


_NO_FIELDS = Form([])


def _see_other(request, location: str) -> bytes:
    request.setResponseCode(303)
    request.setHeader(b"location", location.encode("utf-8"))
    return b""


def _typed(request) -> dict:
    return {k: request.args.get(k.encode(), [b""])[0].decode("utf-8", "replace")
            for k in ("attempts", "minutes", "opens", "closes", "shuffled")}


def teacher_site(desk, throttle, reactor, limits: WebLimits, sign_ins: RateLimit) -> GuardedSite:
    """
    The teacher's port: the app over the desk's store and hasher, behind the same guards as
    the student lookup's port, its cookies SameSite=Strict.
    """
    app = TeacherWeb(desk.store, desk.hasher, throttle, reactor, limit=sign_ins,
                     resume_window=desk.resume_window)
    site = GuardedSite(app.resource(), limits, reactor=reactor)
    site.requestFactory = TeacherRequest
    site.noisy = False
    return site


class _TeacherResource(WithHeaders):
    """
    The app's resource: the headers every answer carries (text/plain unless a page says HTML),
    and a POST's form, bounded by the site, in C{request.args} where Klein's forms read it.
    """

    headers = {**_HEADERS, b"content-type": b"text/plain; charset=utf-8"}

    def render(self, request):
        if request.method == b"POST":
            fields = form_fields(request)
            token = fields.get(CSRF_FIELD, [b""])[0]
            if not token.isascii():
                fields[CSRF_FIELD] = [b""]
            request.args = fields
        return super().render(request)
