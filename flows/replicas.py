"""The replica flows: wait for training (one replica, or many at once), and train one and
wait for it without ever training twice.

* ``wait_for_replica`` / ``wait_for_replicas``: the one wait engine (``flows/_engine.py``)
  with the replica kind; ``wait_for_replica`` is the batch wait with one id, shaped for
  the common case: it returns the ``Replica`` and raises if it failed.
* ``create_replica_and_wait``: creating a replica is not idempotent (a second POST trains,
  and bills, a second one), so the created id is written on the flow run itself (label
  ``tavus.create.replica_id``) the moment Tavus answers, and every life of the run reads
  it back before it would create: a retry, a restart, a resumed suspended run on a fresh
  container or another worker machine all re-attach to the same replica. Nothing depends
  on local result storage.

  Before the POST goes out, the run records that it is about to send one
  (``tavus.create.attempted_at``). A create whose answer is lost (a timeout or a reset
  after sending, or a process killed between the POST and the record) is then never sent
  again blindly: the run looks for the replica that request may have made (same
  ``replica_name``, created since the attempt, through the list endpoint) and re-attaches
  to it, or fails with ``ReplicaCreateOutcomeUnknownError`` saying how to check. A create
  that certainly never reached Tavus (connection refused, 429) is sent again, within the
  wait's outage budget.

  With ``release_worker=True`` and a block that knows the callback receiver
  (``callback_base_url``), the replica is created with that receiver's URL as its
  ``callback_url``. The URL carries the receiver's token, so the create task reads it
  from the block itself: it is never a flow or task parameter, and never logged.

Each flow has an async twin named with an ``a`` prefix (``await_for_replica``), as Prefect
names its own (``Block.aload``) and as this package names its tasks (``aget_replica``);
the sync ones are the deployable entrypoints and work from plain scripts and sync flows
alike. How a wait polls is one ``WaitSettings`` parameter.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger
from prefect.utilities.asyncutils import run_coro_as_sync

from prefect_tavus._run_names import (
    batch_wait_run_name,
    create_and_wait_run_name,
    create_replica_task_run_name,
)
from prefect_tavus.blocks import CredentialsInput, TavusCredentials, aresolve_credentials
from prefect_tavus.core import (
    DEFAULT_RETRY_POLICY,
    CreatedReplica,
    Replica,
    ReplicaCreateOutcomeUnknownError,
    ReplicaCreateRequest,
    ReplicaNotFoundDuringWaitError,
    ReplicasWaitFailedError,
    ReplicaTrainingFailedError,
    ReplicaWaitTimeoutError,
    TavusClient,
    TavusTransientError,
    validate_replica_id,
    validate_replica_ids,
)
from prefect_tavus.core.kinds import REPLICAS
from prefect_tavus.core.text import plural
from prefect_tavus.core.waiting import Outcome, ReplicaWaitResult, WaitSettings
from prefect_tavus.flows._cancellation import WaitCancelled
from prefect_tavus.flows._engine import cancelled_state, not_all_completed_message, run_wait
from prefect_tavus.flows._records import RunRecord, create_at_most_once
from prefect_tavus.suspension import LABEL_CREATE_ATTEMPTED, LABEL_CREATED, epoch_seconds

__all__ = [
    "acreate_replica_and_wait",
    "await_for_replica",
    "await_for_replicas",
    "create_replica_and_wait",
    "wait_for_replica",
    "wait_for_replicas",
]


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
        return cancelled_state(f"replica {replica_id}")  # type: ignore[return-value]  # a flow may return a State: Prefect ends the run in it
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
        return cancelled_state(plural(len(ids), "replica"))  # type: ignore[return-value]  # a flow may return a State: Prefect ends the run in it
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


# --- create and wait ------------------------------------------------------------------


#: Looks for the replica of a create whose answer was lost: how many, how far apart.
#: Tavus lists a replica as soon as it answers its create; the spacing covers a slow list.
_LOOKUPS, _LOOKUP_SPACING_SECONDS = 3, 5.0


def _create_once_run_name(parameters: dict[str, Any]) -> str:
    """``create-replica-<name or training file>``, as ``create_replica`` names its runs."""
    return create_replica_task_run_name(parameters.get("body") or {})


async def _find_lost_create(
    client: TavusClient,
    body: dict[str, Any],
    attempted_at: float,
    cause: BaseException | None,
    budget_seconds: float,
) -> Replica:
    """The replica a create whose answer was lost made, looked up by name and time.

    Raises:
        ReplicaCreateOutcomeUnknownError: no name to look for, none found, or several.
    """
    name = body.get("replica_name")
    if not name:
        raise ReplicaCreateOutcomeUnknownError(
            replica_name=None, attempted_at=attempted_at, cause=cause
        )
    started = time.monotonic()
    found: list[Replica] = []
    for lookup in range(_LOOKUPS):
        if lookup:
            await asyncio.sleep(_LOOKUP_SPACING_SECONDS)
        while True:
            try:
                found = await client.find_replicas(replica_name=name, created_since=attempted_at)
                break
            except TavusTransientError as error:
                if time.monotonic() - started >= budget_seconds:
                    raise ReplicaCreateOutcomeUnknownError(
                        replica_name=name,
                        attempted_at=attempted_at,
                        cause=error,
                    ) from error
                await asyncio.sleep(DEFAULT_RETRY_POLICY.delay(1, error))
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            break
    raise ReplicaCreateOutcomeUnknownError(
        replica_name=name,
        attempted_at=attempted_at,
        found=[r.replica_id for r in found],
        cause=cause,
    )


@task(name="create_replica", task_run_name=_create_once_run_name, cache_policy=NO_CACHE, retries=0)  # type: ignore[arg-type]  # Prefect's protocol wants a classmethod no function has
async def _create_once(
    tavus_credentials: TavusCredentials,
    body: dict[str, Any],
    callback_from_block: bool = False,
    outage_budget_seconds: float = 1800.0,
) -> CreatedReplica:
    """``POST /v2/replicas`` at most once per flow run, whatever lives it has.

    ``callback_from_block``: send the block's callback receiver URL as ``callback_url``;
    it is read here, so the token in it never becomes a task input.
    """
    logger = get_run_logger()
    record = RunRecord.of_this_task_run(outage_budget_seconds, logger)
    client = tavus_credentials.get_client()

    labels = await record.read()
    if labels.get(LABEL_CREATED):
        replica_id = validate_replica_id(str(labels[LABEL_CREATED]), name=f"label {LABEL_CREATED}")
        logger.info(
            "Replica %s was created by an earlier life of this run; waiting on it.", replica_id
        )
        return CreatedReplica(replica_id=replica_id, status=None)
    attempted = epoch_seconds(labels.get(LABEL_CREATE_ATTEMPTED))
    if attempted is not None:
        logger.warning(
            "An earlier life of this run sent the create and never recorded Tavus's answer; "
            "looking for the replica it made instead of training another."
        )
        replica = await _find_lost_create(client, body, attempted, None, outage_budget_seconds)
        await record.write({LABEL_CREATED: replica.replica_id}, "record the created replica")
        logger.info(
            "Found replica %s, created by that earlier attempt; waiting on it.", replica.replica_id
        )
        return CreatedReplica(replica_id=replica.replica_id, status=replica.status)

    if callback_from_block:
        url = tavus_credentials.callback_url()
        if url is not None:
            body = {**body, "callback_url": url.get_secret_value()}
    TavusClient.replica_create_body(
        **body
    )  # bad input fails here, before anything is recorded or sent
    attempted = time.time()
    await record.write({LABEL_CREATE_ATTEMPTED: attempted}, "record the create attempt")

    async def find_lost(error: TavusTransientError) -> CreatedReplica:
        replica = await _find_lost_create(client, body, attempted, error, outage_budget_seconds)
        return CreatedReplica(replica_id=replica.replica_id, status=replica.status)

    created = await create_at_most_once(
        lambda: client.create_replica(**body), find_lost, outage_budget_seconds
    )
    # The moment Tavus answered: every later life reads this back before it would create.
    await record.write({LABEL_CREATED: created.replica_id}, "record the created replica")
    return created


async def _create_and_wait(
    tavus_credentials: CredentialsInput,
    body: dict[str, Any],
    settings: WaitSettings,
    raise_on_error: bool,
    release_worker: bool = False,
) -> Replica:
    credentials = await aresolve_credentials(tavus_credentials)
    from_block = (
        release_worker
        and not body.get("callback_url")
        and credentials.callback_base_url is not None
    )
    if from_block:
        credentials.callback_url()  # no token: fail before anything is created
    created: CreatedReplica = await _create_once(
        credentials,
        body,
        callback_from_block=from_block,
        outage_budget_seconds=settings.max_outage_seconds,
    )
    get_run_logger().info(
        "Replica %s is training (recorded on this flow run: a retry, restart or resume reuses it)%s.",
        created.replica_id,
        "; Tavus will call the callback receiver when it finishes" if from_block else "",
    )
    return await _wait_for_replica(
        created.replica_id, credentials, settings, raise_on_error, release_worker
    )


def _split(params: dict[str, Any]) -> dict[str, Any]:
    """The flows' parameters as ``_create_and_wait`` takes them: the create's fields are
    those of ``ReplicaCreateRequest`` (the one list of them) that the flows expose."""
    return {
        "tavus_credentials": params["tavus_credentials"],
        "body": {
            name: params[name] for name in ReplicaCreateRequest.model_fields if name in params
        },
        "settings": params["wait_settings"],
        "raise_on_error": params["raise_on_error"],
        "release_worker": params["release_worker"],
    }


@flow(
    name="create-replica-and-wait",
    flow_run_name=create_and_wait_run_name,
    description="Create a replica (``POST /v2/replicas``) and wait until it finishes training.",
)
def create_replica_and_wait(
    train_video_url: str | None = None,
    tavus_credentials: CredentialsInput = None,
    replica_name: str | None = None,
    consent_video_url: str | None = None,
    model_name: str | None = None,
    callback_url: str | None = None,
    train_image_url: str | None = None,
    voice_name: str | None = None,
    wait_settings: WaitSettings = WaitSettings(),
    raise_on_error: bool = True,
    release_worker: bool = False,
) -> Replica:
    """Create a replica (``POST /v2/replicas``) and wait until it finishes training.

    The replica is created once per flow run: retries, restarts and resumed runs wait on
    the same one (its id is recorded on the flow run the moment Tavus answers). A create
    whose answer was lost is looked up by ``replica_name`` rather than sent again.

    Args:
        train_video_url: the training video (public direct link, H.264, at most 750 MB);
            or pass ``train_image_url`` with ``voice_name`` instead.
        tavus_credentials: a ``TavusCredentials`` block, a saved block's name (what
            deployments pass), or None to use ``TAVUS_API_KEY``.
        replica_name: the replica's name; name it, so a lost answer can be found.
        consent_video_url: the consent video of a personal replica (unless the consent
            statement opens the training video).
        model_name: ``phoenix-3``, ``phoenix-4``...; Tavus's default when None.
        callback_url: where Tavus POSTs when training ends. With ``release_worker`` and
            none given, the block's callback receiver (``callback_base_url``) is used.
        train_image_url: a training image, with ``voice_name``, instead of a video.
        voice_name: the voice of an image-trained replica.
        wait_settings: how to poll and when to give up, as for ``wait_for_replica``.
        raise_on_error: if training fails, fail the run with
            ``ReplicaTrainingFailedError`` (True) or return the errored replica (False).
        release_worker: release the worker while Tavus trains, as
            ``wait_for_replica`` does.

    Returns:
        The replica, ``completed`` (or ``error`` with ``raise_on_error=False``).

    Raises:
        InvalidReplicaRequestError: a bad field, named; nothing was sent.
        ReplicaCreateOutcomeUnknownError: the create's answer was lost and the replica it
            may have made was not found (or several were); says how to check.
        ReplicaTrainingFailedError: training failed (with ``raise_on_error``).
        ReplicaWaitTimeoutError: the deadline passed.
        ReplicaNotFoundDuringWaitError: the replica vanished during the wait.
        TavusAuthenticationError: the key was refused.
        TavusAPIUnavailableError: transient faults outlasted ``max_outage_seconds``.
    """
    return run_coro_as_sync(_create_and_wait(**_split(locals())))


@flow(
    name="create-replica-and-wait",
    flow_run_name=create_and_wait_run_name,
    description="Create a replica (``POST /v2/replicas``) and wait until it finishes training.",
)
async def acreate_replica_and_wait(
    train_video_url: str | None = None,
    tavus_credentials: CredentialsInput = None,
    replica_name: str | None = None,
    consent_video_url: str | None = None,
    model_name: str | None = None,
    callback_url: str | None = None,
    train_image_url: str | None = None,
    voice_name: str | None = None,
    wait_settings: WaitSettings = WaitSettings(),
    raise_on_error: bool = True,
    release_worker: bool = False,
) -> Replica:
    """Async twin of :func:`create_replica_and_wait`: the same arguments, result and errors."""
    return await _create_and_wait(**_split(locals()))
