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
from collections.abc import Awaitable, Callable
from logging import Logger, LoggerAdapter
from typing import TypeVar

from prefect.client.orchestration import PrefectClient
from prefect.client.orchestration import get_client as get_prefect_client
from prefect.context import FlowRunContext
from prefect.exceptions import ObjectNotFound

from prefect_tavus.core.errors import PrefectAPITransientError, TavusAPIUnavailableError
from prefect_tavus.core.text import format_duration, printable

__all__ = ["await_prefect_api", "with_prefect_api"]

T = TypeVar("T")

#: Backoff between tries while the API is down: first, growth, cap (seconds).
_FIRST, _GROWTH, _CAP = 1.0, 2.0, 15.0


async def await_prefect_api(budget_seconds: float, logger: Logger | LoggerAdapter) -> bool:
    """True once the Prefect API answers ``/health``; False after ``budget_seconds`` of
    failures (the caller reports anyway: nothing better can be done). Outside a flow run
    there is nothing to report to, and this returns True at once."""
    if FlowRunContext.get() is None:
        return True

    async def healthy(prefect: PrefectClient) -> None:
        error = await prefect.api_healthcheck()
        if error is not None:
            raise error

    try:
        await with_prefect_api(
            healthy,
            what="answer before the wait reports its result",
            budget_seconds=budget_seconds,
            logger=logger,
        )
    except TavusAPIUnavailableError:
        logger.error(
            "Prefect API still unreachable after %s; reporting the result anyway.",
            format_duration(budget_seconds),
        )
        return False
    return True


async def with_prefect_api(
    call: Callable[[PrefectClient], Awaitable[T]],
    *,
    what: str,
    budget_seconds: float,
    logger: Logger | LoggerAdapter,
) -> T:
    """``call`` with a Prefect client, tried again with backoff while the API refuses
    connections or fails, for up to ``budget_seconds`` of continuous failure.

    For the writes a wait cannot go on without (the record of a replica it created).
    ``ObjectNotFound`` is not an outage and is raised at once.

    Raises:
        TavusAPIUnavailableError: the API failed for the whole budget; its
            ``last_error`` is a :class:`PrefectAPITransientError` naming ``what``.
    """
    started = time.monotonic()
    delay = _FIRST
    warned = False
    while True:
        try:
            async with get_prefect_client() as prefect:
                result = await call(prefect)
        except ObjectNotFound:
            raise
        except Exception as exc:
            waited = time.monotonic() - started
            if waited >= budget_seconds:
                raise TavusAPIUnavailableError(
                    outage_seconds=waited,
                    budget_seconds=budget_seconds,
                    last_error=PrefectAPITransientError(
                        f"Prefect API failed to {what}: {printable(f'{type(exc).__name__}: {exc}', 200)}"
                    ),
                ) from exc
            if not warned:
                warned = True
                logger.warning(
                    "The Prefect API failed to %s (%s); trying again for up to %s.",
                    what,
                    printable(f"{type(exc).__name__}: {exc}", 200),
                    format_duration(budget_seconds),
                )
            await asyncio.sleep(min(delay, max(0.0, budget_seconds - waited)))
            delay = min(_CAP, delay * _GROWTH)
            continue
        if warned:
            logger.info(
                "The Prefect API is back; it took %s to %s.",
                format_duration(time.monotonic() - started),
                what,
            )
        return result
