"""The simulator's face vocabulary: answers and callbacks named as Tavus's newest docs name
them (``face_id``, ``face_name``, ``face_type``), on the same ``/v2/replicas`` routes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from prefect_tavus.simulator import VOCABULARIES, TavusSimulator
from prefect_tavus.simulator.cli import build_parser

from .conftest import KEY, CallbackReceiver

REPLICA_NAMES = {"replica_id", "replica_name", "replica_type"}
FACE_NAMES = {"face_id", "face_name", "face_type"}


@pytest.fixture
def faces() -> Iterator[TavusSimulator]:
    simulator = TavusSimulator(
        api_keys=(KEY,), default_training_seconds=0.2, vocabulary="faces"
    ).start()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def faces_client(faces: TavusSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=faces.url, headers={"x-api-key": KEY}, timeout=5.0) as http:
        yield http


def test_get_list_and_create_answer_in_face_names(
    faces: TavusSimulator, faces_client: httpx.Client
) -> None:
    rid = faces.add_replica(replica_name="Ann", replica_type="user", training_seconds=30)
    got = faces_client.get(f"/v2/replicas/{rid}", params={"verbose": "true"}).json()
    assert got["face_id"] == rid and got["face_name"] == "Ann" and got["face_type"] == "user"
    assert not REPLICA_NAMES & set(got)
    assert got["status"] == "started" and got["training_progress"].endswith("/100")  # unchanged

    items = faces_client.get("/v2/replicas").json()["data"]
    assert [item["face_id"] for item in items] == [rid]
    assert not REPLICA_NAMES & set(items[0]) and {"face_name", "face_type"} <= set(items[0])

    created = faces_client.post(
        "/v2/replicas", json={"train_video_url": "https://e.com/v.mp4"}
    ).json()
    assert set(created) == {"face_id", "status"} and created["face_id"].startswith("r")
    # the request side is unchanged: the replicas routes, the replica_ids filter, replica_name renames
    assert (
        faces_client.get("/v2/replicas", params={"replica_ids": created["face_id"]}).json()[
            "total_count"
        ]
        == 1
    )
    assert (
        faces_client.patch(f"/v2/replicas/{rid}/name", json={"replica_name": "Bea"}).status_code
        == 200
    )
    assert faces.replica_payload(rid)["face_name"] == "Bea"


def test_the_default_vocabulary_is_replicas(sim: TavusSimulator, client: httpx.Client) -> None:
    rid = sim.add_replica(training_seconds=30)
    assert not FACE_NAMES & set(client.get(f"/v2/replicas/{rid}", params={"verbose": "1"}).json())
    assert (
        "replica_id"
        in client.post("/v2/replicas", json={"train_video_url": "https://e.com/v.mp4"}).json()
    )


def test_extra_fields_are_merged_as_given_so_a_payload_can_carry_both(
    faces: TavusSimulator,
) -> None:
    rid = faces.add_replica(replica_name="Ann", extra_fields={"replica_name": "Old name"})
    payload = faces.replica_payload(rid)
    assert payload["face_name"] == "Ann" and payload["replica_name"] == "Old name"


def test_callbacks_speak_the_vocabulary(faces: TavusSimulator, receiver: CallbackReceiver) -> None:
    rid = faces.add_replica(training_seconds=0.05, callback_url=receiver.url)
    assert receiver.wait_for(1) == [{"face_id": rid, "status": "ready"}]


def test_unknown_vocabulary_is_refused() -> None:
    with pytest.raises(ValueError, match="replicas, faces"):
        TavusSimulator(vocabulary="avatars")  # type: ignore[arg-type]


def test_command_line_takes_the_vocabulary() -> None:
    assert VOCABULARIES == ("replicas", "faces")
    assert build_parser().parse_args(["--vocabulary", "faces"]).vocabulary == "faces"
    assert build_parser().parse_args([]).vocabulary == "replicas"
