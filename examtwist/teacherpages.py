"""
The teacher's pages, drawn with twisted.web.template from the templates C{teacher*.xml}: the
layout (a header with the teacher's name and sign-out, a refresh while a test is live) around
each page's body. Every value is escaped as it is written; no page has a script. The grades'
histogram is inline SVG drawn here (L{histogram}), styled by the page's own style rules.
"""

from __future__ import annotations

from twisted.python.filepath import FilePath
from twisted.web.template import Element, Tag, renderer, tags

from examtwist.storage.gradebook import BINS, AttemptRow, QuestionRow, TestReport, TestRow
from examtwist.storage.records import utc_text
from examtwist.testbank import Rules
from examtwist.web import Templates

TEMPLATES = ("teacher", "teacher_signin", "teacher_tests", "teacher_test", "teacher_student",
             "teacher_students", "teacher_error")
LETTERS = "ABCD"
# A question's text is shown up to this many characters (the CSV has all of it).
QUESTION_SHOWN = 90


def teacher_templates(path: FilePath | None = None) -> Templates:
    """The teacher's templates, read once, so a broken one stops the start."""
    return Templates(path, TEMPLATES)


# How values read on the pages (the CSV downloads carry them as stored).

def grade_text(grade: float | None) -> str:
    return "–" if grade is None else f"{grade:.1f} %"


def when(stamp: str | None) -> str:
    """C{2026-11-30T09:05:07Z} as C{2026-11-30 09:05:07}; a dash for none."""
    return "–" if not stamp else stamp.replace("T", " ").removesuffix("Z")


def duration(seconds: int | None) -> str:
    if seconds is None:
        return "–"
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


OUTCOMES = {"open": "in progress", "graded": "graded", "time_up": "time up",
            "abandoned": "abandoned"}


def rules_text(rules: Rules) -> str:
    """The rules in a few words: C{1 attempt, 10 min, shuffled, 09:00 to 10:00}."""
    parts = []
    if rules.attempts:
        parts.append(f"{rules.attempts} attempt{'s' if rules.attempts > 1 else ''}")
    if rules.time_limit:
        parts.append(duration(rules.time_limit))
    if rules.shuffled:
        parts.append("shuffled")
    if rules.opens is not None or rules.closes is not None:
        opens = "open" if rules.opens is None else when(utc_text(rules.opens))[:16]
        closes = "no end" if rules.closes is None else when(utc_text(rules.closes))[:16]
        parts.append(f"{opens} to {closes}")
    return ", ".join(parts) or "none (version 1 behaviour)"


def share(part: int, whole: int) -> str:
    return "–" if not whole else f"{round(100 * part / whole)} %"


