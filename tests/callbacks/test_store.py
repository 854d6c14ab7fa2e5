"""The in-memory store: one entry per (kind, id, status in any case), first receipt kept,
bounded (written callbacks dropped before unwritten ones), and small."""

from __future__ import annotations

import gc
import json
import tracemalloc

import pytest

from prefect_tavus.callbacks.events import to_event
from prefect_tavus.callbacks.payload import parse_callback
from prefect_tavus.callbacks.store import CallbackStore, status_key


def test_status_key_ignores_case():
    assert status_key("Ready") == status_key("READY") == status_key("ready") == "ready"
    assert status_key(None) == status_key("") == ""


def test_repeats_in_any_case_keep_the_first_receipt_and_are_not_pending_again():
    store = CallbackStore()
    first = store.record("r1", "ready", None, received_at=100.0, kind="replica")
    assert first is not None
    store.mark_written([first], now=101.0)
    assert store.record("r1", "Ready", None, received_at=200.0, kind="replica") is None
    assert store.record("r1", "READY", None, received_at=300.0, kind="replica") is None
    assert (
        store.pending_count == 0
        and store.get("r1", "ready", kind="replica") is first
        and first.received_at == 100.0
    )
    other = store.record("r1", "error", "video_codec", received_at=400.0, kind="replica")
    assert other is not None and store.pending() == [other]


def test_event_ids_are_stable_per_callback_and_distinct():
    store = CallbackStore()
    one = store.record("r1", "ready", None, received_at=1.0, kind="replica")
    two = store.record("r2", "ready", None, received_at=1.0, kind="replica")
    assert one is not None and two is not None
    assert one.event_id == one.event_id != two.event_id
    event = to_event(one)
    assert (
        event["id"] == str(one.event_id)
        and event["resource"]["prefect.resource.id"] == "tavus.replica.r1"
    )
    assert event["payload"] == {"replica_id": "r1", "status": "ready", "error_message": None}


def test_video_callbacks_are_kept_apart_from_replica_callbacks_and_written_as_video_events():
    store = CallbackStore()
    replica = store.record("r1", "ready", None, received_at=1.0, kind="replica")
    video = store.record("r1", "error", "replica_in_error_state", received_at=1.0, kind="video")
    assert replica is not None and video is not None and len(store) == 2
    assert store.record("r1", "ERROR", "again", received_at=2.0, kind="video") is None, "a repeat"
    assert store.record("r1", "error", None, received_at=2.0, kind="replica") is not None, (
        "the replica's own error is news"
    )
    assert store.get("r1", "error", kind="video") is video and video.key == ("video", "r1", "error")
    assert (video.video_id, video.replica_id) == ("r1", None) and video.event_id != replica.event_id
    event = to_event(video)
    assert event["id"] == str(video.event_id) and event["event"] == "tavus.video.callback"
    assert event["resource"] == {
        "prefect.resource.id": "tavus.video.r1",
        "prefect.resource.name": "r1",
    }
    assert event["payload"] == {
        "video_id": "r1",
        "status": "error",
        "reason": "replica_in_error_state",
    }
    assert to_event(replica)["event"] == "tavus.replica.callback"
    store.mark_written([video], now=3.0)
    assert video.reason is None and store.get("r1", "error", kind="video") is video
    assert [entry.kind for entry in store.pending()] == ["replica", "replica"]


def test_written_callbacks_are_held_then_pruned():
    store = CallbackStore(hold_seconds=10)
    entry = store.record("r1", "error", "x" * 1000, received_at=0.0, kind="replica")
    assert entry is not None
    store.mark_written([entry], now=5.0)
    assert entry.reason is None, "a written entry keeps only what decisions need"
    assert store.prune(now=14.0) == 0 and len(store) == 1
    assert store.prune(now=15.0) == 1 and len(store) == 0
    pending = store.record("r2", "ready", None, received_at=0.0, kind="replica")
    assert store.prune(now=1e9) == 0 and store.pending() == [pending], "unwritten ones never expire"


def test_the_bound_drops_written_callbacks_before_unwritten_ones(caplog):
    store = CallbackStore(max_entries=3)
    written = [store.record(f"w{i}", "ready", None, kind="replica") for i in range(2)]
    store.mark_written([entry for entry in written if entry is not None])
    pending = [store.record(f"p{i}", "ready", None, kind="replica") for i in range(3)]
    assert len(store) == 3 and store.pending() == pending and store.dropped == 0
    newest = store.record("p3", "ready", None, kind="replica")
    assert store.pending() == [*pending[1:], newest] and store.dropped == 1
    assert "Callback store full" in caplog.text


def _replica_body(i: int, error: bool) -> dict[str, object]:
    if error:
        return {
            "replica_id": f"r{i:010x}",
            "status": "error",
            "error_message": (f"{i} " + "video_codec " * 90)[:1000],
        }
    return {"replica_id": f"r{i:010x}", "status": "ready"}


def _video_body(i: int, error: bool) -> dict[str, object]:
    """The whole video object, as Tavus POSTs it; ids as long as the replicas' above."""
    video_id = f"{i:011x}"
    return {
        "video_id": video_id,
        "video_name": f"Video {i}",
        "status": "error" if error else "ready",
        "data": {"script": "Hello there, this is a video generated by Tavus."},
        "download_url": None if error else f"https://example.invalid/{video_id}.mp4",
        "stream_url": None if error else f"https://example.invalid/{video_id}.m3u8",
        "hosted_url": f"https://tavus.video/{video_id}",
        "status_details": (f"{i} " + "replica_in_error_state " * 50)[:1000]
        if error
        else "Your video has been generated successfully.",
        "created_at": "Mon, 13 Jan 2025 10:00:00 GMT",
        "updated_at": "Mon, 13 Jan 2025 10:04:12 GMT",
        "replica_id": f"r{i:010x}",
        "generation_progress": "100/100",
    }


def test_memory_per_stored_callback(record_property):
    """The figures in store.py's docstring: 10,000 callbacks parsed from real bodies, per
    kind (a video callback is the whole video object, and keeps its status_details as the
    reason until written)."""

    def per_callback(kind: str, error: bool, written: bool) -> float:
        make = _video_body if kind == "video" else _replica_body
        payloads = [json.dumps(make(i, error)).encode() for i in range(10_000)]
        gc.collect()
        tracemalloc.start()
        try:
            store = CallbackStore(max_entries=20_000)
            base = tracemalloc.get_traced_memory()[0]
            for body in payloads:
                callback = parse_callback(body)
                assert callback.kind == kind and callback.resource_id is not None
                store.record(
                    callback.resource_id, callback.status, callback.reason, kind=callback.kind
                )
            if written:
                store.mark_written(store.pending())
            gc.collect()
            return (tracemalloc.get_traced_memory()[0] - base) / len(payloads)
        finally:
            tracemalloc.stop()

    figures = []
    for kind in ("replica", "video"):
        ready, error, written = (
            per_callback(kind, False, False),
            per_callback(kind, True, False),
            per_callback(kind, True, True),
        )
        figures.append(f"{kind}: ready {ready:.0f}, error {error:.0f}, written {written:.0f}")
        assert ready < 400 and error < 1500 and written < 400, figures[-1]
    record_property("store_bytes_per_callback", "; ".join(figures))
    print("\nstore bytes per callback: " + "; ".join(figures))


@pytest.mark.parametrize("bad", [0, -1])
def test_bounds_must_be_positive(bad):
    with pytest.raises(ValueError):
        CallbackStore(max_entries=bad)
