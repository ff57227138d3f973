"""
What the teacher's forms take, as Klein C{Field}s, and the rules read from them: the rules'
form (attempts, minutes, shuffling, opening and closing times in UTC), where a page may send
the browser after sign-in, when a test counts as live, and the request itself as a parameter
Klein injects.
"""

from __future__ import annotations

import re
import time

from klein import Field
from klein.interfaces import (
    IDependencyInjector, IRequiredParameter, ValidationError,
)
from zope.interface import implementer

# Klein's forms carry their CSRF token in this field.
from klein._form import CSRF_PROTECTION

from examtwist.storage.gradebook import TestRow
from examtwist.storage.records import TIME_FORMAT, utc_seconds, utc_text
from examtwist.testbank import Rules

CSRF_FIELD = CSRF_PROTECTION.encode("ascii")
MAX_ATTEMPTS = 1000
MAX_MINUTES = 7 * 24 * 60
# A test counts as live (its pages reload every 10 s) while its window is open and students
# are in it or an attempt started or ended this recently.
LIVE_AFTER_ACTIVITY = 600
_LOCAL_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?\Z")


@implementer(IRequiredParameter, IDependencyInjector)
class ThisRequest:
    """The request, as a parameter of a route that Klein's C{Requirer} calls."""

    def registerInjector(self, injectionComponents, parameterName, lifecycle):
        return self

    def injectValue(self, instance, request, routeParams):
        return request

    def finalize(self) -> None:
        pass


def _blank_or(convert):
    def converter(text: str):
        text = text.strip()
        return None if not text else convert(text)
    return converter


def _whole(text: str, most: int, what: str) -> int:
    if not re.fullmatch(r"\d{1,7}", text) or not 1 <= int(text) <= most:
        raise ValidationError(f"{what} is a whole number from 1 to {most}, or blank")
    return int(text)


def _attempts(text: str) -> int:
    return _whole(text, MAX_ATTEMPTS, "The number of attempts")


def _minutes(text: str) -> int:
    """Minutes, maybe with decimals (1.5), as whole seconds."""
    try:
        minutes = float(text)
    except ValueError:
        minutes = 0.0
    if not (1 / 60 <= minutes <= MAX_MINUTES):
        raise ValidationError(f"The time limit is in minutes, from 1 s (0.02) to {MAX_MINUTES},"
                              " or blank")
    return round(minutes * 60)


def _utc(text: str) -> int:
    """A time to the minute, UTC, in seconds since the epoch."""
    found = _LOCAL_TIME.match(text)
    if found is None:
        raise ValidationError("A time is written YYYY-MM-DD HH:MM (UTC), or blank")
    stamp = f"{found.group(1)}T{found.group(2)}:00Z"
    try:
        time.strptime(stamp, TIME_FORMAT)
    except ValueError:
        raise ValidationError(f"There is no such time as {text}") from None
    return utc_seconds(stamp)


def _checked(text: str) -> bool:
    return True


RULE_FIELDS = {
    "attempts": Field(converter=_blank_or(_attempts), formInputType="number", required=False),
    "minutes": Field(converter=_blank_or(_minutes), formInputType="number", required=False),
    "shuffled": Field(converter=_checked, formInputType="checkbox", required=False,
                      default=False),
    "opens": Field(converter=_blank_or(_utc), formInputType="datetime-local", required=False),
    "closes": Field(converter=_blank_or(_utc), formInputType="datetime-local", required=False),
}


def rules_from_form(values: dict) -> tuple[Rules, dict[str, str]]:
    """The rules the form's values make, and what is wrong with them as a whole, by field."""
    rules = Rules(values["attempts"], values["minutes"], bool(values["shuffled"]),
                  values["opens"], values["closes"])
    errors = {}
    if rules.opens is not None and rules.closes is not None and rules.closes <= rules.opens:
        errors["closes"] = "The test must close after it opens"
    return rules, errors


def form_values(rules: Rules) -> dict:
    """What the rules' form shows for the rules a test has."""
    return {
        "attempts": str(rules.attempts or ""),
        "minutes": f"{rules.time_limit / 60:.2f}".rstrip("0").rstrip(".")
        if rules.time_limit else "",
        "shuffled": rules.shuffled,
        "opens": "" if rules.opens is None else utc_text(rules.opens)[:16],
        "closes": "" if rules.closes is None else utc_text(rules.closes)[:16],
    }


def is_live(row: TestRow, now: float) -> bool:
    """Its window is open, and students are in it or one started or ended lately."""
    if not row.rules.is_open(now):
        return False
    if row.in_progress:
        return True
    return bool(row.last_activity) and (
        now - utc_seconds(row.last_activity) <= LIVE_AFTER_ACTIVITY)


_LOCAL_PATH = re.compile(r"/(?!/)[A-Za-z0-9_./-]{0,200}")


def safe_next(path: str) -> str:
    """Where to go after sign-in: a path of this site, never another site; else the tests."""
    path = path.split("?", 1)[0]
    if path.startswith("/sign-") or not _LOCAL_PATH.fullmatch(path):
        return "/"
    return path
