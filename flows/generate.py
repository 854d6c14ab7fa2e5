"""``generate_videos(replica_id, requests)``: one video per row, then one wait, then a table.

Each row's video is created once per row key across retries, restarts and fresh
containers (the id is written on the flow run the moment Tavus answers, and the attempt
before the POST, as for replicas), then one wait on them all (the video kind of the one
wait engine), then a results table (key, video id, status, URLs, error): returned, and
published as a table artifact.

It has an async twin, ``agenerate_videos``, as every flow of this package has.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

from prefect import flow, task
from prefect.artifacts import acreate_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger
from prefect.utilities.asyncutils import run_coro_as_sync

from prefect_tavus.blocks import CredentialsInput, TavusCredentials, aresolve_credentials
from prefect_tavus.core import (
    ReplicaNotReadyError,
    TavusAPIUnavailableError,
    TavusClient,
    TavusNotFoundError,
    TavusRequestError,
    Video,
    VideosWaitFailedError,
    validate_replica_id,
)
from prefect_tavus.core.contract import epoch_seconds, row_labels
from prefect_tavus.core.kinds import VIDEOS
from prefect_tavus.core.requests import VideoCreateRequest, VideoRow
from prefect_tavus.core.text import plural, printable
from prefect_tavus.core.validation import validate_video_id
from prefect_tavus.core.waiting import Outcome, VideoRowResult, VideoWaitResult, WaitSettings
from prefect_tavus.flows._cancellation import WaitCancelled
from prefect_tavus.flows._engine import cancelled_state, run_wait
from prefect_tavus.flows._records import RunRecord, create_at_most_once

__all__ = ["CREATE_CONCURRENCY", "agenerate_videos", "generate_videos"]

#: How many creates of one batch are in flight at once (each also takes a ``tavus-api``
#: slot when that limit exists).
CREATE_CONCURRENCY = 4
#: A lost create is looked for among videos created from this long before its attempt.
_CLOCK_SKEW_SECONDS = 120.0

#: How generate_videos waits unless told otherwise, said once for both twins: a batch of
#: renders takes minutes to hours, so a slower cadence than a single wait's default, and a
#: deadline of 6 hours.
GENERATE_WAIT_SETTINGS = WaitSettings(
    poll_interval_seconds=15, max_poll_interval_seconds=120, timeout_seconds=6 * 3600
)


class _RowFailed(Exception):
    """A row that gets no video (its error goes in the table, not up the stack)."""


async def _find_lost_video(
    client: TavusClient, request: VideoCreateRequest, attempted_at: float
) -> Video:
    """The video a create whose answer was lost made: same name and replica, created
    since the attempt (less the clock-skew allowance). Exactly one, or the row fails."""
    name = request.video_name
    since = attempted_at - _CLOCK_SKEW_SECONDS
    found = [
        video
        async for video in client.iter_videos()
        if video.video_name == name
        and video.replica_id in (None, request.replica_id)
        and (video.created_at is None or video.created_at.timestamp() >= since)
    ]
    if len(found) == 1:
        return found[0]
    raise _RowFailed(
        f"the create's answer was lost and {'no video' if not found else f'{len(found)} videos'} named "
        f"{printable(name, 100)!r} were created since; check the account's videos and rerun this row "
        "with a new key if none is it (not resent: a second create would bill a second video)"
    )


async def _create_row(
    client: TavusClient,
    row: VideoRow,
    record: RunRecord,
    labels: dict[str, Any],
    callback_url: str | None,
    budget_seconds: float,
    logger: Any,
) -> str:
    """The id of the video for ``row``: recorded by an earlier life, found after a lost
    answer, or created now (recorded before and after the POST)."""
    id_label, attempt_label = row_labels(row.key)
    if labels.get(id_label):
        return validate_video_id(str(labels[id_label]), name=f"label {id_label}")
    request = row.request
    attempted = epoch_seconds(labels.get(attempt_label))
    if attempted is not None:
        video = await _find_lost_video(client, request, attempted)
        await record.write({id_label: video.video_id}, "record a row's video")
        return video.video_id
    if callback_url is not None and request.callback_url is None:
        request = request.model_copy(update={"callback_url": callback_url})
    attempted = time.time()
    await record.write({attempt_label: attempted}, "record a row's create attempt")
    try:
        video = await create_at_most_once(
            lambda: client.create_video(request),
            lambda error: _find_lost_video(client, request, attempted),
            budget_seconds,
        )
    except TavusAPIUnavailableError as error:
        raise _RowFailed(f"Tavus was unavailable for the create: {printable(error, 300)}") from None
    except (TavusNotFoundError, TavusRequestError) as error:  # Tavus refused this row (not the key)
        raise _RowFailed(f"Tavus refused the create: {printable(error, 300)}") from None
    await record.write({id_label: video.video_id}, "record a row's video")
    return video.video_id


@task(name="create_videos", task_run_name="create-{count}-videos", cache_policy=NO_CACHE, retries=0)
async def _create_videos(
    tavus_credentials: TavusCredentials,
    rows: list[VideoRow],
    count: int,
    callback_from_block: bool = False,
    outage_budget_seconds: float = 1800.0,
) -> dict[str, str]:
    """Each row's video id, or (under ``"!" + key``) why it has none: created at most once
    per key per flow run, whatever lives the run has."""
    logger = get_run_logger()
    record = RunRecord.of_this_task_run(outage_budget_seconds, logger)
    client = tavus_credentials.get_client()
    labels = await record.read()
    url = tavus_credentials.callback_url() if callback_from_block else None
    callback_url = url.get_secret_value() if url is not None else None
    done = sum(1 for row in rows if labels.get(row_labels(row.key)[0]))
    if done:
        logger.info(
            "%s created by an earlier life of this run; reusing them.", plural(done, "video")
        )
    gate = asyncio.Semaphore(CREATE_CONCURRENCY)
    outcome: dict[str, str] = {}

    async def one(row: VideoRow) -> None:
        async with gate:
            try:
                outcome[row.key] = await _create_row(
                    client, row, record, labels, callback_url, outage_budget_seconds, logger
                )
            except _RowFailed as failed:
                outcome["!" + row.key] = str(failed)

    await asyncio.gather(*(one(row) for row in rows))
    made = sum(1 for key in outcome if not key.startswith("!"))
    logger.info(
        "%s requested (%d new)%s.",
        plural(made, "video"),
        made - done,
        f"; {plural(len(outcome) - made, 'row')} without a video" if len(outcome) > made else "",
    )
    return outcome


def _table_key(rows: list[VideoRow]) -> str:
    digest = hashlib.sha256("\n".join(sorted(row.key for row in rows)).encode()).hexdigest()[:8]
    return f"tavus-videos-{len(rows)}-rows-{digest}"


def _results(
    rows: list[VideoRow],
    created: dict[str, str],
    waited: VideoWaitResult | None,
    replica_error: str | None,
) -> list[VideoRowResult]:
    by_id = {outcome.video_id: outcome for outcome in (waited.results if waited else [])}
    table: list[VideoRowResult] = []
    for row in rows:
        video_id = created.get(row.key)
        if video_id is None:
            error = replica_error or created.get("!" + row.key) or "no video was created"
            table.append(VideoRowResult(key=row.key, outcome=Outcome.FAILED, error=error))
            continue
        outcome = by_id.get(video_id)
        video = outcome.video if outcome else None
        table.append(
            VideoRowResult(
                key=row.key,
                video_id=video_id,
                outcome=outcome.outcome if outcome else None,
                status=video.status if video else None,
                hosted_url=video.hosted_url if video else None,
                download_url=video.download_url if video else None,
                error=None if outcome is None or outcome.ok else outcome.error_message,
            )
        )
    return table


async def _generate_videos(
    replica_id: str,
    requests: list[Any],
    tavus_credentials: CredentialsInput,
    settings: WaitSettings,
    release_worker: bool,
    raise_on_failure: bool,
    require_completed_replica: bool = False,
) -> list[VideoRowResult]:
    rows = VideoRow.parse_batch(replica_id, requests)  # bad input fails here, before any request
    replica_id = validate_replica_id(replica_id)
    logger = get_run_logger()
    credentials = await aresolve_credentials(tavus_credentials)
    from_block = release_worker and credentials.callback_base_url is not None
    if from_block:
        credentials.callback_url()  # no usable token: fail before anything is created
    replica = await credentials.get_client().get_replica(replica_id)
    replica_error: str | None = None
    created: dict[str, str] = {}
    waited: VideoWaitResult | None = None
    if replica.is_failed:
        # Tavus would fail each video with replica_in_error_state; nothing is created (or billed).
        replica_error = (
            f"replica {replica_id} is in error: "
            f"{printable(replica.error_message or 'Tavus gave no error_message', 500)}"
        )
        logger.error(
            "Replica %s failed training; none of the %s is created: %s",
            replica_id,
            plural(len(rows), "video"),
            replica_error,
        )
    else:
        if require_completed_replica and not replica.is_completed:
            raise ReplicaNotReadyError(
                f"Replica {replica_id!r} is not completed according to Tavus ({replica.describe()}); "
                "nothing is generated with it (require_completed_replica). Was the event that started "
                "this run stale or replayed?",
                replica_id=replica_id,
            )
        if not replica.is_completed:
            logger.info(
                "Replica %s is still %s; Tavus queues the videos until it has trained.",
                replica_id,
                printable(replica.status, 40) or "training",
            )
        created = await _create_videos(
            credentials,
            rows,
            len(rows),
            callback_from_block=from_block,
            outage_budget_seconds=settings.max_outage_seconds,
        )
        ids = [video_id for key, video_id in created.items() if not key.startswith("!")]
        if ids:
            try:
                waited = await run_wait(
                    list(dict.fromkeys(ids)), credentials, settings, release_worker, kind=VIDEOS
                )
            except WaitCancelled:
                return cancelled_state(plural(len(ids), "video"))  # type: ignore[return-value]  # a flow may return a State: Prefect ends the run in it
    table = _results(rows, created, waited, replica_error)
    try:
        await acreate_table_artifact(
            table=[row.model_dump(mode="json") for row in table],
            key=_table_key(rows),
            description=_describe(table, replica_id),
        )
    except Exception as exc:
        logger.warning("Could not write the results table artifact: %s", printable(exc, 300))
    failed = [row for row in table if not row.ok]
    logger.info("%s", _describe(table, replica_id))
    if failed and raise_on_failure:
        shown = "; ".join(f"{row.key}: {row.error}" for row in failed[:10])
        raise VideosWaitFailedError(
            f"{_describe(table, replica_id)} Not ready: {shown}{' ...' if len(failed) > 10 else ''}. "
            "Pass raise_on_failure=False to get the table instead of an error.",
            table,
        )
    return table


def _describe(table: list[VideoRowResult], replica_id: str) -> str:
    ready = sum(1 for row in table if row.ok)
    return (
        f"{ready} of {plural(len(table), 'video')} ready from replica {replica_id}"
        f"{f'; {len(table) - ready} failed' if ready < len(table) else ''}."
    )


@flow(
    name="generate-videos",
    flow_run_name="generate-videos-{replica_id}",
    description="Generate one video per row with a replica, wait for them all, return the table.",
)
def generate_videos(
    replica_id: str,
    requests: list[dict[str, Any]],
    tavus_credentials: CredentialsInput = None,
    wait_settings: WaitSettings = GENERATE_WAIT_SETTINGS,
    release_worker: bool = False,
    raise_on_failure: bool = True,
    require_completed_replica: bool = False,
) -> list[VideoRowResult]:
    """Generate one video per row with a replica, wait for them all, return the table.

    Each row is a dict: ``key`` (the caller's, unique; what the table is joined back
    on), ``script`` or ``audio_url``, and any other field of ``VideoCreateRequest``
    (``video_name``, ``background_url``, ``fast``, ``callback_url``...). Every row is
    checked before anything is sent. Each row's video is created once per key, across
    retries, restarts and fresh containers: the run records its id the moment Tavus
    answers. A create whose answer was lost is looked up by ``video_name`` rather than
    sent again (name your videos); one not found fails its row and says so.

    Creates take slots of the ``tavus-api`` concurrency limit when it exists. A replica
    still training is fine (Tavus queues the videos); a replica in ``error`` fails every
    row with Tavus's reason, and nothing is created.

    Args:
        replica_id: the replica that speaks (checked before anything is sent).
        requests: the rows, as dicts (a deployment's JSON parameters give them so).
        tavus_credentials: a ``TavusCredentials`` block, a saved block's name, or None
            to use ``TAVUS_API_KEY``.
        wait_settings: how to wait for the videos, as for ``wait_for_videos`` (here 15 s
            growing to 2 min, giving up after 6 h).
        release_worker: as for ``wait_for_videos``: suspend while Tavus renders.
        raise_on_failure: fail the run (after publishing the table) if any row has no
            ready video; False returns the table either way.
        require_completed_replica: fail with ``ReplicaNotReadyError``, creating nothing,
            unless Tavus says the replica is completed: for a run started by a
            ``tavus.replica.completed`` event, which must not act on a stale or forged one.

    Returns:
        One ``VideoRowResult`` per row, in order: ``key``, ``video_id``, ``outcome``,
        ``status``, ``hosted_url``, ``download_url``, ``error``. Also published as the
        table artifact ``tavus-videos-<n>-rows-<hash>``.

    Raises:
        InvalidVideoRequestError: the replica id or a row is not valid, or keys repeat;
            the field is named, and nothing was sent.
        ReplicaNotReadyError: with ``require_completed_replica``, the replica is not
            completed; nothing was created.
        VideosWaitFailedError: with ``raise_on_failure``, some row has no ready video
            (after the table was published); carries the table.
        TavusAuthenticationError: the key was refused.
    """
    return run_coro_as_sync(
        _generate_videos(
            replica_id,
            requests,
            tavus_credentials,
            wait_settings,
            release_worker,
            raise_on_failure,
            require_completed_replica,
        )
    )


@flow(
    name="generate-videos",
    flow_run_name="generate-videos-{replica_id}",
    description="Generate one video per row with a replica, wait for them all, return the table.",
)
async def agenerate_videos(
    replica_id: str,
    requests: list[dict[str, Any]],
    tavus_credentials: CredentialsInput = None,
    wait_settings: WaitSettings = GENERATE_WAIT_SETTINGS,
    release_worker: bool = False,
    raise_on_failure: bool = True,
    require_completed_replica: bool = False,
) -> list[VideoRowResult]:
    """Async twin of :func:`generate_videos`: the same arguments, result and errors."""
    return await _generate_videos(
        replica_id,
        requests,
        tavus_credentials,
        wait_settings,
        release_worker,
        raise_on_failure,
        require_completed_replica,
    )
