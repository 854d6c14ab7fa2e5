"""A flow run's own labels as its durable record, read and written through the Prefect
API within the wait's outage budget.

What a create must never forget (the id Tavus answered with, that a create was about to
be sent) is written on the flow run itself, so that every life of the run, on any
machine, reads it back. Writes go one at a time: Prefect merges labels by reading the
run's labels and writing them back, so two writes in flight for one run can lose one.
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from prefect_tavus.flows._prefect_api import with_prefect_api

__all__ = ["RunRecord"]


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

        return await with_prefect_api(call, what="read the run's create record",
                                      budget_seconds=self.budget_seconds, logger=self.logger)

    async def write(self, labels: dict[str, Any], what: str) -> None:
        async def call(prefect: Any) -> None:
            await prefect.update_flow_run_labels(self.flow_run_id, labels)

        async with self._writing:
            await with_prefect_api(call, what=what, budget_seconds=self.budget_seconds, logger=self.logger)
