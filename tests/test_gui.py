"""
The tkinter window on a virtual X screen (Xvfb), driven by invoking its widgets and sending it
keys, against a real server in this process.

Tk runs in this (the reactor's) thread; the window's network calls run in its own worker
thread. L{GUITestCase.until} processes Tk events and then lets the reactor run for a moment, so
the window and the server both make progress while a test waits.

Without Xvfb or Tk these tests skip and say so; in CI (CI set), where .ci/run installs them,
they fail instead.
"""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import time

from twisted.internet import reactor
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from tests.client_support import MATH_AS_SHOWN, free_port, stored_results
from tests.support import LOOPBACK, MATH_KEY, connect, logged_in, require, start_server, temp_dir

XVFB = shutil.which("Xvfb")


def missing_screen() -> str | None:
    """What these tests lack to open a window, or None."""
    if XVFB is None:
        return "Xvfb is not installed (Debian package xvfb): no screen to open a window on"
    try:
        import tkinter  # noqa: F401
    except ImportError as e:
        return f"this Python has no Tk ({e}; Debian package python3-tk)"
    return None


class VirtualScreen:
    """
    An Xvfb server on a display number it picks itself, free by construction.

    One serves the whole run: Tk keeps its connection to a display until the process ends, and
    Xlib ends the process when a server it is connected to goes away. So the server is started
    with -terminate: it ends by itself once its last client, this process, has gone.
    """

    def __init__(self) -> None:
        read, write = os.pipe()
        self.process = subprocess.Popen(
            [XVFB, "-displayfd", str(write), "-screen", "0", "1024x768x24", "-nolisten", "tcp",
             "-terminate"],
            pass_fds=[write], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(write)
        with os.fdopen(read, "rb") as numbers:
            number = numbers.readline().strip().decode()
        if not number:
            self.process.wait()
            raise RuntimeError(f"Xvfb ended with status {self.process.returncode}")
        self.display = f":{number}"

    _shared: "VirtualScreen | None" = None

    @classmethod
    def shared(cls) -> "VirtualScreen":
        if cls._shared is None or cls._shared.process.poll() is not None:
            cls._shared = cls()
        return cls._shared


class GUITestCase(TestCase):
    def setUp(self) -> None:
        require(self, missing_screen())

    async def serve(self, *args: str) -> int:
        self.service, port = await start_server(self, *args)
        return port

    def open_window(self, port: int, **options):
        import tkinter

        from examtwist.gui import ExamWindow

        self.screen = VirtualScreen.shared()
        root = tkinter.Tk(screenName=self.screen.display, className="examtwist")
        self.window = ExamWindow(root, LOOPBACK, port, **options)
        self.addCleanup(self._close_window)
        root.update()
        return self.window

    def _close_window(self) -> None:
        window = self.window
        if window.client is not None and not window.busy:
            window.client.close()
        window.close()
        # Tk objects must die in the thread that made them (Tcl aborts the process otherwise):
        # collect the window's reference cycles here, not in whichever thread the collector
        # next runs in (a database or hashing worker of a later test).
        self.window = window = None
        gc.collect()

    async def until(self, condition, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"still not true after {timeout} s: {condition}")
            self.window.root.update()
            await deferLater(reactor, 0.01, lambda: None)

    async def wait_idle(self) -> None:
        await self.until(lambda: not self.window.busy)

    def status(self) -> str:
        return str(self.window.screens.status.cget("text"))

    def press(self, key: str) -> None:
        """A real key event, delivered to the window with the focus."""
        root = self.window.root
        root.focus_force()
        root.update()
        root.focus_get().event_generate(f"<KeyPress-{key}>")
        root.update()

    def screenshot(self, name: str, toplevel=None) -> str:
        """The window as the X server shows it, saved as a PNG under _trial_temp."""
        from PIL import ImageGrab

        widget = toplevel or self.window.root
        widget.update()
        x, y = widget.winfo_rootx(), widget.winfo_rooty()
        width, height = widget.winfo_width(), widget.winfo_height()
        image = ImageGrab.grab(bbox=(x, y, x + width, y + height), xdisplay=self.screen.display)
        self.assertEqual(image.size, (width, height))
        darkest, lightest = image.convert("L").getextrema()
        self.assertGreater(lightest - darkest, 100, "the screenshot is blank")
        path = os.path.join(temp_dir(self), f"{name}.png")
        image.save(path)
        return path


class SessionTests(GUITestCase):
    async def test_whole_test_by_widgets_and_keys(self) -> None:
        """
        If a student connects as the lucky second connection, registers, takes math answering
        the first question wrong and the rest right (by mouse, by number key, by letter key,
        with Next and with Enter), then the dialog lists both connections' addresses, each
        question shows "Question N of 5" with its text and "A) …" to "D) …", the grade screen
        says "Your grade is 80.0 (4/5 correct)", 80.0 is stored, and Quit closes the window.
        """
        port = await self.serve("--lucky", "2")
        earlier = await connect(port)
        self.addCleanup(earlier.transport.loseConnection)
        window = self.open_window(port)
        screens = window.screens
        screens.connect_button.invoke()
        await self.until(lambda: screens.screen == "account")

        self.assertIsNotNone(screens.lucky_dialog)
        # As the server wrote them: the earlier connection's address, then the window's.
        earlier_address = earlier.transport.getHost()
        counted = sorted(self.service.factory.connections, key=lambda p: p.number)
        self.assertEqual(list(screens.lucky_addresses.get(0, "end")),
                         [f"{LOOPBACK}:{earlier_address.port}", counted[1].address])
        self.screenshot("lucky", screens.lucky_dialog)
        screens.lucky_ok.invoke()
        self.assertIsNone(screens.lucky_dialog)

        screens.username.set("grace")
        screens.password.set("correct horse")
        screens.register_button.invoke()
        await self.until(lambda: screens.screen == "tests")
        self.assertEqual(list(screens.tests_list.get(0, "end")),
                         ["1. math (5 questions)", "2. python (5 questions)"])
        self.assertEqual(screens.password.get(), "")
        screens.tests_list.selection_clear(0, "end")
        screens.tests_list.selection_set(0)
        screens.tests_list.event_generate("<<ListboxSelect>>")
        screens.take_button.invoke()
        await self.until(lambda: screens.screen == "question")

        letters = ["A", *MATH_KEY[1:]]  # the first one wrong (B is right), the rest right
        for i, ((text, choices), letter) in enumerate(zip(MATH_AS_SHOWN, letters)):
            self.assertEqual(screens.heading.cget("text"), f"Question {i + 1} of 5")
            self.assertEqual((screens.progress.cget("value"), screens.progress.cget("maximum")),
                             (i + 1, 5))
            self.assertEqual(screens.question_text.cget("text"), "\n".join(text))
            self.assertEqual([b.cget("text") for b in screens.choice_buttons],
                             [f"A) {choices[0]}", f"B) {choices[1]}", f"C) {choices[2]}",
                              f"D) {choices[3]}"])
            self.assertIn("disabled", screens.next_button.state())
            index = "ABCD".index(letter)
            if i % 3 == 0:
                screens.choice_buttons[index].invoke()
            elif i % 3 == 1:
                self.press(str(index + 1))
            else:
                self.press(letter.lower())
            self.assertEqual(screens.choice.get(), letter)
            self.assertNotIn("disabled", screens.next_button.state())
            if i == 1:
                self.screenshot("question")
            if i % 2:
                self.press("Return")
            else:
                screens.next_button.invoke()
            await self.wait_idle()

        self.assertEqual(screens.screen, "grade")
        self.assertEqual(screens.grade_label.cget("text"), "Your grade is 80.0 (4/5 correct)")
        self.screenshot("grade")
        self.assertEqual(await stored_results(self.service.desk.store),
                         [("grace", "math", "graded", 4, 5, 5, 80.0)])

        screens.again_button.invoke()
        await self.until(lambda: screens.screen == "tests")
        window.quit()
        await self.until(lambda: window.closed)
        self.assertEqual(window.client, None)


class TroubleTests(GUITestCase):
    async def test_errors_appear_in_the_window(self) -> None:
        """
        If the connection is refused, the port is not a number, the password is wrong or the
        server stops mid-test, then the status line says so in a sentence ("The port must be
        a number from 1 to 65535.", "Invalid username and/or password.", "The server closed
        the connection: Server shutting down.") and the window shows the screen to go on from.
        """
        port = await self.serve()
        (await logged_in(port, "heidi")).transport.loseConnection()
        nothing = await free_port()
        window = self.open_window(nothing)
        screens = window.screens
        screens.connect_button.invoke()
        await self.wait_idle()
        self.assertEqual(
            (screens.screen, self.status()),
            ("connect", f"Could not connect to {LOOPBACK}:{nothing}: Connection refused."),
        )

        screens.port.set("http")
        screens.connect_button.invoke()
        self.assertEqual((window.busy, screens.screen, self.status()),
                         (False, "connect", "The port must be a number from 1 to 65535."))

        screens.port.set(str(port))
        screens.connect_button.invoke()
        await self.until(lambda: screens.screen == "account")
        self.assertEqual(self.status(), "")
        screens.username.set("heidi")
        screens.password.set("wrong")
        screens.login_button.invoke()
        await self.wait_idle()
        self.assertEqual((screens.screen, self.status()),
                         ("account", "Invalid username and/or password."))

        screens.password.set("correct horse")
        self.press("Return")
        await self.until(lambda: screens.screen == "tests")
        screens.take_button.invoke()
        await self.until(lambda: screens.screen == "question")
        # What stopping the service does to each connection, at once.
        stopping = self.service.factory.shutdown()
        window.pick("A")
        screens.next_button.invoke()
        await self.wait_idle()
        self.assertEqual((screens.screen, self.status(), window.client),
                         ("connect", "The server closed the connection: Server shutting down.",
                          None))
        self.screenshot("server-gone")
        await stopping

    async def test_window_lives_while_the_server_is_slow(self) -> None:
        """
        If the server accepts the connection but has not greeted yet, then Tk still runs
        (three timers fire), the status says "Connecting to 127.0.0.1:PORT…", Connect is
        disabled; once the greeting comes, the account screen shows "Welcome to the server!".
        """
        held: list[Protocol] = []

        class Held(Protocol):
            def connectionMade(self) -> None:
                held.append(self)

        listener = await TCP4ServerEndpoint(reactor, 0, interface=LOOPBACK).listen(
            Factory.forProtocol(Held)
        )
        self.addCleanup(listener.stopListening)
        port = listener.getHost().port
        window = self.open_window(port)
        screens = window.screens
        screens.connect_button.invoke()
        await self.until(lambda: held)
        ticks: list[bool] = []
        for tick in range(1, 4):
            window.root.after(1, lambda: ticks.append(window.busy))
            await self.until(lambda: len(ticks) == tick)
        self.assertEqual(ticks, [True, True, True])
        self.assertIn("disabled", screens.connect_button.state())
        self.assertEqual(self.status(), f"Connecting to {LOOPBACK}:{port}…")
        held[0].transport.write(b"220 Welcome to the server!\r\n")
        await self.until(lambda: screens.screen == "account")
        self.assertEqual((screens.welcome.cget("text"), self.status()),
                         ("Welcome to the server!", ""))
        held[0].transport.loseConnection()
