"""Approach (b): the prefect-dbt polling pattern, applied to Tavus replicas.

prefect-dbt waits for a dbt Cloud job run with ``wait_for_dbt_cloud_job_run``
(``prefect_dbt/cloud/runs.py``)::

    seconds_waited_for_run_completion = 0
    wait_for = []
    while seconds_waited_for_run_completion <= max_wait_seconds:
        run_data_future = await get_dbt_cloud_run_info(        # one task run per poll
            dbt_cloud_credentials=dbt_cloud_credentials, run_id=run_id, wait_for=wait_for,
        )
        run_data = run_data_future
        run_status_code = run_data.get("status")
        if DbtCloudJobRunStatus.is_terminal_status_code(run_status_code):
            return DbtCloudJobRunStatus(run_status_code), run_data
        wait_for = [run_data_future]
        logger.debug("... Waiting for %i seconds.", ...)
        await asyncio.sleep(poll_frequency_seconds)             # fixed interval
        seconds_waited_for_run_completion += poll_frequency_seconds
    raise DbtCloudJobRunTimedOut(...)

where ``get_dbt_cloud_run_info`` is ``@task(retries=3, retry_delay_seconds=10)`` around one
GET. ``wait_and_collect`` below runs that loop body unchanged for every replica at once
(one coroutine per replica, ``asyncio.gather``), with ``get_replica_status`` (one
``GET /v2/replicas/{id}``, ``cache_policy=NO_CACHE``, same retry settings) as the task.

Differences, all in the pattern's favour: prefect-dbt decorates the wait with ``@flow``, so
waiting on N runs that way would also create N subflow runs; here the N loops are plain
coroutines inside ONE flow run. Its task opens a new HTTP client per call; here every task
run shares one keep-alive pool (``TavusCredentials.get_client()``, 10 connections), and a
semaphore lets at most ``concurrency`` task runs be in flight at a time (without it, one
``httpx.AsyncClient`` given a thousand concurrent requests slows to a crawl). A benchmark
bound (``stop_at``) ends every loop at a wall-clock time, so the run stops by itself.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext

from prefect_tavus.blocks import TavusCredentials
from prefect_tavus.core import Replica


@task(
    name="get_replica_status",
    description="Retrieves one Tavus replica (GET /v2/replicas/{id}).",
    cache_policy=NO_CACHE,
    retries=3,
    retry_delay_seconds=10,
)
async def get_replica_status(
    tavus_credentials: TavusCredentials, replica_id: str
) -> dict[str, Any]:
    """One poll of one replica: the replica's JSON, like ``get_dbt_cloud_run_info``."""
    replica = await tavus_credentials.get_client().get_replica(replica_id)
    return replica.model_dump(mode="json")


def _is_terminal(run_data: dict[str, Any]) -> bool:
    return Replica.model_validate(run_data).is_terminal


async def wait_for_replica_dbt_style(
    replica_id: str,
    tavus_credentials: TavusCredentials,
    max_wait_seconds: float,
    poll_frequency_seconds: float,
    semaphore: asyncio.Semaphore,
    stop_at: float,
    record: dict[str, Any],
) -> str:
    """``wait_for_dbt_cloud_job_run``'s loop for one replica (see the module docstring)."""
    logger = get_run_logger()
    seconds_waited_for_run_completion = 0.0
    wait_for: list[Any] = []
    while seconds_waited_for_run_completion <= max_wait_seconds:
        if time.time() >= stop_at:
            return "bounded"
        async with semaphore:
            if time.time() >= stop_at:
                return "bounded"
            run_data_future = await get_replica_status(
                tavus_credentials=tavus_credentials,
                replica_id=replica_id,
                wait_for=wait_for,
            )
        record["polls"] += 1
        run_data = run_data_future
        if _is_terminal(run_data):
            record["seen_at"] = time.time()
            return str(run_data.get("status"))
        wait_for = [run_data_future]
        logger.debug(
            "Replica %s has status %s. Waiting for %s seconds.",
            replica_id,
            run_data.get("status"),
            poll_frequency_seconds,
        )
        await asyncio.sleep(poll_frequency_seconds)
        seconds_waited_for_run_completion += poll_frequency_seconds
    return "timed_out"


@flow(
    name="benchmark-dbt-style-wait",
    description="prefect-dbt's wait loop, one per replica, one task run per poll.",
)
async def wait_and_collect(
    replica_ids: list[str],
    tavus_credentials: TavusCredentials,
    max_wait_seconds: float,
    poll_frequency_seconds: float,
    concurrency: int,
    stop_at: float,
) -> dict[str, Any]:
    context = FlowRunContext.get()
    flow_run_id = str(context.flow_run.id) if context and context.flow_run else None
    semaphore = asyncio.Semaphore(concurrency)
    records = {rid: {"seen_at": None, "polls": 0, "outcome": None} for rid in replica_ids}

    async def one(rid: str) -> None:
        record = records[rid]
        try:
            record["outcome"] = await wait_for_replica_dbt_style(
                rid,
                tavus_credentials,
                max_wait_seconds,
                poll_frequency_seconds,
                semaphore,
                stop_at,
                record,
            )
        except Exception as exc:
            record["outcome"] = f"error: {type(exc).__name__}: {exc}"

    # A hard stop a minute after the bound, in case a poll hangs past it.
    hard_timeout = max(1.0, stop_at - time.time() + 60.0)
    try:
        await asyncio.wait_for(
            asyncio.gather(*(one(rid) for rid in replica_ids)), timeout=hard_timeout
        )
    except asyncio.TimeoutError:
        for record in records.values():
            if record["outcome"] is None:
                record["outcome"] = "bounded"
    return {"flow_run_id": flow_run_id, "records": records}
