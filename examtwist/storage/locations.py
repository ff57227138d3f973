"""
Where a database is, as examtwist shows it in logs and messages: a PostgreSQL URL without its
password, and a driver's complaint about a URL with the password masked.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from examtwist.wire import host_port


def describe(params: dict[str, str]) -> str:
    """The URL without its password, to show in logs and messages."""
    user = params.get("user")
    host = params.get("host", "")
    port = params.get("port")
    if port:
        where = host_port(host, port)
    else:
        where = f"[{host}]" if ":" in host and "," not in host else host
    who = quote(user, safe="") + "@" if user else ""
    return f"postgresql://{who}{where}/{params.get('dbname', '')}"


def describe_roughly(url: str) -> str:
    """A URL psycopg could not read: its scheme and host only."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}"


def without_password(text: str, url: str) -> str:
    """psycopg's complaint about a URL may quote it whole: mask the password in it."""
    authority = url.partition("://")[2].split("/", 1)[0]
    credentials = authority.rpartition("@")[0]
    password = credentials.partition(":")[2]
    if password:
        text = text.replace(password, "***")
    return re.sub(r"password=[^&\s\"]*", "password=***", text)
