"""
examtwist as a user installs it: a wheel built with C{python -m build} from a copy of the
checkout, installed with pip into a fresh virtualenv, runs: twistd finds its plugin, the server
greets, the admin command knows its version. Building and installing print no deprecation
warning from our packaging, and neither does the editable install C{make} does.

The wheel's dependencies come from the package index (pip's cache makes that quick). Outside CI
a machine that cannot download them skips these tests; in CI they must run.
"""

from __future__ import annotations

import os
import re
import shutil
import sys

from twisted.internet import reactor
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import TestCase

from tests.support import FREE_PORTS, FAST_HASH, Twistd, connect, require, temp_dir
from tests.test_packaging import CHECKOUT, NOT_SOURCES, SOURCES

CONSTRAINTS = os.path.join(CHECKOUT, "constraints.txt")


# How setuptools' deprecation warnings read, however the tool that ran it shows them: pip and
# python -m build print the warning's text without its class. (This file's test names stay
# clear of these words: the trial folder they run in is named after them.)
WARNING = re.compile("deprecat|will be removed", re.IGNORECASE)


def deprecations(output: str) -> list[str]:
    """The lines of a program's output that warn of a deprecation, as setuptools words it."""
    return [line for line in output.splitlines() if WARNING.search(line)]


# The build backend's PEP 660 hook, called as pip calls it for `pip install -e .`: the output
# is setuptools' own, with nothing of pip's.
BUILD_EDITABLE = """
import sys
from pyproject_hooks import BuildBackendHookCaller
hooks = BuildBackendHookCaller(sys.argv[1], "setuptools.build_meta")
print(hooks.build_editable(sys.argv[2]))
"""


async def run(testcase, executable: str, *args: str, path: str) -> tuple[str, str]:
    """
    Run a program to the end, and check that it ended 0: its stdout, and its stdout and
    stderr together.
    """
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    out, err, code = await getProcessOutputAndValue(executable, args, env=env, path=path)
    said = (out + err).decode("utf-8", "replace")
    testcase.assertEqual(code, 0, f"{executable} {' '.join(args)} ended {code}:\n{said}")
    return out.decode("utf-8", "replace"), said


def copy_checkout(folder: str) -> str:
    """The sources a wheel is built from, copied into C{folder}/source; that path."""
    source = os.path.join(folder, "source")
    os.makedirs(source)
    for name in SOURCES:
        path = os.path.join(CHECKOUT, name)
        if os.path.isdir(path):
            shutil.copytree(path, os.path.join(source, name), ignore=NOT_SOURCES)
        else:
            shutil.copy(path, source)
    return source


class Installed:
    """A wheel built, and installed into a virtualenv of its own, with what each step said."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.bin = os.path.join(folder, "venv", "bin")
        self.build_stdout = self.build_output = ""
        self.install_output = ""


# Built once per test process, by whichever test comes first.
_installed: Installed | None = None


async def installed(testcase) -> Installed:
    global _installed
    if _installed is not None:
        return _installed
    folder = temp_dir(testcase)
    probe = os.path.join(folder, "probe")
    out, err, code = await getProcessOutputAndValue(
        sys.executable,
        ["-m", "pip", "download", "--quiet", "--no-deps", "--dest", probe, "setuptools>=64"],
        env=os.environ.copy(), path=folder,
    )
    require(testcase, code and f"pip cannot download setuptools (offline?): {err.decode()}")
    done = Installed(folder)
    source = copy_checkout(folder)
    dist = os.path.join(folder, "dist")
    done.build_stdout, done.build_output = await run(
        testcase, sys.executable, "-m", "build", "--outdir", dist, source, path=folder
    )
    (wheel,) = [name for name in os.listdir(dist) if name.endswith(".whl")]
    await run(testcase, sys.executable, "-m", "venv", os.path.join(folder, "venv"), path=folder)
    _, done.install_output = await run(
        testcase, os.path.join(done.bin, "python"), "-m", "pip", "install", "--verbose",
        "-c", CONSTRAINTS, os.path.join(dist, wheel), path=folder,
    )
    _installed = done
    return done


class InstalledTwistd(Twistd):
    """L{Twistd}, started from the fresh virtualenv's C{twistd} with none of this checkout."""

    @classmethod
    def spawn_from(cls, testcase, bin: str, *args: str) -> "InstalledTwistd":
        cwd = temp_dir(testcase)
        process = cls(("Exam service",))
        argv = [os.path.join(bin, "twistd"), "--nodaemon", "--pidfile=", "examtwist",
                *FREE_PORTS, *FAST_HASH, *args]
        env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
        reactor.spawnProcess(process, argv[0], argv, env=env, path=cwd)
        testcase.addCleanup(process.kill)
        return process


