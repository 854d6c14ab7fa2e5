"""Prefect flows of prefect-tavus. ``from flows import wait_for_replica``."""

from flows.create import create_replica_and_wait, create_replica_and_wait_async
from flows.wait import wait_for_replica, wait_for_replica_async, wait_for_replicas, wait_for_replicas_async

__all__ = [
    "create_replica_and_wait",
    "create_replica_and_wait_async",
    "wait_for_replica",
    "wait_for_replica_async",
    "wait_for_replicas",
    "wait_for_replicas_async",
]
