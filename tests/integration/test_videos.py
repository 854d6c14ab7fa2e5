"""The video tasks in flows on a real (temporary) Prefect server, against the simulator over HTTP.

Every task and its async twin creates, reads, lists, renames and deletes videos the local Tavus
simulator really holds; faults are injected into it per route or per video and counted in
``simulator.stats()``. Nothing is mocked: the simulator produces every answer these tests need
(429/5xx with ``Retry-After``, lost and garbled answers, 400 for unknown ids, 401, videos
queued behind a training replica, replicas in error, page caps), so respx is not used.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from prefect import flow
from prefect.client.orchestration import get_client

from prefect_tavus.blocks import TavusCredentials
from prefect_tavus.core import (
    DEFAULT_RETRY_POLICY,
    InvalidVideoIdError,
    InvalidVideoRequestError,
    TavusAuthenticationError,
    TavusConnectionError,
    TavusError,
    TavusMalformedResponseError,
    TavusNotFoundError,
    TavusRateLimitError,
    TavusServerError,
    Video,
    VideoCreateRequest,
)
from prefect_tavus.simulator import (
    REPLICA_IN_ERROR_STATE,
    ROUTE_VIDEO_CREATE,
    ROUTE_VIDEO_DELETE,
    ROUTE_VIDEO_GET,
    ROUTE_VIDEO_LIST,
    ROUTE_VIDEO_RENAME,
    Fault,
    TavusSimulator,
)
from prefect_tavus.tasks import (
    acreate_video,
    adelete_video,
    aget_video,
    alist_videos,
    arename_video,
    create_video,
    delete_video,
    get_video,
    list_videos,
    rename_video,
)
from tests.conftest import SIM_KEY

#: Prefect retries without the policy's 2 s backoff (the retry condition is kept).
FAST_RETRIES = {"retry_delay_seconds": [0.05] * 4, "retry_jitter_factor": 0}
#: The simulator's status_details of a video queued behind a training replica.
WAITING_FOR_TRAINING = "Your video is queued until its replica finishes training."


def _requests(sim: TavusSimulator) -> int:
    return sim.stats()["requests"]


def _routes(sim: TavusSimulator) -> dict[str, int]:
    return sim.stats()["by_route"]


async def _task_run_names(flow_run_id, expected: int, timeout: float = 15.0) -> list[str]:
    """The flow run's task runs' names (recorded from events, so waited for)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async with get_client() as client:
        deadline = time.monotonic() + timeout
        while True:
            task_runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            if len(task_runs) >= expected or time.monotonic() > deadline:
                return sorted(t.name for t in task_runs)
            await asyncio.sleep(0.2)


@pytest.fixture
def trained(simulator: TavusSimulator) -> str:
    """A replica that has finished training."""
    return simulator.add_replica(replica_name="Ann", training_seconds=0)


# --- create ------------------------------------------------------------------------------


def test_create_video_sync_twin_renders_real_videos(simulator, credentials, trained):
    @flow
    def pipeline():
        first = create_video(
            VideoCreateRequest(replica_id=trained, script="Hello Ann", video_name="Welcome Ann"),
            credentials,
        )
        second = create_video(
            {"replica_id": trained, "audio_url": "https://cdn.example/a.mp3"}, credentials
        )
        return first, second

    state = pipeline(return_state=True)
    first, second = state.result()
    assert (
        isinstance(first, Video) and first.status == "queued" and first.video_name == "Welcome Ann"
    )
    assert first.replica_id == trained and first.hosted_url and first.created_at is not None
    assert first.video_id != second.video_id
    # The simulator holds both, made from exactly the bodies the task sent.
    assert simulator.video_request(first.video_id) == {
        "replica_id": trained,
        "script": "Hello Ann",
        "video_name": "Welcome Ann",
    }
    assert simulator.video_request(second.video_id) == {
        "replica_id": trained,
        "audio_url": "https://cdn.example/a.mp3",
    }
    assert simulator.video_payload(second.video_id)["replica_id"] == trained
    assert _routes(simulator) == {ROUTE_VIDEO_CREATE: 2}
    names = asyncio.run(_task_run_names(state.state_details.flow_run_id, expected=2))
    assert names == [f"create-video-{trained}", "create-video-welcome-ann"]


