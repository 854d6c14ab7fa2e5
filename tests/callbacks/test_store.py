"""The in-memory store: one entry per (replica, status in any case), first receipt kept,
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
    first = store.record("r1", "ready", None, received_at=100.0)
    assert first is not None
    store.mark_written([first], now=101.0)
    assert store.record("r1", "Ready", None, received_at=200.0) is None
    assert store.record("r1", "READY", None, received_at=300.0) is None
    assert store.pending_count == 0 and store.get("r1", "ready") is first and first.received_at == 100.0
    other = store.record("r1", "error", "video_codec", received_at=400.0)
    assert other is not None and store.pending() == [other]


def test_event_ids_are_stable_per_callback_and_distinct():
    store = CallbackStore()
    one = store.record("r1", "ready", None, received_at=1.0)
    two = store.record("r2", "ready", None, received_at=1.0)
    assert one is not None and two is not None
    assert one.event_id == one.event_id != two.event_id
    event = to_event(one)
    assert event["id"] == str(one.event_id) and event["resource"]["prefect.resource.id"] == "tavus.replica.r1"
    assert event["payload"] == {"replica_id": "r1", "status": "ready", "error_message": None}


def test_written_callbacks_are_held_then_pruned():
    store = CallbackStore(hold_seconds=10)
    entry = store.record("r1", "error", "x" * 1000, received_at=0.0)
    assert entry is not None
    store.mark_written([entry], now=5.0)
    assert entry.error_message is None, "a written entry keeps only what decisions need"
    assert store.prune(now=14.0) == 0 and len(store) == 1
    assert store.prune(now=15.0) == 1 and len(store) == 0
    pending = store.record("r2", "ready", None, received_at=0.0)
    assert store.prune(now=1e9) == 0 and store.pending() == [pending], "unwritten ones never expire"


def test_the_bound_drops_written_callbacks_before_unwritten_ones(caplog):
    store = CallbackStore(max_entries=3)
    written = [store.record(f"w{i}", "ready", None) for i in range(2)]
    store.mark_written([entry for entry in written if entry is not None])
    pending = [store.record(f"p{i}", "ready", None) for i in range(3)]
    assert len(store) == 3 and store.pending() == pending and store.dropped == 0
    newest = store.record("p3", "ready", None)
    assert store.pending() == [*pending[1:], newest] and store.dropped == 1
    assert "Callback store full" in caplog.text


def test_memory_per_stored_callback(record_property):
    """The figures in store.py's docstring: 10,000 callbacks parsed from real bodies."""

    def bodies(error: bool) -> list[bytes]:
        return [
            json.dumps(
                {"replica_id": f"r{i:010x}", "status": "error", "error_message": (f"{i} " + "video_codec " * 90)[:1000]}
                if error
                else {"replica_id": f"r{i:010x}", "status": "ready"}
            ).encode()
            for i in range(10_000)
        ]

    def per_callback(error: bool, written: bool) -> float:
        payloads = bodies(error)
        gc.collect()
        tracemalloc.start()
        try:
            store = CallbackStore(max_entries=20_000)
            base = tracemalloc.get_traced_memory()[0]
            for body in payloads:
                callback = parse_callback(body)
                assert callback.replica_id is not None
                store.record(callback.replica_id, callback.status, callback.error_message)
            if written:
                store.mark_written(store.pending())
            gc.collect()
            return (tracemalloc.get_traced_memory()[0] - base) / len(payloads)
        finally:
            tracemalloc.stop()

    ready, error, written = per_callback(False, False), per_callback(True, False), per_callback(True, True)
    record_property("store_bytes_per_callback", f"ready {ready:.0f}, error {error:.0f}, written {written:.0f}")
    print(f"\nstore: {ready:.0f} B per ready callback, {error:.0f} B per error callback, {written:.0f} B written")
    assert ready < 400 and error < 1500 and written < 400


@pytest.mark.parametrize("bad", [0, -1])
def test_bounds_must_be_positive(bad):
    with pytest.raises(ValueError):
        CallbackStore(max_entries=bad)
