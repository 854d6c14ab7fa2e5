"""``resume_replica_waits``: the sweep that resumes suspended waits, callback or not.

Tavus's callbacks are unsigned and best effort (no retries are documented), a receiver
can be down, and a worker behind a firewall cannot receive them at all. The sweep makes
waits correct without them: on a schedule (``prefect.yaml``: every 10 minutes) it finds
every suspended wait, asks Tavus about all their replicas together (one request per 100
replicas, however many waits), and resumes each run whose replicas have all finished or
whose deadline passed. The resumed run checks for itself, so a sweep that resumes too
eagerly costs a request, never a wrong result.

Safe to run twice at once (the server resumes a suspended run once; the other resume is
refused and counted as done by someone else) and on an empty set (no suspended wait: no
request to Tavus at all). A transient Tavus fault skips this sweep's status check (the
next sweep tries again) but still resumes runs whose deadline passed.
"""

from __future__ import annotations

import time
from typing import Any

from prefect import flow
from prefect.client.orchestration import get_client as get_prefect_client
from prefect.logging import get_run_logger
from prefect.utilities.asyncutils import run_coro_as_sync

from prefect_tavus.blocks import CredentialsInput, aresolve_credentials
from prefect_tavus.core import DEFAULT_PAGE_SIZE, TavusTransientError, count_requests
from prefect_tavus.core.text import plural
from prefect_tavus.flows._suspension import SuspendedWait, find_suspended_waits, resume_wait

__all__ = ["resume_replica_waits", "aresume_replica_waits", "waits_to_resume"]


def waits_to_resume(
    waits: list[SuspendedWait], finished: set[str] | None, now: float
) -> list[tuple[SuspendedWait, str]]:
    """The waits to resume and why: every replica finished, or the deadline passed.

    ``finished`` is the ids Tavus reported as completed or failed, or missing from its
    answer (deleted or mistyped; the resumed run tells which); None when Tavus could not
    be asked, so that only deadlines count.
    """
    chosen = []
    for wait in waits:
        if wait.deadline_passed(now):
            chosen.append((wait, "deadline passed"))
        elif finished is not None and wait.replica_ids <= finished:
            chosen.append((wait, "all replicas finished"))
    return chosen


async def _sweep(tavus_credentials: CredentialsInput, page_size: int) -> dict[str, Any]:
    logger = get_run_logger()
    async with get_prefect_client() as prefect:
        waits = await find_suspended_waits(prefect)
        if not waits:
            logger.info("No suspended waits.")
            return {"suspended_waits": 0, "replicas_checked": 0, "requests": 0, "resumed": 0, "already_resumed": 0}
        ids = sorted(set().union(*(wait.replica_ids for wait in waits)))
        credentials = await aresolve_credentials(tavus_credentials)
        finished: set[str] | None = set(ids)
        with count_requests() as requests:
            try:
                async for replica in credentials.get_client().iter_replicas(replica_ids=ids, page_size=page_size):
                    if replica.replica_id in finished and not replica.is_terminal:
                        finished.discard(replica.replica_id)
            except TavusTransientError as exc:
                logger.warning("Could not ask Tavus about %s (%s); only deadlines count this time.",
                               plural(len(ids), "replica"), exc)
                finished = None
        resumed = already = 0
        for wait, why in waits_to_resume(waits, finished, time.time()):
            if await resume_wait(prefect, wait.flow_run_id):
                resumed += 1
                logger.info("Resumed %s (%s): %s.", wait.flow_run_name, plural(len(wait.replica_ids), "replica"), why)
            else:
                already += 1
    logger.info(
        "Sweep: %s on %s, %s to Tavus; resumed %d%s.",
        plural(len(waits), "suspended wait"), plural(len(ids), "replica"), plural(requests[0], "request"),
        resumed, f" ({already} already resumed or no longer suspended)" if already else "",
    )
    return {"suspended_waits": len(waits), "replicas_checked": len(ids), "requests": requests[0],
            "resumed": resumed, "already_resumed": already}


_DOC = """Resume the suspended replica waits that have something to report.

    Finds every wait suspended with ``release_worker=True``, asks Tavus about all their
    replicas in one batch (one request per 100), and resumes the runs whose replicas
    have all finished, or whose deadline passed (the resumed wait then fails with
    ``ReplicaWaitTimeoutError``). Deploy it on a schedule (``prefect.yaml`` runs it every
    10 minutes): with it, waits need no callback at all, at the cost of up to one
    interval of delay. Run one per Tavus API key (block).

    Args:
        tavus_credentials: the block (or a saved block's name) whose key can read the
            replicas being waited for.
        page_size: replicas per request (Tavus's list filter; 100).

    Returns:
        Counts: ``suspended_waits``, ``replicas_checked``, ``requests``, ``resumed`` and
        ``already_resumed`` (by a concurrent sweep or the callback receiver).
    """


@flow(name="resume-replica-waits", description=_DOC.split("\n")[0])
def resume_replica_waits(tavus_credentials: CredentialsInput = None, page_size: int = DEFAULT_PAGE_SIZE) -> dict[str, Any]:
    return run_coro_as_sync(_sweep(tavus_credentials, page_size))


@flow(name="resume-replica-waits", description=_DOC.split("\n")[0])
async def aresume_replica_waits(
    tavus_credentials: CredentialsInput = None, page_size: int = DEFAULT_PAGE_SIZE
) -> dict[str, Any]:
    return await _sweep(tavus_credentials, page_size)


resume_replica_waits.__doc__ = aresume_replica_waits.__doc__ = _DOC
