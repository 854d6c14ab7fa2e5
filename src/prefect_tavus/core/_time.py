"""Times from elsewhere made comparable: said once, used by the client, models and receiver.

Tavus writes its times in UTC (``Z``), Prefect stores UTC, and ``Retry-After`` dates are
UTC by definition (RFC 9110), so a naive datetime that arrives from them is UTC:
:func:`assume_utc`. A time a *caller* passes is different: a naive one is ambiguous (UTC
or the machine's local time?), and :func:`require_utc` refuses it.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

__all__ = ["assume_utc", "require_utc"]


def assume_utc(moment: datetime) -> datetime:
    """``moment`` with UTC as its zone when it has none; an aware one is returned as is."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def require_utc(moment: datetime | float) -> datetime:
    """``moment`` (an aware datetime, or epoch seconds) as an aware UTC datetime.

    A naive datetime is refused: read as UTC or as local time, it is wrong on some machines,
    and where this is used a wrong time can hide what it looks for.

    Raises:
        TavusArgumentError: a naive datetime (a ``ValueError``), or neither a datetime nor
            finite epoch seconds (a ``TypeError``).
    """
    from prefect_tavus.core.errors import TavusArgumentError, TavusArgumentTypeError

    if isinstance(moment, datetime):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise TavusArgumentError(
                "a naive datetime is ambiguous: pass an aware one (e.g. datetime.now(timezone.utc)) "
                "or epoch seconds (time.time())"
            )
        return moment.astimezone(timezone.utc)
    if isinstance(moment, (int, float)) and not isinstance(moment, bool) and math.isfinite(moment):
        return datetime.fromtimestamp(moment, tz=timezone.utc)
    raise TavusArgumentTypeError(
        f"expected an aware datetime or epoch seconds, got {type(moment).__name__}"
    )
