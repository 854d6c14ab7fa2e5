"""The one registry of job kinds (``core/kinds.py``): every kind in it is known to the
contract, the receiver, the sweep, the UI wording and the simulator.

A new kind added to ``KINDS`` fails here until each of them knows it; only the simulator
(``_SIMULATED``, below) needs a word of its own.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from prefect_tavus.core import TavusClient
from prefect_tavus.core.kinds import EVENT_SUFFIXES, KINDS, SEEN_LABELS, ResourceKind, kind_of
from prefect_tavus.core.waiting import Outcome
from prefect_tavus.simulator import TavusSimulator

KEY = "registry-key"

#: How the simulator makes one finished resource of each kind (the simulator's own words).
_SIMULATED: dict[str, Callable[[TavusSimulator], str]] = {
    "replica": lambda sim: sim.add_replica(training_seconds=0.05),
    "video": lambda sim: sim.add_video(
        replica_id=sim.add_replica(training_seconds=0.0),
        script="Hello",
        generation_seconds=0.05,
        queued_seconds=0.0,
    ),
}


def test_the_simulator_knows_every_kind_and_names_are_unique() -> None:
    assert set(_SIMULATED) == {kind.kind for kind in KINDS}
    for field in ("kind", "event_prefix", "record_label", "id_field", "noun", "plural_noun"):
        values = [getattr(kind, field) for kind in KINDS]
        assert len(set(values)) == len(values), field
    assert len({kind.callback_rank for kind in KINDS}) == len(KINDS)


@pytest.fixture(scope="module")
def finished() -> dict[str, tuple[str, Any, dict[str, Any]]]:
    """Per kind: the id, the resource as its kind reads it, and the simulator's payload."""
    done: dict[str, tuple[str, Any, dict[str, Any]]] = {}
    with TavusSimulator(api_keys=(KEY,), default_training_seconds=0.05) as sim:

        async def read(kind: ResourceKind[Any], resource_id: str) -> Any:
            async with TavusClient(api_key=KEY, base_url=sim.url) as client:
                deadline = time.monotonic() + 20
                while True:
                    polled = await kind.read_many(client, [resource_id], 100)
                    found = polled.found.get(resource_id)
                    if (found is not None and found.is_terminal) or time.monotonic() > deadline:
                        return found
                    await asyncio.sleep(0.05)

        for kind in KINDS:
            resource_id = _SIMULATED[kind.kind](sim)
            resource = asyncio.run(read(kind, resource_id))
            payload = getattr(sim, f"{kind.noun}_payload")(resource_id)
            done[kind.kind] = (resource_id, resource, payload)
    return done


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.kind)
def test_every_kind_is_known_to_the_simulator_and_read_as_its_kind_reads(kind, finished) -> None:
    resource_id, resource, _ = finished[kind.kind]
    assert kind_of(kind.kind) is kind
    assert kind.validate_id(resource_id) == resource_id
    assert resource is not None and resource.resource_id == resource_id
    assert resource.status in kind.terminal_statuses and resource.is_completed


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.kind)
def test_every_kind_is_known_to_the_contract(kind, finished) -> None:
    from prefect_tavus.core.contract import (
        CALLBACK_EVENTS,
        EVENT_PREFIXES,
        KIND_LABELS,
        WaitRecord,
        event_name,
    )

    resource_id = finished[kind.kind][0]
    assert EVENT_PREFIXES[kind.kind] == kind.event_prefix
    assert KIND_LABELS[kind.kind] == kind.record_label
    assert CALLBACK_EVENTS[kind.kind] == kind.callback_event
    assert event_name(kind.kind, "completed") == kind.event_name(Outcome.COMPLETED)
    labels = WaitRecord.labels(kind.kind, [resource_id], deadline=20.0, checked_at=10.0)
    record = WaitRecord.from_labels(labels)
    assert record is not None and (record.kind, record.ids) == (kind.kind, {resource_id})


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.kind)
def test_every_kind_is_known_to_the_receiver(kind, finished) -> None:
    from prefect_tavus.callbacks.events import RESOURCE_PREFIXES, _merge_page, to_event
    from prefect_tavus.callbacks.payload import parse_callback
    from prefect_tavus.callbacks.store import StoredCallback

    resource_id, _, payload = finished[kind.kind]
    # The simulator's body of this resource, as its callback carries it, routes to this kind.
    parsed = parse_callback(json.dumps(payload).encode())
    assert (parsed.kind, parsed.resource_id, parsed.id_of(kind.kind)) == (
        kind.kind,
        resource_id,
        resource_id,
    )
    failed = {kind.callback_id_keys[-1]: resource_id, "status": "error"}
    failed[kind.callback_reason_keys[0]] = "it broke"
    assert parse_callback(json.dumps(failed).encode()).reason == "it broke"
    stored = StoredCallback(resource_id, "error", "it broke", 100.0, kind.kind)
    event = to_event(stored)
    assert event["event"] == kind.callback_event
    assert event["resource"]["prefect.resource.id"] == RESOURCE_PREFIXES[kind.kind] + resource_id
    assert event["payload"][kind.id_field] == resource_id
    assert event["payload"][kind.callback_reason_field] == "it broke"
    first: dict[tuple[str, str], float] = {}
    _merge_page(first, [event], {resource_id}, kind.kind)
    assert list(first) == [(resource_id, "error")]


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.kind)
def test_every_kind_is_known_to_the_sweep(kind, finished) -> None:
    from prefect_tavus.flows.sweep import waits_to_resume
    from prefect_tavus.suspension import SuspendedWait

    resource_id = finished[kind.kind][0]
    wait = SuspendedWait(uuid.uuid4(), "w", frozenset({resource_id}), 1e12, 1.0, kind.kind)
    assert wait.ids_of(kind.kind) == {resource_id}
    chosen = waits_to_resume([wait], {(kind.kind, resource_id)}, now=2.0)
    assert chosen == [(wait, f"all {kind.plural_noun} finished")]
    others = {(other.kind, resource_id) for other in KINDS if other is not kind}
    assert waits_to_resume([wait], others, now=2.0) == []


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.kind)
def test_every_kind_has_its_ui_wording(kind, finished) -> None:
    from prefect_tavus.flows._prefect_ui import (
        _details_markdown,
        _payload,
        _row,
        details_artifact_key,
        event_resource,
    )

    resource_id, resource, _ = finished[kind.kind]
    assert kind.work and kind.work != kind.title and kind.doing
    for outcome in Outcome:
        assert kind.verdict(outcome, "1/2") and kind.headline(outcome, "1/2")
        assert outcome in EVENT_SUFFIXES and outcome in SEEN_LABELS
    settled = kind.outcome(resource_id, resource, outcome=Outcome.COMPLETED)
    result = kind.result(results=[settled])
    assert isinstance(result, kind.result_model) and result.summary().startswith(f"1 {kind.noun} ")
    assert details_artifact_key(resource_id, kind).startswith(f"tavus-{kind.noun}-")
    assert event_resource(resource_id, resource, kind)["prefect.resource.id"] == (
        f"{kind.event_prefix}.{resource_id}"
    )
    assert _payload(resource_id, resource, kind)[kind.id_field] == resource_id
    row = _row(settled, kind)
    assert row[kind.id_field] == resource_id
    assert all(column in row for column, _ in (*kind.table_columns, *kind.table_links))
    markdown = _details_markdown(settled, result, kind)
    assert markdown.startswith(f"# {kind.title} ") and f"| {kind.title} id |" in markdown
    assert kind.detail_rows(resource)
