"""
What the C{examtwist-gui} window shows: one screen per step of a session (connect, account,
tests, one question at a time, grade), a status line below them, and the dialog of a lucky
greeting.

Only widgets live here. What their buttons do, and when the window is busy, is the
L{examtwist.gui.ExamWindow}'s; every method here runs in Tk's thread.
"""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from examtwist.client import LETTER_RANGE, Asked, Greeting, ListedTest
from examtwist.wire import LETTERS, choice_lines

ERROR_COLOUR = "#b00020"


class Screens:
    """
    The widgets of one window. C{window} is the L{examtwist.gui.ExamWindow} they belong to:
    buttons call its C{connect}, C{sign_in}, C{take}, C{next}, C{another} and C{quit}, and
    its C{busy} disables them while the server is asked something.
    """

    def __init__(self, root: tk.Tk, window, host: str, port: int, tls: bool) -> None:
        self.root = root
        self.window = window
        self.screen = ""
        self.lucky_dialog: tk.Toplevel | None = None
        style = ttk.Style(root)
        if "clam" in style.theme_names():
            style.theme_use("clam")
        style.configure("Title.TLabel", font=("TkHeadingFont", 14, "bold"))
        style.configure("Grade.TLabel", font=("TkHeadingFont", 16, "bold"))

        self.status = ttk.Label(root, anchor="w", padding=(16, 6))
        self.status.pack(side="bottom", fill="x")
        self.frames = {
            "connect": self._connect_screen(host, port, tls),
            "account": self._account_screen(),
            "tests": self._tests_screen(),
            "question": self._question_screen(),
            "grade": self._grade_screen(),
        }
        # What Enter presses on each screen.
        self.defaults = {
            "connect": self.connect_button,
            "account": self.login_button,
            "tests": self.take_button,
            "question": self.next_button,
            "grade": self.again_button,
        }

    def _titled(self, title: str) -> ttk.Frame:
        frame = ttk.Frame(self.root, padding=16)
        ttk.Label(frame, text=title, style="Title.TLabel").pack(anchor="w", pady=(0, 12))
        return frame

    def _connect_screen(self, host: str, port: int, tls: bool) -> ttk.Frame:
        frame = self._titled("Connect to an exam server")
        form = ttk.Frame(frame)
        form.pack(anchor="w")
        self.host = tk.StringVar(value=host)
        self.port = tk.StringVar(value=str(port))
        self.tls = tk.BooleanVar(value=tls)
        self.host_entry = ttk.Entry(form, textvariable=self.host, width=28)
        _row(form, 0, "Host", self.host_entry)
        _row(form, 1, "Port", ttk.Entry(form, textvariable=self.port, width=8))
        _row(form, 2, "", ttk.Checkbutton(form, text="TLS", variable=self.tls))
        self.connect_button = ttk.Button(frame, text="Connect", command=self.window.connect)
        self.connect_button.pack(anchor="w", pady=12)
        return frame

    def _account_screen(self) -> ttk.Frame:
        frame = self._titled("Log in or register")
        self.welcome = ttk.Label(frame)
        self.welcome.pack(anchor="w", pady=(0, 8))
        form = ttk.Frame(frame)
        form.pack(anchor="w")
        self.username = tk.StringVar()
        self.password = tk.StringVar()
        self.username_entry = ttk.Entry(form, textvariable=self.username, width=28)
        _row(form, 0, "Username", self.username_entry)
        hidden = ttk.Entry(form, textvariable=self.password, show="\u2022", width=28)
        _row(form, 1, "Password", hidden)
        buttons = ttk.Frame(frame)
        buttons.pack(anchor="w", pady=12)
        self.login_button = ttk.Button(
            buttons, text="Log in", command=lambda: self.window.sign_in("login")
        )
        self.login_button.pack(side="left")
        self.register_button = ttk.Button(
            buttons, text="Register", command=lambda: self.window.sign_in("register")
        )
        self.register_button.pack(side="left", padx=8)
        return frame

    def _tests_screen(self) -> ttk.Frame:
        frame = self._titled("Choose a test")
        self.tests_list = tk.Listbox(frame, height=8, width=40, exportselection=False)
        self.tests_list.pack(anchor="w", fill="x")
        self.tests_list.bind("<<ListboxSelect>>", lambda e: self.refresh())
        self.tests_list.bind("<Double-Button-1>", lambda e: self.take_button.invoke())
        buttons = ttk.Frame(frame)
        buttons.pack(anchor="w", pady=12)
        self.take_button = ttk.Button(buttons, text="Take test", command=self.window.take)
        self.take_button.pack(side="left")
        ttk.Button(buttons, text="Quit", command=self.window.quit).pack(side="left", padx=8)
        return frame

    def _question_screen(self) -> ttk.Frame:
        frame = ttk.Frame(self.root, padding=16)
        self.heading = ttk.Label(frame, style="Title.TLabel")
        self.heading.pack(anchor="w")
        self.progress = ttk.Progressbar(frame, length=480, mode="determinate")
        self.progress.pack(anchor="w", fill="x", pady=(6, 12))
        self.question_text = ttk.Label(frame, wraplength=480, justify="left")
        self.question_text.pack(anchor="w", pady=(0, 8))
        self.choice = tk.StringVar()
        self.choice_buttons = []
        for letter in LETTERS:
            button = ttk.Radiobutton(
                frame, variable=self.choice, value=letter, command=self.refresh
            )
            button.pack(anchor="w", pady=2)
            self.choice_buttons.append(button)
        keys = f"Keys: 1-{len(LETTERS)} or {LETTER_RANGE} choose, Enter goes on."
        ttk.Label(frame, text=keys, foreground="#666").pack(anchor="w", pady=(8, 0))
        self.next_button = ttk.Button(frame, text="Next", command=self.window.next)
        self.next_button.pack(anchor="e", pady=8)
        return frame

    def _grade_screen(self) -> ttk.Frame:
        frame = self._titled("Your result")
        self.grade_label = ttk.Label(frame, style="Grade.TLabel")
        self.grade_label.pack(anchor="w", pady=12)
        buttons = ttk.Frame(frame)
        buttons.pack(anchor="w", pady=12)
        self.again_button = ttk.Button(
            buttons, text="Take another test", command=self.window.another
        )
        self.again_button.pack(side="left")
        self.quit_button = ttk.Button(buttons, text="Quit", command=self.window.quit)
        self.quit_button.pack(side="left", padx=8)
        return frame

    # Showing

    def show(self, name: str) -> None:
        if self.screen:
            self.frames[self.screen].pack_forget()
        self.screen = name
        self.frames[name].pack(fill="both", expand=True)
        self.frames[name].focus_set()
        self.refresh()

    def say(self, text: str, error: bool = False) -> None:
        self.status.configure(text=text, foreground=ERROR_COLOUR if error else "")

    def refresh(self) -> None:
        """Buttons are usable only when what they do makes sense now."""
        idle = "disabled" if self.window.busy else "!disabled"
        for button in (self.connect_button, self.login_button, self.register_button,
                       self.again_button, self.quit_button):
            button.state([idle])
        self.take_button.state([idle if self.tests_list.curselection() else "disabled"])
        self.next_button.state([idle if self.choice.get() else "disabled"])

    def show_tests(self, tests: list[ListedTest]) -> None:
        self.tests_list.delete(0, "end")
        for test in tests:
            self.tests_list.insert(
                "end", f"{test.number}. {test.name} ({test.question_count} questions)"
            )
        if tests:
            self.tests_list.selection_set(0)
        self.show("tests")
        if not tests:
            self.say("There are no tests on this server yet.")

    def show_question(self, asked: Asked) -> None:
        self.heading.configure(text=asked.heading)
        self.progress.configure(maximum=asked.total, value=asked.number)
        self.question_text.configure(text="\n".join(asked.question.text))
        for button, line in zip(self.choice_buttons, choice_lines(asked.question.choices)):
            button.configure(text=line)
        self.choice.set("")
        self.show("question")

    # The lucky greeting

    def show_lucky(self, greeting: Greeting) -> None:
        dialog = tk.Toplevel(self.root)
        dialog.title("Lucky you!")
        dialog.transient(self.root)
        body = ttk.Frame(dialog, padding=16)
        body.pack(fill="both", expand=True)
        ttk.Label(body, text=greeting.congratulation, style="Title.TLabel").pack(anchor="w")
        ttk.Label(body, text="Every connection so far, yours last:").pack(anchor="w", pady=(8, 4))
        self.lucky_addresses = tk.Listbox(body, height=min(len(greeting.addresses), 12), width=44)
        for address in greeting.addresses:
            self.lucky_addresses.insert("end", address)
        self.lucky_addresses.pack(anchor="w", fill="both", expand=True)
        ttk.Label(body, text=greeting.welcome).pack(anchor="w", pady=8)
        self.lucky_ok = ttk.Button(body, text="OK", command=self.close_lucky)
        self.lucky_ok.pack(anchor="e")
        dialog.protocol("WM_DELETE_WINDOW", self.close_lucky)
        dialog.bind("<Return>", lambda e: self.close_lucky())
        self.lucky_dialog = dialog

    def close_lucky(self) -> None:
        if self.lucky_dialog is not None:
            self.lucky_dialog.destroy()
            self.lucky_dialog = None
            self.username_entry.focus_set()


def _row(form: ttk.Frame, row: int, label: str, widget: tk.Widget) -> None:
    """A labelled field of a form: the label on the left, the widget beside it."""
    if label:
        ttk.Label(form, text=label).grid(row=row, column=0, sticky="w", pady=3)
    widget.grid(row=row, column=1, sticky="w", padx=8)
