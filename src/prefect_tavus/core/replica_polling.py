"""How a wait reads many replicas at once: one request per page of ids (Prefect-free).

Beside :mod:`prefect_tavus.core.video_polling`, which does the same for videos (whose
list has no id filter). The replica list filters by ``replica_ids``, so a round is one
``GET /v2/replicas?replica_ids=...`` per ``page_size`` replicas, or one
``GET /v2/replicas/{id}`` when a single one is left (it also returns ``error_message``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from prefect_tavus.core.client import DEFAULT_PAGE_SIZE, TavusClient
from prefect_tavus.core.errors import TavusTransientError
from prefect_tavus.core.replicas import Replica
from prefect_tavus.core.waiting import PollRound

__all__ = ["read_replica", "read_replicas"]


async def read_replica(client: TavusClient, replica_id: str) -> Replica:
    """One replica, verbose (with ``replica_type`` and ``error_message``)."""
    return await client.get_replica(replica_id, verbose=True)


async def read_replicas(
    client: TavusClient, replica_ids: Sequence[str], *, page_size: int = DEFAULT_PAGE_SIZE
) -> PollRound:
    """Ask Tavus once about every id in ``replica_ids`` (already validated).

    Returns:
        A :class:`~prefect_tavus.core.waiting.PollRound`: ``found`` id -> :class:`Replica`,
        ``missing`` id -> the 400/404 of a single GET (definitive), or None for an id the
        list left out (the wait confirms it with one GET); a transient fault comes back
        as ``failed``, with nothing else set.

    Raises:
        TavusAuthenticationError: the key was refused (and any other permanent refusal).
    """
    if len(replica_ids) == 1:
        return await PollRound.of_one(replica_ids[0], lambda rid: read_replica(client, rid))
    try:
        wanted = set(replica_ids)
        found: dict[str, Replica] = {}
        received_at: dict[str, float] = {}
        async for replica in client.iter_replicas(
            replica_ids=list(replica_ids), page_size=page_size
        ):
            if replica.replica_id in wanted:
                found[replica.replica_id] = replica
                received_at[replica.replica_id] = time.time()
        return PollRound(
            found=found,
            received_at=received_at,
            missing={replica_id: None for replica_id in replica_ids if replica_id not in found},
        )
    except TavusTransientError as error:
        return PollRound.failure(error)
