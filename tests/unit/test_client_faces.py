"""The client reads answers in Tavus's face vocabulary (``face_id``, ``face_name``,
``face_type``) end to end over loopback, and keeps calling the ``/v2/replicas`` routes."""

from __future__ import annotations

import pytest

from prefect_tavus.core import CreatedReplica, Replica, TavusClient
from prefect_tavus.simulator import TavusSimulator
from tests.conftest import SIM_KEY


@pytest.fixture
def faces():
    with TavusSimulator(api_keys=(SIM_KEY,), vocabulary="faces") as sim:
        yield sim


async def test_get_list_and_create_read_face_answers(faces):
    ann = faces.add_replica(replica_name="Ann", replica_type="user", training_seconds=60)
    bob = faces.add_replica(replica_name="Bob", replica_type="system", training_seconds=60)
    async with TavusClient(SIM_KEY, base_url=faces.url) as client:
        got = await client.get_replica(ann, verbose=True)
        assert (got.replica_id, got.replica_name, got.replica_type, got.status) == (
            ann,
            "Ann",
            "user",
            "started",
        )
        assert "face_id" not in (got.model_extra or {})  # read into replica_id, not kept twice

        listed = [r async for r in client.iter_replicas(page_size=1)]
        assert [(r.replica_id, r.replica_name, r.replica_type) for r in listed] == [
            (ann, "Ann", "user"),
            (bob, "Bob", "system"),
        ]

        page = await client.list_replicas(replica_ids=[bob])
        assert [r.replica_id for r in page.data] == [bob] and page.total_count == 1

        created = await client.create_replica(
            train_video_url="https://e.com/v.mp4", replica_name="Cy"
        )
        assert isinstance(created, CreatedReplica) and created.status == "started"
        assert (await client.get_replica(created.replica_id)).replica_name == "Cy"
    assert set(faces.stats()["by_route"]) == {
        "GET /v2/replicas/{id}",
        "GET /v2/replicas",
        "POST /v2/replicas",
    }


async def test_a_face_answer_with_both_names_prefers_the_replica_ones(faces):
    rid = faces.add_replica(
        replica_name="New", extra_fields={"replica_name": "Old", "replica_id": "rolder00001"}
    )
    async with TavusClient(SIM_KEY, base_url=faces.url) as client:
        got = await client.get_replica(rid)
    assert isinstance(got, Replica)
    assert got.replica_id == "rolder00001" and got.replica_name == "Old"
    assert got.model_extra == {"face_id": rid, "face_name": "New"}  # the losing names are kept
