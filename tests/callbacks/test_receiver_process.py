"""The receiver as a real process (``python -m prefect_tavus.cli callbacks``) against a real
Prefect server, with real suspended deployment runs waiting on replicas or on videos.

Runs are put in ``Suspended`` by force and given the record a worker-releasing wait
leaves (``record_waiting``), so what is tested is exactly what the receiver sees in
production: flow-run labels on suspended runs. "Resumed" means the server moved the run
out of ``Suspended`` (to ``Resuming``, a Scheduled state, since it belongs to a deployment); the number of
resumes is read from the run's state history. The receiver runs without TAVUS_API_KEY.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator, Sequence
from itertools import pairwise
from uuid import UUID

import httpx
import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.states import Running, Suspended

from prefect_tavus.core.contract import Kind
from prefect_tavus.suspension import SUSPENDED, record_waiting
from tests.callbacks.conftest import ReceiverProcess, start_receiver

#: Receiver options for tests: passes every 0.3 s, callbacks gathered for 0.1 s.
FAST = ["--interval-seconds", "0.3", "--debounce-seconds", "0.1", "--recheck-seconds", "60"]
#: Long enough for several passes of a FAST receiver.
SETTLE = 2.0


@flow
def waits_for_tavus() -> None:
    """Stands in for a wait flow; never runs (no worker), its runs are only suspended."""


@pytest.fixture(scope="module")
def receiver(prefect_api_url: str) -> Iterator[ReceiverProcess]:
    process = start_receiver(prefect_api_url, args=FAST)
    yield process
    assert process.stop() == 0, process.stderr()
    log = process.stderr()
    assert process.token not in log, "the token must never be logged"
    assert "/tavus/callbacks/" + process.token[:8] not in log


@pytest.fixture(scope="module")
async def deployment_id(prefect_api_url: str) -> UUID:
    async with get_client() as client:
        flow_id = await client.create_flow(waits_for_tavus)
        return await client.create_deployment(
            flow_id=flow_id, name=f"receiver-{uuid.uuid4().hex[:8]}"
        )


def rid(label: str) -> str:
    """A fresh, valid replica id, so tests sharing one receiver never collide."""
    return f"r{label}{uuid.uuid4().hex[:10]}"


async def suspended_wait(
    deployment_id: UUID,
    replica_ids: Sequence[str],
    checked_at: float | None = None,
    kind: Kind = "replica",
) -> UUID:
    """A deployment run, forced to Suspended, carrying a wait record for ``replica_ids``
    (video ids with ``kind="video"``)."""
    async with get_client() as client:
        run = await client.create_flow_run_from_deployment(deployment_id)
        await client.set_flow_run_state(run.id, Running(), force=True)
        await record_waiting(
            client,
            run.id,
            list(replica_ids),
            deadline=time.time() + 3600,
            checked_at=time.time() if checked_at is None else checked_at,
            kind=kind,
        )
        await client.set_flow_run_state(
            run.id,
            Suspended(timeout_seconds=None, pause_key=f"k-{uuid.uuid4().hex[:6]}"),
            force=True,
        )
        assert (await client.read_flow_run(run.id)).state.name == SUSPENDED
        return run.id


async def state_name(run_id: UUID) -> str:
    async with get_client() as client:
        return (await client.read_flow_run(run_id)).state.name


async def state_type(run_id: UUID) -> StateType:
    async with get_client() as client:
        return (await client.read_flow_run(run_id)).state.type


async def resumes(run_id: UUID) -> int:
    """Transitions out of Suspended in the run's state history."""
    async with get_client() as client:
        states = await client.read_flow_run_states(run_id)
    names = [state.name for state in sorted(states, key=lambda state: state.timestamp)]
    return sum(1 for before, after in pairwise(names) if before == SUSPENDED and after != SUSPENDED)


