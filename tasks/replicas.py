"""Prefect tasks for the Tavus Replicas API, each an async task with a sync twin.

``aget_replica`` / ``get_replica`` and friends follow Prefect's own ``async_dispatch``
pattern: call ``get_replica`` from sync code and ``await aget_replica`` (or
``await get_replica``, which dispatches) from async code. Each call is one task run
around one async implementation that uses the credentials' shared HTTP client.

Reads and idempotent writes retry transient faults (429, 5xx, timeouts, dropped
connections) through Prefect's task retries with the project's one retry policy;
authentication, not-found and bad-request errors fail at once, after one request.
Creating a replica is never retried: each POST trains, and bills, a new replica.
Status reads are never cached (``NO_CACHE``): a poll must ask Tavus every time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prefect import task
from prefect._internal.compatibility.async_dispatch import async_dispatch
from prefect.cache_policies import NO_CACHE
from prefect.utilities.asyncutils import run_coro_as_sync

from prefect_tavus._run_names import create_replica_task_run_name, list_replicas_task_run_name
from prefect_tavus.blocks import CredentialsInput, aresolve_credentials
from prefect_tavus.core import (
    DEFAULT_PAGE_SIZE,
    CreatedReplica,
    Replica,
    ReplicaCreateRequest,
    validate_replica_id,
    validate_replica_ids,
)
from prefect_tavus.tasks._retry import honour_retry_after, retry_task_options

__all__ = [
    "acreate_replica",
    "adelete_replica",
    "aget_replica",
    "alist_replicas",
    "arename_replica",
    "create_replica",
    "delete_replica",
    "get_replica",
    "list_replicas",
    "rename_replica",
]


_READ = {"cache_policy": NO_CACHE, **retry_task_options()}


# --- get ---------------------------------------------------------------------------


async def _get_replica(
    replica_id: str, tavus_credentials: CredentialsInput, verbose: bool
) -> Replica:
    replica_id = validate_replica_id(replica_id)
    credentials = await aresolve_credentials(tavus_credentials)
    await honour_retry_after()
    return await credentials.get_client().get_replica(replica_id, verbose=verbose)


@task(name="get_replica", task_run_name="get-replica-{replica_id}", **_READ)
async def aget_replica(
    replica_id: str, tavus_credentials: CredentialsInput = None, verbose: bool = False
) -> Replica:
    """Async twin of :func:`get_replica`: the same arguments, result and errors."""
    return await _get_replica(replica_id, tavus_credentials, verbose)


@async_dispatch(aget_replica)
@task(name="get_replica", task_run_name="get-replica-{replica_id}", **_READ)
def get_replica(
    replica_id: str, tavus_credentials: CredentialsInput = None, verbose: bool = False
) -> Replica:
    """Fetch one replica (``GET /v2/replicas/{replica_id}``).

    Args:
        replica_id: the replica's id, e.g. ``"rf4e9d9790f0"``. Checked before any request.
        tavus_credentials: a ``TavusCredentials`` block, a saved block's name, or None
            to use ``TAVUS_API_KEY``.
        verbose: also return ``replica_type``.

    Returns:
        The replica as Tavus reports it (unknown fields kept).

    Raises:
        InvalidReplicaIdError: the id is empty, not a string, or path-like.
        TavusAuthenticationError: the key was refused (no retry).
        TavusNotFoundError: no such replica for this key (no retry).
        TavusTransientError: still failing after the retries.
    """
    return run_coro_as_sync(_get_replica(replica_id, tavus_credentials, verbose))


# --- list --------------------------------------------------------------------------


async def _list_replicas(
    tavus_credentials: CredentialsInput,
    replica_ids: Sequence[str] | None,
    verbose: bool,
    replica_type: str | None,
    model_name: str | None,
    page_size: int,
) -> list[Replica]:
    ids = validate_replica_ids(replica_ids) if replica_ids is not None else None
    credentials = await aresolve_credentials(tavus_credentials)
    await honour_retry_after()
    client = credentials.get_client()
    return [
        replica
        async for replica in client.iter_replicas(
            replica_ids=ids,
            page_size=page_size,
            verbose=verbose,
            replica_type=replica_type,
            model_name=model_name,
        )
    ]


@task(name="list_replicas", task_run_name=list_replicas_task_run_name, **_READ)  # type: ignore[arg-type]  # Prefect's protocol wants a classmethod no function has
async def alist_replicas(
    tavus_credentials: CredentialsInput = None,
    replica_ids: Sequence[str] | None = None,
    verbose: bool = False,
    replica_type: str | None = None,
    model_name: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> list[Replica]:
    """Async twin of :func:`list_replicas`: the same arguments, result and errors."""
    return await _list_replicas(
        tavus_credentials, replica_ids, verbose, replica_type, model_name, page_size
    )


@async_dispatch(alist_replicas)
@task(name="list_replicas", task_run_name=list_replicas_task_run_name, **_READ)  # type: ignore[arg-type]  # Prefect's protocol wants a classmethod no function has
def list_replicas(
    tavus_credentials: CredentialsInput = None,
    replica_ids: Sequence[str] | None = None,
    verbose: bool = False,
    replica_type: str | None = None,
    model_name: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> list[Replica]:
    """List replicas (``GET /v2/replicas``), following every page.

    With ``replica_ids`` only those are asked for, ``page_size`` at a time: one request
    reports on up to ``page_size`` replicas. Ids Tavus does not know are simply absent.
    List items carry no ``error_message`` or ``updated_at``; use ``get_replica`` for those.

    Args:
        tavus_credentials: a ``TavusCredentials`` block, a saved block's name, or None
            to use ``TAVUS_API_KEY``.
        replica_ids: only these replicas (checked before any request); None for all.
        verbose: also return ``replica_type``.
        replica_type: only ``user`` or ``system`` replicas.
        model_name: only replicas of this model.
        page_size: replicas per request (100).

    Returns:
        The replicas, in Tavus's order.

    Raises:
        InvalidReplicaIdError: an id in ``replica_ids`` is empty, not a string, or path-like.
        TavusAuthenticationError: the key was refused (no retry).
        TavusTransientError: still failing after the retries.
    """
    return run_coro_as_sync(
        _list_replicas(tavus_credentials, replica_ids, verbose, replica_type, model_name, page_size)
    )


# --- create (never retried) --------------------------------------------------------


async def _create_replica(tavus_credentials: CredentialsInput, **body: Any) -> CreatedReplica:
    request = ReplicaCreateRequest(**body)  # bad input fails before anything else
    credentials = await aresolve_credentials(tavus_credentials)
    return await credentials.get_client().create_replica(request)


@task(
    name="create_replica",
    task_run_name=create_replica_task_run_name,  # type: ignore[arg-type]  # Prefect's protocol wants a classmethod no function has
    cache_policy=NO_CACHE,
    retries=0,
)
async def acreate_replica(
    tavus_credentials: CredentialsInput = None,
    train_video_url: str | None = None,
    consent_video_url: str | None = None,
    replica_name: str | None = None,
    model_name: str | None = None,
    callback_url: str | None = None,
    train_image_url: str | None = None,
    voice_name: str | None = None,
    properties: dict[str, Any] | None = None,
) -> CreatedReplica:
    """Async twin of :func:`create_replica`: the same arguments, result and errors."""
    return await _create_replica(
        tavus_credentials,
        train_video_url=train_video_url,
        consent_video_url=consent_video_url,
        replica_name=replica_name,
        model_name=model_name,
        callback_url=callback_url,
        train_image_url=train_image_url,
        voice_name=voice_name,
        properties=properties,
    )


@async_dispatch(acreate_replica)
@task(
    name="create_replica",
    task_run_name=create_replica_task_run_name,  # type: ignore[arg-type]  # Prefect's protocol wants a classmethod no function has
    cache_policy=NO_CACHE,
    retries=0,
)
def create_replica(
    tavus_credentials: CredentialsInput = None,
    train_video_url: str | None = None,
    consent_video_url: str | None = None,
    replica_name: str | None = None,
    model_name: str | None = None,
    callback_url: str | None = None,
    train_image_url: str | None = None,
    voice_name: str | None = None,
    properties: dict[str, Any] | None = None,
) -> CreatedReplica:
    """Start training a replica (``POST /v2/replicas``); returns its id right away.

    Training takes hours; follow with ``wait_for_replica``, or use
    ``create_replica_and_wait``, which never trains twice when its run is retried.
    Not retried: a retried POST would train (and bill) a second replica.

    Args:
        tavus_credentials: a ``TavusCredentials`` block, a saved block's name, or None
            to use ``TAVUS_API_KEY``.
        train_video_url: the training video (public direct link, H.264, at most 750 MB).
        consent_video_url: the consent video of a personal replica.
        replica_name: the replica's name.
        model_name: ``phoenix-3``, ``phoenix-4``...; Tavus's default when None.
        callback_url: where Tavus POSTs when training ends.
        train_image_url: a training image (with ``voice_name``) instead of a video.
        voice_name: the voice of an image-trained replica.
        properties: further create fields, sent as given.

    Returns:
        ``CreatedReplica``: the new replica's id and its first status.

    Raises:
        InvalidReplicaRequestError: a bad field, named; nothing was sent.
        TavusAuthenticationError: the key was refused.
        TavusRequestError: Tavus refused the request.
        TavusTransientError: no usable answer; the replica may have been created.
    """
    return run_coro_as_sync(
        _create_replica(
            tavus_credentials,
            train_video_url=train_video_url,
            consent_video_url=consent_video_url,
            replica_name=replica_name,
            model_name=model_name,
            callback_url=callback_url,
            train_image_url=train_image_url,
            voice_name=voice_name,
            properties=properties,
        )
    )


# --- rename / delete (idempotent, retried) -----------------------------------------


async def _rename_replica(
    replica_id: str, replica_name: str, tavus_credentials: CredentialsInput
) -> None:
    replica_id = validate_replica_id(replica_id)
    credentials = await aresolve_credentials(tavus_credentials)
    await honour_retry_after()
    await credentials.get_client().rename_replica(replica_id, replica_name)


@task(name="rename_replica", task_run_name="rename-replica-{replica_id}", **_READ)
async def arename_replica(
    replica_id: str, replica_name: str, tavus_credentials: CredentialsInput = None
) -> None:
    """Async twin of :func:`rename_replica`: the same arguments, result and errors."""
    await _rename_replica(replica_id, replica_name, tavus_credentials)


@async_dispatch(arename_replica)
@task(name="rename_replica", task_run_name="rename-replica-{replica_id}", **_READ)
def rename_replica(
    replica_id: str, replica_name: str, tavus_credentials: CredentialsInput = None
) -> None:
    """Rename a replica (``PATCH /v2/replicas/{replica_id}/name``).

    Args:
        replica_id: the replica's id. Checked before any request.
        replica_name: its new name.
        tavus_credentials: a ``TavusCredentials`` block, a saved block's name, or None
            to use ``TAVUS_API_KEY``.

    Raises:
        InvalidReplicaIdError: the id is empty, not a string, or path-like.
        TavusAuthenticationError: the key was refused (no retry).
        TavusNotFoundError: no such replica for this key (no retry).
        TavusTransientError: still failing after the retries.
    """
    run_coro_as_sync(_rename_replica(replica_id, replica_name, tavus_credentials))


async def _delete_replica(replica_id: str, hard: bool, tavus_credentials: CredentialsInput) -> None:
    replica_id = validate_replica_id(replica_id)
    credentials = await aresolve_credentials(tavus_credentials)
    await honour_retry_after()
    await credentials.get_client().delete_replica(replica_id, hard=hard)


@task(name="delete_replica", task_run_name="delete-replica-{replica_id}", **_READ)
async def adelete_replica(
    replica_id: str, hard: bool = False, tavus_credentials: CredentialsInput = None
) -> None:
    """Async twin of :func:`delete_replica`: the same arguments, result and errors."""
    await _delete_replica(replica_id, hard, tavus_credentials)


@async_dispatch(adelete_replica)
@task(name="delete_replica", task_run_name="delete-replica-{replica_id}", **_READ)
def delete_replica(
    replica_id: str, hard: bool = False, tavus_credentials: CredentialsInput = None
) -> None:
    """Delete a replica (``DELETE /v2/replicas/{replica_id}``).

    Args:
        replica_id: the replica's id. Checked before any request.
        hard: delete irrevocably, training footage included.
        tavus_credentials: a ``TavusCredentials`` block, a saved block's name, or None
            to use ``TAVUS_API_KEY``.

    Raises:
        InvalidReplicaIdError: the id is empty, not a string, or path-like.
        TavusAuthenticationError: the key was refused (no retry).
        TavusNotFoundError: no such replica for this key (no retry).
        TavusTransientError: still failing after the retries.
    """
    run_coro_as_sync(_delete_replica(replica_id, hard, tavus_credentials))