def histogram(bars: tuple[int, ...]) -> Tag:
    """
    The grades' histogram as inline SVG: one bar per tenth of the grade scale, its count above
    it, the tenths' lower bounds below. The tallest bar is 160 units high; bars of 0 have none.
    """
    width, top, height, gap = 56, 30, 160, 8
    tallest = max(bars) or 1
    label = ", ".join(f"{i * 10} to {i * 10 + (10 if i == BINS - 1 else 9.9):g} %: {count}"
                      for i, count in enumerate(bars))
    svg = Tag("svg", attributes={
        "class": "histogram", "viewBox": f"0 0 {width * BINS + 20} {top + height + 40}",
        "role": "img", "aria-label": f"Grades: {label}",
    })
    base = top + height
    for i, count in enumerate(bars):
        x = 10 + i * width
        bar = round(height * count / tallest)
        if bar:
            svg(Tag("rect", attributes={"class": "bar", "x": str(x + gap // 2),
                                        "y": str(base - bar), "width": str(width - gap),
                                        "height": str(bar)}))
        svg(Tag("text", attributes={"x": str(x + width // 2), "y": str(base - bar - 6),
                                    "text-anchor": "middle"})(str(count)))
        svg(Tag("text", attributes={"x": str(x + width // 2), "y": str(base + 20),
                                    "text-anchor": "middle"})(f"{i * 10}"))
    svg(Tag("line", attributes={"class": "axis", "x1": "10", "x2": str(10 + width * BINS),
                                "y1": str(base), "y2": str(base)}))
    svg(Tag("text", attributes={"x": str(10 + width * BINS // 2), "y": str(base + 38),
                                "text-anchor": "middle"})("grade, %"))
    return svg


def _cell(value, numeric: bool = False, **attributes) -> Tag:
    if numeric:
        attributes["class"] = " ".join(filter(None, ("n", attributes.get("class"))))
    return tags.td(str(value), **attributes)


def attempt_cells(attempt: AttemptRow, first: Tag) -> Tag:
    return tags.tr(
        tags.td(first), _cell(OUTCOMES.get(attempt.outcome, attempt.outcome)),
        _cell(grade_text(attempt.grade), True),
        _cell(f"{attempt.correct}/{attempt.total}", True), _cell(when(attempt.started_at)),
        _cell(duration(attempt.seconds), True),
    )


def test_link(name: str) -> Tag:
    return tags.a(name, href=f"/tests/{name}")


def student_link(name: str) -> Tag:
    return tags.a(name, href=f"/students/{name}")


class Page(Element):
    """The layout around a body; C{live} pages are reloaded by the browser every 10 s."""

    def __init__(self, templates: Templates, title: str, body: Element,
                 teacher: str | None = None, csrf=None, live: bool = False) -> None:
        super().__init__(templates["teacher"])
        self._title, self._body, self._teacher = title, body, teacher
        self._csrf, self._live = csrf, live

    @renderer
    def page(self, request, tag):
        return tag.fillSlots(title=self._title)

    @renderer
    def refresh(self, request, tag):
        return tag if self._live else ""

    @renderer
    def header(self, request, tag):
        if self._teacher is None:
            return tag(tags.strong("examtwist · teachers"))
        return tag(
            tags.nav(tags.a("Tests", href="/"), tags.a("Students", href="/students")),
            tags.form(action="/sign-out", method="post")(
                tags.span(self._teacher), self._csrf or "",
                tags.button("Sign out", type="submit")),
        )

    @renderer
    def content(self, request, tag):
        if self._teacher is None:
            tag(class_="narrow")
        return tag(self._body)


class Body(Element):
    """A page's body: its template, slots, and the message or CSRF field it shows."""

    def __init__(self, templates: Templates, template: str, csrf=None,
                 message: tuple[str, str] | None = None, **slots: str) -> None:
        super().__init__(templates[template])
        self._csrf, self.message_shown, self.slots = csrf, message, slots

    @renderer
    def message(self, request, tag):
        if self.message_shown is None:
            return ""
        kind, text = self.message_shown
        return tag(text, class_=kind, role="alert" if kind == "message" else "status")

    @renderer
    def csrf(self, request, tag):
        return self._csrf or ""

    @renderer
    def body(self, request, tag):
        return tag.fillSlots(**self.slots)


class TestsBody(Body):
    def __init__(self, templates, rows: list[TestRow], live: bool) -> None:
        super().__init__(templates, "teacher_tests")
        self.tests, self.is_live = rows, live

    @renderer
    def live(self, request, tag):
        if not self.is_live:
            return ""
        return tag("Live: this page reloads every 10 s while a test is in use.")

    @renderer
    def rows(self, request, tag):
        return tag([tags.tr(
            tags.td(test_link(row.name)), _cell(row.questions, True), _cell(rules_text(row.rules)),
            _cell(row.in_progress, True), _cell(row.finished, True),
            _cell(grade_text(row.mean), True), _cell(grade_text(row.median), True),
        ) for row in self.tests])


class TestBody(Body):
    """One test: summary, histogram, questions, latest attempts, and its rules' form."""

    def __init__(self, templates, report: TestReport, live: bool, csrf, form: dict[str, str],
                 errors: dict[str, str], message=None) -> None:
        super().__init__(templates, "teacher_test", csrf, message, name=report.row.name,
                         **{k: form[k] for k in ("attempts", "minutes", "opens", "closes")})
        self.report, self.is_live, self.form, self.errors = report, live, form, errors

    @renderer
    def live(self, request, tag):
        r = self.report
        if not self.is_live:
            return ""
        return tag(tags.span("Live", class_="live"),
                   f": in the last 10 s, {r.started_lately} started and {r.ended_lately} ended."
                   " This page reloads every 10 s.")

    @renderer
    def summary(self, request, tag):
        row = self.report.row
        pairs = [("Questions", row.questions), ("Rules", rules_text(row.rules)),
                 ("In progress", row.in_progress), ("Finished", row.finished),
                 ("Abandoned", row.abandoned), ("Mean grade", grade_text(row.mean)),
                 ("Median grade", grade_text(row.median))]
        for term, value in pairs:
            tag(tags.dt(term), tags.dd(str(value), id="summary-" + term.lower().replace(" ", "-")))
        return tag

    @renderer
    def histogram(self, request, tag):
        return histogram(self.report.histogram)

    @renderer
    def questions(self, request, tag):
        return tag([_question_row(q) for q in self.report.questions])

    @renderer
    def attempts(self, request, tag):
        return tag([attempt_cells(a, student_link(a.username)) for a in self.report.latest])

    @renderer
    def shuffled(self, request, tag):
        box = tags.input(type="checkbox", name="shuffled", value="on")
        return box(checked="") if self.form["shuffled"] else box

    def _error(self, field: str):
        text = self.errors.get(field)
        return tags.p(text, class_="error", role="alert") if text else ""

    @renderer
    def error_attempts(self, request, tag):
        return self._error("attempts")

    @renderer
    def error_minutes(self, request, tag):
        return self._error("minutes")

    @renderer
    def error_opens(self, request, tag):
        return self._error("opens")

    @renderer
    def error_closes(self, request, tag):
        return self._error("closes")


def _question_row(q: QuestionRow) -> Tag:
    wrong = [(count, letter) for letter, count in zip(LETTERS, q.chosen)
             if letter != q.answer and count]
    fooled = max(wrong)[1] if wrong else None
    text = q.text.replace("\n", " ")
    cells = [_cell(q.position, True),
             _cell(text if len(text) <= QUESTION_SHOWN else text[:QUESTION_SHOWN - 1] + "…"),
             _cell(share(q.right, q.answered), True)]
    for letter, count in zip(LETTERS, q.chosen):
        kind = "right" if letter == q.answer else "fooled" if letter == fooled else None
        cells.append(_cell(count, True, **({"class": kind} if kind else {})))
    return tags.tr(*cells)


class StudentBody(Body):
    def __init__(self, templates, name: str, attempts: list[AttemptRow]) -> None:
        super().__init__(templates, "teacher_student", name=name)
        self.rows = attempts

    @renderer
    def attempts(self, request, tag):
        return tag([attempt_cells(a, test_link(a.test)) for a in self.rows])


class StudentsBody(Body):
    def __init__(self, templates, rows) -> None:
        super().__init__(templates, "teacher_students")
        self.students = rows

    @renderer
    def rows(self, request, tag):
        return tag([tags.tr(tags.td(student_link(s.username)), _cell(s.attempts, True),
                        _cell(s.finished, True), _cell(grade_text(s.mean), True),
                        _cell(when(s.last_started)))
                    for s in self.students])
