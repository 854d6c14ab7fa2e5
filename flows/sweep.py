"""``resume_replica_waits``: the sweep that resumes suspended waits (replicas and videos),
callback or not.

Tavus's callbacks are unsigned and best effort (no retries are documented), a receiver
can be down, and a worker behind a firewall cannot receive them at all. The sweep makes
waits correct without them: on a schedule (``prefect.yaml``: every 10 minutes) it finds
every suspended wait, asks Tavus about all their replicas together (one request per 100
replicas, however many waits), and resumes each run whose replicas have all finished or
whose deadline passed. The resumed run checks for itself, so a sweep that resumes too
eagerly costs a request, never a wrong result.

Safe to run twice at once (the server resumes a suspended run once; the other resume is
refused and counted as done by someone else) and on an empty set (no suspended wait: no
request to Tavus at all).

It ends what must end, whatever Tavus answers: runs whose deadline passed are resumed
first, from their records alone, before Tavus is asked anything. A record that does not
parse is skipped with a WARNING naming its run. A transient Tavus fault skips the status
check (the next sweep tries again). A permanent one (a refused or IP-restricted key, a
block name that does not exist) still fails the sweep run loudly, so that a user sees
it, but only after the deadline-passed waits were resumed.
"""

from __future__ import annotations

import time
from typing import Any

from prefect import flow
from prefect.client.orchestration import get_client as get_prefect_client
from prefect.logging import get_run_logger
from prefect.utilities.asyncutils import run_coro_as_sync

from prefect_tavus.blocks import CredentialsInput, TavusCredentials, aresolve_credentials
from prefect_tavus.core import DEFAULT_PAGE_SIZE, TavusTransientError, count_requests
from prefect_tavus.core.text import plural, printable
from prefect_tavus.core.video_polling import read_videos
from prefect_tavus.suspension import SuspendedWait, find_suspended_waits, resume_if_still_waiting

__all__ = ["aresume_replica_waits", "resume_replica_waits", "waits_to_resume"]


def waits_to_resume(
    waits: list[SuspendedWait], finished: set[str] | None, now: float
) -> list[tuple[SuspendedWait, str]]:
    """The waits to resume and why: every replica finished, or the deadline passed
    (deadline-passed waits first: they are resumed before Tavus is asked anything).

    ``finished`` is the ids Tavus reported as completed or failed, or missing from its
    answer (deleted or mistyped; the resumed run tells which); None when Tavus could not
    be asked, so that only deadlines count.
    """
    due = [(wait, "deadline passed") for wait in waits if wait.deadline_passed(now)]
    done = [
        (wait, f"all {wait.kind}s finished")
        for wait in waits
        if not wait.deadline_passed(now) and finished is not None and wait.ids <= finished
    ]
    return due + done


class _Counts:
    def __init__(self) -> None:
        self.resumed = self.already = 0


async def _resume(
    prefect: Any, chosen: list[tuple[SuspendedWait, str]], counts: _Counts, logger: Any
) -> None:
    for wait, why in chosen:
        if await resume_if_still_waiting(prefect, wait):
            counts.resumed += 1
            logger.info(
                "Resumed %s (%s): %s.", wait.flow_run_name, plural(len(wait.ids), wait.kind), why
            )
        else:
            counts.already += 1


async def _finished_replicas(
    credentials: TavusCredentials, ids: list[str], page_size: int, logger: Any
) -> set[str] | None:
    """The ids among ``ids`` that Tavus reports finished (or does not report at all);
    None when a transient fault kept Tavus from answering.

    Raises:
        TavusError: permanent (key refused...). The caller re-raises it after the
            deadline-passed waits were resumed.
    """
    finished = set(ids)
    try:
        async for replica in credentials.get_client().iter_replicas(
            replica_ids=ids, page_size=page_size
        ):
            if replica.replica_id in finished and not replica.is_terminal:
                finished.discard(replica.replica_id)
    except TavusTransientError as exc:
        logger.warning(
            "Could not ask Tavus about %s (%s); only deadlines count this time.",
            plural(len(ids), "replica"),
            printable(exc, 300),
        )
        return None
    return finished


async def _finished_videos(
    credentials: TavusCredentials, ids: list[str], logger: Any
) -> set[str] | None:
    """As :func:`_finished_replicas`, for videos: read the cheapest way the wait engine
    reads them (``core/video_polling.py``)."""
    polled = await read_videos(credentials.get_client(), ids)
    if polled.failed is not None:
        logger.warning(
            "Could not ask Tavus about %s (%s); only deadlines count this time.",
            plural(len(ids), "video"),
            printable(polled.failed, 300),
        )
        return None
    return {
        video_id
        for video_id in ids
        if video_id in polled.missing or polled.found[video_id].is_terminal
    }


