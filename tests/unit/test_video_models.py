"""The Video model reads every shape the Videos API is documented (or seen) to send, and
never fails on a messy one: create answers, GETs, list items and callbacks."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from prefect_tavus.core import Video, VideoPage, VideoPhase


def test_a_create_answer_with_an_rfc_1123_date_is_read():
    video = Video.model_validate(
        {
            "video_id": "abcd123",
            "video_name": "Sample Video",
            "status": "queued",
            "hosted_url": "https://tavus.video/abcd123",
            "created_at": "Mon, 14 Jul 2025 09:14:24 GMT",
        }
    )
    assert video.created_at == datetime(2025, 7, 14, 9, 14, 24, tzinfo=timezone.utc)
    assert video.phase is VideoPhase.IN_PROGRESS and not video.is_terminal
    assert video.progress_percent is None and video.failure_reason is None


def test_a_full_get_answer_is_read_and_unknown_fields_are_kept():
    video = Video.model_validate(
        {
            "video_id": "783537ef5",
            "video_name": "Welcome",
            "status": "ready",
            "replica_id": "r783537ef5",
            "data": {"script": "Hello from Tavus!", "start_with_wave": True},
            "download_url": "https://cdn.example/v.mp4",
            "stream_url": "https://stream.example/v.m3u8",
            "hosted_url": "https://videos.tavus.io/video/783537ef5",
            "status_details": "Your video is ready.",
            "created_at": "2024-05-01T10:00:00Z",
            "updated_at": "2024-05-01T10:07:00.123+00:00",
            "still_image_thumbnail_url": "https://cdn.example/t.png",
            "brand_new_field": {"x": 1},
        }
    )
    assert video.is_ready and video.is_terminal and not video.is_failed
    assert video.script == "Hello from Tavus!" and video.data["start_with_wave"] is True
    assert video.progress_percent == 100.0  # ready, even though GET carries no progress
    assert video.failure_reason is None  # status_details on a ready video is not a failure
    assert video.model_extra == {"brand_new_field": {"x": 1}}
    assert video.updated_at is not None and video.updated_at.tzinfo is not None


@pytest.mark.parametrize(
    ("status", "phase"),
    [
        ("queued", VideoPhase.IN_PROGRESS),
        ("generating", VideoPhase.IN_PROGRESS),
        ("ready", VideoPhase.READY),
        (" READY ", VideoPhase.READY),
        ("error", VideoPhase.FAILED),
        ("deleted", VideoPhase.DELETED),
        ("rendering-v2", VideoPhase.IN_PROGRESS),
        (None, VideoPhase.IN_PROGRESS),
        ("", VideoPhase.IN_PROGRESS),
    ],
)
def test_statuses_keep_their_raw_value_and_unknown_ones_are_in_progress(status, phase):
    video = Video.model_validate({"video_id": "v1", "status": status})
    assert video.status == status and video.phase is phase
    assert video.is_terminal is (phase is not VideoPhase.IN_PROGRESS)
    assert video.is_deleted is (phase is VideoPhase.DELETED)


def test_a_failed_video_says_why_from_status_details_or_error_details():
    callback = Video.model_validate(
        {
            "video_id": "v1",
            "status": "error",
            "status_details": "replica_in_error_state",
            "download_url": None,
            "stream_url": None,
            "generation_progress": "12/100",
        }
    )
    assert callback.is_failed and callback.failure_reason == "replica_in_error_state"
    assert callback.progress_percent == 12.0
    item = Video.model_validate(
        {
            "video_id": "v2",
            "status": "error",
            "error_details": [{"message": "audio too short"}, "second reason", None],
        }
    )
    assert item.failure_reason == "audio too short; second reason"
    single = Video.model_validate(
        {"video_id": "v3", "status": "error", "error_details": "bad script"}
    )
    assert single.error_details == ["bad script"] and single.failure_reason == "bad script"
    nothing = Video.model_validate({"video_id": "v4", "status": "error"})
    assert nothing.is_failed and nothing.failure_reason is None


def test_a_callback_progress_is_parsed_like_training_progress():
    assert (
        Video.model_validate({"video_id": "v", "generation_progress": "100/100"}).progress_percent
        == 100.0
    )
    assert (
        Video.model_validate({"video_id": "v", "generation_progress": "3/4"}).progress_percent
        == 75.0
    )
    assert (
        Video.model_validate({"video_id": "v", "generation_progress": "45%"}).progress_percent
        == 45.0
    )
    assert (
        Video.model_validate({"video_id": "v", "generation_progress": "soon"}).progress_percent
        is None
    )
    assert (
        Video.model_validate({"video_id": "v", "generation_progress": 50}).generation_progress
        == "50"
    )


def test_messy_payloads_become_none_instead_of_failing():
    video = Video.model_validate(
        {
            "video_id": 12345,
            "status": 3,
            "created_at": "yesterday-ish",
            "updated_at": 17,
            "data": ["not", "an", "object"],
            "status_details": {"code": "E1"},
            "error_details": 7.5,
        }
    )
    assert video.video_id == "12345" and video.status == "3"
    assert video.created_at is None and video.updated_at is None
    assert video.data is None and video.script is None
    assert video.status_details == "{'code': 'E1'}" and video.error_details == [7.5]
    assert Video.model_validate({"video_id": "v", "data": "Hi there"}).script == "Hi there"
    assert (
        Video.model_validate(
            {"video_id": "v", "created_at": "2024-05-01 10:00:00"}
        ).created_at.tzinfo
        is not None
    )


def test_both_spellings_of_the_replica_are_read():
    assert Video.model_validate({"video_id": "v", "face_id": "r9"}).replica_id == "r9"
    both = Video.model_validate({"video_id": "v", "replica_id": "r1", "face_id": "r2"})
    assert both.replica_id == "r1" and both.model_extra == {"face_id": "r2"}  # the loser is kept
    assert (
        Video.model_validate({"video_id": "v", "replica_id": None, "face_id": "r3"}).replica_id
        == "r3"
    )


def test_describe_is_one_bounded_line():
    video = Video.model_validate(
        {
            "video_id": "v1",
            "video_name": "Hi\nFAKE LOG " + "x" * 500,
            "status": "generating",
            "generation_progress": "40/100",
        }
    )
    line = video.describe()
    assert "\n" not in line and len(line) < 250 and line.endswith("(v1): generating, 40/100")


def test_a_video_needs_its_id():
    with pytest.raises(ValueError):
        Video.model_validate({"status": "ready"})


def test_a_page_reads_items_and_total_leniently():
    page = VideoPage.model_validate(
        {
            "data": [{"video_id": "a"}, {"video_id": "b", "status": "ready"}],
            "total_count": 42,
            "page": 1,
        }
    )
    assert [v.video_id for v in page.data] == ["a", "b"] and page.total_count == 42
    assert VideoPage.model_validate({"data": None}).data == []
    assert VideoPage.model_validate({"data": [], "total_count": "many"}).total_count is None
    assert VideoPage.model_validate({"data": [], "total_count": "7"}).total_count == 7
