"""Words for people: plurals, durations, times, run-name slugs, and the run names built on them."""

from datetime import datetime, timedelta, timezone

from prefect_tavus._run_names import (
    create_replica_task_run_name,
    create_video_task_run_name,
    list_replicas_task_run_name,
)
from prefect_tavus.core import Replica
from prefect_tavus.core.text import format_duration, format_time, plural, slug
from prefect_tavus.core.waiting import Outcome, ReplicaOutcome, WaitResult, reported_progress


def test_plural_counts_one_and_many():
    assert plural(1, "request") == "1 request"
    assert [plural(n, "request") for n in (0, 2)] == ["0 requests", "2 requests"]
    assert plural(2, "failed poll") == "2 failed polls"


def test_summary_says_1_request_and_2_requests():
    one = ReplicaOutcome(replica_id="r1", outcome=Outcome.COMPLETED)
    assert (
        WaitResult(results=[one], elapsed_seconds=8, requests=1).summary()
        == "1 replica in 8s (1 request): 1 completed"
    )
    two = WaitResult(
        results=[one, one.model_copy(update={"replica_id": "r2"})], elapsed_seconds=8, requests=2
    )
    assert two.summary() == "2 replicas in 8s (2 requests): 2 completed"


def test_durations_and_times_read_like_people_write_them():
    assert [format_duration(s) for s in (8.4, 720, 4.1 * 3600)] == ["8s", "12 min", "4.1 h"]
    moment = datetime(2026, 11, 26, 12, 55, 20, tzinfo=timezone(timedelta(hours=1)))
    assert format_time(moment) == "26 Nov 2026, 11:55:20 UTC"
    assert format_time(moment.timestamp()) == "26 Nov 2026, 11:55:20 UTC"
    assert format_time(None) is None


def test_slugs_are_lowercase_words_joined_by_dashes():
    assert slug("Sales Presenter #2") == "sales-presenter-2"
    assert slug("Intro_Take-2") == "intro-take-2"
    assert slug("Zoë") == "zoë"
    assert slug("a" * 60) == "a" * 40
    assert slug("!!!") == ""


def test_task_run_names_say_what_they_are_about():
    assert create_replica_task_run_name({"replica_name": "New Hire"}) == "create-replica-new-hire"
    assert create_replica_task_run_name(
        {"train_video_url": "https://x.invalid/v/Intro_Take-2.mp4?sig=1"}
    ) == ("create-replica-intro-take-2")
    assert (
        create_replica_task_run_name({"train_image_url": "https://x.invalid/face.png"})
        == "create-replica-face"
    )
    assert create_replica_task_run_name({"replica_name": "!!"}) == "create-replica-replica"
    assert list_replicas_task_run_name({"replica_ids": None}) == "list-replicas"
    assert list_replicas_task_run_name({"replica_ids": ["r1"]}) == "list-1-replica"
    assert list_replicas_task_run_name({"replica_ids": ["r1", "r2", "r1"]}) == "list-2-replicas"


def test_a_video_create_is_named_after_the_video_else_its_replica():
    from prefect_tavus.core import VideoCreateRequest

    named = VideoCreateRequest(replica_id="r783537ef5", script="Hi", video_name="Welcome, Ann!")
    assert create_video_task_run_name({"request": named}) == "create-video-welcome-ann"
    assert create_video_task_run_name(
        {"request": {"replica_id": "r783537ef5", "script": "Hi"}}
    ) == ("create-video-r783537ef5")
    assert (
        create_video_task_run_name({"request": {"video_name": "??", "replica_id": "r1"}})
        == "create-video-r1"
    )
    # Unexpected parameters never fail the run: a generic name.
    for odd in ({}, {"request": None}, {"request": 42}, {"request": {"replica_id": ["r1"]}}):
        assert create_video_task_run_name(odd) == "create-video"


def test_progress_is_what_tavus_reported_and_100_only_when_completed():
    failed = Replica(replica_id="r1", status="error", training_progress="40/100")
    assert reported_progress(failed) == 40.0
    assert reported_progress(None) == 0.0
    assert (
        reported_progress(Replica(replica_id="r1", status="started", training_progress="100/100"))
        < 100
    )
    assert (
        reported_progress(Replica(replica_id="r1", status="completed", training_progress=None))
        == 100.0
    )
    batch = WaitResult(
        results=[
            ReplicaOutcome(replica_id="r1", outcome=Outcome.FAILED, replica=failed),
            ReplicaOutcome(
                replica_id="r2",
                outcome=Outcome.COMPLETED,
                replica=Replica(replica_id="r2", status="completed", training_progress="100/100"),
            ),
            ReplicaOutcome(replica_id="r3", outcome=Outcome.NOT_FOUND),
            ReplicaOutcome(
                replica_id="r4",
                outcome=Outcome.TIMED_OUT,
                replica=Replica(replica_id="r4", status="started", training_progress="60/100"),
            ),
        ]
    )
    assert [r.progress_percent for r in batch.results] == [40.0, 100.0, 0.0, 60.0]
    assert batch.progress_percent == 50.0


def test_every_artifact_key_is_made_by_one_rule():
    """Prefect keys allow lowercase ASCII letters, digits and dashes: every kind's keys
    follow one rule (a non-ASCII letter is a letter to isalnum, not to Prefect)."""
    import re

    from prefect_tavus.core.kinds import REPLICAS, VIDEOS
    from prefect_tavus.core.requests import VideoRow
    from prefect_tavus.flows._prefect_ui import (
        artifact_key_part,
        batch_artifact_key,
        details_artifact_key,
    )
    from prefect_tavus.flows.generate import _table_key

    assert artifact_key_part("rÉ_1") == "r--1"
    assert details_artifact_key("rÉ_1", REPLICAS) == "tavus-replica-r--1"
    assert details_artifact_key("vÉ_1", VIDEOS) == "tavus-video-v--1"
    rows = VideoRow.parse_batch("r1234567890", [{"key": "Lead É/1", "script": "Hi"}])
    for key in (batch_artifact_key(["v1", "v2"], VIDEOS), _table_key(rows)):
        assert re.fullmatch(r"[a-z0-9-]+", key), key
