"""Prefect tasks of prefect-tavus (``prefect_tavus.tasks``); the public names are also importable
from ``prefect_tavus`` itself."""

from prefect_tavus._compat import require_prefect

require_prefect()

# isort: split
from prefect_tavus.tasks.replicas import (
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
from prefect_tavus.tasks.videos import (
    acreate_video,
    adelete_video,
    aget_video,
    alist_videos,
    arename_video,
    create_video,
    delete_video,
    get_video,
    list_videos,
    rename_video,
)

__all__ = [
    "acreate_replica",
    "acreate_video",
    "adelete_replica",
    "adelete_video",
    "aget_replica",
    "aget_video",
    "alist_replicas",
    "alist_videos",
    "arename_replica",
    "arename_video",
    "create_replica",
    "create_video",
    "delete_replica",
    "delete_video",
    "get_replica",
    "get_video",
    "list_replicas",
    "list_videos",
    "rename_replica",
    "rename_video",
]
