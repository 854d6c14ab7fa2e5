"""The video wait flows: wait until one video, or many, is rendered.

``wait_for_video`` / ``wait_for_videos`` are the one wait engine (``flows/_engine.py``)
with the video kind: the same settings, outage budget, deadline from the run's first
start, cancellation, ``release_worker`` with callbacks and the sweep as the replica waits;
events ``tavus.video.*`` and artifacts ``tavus-video-<id>``. Making videos (and waiting
for them) is ``generate_videos``, in ``flows/generate.py``; it is importable from here too,
for deployments whose entrypoint is ``flows/videos.py:generate_videos``.

Each flow has an async twin named with an ``a`` prefix, as the replica flows do.
"""

from __future__ import annotations

from prefect import flow
from prefect.utilities.asyncutils import run_coro_as_sync

from prefect_tavus._run_names import video_batch_wait_run_name
from prefect_tavus.blocks import CredentialsInput, aresolve_credentials
from prefect_tavus.core import (
    Video,
    VideoGenerationFailedError,
    VideoNotFoundDuringWaitError,
    VideosWaitFailedError,
    VideoWaitTimeoutError,
)
from prefect_tavus.core.kinds import VIDEOS
from prefect_tavus.core.text import plural
from prefect_tavus.core.validation import validate_video_id, validate_video_ids
from prefect_tavus.core.waiting import Outcome, VideoWaitResult, WaitSettings
from prefect_tavus.flows._cancellation import WaitCancelled
from prefect_tavus.flows._engine import cancelled_state, not_all_completed_message, run_wait

# isort: split
from prefect_tavus.flows.generate import agenerate_videos, generate_videos  # old entrypoint

__all__ = [
    "agenerate_videos",
    "await_for_video",
    "await_for_videos",
    "generate_videos",
    "wait_for_video",
    "wait_for_videos",
]


# --- one video -------------------------------------------------------------------------


async def _wait_for_video(
    video_id: str,
    tavus_credentials: CredentialsInput,
    settings: WaitSettings,
    raise_on_error: bool,
    release_worker: bool = False,
) -> Video:
    video_id = validate_video_id(video_id)
    credentials = await aresolve_credentials(tavus_credentials)
    try:
        result = await run_wait([video_id], credentials, settings, release_worker, kind=VIDEOS)
    except WaitCancelled:
        return cancelled_state(f"video {video_id}")  # type: ignore[return-value]  # a flow may return a State: Prefect ends the run in it
    (outcome,) = result.results
    video = outcome.video
    if outcome.outcome is Outcome.COMPLETED and video is not None:
        return video
    if outcome.outcome is Outcome.FAILED and video is not None:
        if raise_on_error:
            raise VideoGenerationFailedError(video)
        return video
    if outcome.outcome is Outcome.TIMED_OUT:
        raise VideoWaitTimeoutError(
            video_id,
            waited_seconds=result.elapsed_seconds,
            last_status=video.status if video else None,
        )
    raise VideoNotFoundDuringWaitError(
        video_id, outcome.cause, status=video.status if video else None
    ) from outcome.cause


@flow(
    name="wait-for-video",
    flow_run_name="wait-for-video-{video_id}",
    description="Wait until a video is rendered; return it (with its ``hosted_url`` and ``download_url``).",
)
def wait_for_video(
    video_id: str,
    tavus_credentials: CredentialsInput = None,
    wait_settings: WaitSettings = WaitSettings(),
    raise_on_error: bool = True,
    release_worker: bool = False,
) -> Video:
    """Wait until a video is rendered; return it (with its ``hosted_url`` and ``download_url``).

    Polls ``GET /v2/videos/{id}``, starting every ``poll_interval_seconds`` and slowing to
    ``max_poll_interval_seconds``; logs when the status changes; emits ``tavus.video.*``
    events (``completed`` is the one a next step triggers on).

    Args:
        video_id: the video to wait for.
        tavus_credentials: a ``TavusCredentials`` block, a saved block's name, or None to
            use ``TAVUS_API_KEY``.
        wait_settings: as for ``wait_for_replica`` (``timeout_seconds`` counts from the
            flow run's first start).
        raise_on_error: if the video fails, fail the run with
            ``VideoGenerationFailedError`` (True) or return the failed video (False).
        release_worker: in a deployment run, suspend while Tavus renders, as
            ``wait_for_replica`` does; Tavus's video callback or the sweep resumes it.

    Returns:
        The video, ``ready`` (or ``error`` with ``raise_on_error=False``).

    Raises:
        InvalidVideoIdError: the id is empty, not a string, or path-like (nothing sent).
        VideoGenerationFailedError: status ``error``; carries the video and Tavus's reason.
        VideoWaitTimeoutError: the deadline passed.
        VideoNotFoundDuringWaitError: no such video for this key, or it was deleted.
        TavusAuthenticationError: the key was refused (after one request).
        TavusAPIUnavailableError: transient faults outlasted ``max_outage_seconds``.
    """
    return run_coro_as_sync(
        _wait_for_video(video_id, tavus_credentials, wait_settings, raise_on_error, release_worker)
    )


