"""Approach (c): a naive plain-Python poll loop, no Prefect at all.

Every round sends one ``GET /v2/replicas/{id}`` per replica still pending, at most
``concurrency`` at a time (an ``asyncio.Semaphore`` over one ``TavusClient``, whose pool
has as many connections), then sleeps the fixed interval (fixed delay, like prefect-dbt:
the period is the interval plus the time the round took), until every replica is
terminal or ``max_seconds`` have passed. A request error is counted and the replica
asked again next round.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from prefect_tavus.core import TavusClient, TavusError, count_requests


async def naive_wait(
    replica_ids: list[str],
    *,
    api_key: str,
    base_url: str,
    interval_seconds: float,
    max_seconds: float,
    concurrency: int,
) -> dict[str, Any]:
    records: dict[str, dict[str, Any]] = {
        rid: {"seen_at": None, "polls": 0, "outcome": None} for rid in replica_ids
    }
    errors = 0
    rounds = 0
    deadline = time.monotonic() + max_seconds
    semaphore = asyncio.Semaphore(concurrency)
    async with TavusClient(api_key, base_url=base_url, max_connections=concurrency) as client:

        async def poll(rid: str) -> None:
            nonlocal errors
            record = records[rid]
            async with semaphore:
                try:
                    replica = await client.get_replica(rid)
                except TavusError:
                    errors += 1
                    return
            record["polls"] += 1
            if replica.is_terminal:
                record["seen_at"] = time.time()
                record["outcome"] = replica.status

        pending = list(replica_ids)
        with count_requests() as counted:
            while pending and time.monotonic() < deadline:
                rounds += 1
                await asyncio.gather(*(poll(rid) for rid in pending))
                pending = [rid for rid in pending if records[rid]["seen_at"] is None]
                if pending:
                    await asyncio.sleep(
                        min(interval_seconds, max(0.0, deadline - time.monotonic()))
                    )
        requests = counted[0]
    for rid in pending:
        records[rid]["outcome"] = "bounded"
    return {
        "records": records,
        "rounds": rounds,
        "client_requests": requests,
        "request_errors": errors,
    }