async def test_create_video_async_twin_sends_both_spellings_as_documented(
    simulator, credentials, trained
):
    @flow
    async def pipeline():
        fast = await acreate_video(
            {
                "replica_id": trained,
                "script": "Hi",
                "fast": True,
                "transparent_background": True,
                "watermark_url": "https://cdn.example/w.png",
            },
            credentials,
        )
        dispatched = await create_video(
            {"replica_id": trained, "script": "Bye"}, credentials
        )  # -> acreate_video
        return fast, dispatched

    fast, dispatched = await pipeline()
    assert fast.status == dispatched.status == "queued"
    assert (
        simulator.video_request(fast.video_id)
        == {
            "replica_id": trained,
            "script": "Hi",
            "fast": True,
            "transparent_background": True,
            "watermark_image_url": "https://cdn.example/w.png",  # the API reference's name, not the guide's
        }
    )
    assert simulator.video_payload(dispatched.video_id)["data"] == {"script": "Bye"}
    assert _routes(simulator) == {ROUTE_VIDEO_CREATE: 2}


@pytest.mark.parametrize("twin", ["sync", "async"])
@pytest.mark.parametrize(
    ("fault", "error_type", "took_effect"),
    [
        (Fault.lost_answer(), TavusConnectionError, True),  # served, then the connection closed
        (Fault.garbage(), TavusMalformedResponseError, True),  # served, answered with HTML
        (Fault.status(503), TavusServerError, False),  # refused (the simulator made nothing)
    ],
    ids=["lost-answer", "garbled-answer", "503"],
)
def test_create_is_sent_once_when_its_answer_is_lost(
    simulator, credentials, trained, twin, fault, error_type, took_effect
):
    simulator.inject_faults(ROUTE_VIDEO_CREATE, [fault])
    body = {"replica_id": trained, "script": "Hi", "video_name": "Once"}
    if twin == "sync":

        @flow
        def pipeline():
            return create_video(body, credentials)

        run = pipeline
    else:

        @flow
        async def apipeline():
            return await acreate_video(body, credentials)

        def run():
            return asyncio.run(apipeline())

    with pytest.raises(error_type) as info:
        run()
    # The error says the video may exist; neither the client nor the task sends the POST again.
    assert info.value.may_have_taken_effect is True
    assert _routes(simulator) == {ROUTE_VIDEO_CREATE: 1}
    # Whether it did take effect is the simulator's to say: a lost answer made a real video.
    videos = simulator.state.video_list_page(api_key=None, limit=10, page=1)[0]
    assert [v["video_name"] for v in videos] == (["Once"] if took_effect else [])
    if error_type is TavusConnectionError:
        assert "may have reached Tavus" in str(info.value)


def test_create_refused_with_429_is_not_resent_by_the_task_either(simulator, credentials, trained):
    # A 429 proves nothing was created, and the retry policy would allow a resend
    # (may_resend), but the create task has retries=0: resending is left to the caller.
    simulator.inject_faults(ROUTE_VIDEO_CREATE, [Fault.status(429, retry_after="1")])

    @flow
    def pipeline():
        return create_video({"replica_id": trained, "script": "Hi"}, credentials)

    with pytest.raises(TavusRateLimitError) as info:
        pipeline()
    assert info.value.may_have_taken_effect is False and info.value.retry_after == 1.0
    assert DEFAULT_RETRY_POLICY.may_resend(info.value, idempotent=False)
    assert _routes(simulator) == {ROUTE_VIDEO_CREATE: 1}
    assert simulator.state.video_list_page(api_key=None, limit=10, page=1) == ([], 0)


def test_create_for_a_replica_tavus_does_not_know_is_refused_once(simulator, credentials):
    @flow
    def pipeline():
        return create_video({"replica_id": "rnosuchrep01", "script": "Hi"}, credentials)

    with pytest.raises(TavusError, match="Invalid replica_id") as info:
        pipeline()
    assert not isinstance(info.value, InvalidVideoRequestError)  # Tavus's refusal, not ours
    assert info.value.status_code == 400
    assert _routes(simulator) == {ROUTE_VIDEO_CREATE: 1}


