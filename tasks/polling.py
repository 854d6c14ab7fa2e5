"""``poll_replicas`` and ``poll_videos``: one poll round of a wait, as one Prefect task run.

A round asks Tavus about every replica still pending: one ``GET /v2/replicas/{id}``
when one is left (it returns ``error_message`` too), else ``GET /v2/replicas`` with
``replica_ids``, a page of ids per request. However many replicas are waited on, a round
is one task run, not one per replica. What it learnt comes back as a
:class:`~prefect_tavus.core.waiting.PollRound`: found, missing, or failed.

A transient failure is returned, not raised: during an outage the wait decides (within
its time budget) and logs once, instead of Prefect logging an error per failed poll.
Permanent failures (key refused, bad request) raise and end the wait at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from prefect_tavus.blocks import TavusCredentials
from prefect_tavus.core import DEFAULT_PAGE_SIZE, Replica, TavusNotFoundError, TavusTransientError
from prefect_tavus.core.video_polling import read_videos
from prefect_tavus.core.waiting import PollRound

__all__ = ["confirm_replica", "confirm_video", "poll_replicas", "poll_videos"]

_QUIET_TASKS = frozenset({"poll_replicas", "confirm_replica", "poll_videos", "confirm_video"})


class _QuietPollRounds(logging.Filter):
    """Drop Prefect's per-run INFO lines ("Finished in state Completed()") for poll rounds.

    A wait of hours makes dozens of rounds; the wait itself logs what changes. Poll task
    runs still show in the UI with their states, and their warnings and errors still log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.levelno <= logging.INFO and getattr(record, "task_name", None) in _QUIET_TASKS
        )


if not any(isinstance(f, _QuietPollRounds) for f in logging.getLogger("prefect.task_runs").filters):
    logging.getLogger("prefect.task_runs").addFilter(_QuietPollRounds())


async def _one(resource_id: str, get: Callable[[str], Awaitable[Any]]) -> PollRound:
    """One GET as a round: found, not found (400/404: definitive) or a transient failure,
    all returned, never raised; the wait decides within its budget."""
    try:
        resource = await get(resource_id)
    except TavusNotFoundError as error:
        return PollRound(missing={resource_id: error}, received_at={resource_id: time.time()})
    except TavusTransientError as error:
        return PollRound.failure(error)
    return PollRound(found={resource_id: resource}, received_at={resource_id: time.time()})


@task(name="poll_replicas", task_run_name="poll-{round_number}", cache_policy=NO_CACHE, retries=0)
async def poll_replicas(
    replica_ids: list[str],
    tavus_credentials: TavusCredentials,
    round_number: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> PollRound:
    """Ask Tavus once about every id in ``replica_ids``.

    Args:
        replica_ids: the replicas still pending (already validated).
        tavus_credentials: the wait's ``TavusCredentials`` block.
        round_number: the round's number in the wait (names the task run).
        page_size: replicas per list request.

    Returns:
        A ``PollRound``: what was found, what was missing (with Tavus's answer when asked
        for alone), or the transient failure that kept Tavus from answering.

    Raises:
        TavusAuthenticationError: the key was refused (permanent faults are raised).
    """
    client = tavus_credentials.get_client()
    if len(replica_ids) == 1:
        return await _one(replica_ids[0], lambda rid: client.get_replica(rid, verbose=True))
    try:
        wanted = set(replica_ids)
        found: dict[str, Replica] = {}
        received_at: dict[str, float] = {}
        async for replica in client.iter_replicas(replica_ids=replica_ids, page_size=page_size):
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


@task(
    name="confirm_replica",
    task_run_name="get-replica-{replica_id}",
    cache_policy=NO_CACHE,
    retries=0,
)
async def confirm_replica(replica_id: str, tavus_credentials: TavusCredentials) -> PollRound:
    """One confirming GET of a poll round (a failed replica's ``error_message``, or an id
    a list left out), as its own task run so the UI shows it.

    Not retried, unlike ``get_replica``: the wait that asks decides, within its outage
    budget, deadline and cancellation. So nothing is raised for Tavus's answers: found,
    not found (400/404) and transient failures all come back as a :class:`PollRound`.
    """
    return await _one(
        replica_id, lambda rid: tavus_credentials.get_client().get_replica(rid, verbose=True)
    )


@task(name="poll_videos", task_run_name="poll-{round_number}", cache_policy=NO_CACHE, retries=0)
async def poll_videos(
    video_ids: list[str],
    tavus_credentials: TavusCredentials,
    round_number: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> PollRound:
    """Ask Tavus once about every id in ``video_ids`` (already validated).

    The video list has no id filter, so how many statuses are learnt per request depends
    on the batch and the account: :func:`~prefect_tavus.core.video_polling.read_videos`
    chooses (GETs, or list pages with GETs for the rest) and says why in its docstring.

    Args:
        video_ids: the videos still pending (already validated).
        tavus_credentials: the wait's ``TavusCredentials`` block.
        round_number: the round's number in the wait (names the task run).
        page_size: videos per list request.

    Returns:
        A ``PollRound``: what was found, what was missing (with Tavus's answer when asked
        for alone), or the transient failure that kept Tavus from answering.

    Raises:
        TavusAuthenticationError: the key was refused (permanent faults are raised).
    """
    return await read_videos(tavus_credentials.get_client(), video_ids, page_size=page_size)


@task(name="confirm_video", task_run_name="get-video-{video_id}", cache_policy=NO_CACHE, retries=0)
async def confirm_video(video_id: str, tavus_credentials: TavusCredentials) -> PollRound:
    """One confirming GET of a video wait's round (an id a list scan did not see), as
    ``confirm_replica`` is for replicas: not retried, nothing raised for Tavus's answers."""
    return await _one(video_id, tavus_credentials.get_client().get_video)
