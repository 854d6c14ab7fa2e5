"""Names of flow runs and task runs: what each run is about, in one style.

Every run is named ``<what it does>-<what it is about>`` in lowercase words joined by
dashes, so a list of runs reads at a glance:

============================  =========================================================
flow runs                     ``wait-for-<replica_id>``, ``wait-for-<n>-replicas``,
                              ``create-and-wait-<replica name or training file name>``,
                              ``wait-for-video-<video_id>``, ``wait-for-<n>-videos``,
                              ``generate-videos-<replica_id>``
task runs                     ``poll-<round>``, ``get-replica-<replica_id>``,
                              ``create-replica-<replica name or training file name>``,
                              ``list-replicas`` / ``list-<n>-replicas``,
                              ``rename-replica-<replica_id>``, ``delete-replica-<replica_id>``,
                              ``create-video-<video name, else replica_id>``,
                              ``get-video-<video_id>``, ``list-videos``,
                              ``rename-video-<video_id>``, ``delete-video-<video_id>``
============================  =========================================================

Names that fit a format string are format strings on the decorators; the others are the
callables below. They never fail a run: an unexpected parameter gives a generic name.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlparse

from prefect_tavus.core.text import plural, slug

__all__ = [
    "batch_wait_run_name",
    "create_and_wait_run_name",
    "create_replica_task_run_name",
    "create_video_task_run_name",
    "list_replicas_task_run_name",
    "video_batch_wait_run_name",
]


def _flow_parameters() -> Mapping[str, Any]:
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    return (context.parameters if context is not None else None) or {}


def _count(values: Any) -> int | None:
    if isinstance(values, (str, bytes)) or values is None:
        return None
    try:
        return len(dict.fromkeys(values))
    except TypeError:
        return None


def _replicas(count: int) -> str:
    return plural(count, "replica").replace(" ", "-")


def _about_a_new_replica(parameters: Mapping[str, Any]) -> str:
    """The replica's name, else the training video's (or image's) file name, as a slug."""
    name = parameters.get("replica_name")
    if isinstance(name, str) and slug(name):
        return slug(name)
    for field in ("train_video_url", "train_image_url"):
        url = parameters.get(field)
        if isinstance(url, str) and url:
            stem = PurePosixPath(urlparse(url).path).stem
            if slug(stem):
                return slug(stem)
    return "replica"


def batch_wait_run_name() -> str:
    """``wait-for-3-replicas`` (duplicates counted once, as the wait does)."""
    count = _count(_flow_parameters().get("replica_ids"))
    return f"wait-for-{_replicas(count)}" if count is not None else "wait-for-replicas"


def video_batch_wait_run_name() -> str:
    """``wait-for-3-videos`` (duplicates counted once, as the wait does)."""
    count = _count(_flow_parameters().get("video_ids"))
    return (
        f"wait-for-{plural(count, 'video').replace(' ', '-')}"
        if count is not None
        else "wait-for-videos"
    )


def create_and_wait_run_name() -> str:
    """``create-and-wait-sales-presenter``, or after the training file: ``create-and-wait-intro``."""
    return "create-and-wait-" + _about_a_new_replica(_flow_parameters())


def create_replica_task_run_name(parameters: dict[str, Any]) -> str:
    """``create-replica-sales-presenter``, or after the training file."""
    return "create-replica-" + _about_a_new_replica(parameters)


def list_replicas_task_run_name(parameters: dict[str, Any]) -> str:
    """``list-replicas`` for the whole account, ``list-3-replicas`` for given ids."""
    count = _count(parameters.get("replica_ids"))
    return f"list-{_replicas(count)}" if count is not None else "list-replicas"


def create_video_task_run_name(parameters: dict[str, Any]) -> str:
    """``create-video-welcome-ann`` after the video's name, else ``create-video-r783537ef5``
    after its replica. ``request`` may be a ``VideoCreateRequest`` or its fields."""
    request = parameters.get("request")
    fields = (
        request
        if isinstance(request, Mapping)
        else {
            "video_name": getattr(request, "video_name", None),
            "replica_id": getattr(request, "replica_id", None),
        }
    )
    for field in ("video_name", "replica_id"):
        value = fields.get(field)
        if isinstance(value, str) and slug(value):
            return "create-video-" + slug(value)
    return "create-video"
