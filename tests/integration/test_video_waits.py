"""Video waits and ``generate_videos`` on a real Prefect test server, against the simulator
over HTTP: the replica waits' engine with the video kind, and per-row durable creates."""

from __future__ import annotations

import asyncio
import json

import pytest
from prefect.client.orchestration import get_client
from prefect.exceptions import ParameterTypeError

from prefect_tavus.core import (
    InvalidVideoIdError,
    InvalidVideoRequestError,
    VideoGenerationFailedError,
    VideoNotFoundDuringWaitError,
    VideosWaitFailedError,
    VideoWaitTimeoutError,
)
from prefect_tavus.core.contract import row_labels
from prefect_tavus.core.waiting import Outcome
from prefect_tavus.flows import generate_videos, wait_for_video, wait_for_videos
from prefect_tavus.simulator import Fault
from tests.integration.conftest import FAST, fast

CREATE = "POST /v2/videos"


def _v2_requests(simulator) -> int:
    return sum(simulator.stats()["by_route"].values())


async def _events(prefix: str, resource_id: str) -> list[dict]:
    async with get_client() as client:
        for _ in range(40):
            response = await client._client.post(
                "/events/filter",
                json={
                    "filter": {"any_resource": {"id": [f"{prefix}.{resource_id}"]}, "order": "ASC"},
                    "limit": 50,
                },
            )
            events = response.json()["events"]
            if any(e["event"].endswith((".completed", ".failed", ".timed-out")) for e in events):
                return events
            await asyncio.sleep(0.25)
    return events


async def _labels(flow_run_id) -> dict:
    async with get_client() as client:
        return dict((await client.read_flow_run(flow_run_id)).labels or {})


async def _artifacts(flow_run_id) -> list:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async with get_client() as client:
        return await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )


# --- wait_for_video(s) -----------------------------------------------------------------


def test_wait_for_video_returns_the_ready_video_with_its_urls_and_emits_completed(
    simulator, credentials
):
    replica_id = simulator.add_replica(training_seconds=0.3)
    video_id = simulator.add_video(replica_id=replica_id, script="Hello", generation_seconds=0.5)
    video = wait_for_video(video_id, credentials, **FAST)
    assert video.status == "ready" and video.download_url and video.hosted_url
    names = [e["event"] for e in asyncio.run(_events("tavus.video", video_id))]
    assert names[-1] == "tavus.video.completed" and names.count("tavus.video.completed") == 1


def test_a_failed_video_raises_with_tavus_reason_or_is_returned(simulator, credentials):
    video_id = simulator.add_video(
        script="Hi", generation_seconds=0.2, outcome="error", error_reason="audio_too_short"
    )
    with pytest.raises(VideoGenerationFailedError, match="audio_too_short") as caught:
        wait_for_video(video_id, credentials, **FAST)
    assert caught.value.video.video_id == video_id
    again = simulator.add_video(
        script="Hi", generation_seconds=0.2, outcome="error", error_reason="bad_script"
    )
    assert wait_for_video(again, credentials, raise_on_error=False, **FAST).status == "error"
    events = asyncio.run(_events("tavus.video", video_id))
    assert events[-1]["event"] == "tavus.video.failed"
    assert events[-1]["payload"]["error_message"] == "audio_too_short"


def test_a_deleted_or_unknown_video_ends_the_wait_as_not_found(simulator, credentials):
    video_id = simulator.add_video(script="Hi", generation_seconds=30)
    simulator.delete_video(video_id)
    with pytest.raises(VideoNotFoundDuringWaitError):
        wait_for_video(video_id, credentials, **FAST)
    with pytest.raises(VideoNotFoundDuringWaitError):
        wait_for_video("vnosuchvideo1", credentials, **FAST)


def test_the_deadline_ends_a_video_wait_with_its_last_status(simulator, credentials):
    video_id = simulator.add_video(script="Hi", generation_seconds=3600)
    with pytest.raises(VideoWaitTimeoutError, match="generating"):
        wait_for_video(video_id, credentials, **fast(timeout_seconds=1.0))


def test_bad_video_ids_fail_before_any_request(simulator, credentials):
    before = _v2_requests(simulator)
    with pytest.raises(InvalidVideoIdError):
        wait_for_video("../etc", credentials, **FAST)
    with pytest.raises(InvalidVideoIdError, match=r"video_ids\[1\]"):
        wait_for_videos(["v1234567890", "bad id"], credentials, **FAST)
    with pytest.raises(
        ParameterTypeError
    ):  # a bare string, not a list: Prefect refuses the parameter
        wait_for_videos("v1234567890", credentials, **FAST)
    assert _v2_requests(simulator) == before


def test_a_batch_of_videos_is_read_through_list_pages_not_a_get_each(simulator, credentials):
    replica_id = simulator.add_replica(training_seconds=0.2)
    ids = [
        simulator.add_video(replica_id=replica_id, script=f"Row {i}", generation_seconds=1.0)
        for i in range(30)
    ]
    failed = simulator.add_video(
        replica_id=replica_id,
        script="x",
        generation_seconds=0.5,
        outcome="error",
        error_reason="script_too_long",
    )
    simulator.reset_stats()
    state = wait_for_videos(
        [*ids, failed], credentials, raise_on_failure=False, return_state=True, **FAST
    )
    result = state.result()
    assert [r.video_id for r in result.results] == [*ids, failed]
    assert result.counts() == {"completed": 30, "failed": 1, "not_found": 0, "timed_out": 0}
    assert result.results[-1].error_message == "script_too_long"
    by_route = simulator.stats()["by_route"]
    # Each round is one list page for all 31 (the simulator lists 100 a page), never a GET each.
    assert by_route.get("GET /v2/videos/{id}", 0) == 0
    assert by_route["GET /v2/videos"] == result.requests <= 10
    tables = [
        a for a in asyncio.run(_artifacts(state.state_details.flow_run_id)) if a.type == "table"
    ]
    (table,) = tables
    rows = json.loads(table.data)
    assert {row["video_id"] for row in rows} == {*ids, failed}
    assert all(row["download_url"] for row in rows if row["outcome"] == "completed")
    with pytest.raises(VideosWaitFailedError, match="script_too_long"):
        wait_for_videos([ids[0], failed], credentials, **FAST)