# --- bad input: a typed error naming the field, before any request -------------------------

R = "r783537ef5"


@pytest.mark.parametrize("twin", ["sync", "async"])
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"replica_id": R}, "script"),  # neither script nor audio_url
        (
            {"replica_id": R, "script": "Hi", "audio_url": "https://c.example/a.wav"},
            "script",
        ),  # both
        ({"replica_id": R, "script": ""}, "script"),
        ({"replica_id": R, "script": " \n\t "}, "script"),
        (
            {"replica_id": R, "script": "Hi", "transparent_background": True},
            "transparent_background",
        ),
        (
            {"replica_id": R, "script": "Hi", "transparent_background": True, "fast": False},
            "transparent_background",
        ),
        ({"replica_id": R, "audio_url": "ftp://c.example/a.wav"}, "audio_url"),
        ({"replica_id": R, "audio_url": "cdn.example/a.wav"}, "audio_url"),
        (
            {"replica_id": R, "script": "Hi", "background_url": "javascript:alert(1)"},
            "background_url",
        ),
        (
            {"replica_id": R, "script": "Hi", "background_source_url": "s3://b/k.mp4"},
            "background_source_url",
        ),
        ({"replica_id": "r1/../x", "script": "Hi"}, "replica_id"),
        ({"replica_id": "r1?x", "script": "Hi"}, "replica_id"),
        ({"replica_id": " r1", "script": "Hi"}, "replica_id"),
        ({"replica_id": "", "script": "Hi"}, "replica_id"),
        ({"replica_id": 42, "script": "Hi"}, "replica_id"),
    ],
    ids=[
        "neither-source",
        "both-sources",
        "empty-script",
        "blank-script",
        "transparent-without-fast",
        "transparent-fast-false",
        "audio-ftp",
        "audio-no-scheme",
        "background-javascript",
        "background-source-s3",
        "replica-dotdot",
        "replica-query",
        "replica-space",
        "replica-empty",
        "replica-int",
    ],
)
def test_bad_create_input_fails_naming_the_field_before_any_request(
    simulator, credentials, twin, fields, field
):
    if twin == "sync":

        @flow
        def pipeline():
            return create_video(fields, credentials)

        run = pipeline
    else:

        @flow
        async def apipeline():
            return await acreate_video(fields, credentials)

        def run():
            return asyncio.run(apipeline())

    with pytest.raises(InvalidVideoRequestError) as info:
        run()
    assert info.value.field == field and field in str(info.value)
    assert "Nothing was sent" in str(info.value)
    assert _requests(simulator) == 0 and simulator.stats()["connections"] == 0


@pytest.mark.parametrize(
    "bad_id", ["", "  ", "a/b", "../v1", "v1?x", "v1#x", "v 1", " v1", None, 42]
)
def test_a_bad_video_id_fails_every_task_before_any_request(simulator, credentials, bad_id):
    calls = {
        "get_video": lambda: get_video(bad_id, credentials),
        "rename_video": lambda: rename_video(bad_id, "New name", credentials),
        "delete_video": lambda: delete_video(bad_id, tavus_credentials=credentials),
    }

    @flow
    def pipeline():
        refused = {}
        for name, call in calls.items():
            try:
                call()
            except InvalidVideoIdError as exc:
                refused[name] = exc
        return refused

    refused = pipeline()
    assert sorted(refused) == sorted(calls)
    assert all("video_id" in str(exc) for exc in refused.values())
    assert _requests(simulator) == 0


async def test_a_bad_video_id_fails_the_async_twins_before_any_request(simulator, credentials):
    @flow
    async def pipeline():
        refused = []
        for call in (
            lambda: aget_video("v1/../v2", credentials),
            lambda: arename_video("v1?x", "N", credentials),
            lambda: adelete_video("", tavus_credentials=credentials),
        ):
            try:
                await call()
            except InvalidVideoIdError as exc:
                refused.append(exc)
        return refused

    assert len(await pipeline()) == 3
    assert _requests(simulator) == 0


# --- get ---------------------------------------------------------------------------------


