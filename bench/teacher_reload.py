"""
The teacher watching an exam: signs in to a server's teacher area and reloads one test's page
every second, as a browser on the live page would if it reloaded ten times as often, until the
server goes away. Run beside scenario 3 by the contender C{examtwist, teacher reloading}
(L{bench.servers.examtwist} with C{teacher_reload}): C{python -m bench.teacher_reload URL}.
"""

from __future__ import annotations

import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

TEACHER, PASSWORD = "bench", "correct horse battery staple"
PAGE = "/tests/math"


def main(base: str) -> None:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    form = opener.open(base + "/sign-in", timeout=10).read().decode()
    token = re.search(r'name="__csrf_protection__" value="([^"]*)"', form).group(1)
    fields = {"__csrf_protection__": token, "username": TEACHER, "password": PASSWORD,
              "next": PAGE}
    opener.open(base + "/sign-in", urllib.parse.urlencode(fields).encode(), timeout=10).read()
    loads = 0
    while True:
        started = time.monotonic()
        try:
            page = opener.open(base + PAGE, timeout=10).read()
        except (urllib.error.URLError, ConnectionError):
            break
        if b"Median grade" not in page:
            raise SystemExit(f"not the test's page: {page[:200]!r}")
        loads += 1
        time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
    print(f"teacher page loaded {loads} times", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])
