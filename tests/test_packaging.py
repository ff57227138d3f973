"""
The web pages' templates and the schema's .sql files ship as package data: a plain
(non-editable) install renders the pages and creates a database from its own copy, not from
this checkout.
"""

from __future__ import annotations

import os
import shutil
import sys

from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import TestCase

from tests.support import temp_dir

CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = ["setup.py", "pyproject.toml", "examtwist", "templates", "twisted"]
NOT_SOURCES = shutil.ignore_patterns("__pycache__", "dropin.cache")

RENDER_LOGIN = """
from twisted.web.template import flattenString
from examtwist.web import Page, Templates, templates_path
print(templates_path().path)
flattenString(None, Page(Templates(), "login", title="t")).addCallback(
    lambda html: print(html.decode()))
"""

CREATE_DATABASE = """
import sys
from twisted.internet import task
from twisted.internet.defer import ensureDeferred
from examtwist.storage import Store, migrations
print(migrations.__file__)
async def create(reactor):
    store = Store(reactor, sys.argv[1])
    await store.start()
    print(await store.schema_version(), [tuple(t) for t in await store.list_tests()])
    await store.close()
task.react(lambda reactor: ensureDeferred(create(reactor)))
"""


async def install_copy(testcase) -> tuple[str, str]:
    """
    pip install . into a folder of its own, from a copy of the checkout that is gone
    afterwards: (that folder, a folder to work in).
    """
    work = temp_dir(testcase)
    source, target = os.path.join(work, "source"), os.path.join(work, "site")
    os.makedirs(source)
    for name in SOURCES:
        path = os.path.join(CHECKOUT, name)
        if os.path.isdir(path):
            shutil.copytree(path, os.path.join(source, name), ignore=NOT_SOURCES)
        else:
            shutil.copy(path, source)
    out, err, code = await getProcessOutputAndValue(
        sys.executable,
        ["-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", target, source],
        env=os.environ.copy(), path=work,
    )
    testcase.assertEqual(code, 0, err.decode())
    shutil.rmtree(source)  # nothing left to fall back on but the install
    return target, work


class InstalledDataTests(TestCase):
    timeout = 120

    async def test_plain_install_renders_pages(self):
        """
        If examtwist is installed with pip install . , then it renders the login page from
        the templates in its own folder.
        """
        target, work = await install_copy(self)
        env = {**os.environ, "PYTHONPATH": target}
        out, err, code = await getProcessOutputAndValue(
            sys.executable, ["-c", RENDER_LOGIN], env=env, path=work
        )
        self.assertEqual(code, 0, err.decode())
        found_in, html = out.decode().split("\n", 1)
        self.assertEqual(found_in, os.path.join(target, "examtwist", "templates"))
        self.assertIn("<h1>Enter your university ID number</h1>", html)

    async def test_plain_install_creates_a_database(self):
        """
        If examtwist is installed with pip install . , then it creates a database at schema 9
        with the built-in tests 1 math and 2 python (5 questions each) from the schema files
        in its own folder.
        """
        target, work = await install_copy(self)
        env = {**os.environ, "PYTHONPATH": target}
        db = os.path.join(work, "examtwist.db")
        out, err, code = await getProcessOutputAndValue(
            sys.executable, ["-c", CREATE_DATABASE, db], env=env, path=work
        )
        self.assertEqual(code, 0, err.decode())
        self.assertEqual(
            out.decode().splitlines(),
            [os.path.join(target, "examtwist", "storage", "migrations.py"),
             "9 [(1, 'math', 5), (2, 'python', 5)]"],
        )