async def until_resumed(run_id: UUID, timeout: float = 15.0) -> float:
    """Seconds until ``run_id`` left Suspended; fails after ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if await state_name(run_id) != SUSPENDED:
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    raise AssertionError(f"run {run_id} still suspended after {timeout} s")


async def post(receiver: ReceiverProcess, payload: dict[str, object]) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(receiver.callback_url, json=payload, timeout=5)


async def test_a_single_wait_resumes_after_its_callback_and_others_are_untouched(
    receiver, deployment_id
):
    single, unrelated = rid("s"), rid("u")
    run = await suspended_wait(deployment_id, [single])
    other = await suspended_wait(deployment_id, [unrelated])
    started = time.perf_counter()
    response = await post(receiver, {"replica_id": single, "status": "ready"})
    answered = time.perf_counter() - started
    assert response.status_code == 202 and answered < 1.0
    await until_resumed(run)
    assert await state_type(run) == StateType.SCHEDULED  # "Resuming": a worker may pick it up
    await asyncio.sleep(SETTLE)
    assert await state_name(other) == SUSPENDED
    assert await resumes(run) == 1 and await resumes(other) == 0


async def test_an_error_callback_resumes_too(receiver, deployment_id):
    replica = rid("e")
    run = await suspended_wait(deployment_id, [replica])
    response = await post(
        receiver, {"replica_id": replica, "status": "error", "error_message": "video_codec"}
    )
    assert response.status_code == 202
    await until_resumed(run)


async def test_a_batch_wait_resumes_once_when_its_last_replica_reports(receiver, deployment_id):
    batch = [rid("b") for _ in range(3)]
    run = await suspended_wait(deployment_id, batch)
    for replica in batch[:2]:
        assert (await post(receiver, {"replica_id": replica, "status": "ready"})).status_code == 202
    await asyncio.sleep(SETTLE)
    assert await state_name(run) == SUSPENDED, (
        "2 of 3 replicas reported: the batch wait must stay suspended"
    )
    assert (
        await post(
            receiver, {"event_type": "x", "data": {"replica_id": batch[2], "status": "ready"}}
        )
    ).status_code == 202
    await until_resumed(run)
    await asyncio.sleep(SETTLE)
    assert await resumes(run) == 1


async def test_a_callback_for_a_replica_nobody_waits_on_is_2xx_and_resumes_nothing(
    receiver, deployment_id
):
    bystander = await suspended_wait(deployment_id, [rid("w")])
    response = await post(receiver, {"replica_id": rid("nobody"), "status": "ready"})
    assert response.status_code == 202
    await asyncio.sleep(SETTLE)
    assert await state_name(bystander) == SUSPENDED


async def test_a_callback_older_than_the_waits_last_check_does_not_resume(receiver, deployment_id):
    replica = rid("old")
    assert (await post(receiver, {"replica_id": replica, "status": "ready"})).status_code == 202
    await asyncio.sleep(0.5)
    run = await suspended_wait(
        deployment_id, [replica], checked_at=time.time()
    )  # checked after the callback
    await asyncio.sleep(SETTLE)
    assert await state_name(run) == SUSPENDED
    # A replay of the same callback keeps its first receipt time: still not news.
    assert (await post(receiver, {"replica_id": replica, "status": "ready"})).status_code == 202
    await asyncio.sleep(SETTLE)
    assert await state_name(run) == SUSPENDED
    assert await resumes(run) == 0


async def test_a_callback_that_arrives_before_the_run_suspends_still_wakes_it(
    receiver, deployment_id
):
    """The race: the run checked Tavus, the callback came, then the run suspended."""
    replica = rid("race")
    checked_at = time.time()
    await asyncio.sleep(0.05)
    assert (await post(receiver, {"replica_id": replica, "status": "ready"})).status_code == 202
    await asyncio.sleep(1.0)  # the receiver's pass has run and found nothing to resume
    run = await suspended_wait(deployment_id, [replica], checked_at=checked_at)
    await until_resumed(run)


async def test_bad_requests_over_a_real_socket(receiver):
    async with httpx.AsyncClient(timeout=5) as client:
        wrong = await client.post(
            f"{receiver.url}/tavus/callbacks/{'x' * 32}", json={"replica_id": "r1"}
        )
        assert wrong.status_code == 404 and wrong.text == "Not Found"
        missing = await client.post(f"{receiver.url}/tavus/callbacks/", json={"replica_id": "r1"})
        assert missing.status_code == 404

        big = await client.post(receiver.callback_url, content=b"{" + b" " * (70 * 1024) + b"}")
        assert big.status_code == 413

        async def chunks():
            for _ in range(2048):  # 2 MiB, no Content-Length
                yield b" " * 1024

        chunked = await client.post(receiver.callback_url, content=chunks())
        assert chunked.status_code == 413
        for body in (b"nope", b"[]", b"{}", b'{"replica_id": "../x"}', b'{"replica_id": ""}'):
            response = await client.post(receiver.callback_url, content=body)
            assert response.status_code == 400, body
            assert receiver.token not in response.text
        assert (await client.get(f"{receiver.url}/healthz")).status_code == 200
    assert receiver.process.poll() is None


async def _hammer(
    receiver: ReceiverProcess, payloads: Sequence[dict[str, object]], connections: int = 20
) -> tuple[list[int], float]:
    """POST every payload over ``connections`` keep-alive connections; returns statuses and seconds.

    A minimal HTTP/1.1 client on raw sockets: httpx's own overhead (about 5 ms a request on
    a loaded 2-core machine) would measure the client, not the receiver.
    """
    host, port = receiver.url.removeprefix("http://").rsplit(":", 1)
    path = f"/tavus/callbacks/{receiver.token}"
    statuses: list[int] = []

    def request(payload: dict[str, object]) -> bytes:
        body = json.dumps(payload).encode()
        head = f"POST {path} HTTP/1.1\r\nHost: receiver\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        return head.encode() + body

    async def connection(requests: list[bytes]) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for raw in requests:
                writer.write(raw)
                await writer.drain()
                statuses.append(int((await reader.readline()).split()[1]))
                length = 0
                while (header := await reader.readline()) != b"\r\n":
                    if header.lower().startswith(b"content-length:"):
                        length = int(header.split(b":")[1])
                await reader.readexactly(length)
        finally:
            writer.close()

    requests = [request(payload) for payload in payloads]
    started = time.perf_counter()
    await asyncio.gather(
        *(connection(requests[index::connections]) for index in range(connections))
    )
    return statuses, time.perf_counter() - started


async def test_floods_are_answered_and_cost_at_most_one_resume_per_run(
    receiver, deployment_id, record_property
):
    same = rid("flood")
    distinct = [rid("d") for _ in range(1000)]
    single = await suspended_wait(deployment_id, [same])
    batch = await suspended_wait(deployment_id, distinct[10:13])
    bystander = await suspended_wait(deployment_id, [rid("calm")])
    rss_before = receiver.rss_kib()

    statuses, seconds = await _hammer(receiver, [{"replica_id": same, "status": "ready"}] * 1000)
    assert statuses == [202] * 1000
    same_rate = 1000 / seconds
    statuses, seconds = await _hammer(
        receiver, [{"replica_id": r, "status": "ready"} for r in distinct]
    )
    assert statuses == [202] * 1000
    distinct_rate = 1000 / seconds

    health = httpx.get(f"{receiver.url}/healthz", timeout=5)
    assert health.status_code == 200 and health.json()["prefect_api"] in ("ok", "unknown")
    await until_resumed(single)
    await until_resumed(batch)
    await asyncio.sleep(SETTLE)
    counts = [await resumes(single), await resumes(batch), await resumes(bystander)]
    assert counts == [1, 1, 0]
    rss_growth_mib = (receiver.rss_kib() - rss_before) / 1024
    assert rss_growth_mib < 50, rss_growth_mib
    assert receiver.process.poll() is None
    record_property(
        "flood",
        f"same id {same_rate:.0f} req/s, distinct ids {distinct_rate:.0f} req/s, "
        f"resumes {counts}, RSS +{rss_growth_mib:.1f} MiB",
    )
    print(
        f"\nflood: same id {same_rate:.0f} req/s; 1,000 distinct ids {distinct_rate:.0f} req/s; "
        f"resumes (single, batch, bystander) {counts}; RSS +{rss_growth_mib:.1f} MiB"
    )


async def test_token_from_a_secret_block_and_no_tavus_key_in_the_process(
    prefect_api_url, deployment_id
):
    """The token can live in a Secret block; a TAVUS_API_KEY in the environment is dropped
    with a warning (never printed), and the receiver works without it."""
    from prefect.blocks.system import Secret

    from tests.callbacks.conftest import receiver_env

    token = "from-a-secret-block-" + uuid.uuid4().hex
    block = f"tavus-callback-token-{uuid.uuid4().hex[:6]}"
    await Secret(value=token).save(block)
    canary = "tvs_canary_" + uuid.uuid4().hex
    env = receiver_env(prefect_api_url, None, TAVUS_API_KEY=canary)
    process = start_receiver(
        prefect_api_url, token=token, args=[*FAST, "--token-secret-block", block], env=env
    )
    try:
        replica = rid("sec")
        run = await suspended_wait(deployment_id, [replica])
        assert (await post(process, {"replica_id": replica, "status": "ready"})).status_code == 202
        await until_resumed(run)
    finally:
        assert process.stop() == 0
    log = process.stderr()
    assert "TAVUS_API_KEY is set" in log
    assert canary not in log and token not in log


async def test_each_callback_becomes_a_prefect_event_without_the_token(receiver, prefect_api_url):
    replica = rid("ev")
    assert (
        await post(
            receiver, {"replica_id": replica, "status": "error", "error_message": "file_size"}
        )
    ).status_code == 202
    query = {
        "filter": {
            "event": {"name": ["tavus.replica.callback"]},
            "resource": {"id": [f"tavus.replica.{replica}"]},
        }
    }
    deadline = time.monotonic() + 20
    events: list[dict[str, object]] = []
    async with httpx.AsyncClient(timeout=5) as client:
        while not events and time.monotonic() < deadline:
            response = await client.post(f"{prefect_api_url}/events/filter", json=query)
            response.raise_for_status()
            events = response.json()["events"]
            await asyncio.sleep(0.3)
    assert len(events) == 1, "one event per callback"
    assert events[0]["payload"] == {
        "replica_id": replica,
        "status": "error",
        "error_message": "file_size",
    }
    assert receiver.token not in json.dumps(events[0])


def video_callback(
    video_id: str, replica_id: str, status: str = "ready", reason: str | None = None
) -> dict[str, object]:
    """The whole video object, as Tavus POSTs it to a video's callback_url."""
    ready = status == "ready"
    return {
        "video_id": video_id,
        "video_name": "receiver test",
        "status": status,
        "data": {"script": "Hello."},
        "download_url": f"https://example.invalid/{video_id}.mp4" if ready else None,
        "stream_url": f"https://example.invalid/{video_id}.m3u8" if ready else None,
        "hosted_url": f"https://tavus.video/{video_id}",
        "status_details": reason or "Your video has been generated successfully.",
        "replica_id": replica_id,
        "generation_progress": "100/100",
    }