# --- generate_videos -------------------------------------------------------------------


ROWS = [
    {"key": "lead-1", "script": "Hi Ana"},
    {"key": "lead-2", "script": "Hi Bo", "video_name": "Bo's welcome"},
    {"key": "lead-3", "audio_url": "https://media.example.com/lead-3.mp3"},
]


def test_generate_videos_creates_one_video_per_row_and_returns_the_table(simulator, credentials):
    replica_id = simulator.add_replica(
        training_seconds=0.5
    )  # still training: Tavus queues the videos
    # Creates go out several at once, in no set order: the failure is scripted by name.
    simulator.script_video_named("Bo's welcome", outcome="error", error_reason="audio_too_short")
    state = generate_videos(
        replica_id, ROWS, credentials, raise_on_failure=False, return_state=True, **FAST
    )
    table = state.result()
    assert [row.key for row in table] == ["lead-1", "lead-2", "lead-3"]
    assert [row.outcome for row in table] == [Outcome.COMPLETED, Outcome.FAILED, Outcome.COMPLETED]
    assert table[1].error == "audio_too_short" and table[1].download_url is None
    assert table[0].download_url and table[2].hosted_url
    assert simulator.stats()["by_route"][CREATE] == 3
    labels = asyncio.run(_labels(state.state_details.flow_run_id))
    for row in table:  # every row's video is on the run's record
        assert labels[row_labels(row.key)[0]] == row.video_id
    assert (
        simulator.video_payload(table[0].video_id)["video_name"] == "lead-1"
    )  # named after its key
    assert simulator.video_payload(table[1].video_id)["video_name"] == "Bo's welcome"
    (artifact,) = [
        a
        for a in asyncio.run(_artifacts(state.state_details.flow_run_id))
        if a.key and a.key.startswith("tavus-videos-")
    ]
    assert [row["key"] for row in json.loads(artifact.data)] == ["lead-1", "lead-2", "lead-3"]
    with pytest.raises(VideosWaitFailedError, match="lead-2: audio_too_short"):
        simulator.script_video_named(
            "Bo's welcome", outcome="error", error_reason="audio_too_short"
        )
        generate_videos(replica_id, ROWS[1:2], credentials, **FAST)


def test_a_retried_run_reuses_every_rows_video(simulator, credentials):
    """The first attempt creates all three and then fails (the key is refused mid-wait);
    the retry reads the run's record and creates nothing."""
    replica_id = simulator.add_replica(training_seconds=0)
    simulator.inject_faults("GET /v2/videos", [Fault.status(401)])
    flow = generate_videos.with_options(retries=1, retry_delay_seconds=0)
    state = flow(replica_id, ROWS, credentials, return_state=True, **FAST)
    assert all(row.ok for row in state.result())
    assert asyncio.run(_run_count(state.state_details.flow_run_id)) == 2  # it did fail once
    assert simulator.stats()["by_route"][CREATE] == 3  # three creates over both attempts


async def _run_count(flow_run_id) -> int:
    async with get_client() as client:
        return (await client.read_flow_run(flow_run_id)).run_count


def test_a_lost_create_answer_is_found_by_name_not_sent_again(simulator, credentials):
    replica_id = simulator.add_replica(training_seconds=0)
    simulator.inject_faults(CREATE, [Fault.lost_answer()])
    table = generate_videos(replica_id, ROWS[:1], credentials, **FAST)
    assert table[0].ok and table[0].video_id
    assert simulator.stats()["by_route"][CREATE] == 1


def test_a_replica_in_error_fails_every_row_with_its_reason_and_creates_nothing(
    simulator, credentials
):
    replica_id = simulator.add_replica(
        training_seconds=0, outcome="error", error_message="Face not visible"
    )
    table = generate_videos(replica_id, ROWS, credentials, raise_on_failure=False, **FAST)
    assert all(not row.ok and "Face not visible" in row.error for row in table)
    assert simulator.stats()["by_route"].get(CREATE, 0) == 0


@pytest.mark.parametrize(
    ("rows", "field"),
    [
        ([{"key": "a", "script": "x"}, {"key": "a", "script": "y"}], "requests[1].key"),
        (
            [{"key": "a", "script": "x", "audio_url": "https://m.example.com/a.mp3"}],
            "requests[0].script",
        ),
        ([{"key": "a"}], "requests[0].script"),
        ([{"key": "a", "script": "   "}], "requests[0].script"),
        (
            [{"key": "a", "script": "x", "transparent_background": True}],
            "requests[0].transparent_background",
        ),
        ([{"key": "a", "audio_url": "ftp://m.example.com/a.mp3"}], "requests[0].audio_url"),
        (
            [{"key": "a", "script": "x", "background_url": "file:///etc/passwd"}],
            "requests[0].background_url",
        ),
        ([{"script": "x"}], "requests[0].key"),
        ([], "requests"),
    ],
)
def test_bad_rows_fail_naming_the_field_before_any_request(simulator, credentials, rows, field):
    replica_id = simulator.add_replica(training_seconds=0)
    before = _v2_requests(simulator)
    with pytest.raises(InvalidVideoRequestError) as caught:
        generate_videos(replica_id, rows, credentials, **FAST)
    assert caught.value.field == field
    assert _v2_requests(simulator) == before
