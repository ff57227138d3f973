"""
C{examtwist-gui}: take tests in a tkinter window.

The window never waits on the network. Each exchange with the server runs in one worker
thread (L{NetworkWorker}) through the same blocking L{ExamClient} the command-line client
uses, and Tk's thread picks up the outcomes from a queue it polls with C{after}. So Tk is only
ever touched from its own thread, which is all it supports, and one connection's commands
still go out one at a time, in order. While no exchange is under way the same poll listens
for what the server says unasked: the grade when a test's time is up, or a parting 421.
"""

from __future__ import annotations

import queue
import sys
import threading
import tkinter as tk
from typing import Callable

from examtwist.client import Asked, ExamClient, Grade, ListedTest
from examtwist.clienterrors import ClientError, ConnectionClosed, ServerError, explain
from examtwist.commandline import PORT_RULE, ConnectionOptions, is_port, parse_or_exit
from examtwist.rulelines import Info, ResultLine
from examtwist.rulewords import continuation, has_rules
from examtwist.screens import Screens
from examtwist.wire import LETTERS

PROGRAM = "examtwist-gui"
POLL_MS = 25
# The keys that choose an answer: 1 to 4, or the letter itself.
KEY_CHOICES = {**{str(n): letter for n, letter in enumerate(LETTERS, 1)},
               **{letter: letter for letter in LETTERS}}


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
    One session with an exam server in a window: what each button does, and the state of the
    conversation. It never waits: each exchange goes to the L{NetworkWorker}, and its outcome
    moves the L{Screens} on (or is told in their status line).
    """

    def __init__(self, root: tk.Tk, host: str, port: int, tls: bool = False,
                 cafile: str | None = None, timeout: float | None = None) -> None:
        self.root = root
        self.cafile = cafile
        self.timeout = timeout
        self.client: ExamClient | None = None
        self.tests: list[ListedTest] = []
        self.chosen: ListedTest | None = None
        self.busy = False
        self.closed = False

        root.title("examtwist")
        root.minsize(520, 380)
        root.protocol("WM_DELETE_WINDOW", self.quit)
        root.report_callback_exception = self._unexpected
        self.worker = NetworkWorker(root)
        self.screens = Screens(root, self, host, port, tls)
        root.bind("<Return>", self._on_return)
        root.bind("<KP_Enter>", self._on_return)
        root.bind("<Key>", self._on_key)
        self.screens.show("connect")
        self._listen_id = root.after(POLL_MS, self._listen)

    # Talking to the server, always through the worker

    def _call(self, call: Callable, on_result: Callable, waiting: str) -> None:
        self.busy = True
        self.screens.say(waiting)
        self.screens.refresh()
        self.worker.submit(call, lambda result: self._done(on_result, result), self._failed)

    def _done(self, on_result: Callable, result) -> None:
        self.busy = False
        self.screens.say("")
        on_result(result)
        if not self.closed:
            self.screens.refresh()

    def _failed(self, error: Exception) -> None:
        self.busy = False
        if isinstance(error, ConnectionClosed):
            self.client = None
            self.screens.show("connect")
        if isinstance(error, ClientError):
            self.screens.say(_sentence(explain(error)), error=True)
        else:
            self.screens.say(f"Unexpected error: {error!r}", error=True)
        self.screens.refresh()

    def connect(self) -> None:
        host, port = self.screens.host.get().strip(), self.screens.port.get().strip()
        if not host:
            return self.screens.say("Give the server's host name or address.", error=True)
        if not port.isdigit() or not is_port(int(port)):
            return self.screens.say(_sentence(PORT_RULE), error=True)
        tls, cafile, timeout = self.screens.tls.get(), self.cafile, self.timeout
        self._call(
            lambda: ExamClient.connect(host, int(port), tls=tls, cafile=cafile, timeout=timeout),
            self._connected,
            f"Connecting to {host}:{port}…",
        )

    def _connected(self, client: ExamClient) -> None:
        self.client = client
        self.screens.welcome.configure(text=client.greeting.welcome)
        self.screens.show("account")
        self.screens.username_entry.focus_set()
        if client.greeting.is_lucky:
            self.screens.show_lucky(client.greeting)

    def sign_in(self, action: str) -> None:
        client = self.client
        username, password = self.screens.username.get(), self.screens.password.get()

        def sign_in_and_list() -> list[ListedTest]:
            getattr(client, action)(username, password)
            return client.list_tests()

        self._call(sign_in_and_list, self._signed_in,
                   "Registering…" if action == "register" else "Logging in…")

    def _signed_in(self, tests: list[ListedTest]) -> None:
        self.screens.password.set("")
        self._show_tests(tests)

    def _show_tests(self, tests: list[ListedTest]) -> None:
        self.tests = tests
        self.screens.show_tests(tests)

    def take(self) -> None:
        """The chosen test's rules first when it has any; at once (as in version 1) if not."""
        selection = self.screens.tests_list.curselection()
        if not selection:
            return
        client, test = self.client, self.tests[selection[0]]
        self.chosen = test
        self._call(lambda: rules_or_question(client, test.number), self._rules_or_question,
                   f"Starting {test.name}…")

    def _rules_or_question(self, step: Info | Asked) -> None:
        if isinstance(step, Info):
            self.screens.rules.fill(step)
            self.screens.show("rules")
        else:
            self._started(step)

    def start(self) -> None:
        client, test = self.client, self.chosen
        self._call(lambda: client.take(test.number), self._started, f"Starting {test.name}…")

    def _started(self, asked: Asked) -> None:
        self.screens.show_question(asked)
        resumed = continuation(asked.number, asked.total, asked.time_left is not None)
        if resumed:
            self.screens.say(resumed)

    def pick(self, letter: str) -> None:
        self.screens.choice.set(letter)
        self.screens.refresh()

    def next(self) -> None:
        client, letter = self.client, self.screens.choice.get()
        if not letter:
            return
        self._call(lambda: client.answer(letter), self._answered, "Sending your answer…")

    def _answered(self, step: Asked | Grade) -> None:
        if isinstance(step, Grade):
            self.screens.show_grade(step)
        else:
            self.screens.show_question(step)

    def _listen(self) -> None:
        """While the connection is idle: what the server says unasked, as soon as it does."""
        self._listen_id = self.root.after(POLL_MS, self._listen)
        client = self.client
        if client is not None and not self.busy and client.ready():
            self._call(client.unasked, self._answered, "The server speaks…")

    def results(self) -> None:
        client = self.client
        self._call(lambda: own_results(client), self._show_results, "Fetching your results…")

    def _show_results(self, results: list[ResultLine] | None) -> None:
        if results is None:
            return self.screens.say("This server does not list results.", error=True)
        self.screens.results.fill(results)
        self.screens.show("results")

    def back(self) -> None:
        self.screens.show("tests")

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
        self.root.after_cancel(self._listen_id)
        self.worker.stop()
        self.root.destroy()

    # Keys

    def _on_key(self, event) -> None:
        letter = KEY_CHOICES.get(event.char.upper()) if event.char else None
        asking = self.screens.screen == "question" and self.screens.lucky_dialog is None
        if asking and letter and not self.busy:
            self.pick(letter)

    def _on_return(self, event) -> None:
        if self.screens.lucky_dialog is None:
            self.screens.defaults[self.screens.screen].invoke()

    def _unexpected(self, kind, value, traceback) -> None:
        """A bug in a callback: shown in the window, where the user looks. Ctrl-C: leave."""
        if issubclass(kind, KeyboardInterrupt):
            self.quit()
        else:
            self.screens.say(f"Unexpected error: {value!r}", error=True)


