"""The video tasks in flows on a real (temporary) Prefect server.

Tavus is played by respx at the HTTP layer, answers shaped as API-NOTES.md describes them,
because the simulator learns videos on another branch; these move onto it then. Only
requests to the fake Tavus address are mocked: Prefect's own API traffic passes through.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
import respx
from prefect import flow
from prefect.client.orchestration import get_client
from respx.patterns import M

from prefect_tavus.blocks import TavusCredentials
from prefect_tavus.core import (
    InvalidVideoIdError,
    InvalidVideoRequestError,
    TavusAuthenticationError,
    TavusNotFoundError,
    TavusServerError,
    Video,
    VideoCreateRequest,
)
from prefect_tavus.tasks import (
    acreate_video,
    adelete_video,
    aget_video,
    alist_videos,
    create_video,
    delete_video,
    get_video,
    list_videos,
    rename_video,
)

TAVUS_PORT = 8913
TAVUS = f"http://127.0.0.1:{TAVUS_PORT}"
KEY = "tvs-it-videos-key-93c1"
REPLICA = "r783537ef5"
FAST_RETRIES = {"retry_delay_seconds": [0.05] * 4, "retry_jitter_factor": 0}


@pytest.fixture
def tavus():
    """respx for the fake Tavus address only; everything else (Prefect) goes through."""
    with respx.mock(assert_all_called=False) as router:
        router.route(~M(host="127.0.0.1", port=TAVUS_PORT)).pass_through()
        yield router


@pytest.fixture
def credentials():
    return TavusCredentials(api_key=KEY, base_url=TAVUS, request_timeout_seconds=2, min_poll_spacing_seconds=0.01)


def _tavus_calls(router: respx.MockRouter) -> list[httpx.Request]:
    return [call.request for call in router.calls if call.request.url.port == TAVUS_PORT]


async def _task_run_names(flow_run_id, expected: int, timeout: float = 15.0) -> list[str]:
    """The flow run's task runs' names (recorded from events, so waited for)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async with get_client() as client:
        deadline = time.monotonic() + timeout
        while True:
            task_runs = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
            if len(task_runs) >= expected or time.monotonic() > deadline:
                return sorted(t.name for t in task_runs)
            await asyncio.sleep(0.2)


# --- create ------------------------------------------------------------------------------


def test_create_video_returns_the_queued_video_after_one_post(tavus, credentials):
    route = tavus.post(f"{TAVUS}/v2/videos").respond(200, json={
        "video_id": "abcd123", "video_name": "Welcome Ann", "status": "queued",
        "hosted_url": "https://tavus.video/abcd123", "created_at": "Mon, 14 Jul 2025 09:14:24 GMT",
    })

    @flow
    def pipeline():
        first = create_video(VideoCreateRequest(replica_id=REPLICA, script="Hello Ann", video_name="Welcome Ann"),
                             credentials)
        second = create_video({"replica_id": REPLICA, "audio_url": "https://cdn.example/a.mp3"}, credentials)
        return first, second

    state = pipeline(return_state=True)
    first, second = state.result()
    assert isinstance(first, Video) and first.video_id == "abcd123" and first.status == "queued"
    assert first.replica_id == REPLICA and second.video_id == "abcd123"
    assert route.call_count == 2
    assert json.loads(route.calls[0].request.content) == {
        "replica_id": REPLICA, "script": "Hello Ann", "video_name": "Welcome Ann",
    }
    names = asyncio.run(_task_run_names(state.state_details.flow_run_id, expected=2))
    assert names == ["create-video-r783537ef5", "create-video-welcome-ann"]


def test_create_video_is_never_retried(tavus, credentials):
    route = tavus.post(f"{TAVUS}/v2/videos").respond(503, json={"message": "busy"})

    @flow
    def pipeline():
        return create_video(VideoCreateRequest(replica_id=REPLICA, script="Hi"), credentials)

    with pytest.raises(TavusServerError) as info:
        pipeline()
    assert info.value.may_have_taken_effect  # Tavus may be rendering it anyway
    assert route.call_count == 1  # a retry could render, and bill, a second video


@pytest.mark.parametrize(
    "request_fields",
    [{"replica_id": REPLICA}, {"replica_id": REPLICA, "script": "Hi", "audio_url": "https://c/a.wav"},
     {"replica_id": REPLICA, "script": "   "}, {"replica_id": REPLICA, "script": "Hi", "transparent_background": True},
     {"replica_id": REPLICA, "audio_url": "ftp://c/a.wav"}, {"replica_id": "r1/../x", "script": "Hi"}],
)
async def test_bad_create_input_fails_the_task_before_any_request(tavus, credentials, request_fields):
    @flow
    async def pipeline():
        return await acreate_video(request_fields, credentials)

    with pytest.raises(InvalidVideoRequestError):
        await pipeline()
    assert _tavus_calls(tavus) == []


# --- get ---------------------------------------------------------------------------------


