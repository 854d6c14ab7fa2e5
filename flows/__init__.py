"""Prefect flows of prefect-tavus. ``from flows import wait_for_replica``."""

from flows.wait import wait_for_replica, wait_for_replica_async, wait_for_replicas, wait_for_replicas_async

__all__ = ["wait_for_replica", "wait_for_replica_async", "wait_for_replicas", "wait_for_replicas_async"]
