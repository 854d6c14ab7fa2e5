"""Faults that lose an answer after the request took effect, route-scoped fault scripts, and
the list order: what a client needs to be tested against a create whose answer never came."""

from __future__ import annotations

import time

import httpx
import pytest

from prefect_tavus.simulator import (
    FAULT_KINDS,
    ROUTE_CREATE,
    ROUTE_GET,
    ROUTE_LIST,
    ROUTES,
    Fault,
    TavusSimulator,
)

from .conftest import KEY

VIDEO = {"train_video_url": "https://e.com/v.mp4", "replica_name": "Lost"}


def _names(client: httpx.Client) -> list[str]:
    return [item["replica_name"] for item in client.get("/v2/replicas").json()["data"]]


def test_lost_answer_creates_the_replica_and_closes_without_a_byte(
    sim: TavusSimulator, client: httpx.Client
) -> None:
    sim.inject_faults(ROUTE_CREATE, [Fault.lost_answer()])
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.post("/v2/replicas", json=VIDEO)
    assert _names(client) == ["Lost"]  # applied: it is training
    assert (
        client.post("/v2/replicas", json=VIDEO).status_code == 200
    )  # one fault, then normal service
    assert _names(client) == ["Lost", "Lost"]
    assert sim.stats()["faults_served"] == 1


def test_a_drop_before_serving_creates_nothing(sim: TavusSimulator, client: httpx.Client) -> None:
    sim.inject_faults(ROUTE_CREATE, [Fault.drop()])
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.post("/v2/replicas", json=VIDEO)
    assert _names(client) == []


def test_late_answer_applies_at_once_and_answers_after_the_client_gave_up(
    sim: TavusSimulator,
) -> None:
    sim.inject_faults(ROUTE_CREATE, [Fault.late_answer(2.0), Fault.late_answer(0.2)])
    with httpx.Client(base_url=sim.url, headers={"x-api-key": KEY}, timeout=0.4) as impatient:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            impatient.post("/v2/replicas", json=VIDEO)
        assert time.monotonic() - started < 1.5
        assert _names(impatient) == ["Lost"]  # created while its answer is still held back
        late = impatient.post("/v2/replicas", json=VIDEO)  # held back less than the timeout
        assert late.status_code == 200 and late.json()["status"] == "started"
        assert _names(impatient) == ["Lost", "Lost"]


def test_route_scripts_sit_between_replica_and_star_scripts(
    sim: TavusSimulator, client: httpx.Client
) -> None:
    rid = sim.add_replica(training_seconds=30)
    assert ROUTES == (
        ROUTE_LIST,
        ROUTE_CREATE,
        ROUTE_GET,
        "DELETE /v2/replicas/{id}",
        "PATCH /v2/replicas/{id}/name",
    )
    sim.inject_faults(ROUTE_CREATE, [Fault.status(503)])
    sim.inject_faults("*", [Fault.status(500)])
    sim.inject_faults(ROUTE_GET, [Fault.status(502)])
    sim.inject_faults(rid, [Fault.status(429)])
    # A create fault is not consumed by reads; a GET takes its replica's fault, then its route's.
    assert client.get(f"/v2/replicas/{rid}").status_code == 429
    assert client.get(f"/v2/replicas/{rid}").status_code == 502
    assert client.post("/v2/replicas", json=VIDEO).status_code == 503
    assert client.get("/v2/replicas").status_code == 500  # no list script: the "*" one
    assert client.post("/v2/replicas", json=VIDEO).status_code == 200
    assert sim.state.pending_faults() == {}


def test_control_api_queues_the_new_kinds_on_a_route(
    sim: TavusSimulator, client: httpx.Client
) -> None:
    body = {
        "target": ROUTE_CREATE,
        "faults": [{"kind": "lost_answer"}, {"kind": "late_answer", "seconds": 0.1}],
    }
    assert client.post("/_sim/faults", json=body).json() == {"target": ROUTE_CREATE, "queued": 2}
    assert sim.state.pending_faults() == {ROUTE_CREATE: 2}


def test_new_fault_kinds_validate_and_round_trip() -> None:
    assert {"lost_answer", "late_answer"} <= set(FAULT_KINDS)
    faults = [Fault.lost_answer(), Fault.late_answer(1.5)]
    assert [Fault.from_dict(f.to_dict()) for f in faults] == faults
    assert faults[1].to_dict() == {"kind": "late_answer", "seconds": 1.5}
    for bad in (-1, float("nan"), "1", True, 10**400):
        with pytest.raises(ValueError):
            Fault.late_answer(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("filtered", [False, True])
def test_newest_first_lists_page_from_the_newest(filtered: bool) -> None:
    with (
        TavusSimulator(api_keys=(KEY,), list_order="newest_first") as sim,
        httpx.Client(base_url=sim.url, headers={"x-api-key": KEY}, timeout=5) as client,
    ):
        ids = [sim.add_replica(replica_name=f"n{i}", training_seconds=30) for i in range(5)]
        params = {"limit": "2", "replica_type": "user"} if filtered else {"limit": "2"}
        pages = [
            client.get("/v2/replicas", params={**params, "page": str(p)}).json()
            for p in (1, 2, 3, 4)
        ]
        assert [[item["replica_id"] for item in page["data"]] for page in pages] == [
            ids[4:2:-1],
            ids[2:0:-1],
            ids[0:1],
            [],
        ]
        assert {page["total_count"] for page in pages} == {5}


def test_unknown_list_order_is_refused() -> None:
    with pytest.raises(ValueError, match="oldest_first, newest_first"):
        TavusSimulator(list_order="random")  # type: ignore[arg-type]


def test_max_page_size_clamps_list_pages_silently() -> None:
    with (
        TavusSimulator(api_keys=(KEY,), max_page_size=2) as sim,
        httpx.Client(base_url=sim.url, headers={"x-api-key": KEY}, timeout=5) as client,
    ):
        for index in range(3):
            sim.add_replica(replica_name=f"n{index}", training_seconds=30)
        first = client.get("/v2/replicas", params={"limit": "50"}).json()
        assert len(first["data"]) == 2 and first["total_count"] == 3
        assert (
            len(client.get("/v2/replicas").json()["data"]) == 2
        )  # the default limit is the cap too
    with pytest.raises(ValueError, match="max_page_size"):
        TavusSimulator(max_page_size=0)