def test_get_video_sync_twin_reads_a_ready_video(simulator, credentials, trained):
    video_id = simulator.add_video(
        replica_id=trained, video_name="Hello", script="Hello", generation_seconds=0
    )

    @flow
    def pipeline():
        return get_video(video_id, credentials, verbose=True)

    state = pipeline(return_state=True)
    video = state.result()
    assert video.is_ready and video.video_id == video_id and video.replica_id == trained
    assert video.script == "Hello" and video.download_url and video.stream_url
    assert video.gif_thumbnail_url and video.still_image_thumbnail_url  # verbose
    assert video.updated_at is not None and video.status_details
    assert simulator.stats()["by_video"] == {video_id: 1}
    assert asyncio.run(_task_run_names(state.state_details.flow_run_id, expected=1)) == [
        f"get-video-{video_id}"
    ]


async def test_get_video_async_twins_read_a_generating_video(simulator, credentials, trained):
    video_id = simulator.add_video(replica_id=trained, script="Hi", generation_seconds=600)

    @flow
    async def pipeline():
        dispatched = await get_video(video_id, credentials)  # -> aget_video
        direct = await aget_video(video_id, credentials)
        return dispatched, direct

    dispatched, direct = await pipeline()
    assert dispatched.status == direct.status == "generating"
    assert not dispatched.is_terminal and dispatched.download_url is None
    assert (
        dispatched.gif_thumbnail_url is None
        and "gif_thumbnail_url" not in dispatched.model_fields_set
    )
    assert simulator.stats()["by_video"] == {video_id: 2}


async def test_get_video_retries_5xx_429_and_lost_answers_until_success(
    simulator, credentials, trained
):
    video_id = simulator.add_video(replica_id=trained, script="Hi", generation_seconds=0)
    simulator.inject_faults(
        video_id,
        [Fault.status(503), Fault.status(429, retry_after="1"), Fault.drop(), Fault.garbage()],
    )
    task = aget_video.with_options(**FAST_RETRIES)

    @flow
    async def pipeline():
        started = time.monotonic()
        video = await task(video_id, credentials)
        return video, time.monotonic() - started

    video, elapsed = await pipeline()
    assert video.is_ready
    assert (
        simulator.stats()["by_video"] == {video_id: 5} and simulator.stats()["faults_served"] == 4
    )
    assert elapsed >= 1.0  # the 429's Retry-After, not the 0.05 s backoff


def test_get_video_sync_twin_retries_with_its_shipped_options(simulator, credentials, trained):
    # No with_options here (the sync twin is a dispatching function): one retry with the
    # policy's own backoff, 1 to 2 s.
    video_id = simulator.add_video(replica_id=trained, script="Hi", generation_seconds=0)
    simulator.inject_faults(ROUTE_VIDEO_GET, [Fault.status(502)])

    @flow
    def pipeline():
        return get_video(video_id, credentials)

    assert pipeline().is_ready
    assert simulator.stats()["by_video"] == {video_id: 2}


async def test_get_video_gives_up_after_the_policys_attempts(simulator, credentials, trained):
    video_id = simulator.add_video(replica_id=trained, script="Hi")
    simulator.inject_faults(video_id, [Fault.status(500)] * 10)
    task = aget_video.with_options(**FAST_RETRIES)

    @flow
    async def pipeline():
        return await task(video_id, credentials)

    with pytest.raises(TavusServerError):
        await pipeline()
    assert simulator.stats()["by_video"] == {video_id: DEFAULT_RETRY_POLICY.attempts}


@pytest.mark.parametrize("twin", ["sync", "async"])
def test_an_unknown_video_fails_after_exactly_one_request(simulator, credentials, twin):
    if twin == "sync":

        @flow
        def pipeline():
            return get_video("vnosuchvid1", credentials)

        run = pipeline
    else:

        @flow
        async def apipeline():
            return await aget_video("vnosuchvid1", credentials)

        def run():
            return asyncio.run(apipeline())

    with pytest.raises(
        TavusNotFoundError, match=r"no video 'vnosuchvid1'.*Invalid video_id"
    ) as info:
        run()
    assert info.value.video_id == "vnosuchvid1" and info.value.status_code == 400
    assert simulator.stats()["by_video"] == {"vnosuchvid1": 1}


