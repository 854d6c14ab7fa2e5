"""Kept for deployments whose entrypoint is ``flows/create.py:create_replica_and_wait``:
the replica flows live in ``flows/replicas.py``."""

from prefect_tavus.flows.replicas import acreate_replica_and_wait, create_replica_and_wait

__all__ = ["acreate_replica_and_wait", "create_replica_and_wait"]
