"""Prefect tasks of prefect-tavus. ``from tasks import get_replica``."""

from tasks.replicas import (
    acreate_replica,
    adelete_replica,
    aget_replica,
    alist_replicas,
    arename_replica,
    create_replica,
    delete_replica,
    get_replica,
    list_replicas,
    rename_replica,
)

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
