"""
A test's rules, the time left and the student's results in the words both clients show:
"10 minutes, 1 attempt left", "9 min 59 s", "math: 80.0 %, ended 2026-11-25 18:39 UTC".

What the server said comes from L{examtwist.rulelines}; this is only how a person reads it.
"""

from __future__ import annotations

from examtwist.rulelines import Info, ResultLine, wire_time
from examtwist.wire import format_grade


def _count(number: int, unit: str) -> str:
    return f"{number} {unit}" + ("" if number == 1 else "s")


def spoken_duration(seconds: int) -> str:
    """A time limit in words: "10 minutes", "1 hour 30 minutes", "45 seconds"."""
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [_count(n, unit) for n, unit in ((hours, "hour"), (minutes, "minute"),
                                             (seconds, "second")) if n]
    return " ".join(parts) or "0 seconds"


def short_duration(seconds: int) -> str:
    """The time left as the terminal shows it: "9 min 59 s", "59 s", "1 h 0 min 5 s"."""
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min {seconds} s"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def clock(seconds: int) -> str:
    """The time left as a countdown shows it: "9:59", "0:05", "1:00:05"."""
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{seconds:02}" if hours else f"{minutes}:{seconds:02}"


def has_rules(info: Info) -> bool:
    """
    True when the test has a rule a student must know before starting (a clock, a limit on
    attempts, a window); a test without any is started as in protocol version 1, unasked.
    """
    return any(rule is not None for rule in (info.time_limit, info.attempts_allowed,
                                             info.opens, info.closes))


def rules_summary(info: Info) -> str:
    """The rules that bind the student, in one line: "10 minutes, 1 attempt left"."""
    parts = []
    if info.time_limit is not None:
        parts.append(spoken_duration(info.time_limit))
    if info.attempts_allowed is not None:
        left = info.attempts_left
        if left is None:  # not logged in
            parts.append(_count(info.attempts_allowed, "attempt") + " allowed")
        else:
            # None left: TAKE may yet continue an unfinished attempt, or refuse.
            parts.append("no new attempts left" if left == 0 else _count(left, "attempt") + " left")
    if info.opens is not None:
        parts.append("opens " + wire_time(info.opens))
    if info.closes is not None:
        parts.append("closes " + wire_time(info.closes))
    return ", ".join(parts)


def rules_lines(info: Info) -> list[str]:
    """Every rule of a test, one per line, as the GUI shows them before it starts."""
    lines = [
        _count(info.questions, "question"),
        "Time limit: " + ("none" if info.time_limit is None
                          else spoken_duration(info.time_limit)),
        "Attempts allowed: " + ("unlimited" if info.attempts_allowed is None
                                else str(info.attempts_allowed)),
    ]
    if info.attempts_allowed is not None and info.attempts_left is not None:
        lines.append(f"Attempts left: {info.attempts_left}")
    lines.append("Order: shuffled for each attempt" if info.shuffled else "Order: fixed")
    if info.opens is not None:
        lines.append("Opens: " + wire_time(info.opens))
    if info.closes is not None:
        lines.append("Closes: " + wire_time(info.closes))
    return lines


def result_words(result: ResultLine) -> str:
    """One ended attempt: "math: 80.0 %, ended 2026-11-25 18:39 UTC"."""
    grade = "abandoned" if result.tenths is None else format_grade(result.tenths) + " %"
    return f"{result.test}: {grade}, ended {wire_time(result.ended)}"


def continuation(number: int, total: int, timed: bool) -> str | None:
    """What to say when TAKE continued an attempt at question C{number}; None for a start."""
    if number <= 1:
        return None
    answered = f"{number - 1} of {total} questions answered"
    return (f"Continuing your unfinished attempt: {answered}"
            + (", the clock still running." if timed else "."))
