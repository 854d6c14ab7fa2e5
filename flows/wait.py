"""Kept for deployments whose entrypoint is ``flows/wait.py:wait_for_replica`` or
``flows/wait.py:wait_for_replicas``: the replica flows live in ``flows/replicas.py``."""

from prefect_tavus.flows.replicas import (
    await_for_replica,
    await_for_replicas,
    wait_for_replica,
    wait_for_replicas,
)

__all__ = ["await_for_replica", "await_for_replicas", "wait_for_replica", "wait_for_replicas"]
