"""
What a new account's password must be: long enough, and not a common or easily guessed one,
as judged by zxcvbn (Dropbox's estimator, in its maintained Python port) rather than a list of
our own. LOGIN never applies these rules: an account made under looser ones still logs in.

Judging takes milliseconds of CPU, so the desk runs it in a worker thread, never on the reactor.
"""

from __future__ import annotations

from dataclasses import dataclass

# zxcvbn refuses longer input; a password this long is judged by its first 72 characters.
JUDGED_LENGTH = 72
SCORES = {
    0: "too guessable",
    1: "very guessable",
    2: "somewhat guessable",
    3: "safely unguessable",
    4: "very unguessable",
}


@dataclass(frozen=True)
class PasswordRules:
    """
    @ivar min_length: characters a new password needs (0 or 1: version 1's rule, 1 to 128).
    @ivar min_score: the zxcvbn score (0 to 4) it needs; 0 judges nothing.
    """

    min_length: int = 8
    min_score: int = 2

    def __post_init__(self) -> None:
        if self.min_length < 0:
            raise ValueError("a length is 0 or more")
        if not 0 <= self.min_score <= 4:
            raise ValueError("a zxcvbn score is 0 to 4")

    def problem(self, password: str, username: str = "") -> str | None:
        """
        Why this password cannot be a new account's, in a sentence for REGISTER's 501; None when
        it can. C{username} counts as an easy guess for its own password.
        """
        if len(password) < self.min_length:
            return f"The password must be at least {self.min_length} characters"
        if self.min_score == 0:
            return None
        # Its word lists take 15 MB: loaded by the first registration that is judged, not at start.
        from zxcvbn import zxcvbn

        judged = zxcvbn(password[:JUDGED_LENGTH], user_inputs=[username] if username else [])
        if judged["score"] >= self.min_score:
            return None
        warning = judged["feedback"]["warning"].rstrip(".")
        why = f": {warning[:1].lower()}{warning[1:]}" if warning else ""
        return f"The password is too easy to guess{why}; add another word or two"
