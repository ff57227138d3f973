"""
The teacher's web sessions, in the database every node shares: a session outlives a restart,
and a teacher's next request may reach any node.

A row is keyed by the SHA-256 of the session's identifier (the caller hashes it), so reading
the table gives no session away. A session is anonymous until it signs in; signing in replaces
it by a new one bound to the teacher (no identifier set before sign-in survives it). Rows past
their expiry are never loaded, and each new session clears them away.
"""

from __future__ import annotations

from typing import NamedTuple


class StoredSession(NamedTuple):
    confidential: bool
    # The teacher signed in, as their name is stored; None for a session not signed in.
    teacher: str | None
    expires_at: str


def new_session(txn, token_hash: str, confidential: bool, now: str, expires_at: str) -> None:
    txn.execute("DELETE FROM web_sessions WHERE expires_at <= ?", (now,))
    txn.execute(
        "INSERT INTO web_sessions (token_hash, teacher_id, confidential, created_at, expires_at)"
        " VALUES (?, NULL, ?, ?, ?)",
        (token_hash, int(confidential), now, expires_at),
    )


def load_session(txn, token_hash: str, now: str) -> StoredSession | None:
    txn.execute(
        "SELECT web_sessions.confidential, teachers.username, web_sessions.expires_at"
        " FROM web_sessions LEFT JOIN teachers ON teachers.id = web_sessions.teacher_id"
        " WHERE web_sessions.token_hash = ? AND web_sessions.expires_at > ?",
        (token_hash, now),
    )
    found = txn.fetchone()
    if found is None:
        return None
    return StoredSession(bool(found[0]), found[1], found[2])


def sign_in(txn, old_hash: str, new_hash: str, username: str, confidential: bool, now: str,
            expires_at: str) -> bool:
    """
    End the session C{old_hash} and start C{new_hash}, signed in as the teacher C{username}
    (any case). False, and nothing changed, if there is no such teacher now.
    """
    txn.execute("SELECT id FROM teachers WHERE username_folded = ?", (username.lower(),))
    found = txn.fetchone()
    if found is None:
        return False
    txn.execute("DELETE FROM web_sessions WHERE token_hash = ?", (old_hash,))
    txn.execute(
        "INSERT INTO web_sessions (token_hash, teacher_id, confidential, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (new_hash, found[0], int(confidential), now, expires_at),
    )
    return True


def end_session(txn, token_hash: str) -> None:
    txn.execute("DELETE FROM web_sessions WHERE token_hash = ?", (token_hash,))


def end_confidential(txn, token_hashes: list[str]) -> int:
    """End the sessions made over TLS among these (their identifiers went out in clear)."""
    ended = 0
    for token_hash in token_hashes:
        txn.execute(
            "DELETE FROM web_sessions WHERE token_hash = ? AND confidential = 1", (token_hash,)
        )
        ended += max(txn.rowcount, 0)
    return ended