@pytest.mark.parametrize("twin", ["sync", "async"])
def test_a_refused_key_fails_every_task_after_exactly_one_request_each(simulator, twin):
    video_id = simulator.add_video(script="Hi")
    wrong = TavusCredentials(
        api_key="wrong-key", base_url=simulator.url, min_poll_spacing_seconds=0
    )
    if twin == "sync":
        calls = [
            lambda: create_video({"replica_id": R, "script": "Hi"}, wrong),
            lambda: get_video(video_id, wrong),
            lambda: list_videos(wrong),
            lambda: rename_video(video_id, "N", wrong),
            lambda: delete_video(video_id, tavus_credentials=wrong),
        ]

        @flow
        def pipeline():
            refused = []
            for call in calls:
                try:
                    call()
                except TavusAuthenticationError as exc:
                    refused.append(exc)
            return refused

        refused = pipeline()
    else:
        acalls = [
            lambda: acreate_video({"replica_id": R, "script": "Hi"}, wrong),
            lambda: aget_video(video_id, wrong),
            lambda: alist_videos(wrong),
            lambda: arename_video(video_id, "N", wrong),
            lambda: adelete_video(video_id, tavus_credentials=wrong),
        ]

        @flow
        async def apipeline():
            refused = []
            for call in acalls:
                try:
                    await call()
                except TavusAuthenticationError as exc:
                    refused.append(exc)
            return refused

        refused = asyncio.run(apipeline())
    assert len(refused) == 5 and all(exc.status_code == 401 for exc in refused)
    assert "refused the API key" in str(refused[0])
    assert simulator.stats()["unauthorized"] == 5 and _requests(simulator) == 5  # none retried
    assert simulator.video_payload(video_id)["video_name"] == "My Video"  # nothing changed


# --- list --------------------------------------------------------------------------------


def test_list_videos_follows_capped_pages_by_total_count():
    # Tavus documents neither a largest page nor an order: this one answers 2 a page, newest first.
    with TavusSimulator(
        api_keys=(SIM_KEY,), video_max_page_size=2, video_list_order="newest_first"
    ) as sim:
        credentials = TavusCredentials(
            api_key=SIM_KEY, base_url=sim.url, min_poll_spacing_seconds=0
        )
        ids = [sim.add_video(script=f"#{n}", video_name=f"V{n}") for n in range(5)]

        @flow
        def pipeline():
            return list_videos(credentials, page_size=5)

        state = pipeline(return_state=True)
        videos = state.result()
        assert [v.video_id for v in videos] == ids[::-1]
        assert _routes(sim) == {ROUTE_VIDEO_LIST: 3}  # 2 + 2 + 1
    assert asyncio.run(_task_run_names(state.state_details.flow_run_id, expected=1)) == [
        "list-videos"
    ]


async def test_alist_videos_retries_a_failed_page_and_lists_every_state(
    simulator, credentials, trained
):
    failing = simulator.add_replica(training_seconds=0, outcome="error")
    ready = simulator.add_video(replica_id=trained, script="a", generation_seconds=0)
    doomed = simulator.add_video(replica_id=failing, script="b")
    soft = simulator.add_video(replica_id=trained, script="c")
    simulator.delete_video(soft)
    simulator.inject_faults(ROUTE_VIDEO_LIST, [Fault.status(502), Fault.status(429)])
    task = alist_videos.with_options(**FAST_RETRIES)

    @flow
    async def pipeline():
        return await task(credentials)

    listed = {video.video_id: video for video in await pipeline()}
    assert set(listed) == {ready, doomed, soft}
    assert listed[ready].is_ready and listed[soft].is_deleted
    assert listed[doomed].is_failed and listed[doomed].error_details == [REPLICA_IN_ERROR_STATE]
    assert _routes(simulator) == {ROUTE_VIDEO_LIST: 3}


async def test_list_videos_dispatches_to_its_async_twin_with_an_empty_account(
    simulator, credentials
):
    @flow
    async def pipeline():
        return await list_videos(credentials)

    assert await pipeline() == []
    assert _routes(simulator) == {ROUTE_VIDEO_LIST: 1}


# --- rename and delete -------------------------------------------------------------------


