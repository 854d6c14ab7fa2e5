"""``create_replica_and_wait``: train a replica and wait for it, without ever training twice.

Creating a replica is not idempotent: a second POST trains (and bills) a second one. So
the create step is a task whose result Prefect persists under a key made from the flow
run's id, before the wait starts. When the run is retried, or a worker starts it again
after a crash, the task finds that result and returns the same replica id without a
request, and the wait re-attaches to it.

The result lives in Prefect's result storage (local files by default, so the same
machine); with workers on several machines, set a shared default result storage.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect import flow
from prefect.cache_policies import CacheKeyFnPolicy
from prefect.context import TaskRunContext
from prefect.logging import get_run_logger
from prefect.utilities.asyncutils import run_coro_as_sync
from prefect_tavus._run_names import create_and_wait_run_name
from prefect_tavus.blocks import CredentialsInput, aresolve_credentials
from prefect_tavus.flows.wait import _wait_for_replica
from prefect_tavus.tasks import acreate_replica
from prefect_tavus.core import CreatedReplica, Replica
from prefect_tavus.core.waiting import WaitSettings

__all__ = ["create_replica_and_wait", "acreate_replica_and_wait"]


def _once_per_flow_run(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    return f"tavus-create-replica-{context.task_run.flow_run_id}"


_create_once = acreate_replica.with_options(
    name="create_replica",
    cache_policy=CacheKeyFnPolicy(cache_key_fn=_once_per_flow_run),
    persist_result=True,
    cache_expiration=timedelta(days=7),
)


async def _create_and_wait(
    tavus_credentials: CredentialsInput,
    body: dict[str, Any],
    settings: WaitSettings,
    raise_on_error: bool,
) -> Replica:
    credentials = await aresolve_credentials(tavus_credentials)
    created: CreatedReplica = await _create_once(credentials, **body)
    get_run_logger().info(
        "Replica %s is training (created once for this flow run; a retry or restart reuses it).",
        created.replica_id,
    )
    return await _wait_for_replica(created.replica_id, credentials, settings, raise_on_error)


_CREATE_FIELDS = ("train_video_url", "replica_name", "consent_video_url", "model_name", "callback_url",
                  "train_image_url", "voice_name")


def _split(params: dict[str, Any]) -> dict[str, Any]:
    """The flows' parameters as ``_create_and_wait`` takes them."""
    return {
        "tavus_credentials": params["tavus_credentials"],
        "body": {name: params[name] for name in _CREATE_FIELDS},
        "settings": params["wait_settings"],
        "raise_on_error": params["raise_on_error"],
    }


_DOC = """Create a replica (``POST /v2/replicas``) and wait until it finishes training.

    Pass ``train_video_url`` (with ``consent_video_url`` for a personal replica, unless the
    consent statement opens the training video), or ``train_image_url`` with
    ``voice_name``. The replica is created once per flow run: retries and restarts wait on
    the same one. Returns the completed replica; wait arguments and errors are those of
    ``wait_for_replica``.
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
) -> Replica:
    return await _create_and_wait(**_split(locals()))


create_replica_and_wait.__doc__ = acreate_replica_and_wait.__doc__ = _DOC
