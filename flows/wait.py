"""Flows that wait for replica training: one replica, or many at once.

Both are the same engine (``flows/_engine.py``); ``wait_for_replica`` is the batch wait
with one id, shaped for the common case: it returns the ``Replica`` and raises if it
failed. Each flow has an async twin named with an ``a`` prefix (``await_for_replica``),
as Prefect names its own (``Block.aload``) and as this package names its tasks
(``aget_replica``); the sync ones are the deployable entrypoints and work from plain
scripts and sync flows alike. How a wait polls is one ``WaitSettings`` parameter.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.logging import get_run_logger
from prefect.states import Cancelled, State
from prefect.utilities.asyncutils import run_coro_as_sync

from prefect_tavus._run_names import batch_wait_run_name
from prefect_tavus.blocks import CredentialsInput, aresolve_credentials
from prefect_tavus.core import (
    Replica,
    ReplicaNotFoundDuringWaitError,
    ReplicasWaitFailedError,
    ReplicaTrainingFailedError,
    ReplicaWaitTimeoutError,
    validate_replica_id,
    validate_replica_ids,
)
from prefect_tavus.core.kinds import REPLICAS
from prefect_tavus.core.text import plural
from prefect_tavus.core.waiting import Outcome, ReplicaWaitResult, WaitResult, WaitSettings
from prefect_tavus.flows._cancellation import WaitCancelled
from prefect_tavus.flows._engine import run_wait

__all__ = ["await_for_replica", "await_for_replicas", "wait_for_replica", "wait_for_replicas"]


def _cancelled(what: str) -> State:
    message = (
        f"Cancelled while waiting for {what}; stopped polling and left them at Tavus as they were."
    )
    get_run_logger().info(message)
    return Cancelled(message=message)


def not_all_completed_message(result: WaitResult[Any]) -> str:
    """Why a batch wait fails: its summary and the first ten that did not complete."""
    failed = ", ".join(
        f"{r.resource_id} ({r.outcome.value}: {r.error_message})" for r in result.not_completed[:10]
    )
    more = len(result.not_completed) - 10
    return (
        f"{result.summary()}. Not completed: {failed}{f' and {more} more' if more > 0 else ''}. "
        "Pass raise_on_failure=False to get the results instead of an error."
    )


# --- one replica -----------------------------------------------------------------------


async def _wait_for_replica(
    replica_id: str,
    tavus_credentials: CredentialsInput,
    settings: WaitSettings,
    raise_on_error: bool,
    release_worker: bool = False,
) -> Replica:
    replica_id = validate_replica_id(replica_id)
    credentials = await aresolve_credentials(tavus_credentials)
    try:
        result = await run_wait([replica_id], credentials, settings, release_worker, kind=REPLICAS)
    except WaitCancelled:
        return _cancelled(f"replica {replica_id}")  # type: ignore[return-value]  # a flow may return a State: Prefect ends the run in it
    (outcome,) = result.results
    if outcome.outcome is Outcome.COMPLETED and outcome.replica is not None:
        return outcome.replica
    if outcome.outcome is Outcome.FAILED and outcome.replica is not None:
        if raise_on_error:
            raise ReplicaTrainingFailedError(outcome.replica)
        return outcome.replica
    if outcome.outcome is Outcome.TIMED_OUT:
        last = outcome.replica
        raise ReplicaWaitTimeoutError(
            replica_id,
            waited_seconds=result.elapsed_seconds,
            last_status=last.status if last else None,
            last_progress=last.training_progress if last else None,
        )
    raise ReplicaNotFoundDuringWaitError(replica_id, outcome.cause) from outcome.cause


@flow(
    name="wait-for-replica",
    flow_run_name="wait-for-{replica_id}",
    description="Wait until a replica finishes training; return it.",
)
def wait_for_replica(
    replica_id: str,
    tavus_credentials: CredentialsInput = None,
    wait_settings: WaitSettings = WaitSettings(),
    raise_on_error: bool = True,
    release_worker: bool = False,
) -> Replica:
    """Wait until a replica finishes training; return it.

    Polls through ``GET /v2/replicas/{id}``, starting every ``poll_interval_seconds`` and
    slowing to ``max_poll_interval_seconds``; logs when the status or progress changes.

    Args:
        replica_id: the replica to wait for, e.g. ``"rf4e9d9790f0"``.
        tavus_credentials: a ``TavusCredentials`` block, a saved block's name (what
            deployments pass), or None to use ``TAVUS_API_KEY``.
        wait_settings: how to poll and when to give up (``WaitSettings``, or a dict of
            its fields): ``poll_interval_seconds`` (60) growing to
            ``max_poll_interval_seconds`` (300), ``timeout_seconds`` (8 h, counted from
            the flow run's first start), ``max_outage_seconds`` (1800),
            ``speed_up_near_completion``, ``heartbeat_seconds``.
        raise_on_error: if the replica fails training, fail the run with
            ``ReplicaTrainingFailedError`` (True) or return the errored replica (False).
        release_worker: in a deployment run, check once and, while training goes on,
            suspend the run so its process exits and the worker is free; Tavus's
            callback (``prefect-tavus callbacks``) or the ``resume_waits`` sweep
            resumes it, and it checks again from the top. Elsewhere (a subflow, a
            script) it logs one WARNING and polls. See the README, "Waiting without
            holding a worker".

    Returns:
        The replica, ``completed`` (or ``error`` with ``raise_on_error=False``).

    Raises:
        InvalidReplicaIdError: the id is empty, not a string, or path-like (nothing sent).
        ReplicaTrainingFailedError: status ``error``; carries the replica and its message.
        ReplicaWaitTimeoutError: the deadline passed; states the last status and progress.
        ReplicaNotFoundDuringWaitError: Tavus has no such replica for this key.
        TavusAuthenticationError: the key was refused (after one request).
        TavusAPIUnavailableError: transient faults outlasted ``max_outage_seconds``.
    """
    return run_coro_as_sync(
        _wait_for_replica(
            replica_id, tavus_credentials, wait_settings, raise_on_error, release_worker
        )
    )


@flow(
    name="wait-for-replica",
    flow_run_name="wait-for-{replica_id}",
    description="Wait until a replica finishes training; return it.",
)
async def await_for_replica(
    replica_id: str,
    tavus_credentials: CredentialsInput = None,
    wait_settings: WaitSettings = WaitSettings(),
    raise_on_error: bool = True,
    release_worker: bool = False,
) -> Replica:
    """Async twin of :func:`wait_for_replica`: the same arguments, result and errors."""
    return await _wait_for_replica(
        replica_id, tavus_credentials, wait_settings, raise_on_error, release_worker
    )


# --- many replicas ---------------------------------------------------------------------


async def _wait_for_replicas(
    replica_ids: list[str],
    tavus_credentials: CredentialsInput,
    settings: WaitSettings,
    raise_on_failure: bool,
    release_worker: bool = False,
) -> ReplicaWaitResult:
    ids = list(dict.fromkeys(validate_replica_ids(replica_ids)))
    credentials = await aresolve_credentials(tavus_credentials)
    try:
        result = await run_wait(ids, credentials, settings, release_worker, kind=REPLICAS)
    except WaitCancelled:
        return _cancelled(plural(len(ids), "replica"))  # type: ignore[return-value]  # a flow may return a State: Prefect ends the run in it
    if raise_on_failure and not result.all_completed:
        raise ReplicasWaitFailedError(not_all_completed_message(result), result)
    return result


@flow(
    name="wait-for-replicas",
    flow_run_name=batch_wait_run_name,
    description="Wait until every replica in a batch finishes training.",
)
def wait_for_replicas(
    replica_ids: list[str],
    tavus_credentials: CredentialsInput = None,
    wait_settings: WaitSettings = WaitSettings(),
    raise_on_failure: bool = True,
    release_worker: bool = False,
) -> ReplicaWaitResult:
    """Wait until every replica in a batch finishes training.

    Polls them together through ``GET /v2/replicas?replica_ids=...``: one request per
    ``wait_settings.page_size`` replicas per round, one task run per round, plus one
    confirming ``GET /v2/replicas/{id}`` for each newly failed replica (to read its
    ``error_message``) or id the list did not return (to tell deleted or mistyped ids,
    reported as not found, from a glitch). Emits ``tavus.replica.*`` events and writes
    artifacts as ``wait_for_replica`` does, plus a table for the batch.

    Args:
        replica_ids: the replicas to wait for (duplicates are waited on once).
        tavus_credentials: a ``TavusCredentials`` block, a saved block's name (what
            deployments pass), or None to use ``TAVUS_API_KEY``.
        wait_settings: how to poll and when to give up (``WaitSettings``, or a dict of
            its fields), as for ``wait_for_replica``; ``page_size`` is the replicas per
            list request (100).
        raise_on_failure: fail the run with ``ReplicasWaitFailedError`` if any replica
            did not complete (True), or just return the results (False).
        release_worker: as for ``wait_for_replica``; a suspended batch is resumed once
            every replica it waits for has finished (or its deadline passed).

    Returns:
        A ``ReplicaWaitResult``: one ``ReplicaOutcome`` (completed, failed, not_found,
        timed_out) per replica in input order, with ``summary()``, the elapsed time,
        the poll rounds and the requests made.

    Raises:
        InvalidReplicaIdError: an id is empty, not a string, or path-like (nothing sent).
        ReplicasWaitFailedError: with ``raise_on_failure``, some replica did not
            complete; carries the ``result``.
        TavusAuthenticationError: the key was refused (after one request).
        TavusAPIUnavailableError: transient faults outlasted ``max_outage_seconds``.
    """
    return run_coro_as_sync(
        _wait_for_replicas(
            replica_ids, tavus_credentials, wait_settings, raise_on_failure, release_worker
        )
    )


@flow(
    name="wait-for-replicas",
    flow_run_name=batch_wait_run_name,
    description="Wait until every replica in a batch finishes training.",
)
async def await_for_replicas(
    replica_ids: list[str],
    tavus_credentials: CredentialsInput = None,
    wait_settings: WaitSettings = WaitSettings(),
    raise_on_failure: bool = True,
    release_worker: bool = False,
) -> ReplicaWaitResult:
    """Async twin of :func:`wait_for_replicas`: the same arguments, result and errors."""
    return await _wait_for_replicas(
        replica_ids, tavus_credentials, wait_settings, raise_on_failure, release_worker
    )