async def _sweep(tavus_credentials: CredentialsInput, page_size: int) -> dict[str, Any]:
    logger = get_run_logger()
    unreadable: list[str] = []

    def skip(flow_run: Any, error: Exception) -> None:
        unreadable.append(str(flow_run.id))
        logger.warning(
            "Skipped a suspended run whose wait record does not parse: %s. "
            "Fix its tavus.wait.* labels or cancel it.",
            printable(error, 400),
        )

    counts = _Counts()
    permanent: Exception | None = None
    requests = [0]
    replicas: list[str] = []
    videos: list[str] = []
    async with get_prefect_client() as prefect:
        waits = await find_suspended_waits(prefect, on_unreadable=skip)
        now = time.time()
        # Deadlines first, from the records alone: nothing Tavus answers can keep them waiting.
        await _resume(
            prefect, [(w, why) for w, why in waits_to_resume(waits, None, now)], counts, logger
        )
        training = [wait for wait in waits if not wait.deadline_passed(now)]
        credentials: TavusCredentials | None = None
        if waits:
            try:  # a block that cannot be loaded fails the sweep, after the deadlines
                credentials = await aresolve_credentials(tavus_credentials)
            except Exception as exc:
                permanent = exc
        if training and credentials is not None:
            replicas = sorted(set().union(*(wait.replica_ids for wait in training)))
            videos = sorted(set().union(*(wait.video_ids for wait in training)))
            finished: set[str] | None = set()
            with count_requests() as requests:
                try:
                    if replicas:
                        finished = await _finished_replicas(
                            credentials, replicas, page_size, logger
                        )
                    if videos and finished is not None:
                        found = await _finished_videos(credentials, videos, logger)
                        finished = None if found is None else finished | found
                except Exception as exc:
                    permanent, finished = exc, None
            chosen = [
                (w, why)
                for w, why in waits_to_resume(training, finished, now)
                if why != "deadline passed"
            ]
            await _resume(prefect, chosen, counts, logger)
    if not waits and not unreadable:
        logger.info("No suspended waits.")
    else:
        logger.info(
            "Sweep: %s on %s, %s to Tavus; resumed %d%s%s.",
            plural(len(waits), "suspended wait"),
            plural(len(replicas), "replica")
            + (f" and {plural(len(videos), 'video')}" if videos else ""),
            plural(requests[0], "request"),
            counts.resumed,
            f" ({counts.already} already resumed or no longer suspended)" if counts.already else "",
            f"; skipped {plural(len(unreadable), 'unreadable record')}" if unreadable else "",
        )
    if permanent is not None:
        raise permanent
    return {
        "suspended_waits": len(waits),
        "replicas_checked": len(replicas),
        "videos_checked": len(videos),
        "requests": requests[0],
        "resumed": counts.resumed,
        "already_resumed": counts.already,
        "unreadable": len(unreadable),
    }


@flow(
    name="resume-replica-waits",
    description="Resume the suspended replica and video waits that have something to report.",
)
def resume_replica_waits(
    tavus_credentials: CredentialsInput = None, page_size: int = DEFAULT_PAGE_SIZE
) -> dict[str, Any]:
    """Resume the suspended replica and video waits that have something to report.

    Finds every wait suspended with ``release_worker=True``, asks Tavus about all their
    replicas in one batch (one request per 100) and their videos the way video waits
    read them (list pages or GETs), and resumes the runs whose replicas or videos
    have all finished, or whose deadline passed (the resumed wait then fails with
    ``ReplicaWaitTimeoutError``). Deploy it on a schedule (``prefect.yaml`` runs it every
    10 minutes): with it, waits need no callback at all, at the cost of up to one
    interval of delay. Run one per Tavus API key (block).

    Args:
        tavus_credentials: the block (or a saved block's name) whose key can read the
            replicas being waited for.
        page_size: replicas per request (Tavus's list filter; 100).

    Returns:
        Counts: ``suspended_waits``, ``replicas_checked``, ``videos_checked``, ``requests``, ``resumed``,
        ``already_resumed`` (by a concurrent sweep or the callback receiver) and
        ``unreadable`` (records skipped with a WARNING).

    Raises:
        TavusAuthenticationError: the key was refused (or another permanent error, such
            as a block name that does not exist): raised after the waits whose deadline
            passed were resumed.
    """
    return run_coro_as_sync(_sweep(tavus_credentials, page_size))


@flow(
    name="resume-replica-waits",
    description="Resume the suspended replica and video waits that have something to report.",
)
async def aresume_replica_waits(
    tavus_credentials: CredentialsInput = None, page_size: int = DEFAULT_PAGE_SIZE
) -> dict[str, Any]:
    """Async twin of :func:`resume_replica_waits`: the same arguments, result and errors."""
    return await _sweep(tavus_credentials, page_size)