async def test_get_video_async_twin_asks_verbose(tavus, credentials):
    route = tavus.get(f"{TAVUS}/v2/videos/abcd123").respond(200, json={
        "video_id": "abcd123", "status": "ready", "download_url": "https://cdn.example/v.mp4",
        "data": {"script": "Hello"}, "gif_thumbnail_url": "https://cdn.example/t.gif",
    })

    @flow
    async def pipeline():
        return await get_video("abcd123", credentials, verbose=True)  # dispatches to aget_video

    state = await pipeline(return_state=True)
    video = await state.result()
    assert video.is_ready and video.script == "Hello" and video.gif_thumbnail_url == "https://cdn.example/t.gif"
    assert route.calls[0].request.url.params["verbose"] == "true"
    assert await _task_run_names(state.state_details.flow_run_id, expected=1) == ["get-video-abcd123"]


def test_get_video_retries_transient_faults_until_success(tavus, credentials):
    route = tavus.get(f"{TAVUS}/v2/videos/v1")
    route.side_effect = [httpx.Response(503), httpx.ReadTimeout("slow"), httpx.Response(200, text="<html>"),
                         httpx.Response(200, json={"video_id": "v1", "status": "generating"})]
    task = aget_video.with_options(**FAST_RETRIES)

    @flow
    async def pipeline():
        return await task("v1", credentials)

    assert asyncio.run(pipeline()).status == "generating"
    assert route.call_count == 4


def test_an_unknown_video_fails_after_exactly_one_request(tavus, credentials):
    route = tavus.get(f"{TAVUS}/v2/videos/nosuch1").respond(400, json={"error": "Invalid video_id"})

    @flow
    def pipeline():
        return get_video("nosuch1", credentials)

    with pytest.raises(TavusNotFoundError, match="no video 'nosuch1'.*Invalid video_id"):
        pipeline()
    assert route.call_count == 1


def test_a_refused_key_fails_after_exactly_one_request(tavus, credentials):
    route = tavus.get(f"{TAVUS}/v2/videos/v1").respond(401, json={"message": "Invalid access token"})

    @flow
    def pipeline():
        return get_video("v1", credentials)

    with pytest.raises(TavusAuthenticationError):
        pipeline()
    assert route.call_count == 1


@pytest.mark.parametrize("bad_id", ["", "a/b", "../v1", "v1?x", None, 42])
def test_a_bad_video_id_fails_before_any_request(tavus, credentials, bad_id):
    @flow
    def pipeline():
        return get_video(bad_id, credentials)

    with pytest.raises(InvalidVideoIdError):
        pipeline()
    assert _tavus_calls(tavus) == []


# --- list, rename, delete ----------------------------------------------------------------


def test_list_videos_follows_short_pages_by_total_count(tavus, credentials):
    pages = {1: ["a", "b"], 2: ["c", "d"], 3: ["e"]}  # asked for 5 a page, Tavus caps at 2

    def answer(request: httpx.Request) -> httpx.Response:
        ids = pages.get(int(request.url.params["page"]), [])
        return httpx.Response(200, json={"data": [{"video_id": i, "status": "ready"} for i in ids], "total_count": 5})

    route = tavus.get(f"{TAVUS}/v2/videos").mock(side_effect=answer)

    @flow
    def pipeline():
        return list_videos(credentials, page_size=5)

    state = pipeline(return_state=True)
    assert [v.video_id for v in state.result()] == ["a", "b", "c", "d", "e"]
    assert [call.request.url.params["limit"] for call in route.calls] == ["5", "5", "5"]
    assert asyncio.run(_task_run_names(state.state_details.flow_run_id, expected=1)) == ["list-videos"]


def test_list_videos_retries_a_page_that_failed(tavus, credentials):
    route = tavus.get(f"{TAVUS}/v2/videos")
    route.side_effect = [httpx.Response(502), httpx.Response(200, json={"data": [{"video_id": "a"}], "total_count": 1})]
    task = alist_videos.with_options(**FAST_RETRIES)

    @flow
    async def pipeline():
        return await task(credentials)

    assert [v.video_id for v in asyncio.run(pipeline())] == ["a"]
    assert route.call_count == 2


def test_rename_and_delete_accept_empty_2xx_and_are_named_after_the_video(tavus, credentials):
    rename = tavus.patch(f"{TAVUS}/v2/videos/v1/name").respond(200)
    delete = tavus.delete(f"{TAVUS}/v2/videos/v1")
    delete.side_effect = [httpx.Response(503), httpx.Response(204)]  # a delete is idempotent: retried
    retried_delete = adelete_video.with_options(**FAST_RETRIES)

    @flow
    async def pipeline():
        await rename_video("v1", "Renamed", credentials)  # dispatches to arename_video
        await retried_delete("v1", hard=True, tavus_credentials=credentials)

    state = asyncio.run(pipeline(return_state=True))
    assert state.is_completed()
    assert json.loads(rename.calls[0].request.content) == {"video_name": "Renamed"}
    assert [call.request.url.params["hard"] for call in delete.calls] == ["true", "true"]
    names = asyncio.run(_task_run_names(state.state_details.flow_run_id, expected=2))
    assert names == ["delete-video-v1", "rename-video-v1"]


def test_delete_video_sync_twin(tavus, credentials):
    route = tavus.delete(f"{TAVUS}/v2/videos/v2").respond(200, json={})

    @flow
    def pipeline():
        delete_video("v2", tavus_credentials=credentials)

    pipeline()
    assert route.calls[0].request.url.params["hard"] == "false"
