"""Flows that wait for replica training: one replica, or many at once.

Both are the same engine (``flows/_engine.py``); ``wait_for_replica`` is the batch wait
with one id, shaped for the common case: it returns the ``Replica`` and raises if it
failed. Each flow has an ``_async`` twin for async parents; the sync ones are the
deployable entrypoints and work from plain scripts and sync flows alike.
"""

from __future__ import annotations

from typing import Annotated

from prefect import flow
from prefect.logging import get_run_logger
from prefect.states import Cancelled, State
from prefect.utilities.asyncutils import run_coro_as_sync
from pydantic import Field

from blocks import CredentialsInput, aresolve_credentials
from flows._cancellation import WaitCancelled
from flows._engine import WaitSettings, run_wait
from tavus_api import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    Replica,
    ReplicaNotFoundDuringWaitError,
    ReplicasWaitFailedError,
    ReplicaTrainingFailedError,
    ReplicaWaitTimeoutError,
    validate_replica_id,
    validate_replica_ids,
)
from tavus_api.waiting import Outcome, WaitResult

__all__ = ["wait_for_replica", "wait_for_replica_async", "wait_for_replicas", "wait_for_replicas_async"]

Seconds = Annotated[float, Field(gt=0)]

#: Training takes 3-6 hours by Tavus's own docs; the default wait covers 8.
DEFAULT_TIMEOUT_SECONDS = 8 * 3600.0


def _cancelled(what: str) -> State:
    message = f"Cancelled while waiting for {what}; stopped polling and left the replicas as they were."
    get_run_logger().info(message)
    return Cancelled(message=message)


def _settings(
    poll_interval_seconds: float,
    max_poll_interval_seconds: float,
    timeout_seconds: float,
    max_outage_seconds: float,
    speed_up_near_completion: bool,
    heartbeat_seconds: float,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> WaitSettings:
    if max_poll_interval_seconds < poll_interval_seconds:
        raise ValueError(
            f"max_poll_interval_seconds ({max_poll_interval_seconds}) must be at least "
            f"poll_interval_seconds ({poll_interval_seconds})."
        )
    return WaitSettings(
        poll_interval_seconds=poll_interval_seconds,
        max_poll_interval_seconds=max_poll_interval_seconds,
        timeout_seconds=timeout_seconds,
        max_outage_seconds=max_outage_seconds,
        speed_up_near_completion=speed_up_near_completion,
        heartbeat_seconds=heartbeat_seconds,
        page_size=page_size,
    )


# --- one replica -----------------------------------------------------------------------


async def _wait_for_replica(
    replica_id: str,
    tavus_credentials: CredentialsInput,
    settings: WaitSettings,
    raise_on_error: bool,
) -> Replica:
    replica_id = validate_replica_id(replica_id)
    credentials = await aresolve_credentials(tavus_credentials)
    try:
        result = await run_wait([replica_id], credentials, settings)
    except WaitCancelled:
        return _cancelled(f"replica {replica_id}")  # type: ignore[return-value]
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
            replica_id, waited_seconds=result.elapsed_seconds,
            last_status=last.status if last else None,
            last_progress=last.training_progress if last else None,
        )
    raise ReplicaNotFoundDuringWaitError(
        f"Replica {replica_id!r} does not exist for this API key (mistyped, deleted, or created "
        "with another account's key); nothing to wait for.",
        replica_id=replica_id, status_code=400,
    )


_ONE_DOC = """Wait until a replica finishes training; return it.

    Polls through ``GET /v2/replicas/{id}``, starting every ``poll_interval_seconds`` and
    slowing to ``max_poll_interval_seconds``; logs when the status or progress changes.

    Args:
        replica_id: the replica to wait for, e.g. ``"rf4e9d9790f0"``.
        tavus_credentials: a ``TavusCredentials`` block, a saved block's name (what
            deployments pass), or None to use ``TAVUS_API_KEY``.
        poll_interval_seconds: first delay between polls.
        max_poll_interval_seconds: the delay grows to this cap.
        timeout_seconds: give up this long after the flow run first started (retries
            and restarts included; time spent in requests counts).
        max_outage_seconds: survive this long of continuous transient failure (429,
            5xx, timeouts, dropped connections) before failing.
        raise_on_error: if the replica fails training, fail the run with
            ``ReplicaTrainingFailedError`` (True) or return the errored replica (False).
        speed_up_near_completion: poll sooner when progress says training is ending.
        heartbeat_seconds: log a line at least this often while nothing changes.

    Returns:
        The replica, ``completed`` (or ``error`` with ``raise_on_error=False``).

    Raises:
        ReplicaTrainingFailedError: status ``error``; carries the replica and its message.
        ReplicaWaitTimeoutError: the deadline passed; states the last status and progress.
        ReplicaNotFoundDuringWaitError: Tavus has no such replica for this key.
        TavusAuthenticationError: the key was refused (after one request).
        TavusAPIUnavailableError: transient faults outlasted ``max_outage_seconds``.
    """


