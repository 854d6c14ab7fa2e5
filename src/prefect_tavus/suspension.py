"""Suspended waits on the Prefect server: finding them and resuming them, for the sweep
flow and the callback receiver alike (neither imports the other; the record's labels
and codec are :mod:`prefect_tavus.core.contract`).

A wait run with ``release_worker=True`` that still has replicas training (or videos
generating) writes, on its own flow run, which ones it waits for and when it gives up
(flow-run labels), then suspends: its process exits and its worker is free. Two things wake it up, and
both go through this module so they agree on what a waiting run looks like:

* the callback receiver (``prefect-tavus callbacks``): Tavus POSTs that a replica
  finished, and the receiver resumes the suspended runs whose record names it;
* the sweep (``resume_waits``), on a schedule: it asks Tavus about everything every
  suspended wait waits for, in one batch per kind, and resumes the runs with something to
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

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
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
from prefect.concurrency.asyncio import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from prefect_tavus.core.contract import (
    LABEL_CHECKED_AT,
    LABEL_CREATE_ATTEMPTED,
    LABEL_CREATED,
    LABEL_DEADLINE,
    LABEL_REPLICAS,
    LABEL_VIDEOS,
    SUSPENDED,
    Kind,
    UnreadableRecord,
    WaitRecord,
    epoch_seconds,
)

__all__ = [
    "LABEL_CHECKED_AT",
    "LABEL_CREATED",
    "LABEL_CREATE_ATTEMPTED",
    "LABEL_DEADLINE",
    "LABEL_REPLICAS",
    "LABEL_VIDEOS",
    "RESUME_LOCK",
    "SUSPENDED",
    "ResumeLock",
    "SuspendedWait",
    "UnreadableRecord",
    "epoch_seconds",
    "find_suspended_waits",
    "record_waiting",
    "resume_if_still_waiting",
    "resume_lock",
    "resume_wait",
]

_PAGE = 200

#: A Prefect global concurrency limit of 1: the lock every receiver and sweep holds while
#: it re-reads a suspended wait and resumes it (created on first use).
RESUME_LOCK = "tavus-wait-resume"
#: Seconds the lock is held at most if its holder dies (Prefect expires the lease).
_LOCK_LEASE_SECONDS = 60.0  # the least Prefect accepts
#: The Prefect APIs on which the lock is known to exist (a process may talk to several).
_lock_exists_on: set[str] = set()

logger = logging.getLogger("prefect_tavus.suspension")


@dataclass(frozen=True)
class SuspendedWait:
    """A suspended flow run that is waiting for Tavus resources of one ``kind``
    (``"replica"``, ``"video"``: a name in :mod:`prefect_tavus.core.kinds`)."""

    flow_run_id: UUID
    flow_run_name: str
    ids: frozenset[str]
    deadline: float | None
    checked_at: float | None
    kind: Kind

    def ids_of(self, kind: str) -> frozenset[str]:
        """The ids it waits for if it waits for ``kind``, else none."""
        return self.ids if self.kind == kind else frozenset()

    def deadline_passed(self, now: float) -> bool:
        return self.deadline is not None and now >= self.deadline

    def is_news(self, resource_id: str, received_at: float, kind: Kind | None = None) -> bool:
        """Whether a callback for ``resource_id`` (of ``kind``, when given) received at
        ``received_at`` tells this wait something its last check could not have seen."""
        return (
            (kind is None or kind == self.kind)
            and resource_id in self.ids
            and (self.checked_at is None or received_at > self.checked_at)
        )

    @classmethod
    def from_flow_run(cls, flow_run: Any) -> SuspendedWait | None:
        """The wait recorded on ``flow_run``, or None if it carries no record.

        Raises:
            UnreadableRecord: a record is there but does not parse (see
                :meth:`~prefect_tavus.core.contract.WaitRecord.from_labels`).
        """
        name = f"{getattr(flow_run, 'name', '?')} ({getattr(flow_run, 'id', '?')})"
        record = WaitRecord.from_labels(getattr(flow_run, "labels", None), run=name)
        if record is None:
            return None
        return cls(
            flow_run.id, flow_run.name, record.ids, record.deadline, record.checked_at, record.kind
        )


async def record_waiting(
    client: PrefectClient,
    flow_run_id: UUID,
    ids: Sequence[str],
    deadline: float,
    checked_at: float,
    *,
    kind: Kind,
) -> None:
    """Write on the run, before it suspends, which ids of ``kind`` it waits for, its
    deadline, and when it last read their statuses from Tavus."""
    await client.update_flow_run_labels(
        flow_run_id, WaitRecord.labels(kind, ids, deadline, checked_at)
    )


def _warn_unreadable(flow_run: Any, error: UnreadableRecord) -> None:
    logger.warning(
        "Skipping a suspended wait whose record does not parse: %s. Fix its labels or cancel it.",
        error,
    )


async def find_suspended_waits(
    client: PrefectClient,
    *,
    on_unreadable: Callable[[Any, UnreadableRecord], None] = _warn_unreadable,
) -> list[SuspendedWait]:
    """Every suspended flow run that recorded a wait, page by page.

    A run whose record does not parse is passed to ``on_unreadable`` (by default a
    WARNING naming it) and left out: one bad record never stops the others' resumes.
    """
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
        for run in page:
            try:
                wait = SuspendedWait.from_flow_run(run)
            except UnreadableRecord as error:
                on_unreadable(run, error)
                continue
            if wait is not None:
                waits.append(wait)
        if len(page) < _PAGE:
            return waits
        offset += _PAGE


async def resume_wait(client: PrefectClient, flow_run_id: UUID) -> bool:
    """Resume a suspended wait: a worker runs it again from the top. False when it was
    not suspended any more (resumed by someone else, cancelled, or finished)."""
    result = await client.resume_flow_run(flow_run_id)
    return result.status == SetStateStatus.ACCEPT


async def _ensure_resume_lock(client: PrefectClient) -> None:
    """Create the ``RESUME_LOCK`` limit (1 slot) if it is not there (checked once per API)."""
    api = str(getattr(client, "api_url", ""))
    if api in _lock_exists_on:
        return
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

    try:
        await client.read_global_concurrency_limit_by_name(RESUME_LOCK)
    except ObjectNotFound:
        try:
            await client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=RESUME_LOCK, limit=1)
            )
        except ObjectAlreadyExists:
            pass  # another receiver or sweep made it a moment ago
    _lock_exists_on.add(api)


#: Takes the resume lock for the holder of ``client`` (an async context manager factory).
ResumeLock = Callable[[Any], AbstractAsyncContextManager[None]]


@contextlib.asynccontextmanager
async def resume_lock(client: PrefectClient) -> AsyncIterator[None]:
    """Hold the one slot of ``RESUME_LOCK`` (through the configured Prefect API, which is
    the one ``client`` talks to in a receiver or a sweep run)."""
    await _ensure_resume_lock(client)
    async with concurrency(RESUME_LOCK, occupy=1, lease_duration=_LOCK_LEASE_SECONDS, strict=True):
        yield


async def resume_if_still_waiting(
    client: PrefectClient, wait: SuspendedWait, *, lock: ResumeLock = resume_lock
) -> bool:
    """Resume ``wait`` only if its run is still suspended on the check it was read with.

    Under a lock, read, compare, resume. Prefect's resume is not enough on its own: on
    PostgreSQL two resumes of one suspended run that arrive together can both be accepted
    (each transaction reads ``Suspended`` before the other commits; measured: 151 of 250
    runs resumed twice by two receivers in ``make bench-burst``). So every receiver and
    sweep resumes while holding one slot of the global concurrency limit ``RESUME_LOCK``
    (Prefect takes slots with one conditional UPDATE, atomic on SQLite and PostgreSQL), and
    re-reads the run inside it: a run that another holder resumed is no longer suspended,
    and one that re-suspended after a later check carries a different record. Either way
    nothing is resumed. Costs two more API calls per resume. False when not resumed.

    ``lock`` is for tests of callers against a stand-in for Prefect.
    """
    async with lock(client):
        flow_run = await client.read_flow_run(wait.flow_run_id)
        state = flow_run.state
        if state is None or not state.is_paused() or state.name != SUSPENDED:
            return False
        try:
            current = SuspendedWait.from_flow_run(flow_run)
        except UnreadableRecord:
            return False
        if current is None or current.checked_at != wait.checked_at or current.ids != wait.ids:
            return False
        return await resume_wait(client, wait.flow_run_id)
