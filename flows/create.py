"""``create_replica_and_wait``: train a replica and wait for it, without ever training twice.

Creating a replica is not idempotent: a second POST trains (and bills) a second one. So
the create step is a task whose result Prefect persists under a key made from the flow
run's id, before the wait starts. When the run is retried, or a worker starts it again
after a crash, the task finds that result and returns the same replica id without a
request, and the wait re-attaches to it.

The result lives in Prefect's result storage (local files by default, so the same
machine); with workers on several machines, set a shared default result storage.

With ``release_worker=True`` and a block that knows the callback receiver
(``callback_base_url``), the replica is created with that receiver's URL as its
``callback_url``. The URL carries the receiver's token, so the create task reads it from
the block itself: it is never a flow or task parameter, and never logged.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect import flow, task
from prefect.cache_policies import CacheKeyFnPolicy
from prefect.context import TaskRunContext
from prefect.logging import get_run_logger
from prefect.utilities.asyncutils import run_coro_as_sync
from prefect_tavus._run_names import create_and_wait_run_name, create_replica_task_run_name
from prefect_tavus.blocks import CredentialsInput, TavusCredentials, aresolve_credentials
from prefect_tavus.flows.wait import _wait_for_replica
from prefect_tavus.core import CreatedReplica, Replica
from prefect_tavus.core.waiting import WaitSettings

__all__ = ["create_replica_and_wait", "acreate_replica_and_wait"]


def _once_per_flow_run(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    return f"tavus-create-replica-{context.task_run.flow_run_id}"


def _create_once_run_name(parameters: dict[str, Any]) -> str:
    """``create-replica-<name or training file>``, as ``create_replica`` names its runs."""
    return create_replica_task_run_name(parameters.get("body") or {})


@task(
    name="create_replica",
    task_run_name=_create_once_run_name,
    cache_policy=CacheKeyFnPolicy(cache_key_fn=_once_per_flow_run),
    persist_result=True,
    cache_expiration=timedelta(days=7),
    retries=0,
)
async def _create_once(
    tavus_credentials: TavusCredentials, body: dict[str, Any], callback_from_block: bool = False
) -> CreatedReplica:
    """``POST /v2/replicas`` once per flow run (never retried: a second POST trains twice).

    ``callback_from_block``: send the block's callback receiver URL as ``callback_url``;
    it is read here, so the token in it never becomes a task input.
    """
    if callback_from_block:
        url = tavus_credentials.callback_url()
        if url is not None:
            body = {**body, "callback_url": url.get_secret_value()}
    return await tavus_credentials.get_client().create_replica(**body)


async def _create_and_wait(
    tavus_credentials: CredentialsInput,
    body: dict[str, Any],
    settings: WaitSettings,
    raise_on_error: bool,
    release_worker: bool = False,
) -> Replica:
    credentials = await aresolve_credentials(tavus_credentials)
    from_block = release_worker and not body.get("callback_url") and credentials.callback_base_url is not None
    if from_block:
        credentials.callback_url()  # no token: fail before anything is created
    created: CreatedReplica = await _create_once(credentials, body, callback_from_block=from_block)
    get_run_logger().info(
        "Replica %s is training (created once for this flow run; a retry or restart reuses it)%s.",
        created.replica_id,
        "; Tavus will call the callback receiver when it finishes" if from_block else "",
    )
    return await _wait_for_replica(created.replica_id, credentials, settings, raise_on_error, release_worker)


_CREATE_FIELDS = ("train_video_url", "replica_name", "consent_video_url", "model_name", "callback_url",
                  "train_image_url", "voice_name")


def _split(params: dict[str, Any]) -> dict[str, Any]:
    """The flows' parameters as ``_create_and_wait`` takes them."""
    return {
        "tavus_credentials": params["tavus_credentials"],
        "body": {name: params[name] for name in _CREATE_FIELDS},
        "settings": params["wait_settings"],
        "raise_on_error": params["raise_on_error"],
        "release_worker": params["release_worker"],
    }


_DOC = """Create a replica (``POST /v2/replicas``) and wait until it finishes training.

    Pass ``train_video_url`` (with ``consent_video_url`` for a personal replica, unless the
    consent statement opens the training video), or ``train_image_url`` with
    ``voice_name``. The replica is created once per flow run: retries and restarts wait on
    the same one. Returns the completed replica; wait arguments and errors are those of
    ``wait_for_replica``.

    With ``release_worker=True`` the run releases its worker while Tavus trains (see
    ``wait_for_replica``); if the block has a ``callback_base_url`` and no
    ``callback_url`` is given, Tavus is asked to call that receiver when training ends.
    """


@flow(name="create-replica-and-wait", flow_run_name=create_and_wait_run_name, description=_DOC.split("\n")[0])
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
    return run_coro_as_sync(_create_and_wait(**_split(locals())))


@flow(name="create-replica-and-wait", flow_run_name=create_and_wait_run_name, description=_DOC.split("\n")[0])
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
    return await _create_and_wait(**_split(locals()))


create_replica_and_wait.__doc__ = acreate_replica_and_wait.__doc__ = _DOC
