"""A flow run's own labels as its durable record, read and written through the Prefect
API within the wait's outage budget.

What a create must never forget (the id Tavus answered with, that a create was about to
be sent) is written on the flow run itself, so that every life of the run, on any
machine, reads it back. Writes go one at a time: Prefect merges labels by reading the
run's labels and writing them back, so two writes in flight for one run can lose one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from uuid import UUID

from prefect.context import TaskRunContext

from prefect_tavus.core import DEFAULT_RETRY_POLICY, TavusAPIUnavailableError, TavusTransientError
from prefect_tavus.flows._prefect_api import with_prefect_api

__all__ = ["RunRecord", "create_at_most_once"]

T = TypeVar("T")


class RunRecord:
    """The labels of flow run ``flow_run_id``, as a record that survives every life."""

    def __init__(self, flow_run_id: UUID, budget_seconds: float, logger: Any) -> None:
        self.flow_run_id = flow_run_id
        self.budget_seconds = budget_seconds
        self.logger = logger
        self._writing = asyncio.Lock()

    async def read(self) -> dict[str, Any]:
        async def call(prefect: Any) -> dict[str, Any]:
            return dict((await prefect.read_flow_run(self.flow_run_id)).labels or {})

        return await with_prefect_api(
            call,
            what="read the run's create record",
            budget_seconds=self.budget_seconds,
            logger=self.logger,
        )

    async def write(self, labels: dict[str, Any], what: str) -> None:
        async def call(prefect: Any) -> None:
            await prefect.update_flow_run_labels(self.flow_run_id, labels)

        async with self._writing:
            await with_prefect_api(
                call, what=what, budget_seconds=self.budget_seconds, logger=self.logger
            )

    @classmethod
    def of_this_task_run(cls, budget_seconds: float, logger: Any) -> RunRecord:
        """The record of the flow run the current task runs in."""
        context = TaskRunContext.get()
        assert context is not None and context.task_run.flow_run_id is not None, (
            "runs inside a flow run"
        )
        return cls(context.task_run.flow_run_id, budget_seconds, logger)


async def create_at_most_once(
    send: Callable[[], Awaitable[T]],
    find_lost: Callable[[TavusTransientError], Awaitable[T]],
    budget_seconds: float,
) -> T:
    """Send a create (not idempotent: each one bills) until Tavus answers, never twice
    where the first may have taken effect.

    A transient failure that certainly left Tavus untouched (connection refused, 429) is
    sent again with the one retry policy's delays, within ``budget_seconds``; one whose
    request may have been acted on (a timeout, a reset, a 5xx after sending) is never
    sent again: ``find_lost`` looks for what it made instead.

    Raises:
        TavusAPIUnavailableError: resendable failures outlasted ``budget_seconds``.
    """
    started, retries = time.monotonic(), 0
    while True:
        try:
            return await send()
        except TavusTransientError as error:
            if not DEFAULT_RETRY_POLICY.may_resend(error, idempotent=False):
                return await find_lost(error)
            retries += 1
            if time.monotonic() - started >= budget_seconds:
                raise TavusAPIUnavailableError(
                    outage_seconds=time.monotonic() - started,
                    budget_seconds=budget_seconds,
                    last_error=error,
                ) from error
            await asyncio.sleep(DEFAULT_RETRY_POLICY.delay(retries, error))
