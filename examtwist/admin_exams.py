"""
The admin's tests: C{examtwist exams list}, C{exams import} and C{exams export}, in the original
text format ("seed": a questions file and an answers file) or Moodle's Aiken and GIFT (one file).
Their rules are L{examtwist.admin_rules}' business.
"""

from __future__ import annotations

import os

from twisted.python import usage

from examtwist.admin_common import AdminError, CommandGroup, DatabaseOptions, grid
from examtwist.admin_rules import (
    RULE_SYNOPSIS,
    ExamsSetOptions,
    ExamsShowOptions,
    RuleOptions,
    existing_test,
)
from examtwist.formats import CannotWrite, FileFormatError, read_test, write_test
from examtwist.moodle import read_aiken, read_gift, write_aiken, write_gift
from examtwist.storage import Store, TestExists
from examtwist.testbank import NO_RULES, Test, check_test_name

# Each format's reader of one file; seed reads two.
_READERS = {"aiken": read_aiken, "gift": read_gift}
_WRITERS = {"aiken": write_aiken, "gift": write_gift}
FORMATS = ("seed", "aiken", "gift")


class _FormatOption:
    optParameters = [
        ["format", "f", "seed",
         "seed (the original text format: a questions and an answers file), aiken or gift"
         " (Moodle's; one file)."],
    ]

    def check_files(self, files: tuple[str, ...]) -> None:
        """Seed takes a questions and an answers file, the others one; a usage error if not."""
        if self["format"] not in FORMATS:
            raise usage.UsageError(f"--format: expected seed, aiken or gift, found"
                                   f" {self['format']!r}")
        wanted = 2 if self["format"] == "seed" else 1
        if len(files) != wanted:
            raise usage.UsageError(
                "--format seed takes two files, QUESTIONS and ANSWERS" if wanted == 2 else
                f"--format {self['format']} takes one file")


class ExamsListOptions(DatabaseOptions):
    synopsis = "[--db PATH]"
    example = "examtwist exams list --db examtwist.db"

    async def run(self, store: Store, out) -> None:
        exams = await store.list_tests()
        rows = [(str(e.number), e.name, str(e.question_count)) for e in exams]
        out.write(grid(("Number", "Test", "Questions"), rows))


class ExamsImportOptions(_FormatOption, RuleOptions, DatabaseOptions):
    synopsis = (f"[--db PATH] [--replace] [--format seed] NAME QUESTIONS ANSWERS"
                f" | --format aiken|gift NAME FILE  {RULE_SYNOPSIS}")
    example = "examtwist exams import Algebra questions.txt answers.txt --replace"
    longdesc = ("A new test has its rules off unless the options set them; with --replace, a"
                " rule not given keeps its setting.")
    optFlags = [["replace", None, "Give an existing test of that name these questions."]]
    creates_database = True

    def parseArgs(self, name, *files) -> None:
        self["name"], self["files"] = name, files

    def postOptions(self) -> None:
        self.check_files(self["files"])
        super().postOptions()

    def read(self) -> Test:
        name, files = self["name"], self["files"]
        try:
            if self["format"] == "seed":
                return read_test(name, *files)
            return _READERS[self["format"]](name, *files)
        except (FileFormatError, ValueError) as e:
            raise AdminError(f"{e}; nothing was imported") from e

    async def run(self, store: Store, out) -> None:
        test = self.read()
        stored = await store.find_test(test.name) if self["replace"] else None
        rules = self.rules_from(stored.rules if stored else NO_RULES)
        test = Test(test.name, test.questions, rules)
        try:
            await store.add_test(test, replace=self["replace"])
        except TestExists:
            raise AdminError(
                f"a test named {test.name!r} exists already; use --replace to change its"
                " questions; nothing was imported"
            ) from None
        out.write(f"Imported {test.name} with {len(test.questions)} questions\n")


class ExamsExportOptions(_FormatOption, DatabaseOptions):
    synopsis = ("[--db PATH] --format aiken|gift NAME [FILE]"
                " | [--format seed] NAME QUESTIONS ANSWERS")
    example = "examtwist exams export math --format gift > math.gift"
    longdesc = ("Aiken and GIFT go to FILE, or to standard output without one; seed writes its"
                " two files. A file that exists is not written over.")

    def parseArgs(self, name, *files) -> None:
        self["name"], self["files"] = name, files

    def postOptions(self) -> None:
        files = self["files"]
        self.check_files(files if self["format"] == "seed" or files else ("-",))
        super().postOptions()

    async def run(self, store: Store, out) -> None:
        try:
            check_test_name(self["name"])
        except ValueError as e:
            raise AdminError(str(e)) from None
        test = await existing_test(store, self["name"])
        try:
            if self["format"] == "seed":
                texts = write_test(test)
            else:
                texts = (_WRITERS[self["format"]](test),)
        except CannotWrite as e:
            raise AdminError(f"{e}; nothing was written") from None
        if not self["files"]:
            out.write(texts[0])
            return
        for path in self["files"]:
            if os.path.lexists(path):
                raise AdminError(f"{path} exists already; nothing was written")
        for path, text in zip(self["files"], texts):
            with open(path, "x", encoding="utf-8") as f:
                f.write(text)
        out.write(f"Exported {test.name} ({len(test.questions)} questions) to"
                  f" {' and '.join(self['files'])}\n")


class ExamsOptions(CommandGroup):
    synopsis = "list | import | export | set | show"
    missing = "say which: exams list, import, export, set or show"
    subCommands = [
        ["list", None, ExamsListOptions, "List the tests students can take."],
        ["import", None, ExamsImportOptions, "Add a test from a file (seed, aiken or gift)."],
        ["export", None, ExamsExportOptions, "Write a test to a file (seed, aiken or gift)."],
        ["set", None, ExamsSetOptions, "Set a test's rules: attempts, clock, order, window."],
        ["show", None, ExamsShowOptions, "A test's rules, and how its attempts went."],
    ]