# The blocking exchanges of more than one command, run by the worker.


def rules_or_question(client: ExamClient, number: int) -> Info | Asked:
    """A test's rules when it has any, to be shown first; else its first question."""
    try:
        info = client.info(number)
    except ServerError as e:
        if e.code != 500:  # 500: a version 1 server, without INFO or rules
            raise
        info = None
    return info if info is not None and has_rules(info) else client.take(number)


def own_results(client: ExamClient) -> list[ResultLine] | None:
    """The student's results; None from a version 1 server, which keeps none for them."""
    try:
        return client.results()
    except ServerError as e:
        if e.code != 500:
            raise
        return None


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


class Options(ConnectionOptions):
    synopsis = f"{PROGRAM} {ConnectionOptions.SYNOPSIS}"
    longdesc = (
        "Take tests on an examtwist server in a window. The options fill in the connect form."
    )


def main(argv: list[str] | None = None) -> None:
    options = parse_or_exit(Options(), PROGRAM, argv)
    try:
        root = tk.Tk(className="examtwist")
    except tk.TclError as e:
        sys.stderr.write(f"{PROGRAM}: cannot open a window: {e}\n")
        raise SystemExit(1)
    window = ExamWindow(root, options["host"], options["port"], tls=options["tls"],
                        cafile=options["cafile"], timeout=options.timeout)
    root.mainloop()
    window.worker.stop()
