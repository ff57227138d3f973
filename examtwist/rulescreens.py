"""
The GUI's screens of protocol 1.1: a test's rules, shown before a test that has any (Start or
Back), and the student's results (Back). Only widgets live here, as in
L{examtwist.screens}, which puts them in the window beside the others.
"""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from examtwist.rulelines import Info, ResultLine, wire_time
from examtwist.rulewords import rules_lines
from examtwist.wire import format_grade


def titled(root: tk.Misc, title: str) -> tuple[ttk.Frame, ttk.Label]:
    """A screen's frame with its title on top; (frame, title label)."""
    frame = ttk.Frame(root, padding=16)
    label = ttk.Label(frame, text=title, style="Title.TLabel")
    label.pack(anchor="w", pady=(0, 12))
    return frame, label


class RulesScreen:
    """A test's rules; Start takes it, Back returns to the list."""

    def __init__(self, root: tk.Misc, window) -> None:
        self.frame, self.title = titled(root, "")
        self.rules = ttk.Label(self.frame, justify="left")
        self.rules.pack(anchor="w")
        self.hint = ttk.Label(self.frame, foreground="#666")
        self.hint.pack(anchor="w", pady=(12, 0))
        buttons = ttk.Frame(self.frame)
        buttons.pack(anchor="w", pady=12)
        self.start_button = ttk.Button(buttons, text="Start", command=window.start)
        self.start_button.pack(side="left")
        self.back_button = ttk.Button(buttons, text="Back", command=window.back)
        self.back_button.pack(side="left", padx=8)

    def fill(self, info: Info) -> None:
        self.title.configure(text=f"Test: {info.test}")
        self.rules.configure(text="\n".join(rules_lines(info)))
        if info.time_limit is not None:
            hint = "The clock starts when you press Start."
        elif info.attempts_allowed is not None:
            hint = "Start counts as one of your attempts."
        else:
            hint = ""
        self.hint.configure(text=hint)


class ResultsScreen:
    """The student's ended attempts: test, grade (or abandoned), when it ended."""

    COLUMNS = (("test", "Test", 160), ("grade", "Grade", 90), ("ended", "Ended", 200))

    def __init__(self, root: tk.Misc, window) -> None:
        self.frame, _ = titled(root, "Your results")
        self.table = ttk.Treeview(self.frame, columns=[c for c, _, _ in self.COLUMNS],
                                  show="headings", height=10, selectmode="none")
        for column, heading, width in self.COLUMNS:
            self.table.heading(column, text=heading, anchor="w")
            self.table.column(column, width=width, anchor="w")
        self.table.pack(anchor="w", fill="both", expand=True)
        self.empty = ttk.Label(self.frame, foreground="#666")
        self.empty.pack(anchor="w", pady=(8, 0))
        self.back_button = ttk.Button(self.frame, text="Back", command=window.back)
        self.back_button.pack(anchor="w", pady=12)

    def fill(self, results: list[ResultLine]) -> None:
        self.table.delete(*self.table.get_children())
        for result in results:
            grade = "abandoned" if result.tenths is None else format_grade(result.tenths) + " %"
            self.table.insert("", "end", values=(result.test, grade, wire_time(result.ended)))
        self.empty.configure(text="" if results else "No test finished yet.")

    def rows(self) -> list[tuple[str, ...]]:
        """What the table shows, row by row."""
        return [tuple(str(v) for v in self.table.item(row, "values"))
                for row in self.table.get_children()]
