"""Words for people: counts with the right plural, durations, times, and run-name slugs.

Shared by the log lines, artifacts, events and run names, so that they all say "1 request"
and "2 requests", "8s" and "4.1 h", and the same date format.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from prefect_tavus.core._time import assume_utc

__all__ = ["format_duration", "format_time", "plural", "printable", "slug"]

_NOT_SLUG = re.compile(r"[\W_]+")


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """``plural(1, "request")`` -> ``"1 request"``; ``plural(2, "request")`` -> ``"2 requests"``."""
    return f"{count} {noun if count == 1 else (plural_form or noun + 's')}"


def format_duration(seconds: float) -> str:
    """``8s``, ``12 min``, ``4.1 h``: how long something took, to the precision people read."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def format_time(moment: datetime | float | None) -> str | None:
    """``26 Nov 2026, 11:55:20 UTC``: a timestamp (or epoch seconds) for people; None stays None.

    UTC, written out, because Prefect's UI shows times in each viewer's own zone and an
    artifact is read by people in several.
    """
    if moment is None:
        return None
    if isinstance(moment, (int, float)):
        moment = datetime.fromtimestamp(moment, tz=timezone.utc)
    return assume_utc(moment).astimezone(timezone.utc).strftime("%d %b %Y, %H:%M:%S UTC")


def slug(text: object, max_length: int = 40) -> str:
    """``"Sales presenter"`` -> ``"sales-presenter"``: lowercase words joined by dashes, for run names."""
    words = _NOT_SLUG.sub("-", str(text).lower()).strip("-")
    return words[:max_length].rstrip("-")


def printable(text: object, max_length: int = 200) -> str:
    """``text`` made safe for one log line: control characters (newlines, ANSI escapes,
    NUL) written as escapes, and cut to ``max_length`` characters with an ellipsis.

    Anything that came from outside (a callback's status, Tavus's error text, a label on
    a flow run) goes through this before it is logged, so it cannot forge log lines or
    drive a terminal.
    """
    value = str(text)
    cut = len(value) > max_length
    value = value[:max_length]
    escaped = "".join(
        ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
        for ch in value
    )
    return escaped + ("..." if cut else "")
