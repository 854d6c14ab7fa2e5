"""``ReplicaSpec``: the one definition of a simulated replica's parameters.

Python callers (``TavusSimulator.add_replica``), the control API (``POST /_sim/replicas``)
and the simulated ``POST /v2/replicas`` all go through it, so these tests pin its defaults,
its validation (a clear ``ValueError`` naming the parameter; a 400 over HTTP, never a crash)
and that every way in builds the same replica.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import httpx
import pytest

from prefect_tavus.simulator import (
    DEFAULT_ERROR_MESSAGE,
    InvalidReplicaSpec,
    ReplicaSpec,
    TavusSimulator,
)
from prefect_tavus.simulator.spec import MAX_SECONDS, build_spec
from prefect_tavus.simulator.state import SimulatorState

#: (field values, words the error message must contain).
INVALID: list[tuple[dict[str, Any], str]] = [
    ({"replica_id": ""}, "replica_id must not be empty"),
    ({"replica_id": 7}, "replica_id must be a string"),
    ({"replica_name": None}, "replica_name must be a string"),
    ({"training_seconds": -1}, "training_seconds"),
    ({"training_seconds": "5"}, "training_seconds"),
    ({"training_seconds": True}, "training_seconds"),
    ({"training_seconds": float("nan")}, "training_seconds"),
    ({"training_seconds": float("inf")}, "training_seconds"),
    ({"training_seconds": 10**400}, "training_seconds"),
    ({"training_seconds": MAX_SECONDS + 1}, "training_seconds"),
    ({"outcome": "maybe"}, "outcome must be 'completed' or 'error'"),
    ({"outcome": ["error"]}, "outcome"),
    ({"error_message": 3}, "error_message must be a string"),
    ({"fail_at_progress": 101}, "fail_at_progress"),
    ({"fail_at_progress": 40.5}, "fail_at_progress"),
    ({"fail_at_progress": None}, "fail_at_progress"),
    ({"replica_type": None}, "replica_type must be a string"),
    ({"model_name": 4}, "model_name must be a string"),
    ({"stall": (10,)}, "stall must be (at_progress, seconds)"),
    ({"stall": "ab"}, "stall must be"),
    ({"stall": {"at": 1, "s": 2}}, "stall must be"),
    ({"stall": (101, 1.0)}, "stall progress"),
    ({"stall": (10, -1)}, "stall seconds"),
    ({"initial_status": None}, "initial_status must be a string"),
    ({"final_status": 1}, "final_status must be a string"),
    ({"extra_fields": [1, 2]}, "extra_fields must be an object"),
    ({"extra_fields": {1: "x"}}, "extra_fields keys must be strings"),
    ({"owner_key": ""}, "owner_key must not be empty"),
    ({"callback_url": 5}, "callback_url must be a string"),
]

#: The cases JSON can express (its object keys are always strings).
INVALID_OVER_HTTP = [
    (fields, message) for fields, message in INVALID if "keys must be strings" not in message
]


def test_defaults_describe_a_replica_that_completes() -> None:
    spec = ReplicaSpec()
    assert (spec.replica_id, spec.replica_name, spec.training_seconds) == (None, "My Replica", None)
    assert (spec.outcome, spec.error_message, spec.effective_error_message) == (
        "completed",
        None,
        DEFAULT_ERROR_MESSAGE,
    )
    assert (spec.initial_status, spec.final_status, spec.replica_type, spec.model_name) == (
        "started",
        "completed",
        "user",
        "phoenix-3",
    )
    assert spec.fail_at_progress == 40 and spec.stall is None and dict(spec.extra_fields) == {}
    assert spec.owner_key is None and spec.callback_url is None


@pytest.mark.parametrize(("fields", "message"), INVALID, ids=[str(f) for f, _ in INVALID])
def test_invalid_values_are_a_value_error_naming_the_parameter(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidReplicaSpec, match=message.replace("(", r"\(").replace(")", r"\)")):
        ReplicaSpec(**fields)
    assert issubclass(InvalidReplicaSpec, ValueError)  # callers catching ValueError keep working


def test_values_are_normalised() -> None:
    spec = ReplicaSpec(training_seconds=2, fail_at_progress=50.0, stall=[10, 1])
    assert spec.training_seconds == 2.0 and isinstance(spec.training_seconds, float)
    assert spec.fail_at_progress == 50 and isinstance(spec.fail_at_progress, int)
    assert spec.stall == (10, 1.0)


def test_is_frozen_hashable_and_keyword_only() -> None:
    spec = ReplicaSpec(replica_name="A", stall=(10, 1.0), extra_fields={"k": "v"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.replica_name = "B"  # type: ignore[misc]
    assert hash(spec) == hash(
        ReplicaSpec(replica_name="A", stall=(10, 1.0), extra_fields={"k": "v"})
    )
    assert spec == ReplicaSpec(replica_name="A", stall=(10, 1.0), extra_fields={"k": "v"})
    with pytest.raises(TypeError):
        ReplicaSpec("r1")  # type: ignore[misc]


def test_extra_fields_are_a_read_only_copy() -> None:
    given = {"k": "v"}
    spec = ReplicaSpec(extra_fields=given)
    given["k"] = "changed"
    assert spec.extra_fields["k"] == "v"
    with pytest.raises(TypeError):
        spec.extra_fields["k"] = "x"  # type: ignore[index]


def test_dict_round_trip_is_json() -> None:
    spec = ReplicaSpec(
        replica_id="rround00001",
        replica_name="Round",
        training_seconds=3.5,
        outcome="error",
        error_message="Blurry",
        fail_at_progress=60,
        replica_type="system",
        model_name="phoenix-4",
        stall=(20, 1.5),
        initial_status="training",
        final_status="ready",
        extra_fields={"x": [1]},
        owner_key="k",
        callback_url="http://127.0.0.1:1/cb",
    )
    data = json.loads(json.dumps(spec.to_dict()))
    assert ReplicaSpec.from_dict(data) == spec
    assert set(data) == set(ReplicaSpec.field_names())


@pytest.mark.parametrize("data", [None, [], "x", 5])
def test_from_dict_needs_an_object(data: Any) -> None:
    with pytest.raises(InvalidReplicaSpec, match="must be a JSON object"):
        ReplicaSpec.from_dict(data)


def test_from_dict_names_unknown_keys_and_the_known_ones() -> None:
    with pytest.raises(
        InvalidReplicaSpec, match=r"unknown replica parameters: bogus, zzz; known: replica_id"
    ):
        ReplicaSpec.from_dict({"zzz": 1, "bogus": 2, "replica_name": "ok"})


def test_timeline_uses_the_default_training_time_only_when_none_is_given() -> None:
    assert ReplicaSpec().timeline(100.0, 7.0).duration == 7.0
    timeline = ReplicaSpec(
        training_seconds=2, outcome="error", fail_at_progress=50, stall=(10, 0.5)
    ).timeline(100.0, 7.0)
    assert (timeline.started_at, timeline.duration, timeline.outcome) == (100.0, 2.0, "error")
    assert (timeline.fail_at_progress, timeline.stall_at, timeline.stall_seconds) == (50, 10, 0.5)


def test_build_spec_applies_overrides() -> None:
    base = ReplicaSpec(outcome="error", error_message="Blurry")
    assert build_spec(None, {}) == ReplicaSpec()
    assert build_spec(base, {}) is base
    derived = build_spec(base, {"replica_name": "Bob"})
    assert (derived.replica_name, derived.outcome, derived.error_message) == (
        "Bob",
        "error",
        "Blurry",
    )
    with pytest.raises(TypeError, match="unknown replica parameters: nope"):
        build_spec(None, {"nope": 1})
    with pytest.raises(TypeError, match="expected a ReplicaSpec"):
        build_spec({"replica_name": "x"}, {})  # type: ignore[arg-type]
    with pytest.raises(InvalidReplicaSpec):
        build_spec(base, {"outcome": "maybe"})


# -- the three ways in --------------------------------------------------------------------------


def test_facade_takes_a_spec_keywords_or_both(sim: TavusSimulator) -> None:
    failing = ReplicaSpec(training_seconds=0, outcome="error", error_message="Blurry")
    by_spec = sim.replica_payload(sim.add_replica(failing))
    by_both = sim.replica_payload(sim.add_replica(failing, replica_name="Bob"))
    by_keywords = sim.replica_payload(
        sim.add_replica(
            training_seconds=0, outcome="error", error_message="Blurry", replica_name="Bob"
        )
    )
    assert by_spec["status"] == by_both["status"] == by_keywords["status"] == "error"
    assert (
        by_spec["error_message"]
        == by_both["error_message"]
        == by_keywords["error_message"]
        == "Blurry"
    )
    assert (by_spec["replica_name"], by_both["replica_name"], by_keywords["replica_name"]) == (
        "My Replica",
        "Bob",
        "Bob",
    )


def test_facade_rejects_unknown_keywords_and_positional_non_specs(sim: TavusSimulator) -> None:
    with pytest.raises(TypeError, match="unknown replica parameters: replica_nmae"):
        sim.add_replica(replica_nmae="typo")
    with pytest.raises(TypeError, match="expected a ReplicaSpec"):
        sim.add_replica("rpositional")  # type: ignore[arg-type]
    assert (
        sim.stats()["requests"] == 0 and sim.state.list_page(api_key=None, limit=10, page=1)[1] == 0
    )


def test_training_seconds_none_uses_the_simulator_default(sim: TavusSimulator) -> None:
    started = time.time()
    rid = sim.add_replica(training_seconds=None)  # the ``sim`` fixture's default is 0.5 s
    deadline = time.monotonic() + 5
    while (finished := sim.finished_at(rid)) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert finished is not None and abs(finished - (started + 0.5)) < 0.1


def test_state_takes_only_specs() -> None:
    state = SimulatorState(["k"], 1.0)
    try:
        with pytest.raises(TypeError, match="takes a ReplicaSpec"):
            state.add_replica({"replica_name": "x"})  # type: ignore[arg-type]
        rid = state.add_replica(ReplicaSpec(replica_name="x", training_seconds=30))
        assert state.payload(rid)["replica_name"] == "x"  # type: ignore[index]
    finally:
        state.close()


def test_control_api_builds_the_same_replica_as_the_facade(
    sim: TavusSimulator, client: httpx.Client
) -> None:
    spec = ReplicaSpec(
        replica_name="Same",
        training_seconds=30,
        replica_type="system",
        model_name="phoenix-4",
        stall=(10, 5),
        initial_status="training",
        extra_fields={"x": 1},
    )
    via_python = sim.replica_payload(sim.add_replica(spec), verbose=True)
    added = client.post("/_sim/replicas", json=spec.to_dict())
    assert added.status_code == 200
    via_http = sim.replica_payload(added.json()["replica_id"], verbose=True)
    volatile = {
        "replica_id",
        "thumbnail_video_url",
        "created_at",
        "updated_at",
        "training_progress",
    }
    assert {k: v for k, v in via_http.items() if k not in volatile} == {
        k: v for k, v in via_python.items() if k not in volatile
    }


@pytest.mark.parametrize(
    ("fields", "message"), INVALID_OVER_HTTP, ids=[str(f) for f, _ in INVALID_OVER_HTTP]
)
def test_control_api_answers_invalid_values_with_400_and_the_message(
    client: httpx.Client, fields: dict[str, Any], message: str
) -> None:
    body = json.dumps({k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()})
    response = client.post(
        "/_sim/replicas", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert message in response.json()["error"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "must be a JSON object"),
        (b"[]", "must be a JSON object"),
        (b"{not json", "not valid JSON"),
        (b'{"bogus": 1}', "unknown replica parameters: bogus"),
        (b'{"training_seconds": 1' + b"0" * 400 + b"}", "training_seconds"),
        (b'{"training_seconds": NaN}', "training_seconds"),
    ],
)
def test_control_api_answers_malformed_bodies_with_400(
    client: httpx.Client, body: bytes, message: str
) -> None:
    response = client.post(
        "/_sim/replicas", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_control_api_reports_a_duplicate_id(client: httpx.Client) -> None:
    assert client.post("/_sim/replicas", json={"replica_id": "rdup0000001"}).status_code == 200
    again = client.post("/_sim/replicas", json={"replica_id": "rdup0000001"})
    assert (again.status_code, again.json()) == (
        400,
        {"error": "replica 'rdup0000001' already exists"},
    )


def test_create_endpoint_gives_the_spec_defaults(sim: TavusSimulator, client: httpx.Client) -> None:
    created = client.post(
        "/v2/replicas",
        json={"train_video_url": "https://e.com/v.mp4", "replica_name": "", "model_name": None},
    )
    assert created.status_code == 200
    payload = sim.replica_payload(created.json()["replica_id"], verbose=True)
    defaults = ReplicaSpec()
    assert (payload["replica_name"], payload["model_name"], payload["replica_type"]) == (
        defaults.replica_name,
        defaults.model_name,
        defaults.replica_type,
    )
