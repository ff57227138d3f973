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
    """
    Mixed into L{examtwist.storage.Store}, whose C{_run} runs each interaction, and C{_read}
    each that only reads.
    """

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

    # What the teacher's pages show: long reads, on the store's reading connection, as the
    # attempts stand at C{now} under the servers' C{resume_window}.

    def test_overview(self, now: float,
                      resume_window: float) -> Deferred[list[gradebook.TestRow]]:
        return self._read(gradebook.overview, now, resume_window)

    def test_report(self, name: str, since: str, now: float,
                    resume_window: float) -> Deferred[gradebook.TestReport | None]:
        """One test (any case), with what started or ended at or after C{since}; or None."""
        return self._read(gradebook.test_report, name, since, now, resume_window)

    def attempts_of_test(self, name: str, now: float,
                         resume_window: float) -> Deferred[list[gradebook.AttemptRow]]:
        return self._read(gradebook.attempts_of_test, name, now, resume_window)

    def attempts_of_student(self, username: str, now: float,
                            resume_window: float) -> Deferred[list[gradebook.AttemptRow] | None]:
        """A student's attempts, the latest first; None if there is no such student."""
        return self._read(gradebook.attempts_of_student, username, now, resume_window)

    def student_overview(self) -> Deferred[list[gradebook.StudentRow]]:
        return self._read(gradebook.students)
