"""
The teachers' accounts, apart from the students': a name and an argon2id password hash. Names
are unique ignoring case and match in any case (they are ASCII, so Python's and the database's
lower() agree). A teacher removed loses their web sessions with the account.
"""

from __future__ import annotations

from typing import NamedTuple


class TeacherSummary(NamedTuple):
    username: str
    created_at: str
    # Signed-in web sessions that have not expired.
    sessions: int


def add_teacher(txn, username: str, password_hash: str, now: str) -> bool:
    """A new account; False if the name is taken, ignoring case."""
    txn.execute(
        "INSERT INTO teachers (username, username_folded, password_hash, created_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (username, username.lower(), password_hash, now),
    )
    return txn.rowcount == 1


def remove_teacher(txn, username: str) -> str | None:
    """Remove the account and its sessions; its name as stored, None if there was none."""
    txn.execute("SELECT id, username FROM teachers WHERE username_folded = ?", (username.lower(),))
    found = txn.fetchone()
    if found is None:
        return None
    txn.execute("DELETE FROM web_sessions WHERE teacher_id = ?", (found[0],))
    txn.execute("DELETE FROM teachers WHERE id = ?", (found[0],))
    return found[1]


def list_teachers(txn, now: str) -> list[TeacherSummary]:
    txn.execute(
        "SELECT username, created_at, (SELECT count(*) FROM web_sessions"
        " WHERE web_sessions.teacher_id = teachers.id AND expires_at > ?)"
        " FROM teachers ORDER BY username_folded",
        (now,),
    )
    return [TeacherSummary(*row) for row in txn.fetchall()]


def teacher_password_hash(txn, username: str) -> tuple[str, str] | None:
    """The account's name as stored and its hash, matched ignoring case; None if none."""
    txn.execute(
        "SELECT username, password_hash FROM teachers WHERE username_folded = ?",
        (username.lower(),),
    )
    found = txn.fetchone()
    return (found[0], found[1]) if found else None


def set_teacher_password_hash(txn, username: str, password_hash: str) -> None:
    txn.execute(
        "UPDATE teachers SET password_hash = ? WHERE username_folded = ?",
        (password_hash, username.lower()),
    )
