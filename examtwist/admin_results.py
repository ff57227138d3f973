"""
C{examtwist results}: the attempts that have ended, as the original log's grid or as CSV, and
with C{--csv --answers} every answer given in them, one row each.
"""

from __future__ import annotations

from twisted.python import usage

from examtwist.admin_common import DatabaseOptions, grade_text, grid, when
from examtwist.formats import write_csv
from examtwist.storage import Store
from examtwist.testbank import DEFAULT_RESUME_WINDOW

# How the grid words an attempt's outcome; the CSV keeps the stored word.
OUTCOME_WORDS = {"graded": "graded", "time_up": "time up", "abandoned": "abandoned"}
RESULT_FIELDS = ["username", "test", "outcome", "grade", "correct", "answered", "total",
                 "started_at", "finished_at", "client"]
ANSWER_FIELDS = ["username", "test", "started_at", "number", "position", "shown", "meant",
                 "correct", "answered_at"]


class ResultsOptions(DatabaseOptions):
    synopsis = ("[--db PATH] [--test NAME] [--user NAME] [--csv [--answers]]"
                " [--resume-window SECONDS]")
    example = "examtwist results --test math --csv"
    longdesc = ("Attempts under way or suspended are not shown. A suspended attempt whose"
                " deadline or resume window has passed is ended first, as a server would.")
    optFlags = [
        ["csv", None, "Write CSV with every stored field instead of the grid."],
        ["answers", None, "With --csv: one row for each answer given, not for each attempt."],
    ]
    optParameters = [
        ["test", None, None, "Only this test's (its name in any case)."],
        ["user", None, None, "Only this username's."],
        ["resume-window", None, DEFAULT_RESUME_WINDOW,
         "The servers' --resume-window: a suspended attempt not continued for this long has"
         " been abandoned.", int],
    ]

    def postOptions(self) -> None:
        if self["answers"] and not self["csv"]:
            raise usage.UsageError("--answers goes with --csv")
        super().postOptions()

    async def run(self, store: Store, out) -> None:
        results = await store.list_results(user=self["user"], test=self["test"],
                                           resume_window=self["resume-window"])
        if self["answers"]:
            answers = await store.list_answers(user=self["user"], test=self["test"])
            write_csv(out, ANSWER_FIELDS, (
                (a.username, a.test, a.started_at, a.number, a.position, a.shown, a.meant,
                 int(a.correct), a.answered_at) for a in answers))
        elif self["csv"]:
            write_csv(out, RESULT_FIELDS, (
                (r.username, r.test, r.outcome, grade_text(r.grade), r.correct, r.answered,
                 r.total, r.started_at, r.finished_at, r.client) for r in results))
        else:
            rows = [(r.username, r.test, OUTCOME_WORDS.get(r.outcome, r.outcome),
                     grade_text(r.grade), when(r.finished_at)) for r in results]
            out.write(grid(("Client", "Test", "Outcome", "Grade", "Date"), rows))
