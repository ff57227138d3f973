"""
C{examtwist copy}: a whole database into a new one, SQLite to PostgreSQL or back, for a school
that grows from one machine to several (L{examtwist.storage.copying}).
"""

from __future__ import annotations

from twisted.python import usage

from examtwist.admin_common import AdminError
from examtwist.commandline import CommandOptions
from examtwist.storage.copying import CopyRefused, copy, report
from examtwist.storage.engines import URL_FORM, BadDatabase, engine_for


class CopyOptions(CommandOptions):
    synopsis = "--from SOURCE --to TARGET"
    example = "examtwist copy --from examtwist.db --to postgresql://exams@db.example/exams"
    optParameters = [
        ["from", None, None, f"The database to copy: a SQLite file, or {URL_FORM}."],
        ["to", None, None, "The database to copy into: new, or as the server just created it."],
    ]

    def postOptions(self) -> None:
        for end in ("from", "to"):
            try:
                engine_for(self[end] or "")
            except BadDatabase as e:
                raise usage.UsageError(f"--{end}: {e}") from None
        if self["from"] == self["to"]:
            raise usage.UsageError("--from and --to are the same database")

    async def run_alone(self, reactor, out) -> None:
        """It opens its two databases itself, unlike the commands that take --db."""
        try:
            out.write(report(await copy(reactor, self["from"], self["to"])))
        except CopyRefused as e:
            raise AdminError(f"{e}; nothing was copied") from None