def test_rename_and_delete_sync_twins_change_real_videos(simulator, credentials, trained):
    soft = simulator.add_video(replica_id=trained, script="a", video_name="Old")
    hard = simulator.add_video(replica_id=trained, script="b")

    @flow
    def pipeline():
        rename_video(soft, "Renamed", credentials)
        delete_video(soft, tavus_credentials=credentials)
        delete_video(hard, hard=True, tavus_credentials=credentials)
        return list_videos(credentials)

    state = pipeline(return_state=True)
    listed = state.result()
    assert [(v.video_id, v.video_name, v.status) for v in listed] == [(soft, "Renamed", "deleted")]
    with pytest.raises(KeyError):
        simulator.video_payload(hard)  # hard-deleted: gone
    assert _routes(simulator) == {ROUTE_VIDEO_RENAME: 1, ROUTE_VIDEO_DELETE: 2, ROUTE_VIDEO_LIST: 1}
    names = asyncio.run(_task_run_names(state.state_details.flow_run_id, expected=4))
    assert names == sorted(
        [f"rename-video-{soft}", f"delete-video-{soft}", f"delete-video-{hard}", "list-videos"]
    )


async def test_rename_and_delete_async_twins_are_retried_on_5xx_and_429(
    simulator, credentials, trained
):
    video_id = simulator.add_video(replica_id=trained, script="a")
    simulator.inject_faults(ROUTE_VIDEO_RENAME, [Fault.status(503), Fault.status(429)])
    simulator.inject_faults(ROUTE_VIDEO_DELETE, [Fault.status(500)])
    rename = arename_video.with_options(**FAST_RETRIES)
    delete = adelete_video.with_options(**FAST_RETRIES)

    @flow
    async def pipeline():
        await rename(video_id, "Renamed", credentials)
        await delete(video_id, hard=True, tavus_credentials=credentials)

    await pipeline()
    assert _routes(simulator) == {ROUTE_VIDEO_RENAME: 3, ROUTE_VIDEO_DELETE: 2}
    with pytest.raises(KeyError):
        simulator.video_payload(video_id)


async def test_rename_and_delete_dispatch_to_their_async_twins(simulator, credentials, trained):
    video_id = simulator.add_video(replica_id=trained, script="a")

    @flow
    async def pipeline():
        await rename_video(video_id, "Async", credentials)
        await delete_video(video_id, tavus_credentials=credentials)

    await pipeline()
    assert (
        simulator.video_payload(video_id)["video_name"],
        simulator.video_payload(video_id)["status"],
    ) == ("Async", "deleted")


def test_delete_accepts_an_empty_204():
    # Tavus documents 200 for a delete; 204 with no body has been seen.
    with TavusSimulator(api_keys=(SIM_KEY,), delete_status=204) as sim:
        credentials = TavusCredentials(
            api_key=SIM_KEY, base_url=sim.url, min_poll_spacing_seconds=0
        )
        video_id = sim.add_video(script="Hi")

        @flow
        def pipeline():
            return delete_video(video_id, tavus_credentials=credentials)

        assert pipeline() is None
        assert sim.video_payload(video_id)["status"] == "deleted"


def test_rename_and_delete_of_an_unknown_video_fail_after_one_request_each(simulator, credentials):
    @flow
    def pipeline():
        refused = []
        for call in (
            lambda: rename_video("vnosuchvid1", "N", credentials),
            lambda: delete_video("vnosuchvid1", tavus_credentials=credentials),
        ):
            try:
                call()
            except TavusNotFoundError as exc:
                refused.append(exc)
        return refused

    refused = pipeline()
    assert [exc.video_id for exc in refused] == ["vnosuchvid1", "vnosuchvid1"]
    assert _routes(simulator) == {ROUTE_VIDEO_RENAME: 1, ROUTE_VIDEO_DELETE: 1}


# --- the video's life: its replica decides when it starts, or that it fails -------------


def test_a_video_requested_while_its_replica_trains_stays_queued_until_training_ends(
    simulator, credentials
):
    training = simulator.add_replica(training_seconds=3600)  # ends when this test says
    simulator.script_created_videos(generation_seconds=3600)  # then generates for long

    @flow
    def request_and_look():
        created = create_video({"replica_id": training, "script": "Hi"}, credentials)
        return created, get_video(created.video_id, credentials)

    created, looked = request_and_look()
    assert created.status == looked.status == "queued"
    assert looked.status_details == WAITING_FOR_TRAINING
    assert simulator.video_started_at(created.video_id) is None

    simulator.end_training(training)

    @flow
    async def look_again():
        return await aget_video(created.video_id, credentials)

    later = asyncio.run(look_again())
    assert later.status == "generating" and not later.is_terminal
    assert simulator.video_started_at(created.video_id) == simulator.finished_at(training)


