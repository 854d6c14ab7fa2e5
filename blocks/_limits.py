"""Every Tavus request takes a slot from the Prefect global concurrency limit ``tavus-api``,
when one exists, so that many flow runs together stay under the account's rate.

Create it to turn this on (and delete or deactivate it to turn it off):

* ``prefect gcl create tavus-api --limit 5``: at most 5 requests in flight at once;
* ``prefect gcl create tavus-api --limit 10 --slot-decay-per-second 2``: a rate limit,
  about 2 requests a second with bursts of 10 (Prefect's ``rate_limit``).

Without it nothing changes and nothing is logged per request: the limit is looked up
once every 30 s, not acquired blindly (Prefect warns on every acquisition of a missing
limit).

Taking a slot is a Prefect API call. When it fails (the API refuses connections or
answers 5xx, which Prefect reports as ``ConcurrencySlotAcquisitionError`` or an httpx
error), the request is not sent and :class:`PrefectAPITransientError` is raised: a wait
counts it against its ``max_outage_seconds`` like a Tavus outage, instead of ending.
A lookup that fails keeps the limit last seen, so an API blip never lifts the limit.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from prefect.client.orchestration import get_client
from prefect.concurrency.asyncio import concurrency, rate_limit
from prefect.exceptions import ObjectNotFound

from prefect_tavus.core.errors import PrefectAPITransientError

__all__ = ["GLOBAL_LIMIT_NAME", "forget_limit_lookup", "tavus_api_slot"]

GLOBAL_LIMIT_NAME = "tavus-api"
_LOOKUP_TTL_SECONDS = 30.0

_lock = threading.Lock()
_cached: tuple[float, Any] | None = None  # (looked up at, limit or None)


def forget_limit_lookup() -> None:
    """Look the limit up again on the next request (after creating or deleting it)."""
    global _cached
    with _lock:
        _cached = None


async def _current_limit() -> Any:
    global _cached
    with _lock:
        cached = _cached
    if cached is not None and time.monotonic() - cached[0] < _LOOKUP_TTL_SECONDS:
        return cached[1]
    try:
        async with get_client() as client:
            limit = await client.read_global_concurrency_limit_by_name(GLOBAL_LIMIT_NAME)
    except ObjectNotFound:
        limit = None
    except Exception:
        limit = cached[1] if cached is not None else None
    with _lock:
        _cached = (time.monotonic(), limit)
    return limit


@contextlib.asynccontextmanager
async def tavus_api_slot() -> AsyncIterator[None]:
    """Hold a ``tavus-api`` slot around one request (no-op when the limit is absent or off).

    Raises:
        PrefectAPITransientError: the slot could not be taken because the Prefect API
            failed; the request was not sent.
    """
    limit = await _current_limit()
    if limit is None or not getattr(limit, "active", True):
        yield
        return
    if getattr(limit, "slot_decay_per_second", 0):
        try:
            await rate_limit(GLOBAL_LIMIT_NAME, occupy=1)
        except Exception as exc:
            raise _slot_error(exc) from exc
        yield
        return
    slot = concurrency(GLOBAL_LIMIT_NAME, occupy=1)
    try:
        await slot.__aenter__()
    except Exception as exc:
        raise _slot_error(exc) from exc
    try:
        yield
    finally:
        # Releasing can fail too (the API went down mid-request); the request's own
        # outcome matters more, and an unreleased slot expires with its lease.
        with contextlib.suppress(Exception):
            await slot.__aexit__(None, None, None)


def _slot_error(exc: BaseException) -> PrefectAPITransientError:
    return PrefectAPITransientError(
        f"Could not take a slot of the Prefect concurrency limit {GLOBAL_LIMIT_NAME!r} "
        f"({type(exc).__name__}); the Prefect API is unreachable or failing. The request to "
        "Tavus was not sent."
    )
