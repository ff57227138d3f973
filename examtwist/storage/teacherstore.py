"""
The store's methods for the teacher's web area (L{examtwist.teacherweb}): teachers' accounts,
their web sessions, and what the teacher's pages show of tests and attempts. L{Store} has them
from this class, so each of the two stays one readable room; each method is one short
transaction off the reactor, as every method of the store is.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred

from examtwist.storage import gradebook, teachers, websessions
from examtwist.storage.records import utc_now


class TeacherArea:
    """Mixed into L{examtwist.storage.Store}, whose C{_run} runs each interaction."""

    # Teachers

    def add_teacher(self, username: str, password_hash: str) -> Deferred[bool]:
        """A new teacher; False if the name is taken, ignoring case."""
        return self._run(teachers.add_teacher, username, password_hash, utc_now())

    def remove_teacher(self, username: str) -> Deferred[str | None]:
        """Remove a teacher (any case) and their sessions: their name as stored, or None."""
        return self._run(teachers.remove_teacher, username)

    def list_teachers(self) -> Deferred[list[teachers.TeacherSummary]]:
        return self._run(teachers.list_teachers, utc_now())

    def teacher_password_hash(self, username: str) -> Deferred[tuple[str, str] | None]:
        """A teacher's name as stored and password hash, by the name in any case; or None."""
        return self._run(teachers.teacher_password_hash, username)

    def set_teacher_password_hash(self, username: str, password_hash: str) -> Deferred[None]:
        return self._run(teachers.set_teacher_password_hash, username, password_hash)

    # Web sessions, by the SHA-256 of their identifiers

    def new_web_session(self, token_hash: str, confidential: bool,
                        expires_at: str) -> Deferred[None]:
        return self._run(websessions.new_session, token_hash, confidential, utc_now(),
                         expires_at)

    def load_web_session(self, token_hash: str) -> Deferred[websessions.StoredSession | None]:
        """The session, unless it is unknown or expired."""
        return self._run(websessions.load_session, token_hash, utc_now())

    def sign_in_web_session(self, old_hash: str, new_hash: str, teacher: str,
                            confidential: bool, expires_at: str) -> Deferred[bool]:
        """Replace a session by a new one signed in as C{teacher}; False if no such teacher."""
        return self._run(websessions.sign_in, old_hash, new_hash, teacher, confidential,
                         utc_now(), expires_at)

    def end_web_session(self, token_hash: str) -> Deferred[None]:
        return self._run(websessions.end_session, token_hash)

    def end_confidential_web_sessions(self, token_hashes: list[str]) -> Deferred[int]:
        return self._run(websessions.end_confidential, token_hashes)

    # What the teacher's pages show

    def test_overview(self) -> Deferred[list[gradebook.TestRow]]:
        return self._run(gradebook.overview)

    def test_report(self, name: str, since: str) -> Deferred[gradebook.TestReport | None]:
        """One test (any case), with what started or ended at or after C{since}; or None."""
        return self._run(gradebook.test_report, name, since)

    def attempts_of_test(self, name: str) -> Deferred[list[gradebook.AttemptRow]]:
        return self._run(gradebook.attempts_of_test, name)

    def attempts_of_student(self, username: str) -> Deferred[list[gradebook.AttemptRow] | None]:
        """A student's attempts, the latest first; None if there is no such student."""
        return self._run(gradebook.attempts_of_student, username)

    def student_overview(self) -> Deferred[list[gradebook.StudentRow]]:
        return self._run(gradebook.students)