def test_a_replica_in_error_fails_its_videos_with_replica_in_error_state(simulator, credentials):
    failed = simulator.add_replica(training_seconds=0, outcome="error", error_message="No face")
    failing = simulator.add_replica(training_seconds=3600, outcome="error")

    @flow
    def pipeline():
        return [
            create_video({"replica_id": rid, "script": "Hi"}, credentials)
            for rid in (failed, failing)
        ]

    after_failure, before_failure = pipeline()
    assert (
        after_failure.status == before_failure.status == "queued"
    )  # Tavus accepts, then fails them

    simulator.end_training(failing)

    @flow
    async def look():
        return [await aget_video(v.video_id, credentials) for v in (after_failure, before_failure)]

    for video in asyncio.run(look()):
        assert video.status == "error" and video.is_failed
        assert video.status_details == video.failure_reason == REPLICA_IN_ERROR_STATE
        assert video.download_url is None and video.stream_url is None


def test_error_videos_carry_their_status_details(simulator, credentials, trained):
    simulator.script_created_videos(
        outcome="error", error_reason="audio_too_short", generation_seconds=0
    )
    added = simulator.add_video(
        replica_id=trained, script="x", generation_seconds=0, outcome="error"
    )

    @flow
    def pipeline():
        created = create_video(
            {"replica_id": trained, "audio_url": "https://cdn.example/short.wav"}, credentials
        )
        return (
            get_video(created.video_id, credentials),
            get_video(added, credentials),
            list_videos(credentials),
        )

    scripted, default, listed = pipeline()
    assert (scripted.status, scripted.status_details) == ("error", "audio_too_short")
    assert scripted.failure_reason == "audio_too_short" and scripted.download_url is None
    assert (
        default.is_failed
        and default.status_details == simulator.video_payload(added)["status_details"]
    )
    assert {v.video_id: v.error_details for v in listed} == {
        scripted.video_id: ["audio_too_short"],
        added: [default.status_details],
    }


