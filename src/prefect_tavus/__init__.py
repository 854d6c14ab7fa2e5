"""prefect-tavus: Tavus replica training and video generation from Prefect flows.

Everything public is importable from here::

    from prefect_tavus import TavusCredentials, get_replica, wait_for_replica

The Prefect-free core (client, ``Replica`` and ``Video`` models, typed errors, retry
policy, wait decisions, the registry of what a wait can wait for) lives in :mod:`prefect_tavus.core` and the local Tavus simulator in
:mod:`prefect_tavus.simulator`; neither imports Prefect. The Prefect layer
(:mod:`prefect_tavus.blocks`, :mod:`prefect_tavus.tasks`, :mod:`prefect_tavus.flows`) is
loaded on first use of one of its names, so ``import prefect_tavus.core`` stays
Prefect-free, and at once when Prefect is already imported (which is how Prefect loads
this package through its ``prefect.collections`` entry point, registering the block).
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from prefect_tavus._version import __version__
from prefect_tavus.core import *  # noqa: F403 - the core's public names are ours
from prefect_tavus.core import __all__ as _core_all

#: Public names of the Prefect layer -> the sub-package that defines them.
_PREFECT_LAYER: dict[str, str] = {
    **dict.fromkeys(
        ["TavusCredentials", "CredentialsInput", "GLOBAL_LIMIT_NAME", "API_KEY_ENV_VAR"],
        "prefect_tavus.blocks",
    ),
    **dict.fromkeys(
        [
            "get_replica",
            "aget_replica",
            "list_replicas",
            "alist_replicas",
            "create_replica",
            "acreate_replica",
            "rename_replica",
            "arename_replica",
            "delete_replica",
            "adelete_replica",
            "get_video",
            "aget_video",
            "list_videos",
            "alist_videos",
            "create_video",
            "acreate_video",
            "rename_video",
            "arename_video",
            "delete_video",
            "adelete_video",
        ],
        "prefect_tavus.tasks",
    ),
    **dict.fromkeys(
        [
            "wait_for_replica",
            "await_for_replica",
            "wait_for_replicas",
            "await_for_replicas",
            "create_replica_and_wait",
            "acreate_replica_and_wait",
            "resume_waits",
            "aresume_waits",
            "resume_replica_waits",
            "aresume_replica_waits",
            "wait_for_video",
            "await_for_video",
            "wait_for_videos",
            "await_for_videos",
            "generate_videos",
            "agenerate_videos",
        ],
        "prefect_tavus.flows",
    ),
}

__all__ = sorted({*_core_all, *_PREFECT_LAYER, "__version__"})


def __getattr__(name: str) -> Any:
    module = _PREFECT_LAYER.get(name)
    if module is None:
        raise AttributeError(f"module 'prefect_tavus' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if "prefect" in sys.modules:  # loaded by Prefect (entry point) or after it: register now
    for _name in _PREFECT_LAYER:
        __getattr__(_name)

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from prefect_tavus.blocks import (
        API_KEY_ENV_VAR,
        GLOBAL_LIMIT_NAME,
        CredentialsInput,
        TavusCredentials,
    )
    from prefect_tavus.flows import (
        acreate_replica_and_wait,
        agenerate_videos,
        aresume_replica_waits,
        aresume_waits,
        await_for_replica,
        await_for_replicas,
        await_for_video,
        await_for_videos,
        create_replica_and_wait,
        generate_videos,
        resume_replica_waits,
        resume_waits,
        wait_for_replica,
        wait_for_replicas,
        wait_for_video,
        wait_for_videos,
    )
    from prefect_tavus.tasks import (
        acreate_replica,
        acreate_video,
        adelete_replica,
        adelete_video,
        aget_replica,
        aget_video,
        alist_replicas,
        alist_videos,
        arename_replica,
        arename_video,
        create_replica,
        create_video,
        delete_replica,
        delete_video,
        get_replica,
        get_video,
        list_replicas,
        list_videos,
        rename_replica,
        rename_video,
    )