async def test_a_video_wait_resumes_on_its_videos_callbacks_only(receiver, deployment_id):
    """Video waits are woken by video callbacks, replica waits by training callbacks, and
    never the other way round, even for the same id (a video callback also names its replica)."""
    shared, other = rid("vs"), rid("vo")
    video_wait = await suspended_wait(deployment_id, [shared, other], kind="video")
    replica_wait = await suspended_wait(deployment_id, [shared])
    # A training callback for the id the video wait names: the replica wait's, not the video wait's.
    assert (await post(receiver, {"replica_id": shared, "status": "ready"})).status_code == 202
    await until_resumed(replica_wait)
    # Video callbacks naming, as their replica, ids that a replica wait is waiting on.
    replica_wait_2 = await suspended_wait(deployment_id, [other])
    assert (await post(receiver, video_callback(shared, replica_id=other))).status_code == 202
    await asyncio.sleep(SETTLE)
    assert await state_name(video_wait) == SUSPENDED, (
        "1 of 2 videos reported: the video wait stays suspended"
    )
    assert await state_name(replica_wait_2) == SUSPENDED, (
        "a video callback says nothing about its replica"
    )
    assert (
        await post(
            receiver,
            video_callback(
                other, replica_id=other, status="error", reason="replica_in_error_state"
            ),
        )
    ).status_code == 202
    await until_resumed(video_wait)
    await asyncio.sleep(SETTLE)
    assert await state_name(replica_wait_2) == SUSPENDED
    assert [
        await resumes(video_wait),
        await resumes(replica_wait),
        await resumes(replica_wait_2),
    ] == [1, 1, 0]