class WheelTests(TestCase):
    timeout = 240

    async def test_build_warns_of_nothing(self):
        """
        If the sdist and wheel are built with python -m build, then it ends with "Successfully
        built examtwist-1.0.0.tar.gz and examtwist-1.0.0-py3-none-any.whl" and no line of its
        output mentions a deprecation.
        """
        done = await installed(self)
        self.assertEqual(
            (done.build_stdout.splitlines()[-1], deprecations(done.build_output)),
            ("Successfully built examtwist-1.0.0.tar.gz and examtwist-1.0.0-py3-none-any.whl",
             []),
        )

    async def test_install_warns_of_nothing(self):
        """
        If the wheel is installed with pip install --verbose into a fresh virtualenv, then pip
        says "Successfully installed" with examtwist-1.0.0 and mentions no deprecation.
        """
        done = await installed(self)
        (last,) = [line for line in done.install_output.splitlines()
                   if line.startswith("Successfully installed ")]
        self.assertEqual(
            ("examtwist-1.0.0" in last.split(), deprecations(done.install_output)),
            (True, []),
        )

    async def test_twistd_lists_the_plugin(self):
        """
        If twistd --help is run from the fresh virtualenv, then its list of commands has
        examtwist with the plugin's description.
        """
        done = await installed(self)
        said, _ = await run(self, os.path.join(done.bin, "twistd"), "--help",
                            path=temp_dir(self))
        (line,) = [line.strip() for line in said.splitlines() if "examtwist" in line]
        self.assertEqual(
            line.split(None, 1),
            ["examtwist", "An exam server for a class: tests over a line protocol, and"],
        )

    async def test_server_greets(self):
        """
        If twistd -n examtwist is started from the fresh virtualenv on free ports, then a
        connection to its exam port on 127.0.0.1 is greeted with "220 Welcome to the server!"
        and it listens on its web and teacher ports too; SIGTERM stops it (by that signal, as
        twistd does).
        """
        done = await installed(self)
        db = os.path.join(temp_dir(self), "examtwist.db")
        server = InstalledTwistd.spawn_from(self, done.bin, "--db", db)
        ports = await server.started
        client = await connect(ports["Exam service"])
        client.transport.loseConnection()
        self.assertEqual(
            (client.greeting.code, client.greeting.lines, sorted(ports)),
            (220, ("Welcome to the server!",), ["Exam service", "Teacher area", "Web app"]),
        )
        self.assertEqual((await server.terminate(), server.signal), (None, 15))

    async def test_admin_version(self):
        """
        If examtwist --version is run from the fresh virtualenv, then it prints
        "examtwist 1.0.0".
        """
        done = await installed(self)
        said, _ = await run(self, os.path.join(done.bin, "examtwist"), "--version",
                            path=temp_dir(self))
        self.assertEqual(said, "examtwist 1.0.0\n")


class EditableInstallTests(TestCase):
    timeout = 120

    async def test_editable_build_warns_of_nothing(self):
        """
        If the editable wheel that make's pip install -e builds is built with this virtualenv's
        setuptools, then the build succeeds and no line of its output mentions a deprecation.
        """
        folder = temp_dir(self)
        source = copy_checkout(folder)
        out, said = await run(self, sys.executable, "-c", BUILD_EDITABLE, source,
                              os.path.join(folder, "dist"), path=source)
        self.assertEqual(
            (out.splitlines()[-1], deprecations(said)),
            ("examtwist-1.0.0-0.editable-py3-none-any.whl", []),
        )
