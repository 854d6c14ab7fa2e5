"""Prefect flows of prefect-tavus (``prefect_tavus.flows``); the public names are also importable
from ``prefect_tavus`` itself."""

from prefect_tavus._compat import require_prefect

require_prefect()

# isort: split
from prefect_tavus.flows.generate import agenerate_videos, generate_videos
from prefect_tavus.flows.replicas import (
    acreate_replica_and_wait,
    await_for_replica,
    await_for_replicas,
    create_replica_and_wait,
    wait_for_replica,
    wait_for_replicas,
)
from prefect_tavus.flows.sweep import (
    aresume_replica_waits,
    aresume_waits,
    resume_replica_waits,
    resume_waits,
)
from prefect_tavus.flows.videos import (
    await_for_video,
    await_for_videos,
    wait_for_video,
    wait_for_videos,
)

__all__ = [
    "acreate_replica_and_wait",
    "agenerate_videos",
    "aresume_replica_waits",
    "aresume_waits",
    "await_for_replica",
    "await_for_replicas",
    "await_for_video",
    "await_for_videos",
    "create_replica_and_wait",
    "generate_videos",
    "resume_replica_waits",
    "resume_waits",
    "wait_for_replica",
    "wait_for_replicas",
    "wait_for_video",
    "wait_for_videos",
]
