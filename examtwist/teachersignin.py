"""
Whether a name and password sign a teacher in: checked as a student's LOGIN is, by the
server's own hasher (argon2id in its pool, fair across client addresses, one verify spent even
for a name nobody has) and throttled by the same rules, in a throttle of the teachers' own. A
hash made at a lower cost than the server's is made again on success.
"""

from __future__ import annotations

from twisted.logger import Logger

from examtwist.passwords import HasherBusy
from examtwist.throttle import Throttled
from examtwist.wire import is_password, is_username

log = Logger()


class Refused(Exception):
    """Not signed in: C{code} is the HTTP status, C{message} what the page says."""

    def __init__(self, code: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.retry_after = code, message, retry_after


NO_MATCH = "That name and password do not match a teacher's."


class TeacherSignIn:
    def __init__(self, store, hasher, throttle) -> None:
        self._store, self._hasher, self._throttle = store, hasher, throttle

    async def check(self, username: str, password: str, address: str) -> str:
        """
        The teacher's name as stored, when the password is theirs.

        @param address: the client as the logs write it (C{host:port}).
        @raise Refused: a wrong name or password (401), too many failures lately (429), the
            hasher too busy to check (503).
        """
        if not (is_username(username) and is_password(password)):
            raise Refused(401, NO_MATCH)
        key = username.lower()
        try:
            self._throttle.check_login(key, address)
        except Throttled as e:
            raise Refused(429, f"Too many failed sign-ins: wait {e.seconds} s.", e.seconds) from e
        found = await self._store.teacher_password_hash(username)
        try:
            ok, new_hash = await self._hasher.verify(password, found and found[1],
                                                     address=address)
        except HasherBusy:
            self._throttle.login_succeeded(key, address)  # not a failure of theirs
            raise Refused(503, "The server is busy: try again in a moment.") from None
        if not ok:
            self._throttle.login_failed(key, address)
            log.info("Teacher sign-in as {name!r} from {address} refused", name=username,
                     address=address)
            raise Refused(401, NO_MATCH)
        self._throttle.login_succeeded(key, address)
        if new_hash is not None:
            await self._store.set_teacher_password_hash(found[0], new_hash)
        return found[0]
