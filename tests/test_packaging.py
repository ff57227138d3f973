"""
The web pages' templates ship as package data: a plain (non-editable) install renders the
pages from its own copy, not from this checkout.
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


class InstalledTemplatesTests(TestCase):
    timeout = 120

    async def test_plain_install_renders_pages(self):
        """pip install . (into a folder of its own) carries the templates and finds them."""
        work = temp_dir(self)
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
        self.assertEqual(code, 0, err.decode())

        shutil.rmtree(source)  # nothing left to fall back on but the install
        env = {**os.environ, "PYTHONPATH": target}
        out, err, code = await getProcessOutputAndValue(
            sys.executable, ["-c", RENDER_LOGIN], env=env, path=work
        )
        self.assertEqual(code, 0, err.decode())
        found_in, html = out.decode().split("\n", 1)
        self.assertEqual(found_in, os.path.join(target, "examtwist", "templates"))
        self.assertIn("<h1>Enter your university ID number</h1>", html)
