"""
The lines protocol 1.1's test rules put on the wire (docs/protocol.md, "Test rules"), written
by the server and read by the clients from this one place: INFO's 213 lines, RESULTS' 216
lines, a question's "Time left" line and the unasked "Time is up".
"""

from __future__ import annotations

import calendar
import re
import time
from typing import NamedTuple

from examtwist.wire import format_grade

TIME_IS_UP = "Time is up"
_TIME_LEFT = re.compile(r"Time left: (\d+) s\Z")
# Times on the wire: UTC, to the minute.
_WIRE_TIME = "%Y-%m-%d %H:%M"
_WIRE_TIME_LINE = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}) UTC\Z")
_GRADE_OR_ABANDONED = re.compile(r"\d{1,3}\.\d\Z|abandoned\Z")


def time_left_line(seconds: int) -> str:
    return f"Time left: {seconds} s"


def parse_time_left(line: str) -> int | None:
    """The seconds of a "Time left" line; None for any other line."""
    found = _TIME_LEFT.match(line)
    return int(found.group(1)) if found else None


def wire_time(seconds: float) -> str:
    """A time as the wire shows it: "2026-12-01 09:00 UTC"."""
    return time.strftime(_WIRE_TIME, time.gmtime(seconds)) + " UTC"


def parse_wire_time(text: str) -> int | None:
    found = _WIRE_TIME_LINE.match(text)
    if found is None:
        return None
    try:
        return calendar.timegm(time.strptime(found.group(1), _WIRE_TIME))
    except ValueError:
        return None


class Info(NamedTuple):
    """
    A test's rules as INFO tells them. None is "none" or "unlimited" (or, for C{attempts_left},
    not told: the client is not logged in, or there is no limit).
    """

    test: str
    questions: int
    time_limit: int | None = None
    attempts_allowed: int | None = None
    attempts_left: int | None = None
    shuffled: bool = False
    opens: int | None = None
    closes: int | None = None


def info_lines(info: Info, logged_in: bool) -> list[str]:
    """The lines of a 213 reply, its last ("End of info") included."""
    lines = [
        f"Test: {info.test}",
        f"Questions: {info.questions}",
        "Time limit: none" if info.time_limit is None else f"Time limit: {info.time_limit} s",
        "Attempts allowed: "
        + ("unlimited" if info.attempts_allowed is None else str(info.attempts_allowed)),
    ]
    if logged_in:
        left = info.attempts_left if info.attempts_allowed is not None else None
        lines.append("Attempts left: " + ("unlimited" if left is None else str(left)))
    lines.append("Order: shuffled" if info.shuffled else "Order: fixed")
    if info.opens is not None:
        lines.append("Opens: " + wire_time(info.opens))
    if info.closes is not None:
        lines.append("Closes: " + wire_time(info.closes))
    lines.append("End of info")
    return lines


def parse_info(lines: list[str]) -> Info | None:
    """A 213 reply's lines read back; None if they are not INFO's."""
    fields: dict[str, str] = {}
    for line in lines[:-1]:
        key, colon, value = line.partition(": ")
        if not colon:
            return None
        fields[key] = value
    try:
        return Info(
            test=fields["Test"],
            questions=int(fields["Questions"]),
            time_limit=_number_or_none(fields["Time limit"].removesuffix(" s"), "none"),
            attempts_allowed=_number_or_none(fields["Attempts allowed"], "unlimited"),
            attempts_left=_number_or_none(fields.get("Attempts left", "unlimited"), "unlimited"),
            shuffled=fields.get("Order") == "shuffled",
            opens=parse_wire_time(fields["Opens"]) if "Opens" in fields else None,
            closes=parse_wire_time(fields["Closes"]) if "Closes" in fields else None,
        )
    except (KeyError, ValueError):
        return None


def _number_or_none(text: str, none: str) -> int | None:
    return None if text == none else int(text)


class ResultLine(NamedTuple):
    """One line of RESULTS: the grade in tenths of a percent, None when abandoned."""

    test: str
    tenths: int | None
    ended: int  # seconds since the epoch, to the minute


def result_line(result: ResultLine) -> str:
    grade = "abandoned" if result.tenths is None else format_grade(result.tenths)
    return f"{result.test} {grade} {wire_time(result.ended)}"


def parse_result_line(line: str) -> ResultLine | None:
    test, _, rest = line.partition(" ")
    grade, _, ended = rest.partition(" ")
    when = parse_wire_time(ended)
    if not test or when is None or not _GRADE_OR_ABANDONED.match(grade):
        return None
    tenths = None if grade == "abandoned" else int(grade.replace(".", ""))
    return ResultLine(test, tenths, when)
