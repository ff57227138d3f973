"""
The GUI's countdown of a test with a deadline: the time left, ticking every second on the
window's own clock from the last "Time left" line the server sent, and a warning in the last
minute.

The server's figure is whole seconds rounded down when it sent the question, so counting from
it on arrival can only show less time than there is, never more. The server, not this clock,
ends the attempt: at zero the countdown waits for its "Time is up".
"""

from __future__ import annotations

import math
import time
import tkinter as tk
from tkinter import ttk
from typing import Callable

from examtwist.rulewords import clock

# Where the warning starts: the last minute.
WARN_FROM = 60
WARNING_COLOUR = "#b00020"


class Countdown:
    """
    A label that counts down. C{start} it with a question's time left; it stops by itself at
    zero and when C{stop}ped. C{now} is the monotonic clock, replaceable in tests.
    """

    def __init__(self, parent: tk.Misc, now: Callable[[], float] = time.monotonic) -> None:
        self.label = ttk.Label(parent, style="Countdown.TLabel")
        self._now = now
        self._deadline: float | None = None
        self._after: str | None = None
        self.shown: int | None = None  # the seconds on the label; None when not counting

    @property
    def warning(self) -> bool:
        """True in the last minute of a test."""
        return self.shown is not None and self.shown < WARN_FROM

    def start(self, seconds: int) -> None:
        self.stop()
        self._deadline = self._now() + seconds
        self._tick()

    def stop(self) -> None:
        if self._after is not None:
            self.label.after_cancel(self._after)
            self._after = None
        self._deadline = self.shown = None
        self.label.configure(text="")

    def _tick(self) -> None:
        self._after = None
        left = max(0.0, self._deadline - self._now())
        # Whole seconds, up: a label that says 1:00 has not yet entered the last minute.
        self.shown = math.ceil(left - 1e-3)
        if self.shown == 0:
            text = "Time is up: waiting for your grade…"
        elif self.warning:
            text = f"Time left: {clock(self.shown)} (less than a minute!)"
        else:
            text = f"Time left: {clock(self.shown)}"
        self.label.configure(text=text, foreground=WARNING_COLOUR if self.warning else "")
        if self.shown > 0:
            # Wake when the next whole second begins.
            delay = left - (self.shown - 1)
            self._after = self.label.after(max(1, math.ceil(delay * 1000)), self._tick)
