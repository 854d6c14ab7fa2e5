"""Waiting for the Prefect API to come back before a wait reports its result.

A wait that saw its replicas finish while the Prefect server was down (a restart, a
database failover) still has to tell Prefect: the run's final state, its result and its
artifacts go through the API. Prefect's own client retries a request for about a minute;
after that the engine gives up, and a run whose final state never reached the server
stays ``Running`` for ever. So before a wait hands its outcome to the engine, it checks
that the API answers, and if not, holds the outcome (polling ``/health`` with backoff)
for up to the wait's ``max_outage_seconds``: the same budget a Tavus outage gets.
"""

from __future__ import annotations

import asyncio
import time
from logging import Logger, LoggerAdapter

from prefect.client.orchestration import get_client as get_prefect_client
from prefect.context import FlowRunContext

from prefect_tavus.core.text import format_duration, printable

__all__ = ["await_prefect_api"]

#: Backoff between health checks while the API is down: first, growth, cap (seconds).
_FIRST, _GROWTH, _CAP = 1.0, 2.0, 15.0


async def await_prefect_api(budget_seconds: float, logger: Logger | LoggerAdapter) -> bool:
    """True once the Prefect API answers ``/health``; False after ``budget_seconds`` of
    failures (the caller reports anyway: nothing better can be done). Outside a flow run
    there is nothing to report to, and this returns True at once."""
    if FlowRunContext.get() is None:
        return True
    started = time.monotonic()
    delay = _FIRST
    warned = False
    while True:
        try:
            async with get_prefect_client() as prefect:
                error = await prefect.api_healthcheck()
        except Exception as exc:  # noqa: BLE001 - building the client can fail too
            error = exc
        if error is None:
            if warned:
                logger.info("Prefect API reachable again after %s; reporting the result.",
                            format_duration(time.monotonic() - started))
            return True
        waited = time.monotonic() - started
        if waited >= budget_seconds:
            logger.error("Prefect API still unreachable after %s; reporting the result anyway.",
                         format_duration(waited))
            return False
        if not warned:
            warned = True
            logger.warning(
                "The wait is over, but the Prefect API is unreachable (%s); holding the result "
                "until it is back (up to %s).",
                printable(f"{type(error).__name__}: {error}", 200), format_duration(budget_seconds),
            )
        await asyncio.sleep(min(delay, max(0.0, budget_seconds - waited)))
        delay = min(_CAP, delay * _GROWTH)
