"""
The admin's side of a test's rules (docs/protocol.md, "Test rules"): the options that set them,
shared by C{exams set} and C{exams import}, and C{exams show}, which tells them in the words
INFO uses beside how the test's attempts went.
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import replace

from twisted.python import usage

from examtwist.admin_common import AdminError, DatabaseOptions
from examtwist.rulelines import Info, info_lines
from examtwist.storage import Store
from examtwist.testbank import DEFAULT_RESUME_WINDOW, Rules, Test
from examtwist.wire import format_grade

# Bounds that keep a rule a number the database and a person can hold.
MAX_ATTEMPTS = 1000
MAX_TIME_LIMIT = 31 * 24 * 3600
_WHEN = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}\Z")
RULE_SYNOPSIS = (
    "[--attempts N | --unlimited-attempts] [--time-limit SECONDS | --no-time-limit]"
    ' [--shuffle | --fixed-order] [--opens "YYYY-MM-DD HH:MM"] [--closes "YYYY-MM-DD HH:MM"]'
    " [--always-open]"
)
# Each pair: the option that sets a rule, and the one that turns it off.
_PAIRS = (("attempts", "unlimited-attempts"), ("time-limit", "no-time-limit"),
          ("shuffle", "fixed-order"), ("opens", "always-open"), ("closes", "always-open"))


def utc_minute(text: str, option: str) -> int:
    """C{"2026-12-01 09:00"} (UTC) in seconds since the epoch; a usage error if it is not that."""
    try:
        if not _WHEN.match(text):
            raise ValueError
        return calendar.timegm(time.strptime(text, "%Y-%m-%d %H:%M"))
    except ValueError:
        raise usage.UsageError(
            f'--{option}: expected a UTC time "YYYY-MM-DD HH:MM", like "2026-12-01 09:00";'
            f" found {text!r}") from None


def _whole(text: str, option: str, most: int) -> int:
    if not text.isdigit() or not 1 <= int(text) <= most:
        raise usage.UsageError(f"--{option}: expected a whole number from 1 to {most},"
                               f" found {text!r}")
    return int(text)


class RuleOptions:
    """
    Mix into a command's options before L{DatabaseOptions}: the rule options. One given sets
    its rule, one not given keeps the test's current rule (L{rules_from}); the two options of
    a pair together are a usage error.
    """

    optFlags = [
        ["unlimited-attempts", None, "Let a user start as many attempts as they like."],
        ["no-time-limit", None, "No clock."],
        ["shuffle", None, "Questions and their choices in an order drawn for each attempt."],
        ["fixed-order", None, "Questions and choices in the order they are stored."],
        ["always-open", None, "No opening or closing time."],
    ]
    optParameters = [
        ["attempts", None, None, f"Attempts one user may start (1 to {MAX_ATTEMPTS})."],
        ["time-limit", None, None, "Seconds from TAKE to an attempt's deadline."],
        ["opens", None, None, 'When the test opens, UTC: "YYYY-MM-DD HH:MM".'],
        ["closes", None, None, 'When it closes, UTC (the closing minute is out).'],
    ]

    def postOptions(self) -> None:
        for on, off in _PAIRS:
            if self[on] and self[off]:
                raise usage.UsageError(f"--{on} and --{off} cannot go together")
        self.changes: dict[str, object] = {}
        if self["attempts"] is not None:
            self.changes["attempts"] = _whole(self["attempts"], "attempts", MAX_ATTEMPTS)
        if self["time-limit"] is not None:
            self.changes["time_limit"] = _whole(self["time-limit"], "time-limit", MAX_TIME_LIMIT)
        for option in ("opens", "closes"):
            if self[option] is not None:
                self.changes[option] = utc_minute(self[option], option)
        if self["unlimited-attempts"]:
            self.changes["attempts"] = None
        if self["no-time-limit"]:
            self.changes["time_limit"] = None
        if self["shuffle"] or self["fixed-order"]:
            self.changes["shuffled"] = bool(self["shuffle"])
        if self["always-open"]:
            self.changes.update(opens=None, closes=None)
        super().postOptions()

    def rules_from(self, current: Rules) -> Rules:
        """
        C{current} with the rules these options set.
        @raise AdminError: the test would open at or after it closes.
        """
        rules = replace(current, **self.changes) if self.changes else current
        if rules.opens is not None and rules.closes is not None and rules.opens >= rules.closes:
            raise AdminError(
                f"the test must open before it closes (opens {_minute(rules.opens)},"
                f" closes {_minute(rules.closes)})")
        return rules


def _minute(seconds: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(seconds)) + " UTC"


def rule_lines(test: Test) -> list[str]:
    """A test's rules as INFO tells them to a student who is not logged in."""
    rules = test.rules
    info = Info(test.name, len(test.questions), rules.time_limit, rules.attempts, None,
                rules.shuffled, rules.opens, rules.closes)
    return info_lines(info, logged_in=False)[:-1]  # without "End of info"


async def existing_test(store: Store, name: str) -> Test:
    """The test of that name (in any case). @raise AdminError: there is none."""
    test = await store.find_test(name) if not name.isdigit() else None
    if test is None:
        raise AdminError(f"no test named {name!r} (examtwist exams list shows them)")
    return test


class ExamsSetOptions(RuleOptions, DatabaseOptions):
    synopsis = f"[--db PATH] NAME {RULE_SYNOPSIS}"
    example = 'examtwist exams set math --attempts 1 --time-limit 600 --opens "2026-12-01 09:00"'

    def parseArgs(self, name) -> None:
        self["name"] = name

    def postOptions(self) -> None:
        super().postOptions()
        if not self.changes:
            raise usage.UsageError("say which rules to set (examtwist exams set --help)")

    async def run(self, store: Store, out) -> None:
        test = await existing_test(store, self["name"])
        rules = self.rules_from(test.rules)
        if not await store.set_rules(test.name, rules):
            raise AdminError(f"no test named {test.name!r}: it was removed meanwhile")
        out.write(f"The rules of {test.name} are now:\n")
        out.write("".join(f"  {line}\n" for line in rule_lines(replace(test, rules=rules))[2:]))


_OUTCOME_LINES = (("graded", "graded"), ("time_up", "time up"), ("abandoned", "abandoned"))


class ExamsShowOptions(DatabaseOptions):
    synopsis = "[--db PATH] [--resume-window SECONDS] NAME"
    example = "examtwist exams show math"
    optParameters = [
        ["resume-window", None, DEFAULT_RESUME_WINDOW,
         "The servers' --resume-window: a suspended attempt not continued for this long has"
         " been abandoned.", int],
    ]

    def parseArgs(self, name) -> None:
        self["name"] = name

    async def run(self, store: Store, out) -> None:
        test = await existing_test(store, self["name"])
        ended = await store.list_results(test=test.name, resume_window=self["resume-window"])
        under_way = await store.count_open_attempts(test.name)
        lines = rule_lines(test)
        lines.append(f"Attempts started: {len(ended) + under_way}")
        for outcome, words in _OUTCOME_LINES:
            count = sum(1 for result in ended if result.outcome == outcome)
            lines.append(f"  {words}: {count}")
        lines.append(f"  under way or suspended: {under_way}")
        grades = [result.grade for result in ended if result.grade is not None]
        if grades:
            mean = format_grade(int(sum(grades) * 10 / len(grades) + 0.5))
            lines.append(f"Mean grade: {mean} (of {len(grades)} graded or time up)")
        else:
            lines.append("Mean grade: none yet")
        out.write("".join(f"{line}\n" for line in lines))
