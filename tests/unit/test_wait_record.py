"""The wait record a suspending run writes on its flow run, read back as every receiver,
sweep and later life reads it; and ``printable``, which makes outside text safe to log."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest

from prefect_tavus.core.text import printable
from prefect_tavus.suspension import SuspendedWait, UnreadableRecord


def _run(**labels: object) -> SimpleNamespace:
    return SimpleNamespace(id=uuid.uuid4(), name="calm-otter", labels=labels)


def test_a_record_parses_into_ids_deadline_and_check_time() -> None:
    wait = SuspendedWait.from_flow_run(
        _run(
            **{
                "tavus.wait.replicas": "r1234567890, r0987654321",
                "tavus.wait.deadline": 100.5,
                "tavus.wait.checked_at": "90",
            }
        )
    )
    assert wait is not None
    assert wait.kind == "replica" and wait.ids == {"r1234567890", "r0987654321"}
    assert wait.ids_of("replica") == wait.ids and wait.ids_of("video") == frozenset()
    assert (wait.deadline, wait.checked_at) == (100.5, 90.0)
    assert wait.is_news("r1234567890", 91.0) and not wait.is_news("r1234567890", 90.0)
    assert not wait.is_news("rnotwaited01", 1000.0)


def test_a_video_wait_records_its_videos_under_their_own_label() -> None:
    from prefect_tavus.core.contract import WaitRecord

    labels = WaitRecord.labels(
        "video", ["783ee43bd2", "a1b2c3d4e5"], deadline=200.0, checked_at=150.0
    )
    assert set(labels) == {"tavus.wait.videos", "tavus.wait.deadline", "tavus.wait.checked_at"}
    wait = SuspendedWait.from_flow_run(_run(**labels))
    assert wait is not None and wait.kind == "video"
    assert (
        wait.ids_of("video") == {"783ee43bd2", "a1b2c3d4e5"}
        and wait.ids_of("replica") == frozenset()
    )
    assert wait.is_news("783ee43bd2", 151.0, "video")
    assert not wait.is_news(
        "783ee43bd2", 151.0, "replica"
    )  # a replica callback never wakes a video wait
    with pytest.raises(UnreadableRecord, match="both"):
        SuspendedWait.from_flow_run(_run(**labels, **{"tavus.wait.replicas": "r1234567890"}))
    with pytest.raises(UnreadableRecord, match="invalid id"):
        SuspendedWait.from_flow_run(_run(**{**labels, "tavus.wait.videos": "783ee43bd2,../x"}))


def test_a_run_without_a_record_is_no_wait() -> None:
    assert SuspendedWait.from_flow_run(_run(other="x")) is None


@pytest.mark.parametrize(
    ("labels", "names"),
    [
        ({"tavus.wait.replicas": "r1234567890,../../etc"}, "invalid id"),
        ({"tavus.wait.replicas": "  "}, "empty"),
        ({"tavus.wait.replicas": 7}, "not text"),
        (
            {"tavus.wait.replicas": "r1234567890", "tavus.wait.deadline": "tomorrow"},
            "tavus.wait.deadline",
        ),
        (
            {"tavus.wait.replicas": "r1234567890", "tavus.wait.checked_at": "nan"},
            "tavus.wait.checked_at",
        ),
    ],
)
def test_an_unreadable_record_is_refused_naming_the_run(
    labels: dict[str, object], names: str
) -> None:
    run = _run(**labels)
    with pytest.raises(UnreadableRecord) as caught:
        SuspendedWait.from_flow_run(run)
    assert str(run.id) in str(caught.value) and names in str(caught.value)


def test_printable_escapes_control_characters_and_bounds_length() -> None:
    forged = "ready\n2026-11-29 INFO Resumed everything\x1b[2J\x00"
    shown = printable(forged, 200)
    assert "\n" not in shown and "\x1b" not in shown and "\x00" not in shown
    assert "\\n" in shown and "\\x1b" in shown
    assert printable("é ü ok", 50) == "é ü ok"  # printable text is left as it is
    assert printable("x" * 500, 10) == "x" * 10 + "..."