@flow(
    name="wait-for-video",
    flow_run_name="wait-for-video-{video_id}",
    description="Wait until a video is rendered; return it (with its ``hosted_url`` and ``download_url``).",
)
async def await_for_video(
    video_id: str,
    tavus_credentials: CredentialsInput = None,
    wait_settings: WaitSettings = WaitSettings(),
    raise_on_error: bool = True,
    release_worker: bool = False,
) -> Video:
    """Async twin of :func:`wait_for_video`: the same arguments, result and errors."""
    return await _wait_for_video(
        video_id, tavus_credentials, wait_settings, raise_on_error, release_worker
    )


# --- many videos -----------------------------------------------------------------------


async def _wait_for_videos(
    video_ids: list[str],
    tavus_credentials: CredentialsInput,
    settings: WaitSettings,
    raise_on_failure: bool,
    release_worker: bool = False,
) -> VideoWaitResult:
    ids = list(dict.fromkeys(validate_video_ids(video_ids)))
    credentials = await aresolve_credentials(tavus_credentials)
    try:
        result = await run_wait(ids, credentials, settings, release_worker, kind=VIDEOS)
    except WaitCancelled:
        return cancelled_state(plural(len(ids), "video"))  # type: ignore[return-value]  # a flow may return a State: Prefect ends the run in it
    if raise_on_failure and not result.all_completed:
        raise VideosWaitFailedError(not_all_completed_message(result), result)
    return result


@flow(
    name="wait-for-videos",
    flow_run_name=video_batch_wait_run_name,
    description="Wait until every video in a batch is rendered.",
)
def wait_for_videos(
    video_ids: list[str],
    tavus_credentials: CredentialsInput = None,
    wait_settings: WaitSettings = WaitSettings(),
    raise_on_failure: bool = True,
    release_worker: bool = False,
) -> VideoWaitResult:
    """Wait until every video in a batch is rendered.

    The video list has no id filter: each round reads list pages from the newest end
    until every pending video has been seen, with single GETs for the rest or when that
    is cheaper (``core/video_polling.py`` says when, with the measurements behind it).

    Args:
        video_ids: the videos to wait for (duplicates are waited on once).
        tavus_credentials: a ``TavusCredentials`` block, a saved block's name, or None
            to use ``TAVUS_API_KEY``.
        wait_settings: how to poll and when to give up, as for ``wait_for_replica``;
            ``page_size`` is the videos per list page.
        raise_on_failure: fail the run with ``VideosWaitFailedError`` if any video is
            not ready (True), or return the results (False).
        release_worker: as for ``wait_for_video``; a suspended batch is resumed once
            every video it waits for has finished (or its deadline passed).

    Returns:
        A ``VideoWaitResult``: one ``VideoOutcome`` per video in input order, with
        ``summary()``, the elapsed time, the poll rounds and the requests made.

    Raises:
        InvalidVideoIdError: an id is empty, not a string, or path-like (nothing sent).
        VideosWaitFailedError: with ``raise_on_failure``, some video is not ready;
            carries the ``result``.
        TavusAuthenticationError: the key was refused (after one request).
        TavusAPIUnavailableError: transient faults outlasted ``max_outage_seconds``.
    """
    return run_coro_as_sync(
        _wait_for_videos(
            video_ids, tavus_credentials, wait_settings, raise_on_failure, release_worker
        )
    )


@flow(
    name="wait-for-videos",
    flow_run_name=video_batch_wait_run_name,
    description="Wait until every video in a batch is rendered.",
)
async def await_for_videos(
    video_ids: list[str],
    tavus_credentials: CredentialsInput = None,
    wait_settings: WaitSettings = WaitSettings(),
    raise_on_failure: bool = True,
    release_worker: bool = False,
) -> VideoWaitResult:
    """Async twin of :func:`wait_for_videos`: the same arguments, result and errors."""
    return await _wait_for_videos(
        video_ids, tavus_credentials, wait_settings, raise_on_failure, release_worker
    )