async def test_a_video_callback_becomes_a_video_event_with_its_reason(receiver, prefect_api_url):
    video = rid("vev")
    body = video_callback(
        video, replica_id=rid("x"), status="error", reason="replica_in_error_state"
    )
    assert (await post(receiver, body)).status_code == 202
    query = {
        "filter": {
            "event": {"name": ["tavus.video.callback"]},
            "resource": {"id": [f"tavus.video.{video}"]},
        }
    }
    deadline = time.monotonic() + 20
    events: list[dict[str, object]] = []
    async with httpx.AsyncClient(timeout=5) as client:
        while not events and time.monotonic() < deadline:
            response = await client.post(f"{prefect_api_url}/events/filter", json=query)
            response.raise_for_status()
            events = response.json()["events"]
            await asyncio.sleep(0.3)
        assert len(events) == 1, "one event per callback"
        assert events[0]["payload"] == {
            "video_id": video,
            "status": "error",
            "reason": "replica_in_error_state",
        }
        assert receiver.token not in json.dumps(events[0])
        # Nothing was recorded for the id as a replica.
        query["filter"] = {
            "event": {"name": ["tavus.replica.callback"]},
            "resource": {"id": [f"tavus.replica.{video}"]},
        }
        response = await client.post(f"{prefect_api_url}/events/filter", json=query)
        assert response.json()["events"] == []
