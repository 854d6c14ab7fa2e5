"""Behaviour of the Tavus simulator as an HTTP client sees it (real sockets on loopback).

The simulator is what the rest of the project is tested and benchmarked against, so these
tests pin its contract: Tavus's payload and error shapes, the training timeline, lists,
create/rename/delete, every fault kind, statistics, the control API and callbacks
(the replica parameters are in test_spec.py, the command line in test_cli.py).
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from datetime import datetime, timezone

import httpx
import pytest

from prefect_tavus.simulator import (
    DEFAULT_ERROR_MESSAGE,
    Fault,
    TavusSimulator,
    Timeline,
    iso_timestamp,
)

from .conftest import KEY, OTHER_KEY, CallbackReceiver

ISO_MS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
GET_FIELDS = {
    "replica_id",
    "replica_name",
    "thumbnail_video_url",
    "training_progress",
    "status",
    "created_at",
    "updated_at",
    "error_message",
    "model_name",
}
LIST_FIELDS = {
    "replica_id",
    "replica_name",
    "thumbnail_video_url",
    "training_progress",
    "status",
    "created_at",
    "replica_type",
    "model_name",
}


def progress_of(payload: dict[str, object]) -> int:
    value = str(payload["training_progress"])
    numerator, denominator = value.split("/")
    assert denominator == "100"
    return int(numerator)


def wait_until_finished(sim: TavusSimulator, replica_id: str, timeout: float = 5.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        finished = sim.finished_at(replica_id)
        if finished is not None:
            return finished
        time.sleep(0.02)
    raise AssertionError(f"{replica_id} did not finish within {timeout} s")


# -- authentication ------------------------------------------------------------------------------


def test_missing_or_unknown_key_gets_tavus_401(sim: TavusSimulator) -> None:
    rid = sim.add_replica(training_seconds=30)
    with httpx.Client(base_url=sim.url, timeout=5.0) as anonymous:
        missing = anonymous.get(f"/v2/replicas/{rid}")
        wrong = anonymous.get(f"/v2/replicas/{rid}", headers={"x-api-key": "not-a-key"})
        listing = anonymous.get("/v2/replicas", headers={"x-api-key": "not-a-key"})
    for response in (missing, wrong, listing):
        assert response.status_code == 401
        assert response.json() == {"message": "Invalid access token"}
        assert response.headers["content-type"] == "application/json"
    assert sim.stats()["unauthorized"] == 3


def test_revoked_key_gets_401_while_other_keys_work(
    sim: TavusSimulator, client: httpx.Client
) -> None:
    rid = sim.add_replica(training_seconds=30)
    assert client.get(f"/v2/replicas/{rid}").status_code == 200
    sim.revoke_key(KEY)
    refused = client.get(f"/v2/replicas/{rid}")
    assert refused.status_code == 401
    assert refused.json() == {"message": "Invalid access token"}
    assert client.get(f"/v2/replicas/{rid}", headers={"x-api-key": OTHER_KEY}).status_code == 200


# -- GET /v2/replicas/{id} -------------------------------------------------------------------------


def test_get_replica_shape_and_verbose(sim: TavusSimulator, client: httpx.Client) -> None:
    rid = sim.add_replica(
        replica_name="Ann", training_seconds=30, model_name="phoenix-4", replica_type="system"
    )
    assert re.fullmatch(r"r[0-9a-f]{10}", rid)

    plain = client.get(f"/v2/replicas/{rid}")
    assert plain.status_code == 200
    body = plain.json()
    assert set(body) == GET_FIELDS  # no replica_type without verbose
    assert body["replica_id"] == rid
    assert body["replica_name"] == "Ann"
    assert body["status"] == "started"
    assert body["error_message"] is None
    assert body["model_name"] == "phoenix-4"
    assert re.fullmatch(r"\d{1,3}/100", body["training_progress"])
    assert isinstance(body["thumbnail_video_url"], str) and body["thumbnail_video_url"].startswith(
        "https://"
    )
    assert ISO_MS_Z.match(body["created_at"]) and ISO_MS_Z.match(body["updated_at"])
    created = datetime.strptime(body["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc
    )
    assert abs(created.timestamp() - time.time()) < 5

    verbose = client.get(f"/v2/replicas/{rid}", params={"verbose": "true"}).json()
    assert set(verbose) == GET_FIELDS | {"replica_type"}
    assert verbose["replica_type"] == "system"
    assert (
        "replica_type" not in client.get(f"/v2/replicas/{rid}", params={"verbose": "false"}).json()
    )
    assert sim.replica_payload(rid, verbose=True)["replica_type"] == "system"


def test_unknown_or_deleted_id_is_400_invalid_replica_id(
    sim: TavusSimulator, client: httpx.Client
) -> None:
    unknown = client.get("/v2/replicas/rdoesnotexist")
    assert unknown.status_code == 400
    assert unknown.json() == {"error": "Invalid replica_id"}
    rid = sim.add_replica(training_seconds=30)
    sim.delete_replica(rid)
    gone = client.get(f"/v2/replicas/{rid}")
    assert (gone.status_code, gone.json()) == (400, {"error": "Invalid replica_id"})
    with pytest.raises(KeyError):
        sim.replica_payload(rid)


def test_url_encoded_replica_id_is_decoded(sim: TavusSimulator, client: httpx.Client) -> None:
    rid = sim.add_replica(replica_id="odd id/with slash", training_seconds=30)
    response = client.get("/v2/replicas/odd%20id%2Fwith%20slash")
    assert response.status_code == 200
    assert response.json()["replica_id"] == rid


def test_messy_extra_fields_and_custom_status_vocabulary(
    sim: TavusSimulator, client: httpx.Client
) -> None:
    rid = sim.add_replica(
        training_seconds=0.3,
        initial_status="training",
        final_status="ready",
        extra_fields={
            "replica_type": "user'",
            "error_message": "stale",
            "brand_new_field": {"x": 1},
        },
    )
    during = client.get(f"/v2/replicas/{rid}").json()
    assert during["status"] == "training"
    assert during["replica_type"] == "user'"  # extra fields are merged into every payload
    assert during["brand_new_field"] == {"x": 1}
    wait_until_finished(sim, rid)
    after = client.get(f"/v2/replicas/{rid}").json()
    assert after["status"] == "ready"
    assert after["training_progress"] == "100/100"
    assert after["error_message"] == "stale"  # messy like the docs' example: set on success
    listed = client.get("/v2/replicas", params={"replica_ids": rid}).json()["data"][0]
    assert listed["brand_new_field"] == {"x": 1}


# -- the training timeline ---------------------------------------------------------------------------


def test_progress_grows_then_completes(sim: TavusSimulator, client: httpx.Client) -> None:
    started = time.time()
    rid = sim.add_replica(training_seconds=1.0)
    seen: list[int] = []
    statuses: set[str] = set()
    while time.time() - started < 3.0:
        body = client.get(f"/v2/replicas/{rid}").json()
        seen.append(progress_of(body))
        statuses.add(body["status"])
        if body["status"] != "started":
            break
        time.sleep(0.05)
    assert seen == sorted(seen), "progress never goes backwards"
    assert any(0 < value < 100 for value in seen), seen
    assert statuses == {"started", "completed"}
    final = client.get(f"/v2/replicas/{rid}").json()
    assert final["training_progress"] == "100/100"
    assert final["status"] == "completed"
    assert final["error_message"] is None

    finished_at = sim.finished_at(rid)
    assert finished_at is not None
    assert abs(finished_at - (started + 1.0)) < 0.1  # from the timeline, not from polling
    assert final["updated_at"] == iso_timestamp(finished_at)
    time.sleep(0.1)
    assert sim.finished_at(rid) == finished_at


def test_finished_at_is_none_while_training(sim: TavusSimulator) -> None:
    rid = sim.add_replica(training_seconds=30)
    assert sim.finished_at(rid) is None


def test_error_outcome_stops_at_fail_progress(sim: TavusSimulator, client: httpx.Client) -> None:
    started = time.time()
    rid = sim.add_replica(
        training_seconds=1.0, outcome="error", error_message="Face not visible", fail_at_progress=50
    )
    first = client.get(f"/v2/replicas/{rid}").json()
    assert first["status"] == "started" and first["error_message"] is None
    finished_at = wait_until_finished(sim, rid)
    assert abs(finished_at - (started + 0.5)) < 0.1  # fails when progress reaches 50 of a 1 s run
    time.sleep(0.6)  # past the full training time: it stays failed at 50
    body = client.get(f"/v2/replicas/{rid}").json()
    assert body["status"] == "error"
    assert body["training_progress"] == "50/100"
    assert body["error_message"] == "Face not visible"


def test_error_outcome_has_default_message(sim: TavusSimulator) -> None:
    rid = sim.add_replica(training_seconds=0, outcome="error")
    payload = sim.replica_payload(rid)
    assert payload["status"] == "error"
    assert payload["training_progress"] == "40/100"
    assert payload["error_message"] == DEFAULT_ERROR_MESSAGE


def test_timeline_plateau_is_part_of_training_time() -> None:
    timeline = Timeline(started_at=1000.0, duration=10.0, stall_at=30, stall_seconds=5.0)
    # 5 s of movement: 30 % after 1.5 s, then 5 s standing still, then the remaining 70 %.
    assert timeline.progress_at(1000.0) == 0
    assert timeline.progress_at(1001.0) == 20
    assert timeline.progress_at(1001.5) == 30
    assert timeline.progress_at(1006.4) == 30
    assert timeline.progress_at(1007.0) == 40
    assert timeline.progress_at(1009.99) == 99
    assert not timeline.is_finished(1009.99)
    assert timeline.progress_at(1010.0) == 100 and timeline.finished_at == 1010.0
    assert timeline.last_change_at(1004.0) == pytest.approx(1001.5)  # updated_at = plateau start


def test_stall_is_visible_over_http(sim: TavusSimulator, client: httpx.Client) -> None:
    rid = sim.add_replica(training_seconds=1.2, stall=(10, 1.0))
    time.sleep(0.25)  # 0.2 s of movement reach 100 %; the plateau at 10 % lasts until ~1.02 s
    values = set()
    for _ in range(5):
        values.add(client.get(f"/v2/replicas/{rid}").json()["training_progress"])
        time.sleep(0.05)
    assert values == {"10/100"}


def test_invalid_add_replica_arguments_are_rejected(sim: TavusSimulator) -> None:
    with pytest.raises(ValueError):
        sim.add_replica(outcome="maybe")
    with pytest.raises(ValueError):
        sim.add_replica(training_seconds=-1)
    with pytest.raises(ValueError):
        sim.add_replica(stall=(10,))
    rid = sim.add_replica(replica_id="rfixed00001", training_seconds=30)
    with pytest.raises(ValueError):
        sim.add_replica(replica_id=rid)


# -- GET /v2/replicas ---------------------------------------------------------------------------------


def test_list_paging_filters_and_fields(sim: TavusSimulator, client: httpx.Client) -> None:
    ids = [
        sim.add_replica(
            replica_name=f"R{i}", training_seconds=30, replica_type=kind, model_name=model
        )
        for i, (kind, model) in enumerate(
            [
                ("user", "phoenix-3"),
                ("system", "phoenix-3"),
                ("user", "phoenix-4"),
                ("user", "phoenix-3"),
                ("system", "phoenix-4"),
            ]
        )
    ]
    everything = client.get("/v2/replicas").json()
    assert everything["total_count"] == 5
    assert [item["replica_id"] for item in everything["data"]] == ids  # creation order
    for item in everything["data"]:
        assert set(item) == LIST_FIELDS  # no updated_at, no error_message

    pages = [
        client.get("/v2/replicas", params={"limit": 2, "page": page}).json()
        for page in (1, 2, 3, 4)
    ]
    assert [[i["replica_id"] for i in p["data"]] for p in pages] == [
        ids[0:2],
        ids[2:4],
        ids[4:5],
        [],
    ]
    assert {p["total_count"] for p in pages} == {5}

    system = client.get("/v2/replicas", params={"replica_type": "system", "limit": 1}).json()
    assert system["total_count"] == 2 and [i["replica_id"] for i in system["data"]] == [ids[1]]
    phoenix4 = client.get("/v2/replicas", params={"model_name": "phoenix-4"}).json()
    assert [i["replica_id"] for i in phoenix4["data"]] == [ids[2], ids[4]]

    chosen = client.get(
        "/v2/replicas", params={"replica_ids": f"{ids[3]},rnothere000,{ids[0]}"}
    ).json()
    assert chosen["total_count"] == 2
    assert [i["replica_id"] for i in chosen["data"]] == [
        ids[0],
        ids[3],
    ]  # unknown ids simply absent

    sim.delete_replica(ids[0])
    assert client.get("/v2/replicas").json()["total_count"] == 4


def test_list_limit_is_clamped_and_validated(sim: TavusSimulator, client: httpx.Client) -> None:
    for i in range(105):
        sim.add_replica(replica_name=f"R{i}", training_seconds=30)
    big = client.get("/v2/replicas", params={"limit": 500}).json()
    assert len(big["data"]) == 100 and big["total_count"] == 105
    assert len(client.get("/v2/replicas").json()["data"]) == 100
    bad = client.get("/v2/replicas", params={"limit": "zero"})
    assert bad.status_code == 400 and "limit" in bad.json()["error"]
    assert client.get("/v2/replicas", params={"page": 0}).status_code == 400


def test_owner_key_limits_visibility(sim: TavusSimulator, client: httpx.Client) -> None:
    mine = sim.add_replica(training_seconds=30, owner_key=OTHER_KEY)
    shared = sim.add_replica(training_seconds=30)
    assert client.get(f"/v2/replicas/{mine}").status_code == 400
    assert [i["replica_id"] for i in client.get("/v2/replicas").json()["data"]] == [shared]
    as_owner = client.get("/v2/replicas", headers={"x-api-key": OTHER_KEY}).json()
    assert [i["replica_id"] for i in as_owner["data"]] == [mine, shared]


# -- POST, PATCH, DELETE ---------------------------------------------------------------------------


def test_create_validates_and_trains(sim: TavusSimulator, client: httpx.Client) -> None:
    missing = client.post("/v2/replicas", json={"replica_name": "No video"})
    assert missing.status_code == 400 and "train_video_url" in missing.json()["error"]
    no_voice = client.post("/v2/replicas", json={"train_image_url": "https://example.com/a.png"})
    assert no_voice.status_code == 400 and "voice_name" in no_voice.json()["error"]
    not_json = client.post(
        "/v2/replicas", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 400 and "error" in not_json.json()

    created = client.post(
        "/v2/replicas",
        json={
            "train_video_url": "https://example.com/train.mp4",
            "replica_name": "Made",
            "model_name": "phoenix-4",
        },
    )
    assert created.status_code == 200
    body = created.json()
    assert set(body) == {"replica_id", "status"} and body["status"] == "started"
    rid = body["replica_id"]
    assert re.fullmatch(r"r[0-9a-f]{10}", rid)
    fetched = client.get(f"/v2/replicas/{rid}").json()
    assert (fetched["replica_name"], fetched["model_name"], fetched["status"]) == (
        "Made",
        "phoenix-4",
        "started",
    )
    from_image = client.post(
        "/v2/replicas", json={"train_image_url": "https://example.com/a.png", "voice_name": "Ava"}
    )
    assert from_image.status_code == 200

    finished_at = wait_until_finished(sim, rid)
    assert finished_at == pytest.approx(sim.finished_at(rid))
    assert client.get(f"/v2/replicas/{rid}").json()["status"] == "completed"


def test_create_with_fail_in_video_url_ends_in_error(
    sim: TavusSimulator, client: httpx.Client
) -> None:
    rid = client.post(
        "/v2/replicas", json={"train_video_url": "https://example.com/please-fail.mp4"}
    ).json()["replica_id"]
    wait_until_finished(sim, rid)
    body = client.get(f"/v2/replicas/{rid}").json()
    assert body["status"] == "error" and body["error_message"]


def test_rename(sim: TavusSimulator, client: httpx.Client) -> None:
    rid = sim.add_replica(replica_name="Old", training_seconds=30)
    renamed = client.patch(f"/v2/replicas/{rid}/name", json={"replica_name": "New"})
    assert renamed.status_code == 200 and renamed.content == b""
    assert client.get(f"/v2/replicas/{rid}").json()["replica_name"] == "New"
    missing = client.patch(f"/v2/replicas/{rid}/name", json={})
    assert missing.status_code == 400 and "replica_name" in missing.json()["error"]
    unknown = client.patch("/v2/replicas/rnothere000/name", json={"replica_name": "X"})
    assert (unknown.status_code, unknown.json()) == (400, {"error": "Invalid replica_id"})


def test_delete(sim: TavusSimulator, client: httpx.Client) -> None:
    rid = sim.add_replica(training_seconds=30)
    deleted = client.delete(f"/v2/replicas/{rid}", params={"hard": "true"})
    assert deleted.status_code == 200 and deleted.content == b""
    assert client.get(f"/v2/replicas/{rid}").status_code == 400
    assert client.get("/v2/replicas").json() == {"data": [], "total_count": 0}
    again = client.delete(f"/v2/replicas/{rid}")
    assert (again.status_code, again.json()) == (400, {"error": "Invalid replica_id"})
    with pytest.raises(KeyError):
        sim.delete_replica(rid)


def test_delete_can_answer_204() -> None:
    with (
        TavusSimulator(delete_status=204) as sim,
        httpx.Client(base_url=sim.url, headers={"x-api-key": KEY}) as http,
    ):
        rid = sim.add_replica(training_seconds=30)
        response = http.delete(f"/v2/replicas/{rid}")
        assert response.status_code == 204 and response.content == b""
        assert http.get(f"/v2/replicas/{rid}").status_code == 400  # connection still usable


def test_unknown_routes(sim: TavusSimulator, client: httpx.Client) -> None:
    for response in (
        client.get("/v2/conversations"),
        client.put("/v2/replicas/rabc"),
        client.get("/v2"),
    ):
        assert (response.status_code, response.json()) == (404, {"error": "Not found"})
    assert (
        client.get("/v2/conversations", headers={"x-api-key": "bad"}).status_code == 401
    )  # auth first
    assert client.get("/elsewhere").status_code == 404


# -- faults ---------------------------------------------------------------------------------------


def test_status_faults_with_retry_after_and_tavus_bodies(
    sim: TavusSimulator, client: httpx.Client
) -> None:
    rid = sim.add_replica(training_seconds=30)
    http_date = "Wed, 21 Oct 2015 07:28:00 GMT"
    sim.inject_faults(
        rid,
        [
            Fault.status(429, retry_after="2"),
            Fault.status(503, retry_after=http_date),
            Fault.status(401),
            Fault.status(502, body={"detail": "custom"}),
        ],
    )
    too_many = client.get(f"/v2/replicas/{rid}")
    assert too_many.status_code == 429
    assert too_many.headers["retry-after"] == "2"
    assert too_many.json() == {"error": "Too Many Requests"}
    unavailable = client.get(f"/v2/replicas/{rid}")
    assert unavailable.status_code == 503
    assert unavailable.headers["retry-after"] == http_date
    assert unavailable.json() == {"message": "Service Unavailable"}
    unauthorized = client.get(f"/v2/replicas/{rid}")
    assert (unauthorized.status_code, unauthorized.json()) == (
        401,
        {"message": "Invalid access token"},
    )
    custom = client.get(f"/v2/replicas/{rid}")
    assert (custom.status_code, custom.json()) == (502, {"detail": "custom"})
    assert "retry-after" not in custom.headers
    assert client.get(f"/v2/replicas/{rid}").status_code == 200  # script used up: normal service


def test_drop_fault_closes_connection_without_response(
    sim: TavusSimulator, client: httpx.Client
) -> None:
    rid = sim.add_replica(training_seconds=30)
    assert client.get(f"/v2/replicas/{rid}").status_code == 200  # a pooled keep-alive connection
    sim.inject_faults(rid, [Fault.drop()])
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.get(f"/v2/replicas/{rid}")
    assert client.get(f"/v2/replicas/{rid}").status_code == 200


def test_delay_fault_exceeds_a_short_read_timeout(sim: TavusSimulator) -> None:
    rid = sim.add_replica(training_seconds=30)
    sim.inject_faults(rid, [Fault.delay(1.0), Fault.delay(0.2)])
    with httpx.Client(base_url=sim.url, headers={"x-api-key": KEY}, timeout=0.3) as impatient:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            impatient.get(f"/v2/replicas/{rid}")
        assert time.monotonic() - started < 0.9
        started = time.monotonic()
        slow = impatient.get(f"/v2/replicas/{rid}")  # delayed, but within the timeout
        assert slow.status_code == 200 and slow.json()["replica_id"] == rid
        assert time.monotonic() - started >= 0.2


def test_garbage_fault_is_html_labelled_json(sim: TavusSimulator, client: httpx.Client) -> None:
    rid = sim.add_replica(training_seconds=30)
    sim.inject_faults(rid, [Fault.garbage()])
    response = client.get(f"/v2/replicas/{rid}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == b"<html>oops</html>"
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_truncated_fault_is_half_a_json_body(sim: TavusSimulator, client: httpx.Client) -> None:
    rid = sim.add_replica(training_seconds=30)
    full = client.get(f"/v2/replicas/{rid}").content
    sim.inject_faults(rid, [Fault.truncated()])
    response = client.get(f"/v2/replicas/{rid}")
    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(response.content) == len(full) // 2
    assert full.startswith(response.content)
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert client.get(f"/v2/replicas/{rid}").json()["replica_id"] == rid  # connection still in sync


def test_fault_scripts_order_targets_and_precedence(
    sim: TavusSimulator, client: httpx.Client
) -> None:
    rid = sim.add_replica(training_seconds=30)
    other = sim.add_replica(training_seconds=30)
    sim.inject_faults("*", [Fault.status(500)])
    sim.inject_faults(rid, [Fault.status(503), Fault.status(429)])
    # The replica's own script first, in order, then the "*" script, then normal service.
    assert client.get(f"/v2/replicas/{rid}").status_code == 503
    assert client.get("/v2/replicas", params={"replica_ids": f"{other},{rid}"}).status_code == 429
    assert client.get(f"/v2/replicas/{other}").status_code == 500
    assert client.get(f"/v2/replicas/{rid}").status_code == 200
    assert client.get("/v2/replicas").status_code == 200
    # "*" matches every API request, list and create included.
    sim.inject_faults("*", [Fault.status(502), Fault.status(504)])
    assert client.get("/v2/replicas").status_code == 502
    assert (
        client.post("/v2/replicas", json={"train_video_url": "https://e.com/v.mp4"}).status_code
        == 504
    )
    assert client.get("/v2/replicas").json()["total_count"] == 2  # the faulted create had no effect
    assert sim.stats()["faults_served"] == 5


def test_faults_apply_before_auth(sim: TavusSimulator) -> None:
    rid = sim.add_replica(training_seconds=30)
    sim.inject_faults(rid, [Fault.status(503)])
    with httpx.Client(base_url=sim.url, headers={"x-api-key": "wrong"}, timeout=5.0) as wrong:
        assert wrong.get(f"/v2/replicas/{rid}").status_code == 503
        assert wrong.get(f"/v2/replicas/{rid}").status_code == 401


def test_fault_values_validate_and_round_trip() -> None:
    faults = [
        Fault.status(503, retry_after=2),
        Fault.drop(),
        Fault.delay(0.5),
        Fault.garbage(),
        Fault.truncated(),
    ]
    assert faults[0].retry_after == "2"
    assert [Fault.from_dict(f.to_dict()) for f in faults] == faults
    assert len(set(faults)) == 5  # frozen and hashable
    with pytest.raises(ValueError):
        Fault.status(99)
    with pytest.raises(ValueError):
        Fault.delay(-1)
    with pytest.raises(ValueError):
        Fault.from_dict({"kind": "explode"})


# -- statistics ---------------------------------------------------------------------------------


def test_stats_count_routes_replicas_and_connections(
    sim: TavusSimulator, client: httpx.Client
) -> None:
    rid = sim.add_replica(training_seconds=30)
    for _ in range(3):
        client.get(f"/v2/replicas/{rid}")
    client.get("/v2/replicas")
    client.get("/v2/replicas/rnothere000")
    client.patch(f"/v2/replicas/{rid}/name", json={"replica_name": "N"})
    client.get("/_sim/stats")  # control requests are not counted
    client.get(f"/v2/replicas/{rid}", headers={"x-api-key": "bad"})
    stats = sim.stats()
    assert stats["requests"] == 7
    assert stats["by_route"] == {
        "GET /v2/replicas/{id}": 5,
        "GET /v2/replicas": 1,
        "PATCH /v2/replicas/{id}/name": 1,
    }
    assert stats["by_replica"] == {rid: 4, "rnothere000": 1}
    assert stats["unauthorized"] == 1
    assert stats["connections"] == 1  # keep-alive: one connection for everything
    sim.reset_stats()
    assert sim.stats()["requests"] == 0 and sim.stats()["by_route"] == {}


def test_concurrent_clients_are_all_served(sim: TavusSimulator) -> None:
    ids = [sim.add_replica(training_seconds=30) for _ in range(20)]
    failures: list[str] = []

    def poll(worker: int) -> None:
        with httpx.Client(base_url=sim.url, headers={"x-api-key": KEY}, timeout=5.0) as http:
            for i in range(25):
                rid = ids[(worker + i) % len(ids)]
                response = http.get(f"/v2/replicas/{rid}")
                if response.status_code != 200 or response.json()["replica_id"] != rid:
                    failures.append(f"{rid}: {response.status_code}")

    workers = [threading.Thread(target=poll, args=(n,)) for n in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(10)
    assert failures == []
    assert sim.stats()["requests"] == 200
    assert sum(sim.stats()["by_replica"].values()) == 200


# -- lifecycle -----------------------------------------------------------------------------------


def test_stop_is_prompt_and_closes_everything() -> None:
    before = set(threading.enumerate())
    sim = TavusSimulator().start()
    port = sim.port
    http = httpx.Client(base_url=sim.url, headers={"x-api-key": KEY}, timeout=5.0)
    rid = sim.add_replica(training_seconds=30)
    assert (
        http.get(f"/v2/replicas/{rid}").status_code == 200
    )  # an idle keep-alive connection stays open
    sim.inject_faults(rid, [Fault.delay(30)])
    outcome: list[object] = []

    def stuck_request() -> None:
        try:
            outcome.append(http.get(f"/v2/replicas/{rid}"))
        except httpx.HTTPError as exc:
            outcome.append(exc)

    pending = threading.Thread(target=stuck_request)
    pending.start()  # a request stuck in a long delay fault
    time.sleep(0.1)
    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 1.0
    pending.join(2)
    http.close()
    assert not pending.is_alive()
    assert len(outcome) == 1 and isinstance(
        outcome[0], (httpx.RemoteProtocolError, httpx.ReadError)
    )
    assert {t for t in threading.enumerate() if t not in before} == set()
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", port), timeout=1),
    ):
        pass
    sim.stop()  # idempotent


def test_reset_drops_replicas_faults_revocations_and_stats(
    sim: TavusSimulator, client: httpx.Client
) -> None:
    rid = sim.add_replica(training_seconds=30)
    sim.inject_faults("*", [Fault.status(503)])
    sim.revoke_key(KEY)
    client.get(f"/v2/replicas/{rid}")
    sim.reset()
    assert sim.stats()["requests"] == 0
    response = client.get(f"/v2/replicas/{rid}")
    assert (response.status_code, response.json()) == (400, {"error": "Invalid replica_id"})


# -- control API ----------------------------------------------------------------------------------


def test_control_api_drives_a_simulator(sim: TavusSimulator, client: httpx.Client) -> None:
    added = client.post(
        "/_sim/replicas",
        json={
            "replica_name": "Ctl",
            "training_seconds": 30,
            "stall": [10, 5],
            "extra_fields": {"k": "v"},
        },
    )
    assert added.status_code == 200
    rid = added.json()["replica_id"]
    state = client.get(f"/_sim/replicas/{rid}", params={"verbose": "true"}).json()
    assert state["finished_at"] is None
    assert state["payload"]["replica_name"] == "Ctl" and state["payload"]["k"] == "v"
    assert state["payload"]["replica_type"] == "user"

    done = client.post("/_sim/replicas", json={"training_seconds": 0}).json()["replica_id"]
    assert client.get(f"/_sim/replicas/{done}").json()["finished_at"] == pytest.approx(
        time.time(), abs=5
    )

    queued = client.post(
        "/_sim/faults",
        json={
            "target": rid,
            "faults": [{"kind": "status", "code": 503, "retry_after": "2"}, {"kind": "drop"}],
        },
    )
    assert queued.json() == {"target": rid, "queued": 2}
    faulted = client.get(f"/v2/replicas/{rid}")
    assert faulted.status_code == 503 and faulted.headers["retry-after"] == "2"
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.get(f"/v2/replicas/{rid}")

    stats = client.get("/_sim/stats").json()
    assert stats["by_replica"] == {rid: 2} and stats["faults_served"] == 2

    assert client.post("/_sim/delete", json={"replica_id": done}).json() == {"deleted": done}
    assert client.get(f"/v2/replicas/{done}").status_code == 400
    assert client.post("/_sim/revoke", json={"api_key": KEY}).json() == {"revoked": KEY}
    assert client.get(f"/v2/replicas/{rid}").status_code == 401

    assert client.post("/_sim/reset").json() == {"reset": True}
    assert client.get(f"/v2/replicas/{rid}").status_code == 400  # key restored, replica gone
    assert client.get("/_sim/stats").json()["requests"] == 1


def test_control_api_rejects_bad_input(client: httpx.Client) -> None:
    assert client.post("/_sim/replicas", json={"bogus": 1}).status_code == 400
    assert client.post("/_sim/replicas", json={"outcome": "maybe"}).status_code == 400
    assert (
        client.post(
            "/_sim/faults", json={"target": "*", "faults": [{"kind": "explode"}]}
        ).status_code
        == 400
    )
    assert client.post("/_sim/faults", json={"target": "*"}).status_code == 400
    assert client.get("/_sim/replicas/rnothere000").status_code == 404
    assert client.post("/_sim/delete", json={"replica_id": "rnothere000"}).status_code == 404
    assert client.get("/_sim/nope").status_code == 404


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"kind": "delay", "seconds": 10**400}, "delay seconds"),
        ({"kind": "delay", "seconds": float("nan")}, "delay seconds"),
        ({"kind": "delay", "seconds": "1"}, "delay seconds"),
        ({"kind": "status", "code": 503, "body": [1, 2]}, "body must be JSON text or an object"),
        ({"kind": "status", "code": 503, "body": 5}, "body must be JSON text or an object"),
        ({"kind": "status", "code": "503"}, "HTTP status code"),
        ({"kind": "status"}, "needs a 'code'"),
        (5, "must be a JSON object"),
    ],
)
def test_control_api_answers_bad_faults_with_400(
    client: httpx.Client, fault: object, message: str
) -> None:
    body = json.dumps({"target": "*", "faults": [fault]})
    response = client.post(
        "/_sim/faults", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and message in response.json()["error"]
    assert client.get("/_sim/health").json() == {"status": "ok"}  # same connection, still served


def test_an_internal_error_is_a_500_not_a_dropped_connection(
    sim: TavusSimulator, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = sim._server.app  # type: ignore[union-attr]

    def broken(request: object, wait: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(app, "handle", broken)
    response = client.get("/v2/replicas")
    assert response.status_code == 500
    assert response.json() == {"error": "Tavus simulator internal error: RuntimeError: boom"}
    monkeypatch.undo()
    assert client.get("/v2/replicas").status_code == 200  # the server lives on


# -- callbacks ----------------------------------------------------------------------------------


def test_callbacks_reach_a_loopback_receiver(
    sim: TavusSimulator, client: httpx.Client, receiver: CallbackReceiver
) -> None:
    ok = client.post(
        "/v2/replicas",
        json={"train_video_url": "https://e.com/ok.mp4", "callback_url": receiver.url},
    ).json()["replica_id"]
    bad = client.post(
        "/v2/replicas",
        json={"train_video_url": "https://e.com/fail.mp4", "callback_url": receiver.url},
    ).json()["replica_id"]
    bodies = receiver.wait_for(2)
    by_id = {body["replica_id"]: body for body in bodies}
    assert by_id[ok] == {"replica_id": ok, "status": "ready"}
    assert by_id[bad]["status"] == "error" and by_id[bad]["error_message"]
    assert set(by_id[bad]) == {"replica_id", "status", "error_message"}
    assert sim.finished_at(ok) is not None and sim.finished_at(bad) is not None
    deadline = time.monotonic() + 2
    while sim.stats()["callbacks"]["delivered"] < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sim.stats()["callbacks"]["delivered"] == 2


def test_callbacks_never_go_to_other_hosts(sim: TavusSimulator, client: httpx.Client) -> None:
    created = client.post(
        "/v2/replicas",
        json={"train_video_url": "https://e.com/v.mp4", "callback_url": "http://example.com/hook"},
    )
    assert created.status_code == 200
    assert sim.stats()["callbacks"] == {"delivered": 0, "failed": 0, "skipped": 1, "dropped": 0}


def test_lost_callbacks_are_dropped_and_counted(
    sim: TavusSimulator, client: httpx.Client, receiver: CallbackReceiver
) -> None:
    lost = sim.add_replica(training_seconds=0.05, callback_url=receiver.url, drop_callback=True)
    kept = sim.add_replica(training_seconds=0.1, callback_url=receiver.url)
    (body,) = receiver.wait_for(1)
    assert body["replica_id"] == kept
    sim.state.drop_callbacks = True  # the simulator-wide switch: every callback is lost from now on
    sim.add_replica(training_seconds=0.05, callback_url=receiver.url)
    deadline = time.monotonic() + 3
    while sim.stats()["callbacks"]["dropped"] < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sim.finished_at(lost) is not None
    assert sim.stats()["callbacks"] == {"delivered": 1, "failed": 0, "skipped": 0, "dropped": 2}
    assert len(receiver.bodies) == 1


def test_ending_training_early_sends_its_callback_then_and_once(
    sim: TavusSimulator, receiver: CallbackReceiver
) -> None:
    early = sim.add_replica(training_seconds=3600, callback_url=receiver.url)
    later = sim.add_replica(training_seconds=3600, callback_url=receiver.url)
    sim.end_training(later, at=time.time() + 0.4)  # earlier than scripted, later than now
    sim.end_training(early)
    (first,) = receiver.wait_for(1)
    assert first == {"replica_id": early, "status": "ready"}
    bodies = receiver.wait_for(2)
    assert [b["replica_id"] for b in bodies] == [early, later]
    time.sleep(0.3)
    assert len(receiver.bodies) == 2  # neither is sent a second time
    assert sim.stats()["callbacks"]["delivered"] == 2


@pytest.mark.parametrize(
    "url",
    [
        "ftp://h.example/cb",
        "https:/h.example/cb",
        "https://h.example:99999/cb",
        "https://h.example/c b",
        "cb",
    ],
)
def test_create_with_an_invalid_callback_url_is_a_400_quoting_it(
    sim: TavusSimulator, client: httpx.Client, url: str
) -> None:
    response = client.post(
        "/v2/replicas", json={"train_video_url": "https://e.com/v.mp4", "callback_url": url}
    )
    assert response.status_code == 400
    assert response.json() == {"error": f"Invalid callback_url: {url!r} is not a valid http(s) URL"}
    assert client.get("/v2/replicas").json()["total_count"] == 0  # nothing was created


def test_end_training_ends_it_now_with_its_scripted_outcome():
    from prefect_tavus.simulator import TavusSimulator

    with TavusSimulator(api_keys=("sim-test-key-000001",)) as sim:
        done = sim.add_replica(training_seconds=3600)
        failing = sim.add_replica(training_seconds=3600, outcome="error", error_message="No face")
        assert sim.finished_at(done) is None
        before = time.time()
        sim.end_training(done)
        sim.end_training(failing)
        assert before <= sim.finished_at(done) <= time.time()
        assert sim.replica_payload(done)["status"] == "completed"
        assert sim.replica_payload(failing)["status"] == "error"
        with pytest.raises(ValueError, match="finished training already"):
            sim.end_training(done)
        with pytest.raises(KeyError):
            sim.end_training("rnosuchrep01")
