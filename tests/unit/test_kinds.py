"""What varies between replica and video waits, said once and free of Prefect."""

from __future__ import annotations

import subprocess
import sys

import pytest

from prefect_tavus.core import InvalidReplicaIdError, InvalidVideoIdError, Replica, Video
from prefect_tavus.core.kinds import REPLICAS, VIDEOS, kind_of
from prefect_tavus.core.waiting import (
    Outcome,
    ReplicaOutcome,
    ReplicaWaitResult,
    VideoOutcome,
    VideoWaitResult,
    WaitResult,
)


def test_each_kind_names_its_events_labels_and_outcomes() -> None:
    assert [REPLICAS.event_name(o) for o in Outcome] == [
        "tavus.replica.completed",
        "tavus.replica.failed",
        "tavus.replica.failed",
        "tavus.replica.timed-out",
    ]
    assert VIDEOS.event_name(Outcome.TIMED_OUT) == "tavus.video.timed-out"
    assert VIDEOS.event_name("progress") == "tavus.video.progress"
    assert (REPLICAS.record_label, VIDEOS.record_label) == (
        "tavus.wait.replicas",
        "tavus.wait.videos",
    )
    assert REPLICAS.verdict(Outcome.FAILED, "40/100") == "failed training at 40/100"
    assert VIDEOS.verdict(Outcome.COMPLETED) == "is ready"
    assert VIDEOS.count(1) == "1 video" and VIDEOS.count(3) == "3 videos"
    assert kind_of("video") is VIDEOS and kind_of("replica") is REPLICAS


def test_outcomes_and_results_carry_the_kinds_own_field_names() -> None:
    video = Video(video_id="v1", status="ready", download_url="https://d.example/v1.mp4")
    outcome = VIDEOS.outcome("v1", video, outcome=Outcome.COMPLETED)
    assert isinstance(outcome, VideoOutcome) and outcome.video_id == "v1" and outcome.video is video
    assert (outcome.resource_id, outcome.resource, outcome.progress_percent) == ("v1", video, 100.0)
    result = VIDEOS.result(results=[outcome], requests=2)
    assert isinstance(result, VideoWaitResult) and result.summary().startswith(
        "1 video in 0s (2 requests)"
    )
    replica = Replica(replica_id="r1", status="started", training_progress="40/100")
    failed = REPLICAS.outcome("r1", replica, outcome=Outcome.FAILED)
    assert isinstance(failed, ReplicaOutcome) and failed.progress_percent == 40.0
    result = REPLICAS.result(results=[failed])
    assert type(result) is ReplicaWaitResult and isinstance(result, WaitResult)


def test_the_id_rule_is_the_kinds_own() -> None:
    assert VIDEOS.validate_ids(["v1", "v2", "v1"]) == ["v1", "v2"]
    with pytest.raises(InvalidVideoIdError):
        VIDEOS.validate_ids(["v1", "../x"])
    with pytest.raises(InvalidReplicaIdError):
        REPLICAS.validate_ids(["r1", "a b"])


def test_the_models_answer_the_engine_the_same_way() -> None:
    deleted = Video(video_id="v9", status="deleted")
    assert deleted.is_gone and deleted.is_terminal and not deleted.is_completed
    ready = Video(video_id="v9", status="ready", video_name="Hi", generation_progress="100/100")
    assert (ready.resource_id, ready.display_name, ready.progress_text, ready.is_completed) == (
        "v9",
        "Hi",
        "100/100",
        True,
    )
    replica = Replica(
        replica_id="r9", replica_name="Rep", training_progress="5/100", status="started"
    )
    assert (replica.resource_id, replica.display_name, replica.progress_text, replica.is_gone) == (
        "r9",
        "Rep",
        "5/100",
        False,
    )


def test_kinds_import_without_prefect() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; import prefect_tavus.core.kinds, prefect_tavus.core.video_polling; "
            "assert 'prefect' not in sys.modules",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
