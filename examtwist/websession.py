"""
The teacher's web sessions as Klein takes them: an C{ISessionStore} on examtwist's own database
(Klein ships one in memory only), so a session outlives a restart and works on every node of a
cluster, and what a session may be authorized for (L{ITeacher}, once signed in).

Klein's C{SessionProcurer} finds a request's session from its cookie and Klein's C{Form} checks
each POST's CSRF token against it; this module stores the sessions and decides how long they
live. The identifier is 256 random bits; the database holds only its SHA-256. A session is
anonymous (it carries the sign-in form's CSRF token) until it signs in, when L{sign_in} puts a
new one in its place, bound to the teacher. Every cookie on the teacher's port is C{HttpOnly},
C{SameSite=Strict}, and C{Secure} when the request came over TLS (L{TeacherRequest}).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field

from klein import SessionProcurer
from klein.interfaces import ISession, ISessionStore, NoSuchSession, SessionMechanism
from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from zope.interface import Attribute, Interface, implementer

from examtwist.storage.records import TIME_FORMAT
from examtwist.webguard import GuardedRequest

log = Logger()

# A signed-in session lasts a school day; an anonymous one (a sign-in form left open) an hour.
SIGNED_IN_SECONDS = 8 * 3600
ANONYMOUS_SECONDS = 3600
# The cookie names. Over TLS, the __Host- prefix makes browsers insist on Secure, Path=/ and
# no Domain. Klein keeps a session made over TLS apart from one made in clear.
SECURE_COOKIE = b"__Host-examtwist-teacher"
INSECURE_COOKIE = b"examtwist-teacher"


class ITeacher(Interface):
    """A teacher signed in: what a session is authorized as, for the teacher's pages."""

    username = Attribute("The teacher's name, as stored.")


@implementer(ITeacher)
@dataclass(frozen=True)
class SignedIn:
    username: str


@implementer(ISession)
@dataclass
class TeacherSession:
    identifier: str
    isConfidential: bool
    authenticatedBy: SessionMechanism
    teacher: str | None = None
    token_hash: str = field(init=False)

    def __post_init__(self) -> None:
        self.token_hash = token_hash(self.identifier)

    def authorize(self, interfaces) -> Deferred:
        """L{ITeacher} for a signed-in session; nothing else is ever authorized."""
        found = {}
        if self.teacher is not None and ITeacher in interfaces:
            found[ITeacher] = SignedIn(self.teacher)
        return succeed(found)


def token_hash(identifier: str) -> str:
    return hashlib.sha256(identifier.encode("utf-8")).hexdigest()


def expiry(seconds: float, clock=time) -> str:
    """The stored time C{seconds} from now."""
    return time.strftime(TIME_FORMAT, time.gmtime(clock.time() + seconds))


# An identifier is 43 URL-safe characters; a cookie or header longer than this is no session.
MAX_IDENTIFIER = 64


@implementer(ISessionStore)
class StoredSessions:
    """Klein's sessions in the store's C{web_sessions} table; every call runs off the reactor."""

    def __init__(self, store) -> None:
        self._store = store

    async def _new(self, isConfidential: bool, authenticatedBy) -> TeacherSession:
        session = TeacherSession(secrets.token_urlsafe(32), isConfidential, authenticatedBy)
        await self._store.new_web_session(session.token_hash, isConfidential,
                                          expiry(ANONYMOUS_SECONDS))
        return session

    def newSession(self, isConfidential: bool, authenticatedBy) -> Deferred:
        return Deferred.fromCoroutine(self._new(isConfidential, authenticatedBy))

    async def _load(self, identifier: str, isConfidential: bool, authenticatedBy):
        if len(identifier) > MAX_IDENTIFIER:
            raise NoSuchSession("not a session identifier")
        stored = await self._store.load_web_session(token_hash(identifier))
        if stored is None or stored.confidential != isConfidential:
            raise NoSuchSession("no such session, or it expired")
        return TeacherSession(identifier, isConfidential, authenticatedBy, stored.teacher)

    def loadSession(self, identifier: str, isConfidential: bool, authenticatedBy) -> Deferred:
        return Deferred.fromCoroutine(self._load(identifier, isConfidential, authenticatedBy))

    def sentInsecurely(self, identifiers) -> None:
        """Identifiers sent in clear: any that belonged to a session made over TLS ends."""
        # Klein hands over the cookies' and headers' raw values.
        texts = (i.decode("ascii", "replace") if isinstance(i, bytes) else i for i in identifiers)
        hashes = [token_hash(i) for i in texts if 0 < len(i) <= MAX_IDENTIFIER]
        if hashes:
            self._store.end_confidential_web_sessions(hashes).addErrback(
                lambda f: log.failure("Could not end sessions sent in clear", f))

    async def sign_in(self, request, session: TeacherSession, teacher: str) -> bool:
        """
        Replace C{session} by a new one signed in as C{teacher}, and give the browser its
        cookie. False, and nothing changed, if there is no such teacher now.
        """
        new = TeacherSession(secrets.token_urlsafe(32), session.isConfidential,
                             session.authenticatedBy, teacher)
        if not await self._store.sign_in_web_session(
                session.token_hash, new.token_hash, teacher, session.isConfidential,
                expiry(SIGNED_IN_SECONDS)):
            return False
        set_cookie(request, new.identifier, SIGNED_IN_SECONDS)
        return True

    async def sign_out(self, request, session: TeacherSession) -> None:
        """End the session here and on every node, and make the browser forget its cookie."""
        await self._store.end_web_session(session.token_hash)
        set_cookie(request, "", 0)


def procurer(store: StoredSessions, *, creates: bool) -> SessionProcurer:
    """
    Klein's procurer over the stored sessions. Only the sign-in page C{creates} sessions (on a
    GET); any other page without one sends the browser there.
    """
    return SessionProcurer(store, maxAge=SIGNED_IN_SECONDS, secureCookie=SECURE_COOKIE,
                           insecureCookie=INSECURE_COOKIE, setCookieOnGET=creates)


def set_cookie(request, identifier: str, seconds: int) -> None:
    """The session cookie as Klein's procurer sets it (the request adds SameSite)."""
    name = SECURE_COOKIE if request.isSecure() else INSECURE_COOKIE
    request.addCookie(name, identifier, max_age=str(seconds), path=b"/",
                      secure=request.isSecure(), httpOnly=True)


class TeacherRequest(GuardedRequest):
    """A request of the teacher's port: every cookie it sets is C{SameSite=Strict}."""

    def addCookie(self, k, v, *args, **kwargs):
        kwargs["sameSite"] = "strict"
        return super().addCookie(k, v, *args, **kwargs)
