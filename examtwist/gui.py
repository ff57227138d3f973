"""
C{examtwist-gui}: take tests in a tkinter window.

The window never waits on the network. Each exchange with the server runs in one worker
thread (L{NetworkWorker}) through the same blocking L{ExamClient} the command-line client
uses, and Tk's thread picks up the outcomes from a queue it polls with C{after}. So Tk is only
ever touched from its own thread, which is all it supports, and one connection's commands
still go out one at a time, in order.
"""

from __future__ import annotations

import queue
import sys
import threading
import tkinter as tk
from tkinter import ttk
from typing import Callable

from twisted.python import usage

from examtwist.cli import ConnectionOptions
from examtwist.client import (
    ClientError,
    ConnectionClosed,
    ExamClient,
    Grade,
    ListedTest,
    Asked,
)
from examtwist.wire import LETTERS

PROGRAM = "examtwist-gui"
POLL_MS = 25
KEY_CHOICES = {"1": "A", "2": "B", "3": "C", "4": "D", "A": "A", "B": "B", "C": "C", "D": "D"}
ERROR_COLOUR = "#b00020"


class NetworkWorker:
    """
    Runs blocking calls one after another in a thread; each outcome is handed to its callback
    in Tk's thread, from a queue polled every L{POLL_MS} milliseconds.
    """

    def __init__(self, widget: tk.Misc) -> None:
        self._widget = widget
        self._jobs: queue.Queue = queue.Queue()
        self._outcomes: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="examtwist-network", daemon=True)
        self._thread.start()
        self._poll_id = widget.after(POLL_MS, self._poll)

    def submit(self, call: Callable, on_result: Callable, on_error: Callable) -> None:
        self._jobs.put((call, on_result, on_error))

    def stop(self) -> None:
        """No more callbacks; the thread ends after the call in hand."""
        self._jobs.put(None)
        if self._poll_id is not None:
            self._widget.after_cancel(self._poll_id)
            self._poll_id = None

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            call, on_result, on_error = job
            try:
                outcome = (on_result, call())
            except Exception as e:  # handed to Tk's thread, which shows it
                outcome = (on_error, e)
            self._outcomes.put(outcome)

    def _poll(self) -> None:
        # Next poll first, so a callback that raises cannot stop the polling.
        self._poll_id = self._widget.after(POLL_MS, self._poll)
        while self._poll_id is not None:
            try:
                callback, value = self._outcomes.get_nowait()
            except queue.Empty:
                break
            callback(value)


