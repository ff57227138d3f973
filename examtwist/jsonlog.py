"""
JSON logs: an observer factory for twistd's own C{--logger} option, so that
C{twistd --logger=examtwist.jsonlog.observer -n examtwist} writes every log event to standard
output as one JSON object per line (JSON Lines, which C{jq} and log shippers read), with its
time, level, namespace, formatted text and the event's own fields. The text log stays the
default; this is only used when asked for.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from typing import IO, Any

from twisted.logger import FileLogObserver, LogEvent, formatEvent

__all__ = ["observer", "event_record", "event_line", "json_lines_observer"]


def _utc(timestamp: float) -> str:
    """C{timestamp} (seconds since the epoch) in ISO 8601, UTC, to the microsecond."""
    moment = datetime.fromtimestamp(timestamp, timezone.utc)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _serializable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        return False
    return True


def event_record(event: LogEvent) -> dict[str, Any]:
    """
    The JSON object for one event: C{time}, C{level}, C{namespace}, C{text} (the message as
    L{formatEvent} formats it), C{traceback} when the event carries a failure, then the
    event's own fields (those not starting with C{log_}). A field whose value JSON cannot
    hold is left out; its value is still in C{text}.
    """
    level = event.get("log_level")
    record: dict[str, Any] = {
        "time": _utc(event["log_time"]) if "log_time" in event else None,
        "level": level.name if level is not None else None,
        "namespace": event.get("log_namespace"),
        "text": formatEvent(event),
    }
    failure = event.get("log_failure")
    if failure is not None:
        try:
            record["traceback"] = failure.getTraceback()
        except Exception:
            record["traceback"] = None
    for key, value in event.items():
        if not isinstance(key, str) or key.startswith("log_") or key in record:
            continue
        if _serializable(value):
            record[key] = value
    return record


def event_line(event: LogEvent) -> str:
    """One event as one line of JSON, newline included."""
    return json.dumps(event_record(event), ensure_ascii=False) + "\n"


def json_lines_observer(out: IO[str]) -> FileLogObserver:
    """An observer writing every event to C{out} as a line of JSON."""
    return FileLogObserver(out, event_line)


def observer() -> FileLogObserver:
    """
    The factory to give twistd: C{--logger=examtwist.jsonlog.observer}. It writes to the
    standard output twistd has when logging begins.
    """
    return json_lines_observer(sys.stdout)