@flow(name="wait-for-replica", flow_run_name="wait-for-{replica_id}", description=_ONE_DOC.split("\n")[0])
def wait_for_replica(
    replica_id: str,
    tavus_credentials: CredentialsInput = None,
    poll_interval_seconds: Seconds = 60.0,
    max_poll_interval_seconds: Seconds = 300.0,
    timeout_seconds: Seconds = DEFAULT_TIMEOUT_SECONDS,
    max_outage_seconds: Seconds = 1800.0,
    raise_on_error: bool = True,
    speed_up_near_completion: bool = True,
    heartbeat_seconds: Seconds = 900.0,
) -> Replica:
    settings = _settings(poll_interval_seconds, max_poll_interval_seconds, timeout_seconds,
                         max_outage_seconds, speed_up_near_completion, heartbeat_seconds)
    return run_coro_as_sync(_wait_for_replica(replica_id, tavus_credentials, settings, raise_on_error))


@flow(name="wait-for-replica", flow_run_name="wait-for-{replica_id}", description=_ONE_DOC.split("\n")[0])
async def wait_for_replica_async(
    replica_id: str,
    tavus_credentials: CredentialsInput = None,
    poll_interval_seconds: Seconds = 60.0,
    max_poll_interval_seconds: Seconds = 300.0,
    timeout_seconds: Seconds = DEFAULT_TIMEOUT_SECONDS,
    max_outage_seconds: Seconds = 1800.0,
    raise_on_error: bool = True,
    speed_up_near_completion: bool = True,
    heartbeat_seconds: Seconds = 900.0,
) -> Replica:
    settings = _settings(poll_interval_seconds, max_poll_interval_seconds, timeout_seconds,
                         max_outage_seconds, speed_up_near_completion, heartbeat_seconds)
    return await _wait_for_replica(replica_id, tavus_credentials, settings, raise_on_error)


wait_for_replica.__doc__ = wait_for_replica_async.__doc__ = _ONE_DOC


# --- many replicas ---------------------------------------------------------------------


async def _wait_for_replicas(
    replica_ids: list[str],
    tavus_credentials: CredentialsInput,
    settings: WaitSettings,
    raise_on_failure: bool,
) -> WaitResult:
    ids = list(dict.fromkeys(validate_replica_ids(replica_ids)))
    credentials = await aresolve_credentials(tavus_credentials)
    try:
        result = await run_wait(ids, credentials, settings)
    except WaitCancelled:
        return _cancelled(f"{len(ids)} replicas")  # type: ignore[return-value]
    if raise_on_failure and not result.all_completed:
        failed = ", ".join(
            f"{r.replica_id} ({r.outcome.value}: {r.error_message})" for r in result.not_completed[:10]
        )
        more = len(result.not_completed) - 10
        raise ReplicasWaitFailedError(
            f"{result.summary()}. Not completed: {failed}{f' and {more} more' if more > 0 else ''}. "
            "Pass raise_on_failure=False to get the results instead of an error.",
            result,
        )
    return result


_MANY_DOC = """Wait until every replica in a batch finishes training.

    Polls them together through ``GET /v2/replicas?replica_ids=...``: one request per
    ``page_size`` replicas per round, one task run per round, plus one ``get_replica`` for
    each newly failed replica (to read its ``error_message``) or id the list did not
    return (to tell deleted or mistyped ids, reported as not found, from a glitch).

    Args:
        replica_ids: the replicas (duplicates are waited on once).
        raise_on_failure: fail the run if any replica did not complete (True), or just
            return the results (False).
        page_size: replicas per list request (1-100).
        Other arguments: as for ``wait_for_replica``.

    Returns:
        ``WaitResult``: one ``ReplicaOutcome`` (completed, failed, not_found, timed_out)
        per replica in input order, with ``summary()``, the elapsed time and requests made.
    """


@flow(name="wait-for-replicas", description=_MANY_DOC.split("\n")[0])
def wait_for_replicas(
    replica_ids: list[str],
    tavus_credentials: CredentialsInput = None,
    poll_interval_seconds: Seconds = 60.0,
    max_poll_interval_seconds: Seconds = 300.0,
    timeout_seconds: Seconds = DEFAULT_TIMEOUT_SECONDS,
    max_outage_seconds: Seconds = 1800.0,
    raise_on_failure: bool = True,
    speed_up_near_completion: bool = True,
    heartbeat_seconds: Seconds = 900.0,
    page_size: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> WaitResult:
    settings = _settings(poll_interval_seconds, max_poll_interval_seconds, timeout_seconds,
                         max_outage_seconds, speed_up_near_completion, heartbeat_seconds, page_size)
    return run_coro_as_sync(_wait_for_replicas(replica_ids, tavus_credentials, settings, raise_on_failure))


@flow(name="wait-for-replicas", description=_MANY_DOC.split("\n")[0])
async def wait_for_replicas_async(
    replica_ids: list[str],
    tavus_credentials: CredentialsInput = None,
    poll_interval_seconds: Seconds = 60.0,
    max_poll_interval_seconds: Seconds = 300.0,
    timeout_seconds: Seconds = DEFAULT_TIMEOUT_SECONDS,
    max_outage_seconds: Seconds = 1800.0,
    raise_on_failure: bool = True,
    speed_up_near_completion: bool = True,
    heartbeat_seconds: Seconds = 900.0,
    page_size: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> WaitResult:
    settings = _settings(poll_interval_seconds, max_poll_interval_seconds, timeout_seconds,
                         max_outage_seconds, speed_up_near_completion, heartbeat_seconds, page_size)
    return await _wait_for_replicas(replica_ids, tavus_credentials, settings, raise_on_failure)


wait_for_replicas.__doc__ = wait_for_replicas_async.__doc__ = _MANY_DOC
