"""
The tkinter window on a virtual X screen (Xvfb), driven by invoking its widgets and sending it
keys, against a real server in this process.

Tk runs in this (the reactor's) thread; the window's network calls run in its own worker
thread. L{GUITestCase.until} processes Tk events and then lets the reactor run for a moment, so
the window and the server both make progress while a test waits.
"""

from __future__ import annotations

import gc
import os
import shutil
import subprocess

from twisted.internet import reactor
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from examtwist.attempts import grade_tenths
from examtwist.wire import format_grade
from tests.client_support import free_port
from tests.support import LOOPBACK, connect, logged_in, start_server, temp_dir

XVFB = shutil.which("Xvfb")


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
    if XVFB is None:
        skip = "Xvfb is not installed (Debian package xvfb, which .ci/run installs): no screen"

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

    async def until(self, condition) -> None:
        while not condition():
            self.window.root.update()
            await deferLater(reactor, 0.01, lambda: None)

    async def wait_idle(self) -> None:
        await self.until(lambda: not self.window.busy)

    def status(self) -> str:
        return str(self.window.status.cget("text"))

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
        Connect (the lucky greeting's addresses in a dialog), register, choose a test, answer
        every question by mouse and by key, see the grade, take another, quit.
        """
        port = await self.serve("--lucky", "2")
        earlier = await connect(port)
        self.addCleanup(earlier.transport.loseConnection)
        window = self.open_window(port)
        window.connect_button.invoke()
        await self.until(lambda: window.screen == "account")

        self.assertIsNotNone(window.lucky_dialog)
        addresses = [p.address for p in sorted(self.service.factory.connections, key=lambda p: p.number)]
        self.assertEqual(list(window.lucky_addresses.get(0, "end")), addresses)
        self.screenshot("lucky", window.lucky_dialog)
        window.lucky_ok.invoke()
        self.assertIsNone(window.lucky_dialog)

        window.username.set("grace")
        window.password.set("correct horse")
        window.register_button.invoke()
        await self.until(lambda: window.screen == "tests")
        stored = await self.service.desk.store.list_tests()
        self.assertEqual(
            list(window.tests_list.get(0, "end")),
            [f"{e.number}. {e.name} ({e.question_count} questions)" for e in stored],
        )
        window.tests_list.selection_clear(0, "end")
        window.tests_list.selection_set([e.name for e in stored].index("math"))
        window.tests_list.event_generate("<<ListboxSelect>>")
        window.take_button.invoke()
        await self.until(lambda: window.screen == "question")

        exam = await self.service.desk.store.find_test("math")
        total = len(exam.questions)
        for i, question in enumerate(exam.questions):
            self.assertEqual(window.heading.cget("text"), f"Question {i + 1} of {total}")
            self.assertEqual((window.progress.cget("value"), window.progress.cget("maximum")),
                             (i + 1, total))
            self.assertEqual(window.question_text.cget("text"), "\n".join(question.text))
            self.assertEqual([b.cget("text") for b in window.choice_buttons],
                             [f"{l}) {c}" for l, c in zip("ABCD", question.choices)])
            self.assertIn("disabled", window.next_button.state())
            letter = question.answer if i else "ABCD"[("ABCD".index(question.answer) + 1) % 4]
            index = "ABCD".index(letter)
            if i % 3 == 0:
                window.choice_buttons[index].invoke()
            elif i % 3 == 1:
                self.press(str(index + 1))
            else:
                self.press(letter.lower())
            self.assertEqual(window.choice.get(), letter)
            self.assertNotIn("disabled", window.next_button.state())
            if i == 1:
                self.screenshot("question")
            if i % 2:
                self.press("Return")
            else:
                window.next_button.invoke()
            await self.wait_idle()

        self.assertEqual(window.screen, "grade")
        self.assertEqual(window.grade_label.cget("text"),
                         f"Your grade is {format_grade(grade_tenths(total - 1, total))}"
                         f" ({total - 1}/{total} correct)")
        self.screenshot("grade")
        results = await self.service.desk.store.list_results()
        self.assertEqual([(r.username, r.test, r.correct) for r in results], [("grace", "math", total - 1)])

        window.again_button.invoke()
        await self.until(lambda: window.screen == "tests")
        window.quit()
        await self.until(lambda: window.closed)
        self.assertEqual(window.client, None)


class TroubleTests(GUITestCase):
    async def test_errors_appear_in_the_window(self) -> None:
        """
        A refused connection, a bad port, a wrong password, the server stopping mid-test: each
        is told in the status line, and the window goes where it can carry on.
        """
        port = await self.serve()
        (await logged_in(port, "heidi")).transport.loseConnection()
        window = self.open_window(await free_port())
        window.connect_button.invoke()
        await self.wait_idle()
        self.assertEqual(window.screen, "connect")
        self.assertIn("refused", self.status())

        window.port.set("http")
        window.connect_button.invoke()
        self.assertFalse(window.busy)
        self.assertEqual(self.status(), "The port must be a number from 1 to 65535.")

        window.port.set(str(port))
        window.connect_button.invoke()
        await self.until(lambda: window.screen == "account")
        window.username.set("heidi")
        window.password.set("wrong")
        window.login_button.invoke()
        await self.wait_idle()
        self.assertEqual((window.screen, self.status()), ("account", "Invalid username and/or password."))

        window.password.set("correct horse")
        self.press("Return")
        await self.until(lambda: window.screen == "tests")
        window.take_button.invoke()
        await self.until(lambda: window.screen == "question")
        # What stopping the service does to each connection, at once.
        stopping = self.service.factory.shutdown()
        window.pick("A")
        window.next_button.invoke()
        await self.wait_idle()
        self.assertEqual(window.screen, "connect")
        self.assertEqual(self.status(), "The server closed the connection: Server shutting down.")
        self.screenshot("server-gone")
        await stopping

    async def test_window_lives_while_the_server_is_slow(self) -> None:
        """
        While the server keeps the window waiting, Tk still runs (timers fire, the status says
        what it waits for, Connect cannot be pressed twice); the greeting then moves it on.
        """
        held: list[Protocol] = []

        class Held(Protocol):
            def connectionMade(self) -> None:
                held.append(self)

        listener = await TCP4ServerEndpoint(reactor, 0, interface=LOOPBACK).listen(
            Factory.forProtocol(Held)
        )
        self.addCleanup(listener.stopListening)
        window = self.open_window(listener.getHost().port)
        window.connect_button.invoke()
        await self.until(lambda: held)
        ticks: list[bool] = []
        for tick in range(1, 4):
            window.root.after(1, lambda: ticks.append(window.busy))
            await self.until(lambda: len(ticks) == tick)
        self.assertEqual(ticks, [True, True, True])
        self.assertIn("disabled", window.connect_button.state())
        self.assertTrue(self.status().startswith("Connecting to "))
        held[0].transport.write(b"220 Welcome to the server!\r\n")
        await self.until(lambda: window.screen == "account")
        self.assertEqual(window.welcome.cget("text"), "Welcome to the server!")
        held[0].transport.loseConnection()
