"""Prefect flows of prefect-tavus. ``from flows import wait_for_replica``."""

from flows.create import create_replica_and_wait, create_replica_and_wait_async
from flows.next_step import ReplicaNotReadyError, generate_welcome_video
from flows.wait import wait_for_replica, wait_for_replica_async, wait_for_replicas, wait_for_replicas_async

__all__ = [
    "ReplicaNotReadyError",
    "create_replica_and_wait",
    "create_replica_and_wait_async",
    "generate_welcome_video",
    "wait_for_replica",
    "wait_for_replica_async",
    "wait_for_replicas",
    "wait_for_replicas_async",
]
