"""Callbacks are recorded in Prefect, so no receiver process has to hold them all.

Real receiver processes against a real Prefect server, with suspended deployment runs
made as in test_receiver_process.py. Callbacks "hours apart" are callbacks another
receiver recorded hours ago: their events are written with an ``occurred`` in the past,
exactly as a receiver writes them, instead of sleeping.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from uuid import UUID

import httpx
import pytest
from prefect.client.orchestration import get_client

from prefect_tavus.callbacks.events import to_event
from prefect_tavus.callbacks.store import StoredCallback
from prefect_tavus.suspension import SUSPENDED, record_waiting
from tests.callbacks.conftest import ReceiverProcess, receiver_env, start_receiver
from tests.callbacks.test_receiver_process import (
    FAST,
    SETTLE,
    post,
    resumes,
    rid,
    state_name,
    suspended_wait,
    until_resumed,
    waits_for_tavus,
)

HOUR = 3600.0


@pytest.fixture(scope="module")
async def deployment_id(prefect_api_url: str) -> UUID:
    async with get_client() as client:
        flow_id = await client.create_flow(waits_for_tavus)
        return await client.create_deployment(
            flow_id=flow_id, name=f"durable-{uuid.uuid4().hex[:8]}"
        )


@pytest.fixture
def receivers() -> Iterator[list[ReceiverProcess]]:
    """Receivers a test starts; all stopped (and checked for the token) at its end."""
    started: list[ReceiverProcess] = []
    yield started
    for process in started:
        process.stop()
        assert process.token not in process.stderr(), "the token must never be logged"


def start(
    receivers: list[ReceiverProcess], api_url: str, token: str, *extra: str, **env: str
) -> ReceiverProcess:
    process = start_receiver(
        api_url, token=token, args=[*FAST, *extra], env=receiver_env(api_url, token, **env)
    )
    receivers.append(process)
    return process


async def recorded_callbacks(replica_id: str) -> list[dict[str, object]]:
    """The tavus.replica.callback events Prefect serves for ``replica_id``."""
    body = {
        "filter": {
            "occurred": {"since": "2000-01-01T00:00:00+00:00"},
            "event": {"name": ["tavus.replica.callback"]},
            "resource": {"id": [f"tavus.replica.{replica_id}"]},
        },
        "limit": 50,
    }
    async with get_client() as client:
        response = await client.request("POST", "/events/filter", json=body)
    return response.json()["events"]


async def until_recorded(
    replica_id: str, count: int = 1, timeout: float = 20.0
) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = await recorded_callbacks(replica_id)
        if len(events) >= count:
            return events
        await asyncio.sleep(0.2)
    raise AssertionError(f"no {count} recorded callback(s) for {replica_id} after {timeout} s")


async def record_as_another_receiver(replica_id: str, status: str, received_at: float) -> None:
    """Write the event a receiver would have written for a callback at ``received_at``."""
    event = to_event(StoredCallback(replica_id, status, None, received_at, "replica"))
    async with get_client() as client:
        await client.request("POST", "/events", json=[event])
    await until_recorded(replica_id)


async def resuspend(run_id: UUID, replica_ids: list[str], checked_at: float) -> None:
    """What a resumed wait does when its re-check finds nothing new: record, suspend again."""
    from prefect.states import Running, Suspended

    async with get_client() as client:
        await client.set_flow_run_state(run_id, Running(), force=True)
        await record_waiting(
            client,
            run_id,
            replica_ids,
            deadline=time.time() + HOUR,
            checked_at=checked_at,
            kind="replica",
        )
        await client.set_flow_run_state(
            run_id,
            Suspended(timeout_seconds=None, pause_key=f"k-{uuid.uuid4().hex[:6]}"),
            force=True,
        )
    assert await state_name(run_id) == SUSPENDED


async def test_a_batch_split_over_two_receivers_and_a_restart_resumes_once(
    prefect_api_url, deployment_id, receivers, record_property
):
    token = "split-" + uuid.uuid4().hex
    first, second = (
        start(receivers, prefect_api_url, token),
        start(receivers, prefect_api_url, token),
    )
    batch = [rid("split") for _ in range(3)]
    run = await suspended_wait(deployment_id, batch, checked_at=time.time() - 1)

    assert (await post(first, {"replica_id": batch[0], "status": "ready"})).status_code == 202
    assert (
        await post(
            second, {"replica_id": batch[1], "status": "error", "error_message": "video_codec"}
        )
    ).status_code == 202
    await until_recorded(batch[1])
    assert second.stop() == 0  # restarted between its callbacks: its memory is gone
    second = start(receivers, prefect_api_url, token)
    await asyncio.sleep(SETTLE)
    assert await state_name(run) == SUSPENDED, "2 of 3 replicas reported"

    started = time.monotonic()
    assert (await post(second, {"face_id": batch[2], "status": "ready"})).status_code == 202
    lag = await until_resumed(run)
    await asyncio.sleep(SETTLE)
    assert await resumes(run) == 1
    assert "Resumed flow run" in second.stderr()
    record_property("split_resume_seconds", f"{time.monotonic() - started:.2f}")
    print(f"\nsplit over two receivers and a restart: resumed {lag:.2f} s after the last callback")


async def test_callbacks_hours_apart_count_by_their_first_receipt(
    prefect_api_url, deployment_id, receivers
):
    token = "hours-" + uuid.uuid4().hex
    receiver = start(receivers, prefect_api_url, token)
    now = time.time()
    # Suspended 5 h ago; one replica reported 4 h ago (to a receiver long gone), the other now.
    early, late = rid("h4"), rid("h0")
    run = await suspended_wait(deployment_id, [early, late], checked_at=now - 5 * HOUR)
    # Control: re-checked 3 h ago, after its first replica's callback: that one is no news.
    seen_early, seen_late = rid("s4"), rid("s0")
    rechecked = await suspended_wait(
        deployment_id, [seen_early, seen_late], checked_at=now - 3 * HOUR
    )
    await record_as_another_receiver(early, "ready", now - 4 * HOUR)
    await record_as_another_receiver(seen_early, "ready", now - 4 * HOUR)

    for replica in (late, seen_late):
        assert (await post(receiver, {"replica_id": replica, "status": "ready"})).status_code == 202
    await until_resumed(run)
    await asyncio.sleep(SETTLE)
    assert await resumes(run) == 1
    assert await state_name(rechecked) == SUSPENDED


async def test_a_replay_or_a_case_varied_repeat_after_a_recheck_does_not_resume(
    prefect_api_url, deployment_id, receivers
):
    token = "replay-" + uuid.uuid4().hex
    first, second = (
        start(receivers, prefect_api_url, token),
        start(receivers, prefect_api_url, token),
    )
    replica = rid("rp")
    run = await suspended_wait(deployment_id, [replica], checked_at=time.time() - 1)
    assert (await post(first, {"replica_id": replica, "status": "ready"})).status_code == 202
    await until_resumed(run)
    await until_recorded(replica)
    await resuspend(
        run, [replica], checked_at=time.time()
    )  # the run re-checked Tavus, suspended again

    # The same callback again, to the receiver that saw it and to one that never did; in
    # another case; and to a receiver started afterwards (no memory at all).
    assert (await post(first, {"replica_id": replica, "status": "ready"})).status_code == 202
    assert (await post(second, {"replica_id": replica, "status": "Ready"})).status_code == 202
    third = start(receivers, prefect_api_url, token)
    assert (await post(third, {"face_id": replica, "status": "READY"})).status_code == 202
    await asyncio.sleep(2 * SETTLE)
    assert await state_name(run) == SUSPENDED
    assert await resumes(run) == 1


async def test_two_receivers_racing_on_one_wait_resume_it_once(
    prefect_api_url, deployment_id, receivers
):
    token = "race-" + uuid.uuid4().hex
    first, second = (
        start(receivers, prefect_api_url, token),
        start(receivers, prefect_api_url, token),
    )
    batch = [rid("rc") for _ in range(2)]
    single = rid("rc1")
    run = await suspended_wait(deployment_id, batch, checked_at=time.time() - 1)
    lone = await suspended_wait(deployment_id, [single], checked_at=time.time() - 1)
    # Both receivers get every callback (Tavus behind a load balancer that retried, say).
    await asyncio.gather(
        *(
            post(receiver, {"replica_id": replica, "status": "ready"})
            for receiver in (first, second)
            for replica in [*batch, single]
        )
    )
    await until_resumed(run)
    await until_resumed(lone)
    await asyncio.sleep(2 * SETTLE)
    assert [await resumes(run), await resumes(lone)] == [1, 1]
    # One event per receiver per callback it received, none duplicated by retries.
    assert len(await recorded_callbacks(single)) == 2


async def test_a_receiver_started_after_another_died_resumes_from_the_record(
    prefect_api_url, deployment_id, receivers
):
    token = "late-" + uuid.uuid4().hex
    replicas = [rid("lt") for _ in range(2)]
    checked_at = time.time() - 1  # the run checked Tavus, then the callbacks came, ...
    dying = start(receivers, prefect_api_url, token)
    for replica in replicas:
        assert (await post(dying, {"replica_id": replica, "status": "ready"})).status_code == 202
    for replica in replicas:
        await until_recorded(replica)
    dying.process.kill()  # ... then the receiver died, not gracefully, ...
    dying.process.wait(10)
    run = await suspended_wait(
        deployment_id, replicas, checked_at=checked_at
    )  # ... then the run suspended.
    await asyncio.sleep(SETTLE)
    assert await state_name(run) == SUSPENDED, "nobody is left to resume it"
    start(
        receivers, prefect_api_url, token
    )  # no callback reaches it: its first pass reads the record
    await until_resumed(run)
    await asyncio.sleep(SETTLE)
    assert await resumes(run) == 1


class Outage:
    """A TCP forwarder to the Prefect server that can be switched off (connections refused)."""

    def __init__(self, target_url: str) -> None:
        parsed = httpx.URL(target_url)
        self.target = (parsed.host, parsed.port)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}{parsed.path}"
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._connections.add(writer)
        self._connections.add(upstream_writer)
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
        )

    async def _up(self) -> None:
        self._connections: set[asyncio.StreamWriter] = set()
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )

    async def _down(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in self._connections:
                writer.close()
            await self._server.wait_closed()
            self._server = None

    def up(self) -> None:
        asyncio.run_coroutine_threadsafe(self._up(), self._loop).result(10)

    def down(self) -> None:
        asyncio.run_coroutine_threadsafe(self._down(), self._loop).result(10)

    def close(self) -> None:
        self.down()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


async def test_a_callback_during_a_prefect_outage_is_answered_and_recorded_afterwards(
    prefect_api_url, deployment_id, receivers
):
    token = "outage-" + uuid.uuid4().hex
    outage = Outage(prefect_api_url)
    outage.up()
    try:
        receiver = start(receivers, outage.url, token, PREFECT_CLIENT_MAX_RETRIES="0")
        replica = rid("out")
        run = await suspended_wait(deployment_id, [replica], checked_at=time.time() - 1)
        outage.down()
        started = time.perf_counter()
        assert (await post(receiver, {"replica_id": replica, "status": "ready"})).status_code == 202
        assert time.perf_counter() - started < 1.0
        await asyncio.sleep(2.0)
        health = httpx.get(f"{receiver.url}/healthz", timeout=5).json()
        assert health["prefect_api"] == "failing"
        assert await recorded_callbacks(replica) == [] and await state_name(run) == SUSPENDED
        outage.up()
        await until_resumed(run, timeout=30)
        events = await until_recorded(replica)
        assert len(events) == 1 and events[0]["payload"]["status"] == "ready"
    finally:
        outage.close()
    log = receiver.stderr()
    assert "Could not write 1 callback to the Prefect API" in log


async def test_sigterm_writes_what_is_pending_before_exiting(
    prefect_api_url, deployment_id, receivers
):
    """A long debounce keeps the callback unwritten; SIGTERM still writes it."""
    token = "sigterm-" + uuid.uuid4().hex
    process = start_receiver(
        prefect_api_url,
        token=token,
        args=["--debounce-seconds", "60", "--interval-seconds", "60"],
        env=receiver_env(prefect_api_url, token),
    )
    receivers.append(process)
    await asyncio.sleep(1.0)  # its startup pass is over
    replica = rid("term")
    assert (await post(process, {"replica_id": replica, "status": "ready"})).status_code == 202
    await asyncio.sleep(1.0)
    assert await recorded_callbacks(replica) == []
    assert process.stop() == 0
    events = await until_recorded(replica)
    assert len(events) == 1
