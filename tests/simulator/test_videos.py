"""The simulated Videos API as an HTTP client sees it (real sockets on loopback).

Pins the contract clients of ``/v2/videos`` are tested against: Tavus's create checks and
answer, the video object (null URLs until ready), the queued-while-training rule, a replica
in error failing its videos, lists in either order and under a page cap, rename and soft and
hard deletes, callbacks carrying the whole object, faults per video and per route, the
control API, the facade's scripting and the command line.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from prefect_tavus.simulator import (
    DEFAULT_VIDEO_ERROR,
    REPLICA_IN_ERROR_STATE,
    ROUTE_VIDEO_CREATE,
    ROUTE_VIDEO_GET,
    ROUTE_VIDEO_LIST,
    ROUTES,
    VIDEO_ROUTES,
    Fault,
    InvalidVideoSpec,
    TavusSimulator,
    VideoSpec,
    VideoTimeline,
    iso_timestamp,
)
from prefect_tavus.simulator import cli as simulator_cli

from .conftest import KEY, OTHER_KEY, CallbackReceiver

ISO_MS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
VIDEO_FIELDS = {
    "video_id",
    "video_name",
    "status",
    "data",
    "download_url",
    "stream_url",
    "hosted_url",
    "status_details",
    "created_at",
    "updated_at",
    "replica_id",
}
THUMBNAILS = {"still_image_thumbnail_url", "gif_thumbnail_url"}


def wait_for_video(sim: TavusSimulator, video_id: str, timeout: float = 5.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        finished = sim.video_finished_at(video_id)
        if finished is not None:
            return finished
        time.sleep(0.02)
    raise AssertionError(f"{video_id} did not finish within {timeout} s")


def ids_of(page: dict[str, Any]) -> list[str]:
    return [item["video_id"] for item in page["data"]]


@pytest.fixture
def trained(sim: TavusSimulator) -> str:
    """A replica that has finished training."""
    return sim.add_replica(training_seconds=0)


# -- POST /v2/videos ------------------------------------------------------------------------------


def test_create_answers_queued_with_a_tavus_like_id(
    sim: TavusSimulator, client: httpx.Client, trained: str
) -> None:
    created = client.post(
        "/v2/videos", json={"replica_id": trained, "script": "Hello", "video_name": "Intro"}
    )
    assert created.status_code == 200
    body = created.json()
    assert set(body) == {"video_id", "video_name", "status", "hosted_url", "created_at"}
    assert re.fullmatch(r"v[0-9a-f]{10}", body["video_id"])
    assert (body["video_name"], body["status"]) == ("Intro", "queued")
    assert body["hosted_url"].startswith("https://") and body["video_id"] in body["hosted_url"]
    assert ISO_MS_Z.match(body["created_at"])
    video = client.get(f"/v2/videos/{body['video_id']}").json()
    assert (video["replica_id"], video["data"], video["created_at"]) == (
        trained,
        {"script": "Hello"},
        body["created_at"],
    )
    unnamed = client.post(
        "/v2/videos", json={"replica_id": trained, "audio_url": "https://e.com/a.mp3"}
    ).json()
    assert unnamed["video_name"] == "My Video"
    assert client.get(f"/v2/videos/{unnamed['video_id']}").json()["data"] == {"script": None}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"script": "Hi"}, "replica_id is required"),
        ({"replica_id": "", "script": "Hi"}, "replica_id is required"),
        ({"replica_id": 5, "script": "Hi"}, "replica_id must be a string"),
        ({"replica_id": "R"}, "script or audio_url is required"),
        (
            {"replica_id": "R", "script": "Hi", "audio_url": "https://e.com/a.mp3"},
            "either script or audio_url",
        ),
        ({"replica_id": "R", "script": "   "}, "script must not be empty"),
        ({"replica_id": "R", "script": 3}, "script must be a string"),
        ({"replica_id": "R", "audio_url": "a.mp3"}, "Invalid audio_url"),
        ({"replica_id": "R", "script": "Hi", "video_name": 7}, "video_name must be a string"),
        (
            {"replica_id": "R", "script": "Hi", "background_url": "ftp://e.com/b"},
            "Invalid background_url",
        ),
        (
            {"replica_id": "R", "script": "Hi", "background_source_url": "nope"},
            "Invalid background_source_url",
        ),
        (
            {"replica_id": "R", "script": "Hi", "watermark_image_url": "x"},
            "Invalid watermark_image_url",
        ),
        ({"replica_id": "R", "script": "Hi", "watermark_url": "x"}, "Invalid watermark_url"),
        ({"replica_id": "R", "script": "Hi", "callback_url": "cb"}, "Invalid callback_url: 'cb'"),
        ({"replica_id": "R", "script": "Hi", "fast": "yes"}, "fast must be true or false"),
        (
            {"replica_id": "R", "script": "Hi", "transparent_background": True},
            "transparent_background requires fast",
        ),
        (
            {"replica_id": "R", "script": "Hi", "properties": {"transparent_background": True}},
            "transparent_background requires fast",
        ),
        ({"replica_id": "R", "script": "Hi", "properties": [1]}, "properties must be an object"),
        (
            {"replica_id": "R", "script": "Hi", "properties": {"fast": 1}},
            "properties.fast must be true or false",
        ),
    ],
)
def test_create_refuses_bad_bodies_with_400(
    sim: TavusSimulator, client: httpx.Client, trained: str, body: dict[str, Any], message: str
) -> None:
    if body.get("replica_id") == "R":
        body = {**body, "replica_id": trained}
    response = client.post("/v2/videos", json=body)
    assert response.status_code == 400
    assert set(response.json()) == {"error"} and message in response.json()["error"]
    assert client.get("/v2/videos").json()["total_count"] == 0  # nothing was created


def test_create_for_a_replica_it_cannot_use_is_400_invalid_replica_id(
    sim: TavusSimulator, client: httpx.Client
) -> None:
    deleted = sim.add_replica(training_seconds=0)
    sim.delete_replica(deleted)
    someone_elses = sim.add_replica(training_seconds=0, owner_key=OTHER_KEY)
    for replica_id in ("rnothere000", deleted, someone_elses):
        response = client.post("/v2/videos", json={"replica_id": replica_id, "script": "Hi"})
        assert (response.status_code, response.json()) == (400, {"error": "Invalid replica_id"})
    as_owner = client.post(
        "/v2/videos",
        json={"replica_id": someone_elses, "script": "Hi"},
        headers={"x-api-key": OTHER_KEY},
    )
    assert as_owner.status_code == 200
    not_json = client.post(
        "/v2/videos", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 400 and "error" in not_json.json()


def test_create_takes_both_spellings_and_keeps_the_body(
    sim: TavusSimulator, client: httpx.Client, trained: str
) -> None:
    bodies = [
        {
            "replica_id": trained,
            "script": "A",
            "watermark_url": "https://e.com/w.png",
            "fast": True,
            "transparent_background": True,
        },
        {
            "replica_id": trained,
            "script": "B",
            "watermark_image_url": "https://e.com/w.png",
            "properties": {"fast": True, "transparent_background": True},
        },
        {
            "replica_id": trained,
            "script": "C",
            "fast": True,
            "properties": {"transparent_background": True},
            "background_url": "https://e.com/site",
            "background_source_url": "https://e.com/bg.mp4",
            "unknown": 1,
        },
    ]
    for body in bodies:
        created = client.post("/v2/videos", json=body)
        assert created.status_code == 200, created.text
        assert (
            sim.video_request(created.json()["video_id"]) == body
        )  # what the client sent, as received
    assert sim.video_request(sim.add_video(script="x")) is None  # added from Python


# -- GET /v2/videos/{id} ----------------------------------------------------------------------------


def test_get_shape_verbose_and_unknown_ids(
    sim: TavusSimulator, client: httpx.Client, trained: str
) -> None:
    video_id = sim.add_video(replica_id=trained, script="Hi", generation_seconds=30)
    plain = client.get(f"/v2/videos/{video_id}").json()
    assert set(plain) == VIDEO_FIELDS
    assert plain["status"] == "generating"
    assert (plain["download_url"], plain["stream_url"]) == (None, None)
    assert plain["hosted_url"] is not None and isinstance(plain["status_details"], str)
    assert "generation_progress" not in plain
    verbose = client.get(f"/v2/videos/{video_id}", params={"verbose": "true"}).json()
    assert set(verbose) == VIDEO_FIELDS | THUMBNAILS
    assert verbose["still_image_thumbnail_url"] is None and verbose["gif_thumbnail_url"] is None
    assert sim.video_payload(video_id) == plain

    for unknown in ("vnothere000", "rnothere000"):
        response = client.get(f"/v2/videos/{unknown}")
        assert (response.status_code, response.json()) == (400, {"error": "Invalid video_id"})
    with pytest.raises(KeyError):
        sim.video_payload("vnothere000")
    odd = sim.add_video(video_id="odd id/slash", script="x")
    assert client.get("/v2/videos/odd%20id%2Fslash").json()["video_id"] == odd


def test_ready_video_has_its_urls_and_thumbnails(
    sim: TavusSimulator, client: httpx.Client, trained: str
) -> None:
    video_id = sim.add_video(replica_id=trained, script="Hi", generation_seconds=0)
    body = client.get(f"/v2/videos/{video_id}", params={"verbose": "1"}).json()
    assert body["status"] == "ready"
    for name in ("download_url", "stream_url", "hosted_url", *THUMBNAILS):
        assert body[name].startswith("https://") and video_id in body[name]
    assert body["updated_at"] == iso_timestamp(sim.video_finished_at(video_id))  # type: ignore[arg-type]


def test_owner_key_limits_who_sees_a_video(sim: TavusSimulator, client: httpx.Client) -> None:
    mine = sim.add_video(script="x", owner_key=OTHER_KEY)
    shared = sim.add_video(script="x")
    assert client.get(f"/v2/videos/{mine}").status_code == 400
    assert client.patch(f"/v2/videos/{mine}/name", json={"video_name": "N"}).status_code == 400
    assert client.delete(f"/v2/videos/{mine}").status_code == 400
    assert ids_of(client.get("/v2/videos").json()) == [shared]
    assert ids_of(client.get("/v2/videos", headers={"x-api-key": OTHER_KEY}).json()) == [
        mine,
        shared,
    ]
    posted = client.post(
        "/v2/videos", json={"replica_id": sim.add_replica(training_seconds=0), "script": "Hi"}
    )
    assert (
        client.get(
            f"/v2/videos/{posted.json()['video_id']}", headers={"x-api-key": OTHER_KEY}
        ).status_code
        == 400
    )


# -- the generation timeline ------------------------------------------------------------------------


def test_a_video_waits_queued_while_its_replica_trains(
    sim: TavusSimulator, client: httpx.Client
) -> None:
    replica_id = sim.add_replica(training_seconds=0.6)
    video_id = client.post("/v2/videos", json={"replica_id": replica_id, "script": "Hi"}).json()[
        "video_id"
    ]
    other = sim.add_video(replica_id=replica_id, script="Hi", generation_seconds=0.4)
    first = client.get(f"/v2/videos/{other}").json()
    assert first["status"] == "queued" and "training" in first["status_details"]
    assert sim.video_started_at(other) is None and sim.video_finished_at(other) is None
    seen: list[str] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        status = client.get(f"/v2/videos/{other}").json()["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == "ready":
            break
        time.sleep(0.03)
    assert seen == ["queued", "generating", "ready"]
    trained_at = sim.finished_at(replica_id)
    assert sim.video_started_at(other) == trained_at  # starts by itself when training ends
    assert sim.video_finished_at(other) == pytest.approx(trained_at + 0.4)  # type: ignore[operator]
    # POST-created videos generate for default_generation_seconds (10 s by default) after training.
    assert client.get(f"/v2/videos/{video_id}").json()["status"] == "generating"
    assert sim.video_started_at(video_id) == trained_at


def test_queued_seconds_hold_a_video_even_for_a_trained_replica(
    sim: TavusSimulator, trained: str
) -> None:
    video_id = sim.add_video(
        replica_id=trained, script="Hi", queued_seconds=30, generation_seconds=0
    )
    payload = sim.video_payload(video_id)
    assert payload["status"] == "queued" and "training" not in payload["status_details"]
    started = time.time()
    quick = sim.add_video(
        script="Hi", queued_seconds=0.2, generation_seconds=0.2
    )  # no simulated replica
    assert sim.video_payload(quick)["replica_id"] is None
    assert wait_for_video(sim, quick) == pytest.approx(started + 0.4, abs=0.1)


def test_timeline_is_a_pure_function_of_time() -> None:
    waits = VideoTimeline(
        created_at=100.0, generation_seconds=5.0, queued_seconds=1.0, replica_ready_at=110.0
    )
    assert [waits.status_at(t) for t in (100.0, 109.9, 110.0, 114.9, 115.0)] == [
        "queued",
        "queued",
        "generating",
        "generating",
        "ready",
    ]
    assert (waits.started_at, waits.finished_at, waits.last_change_at(112.0)) == (
        110.0,
        115.0,
        110.0,
    )
    doomed = VideoTimeline(
        created_at=100.0, generation_seconds=5.0, replica_ready_at=103.0, replica_failed=True
    )
    assert (doomed.status_at(102.0), doomed.status_at(103.0), doomed.started_at) == (
        "queued",
        "error",
        None,
    )
    late = VideoTimeline(
        created_at=100.0, generation_seconds=5.0, replica_ready_at=90.0, replica_failed=True
    )
    assert (late.status_at(100.0), late.finished_at) == ("error", 100.0)
    with pytest.raises(ValueError):
        VideoTimeline(created_at=0.0, generation_seconds=-1.0)


def test_a_replica_in_error_fails_its_videos(sim: TavusSimulator, client: httpx.Client) -> None:
    failing = sim.add_replica(training_seconds=0.3, outcome="error")
    waiting = client.post("/v2/videos", json={"replica_id": failing, "script": "Hi"}).json()[
        "video_id"
    ]
    assert client.get(f"/v2/videos/{waiting}").json()["status"] == "queued"
    finished = wait_for_video(sim, waiting)
    assert finished == sim.finished_at(failing)  # fails when the training does
    body = client.get(f"/v2/videos/{waiting}").json()
    assert (body["status"], body["status_details"]) == ("error", REPLICA_IN_ERROR_STATE)
    assert (body["download_url"], body["stream_url"]) == (None, None)
    assert sim.video_started_at(waiting) is None
    already = client.post("/v2/videos", json={"replica_id": failing, "script": "Hi"})
    assert (
        already.status_code == 200 and already.json()["status"] == "queued"
    )  # accepted, then fails
    assert client.get(f"/v2/videos/{already.json()['video_id']}").json()["status"] == "error"
    listed = client.get("/v2/videos").json()["data"]
    assert {item["error_details"] for item in listed} == {REPLICA_IN_ERROR_STATE}


def test_ending_training_when_a_test_says_starts_or_fails_its_waiting_videos_then(
    sim: TavusSimulator, client: httpx.Client, receiver: CallbackReceiver
) -> None:
    # end_training moves the replica's end; the videos waiting for it must move with it (they
    # took the old end when created), and their callbacks go out at the new end, once.
    ready = sim.add_replica(training_seconds=600)
    failing = sim.add_replica(training_seconds=600, outcome="error")
    long = sim.add_video(replica_id=ready, script="Hi", generation_seconds=600)
    quick = client.post(
        "/v2/videos", json={"replica_id": ready, "script": "Hi", "callback_url": receiver.url}
    )
    sim.script_created_videos(generation_seconds=0)  # the next create: ready as soon as it starts
    quick_id = client.post(
        "/v2/videos", json={"replica_id": ready, "script": "Hi", "callback_url": receiver.url}
    ).json()["video_id"]
    doomed = sim.add_video(replica_id=failing, script="x", callback_url=receiver.url)
    assert {sim.video_payload(v)["status"] for v in (long, quick_id, doomed)} == {"queued"}

    sim.end_training(ready)
    ended = sim.finished_at(ready)
    assert sim.video_payload(long)["status"] == "generating" and sim.video_started_at(long) == ended
    assert (
        sim.video_payload(quick_id)["status"] == "ready"
        and sim.video_finished_at(quick_id) == ended
    )
    assert (
        sim.video_payload(quick.json()["video_id"])["status"] == "generating"
    )  # default 10 s generation
    sim.end_training(failing)
    body = sim.video_payload(doomed)
    assert (body["status"], body["status_details"]) == ("error", REPLICA_IN_ERROR_STATE)
    # (A failing replica's end is not exactly the moment end_training is called: it fails at its
    # fail_at_progress share of the new duration, already past. The video fails with it.)
    assert sim.video_finished_at(doomed) is not None and sim.video_started_at(doomed) is None
    bodies = {body["video_id"]: body for body in receiver.wait_for(2)}
    assert set(bodies) == {quick_id, doomed}
    assert bodies[quick_id]["status"] == "ready" and bodies[doomed]["status"] == "error"

    # Moved later than scripted: the entry for the old end sends nothing; the new end does, once.
    later = sim.add_replica(training_seconds=1.0)
    moved = sim.add_video(
        replica_id=later, script="x", generation_seconds=0, callback_url=receiver.url
    )
    sim.end_training(later, at=time.time() + 2.0)
    time.sleep(1.3)  # past the old end
    assert sim.video_payload(moved)["status"] == "queued" and len(receiver.bodies) == 2
    assert [body["video_id"] for body in receiver.wait_for(3)][2:] == [moved]
    assert receiver.bodies[2]["status"] == "ready"
    time.sleep(0.2)
    assert len(receiver.bodies) == 3 and sim.stats()["callbacks"]["delivered"] == 3


def test_scripted_error_outcomes_and_the_default_reason(
    sim: TavusSimulator, client: httpx.Client, trained: str
) -> None:
    reasoned = sim.add_video(
        replica_id=trained,
        script="x",
        generation_seconds=0,
        outcome="error",
        error_reason="audio_too_short",
    )
    default = sim.add_video(replica_id=trained, script="x", generation_seconds=0, outcome="error")
    fine = sim.add_video(replica_id=trained, script="x", generation_seconds=0)
    assert client.get(f"/v2/videos/{reasoned}").json()["status_details"] == "audio_too_short"
    assert client.get(f"/v2/videos/{default}").json()["status_details"] == DEFAULT_VIDEO_ERROR
    listed = {item["video_id"]: item for item in client.get("/v2/videos").json()["data"]}
    assert [listed[v]["error_details"] for v in (reasoned, default, fine)] == [
        "audio_too_short",
        DEFAULT_VIDEO_ERROR,
        None,
    ]
    assert listed[fine]["status"] == "ready" and set(listed[fine]) == VIDEO_FIELDS | {
        "error_details"
    }


def test_scripted_specs_shape_the_next_api_creates(
    sim: TavusSimulator, client: httpx.Client, trained: str
) -> None:
    assert (
        sim.script_created_videos(
            VideoSpec(
                video_id="vscripted01",
                outcome="error",
                error_reason="bad_audio",
                generation_seconds=0,
                extra_fields={"brand_new": 1},
                video_name="From script",
                replica_id="ignored",
                script="ignored",
            ),
        )
        == 1
    )
    assert sim.script_created_videos(generation_seconds=0) == 2  # keywords script one more
    refused = client.post("/v2/videos", json={"replica_id": "rnothere000", "script": "Hi"})
    assert refused.status_code == 400 and sim.state.scripted_videos_pending() == 2  # not consumed
    first = client.post("/v2/videos", json={"replica_id": trained, "script": "Mine"}).json()
    assert (first["video_id"], first["video_name"]) == ("vscripted01", "From script")
    body = client.get("/v2/videos/vscripted01").json()
    assert (body["status"], body["status_details"], body["brand_new"]) == ("error", "bad_audio", 1)
    assert (body["replica_id"], body["data"]) == (trained, {"script": "Mine"})  # the request wins
    second = client.post(
        "/v2/videos", json={"replica_id": trained, "script": "Two", "video_name": "Named"}
    ).json()
    assert second["video_name"] == "Named"
    assert client.get(f"/v2/videos/{second['video_id']}").json()["status"] == "ready"
    third = client.post("/v2/videos", json={"replica_id": trained, "script": "Three"}).json()[
        "video_id"
    ]
    assert sim.video_payload(third)["status"] == "generating"  # unscripted: the defaults (10 s)
    assert sim.state.scripted_videos_pending() == 0


def test_a_scripted_id_in_use_is_a_400(
    sim: TavusSimulator, client: httpx.Client, trained: str
) -> None:
    sim.add_video(video_id="vtaken00001", script="x")
    sim.script_created_videos(video_id="vtaken00001")
    response = client.post("/v2/videos", json={"replica_id": trained, "script": "Hi"})
    assert response.status_code == 400 and "already exists" in response.json()["error"]


def test_add_video_validates_its_arguments(sim: TavusSimulator) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        sim.add_video(replica_id="rnothere000")
    with pytest.raises(InvalidVideoSpec, match="generation_seconds"):
        sim.add_video(generation_seconds=-1)
    with pytest.raises(InvalidVideoSpec, match="outcome must be 'ready' or 'error'"):
        sim.add_video(outcome="completed")
    with pytest.raises(TypeError, match="unknown video parameters"):
        sim.add_video(training_seconds=1)
    with pytest.raises(TypeError):
        sim.add_video(object())  # type: ignore[arg-type]
    sim.add_video(video_id="vfixed00001")
    with pytest.raises(ValueError, match="already exists"):
        sim.add_video(video_id="vfixed00001")
    with pytest.raises(KeyError):
        sim.video_finished_at("vnothere000")
    with pytest.raises(ValueError, match="default_generation_seconds"):
        TavusSimulator(default_generation_seconds=-1)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"video_id": ""}, "video_id must not be empty"),
        ({"replica_id": 3}, "replica_id must be a string"),
        ({"video_name": None}, "video_name must be a string"),
        ({"script": 1}, "script must be a string"),
        ({"queued_seconds": float("nan")}, "queued_seconds"),
        ({"generation_seconds": "1"}, "generation_seconds"),
        ({"error_reason": 5}, "error_reason must be a string"),
        ({"extra_fields": [1]}, "extra_fields must be an object"),
        ({"drop_callback": "yes"}, "drop_callback must be true or false"),
        ({"callback_url": ""}, "callback_url must not be empty"),
    ],
)
def test_video_spec_validation(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidVideoSpec, match=message):
        VideoSpec(**fields)


def test_video_spec_round_trips() -> None:
    spec = VideoSpec(
        video_id="v1", replica_id="r1", generation_seconds=2, extra_fields={"a": 1}, outcome="error"
    )
    assert VideoSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(InvalidVideoSpec, match="unknown video parameters: bogus"):
        VideoSpec.from_dict({"bogus": 1})
    with pytest.raises(InvalidVideoSpec, match="must be a JSON object"):
        VideoSpec.from_dict([1])


# -- GET /v2/videos ---------------------------------------------------------------------------------


def test_list_pages_by_limit_and_page_with_a_default_of_ten(
    sim: TavusSimulator, client: httpx.Client
) -> None:
    ids = [sim.add_video(video_name=f"V{i}", script="x", generation_seconds=30) for i in range(12)]
    first = client.get("/v2/videos").json()
    assert set(first) == {"data", "total_count"}
    assert ids_of(first) == ids[:10] and first["total_count"] == 12
    assert ids_of(client.get("/v2/videos", params={"page": 2}).json()) == ids[10:]
    pages = [client.get("/v2/videos", params={"limit": 5, "page": p}).json() for p in (1, 2, 3, 4)]
    assert [ids_of(p) for p in pages] == [ids[0:5], ids[5:10], ids[10:12], []]
    assert {p["total_count"] for p in pages} == {12}
    # No id filter: an unknown query parameter changes nothing.
    assert (
        client.get("/v2/videos", params={"video_ids": ids[3], "limit": 50}).json()["total_count"]
        == 12
    )
    for bad in ({"limit": "zero"}, {"limit": 0}, {"page": 0}, {"page": "x"}):
        response = client.get("/v2/videos", params=bad)
        assert response.status_code == 400 and "positive integer" in response.json()["error"]


@pytest.mark.parametrize("order", ["oldest_first", "newest_first"])
def test_list_order_is_an_option(order: str) -> None:
    with (
        TavusSimulator(api_keys=(KEY,), video_list_order=order) as sim,
        httpx.Client(  # type: ignore[arg-type]
            base_url=sim.url, headers={"x-api-key": KEY}, timeout=5
        ) as client,
    ):
        ids = [sim.add_video(script="x", generation_seconds=30) for _ in range(5)]
        replicas = [sim.add_replica(training_seconds=30) for _ in range(2)]
        pages = [
            ids_of(client.get("/v2/videos", params={"limit": 2, "page": p}).json())
            for p in (1, 2, 3)
        ]
        expected = ids if order == "oldest_first" else ids[::-1]
        assert pages == [expected[0:2], expected[2:4], expected[4:5]]
        # The replica list keeps its own order.
        assert [i["replica_id"] for i in client.get("/v2/replicas").json()["data"]] == replicas


def test_video_max_page_size_clamps_silently() -> None:
    with pytest.raises(ValueError, match="video_max_page_size"):
        TavusSimulator(video_max_page_size=0)
    with pytest.raises(ValueError, match="video_list_order"):
        TavusSimulator(video_list_order="random")  # type: ignore[arg-type]
    with (
        TavusSimulator(api_keys=(KEY,), video_max_page_size=3) as sim,
        httpx.Client(base_url=sim.url, headers={"x-api-key": KEY}, timeout=5) as client,
    ):
        ids = [sim.add_video(script="x") for _ in range(7)]
        asked = client.get("/v2/videos", params={"limit": 50}).json()
        assert ids_of(asked) == ids[:3] and asked["total_count"] == 7
        assert len(client.get("/v2/videos").json()["data"]) == 3  # even the default 10 is capped
        assert ids_of(client.get("/v2/videos", params={"limit": 50, "page": 3}).json()) == ids[6:]


# -- PATCH and DELETE -------------------------------------------------------------------------------


def test_rename(sim: TavusSimulator, client: httpx.Client) -> None:
    video_id = sim.add_video(video_name="Old", script="x", generation_seconds=30)
    before = client.get(f"/v2/videos/{video_id}").json()["updated_at"]
    time.sleep(0.01)
    renamed = client.patch(f"/v2/videos/{video_id}/name", json={"video_name": "New"})
    assert renamed.status_code == 200 and renamed.content == b""
    after = client.get(f"/v2/videos/{video_id}").json()
    assert after["video_name"] == "New" and after["updated_at"] >= before
    assert ids_of(client.get("/v2/videos").json()) == [video_id]
    for bad in ({}, {"video_name": "  "}, {"video_name": 3}):
        response = client.patch(f"/v2/videos/{video_id}/name", json=bad)
        assert response.status_code == 400 and "video_name is required" in response.json()["error"]
    unknown = client.patch("/v2/videos/vnothere000/name", json={"video_name": "X"})
    assert (unknown.status_code, unknown.json()) == (400, {"error": "Invalid video_id"})


def test_soft_delete_keeps_a_deleted_video_and_hard_delete_removes_it(
    sim: TavusSimulator, client: httpx.Client
) -> None:
    soft = sim.add_video(script="x", generation_seconds=0)
    hard = sim.add_video(script="x", generation_seconds=0)
    response = client.delete(f"/v2/videos/{soft}", params={"hard": "false"})
    assert response.status_code == 200 and response.content == b""
    body = client.get(f"/v2/videos/{soft}").json()
    assert body["status"] == "deleted"
    assert (body["download_url"], body["stream_url"], body["hosted_url"]) == (None, None, None)
    assert (
        client.delete(f"/v2/videos/{soft}").status_code == 200
    )  # still there: deleting again is harmless
    assert sim.video_finished_at(soft) is not None  # it was ready before it was deleted
    assert client.delete(f"/v2/videos/{hard}", params={"hard": "true"}).status_code == 200
    gone = client.get(f"/v2/videos/{hard}")
    assert (gone.status_code, gone.json()) == (400, {"error": "Invalid video_id"})
    assert client.delete(f"/v2/videos/{hard}").status_code == 400
    listed = client.get("/v2/videos").json()
    assert (
        ids_of(listed) == [soft]
        and listed["data"][0]["status"] == "deleted"
        and listed["total_count"] == 1
    )
    with pytest.raises(KeyError):
        sim.video_payload(hard)
    sim.delete_video(soft, hard=True)
    assert client.get("/v2/videos").json() == {"data": [], "total_count": 0}
    with pytest.raises(KeyError):
        sim.delete_video(soft)


def test_a_video_deleted_while_queued_never_starts_or_finishes(sim: TavusSimulator) -> None:
    replica_id = sim.add_replica(training_seconds=0.2)
    video_id = sim.add_video(replica_id=replica_id, script="x", generation_seconds=0.1)
    sim.delete_video(video_id)
    deleted = sim.video_payload(video_id)
    time.sleep(0.4)
    assert sim.video_payload(video_id) == deleted  # status "deleted", updated_at the deletion's
    assert (sim.video_started_at(video_id), sim.video_finished_at(video_id)) == (None, None)


def test_deleting_a_replica_leaves_its_videos(sim: TavusSimulator, client: httpx.Client) -> None:
    replica_id = sim.add_replica(training_seconds=0)
    video_id = sim.add_video(replica_id=replica_id, script="x", generation_seconds=0)
    assert client.delete(f"/v2/replicas/{replica_id}", params={"hard": "true"}).status_code == 200
    assert client.get(f"/v2/videos/{video_id}").json()["status"] == "ready"


def test_delete_status_204_applies_to_videos() -> None:
    with (
        TavusSimulator(delete_status=204) as sim,
        httpx.Client(base_url=sim.url, headers={"x-api-key": KEY}) as http,
    ):
        video_id = sim.add_video(script="x")
        response = http.delete(f"/v2/videos/{video_id}")
        assert response.status_code == 204 and response.content == b""


# -- callbacks --------------------------------------------------------------------------------------


def test_callbacks_post_the_whole_video_object(
    sim: TavusSimulator, client: httpx.Client, receiver: CallbackReceiver
) -> None:
    sim.state.default_generation_seconds = 0.1  # what POST-created videos get
    replica_id = sim.add_replica(training_seconds=0.2)
    ok = client.post(
        "/v2/videos", json={"replica_id": replica_id, "script": "Hi", "callback_url": receiver.url}
    ).json()["video_id"]
    sim.script_created_videos(outcome="error", error_reason="bad_audio", generation_seconds=0.1)
    bad = client.post(
        "/v2/videos",
        json={
            "replica_id": replica_id,
            "audio_url": "https://e.com/a.mp3",
            "callback_url": receiver.url,
        },
    ).json()["video_id"]
    failing = sim.add_replica(training_seconds=0.1, outcome="error")
    doomed = sim.add_video(replica_id=failing, script="x", callback_url=receiver.url)
    bodies = {body["video_id"]: body for body in receiver.wait_for(3)}
    assert set(bodies) == {ok, bad, doomed}
    for video_id, body in bodies.items():
        assert body["generation_progress"] == "100/100"
        assert {k: v for k, v in body.items() if k != "generation_progress"} == sim.video_payload(
            video_id
        )
    assert (
        bodies[ok]["status"] == "ready" and bodies[ok]["download_url"] and bodies[ok]["stream_url"]
    )
    assert (bodies[bad]["status"], bodies[bad]["status_details"]) == ("error", "bad_audio")
    assert (bodies[bad]["download_url"], bodies[bad]["stream_url"]) == (None, None)
    assert (bodies[doomed]["status"], bodies[doomed]["status_details"]) == (
        "error",
        REPLICA_IN_ERROR_STATE,
    )
    assert set(bodies[ok]) == VIDEO_FIELDS | {"generation_progress"}
    deadline = time.monotonic() + 2
    while sim.stats()["callbacks"]["delivered"] < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sim.stats()["callbacks"]["delivered"] == 3


def test_video_callbacks_are_loopback_only_droppable_and_not_sent_once_deleted(
    sim: TavusSimulator, client: httpx.Client, receiver: CallbackReceiver
) -> None:
    trained = sim.add_replica(training_seconds=0)
    remote = client.post(
        "/v2/videos",
        json={"replica_id": trained, "script": "Hi", "callback_url": "http://example.com/hook"},
    )
    assert remote.status_code == 200
    dropped = sim.add_video(
        script="x", generation_seconds=0.05, callback_url=receiver.url, drop_callback=True
    )
    deleted = sim.add_video(script="x", generation_seconds=0.3, callback_url=receiver.url)
    sim.delete_video(deleted)
    kept = sim.add_video(script="x", generation_seconds=0.1, callback_url=receiver.url)
    (body,) = receiver.wait_for(1)
    assert body["video_id"] == kept
    sim.state.drop_callbacks = True  # the simulator-wide switch covers videos too
    sim.add_video(script="x", generation_seconds=0.05, callback_url=receiver.url)
    deadline = time.monotonic() + 3
    while sim.stats()["callbacks"]["dropped"] < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.4)  # past the deleted video's end
    assert sim.video_finished_at(dropped) is not None
    assert sim.stats()["callbacks"] == {"delivered": 1, "failed": 0, "skipped": 1, "dropped": 2}
    assert len(receiver.bodies) == 1


# -- faults and statistics ----------------------------------------------------------------------------


def test_faults_per_video_then_route_then_star(sim: TavusSimulator, client: httpx.Client) -> None:
    assert VIDEO_ROUTES == (
        "GET /v2/videos",
        "POST /v2/videos",
        "GET /v2/videos/{id}",
        "DELETE /v2/videos/{id}",
        "PATCH /v2/videos/{id}/name",
    )
    assert not set(VIDEO_ROUTES) & set(ROUTES)
    video_id = sim.add_video(script="x", generation_seconds=30)
    sim.inject_faults("*", [Fault.status(500)])
    sim.inject_faults(ROUTE_VIDEO_GET, [Fault.status(502)])
    sim.inject_faults(ROUTE_VIDEO_LIST, [Fault.status(429, retry_after="3")])
    sim.inject_faults(video_id, [Fault.status(503, retry_after="1"), Fault.garbage()])
    first = client.get(f"/v2/videos/{video_id}")
    assert (first.status_code, first.headers["retry-after"], first.json()) == (
        503,
        "1",
        {"message": "Service Unavailable"},
    )
    assert client.get(f"/v2/videos/{video_id}").content == b"<html>oops</html>"
    assert client.get(f"/v2/videos/{video_id}").status_code == 502  # the route's script next
    listed = client.get("/v2/videos")
    assert (listed.status_code, listed.json()) == (429, {"error": "Too Many Requests"})
    assert (
        client.patch(f"/v2/videos/{video_id}/name", json={"video_name": "N"}).status_code == 500
    )  # "*"
    assert (
        client.get(f"/v2/videos/{video_id}").json()["video_name"] == "My Video"
    )  # the faulted rename did nothing
    assert sim.state.pending_faults() == {}
    assert sim.stats()["faults_served"] == 5


def test_create_faults_lost_and_late_answers_take_effect(sim: TavusSimulator) -> None:
    trained = sim.add_replica(training_seconds=0)
    body = {"replica_id": trained, "script": "Hi"}
    sim.inject_faults(
        ROUTE_VIDEO_CREATE,
        [Fault.status(503), Fault.drop(), Fault.lost_answer(), Fault.late_answer(2.0)],
    )
    with httpx.Client(base_url=sim.url, headers={"x-api-key": KEY}, timeout=0.5) as client:
        assert client.post("/v2/videos", json=body).status_code == 503
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            client.post("/v2/videos", json=body)
        assert client.get("/v2/videos").json()["total_count"] == 0  # neither took effect
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            client.post("/v2/videos", json=body)
        assert client.get("/v2/videos").json()["total_count"] == 1  # the lost answer's video exists
        with pytest.raises(httpx.ReadTimeout):
            client.post("/v2/videos", json=body)
        assert (
            client.get("/v2/videos").json()["total_count"] == 2
        )  # created while its answer is held back
        assert client.post("/v2/videos", json=body).status_code == 200
    assert sim.stats()["by_route"][ROUTE_VIDEO_CREATE] == 5


def test_stats_count_video_routes_and_videos(sim: TavusSimulator, client: httpx.Client) -> None:
    video_id = sim.add_video(script="x")
    replica_id = sim.add_replica(training_seconds=0)
    for _ in range(2):
        client.get(f"/v2/videos/{video_id}")
    client.get("/v2/videos/vnothere000")
    client.get("/v2/videos")
    client.post("/v2/videos", json={"replica_id": replica_id, "script": "Hi"})
    client.patch(f"/v2/videos/{video_id}/name", json={"video_name": "N"})
    client.delete(f"/v2/videos/{video_id}")
    client.get(f"/v2/replicas/{replica_id}")
    stats = sim.stats()
    assert stats["requests"] == 8
    assert stats["by_route"] == {
        "GET /v2/videos/{id}": 3,
        "GET /v2/videos": 1,
        "POST /v2/videos": 1,
        "PATCH /v2/videos/{id}/name": 1,
        "DELETE /v2/videos/{id}": 1,
        "GET /v2/replicas/{id}": 1,
    }
    assert stats["by_video"] == {video_id: 2, "vnothere000": 1}
    assert stats["by_replica"] == {replica_id: 1}
    sim.reset_stats()
    assert sim.stats()["by_video"] == {}


def test_video_routes_need_a_key(sim: TavusSimulator) -> None:
    video_id = sim.add_video(script="x")
    with httpx.Client(base_url=sim.url, timeout=5.0) as anonymous:
        for response in (
            anonymous.get(f"/v2/videos/{video_id}"),
            anonymous.get("/v2/videos"),
            anonymous.post("/v2/videos", json={"replica_id": "r", "script": "x"}),
            anonymous.delete(f"/v2/videos/{video_id}", headers={"x-api-key": "wrong"}),
        ):
            assert (response.status_code, response.json()) == (
                401,
                {"message": "Invalid access token"},
            )
        assert (
            anonymous.put(f"/v2/videos/{video_id}", headers={"x-api-key": KEY}).status_code == 404
        )
    assert sim.video_payload(video_id)["status"] != "deleted"


def test_reset_drops_videos_and_scripts(sim: TavusSimulator, client: httpx.Client) -> None:
    video_id = sim.add_video(script="x")
    sim.script_created_videos(outcome="error")
    sim.reset()
    assert client.get(f"/v2/videos/{video_id}").status_code == 400
    assert client.get("/v2/videos").json()["total_count"] == 0
    assert sim.state.scripted_videos_pending() == 0


def test_faces_vocabulary_leaves_video_payloads_alone() -> None:
    with TavusSimulator(api_keys=(KEY,), vocabulary="faces") as sim:
        replica_id = sim.add_replica(training_seconds=0)
        payload = sim.video_payload(sim.add_video(replica_id=replica_id, script="x"))
        assert payload["replica_id"] == replica_id and "face_id" not in payload


# -- control API ------------------------------------------------------------------------------------


def test_control_api_adds_reads_scripts_and_deletes_videos(
    sim: TavusSimulator, client: httpx.Client
) -> None:
    replica_id = client.post("/_sim/replicas", json={"training_seconds": 0}).json()["replica_id"]
    added = client.post(
        "/_sim/videos", json={"replica_id": replica_id, "script": "Ctl", "generation_seconds": 30}
    )
    assert added.status_code == 200
    video_id = added.json()["video_id"]
    state = client.get(f"/_sim/videos/{video_id}", params={"verbose": "true"}).json()
    assert set(state) == {"payload", "started_at", "finished_at", "request"}
    assert (
        state["payload"]["data"] == {"script": "Ctl"}
        and set(state["payload"]) == VIDEO_FIELDS | THUMBNAILS
    )
    assert state["started_at"] == pytest.approx(time.time(), abs=5) and state["finished_at"] is None

    scripted = client.post(
        "/_sim/videos/script",
        json={"videos": [{"video_id": "vctl0000001", "generation_seconds": 0}]},
    )
    assert scripted.json() == {"queued": 1}
    created = client.post("/v2/videos", json={"replica_id": replica_id, "script": "Via API"})
    assert created.json()["video_id"] == "vctl0000001"
    done = client.get("/_sim/videos/vctl0000001").json()
    assert (
        done["request"] == {"replica_id": replica_id, "script": "Via API"}
        and done["finished_at"] is not None
    )

    faults = {"target": video_id, "faults": [{"kind": "status", "code": 503}]}
    assert client.post("/_sim/faults", json=faults).json() == {"target": video_id, "queued": 1}
    assert client.get(f"/v2/videos/{video_id}").status_code == 503
    assert client.get("/_sim/stats").json()["by_video"] == {video_id: 1}

    assert client.post("/_sim/delete", json={"video_id": video_id}).json() == {
        "deleted": video_id,
        "hard": False,
    }
    assert client.get(f"/v2/videos/{video_id}").json()["status"] == "deleted"
    assert client.post("/_sim/delete", json={"video_id": video_id, "hard": True}).status_code == 200
    assert client.get(f"/_sim/videos/{video_id}").status_code == 404


def test_control_api_refuses_bad_video_input(sim: TavusSimulator, client: httpx.Client) -> None:
    assert client.post("/_sim/videos", json={"bogus": 1}).status_code == 400
    assert client.post("/_sim/videos", json={"outcome": "maybe"}).status_code == 400
    unknown_replica = client.post("/_sim/videos", json={"replica_id": "rnothere000"})
    assert (
        unknown_replica.status_code == 400 and "does not exist" in unknown_replica.json()["error"]
    )
    assert client.post("/_sim/videos/script", json={"videos": {}}).status_code == 400
    assert (
        client.post("/_sim/videos/script", json={"videos": [{"outcome": "maybe"}]}).status_code
        == 400
    )
    assert client.get("/_sim/videos/vnothere000").status_code == 404
    assert client.post("/_sim/delete", json={"video_id": "vnothere000"}).status_code == 404
    assert client.post("/_sim/delete", json={"video_id": ""}).status_code == 400
    assert client.post("/_sim/delete", json={"video_id": "v", "hard": "yes"}).status_code == 400
    assert sim.state.scripted_videos_pending() == 0


# -- command line -----------------------------------------------------------------------------------


def test_cli_takes_the_video_options() -> None:
    parser = simulator_cli.build_parser()
    args = parser.parse_args(["--generation-seconds", "2.5", "--video-list-order", "newest_first"])
    assert (args.generation_seconds, args.video_list_order) == (2.5, "newest_first")
    defaults = parser.parse_args([])
    assert (defaults.generation_seconds, defaults.video_list_order) == (10.0, "oldest_first")


@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_cli_refuses_a_bad_generation_time(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        simulator_cli.main(["--port", "0", "--generation-seconds", value])
    assert exited.value.code == 2 and "--generation-seconds" in capsys.readouterr().err


def test_cli_serves_videos_with_its_options() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prefect_tavus.simulator",
            "--port",
            "0",
            "--api-key",
            "cli-key",
            "--training-seconds",
            "0",
            "--generation-seconds",
            "0",
            "--video-list-order",
            "newest_first",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = re.search(r"listening on (http://\S+)", process.stdout.readline())
        assert url, process.stderr.read() if process.poll() is not None and process.stderr else ""
        with httpx.Client(
            base_url=url.group(1), headers={"x-api-key": "cli-key"}, timeout=5.0
        ) as http:
            replica_id = http.post("/_sim/replicas", json={}).json()["replica_id"]
            ids = [
                http.post("/v2/videos", json={"replica_id": replica_id, "script": s}).json()[
                    "video_id"
                ]
                for s in "ab"
            ]
            listed = http.get("/v2/videos").json()
            assert ids_of(listed) == ids[::-1]
            assert {item["status"] for item in listed["data"]} == {"ready"}
        process.terminate()
        _, stderr = process.communicate(timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0 and "Traceback" not in stderr


def test_a_video_scripted_by_name_is_the_one_created_with_that_name_whatever_the_order() -> None:
    from prefect_tavus.simulator import TavusSimulator

    with TavusSimulator(api_keys=("sim-test-key-000001",), default_generation_seconds=0.05) as sim:
        sim.script_video_named("second", outcome="error", error_reason="audio_too_short")
        sim.script_created_videos(outcome="error", error_reason="queued-for-the-next-create")
        client = httpx.Client(base_url=sim.url, headers={"x-api-key": "sim-test-key-000001"})
        rid = sim.add_replica(training_seconds=0)
        first, second, third = (
            client.post(
                "/v2/videos", json={"replica_id": rid, "script": "a", "video_name": name}
            ).json()["video_id"]
            for name in ("first", "second", "second")
        )
        time.sleep(0.2)
        assert sim.video_payload(second)["status_details"] == "audio_too_short"  # by name
        assert (
            sim.video_payload(first)["status_details"] == "queued-for-the-next-create"
        )  # the queue
        assert sim.video_payload(third)["status"] == "ready"  # a named script is used once
