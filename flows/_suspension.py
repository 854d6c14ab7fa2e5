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

import contextlib
import logging
import math
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.concurrency.asyncio import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateName,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.responses import SetStateStatus

from prefect_tavus.core.errors import InvalidReplicaIdError
from prefect_tavus.core.text import printable
from prefect_tavus.core.validation import validate_replica_id

__all__ = [
    "LABEL_CHECKED_AT",
    "LABEL_CREATED",
    "LABEL_CREATE_ATTEMPTED",
    "LABEL_DEADLINE",
    "LABEL_REPLICAS",
    "SuspendedWait",
    "UnreadableRecord",
    "epoch_seconds",
    "find_suspended_waits",
    "RESUME_LOCK",
    "ResumeLock",
    "resume_if_still_waiting",
    "resume_lock",
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
#: The replica ``create_replica_and_wait`` created, written the moment Tavus answered.
LABEL_CREATED = "tavus.create.replica_id"
#: When a create was about to be sent (epoch seconds), written before the POST: a life
#: that finds this without ``LABEL_CREATED`` knows an answer may have been lost.
LABEL_CREATE_ATTEMPTED = "tavus.create.attempted_at"
#: Prefect's name for the paused state of a run that released its process.
SUSPENDED = "Suspended"

_PAGE = 200

#: A Prefect global concurrency limit of 1: the lock every receiver and sweep holds while
#: it re-reads a suspended wait and resumes it (created on first use).
RESUME_LOCK = "tavus-wait-resume"
#: Seconds the lock is held at most if its holder dies (Prefect expires the lease).
_LOCK_LEASE_SECONDS = 60.0  # the least Prefect accepts
#: The Prefect APIs on which the lock is known to exist (a process may talk to several).
_lock_exists_on: set[str] = set()

logger = logging.getLogger("prefect_tavus.suspension")


class UnreadableRecord(ValueError):
    """A flow run carries a wait record that does not parse (an id that fails validation,
    a deadline that is not a number). It is skipped, never acted on, and named in a
    WARNING so that a user can fix or cancel the run."""


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
        """The wait recorded on ``flow_run``, or None if it carries no record.

        Raises:
            UnreadableRecord: a record is there but does not parse; the message names
                the run and what is wrong (never acted on: a run is resumed only on a
                record that fully parses).
        """
        labels = getattr(flow_run, "labels", None) or {}
        raw_ids = labels.get(LABEL_REPLICAS)
        if raw_ids is None:
            return None
        name = f"{getattr(flow_run, 'name', '?')} ({getattr(flow_run, 'id', '?')})"
        if not isinstance(raw_ids, str) or not raw_ids.strip():
            raise UnreadableRecord(f"flow run {name}: label {LABEL_REPLICAS} is empty or not text")
        try:
            ids = frozenset(validate_replica_id(part.strip()) for part in raw_ids.split(",") if part.strip())
        except InvalidReplicaIdError as exc:
            raise UnreadableRecord(f"flow run {name}: label {LABEL_REPLICAS} holds an invalid id ({exc})") from None
        deadline, checked_at = labels.get(LABEL_DEADLINE), labels.get(LABEL_CHECKED_AT)
        for label, value in ((LABEL_DEADLINE, deadline), (LABEL_CHECKED_AT, checked_at)):
            if value is not None and epoch_seconds(value) is None:
                raise UnreadableRecord(
                    f"flow run {name}: label {label} is {printable(str(value), 40)!r}, not epoch seconds"
                )
        return cls(flow_run.id, flow_run.name, ids, epoch_seconds(deadline), epoch_seconds(checked_at))


def epoch_seconds(value: object) -> float | None:
    """A label value as epoch seconds, or None when it is missing or not a finite number."""
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


def _warn_unreadable(flow_run: Any, error: UnreadableRecord) -> None:
    logger.warning("Skipping a suspended wait whose record does not parse: %s. Fix its labels or cancel it.", error)


async def find_suspended_waits(
    client: PrefectClient, *, on_unreadable: Callable[[Any, UnreadableRecord], None] = _warn_unreadable
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


def waiting_on(waits: Iterable[SuspendedWait], replica_id: str) -> list[SuspendedWait]:
    """The waits whose record names ``replica_id``."""
    return [wait for wait in waits if replica_id in wait.replica_ids]


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
            await client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=RESUME_LOCK, limit=1))
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


async def resume_if_still_waiting(client: PrefectClient, wait: SuspendedWait, *, lock: ResumeLock = resume_lock) -> bool:
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
        if current is None or current.checked_at != wait.checked_at or current.replica_ids != wait.replica_ids:
            return False
        return await resume_wait(client, wait.flow_run_id)
