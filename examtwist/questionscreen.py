"""
The GUI's question screen: which question of how many, its text, the four choices as radio
buttons, Next, and in a test with a deadline the countdown under the heading. Only widgets,
as in L{examtwist.screens}, which puts it in the window beside the other screens.
"""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from examtwist.clientreplies import LETTER_RANGE, Asked
from examtwist.countdown import Countdown
from examtwist.wire import LETTERS, choice_lines


class QuestionScreen:
    """C{refresh} is called when a choice is picked; Next calls C{window.next}."""

    def __init__(self, root: tk.Misc, window, refresh) -> None:
        self.frame = frame = ttk.Frame(root, padding=16)
        self.heading = ttk.Label(frame, style="Title.TLabel")
        self.heading.pack(anchor="w")
        # Empty, and so without height, in a test without a deadline.
        self.countdown = Countdown(frame)
        self.countdown.label.pack(anchor="w", pady=(4, 0))
        self.progress = ttk.Progressbar(frame, length=480, mode="determinate")
        self.progress.pack(anchor="w", fill="x", pady=(6, 12))
        self.text = ttk.Label(frame, wraplength=480, justify="left")
        self.text.pack(anchor="w", pady=(0, 8))
        self.choice = tk.StringVar()
        self.choice_buttons = []
        for letter in LETTERS:
            button = ttk.Radiobutton(frame, variable=self.choice, value=letter, command=refresh)
            button.pack(anchor="w", pady=2)
            self.choice_buttons.append(button)
        keys = f"Keys: 1-{len(LETTERS)} or {LETTER_RANGE} choose, Enter goes on."
        ttk.Label(frame, text=keys, foreground="#666").pack(anchor="w", pady=(8, 0))
        self.next_button = ttk.Button(frame, text="Next", command=window.next)
        self.next_button.pack(anchor="e", pady=8)

    def fill(self, asked: Asked) -> None:
        """Show this question, nothing chosen; the countdown from its time left, if any."""
        self.heading.configure(text=asked.heading)
        self.progress.configure(maximum=asked.total, value=asked.number)
        self.text.configure(text="\n".join(asked.question.text))
        for button, line in zip(self.choice_buttons, choice_lines(asked.question.choices)):
            button.configure(text=line)
        self.choice.set("")
        if asked.time_left is None:
            self.countdown.stop()
        else:
            self.countdown.start(asked.time_left)