class _Receiver:
    """A loopback HTTP server recording the JSON bodies POSTed to it (a video callback receiver)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                with receiver.arrived:
                    receiver.bodies.append(body)
                    receiver.arrived.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/{uuid.uuid4().hex}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.bodies) >= count, timeout)
            return list(self.bodies)


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    receiving = _Receiver()
    try:
        yield receiving
    finally:
        receiving.server.shutdown()
        receiving.server.server_close()
        receiving.thread.join(2.0)


def test_a_created_videos_callback_is_the_whole_video_object(
    simulator, credentials, trained, receiver
):
    simulator.script_created_videos(generation_seconds=0)
    simulator.script_created_videos(outcome="error", error_reason="bad_audio", generation_seconds=0)

    @flow
    def pipeline():
        return [
            create_video(
                {"replica_id": trained, "script": s, "callback_url": receiver.url}, credentials
            )
            for s in ("ok", "bad")
        ]

    ok, bad = pipeline()
    bodies = {body["video_id"]: Video.model_validate(body) for body in receiver.wait_for(2)}
    assert set(bodies) == {ok.video_id, bad.video_id}
    assert bodies[ok.video_id].is_ready and bodies[ok.video_id].progress_percent == 100.0
    assert bodies[ok.video_id].download_url and bodies[ok.video_id].script == "ok"
    assert (
        bodies[bad.video_id].failure_reason == "bad_audio"
        and bodies[bad.video_id].download_url is None
    )
    assert simulator.video_request(ok.video_id)["callback_url"] == receiver.url


# --- the pytest plugin's fixtures script videos for these tasks ----------------------------


def test_the_plugins_tavus_simulator_scripts_videos_for_the_tasks(
    tavus_simulator, tavus_credentials
):
    replica_id = tavus_simulator.add_replica(training_seconds=0)
    added = tavus_simulator.add_video(replica_id=replica_id, script="Hi", generation_seconds=0)
    tavus_simulator.script_created_videos(
        video_id="vscripted01",
        outcome="error",
        error_reason="audio_too_short",
        generation_seconds=0,
    )

    @flow
    def pipeline():
        created = create_video({"replica_id": replica_id, "script": "Hello"}, tavus_credentials)
        return (
            created,
            get_video(created.video_id, tavus_credentials),
            get_video(added, tavus_credentials),
        )

    created, scripted, ready = pipeline()
    assert created.video_id == scripted.video_id == "vscripted01"
    assert (scripted.status, scripted.status_details) == ("error", "audio_too_short")
    assert tavus_simulator.video_request("vscripted01") == {
        "replica_id": replica_id,
        "script": "Hello",
    }
    assert ready.is_ready and ready.video_id == added
    assert tavus_simulator.stats()["by_route"] == {ROUTE_VIDEO_CREATE: 1, ROUTE_VIDEO_GET: 2}


# --- secrets -----------------------------------------------------------------------------


def test_no_secret_appears_in_any_video_task_error():
    key = f"tvs-LEAKCHECK-{uuid.uuid4().hex}"
    token = f"cbtoken{uuid.uuid4().hex}"
    callback_url = f"https://hooks.example/tavus/{token}"
    errors: list[BaseException] = []
    with TavusSimulator(api_keys=(key,)) as sim:
        credentials = TavusCredentials(
            api_key=key, base_url=sim.url, request_timeout_seconds=2, min_poll_spacing_seconds=0
        )
        rid = sim.add_replica(training_seconds=0)
        vid = sim.add_video(replica_id=rid, script="Hi")
        # Servers quoting the request back: a create's key and callback_url; any other request's key
        # (only a create carries a callback_url, so only a create's error can be asked to hide it).
        echo_create = {"error": f"refused key {key} and callback {callback_url}"}
        echo = {"error": f"refused key {key}"}
        sim.inject_faults(
            ROUTE_VIDEO_CREATE,
            [
                Fault.status(500, body=echo_create),
                Fault.status(400, body=echo_create),
                Fault.lost_answer(),
                Fault.garbage(),
            ],
        )
        sim.inject_faults(vid, [Fault.status(400, body=echo)] + [Fault.status(503, body=echo)] * 5)
        sim.inject_faults(ROUTE_VIDEO_RENAME, [Fault.status(404, body=echo)])
        sim.inject_faults(ROUTE_VIDEO_LIST, [Fault.status(429, body=echo)] * 5)
        get_fast = aget_video.with_options(**FAST_RETRIES)
        list_fast = alist_videos.with_options(**FAST_RETRIES)
        body = {"replica_id": rid, "script": "Hi", "callback_url": callback_url}
        calls = [lambda: acreate_video(body, credentials) for _ in range(4)] + [
            lambda: acreate_video(
                {**body, "audio_url": "ftp://x.example/a.wav"}, credentials
            ),  # refused locally
            lambda: aget_video(vid, credentials),  # 400 quoting the key: not found
            lambda: get_fast(vid, credentials),  # 503 x 5: given up
            lambda: arename_video(vid, "N", credentials),
            lambda: list_fast(credentials),  # 429 x 5
            lambda: aget_video("vnosuchvid1", credentials),
        ]

        @flow
        async def pipeline():
            for call in calls:
                try:
                    await call()
                except Exception as exc:
                    errors.append(exc)
            sim.revoke_key(key)
            try:
                await adelete_video(vid, tavus_credentials=credentials)
            except Exception as exc:
                errors.append(exc)
            raise errors[0]  # a failed flow run: its state message is checked too

        state = asyncio.run(pipeline(return_state=True))

    assert len(errors) == len(calls) + 1
    assert all(isinstance(exc, TavusError) for exc in errors)
    texts = [state.message or ""]
    for exc in errors:
        texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc)), repr(vars(exc))]
    for secret in (key, token):
        leaks = [text[:200] for text in texts if secret in text]
        assert not leaks, f"secret leaked in: {leaks}"
    assert any("refused key" in text for text in texts)  # the server's words are kept, scrubbed
