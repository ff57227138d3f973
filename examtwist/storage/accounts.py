"""
The accounts students register and log in with (a name and an argon2id password hash), and the
class roster that may limit who registers.
"""

from __future__ import annotations

from examtwist.storage.records import UserSummary


def add_user(txn, username: str, password_hash: str, now: str) -> bool:
    """
    A new account; False if the name is taken, ignoring case (the database decides, for every
    node). Usernames are ASCII, so Python's and the database's lower() agree.
    """
    txn.execute(
        "INSERT INTO users (username, username_folded, password_hash, created_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (username, username.lower(), password_hash, now),
    )
    return txn.rowcount == 1


def username_taken(txn, username: str) -> bool:
    """Whether an account has this name, ignoring case."""
    txn.execute(
        "SELECT 1 FROM users WHERE username_folded = ? OR username = ?",
        (username.lower(), username),
    )
    return txn.fetchone() is not None


def get_password_hash(txn, username: str) -> str | None:
    txn.execute("SELECT password_hash FROM users WHERE username = ?", (username,))
    row = txn.fetchone()
    return row[0] if row else None


def set_password_hash(txn, username: str, password_hash: str) -> None:
    txn.execute("UPDATE users SET password_hash = ? WHERE username = ?", (password_hash, username))


def list_users(txn) -> list[UserSummary]:
    """Every account by name, with how many attempts it has ended."""
    txn.execute(
        "SELECT username, created_at,"
        " (SELECT count(*) FROM attempts WHERE attempts.user_id = users.id"
        " AND attempts.outcome <> 'open')"
        " FROM users ORDER BY username"
    )
    return [UserSummary(*row) for row in txn.fetchall()]


def add_to_roster(txn, usernames: list[str], now: str) -> int:
    """Put these names on the roster; fires with how many were not on it already."""
    added = 0
    for username in usernames:
        txn.execute(
            "INSERT INTO roster (username_folded, username, added_at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (username.lower(), username, now),
        )
        added += txn.rowcount
    return added


def on_roster(txn, username: str) -> bool:
    """Whether the name is on the roster, ignoring case."""
    txn.execute("SELECT 1 FROM roster WHERE username_folded = ?", (username.lower(),))
    return txn.fetchone() is not None


def list_roster(txn) -> list[tuple[str, str]]:
    """The names on the roster as imported, with when each was added, by name."""
    txn.execute("SELECT username, added_at FROM roster ORDER BY username_folded")
    return [tuple(row) for row in txn.fetchall()]
