"""Prefect tasks for the Tavus Videos API, each an async task with a sync twin.

Built as the replica tasks are (:mod:`prefect_tavus.tasks.replicas`): ``aget_video`` /
``get_video`` through ``async_dispatch``, one task run around one async implementation
that uses the credentials' shared HTTP client, the project's one retry policy for reads
and idempotent writes (429, 5xx, timeouts, dropped connections; ``Retry-After``
honoured), and typed errors that fail at once (authentication, not found, bad request).

Creating a video is never retried: each POST renders, and bills, a new video. It takes
one :class:`~prefect_tavus.core.VideoCreateRequest` (or its fields as a dict, as a
deployment's JSON parameters give them), checked before credentials are even resolved.
Status reads are never cached (``NO_CACHE``): a poll must ask Tavus every time.
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect._internal.compatibility.async_dispatch import async_dispatch
from prefect.cache_policies import NO_CACHE
from prefect.utilities.asyncutils import run_coro_as_sync

from prefect_tavus._run_names import create_video_task_run_name
from prefect_tavus.blocks import CredentialsInput, aresolve_credentials
from prefect_tavus.core import DEFAULT_VIDEO_PAGE_SIZE, Video, VideoCreateRequest, validate_video_id
from prefect_tavus.tasks._retry import honour_retry_after, retry_task_options

__all__ = [
    "acreate_video",
    "adelete_video",
    "aget_video",
    "alist_videos",
    "arename_video",
    "create_video",
    "delete_video",
    "get_video",
    "list_videos",
    "rename_video",
]


_READ = {"cache_policy": NO_CACHE, **retry_task_options()}


# --- create (never retried) --------------------------------------------------------


async def _create_video(
    request: VideoCreateRequest | dict[str, Any], tavus_credentials: CredentialsInput
) -> Video:
    checked = VideoCreateRequest.model_validate(request)  # bad input fails before anything else
    credentials = await aresolve_credentials(tavus_credentials)
    return await credentials.get_client().create_video(checked)


@task(
    name="create_video",
    task_run_name=create_video_task_run_name,  # type: ignore[arg-type]  # Prefect's protocol wants a classmethod no function has
    cache_policy=NO_CACHE,
    retries=0,
)
async def acreate_video(
    request: VideoCreateRequest | dict[str, Any], tavus_credentials: CredentialsInput = None
) -> Video:
    """Async twin of :func:`create_video`: the same arguments, result and errors."""
    return await _create_video(request, tavus_credentials)


@async_dispatch(acreate_video)
@task(
    name="create_video",
    task_run_name=create_video_task_run_name,  # type: ignore[arg-type]  # Prefect's protocol wants a classmethod no function has
    cache_policy=NO_CACHE,
    retries=0,
)
def create_video(
    request: VideoCreateRequest | dict[str, Any], tavus_credentials: CredentialsInput = None
) -> Video:
    """Start rendering a video (``POST /v2/videos``); returns it ``queued`` right away.

    Not retried: a retried POST would render (and bill) a second video. A lost answer
    fails with a :class:`~prefect_tavus.core.TavusTransientError` whose
    ``may_have_taken_effect`` is True: look at the account's videos before creating again.

    Args:
        request: a ``VideoCreateRequest``, or its fields as a dict.
        tavus_credentials: a ``TavusCredentials`` block, a saved block's name, or None
            to use ``TAVUS_API_KEY``.

    Returns:
        The new ``Video``, ``queued``.

    Raises:
        InvalidVideoRequestError: a bad field, named; nothing was sent.
        TavusAuthenticationError: the key was refused.
        TavusRequestError: Tavus refused the request (e.g. an unknown replica).
        TavusTransientError: no usable answer; the video may have been created.
    """
    return run_coro_as_sync(_create_video(request, tavus_credentials))


# --- get ---------------------------------------------------------------------------


async def _get_video(video_id: str, tavus_credentials: CredentialsInput, verbose: bool) -> Video:
    video_id = validate_video_id(video_id)
    credentials = await aresolve_credentials(tavus_credentials)
    await honour_retry_after()
    return await credentials.get_client().get_video(video_id, verbose=verbose)


@task(name="get_video", task_run_name="get-video-{video_id}", **_READ)
async def aget_video(
    video_id: str, tavus_credentials: CredentialsInput = None, verbose: bool = False
) -> Video:
    """Async twin of :func:`get_video`: the same arguments, result and errors."""
    return await _get_video(video_id, tavus_credentials, verbose)


@async_dispatch(aget_video)
@task(name="get_video", task_run_name="get-video-{video_id}", **_READ)
def get_video(
    video_id: str, tavus_credentials: CredentialsInput = None, verbose: bool = False
) -> Video:
    """Fetch one video (``GET /v2/videos/{video_id}``).

    Args:
        video_id: the video's id, e.g. ``"abcd123"``. Checked before any request.
        tavus_credentials: a ``TavusCredentials`` block, a saved block's name, or None
            to use ``TAVUS_API_KEY``.
        verbose: also return the thumbnails.

    Returns:
        The video as Tavus reports it (unknown fields kept).

    Raises:
        InvalidVideoIdError: the id is empty, not a string, or path-like.
        TavusAuthenticationError: the key was refused (no retry).
        TavusNotFoundError: no such video for this key (no retry).
        TavusTransientError: still failing after the retries.
    """
    return run_coro_as_sync(_get_video(video_id, tavus_credentials, verbose))


# --- list --------------------------------------------------------------------------


async def _list_videos(tavus_credentials: CredentialsInput, page_size: int) -> list[Video]:
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise ValueError(f"page_size must be a positive integer, got {page_size!r}.")
    credentials = await aresolve_credentials(tavus_credentials)
    await honour_retry_after()
    return [video async for video in credentials.get_client().iter_videos(page_size=page_size)]


@task(name="list_videos", task_run_name="list-videos", **_READ)
async def alist_videos(
    tavus_credentials: CredentialsInput = None, page_size: int = DEFAULT_VIDEO_PAGE_SIZE
) -> list[Video]:
    """Async twin of :func:`list_videos`: the same arguments, result and errors."""
    return await _list_videos(tavus_credentials, page_size)


@async_dispatch(alist_videos)
@task(name="list_videos", task_run_name="list-videos", **_READ)
def list_videos(
    tavus_credentials: CredentialsInput = None, page_size: int = DEFAULT_VIDEO_PAGE_SIZE
) -> list[Video]:
    """List the account's videos (``GET /v2/videos``), following every page.

    Pages are followed until Tavus's ``total_count`` is covered, whatever page size it
    really answers with; the order is Tavus's, which it does not document. A retry lists
    from the first page again. There is no id filter: use ``get_video`` for one video.

    Args:
        tavus_credentials: a ``TavusCredentials`` block, a saved block's name, or None
            to use ``TAVUS_API_KEY``.
        page_size: videos per request.

    Returns:
        Every video of the account, in Tavus's order.

    Raises:
        ValueError: ``page_size`` is not a positive integer.
        TavusAuthenticationError: the key was refused (no retry).
        TavusTransientError: still failing after the retries.
    """
    return run_coro_as_sync(_list_videos(tavus_credentials, page_size))


# --- rename / delete (idempotent, retried) -----------------------------------------


async def _rename_video(
    video_id: str, video_name: str, tavus_credentials: CredentialsInput
) -> None:
    video_id = validate_video_id(video_id)
    credentials = await aresolve_credentials(tavus_credentials)
    await honour_retry_after()
    await credentials.get_client().rename_video(video_id, video_name)


@task(name="rename_video", task_run_name="rename-video-{video_id}", **_READ)
async def arename_video(
    video_id: str, video_name: str, tavus_credentials: CredentialsInput = None
) -> None:
    """Async twin of :func:`rename_video`: the same arguments, result and errors."""
    await _rename_video(video_id, video_name, tavus_credentials)


@async_dispatch(arename_video)
@task(name="rename_video", task_run_name="rename-video-{video_id}", **_READ)
def rename_video(
    video_id: str, video_name: str, tavus_credentials: CredentialsInput = None
) -> None:
    """Rename a video (``PATCH /v2/videos/{video_id}/name``).

    Args:
        video_id: the video's id. Checked before any request.
        video_name: its new name.
        tavus_credentials: a ``TavusCredentials`` block, a saved block's name, or None
            to use ``TAVUS_API_KEY``.

    Raises:
        InvalidVideoIdError: the id is empty, not a string, or path-like.
        TavusAuthenticationError: the key was refused (no retry).
        TavusNotFoundError: no such video for this key (no retry).
        TavusTransientError: still failing after the retries.
    """
    run_coro_as_sync(_rename_video(video_id, video_name, tavus_credentials))


async def _delete_video(video_id: str, hard: bool, tavus_credentials: CredentialsInput) -> None:
    video_id = validate_video_id(video_id)
    credentials = await aresolve_credentials(tavus_credentials)
    await honour_retry_after()
    await credentials.get_client().delete_video(video_id, hard=hard)


@task(name="delete_video", task_run_name="delete-video-{video_id}", **_READ)
async def adelete_video(
    video_id: str, hard: bool = False, tavus_credentials: CredentialsInput = None
) -> None:
    """Async twin of :func:`delete_video`: the same arguments, result and errors."""
    await _delete_video(video_id, hard, tavus_credentials)


@async_dispatch(adelete_video)
@task(name="delete_video", task_run_name="delete-video-{video_id}", **_READ)
def delete_video(
    video_id: str, hard: bool = False, tavus_credentials: CredentialsInput = None
) -> None:
    """Delete a video (``DELETE /v2/videos/{video_id}``).

    Args:
        video_id: the video's id. Checked before any request.
        hard: delete irrevocably.
        tavus_credentials: a ``TavusCredentials`` block, a saved block's name, or None
            to use ``TAVUS_API_KEY``.

    Raises:
        InvalidVideoIdError: the id is empty, not a string, or path-like.
        TavusAuthenticationError: the key was refused (no retry).
        TavusNotFoundError: no such video for this key (no retry).
        TavusTransientError: still failing after the retries.
    """
    run_coro_as_sync(_delete_video(video_id, hard, tavus_credentials))
