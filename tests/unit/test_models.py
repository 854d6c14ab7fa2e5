"""The Replica model: every seed field, and leniency toward what the API really sends."""

from datetime import datetime, timezone

import pytest

from prefect_tavus.core import Replica, ReplicaPage, ReplicaPhase, parse_progress

SEED_EXAMPLE = {
    "replica_id": "rf4e9d9790f0",
    "replica_name": "My Replica",
    "thumbnail_video_url": "https://example.invalid/thumb.mp4",
    "training_progress": "100/100",
    "status": "completed",
    "created_at": "2024-01-24T07:14:03.327Z",
    "updated_at": "2024-01-24T07:14:03.327Z",
    "error_message": "left over from an earlier attempt",
    "replica_type": "user'",
}


def test_seed_example_parses_with_its_quirks_kept():
    replica = Replica.model_validate(SEED_EXAMPLE)
    assert replica.replica_type == "user'"  # the docs' stray quote is kept, not rejected
    assert replica.created_at == datetime(2024, 1, 24, 7, 14, 3, 327000, tzinfo=timezone.utc)
    assert replica.phase is ReplicaPhase.COMPLETED
    # an error_message on a completed replica is not a failure
    assert replica.failure_reason is None
    assert replica.progress_percent == 100.0


def test_unknown_fields_are_kept():
    replica = Replica.model_validate(
        {**SEED_EXAMPLE, "model_name": "phoenix-4", "brand_new": {"x": 1}}
    )
    assert replica.model_name == "phoenix-4"
    assert replica.model_extra == {"brand_new": {"x": 1}}
    assert replica.model_dump()["brand_new"] == {"x": 1}


@pytest.mark.parametrize(
    ("status", "phase"),
    [
        ("completed", ReplicaPhase.COMPLETED),
        ("ready", ReplicaPhase.COMPLETED),
        ("Completed ", ReplicaPhase.COMPLETED),
        ("error", ReplicaPhase.FAILED),
        ("started", ReplicaPhase.IN_PROGRESS),
        ("training", ReplicaPhase.IN_PROGRESS),
        ("queued-for-gpu", ReplicaPhase.IN_PROGRESS),
        (None, ReplicaPhase.IN_PROGRESS),
    ],
)
def test_status_interpretation_keeps_raw_value(status, phase):
    replica = Replica.model_validate({"replica_id": "r1", "status": status})
    assert replica.phase is phase
    assert replica.status == status


@pytest.mark.parametrize(
    ("raw", "percent"),
    [
        ("45/100", 45.0),
        ("3/4", 75.0),
        ("0/100", 0.0),
        ("45%", 45.0),
        ("12", 12.0),
        ("n/a", None),
        ("", None),
        (None, None),
        ("5/0", None),
        ("150/100", 100.0),
    ],
)
def test_progress_parsing(raw, percent):
    assert parse_progress(raw) == percent


def test_messy_types_and_timestamps_do_not_crash():
    replica = Replica.model_validate(
        {
            "replica_id": 12345,
            "training_progress": 45,
            "status": "started",
            "created_at": "not a date",
            "updated_at": "",
            "error_message": None,
        }
    )
    assert replica.replica_id == "12345"
    assert replica.training_progress == "45"
    assert replica.progress_percent == 45.0
    assert replica.created_at is None and replica.updated_at is None


def test_failed_replica_exposes_reason():
    replica = Replica.model_validate(
        {"replica_id": "r1", "status": "error", "error_message": "bad video"}
    )
    assert replica.is_failed and replica.is_terminal
    assert replica.failure_reason == "bad video"


def test_replica_page_tolerates_null_data_and_extras():
    page = ReplicaPage.model_validate({"data": None, "total_count": 0, "next": "x"})
    assert page.data == [] and page.total_count == 0


FACE_EXAMPLE = {
    "face_id": "rf4e9d9790f0",
    "face_name": "My Face",
    "face_type": "user",
    "training_progress": "45/100",
    "status": "started",
    "created_at": "2024-01-24T07:14:03.327Z",
    "model_name": "phoenix-4",
    "brand_new": 1,
}


def test_face_vocabulary_is_read_into_the_replica_attributes():
    replica = Replica.model_validate(FACE_EXAMPLE)
    assert (replica.replica_id, replica.replica_name, replica.replica_type) == (
        "rf4e9d9790f0",
        "My Face",
        "user",
    )
    assert replica.progress_percent == 45.0 and replica.phase is ReplicaPhase.IN_PROGRESS
    assert replica.model_extra == {"brand_new": 1}  # unknown fields kept; the face names were read
    assert replica.model_dump()["replica_id"] == "rf4e9d9790f0"


def test_both_vocabularies_prefer_the_replica_names_and_keep_the_others():
    replica = Replica.model_validate(
        {
            **FACE_EXAMPLE,
            "replica_id": "r1",
            "replica_name": "Replica name",
            "replica_type": "system",
        }
    )
    assert (replica.replica_id, replica.replica_name, replica.replica_type) == (
        "r1",
        "Replica name",
        "system",
    )
    assert replica.model_extra == {
        "face_id": "rf4e9d9790f0",
        "face_name": "My Face",
        "face_type": "user",
        "brand_new": 1,
    }


def test_a_null_replica_name_gives_way_to_the_face_name():
    replica = Replica.model_validate(
        {"replica_id": None, "face_id": "r2", "replica_name": None, "face_name": "F"}
    )
    assert replica.replica_id == "r2" and replica.replica_name == "F"


def test_created_replica_and_pages_read_face_names():
    from prefect_tavus.core import CreatedReplica

    created = CreatedReplica.model_validate({"face_id": "r9", "status": "started"})
    assert created.replica_id == "r9" and created.status == "started"
    assert CreatedReplica.model_validate({"face_id": "r9", "replica_id": "r8"}).replica_id == "r8"
    page = ReplicaPage.model_validate(
        {"data": [FACE_EXAMPLE, {"replica_id": "r3"}], "total_count": 2}
    )
    assert [r.replica_id for r in page.data] == ["rf4e9d9790f0", "r3"]


def test_a_face_payload_without_an_id_is_still_refused():
    with pytest.raises(ValueError):
        Replica.model_validate({"face_name": "no id"})


def test_describe_is_one_bounded_line_whatever_tavus_sent():
    replica = Replica.model_validate(
        {
            "replica_id": "r1",
            "replica_name": "Ann\nFAKE LOG LINE" + "n" * 500,
            "status": "started\x1b[31m" + "s" * 500,
            "training_progress": "4\r5/100" + "9" * 500,
        }
    )
    line = replica.describe()
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert len(line) < 250
    assert replica.replica_name.startswith("Ann\nFAKE")  # the model keeps what Tavus sent
    plain = Replica.model_validate(
        {
            "replica_id": "r1",
            "replica_name": "Ann",
            "status": "started",
            "training_progress": "45/100",
        }
    )
    assert plain.describe() == "'Ann' (r1): started, 45/100"


def test_training_failed_message_is_bounded_and_the_error_message_kept():
    from prefect_tavus.core import ReplicaTrainingFailedError

    long_reason = "bad video\n" + "x" * 5000
    error = ReplicaTrainingFailedError(
        Replica.model_validate(
            {"replica_id": "r1", "status": "error", "error_message": long_reason}
        )
    )
    assert "\n" not in str(error) and len(str(error)) < 500 and "bad video" in str(error)
    assert error.error_message == long_reason
