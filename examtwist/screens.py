"""
What the C{examtwist-gui} window shows: one screen per step of a session (connect, account,
tests, a test's rules, one question at a time with its countdown, grade, results), a status
line below them, and the dialog of a lucky greeting.

Only widgets live here. What their buttons do, and when the window is busy, is the
L{examtwist.gui.ExamWindow}'s; every method here runs in Tk's thread.
"""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from examtwist.client import Asked, Grade, Greeting, ListedTest
from examtwist.questionscreen import QuestionScreen
from examtwist.rulelines import TIME_IS_UP
from examtwist.rulescreens import ResultsScreen, RulesScreen, titled

ERROR_COLOUR = "#b00020"


class Screens:
    """
    The widgets of one window. C{window} is the L{examtwist.gui.ExamWindow} they belong to:
    buttons call its C{connect}, C{sign_in}, C{take}, C{start}, C{next}, C{another},
    C{results}, C{back} and C{quit}, and its C{busy} disables them while the server is asked
    something.
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
        style.configure("Countdown.TLabel", font=("TkHeadingFont", 13, "bold"))

        self.status = ttk.Label(root, anchor="w", padding=(16, 6))
        self.status.pack(side="bottom", fill="x")
        self.rules = RulesScreen(root, window)
        self.question = q = QuestionScreen(root, window, self.refresh)
        self.heading, self.progress, self.question_text = q.heading, q.progress, q.text
        self.choice, self.choice_buttons = q.choice, q.choice_buttons
        self.next_button = q.next_button
        self.results = ResultsScreen(root, window)
        self.frames = {
            "connect": self._connect_screen(host, port, tls),
            "account": self._account_screen(),
            "tests": self._tests_screen(),
            "rules": self.rules.frame,
            "question": self.question.frame,
            "grade": self._grade_screen(),
            "results": self.results.frame,
        }
        # What Enter presses on each screen.
        self.defaults = {
            "connect": self.connect_button,
            "account": self.login_button,
            "tests": self.take_button,
            "rules": self.rules.start_button,
            "question": self.next_button,
            "grade": self.again_button,
            "results": self.results.back_button,
        }

    def _titled(self, title: str) -> ttk.Frame:
        return titled(self.root, title)[0]

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
        self.results_button = ttk.Button(buttons, text="Your results",
                                         command=self.window.results)
        self.results_button.pack(side="left", padx=8)
        ttk.Button(buttons, text="Quit", command=self.window.quit).pack(side="left")
        return frame

    def _grade_screen(self) -> ttk.Frame:
        frame = self._titled("Your result")
        self.grade_note = ttk.Label(frame)
        self.grade_note.pack(anchor="w")
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
        if name != "question":
            self.question.countdown.stop()
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
                       self.again_button, self.quit_button, self.results_button,
                       self.rules.start_button, self.rules.back_button,
                       self.results.back_button):
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
        self.question.fill(asked)
        self.show("question")

    def show_grade(self, grade: Grade) -> None:
        note = f"{TIME_IS_UP}: unanswered questions count as wrong." if grade.time_up else ""
        self.grade_note.configure(text=note)
        self.grade_label.configure(text=grade.text)
        self.show("grade")

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
