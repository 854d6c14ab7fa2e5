"""The record a wait leaves when it releases its worker, and how such waits are found and
resumed.

A wait run with ``release_worker=True`` that still has replicas training writes, on its
own flow run, which replicas it waits for and when it gives up (two flow-run labels),
then suspends: its process exits and its worker is free. Two things wake it up, and
both go through this module so they agree on what a waiting run looks like:

* the callback receiver (``prefect-tavus callbacks``): Tavus POSTs that a replica
  finished, and the receiver resumes the suspended runs whose record names it;
* the sweep (``resume_replica_waits``), on a schedule: it asks Tavus about every
  replica of every suspended wait in one batch, and resumes the runs with something to
  report or whose deadline passed, so a lost callback costs only detection lag.

A callback is news for a wait only if it arrived after the wait's last check of Tavus
(``checked_at``): one that arrived while the run was still running, between its poll and
its suspension, still wakes it, and a forged or replayed one wakes it once (the run
checks, finds nothing new, and records a later ``checked_at`` when it suspends again).

Labels rather than parameters, because ``create_replica_and_wait`` learns its replica's
id only after it starts, and a batch wait's pending set shrinks between suspensions.
Resuming is safe to repeat: the server accepts it only for a run that is suspended, so
two sweeps, or a sweep and a callback, resume a run once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateName,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.responses import SetStateStatus

__all__ = [
    "LABEL_CHECKED_AT",
    "LABEL_DEADLINE",
    "LABEL_REPLICAS",
    "SuspendedWait",
    "find_suspended_waits",
    "record_waiting",
    "resume_wait",
    "waiting_on",
]

#: Comma-separated ids of the replicas still training when the run suspended.
LABEL_REPLICAS = "tavus.wait.replicas"
#: When the wait gives up, in epoch seconds (the deadline counts from the run's first start).
LABEL_DEADLINE = "tavus.wait.deadline"
#: When the recorded statuses were read from Tavus, in epoch seconds.
LABEL_CHECKED_AT = "tavus.wait.checked_at"
#: Prefect's name for the paused state of a run that released its process.
SUSPENDED = "Suspended"

_PAGE = 200


@dataclass(frozen=True)
class SuspendedWait:
    """A suspended flow run that is waiting for Tavus replicas."""

    flow_run_id: UUID
    flow_run_name: str
    replica_ids: frozenset[str]
    deadline: float | None
    checked_at: float | None

    def deadline_passed(self, now: float) -> bool:
        return self.deadline is not None and now >= self.deadline

    def is_news(self, replica_id: str, received_at: float) -> bool:
        """Whether a callback for ``replica_id`` received at ``received_at`` tells this wait
        something its last check could not have seen."""
        return replica_id in self.replica_ids and (self.checked_at is None or received_at > self.checked_at)

    @classmethod
    def from_flow_run(cls, flow_run: Any) -> SuspendedWait | None:
        """The wait recorded on ``flow_run``, or None if it carries no (readable) record."""
        labels = getattr(flow_run, "labels", None) or {}
        raw_ids = labels.get(LABEL_REPLICAS)
        if not isinstance(raw_ids, str) or not raw_ids.strip():
            return None
        ids = frozenset(part.strip() for part in raw_ids.split(",") if part.strip())
        return cls(flow_run.id, flow_run.name, ids, _epoch(labels.get(LABEL_DEADLINE)),
                   _epoch(labels.get(LABEL_CHECKED_AT)))


def _epoch(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


async def record_waiting(
    client: PrefectClient, flow_run_id: UUID, replica_ids: Sequence[str], deadline: float, checked_at: float
) -> None:
    """Write on the run, before it suspends, which replicas it waits for, its deadline, and
    when it last read their statuses from Tavus."""
    await client.update_flow_run_labels(
        flow_run_id,
        {LABEL_REPLICAS: ",".join(replica_ids), LABEL_DEADLINE: float(deadline), LABEL_CHECKED_AT: float(checked_at)},
    )


async def find_suspended_waits(client: PrefectClient) -> list[SuspendedWait]:
    """Every suspended flow run that recorded a wait, page by page."""
    flow_filter = FlowRunFilter(
        state=FlowRunFilterState(
            type=FlowRunFilterStateType(any_=[StateType.PAUSED]),
            name=FlowRunFilterStateName(any_=[SUSPENDED]),
        )
    )
    waits: list[SuspendedWait] = []
    offset = 0
    while True:
        page = await client.read_flow_runs(flow_run_filter=flow_filter, limit=_PAGE, offset=offset)
        waits.extend(wait for run in page if (wait := SuspendedWait.from_flow_run(run)) is not None)
        if len(page) < _PAGE:
            return waits
        offset += _PAGE


def waiting_on(waits: Iterable[SuspendedWait], replica_id: str) -> list[SuspendedWait]:
    """The waits whose record names ``replica_id``."""
    return [wait for wait in waits if replica_id in wait.replica_ids]


async def resume_wait(client: PrefectClient, flow_run_id: UUID) -> bool:
    """Resume a suspended wait: a worker runs it again from the top. False when it was
    not suspended any more (resumed by someone else, cancelled, or finished)."""
    result = await client.resume_flow_run(flow_run_id)
    return result.status == SetStateStatus.ACCEPT
