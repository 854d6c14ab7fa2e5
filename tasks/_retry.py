"""Prefect task retries driven by the one :class:`~prefect_tavus.core.RetryPolicy`.

Prefect's retries give the UI its ``AwaitingRetry`` states and the usual
``with_options(retries=...)`` knob, but Prefect picks the delay before it sees the error,
so on its own it cannot honour a server's ``Retry-After``. The two halves here close that
gap without a second retry loop:

* the ``retry_condition_fn`` that :func:`retry_task_options` builds for a policy retries
  the faults that policy calls retryable, and notes the earliest moment the server
  allowed the next request (its ``Retry-After``, capped by that same policy);
* :func:`honour_retry_after`, awaited at the top of every attempt, sleeps whatever of
  that ``Retry-After`` Prefect's backoff has not already waited.

So each retry waits ``max(backoff with jitter, Retry-After)``: never less than either.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

from prefect.context import TaskRunContext

from prefect_tavus.core import DEFAULT_RETRY_POLICY, RetryPolicy

__all__ = ["honour_retry_after", "retry_task_options"]

_not_before: dict[UUID, float] = {}
_lock = threading.Lock()


def _retry_condition(policy: RetryPolicy) -> Callable[[Any, Any, Any], bool]:
    """A ``retry_condition_fn`` that decides, and honours ``Retry-After``, by ``policy``."""

    def retry_if_retryable(task: Any, task_run: Any, state: Any) -> bool:
        error = state.data if isinstance(getattr(state, "data", None), BaseException) else None
        if error is None:
            try:
                state.result()
            except BaseException as exc:
                error = exc
        if error is None or not policy.is_retryable(error):
            return False
        wait = policy.retry_after_of(error)
        if wait > 0 and task_run is not None:
            with _lock:
                _not_before[task_run.id] = time.monotonic() + wait
        return True

    return retry_if_retryable


async def honour_retry_after() -> None:
    """Sleep out the rest of a ``Retry-After`` the previous attempt was given, if any."""
    context = TaskRunContext.get()
    if context is None or context.task_run is None:
        return
    with _lock:
        not_before = _not_before.pop(context.task_run.id, None)
    if not_before is not None:
        remaining = not_before - time.monotonic()
        if remaining > 0:
            await asyncio.sleep(remaining)


def retry_task_options(policy: RetryPolicy = DEFAULT_RETRY_POLICY) -> dict[str, Any]:
    """``@task`` keyword arguments for an idempotent Tavus call under ``policy``."""
    return {
        "retries": policy.attempts - 1,
        "retry_delay_seconds": policy.nominal_delays(),
        "retry_jitter_factor": policy.jitter,
        "retry_condition_fn": _retry_condition(policy),
    }
