"""
The student ID lookup: a Klein app served on the exam server's reactor. A student types a
university ID and sees the name, ID and age stored for it; C{/api/students/<id>} answers the
same in JSON.

Routes are thin: read the request, ask the exam desk, render a template. The templates are
twisted.web.template XML, so every value put in a page is escaped as it is written.
"""

from __future__ import annotations

import functools
import json

from klein import Klein
from twisted.internet.defer import CancelledError, Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from twisted.web.resource import IResource, Resource
from twisted.web.template import Element, XMLFile, flattenString, renderer
from werkzeug.exceptions import NotFound

from examtwist.ratelimit import RateLimit, client_key
from examtwist.students import ID_RULE, InvalidID, Student, parse_id
from examtwist.webguard import form_fields

log = Logger()

TEMPLATES = ("layout", "id_form", "login", "student", "error")
# A rejected ID is shown back in the form; a pasted novel is cut to this many characters.
MAX_ECHO = 64
HEALTH_TIMEOUT = 5.0
TITLE = "Student ID lookup"
# Pages kept rendered, by template and slots. A page depends on nothing else, and flattening
# its templates costs more than the rest of a lookup (docs/performance.md, scenario 4).
PAGES_KEPT = 512
DOCTYPE = b"<!DOCTYPE html>\n"

_HEADERS = {
    # Pages are HTML unless a route says otherwise.
    b"content-type": b"text/html; charset=utf-8",
    # No script runs on these pages; styles are inline in the layout.
    b"content-security-policy": b"default-src 'none'; style-src 'unsafe-inline'; img-src 'self';"
    b" form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
    # Pages and answers show a student's data: keep them out of caches.
    b"cache-control": b"no-store",
}


def templates_path() -> FilePath:
    """
    Installed, the templates are package data in examtwist/templates/; in a checkout they are
    templates/ beside the package.
    """
    package = FilePath(__file__).parent()
    for candidate in (package.child("templates"), package.sibling("templates")):
        if candidate.child("layout.xml").exists():
            return candidate
    raise FileNotFoundError(f"no templates beside {package.path}")


class Templates:
    """
    Pages' templates (the lookup's, unless C{names} says which) and the favicon, read once, so
    a broken one stops the start.
    """

    def __init__(self, path: FilePath | None = None, names: tuple[str, ...] = TEMPLATES) -> None:
        path = path or templates_path()
        self._loaders = {name: XMLFile(path.child(f"{name}.xml")) for name in names}
        for loader in self._loaders.values():
            loader.load()
        self.favicon = path.child("favicon.ico").getContent()

    def __getitem__(self, name: str) -> XMLFile:
        return self._loaders[name]


class Page(Element):
    """
    One page: the shared layout around a page's own template. The slots are filled at the
    top, so both templates can use them.
    """

    def __init__(self, templates: Templates, body: str, **slots: str) -> None:
        super().__init__(templates["layout"])
        self._content = _Content(templates, body)
        self._slots = {"typed": "", **slots}

    @renderer
    def page(self, request, tag):
        return tag.fillSlots(**self._slots)

    @renderer
    def content(self, request, tag):
        return tag(self._content)


class _Content(Element):
    def __init__(self, templates: Templates, body: str) -> None:
        super().__init__(templates[body])
        self._form = templates["id_form"]

    @renderer
    def id_form(self, request, tag):
        return Element(self._form)


class StoreUnavailable(Exception):
    """The store failed or did not answer; the page says to try later."""