class ExamWindow:
    """
    The screens of a session (connect, account, tests, one question at a time, grade) in
    one window, with a status line where waiting and errors are shown.
    """

    def __init__(self, root: tk.Tk, host: str, port: int, tls: bool = False,
                 cafile: str | None = None, timeout: float | None = None) -> None:
        self.root = root
        self.cafile = cafile
        self.timeout = timeout
        self.client: ExamClient | None = None
        self.tests: list[ListedTest] = []
        self.busy = False
        self.closed = False
        self.screen = ""
        self.lucky_dialog: tk.Toplevel | None = None

        root.title("examtwist")
        root.minsize(520, 380)
        root.protocol("WM_DELETE_WINDOW", self.quit)
        root.report_callback_exception = self._unexpected
        style = ttk.Style(root)
        if "clam" in style.theme_names():
            style.theme_use("clam")
        style.configure("Title.TLabel", font=("TkHeadingFont", 14, "bold"))
        style.configure("Grade.TLabel", font=("TkHeadingFont", 16, "bold"))

        self.worker = NetworkWorker(root)
        self.status = ttk.Label(root, anchor="w", padding=(16, 6))
        self.status.pack(side="bottom", fill="x")
        self.screens = {
            "connect": self._connect_screen(host, port, tls),
            "account": self._account_screen(),
            "tests": self._tests_screen(),
            "question": self._question_screen(),
            "grade": self._grade_screen(),
        }
        self.defaults = {
            "connect": self.connect_button,
            "account": self.login_button,
            "tests": self.take_button,
            "question": self.next_button,
            "grade": self.again_button,
        }
        root.bind("<Return>", self._on_return)
        root.bind("<KP_Enter>", self._on_return)
        root.bind("<Key>", self._on_key)
        self.show("connect")

    # Screens

    def _screen(self, title: str) -> ttk.Frame:
        frame = ttk.Frame(self.root, padding=16)
        ttk.Label(frame, text=title, style="Title.TLabel").pack(anchor="w", pady=(0, 12))
        return frame

    def _connect_screen(self, host: str, port: int, tls: bool) -> ttk.Frame:
        frame = self._screen("Connect to an exam server")
        form = ttk.Frame(frame)
        form.pack(anchor="w")
        self.host = tk.StringVar(value=host)
        self.port = tk.StringVar(value=str(port))
        self.tls = tk.BooleanVar(value=tls)
        ttk.Label(form, text="Host").grid(row=0, column=0, sticky="w", pady=3)
        self.host_entry = ttk.Entry(form, textvariable=self.host, width=28)
        self.host_entry.grid(row=0, column=1, sticky="w", padx=8)
        ttk.Label(form, text="Port").grid(row=1, column=0, sticky="w", pady=3)
        ttk.Entry(form, textvariable=self.port, width=8).grid(row=1, column=1, sticky="w", padx=8)
        ttk.Checkbutton(form, text="TLS", variable=self.tls).grid(row=2, column=1, sticky="w", padx=8)
        self.connect_button = ttk.Button(frame, text="Connect", command=self.connect)
        self.connect_button.pack(anchor="w", pady=12)
        return frame

    def _account_screen(self) -> ttk.Frame:
        frame = self._screen("Log in or register")
        self.welcome = ttk.Label(frame)
        self.welcome.pack(anchor="w", pady=(0, 8))
        form = ttk.Frame(frame)
        form.pack(anchor="w")
        self.username = tk.StringVar()
        self.password = tk.StringVar()
        ttk.Label(form, text="Username").grid(row=0, column=0, sticky="w", pady=3)
        self.username_entry = ttk.Entry(form, textvariable=self.username, width=28)
        self.username_entry.grid(row=0, column=1, padx=8)
        ttk.Label(form, text="Password").grid(row=1, column=0, sticky="w", pady=3)
        ttk.Entry(form, textvariable=self.password, show="\u2022", width=28).grid(row=1, column=1, padx=8)
        buttons = ttk.Frame(frame)
        buttons.pack(anchor="w", pady=12)
        self.login_button = ttk.Button(buttons, text="Log in", command=lambda: self.sign_in("login"))
        self.login_button.pack(side="left")
        self.register_button = ttk.Button(
            buttons, text="Register", command=lambda: self.sign_in("register")
        )
        self.register_button.pack(side="left", padx=8)
        return frame

    def _tests_screen(self) -> ttk.Frame:
        frame = self._screen("Choose a test")
        self.tests_list = tk.Listbox(frame, height=8, width=40, exportselection=False)
        self.tests_list.pack(anchor="w", fill="x")
        self.tests_list.bind("<<ListboxSelect>>", lambda e: self._refresh())
        self.tests_list.bind("<Double-Button-1>", lambda e: self.take_button.invoke())
        buttons = ttk.Frame(frame)
        buttons.pack(anchor="w", pady=12)
        self.take_button = ttk.Button(buttons, text="Take test", command=self.take)
        self.take_button.pack(side="left")
        ttk.Button(buttons, text="Quit", command=self.quit).pack(side="left", padx=8)
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
            button = ttk.Radiobutton(frame, variable=self.choice, value=letter, command=self._refresh)
            button.pack(anchor="w", pady=2)
            self.choice_buttons.append(button)
        ttk.Label(frame, text="Keys: 1-4 or A-D choose, Enter goes on.", foreground="#666").pack(
            anchor="w", pady=(8, 0)
        )
        self.next_button = ttk.Button(frame, text="Next", command=self.next)
        self.next_button.pack(anchor="e", pady=8)
        return frame

    def _grade_screen(self) -> ttk.Frame:
        frame = self._screen("Your result")
        self.grade_label = ttk.Label(frame, style="Grade.TLabel")
        self.grade_label.pack(anchor="w", pady=12)
        buttons = ttk.Frame(frame)
        buttons.pack(anchor="w", pady=12)
        self.again_button = ttk.Button(buttons, text="Take another test", command=self.another)
        self.again_button.pack(side="left")
        self.quit_button = ttk.Button(buttons, text="Quit", command=self.quit)
        self.quit_button.pack(side="left", padx=8)
        return frame

    def show(self, name: str) -> None:
        if self.screen:
            self.screens[self.screen].pack_forget()
        self.screen = name
        self.screens[name].pack(fill="both", expand=True)
        self.screens[name].focus_set()
        self._refresh()

    def say(self, text: str, error: bool = False) -> None:
        self.status.configure(text=text, foreground=ERROR_COLOUR if error else "")

    def _refresh(self) -> None:
        """Buttons are usable only when what they do makes sense now."""
        idle = "disabled" if self.busy else "!disabled"
        for button in (self.connect_button, self.login_button, self.register_button,
                       self.again_button, self.quit_button):
            button.state([idle])
        self.take_button.state([idle if self.tests_list.curselection() else "disabled"])
        self.next_button.state([idle if self.choice.get() else "disabled"])

    # Talking to the server, always through the worker

    def _call(self, call: Callable, on_result: Callable, waiting: str) -> None:
        self.busy = True
        self.say(waiting)
        self._refresh()
        self.worker.submit(call, lambda result: self._done(on_result, result), self._failed)

    def _done(self, on_result: Callable, result) -> None:
        self.busy = False
        self.say("")
        on_result(result)
        if not self.closed:
            self._refresh()

    def _failed(self, error: Exception) -> None:
        self.busy = False
        if isinstance(error, ConnectionClosed):
            self.client = None
            self.show("connect")
        if isinstance(error, ClientError):
            self.say(_sentence(str(error)), error=True)
        else:
            self.say(f"Unexpected error: {error!r}", error=True)
        self._refresh()

    def connect(self) -> None:
        host, port = self.host.get().strip(), self.port.get().strip()
        if not host:
            return self.say("Give the server's host name or address.", error=True)
        if not port.isdigit() or not 0 < int(port) < 65536:
            return self.say("The port must be a number from 1 to 65535.", error=True)
        tls, cafile, timeout = self.tls.get(), self.cafile, self.timeout
        self._call(
            lambda: ExamClient.connect(host, int(port), tls=tls, cafile=cafile, timeout=timeout),
            self._connected,
            f"Connecting to {host}:{port}…",
        )

    def _connected(self, client: ExamClient) -> None:
        self.client = client
        self.welcome.configure(text=client.greeting.welcome)
        self.show("account")
        self.username_entry.focus_set()
        if client.greeting.is_lucky:
            self._show_lucky(client.greeting)

    def sign_in(self, action: str) -> None:
        client, username, password = self.client, self.username.get(), self.password.get()

        def sign_in_and_list() -> list[ListedTest]:
            getattr(client, action)(username, password)
            return client.list_tests()

        self._call(sign_in_and_list, self._signed_in,
                   "Registering…" if action == "register" else "Logging in…")

    def _signed_in(self, tests: list[ListedTest]) -> None:
        self.password.set("")
        self._show_tests(tests)

    def _show_tests(self, tests: list[ListedTest]) -> None:
        self.tests = tests
        self.tests_list.delete(0, "end")
        for test in tests:
            self.tests_list.insert("end", f"{test.number}. {test.name} ({test.question_count} questions)")
        if tests:
            self.tests_list.selection_set(0)
        self.show("tests")
        if not tests:
            self.say("There are no tests on this server yet.")

    def take(self) -> None:
        selection = self.tests_list.curselection()
        if not selection:
            return
        client, test = self.client, self.tests[selection[0]]
        self._call(lambda: client.take(test.number), self._show_question, f"Starting {test.name}…")

    def _show_question(self, question: Asked) -> None:
        self.heading.configure(text=question.heading)
        self.progress.configure(maximum=question.total, value=question.number)
        self.question_text.configure(text="\n".join(question.text))
        for button, letter, choice in zip(self.choice_buttons, "ABCD", question.choices):
            button.configure(text=f"{letter}) {choice}")
        self.choice.set("")
        self.show("question")

    def pick(self, letter: str) -> None:
        self.choice.set(letter)
        self._refresh()

    def next(self) -> None:
        client, letter = self.client, self.choice.get()
        if not letter:
            return
        self._call(lambda: client.answer(letter), self._answered, "Sending your answer…")

    def _answered(self, step: Asked | Grade) -> None:
        if isinstance(step, Grade):
            self.grade_label.configure(text=step.text)
            self.show("grade")
        else:
            self._show_question(step)

    def another(self) -> None:
        self._call(self.client.list_tests, self._show_tests, "Fetching the tests…")

    def quit(self) -> None:
        """QUIT when the connection is idle, then close the window."""
        client, self.client = self.client, None
        if client is None or self.busy:
            return self.close()
        self._call(client.quit, self.close, "Saying goodbye…")

    def close(self, _=None) -> None:
        """Close the window now; L{quit} is the polite way."""
        if self.closed:
            return
        self.closed = True
        self.worker.stop()
        self.root.destroy()

    # The lucky greeting

    def _show_lucky(self, greeting) -> None:
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
        self.lucky_ok = ttk.Button(body, text="OK", command=self._close_lucky)
        self.lucky_ok.pack(anchor="e")
        dialog.protocol("WM_DELETE_WINDOW", self._close_lucky)
        dialog.bind("<Return>", lambda e: self._close_lucky())
        self.lucky_dialog = dialog

    def _close_lucky(self) -> None:
        if self.lucky_dialog is not None:
            self.lucky_dialog.destroy()
            self.lucky_dialog = None
            self.username_entry.focus_set()

    # Keys

    def _on_key(self, event) -> None:
        letter = KEY_CHOICES.get(event.char.upper()) if event.char else None
        if self.screen == "question" and letter and not self.busy and self.lucky_dialog is None:
            self.pick(letter)

    def _on_return(self, event) -> None:
        if self.lucky_dialog is None:
            self.defaults[self.screen].invoke()

    def _unexpected(self, kind, value, traceback) -> None:
        """A bug in a callback: shown in the window, where the user looks. Ctrl-C: leave."""
        if issubclass(kind, KeyboardInterrupt):
            self.quit()
        else:
            self.say(f"Unexpected error: {value!r}", error=True)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


class Options(ConnectionOptions):
    synopsis = f"{PROGRAM} [--host HOST] [--port PORT] [--tls [--cafile FILE]]"
    longdesc = "Take tests on an examtwist server in a window. The options fill in the connect form."


def main(argv: list[str] | None = None) -> None:
    options = Options()
    try:
        options.parseOptions(sys.argv[1:] if argv is None else argv)
    except usage.UsageError as e:
        sys.stderr.write(f"{options}\n{PROGRAM}: {e}\n")
        raise SystemExit(2)
    try:
        root = tk.Tk(className="examtwist")
    except tk.TclError as e:
        sys.stderr.write(f"{PROGRAM}: cannot open a window: {e}\n")
        raise SystemExit(1)
    window = ExamWindow(root, options["host"], options["port"], tls=options["tls"],
                        cafile=options["cafile"], timeout=options["timeout"] or None)
    root.mainloop()
    window.worker.stop()
