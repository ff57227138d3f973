"""
The ceiling of scenario 4: twisted.web's C{Site} with one leaf C{Resource} that answers every
GET and POST, whatever the path, with the same small page. No routing, no template, no store:
what HTTP parsing and writing cost in this stack on this machine. It prints where it listens.

    python -m bench.bare_web
"""

from __future__ import annotations

import sys

from twisted.internet import reactor
from twisted.web.resource import Resource
from twisted.web.server import Site

HOST = "127.0.0.1"
PAGE = (
    b"<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Sara</title></head>\n"
    b"<body><h1>Welcome, Sara</h1><p>ID 1800, age 23</p></body></html>\n"
)


class FixedPage(Resource):
    """Every request, at any path: 200 and L{PAGE}."""

    isLeaf = True

    def render_GET(self, request) -> bytes:
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return PAGE

    render_POST = render_GET


def main() -> None:
    site = Site(FixedPage())
    site.noisy = False
    port = reactor.listenTCP(0, site, backlog=1024, interface=HOST)
    print(f"bare twisted.web listening on {HOST}:{port.getHost().port}", flush=True)
    reactor.run()
    sys.exit(0)


if __name__ == "__main__":
    main()