class StudentLookup:
    """
    The web app, a thin adapter over the exam desk. Its state (the desk, the reactor, the
    templates) is this instance's; the routes are its methods.
    """

    app = Klein()

    def __init__(self, desk, reactor, templates: Templates | None = None,
                 health_timeout: float = HEALTH_TIMEOUT, limit: RateLimit | None = None) -> None:
        self._desk = desk
        self._limit = limit
        self._reactor = reactor
        self._templates = templates or Templates()
        self._health_timeout = health_timeout
        self._rendered = functools.lru_cache(maxsize=PAGES_KEPT)(self._render)

    def resource(self) -> IResource:
        return WithHeaders(self.app.resource())

    # Pages

    @app.route("/", methods=["GET"])
    def index(self, request):
        return _redirect(request, b"/login")

    @app.route("/login", methods=["GET"])
    def login(self, request):
        return self._page("login", TITLE)

    @app.route("/handlelogin", methods=["GET"])
    def handlelogin_again(self, request):
        """A reload or a bookmark of the result page: start again."""
        return _redirect(request, b"/login")

    @app.route("/handlelogin", methods=["POST"])
    async def handlelogin(self, request):
        typed = _form_field(request, b"ID")
        wait = self._too_many(request, "page")
        if wait:
            return self._error(
                "Too many lookups",
                f"This address has looked up many IDs in a short time. Please wait {wait} s"
                " and try again.",
                typed,
            )
        try:
            student_id = parse_id(typed)
        except InvalidID as e:
            log.info("Lookup refused: {typed!r} is not an ID", typed=typed[:MAX_ECHO])
            request.setResponseCode(400)
            return self._error(
                "That is not a university ID", f"{e} A university ID is {ID_RULE}.", typed
            )
        try:
            student = await self._find(student_id, "page")
        except StoreUnavailable:
            request.setResponseCode(503)
            return self._error(
                "The lookup is not working",
                "Student records cannot be read right now. Please try again in a minute.",
                typed,
            )
        if student is None:
            request.setResponseCode(404)
            return self._error(
                "No such student",
                f"No student has the ID {student_id}. Check the number and try again.",
                typed,
            )
        return self._page(
            "student", f"{student.name} · {TITLE}",
            name=student.name, id=str(student.id), age=str(student.age),
        )

    @app.handle_errors(NotFound)
    def not_found(self, request, failure):
        request.setResponseCode(404)
        return self._error("Page not found", "There is no page at this address.")

    # JSON, health, favicon

    @app.route("/api/students/<raw_id>", methods=["GET"])
    async def api_student(self, request, raw_id: str):
        request.setHeader(b"content-type", b"application/json")
        wait = self._too_many(request, "api")
        if wait:
            return _json({"error": f"too many lookups from this address; try again in {wait} s"})
        try:
            student_id = parse_id(raw_id)
        except InvalidID as e:
            log.info("Lookup refused: {typed!r} is not an ID", typed=raw_id[:MAX_ECHO])
            request.setResponseCode(400)
            return _json({"error": f"{e} A university ID is {ID_RULE}."})
        try:
            student = await self._find(student_id, "api")
        except StoreUnavailable:
            request.setResponseCode(503)
            return _json({"error": "student records cannot be read right now"})
        if student is None:
            request.setResponseCode(404)
            return _json({"error": f"no student has the ID {student_id}"})
        return _json(student._asdict())

    @app.route("/healthz", methods=["GET"])
    async def healthz(self, request):
        """200 when the store answers a query in time, else 503: for a load balancer."""
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        try:
            await _detached(self._desk.check()).addTimeout(self._health_timeout, self._reactor)
        except CancelledError:
            raise  # the prober hung up
        except Exception as e:
            log.warn("Health check failed: the store did not answer ({e!r})", e=e)
            request.setResponseCode(503)
            return b"store not answering\n"
        return b"ok\n"

    @app.route("/favicon.ico", methods=["GET"])
    def favicon(self, request):
        request.setHeader(b"content-type", b"image/x-icon")
        request.setHeader(b"cache-control", b"public, max-age=86400")
        return self._templates.favicon

    # Helpers

    def _too_many(self, request, via: str) -> int:
        """0, or the seconds to wait: then the answer is 429 with C{Retry-After}."""
        client = getattr(request.getClientAddress(), "host", "")
        wait = self._limit.wait(client_key(client)) if self._limit is not None else 0
        if wait:
            log.info("Lookup ({via}) from {client} refused: too many, {wait} s to wait",
                     via=via, client=client, wait=wait)
            request.setResponseCode(429, b"Too Many Requests")
            request.setHeader(b"retry-after", b"%d" % wait)
        return wait

    async def _find(self, student_id: int, via: str) -> Student | None:
        try:
            student = await _detached(self._desk.find_student(student_id))
        except CancelledError:
            raise  # the client hung up; the store still finishes the query
        except Exception as e:
            log.failure("Lookup of ID {id} failed", id=student_id)
            raise StoreUnavailable() from e
        log.info(
            "Lookup of ID {id} ({via}): {outcome}",
            id=student_id, via=via, outcome="found" if student else "not found",
        )
        return student

    def _page(self, body: str, title: str, **slots: str) -> bytes:
        return self._rendered(body, title, tuple(sorted(slots.items())))

    def _render(self, body: str, title: str, slots: tuple[tuple[str, str], ...]) -> bytes:
        """The page as Klein would write it; no renderer waits, so flattening ends at once."""
        done: list = []
        page = Page(self._templates, body, title=title, **dict(slots))
        flattenString(None, page).addBoth(done.append)
        [html] = done
        if isinstance(html, Failure):
            html.raiseException()
        return DOCTYPE + html

    def _error(self, heading: str, message: str, typed: str = "") -> bytes:
        return self._page(
            "error", f"{heading} · {TITLE}", heading=heading, message=message,
            typed=typed[:MAX_ECHO],
        )


def _redirect(request, location: bytes) -> bytes:
    request.redirect(location)
    return b""


def _form_field(request, name: bytes) -> str:
    values = form_fields(request).get(name) or [b""]
    return values[0].decode("utf-8", "replace")


def _json(value) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def _detached(d: Deferred) -> Deferred:
    """
    A Deferred that fires with C{d}'s result but can be cancelled (a client gone, a timeout)
    without cancelling C{d}: the store finishes the query it started and counts it done.
    """
    waiter: Deferred = Deferred()
    d.chainDeferred(waiter)
    return waiter


class WithHeaders(Resource):
    """An app's resource, with the headers every answer carries (C{headers})."""

    isLeaf = True
    headers = _HEADERS

    def __init__(self, inner: IResource) -> None:
        super().__init__()
        self._inner = inner

    def render(self, request):
        for name, value in self.headers.items():
            request.setHeader(name, value)
        return self._inner.render(request)
