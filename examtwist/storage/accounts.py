"""The accounts students register and log in with: a name and an argon2id password hash."""

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
    """Every account by name, with how many results it has."""
    txn.execute(
        "SELECT username, created_at,"
        " (SELECT count(*) FROM results WHERE results.user_id = users.id)"
        " FROM users ORDER BY username"
    )
    return [UserSummary(*row) for row in txn.fetchall()]
