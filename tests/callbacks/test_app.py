"""The receiver's HTTP contract, in process (no server, no Prefect needed for most of it).

What a sender can make the receiver do: a wrong or missing token is a bare 404 and stores
nothing; an oversized body is 413 whether or not it declares its length (and the
receiver stops reading at the cap); a body that is neither a training, a video nor a
conversation callback, or one with an invalid id, is 400; a valid training or video
callback is stored and answered 202 at once, even when the Prefect API is down; a
conversation callback is answered 202 and ignored. The token never appears in a response
or a log line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings

from prefect_tavus.callbacks import (
    CallbackStore,
    Resumer,
    ResumerSettings,
    create_app,
    validate_token,
)
from prefect_tavus.callbacks.app import MAX_BODY_BYTES, stop_resumer

TOKEN = "tok-" + "Q7x9Lr2mZ4vB8nK1" * 2
URL = f"/tavus/callbacks/{TOKEN}"


def closed_port_url() -> str:
    """A Prefect API URL on a loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api"


def make_resumer(**settings: float) -> Resumer:
    return Resumer(CallbackStore(), get_client, ResumerSettings(**settings))


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[httpx.AsyncClient, Resumer]]:
    resumer = make_resumer()
    app = create_app(TOKEN, resumer, run_resumer=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://receiver"
    ) as client:
        yield client, resumer


@pytest.mark.parametrize(
    "path",
    [
        "/tavus/callbacks/",
        "/tavus/callbacks/wrong-token-wrong-token",
        f"/tavus/callbacks/{TOKEN[:-1]}",
        f"/tavus/callbacks/{TOKEN}x",
        f"/tavus/callbacks/{TOKEN}/",
        "/tavus/callbacks",
        "/",
    ],
)
async def test_wrong_or_missing_token_is_a_bare_404_and_stores_nothing(receiver, path):
    client, resumer = receiver
    response = await client.post(path, json={"replica_id": "r123abc", "status": "ready"})
    assert response.status_code == 404
    assert response.text == "Not Found"
    assert "location" not in response.headers
    assert len(resumer.store) == 0 and resumer.store.received == 0


async def test_wrong_token_is_404_before_the_body_is_judged(receiver):
    client, resumer = receiver
    response = await client.post(
        "/tavus/callbacks/not-the-token-at-all", content=b"x" * (MAX_BODY_BYTES + 1)
    )
    assert response.status_code == 404
    response = await client.post("/tavus/callbacks/not-the-token-at-all", content=b"not json")
    assert response.status_code == 404
    assert resumer.store.received == 0


async def test_other_methods_and_paths_give_no_detail(receiver):
    client, _ = receiver
    assert (await client.get(URL)).status_code == 405
    assert TOKEN not in (await client.get(URL)).text
    assert (await client.post("/healthz")).status_code == 405
    assert (await client.get("/docs")).status_code == 404


async def test_body_over_64_kib_with_content_length_is_413(receiver):
    client, resumer = receiver
    body = json.dumps({"replica_id": "r123abc", "pad": "x" * MAX_BODY_BYTES}).encode()
    response = await client.post(URL, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert len(resumer.store) == 0


async def test_declared_length_over_the_cap_is_refused_before_reading(receiver):
    client, resumer = receiver
    consumed = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal consumed
        for _ in range(100):
            consumed += 1
            yield b"x" * 1024

    response = await client.post(URL, content=body(), headers={"content-length": str(100 * 1024)})
    assert response.status_code == 413
    assert consumed <= 1  # at most the chunk the transport primes; never the whole body
    assert len(resumer.store) == 0


async def test_chunked_body_over_the_cap_is_413_and_reading_stops_at_the_cap(receiver):
    client, resumer = receiver
    consumed = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal consumed
        yield b'{"replica_id": "r123abc", "pad": "'
        for _ in range(1024):  # 1 MiB in 1 KiB chunks, no Content-Length
            consumed += 1
            yield b"x" * 1024

    response = await client.post(URL, content=body())
    assert response.status_code == 413
    assert 64 <= consumed <= 66, consumed
    assert len(resumer.store) == 0


async def test_body_just_under_the_cap_is_accepted(receiver):
    client, resumer = receiver
    prefix = b'{"replica_id": "r123abc", "status": "ready", "pad": "'
    body = prefix + b"x" * (MAX_BODY_BYTES - len(prefix) - 2) + b'"}'
    assert len(body) == MAX_BODY_BYTES
    response = await client.post(URL, content=body)
    assert response.status_code == 202
    assert resumer.store.get("r123abc", "ready", kind="replica") is not None


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        b"\xff\xfe\x00garbage",
        b"[1, 2, 3]",
        b'["r123abc"]',
        b'"r123abc"',
        b"null",
        b"{}",
        b'{"status": "ready"}',
        b'{"replica_id": null, "status": "ready"}',
        b'{"replica_id": 123}',
        b'{"replica_id": ""}',
        b'{"replica_id": "../x"}',
        b'{"replica_id": "r1/../../admin"}',
        b'{"replica_id": "r1?x=1"}',
        b'{"replica_id": " r123abc"}',
        b'{"replica_id": "r1\\u0000"}',
        json.dumps({"replica_id": "r" * 500}).encode(),
        b'{"data": {"replica_id": "../x"}}',
    ],
)
async def test_not_a_valid_callback_is_400_without_echo(receiver, body):
    client, resumer = receiver
    response = await client.post(URL, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert len(response.content) < 100
    assert (
        "r123abc" not in response.text
        and "admin" not in response.text
        and TOKEN not in response.text
    )
    assert len(resumer.store) == 0


async def test_deeply_nested_json_is_400_not_a_crash(receiver):
    client, resumer = receiver
    body = b"[" * 30_000 + b"]" * 30_000  # under the cap, past the JSON parser's recursion limit
    response = await client.post(URL, content=body)
    assert response.status_code == 400
    response = await client.post(URL, content=b'{"a":' * 10_000 + b"1" + b"}" * 10_000)
    assert response.status_code == 400
    assert len(resumer.store) == 0


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"replica_id": "r783537ef5", "status": "ready"}, ("r783537ef5", "ready", None)),
        (
            {"replica_id": "r783537ef5", "status": "error", "error_message": "video_codec"},
            ("r783537ef5", "error", "video_codec"),
        ),
        (
            {
                "event_type": "replica.training.completed",
                "data": {"replica_id": "r783537ef5"},
                "extra": [1],
            },
            ("r783537ef5", "replica.training.completed", None),
        ),
        (
            {
                "event_type": "replica.training",
                "properties": {"replica_id": "r783537ef5", "status": "error"},
            },
            ("r783537ef5", "error", None),
        ),
        (
            {"replica_id": "r783537ef5", "status": 7, "model_name": "phoenix-4"},
            ("r783537ef5", None, None),
        ),
        # The newest docs call a replica a face: same ids, another name.
        ({"face_id": "r783537ef5", "status": "ready"}, ("r783537ef5", "ready", None)),
        (
            {"event_type": "x", "data": {"face_id": "r783537ef5", "status": "error"}},
            ("r783537ef5", "error", None),
        ),
        (
            {"replica_id": "r783537ef5", "face_id": "rOTHER", "status": "ready"},
            ("r783537ef5", "ready", None),
        ),
    ],
)
async def test_both_callback_shapes_are_accepted_and_stored(receiver, payload, expected):
    client, resumer = receiver
    response = await client.post(URL, json=payload)
    assert response.status_code == 202
    stored = resumer.store.get(expected[0], expected[1], kind="replica")
    assert stored is not None
    assert (stored.kind, stored.replica_id, stored.status, stored.reason) == ("replica", *expected)


def video_object(
    video_id: str = "8b4c2a1d9e", status: str = "ready", **fields: object
) -> dict[str, object]:
    """A video callback as Tavus sends it: the whole video object, with generation_progress."""
    ready = status == "ready"
    body: dict[str, object] = {
        "video_id": video_id,
        "video_name": "Quarterly update",
        "status": status,
        "data": {"script": "Hello from the quarterly update."},
        "download_url": f"https://example.invalid/{video_id}.mp4" if ready else None,
        "stream_url": f"https://example.invalid/{video_id}.m3u8" if ready else None,
        "hosted_url": f"https://tavus.video/{video_id}",
        "status_details": "Your video has been generated successfully."
        if ready
        else "replica_in_error_state",
        "created_at": "Mon, 13 Jan 2025 10:00:00 GMT",
        "updated_at": "Mon, 13 Jan 2025 10:04:12 GMT",
        "replica_id": "r783537ef5",
        "generation_progress": "100/100",
    }
    body.update(fields)
    return body


async def test_a_video_callback_is_accepted_and_stored_as_the_videos_not_its_replicas(receiver):
    """A video callback also carries the replica_id of the replica that speaks in it:
    it is the video's callback, and says nothing about that replica's training."""
    client, resumer = receiver
    response = await client.post(URL, json=video_object())
    assert response.status_code == 202 and response.json() == {"status": "accepted"}
    stored = resumer.store.get("8b4c2a1d9e", "ready", kind="video")
    assert stored is not None and len(resumer.store) == 1 and resumer.store.pending_count == 1
    assert (stored.kind, stored.video_id, stored.replica_id, stored.status) == (
        "video",
        "8b4c2a1d9e",
        None,
        "ready",
    )
    assert stored.reason == "Your video has been generated successfully."
    assert resumer.store.get("8b4c2a1d9e", "ready", kind="replica") is None, (
        "not a replica callback"
    )
    assert resumer.store.get("r783537ef5", "ready", kind="replica") is None, (
        "the video's replica did not report anything"
    )


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"status_details": "replica_in_error_state"}, "replica_in_error_state"),
        # Only the list items carry error_details; a replica-style error_message is read too.
        ({"status_details": None, "error_details": "script_too_long"}, "script_too_long"),
        ({"status_details": "", "error_message": "audio_url unreachable"}, "audio_url unreachable"),
        # Whatever shape the reason has, it is kept as text.
        ({"status_details": ["audio_duration", "too short"]}, '["audio_duration", "too short"]'),
        (
            {"status_details": {"code": "E42", "message": "bad audio"}},
            '{"code": "E42", "message": "bad audio"}',
        ),
        ({"status_details": 42}, "42"),
        ({"status_details": None}, None),
        ({"status_details": {}}, None),
    ],
)
async def test_an_error_video_callback_is_stored_with_its_reason(receiver, fields, reason):
    client, resumer = receiver
    body = video_object("e1f2a3b4c5", status="error", download_url=None, stream_url=None, **fields)
    response = await client.post(URL, json=body)
    assert response.status_code == 202
    stored = resumer.store.get("e1f2a3b4c5", "error", kind="video")
    assert stored is not None and stored.reason == reason


async def test_a_video_callbacks_status_and_reason_are_cut(receiver):
    client, resumer = receiver
    long_status, long_reason = "E" * 500, "x" * 5000
    response = await client.post(
        URL, json=video_object("c4d5e6", status=long_status, status_details=long_reason)
    )
    assert response.status_code == 202
    stored = resumer.store.get("c4d5e6", long_status[:64], kind="video")
    assert (
        stored is not None
        and stored.status == long_status[:64]
        and stored.reason == long_reason[:1000]
    )
    response = await client.post(
        URL, json=video_object("c4d5e7", status_details=[{"why": "y" * 3000}])
    )
    stored = resumer.store.get("c4d5e7", "ready", kind="video")
    assert stored is not None and stored.reason is not None and len(stored.reason) == 1000


@pytest.mark.parametrize(
    "body",
    [
        # An invalid video_id is refused even with a valid replica_id beside it: never read as the replica's.
        video_object("../x"),
        video_object("v1/../../admin"),
        video_object("v1?x=1"),
        video_object(" v123abc"),
        video_object("v" * 500),
        video_object(None),  # type: ignore[arg-type]
        video_object(123),  # type: ignore[arg-type]
        video_object(""),
        {"event_type": "video.ready", "data": {"video_id": "../x", "replica_id": "r783537ef5"}},
    ],
)
async def test_an_invalid_video_id_is_400_without_echo(receiver, body):
    client, resumer = receiver
    response = await client.post(URL, json=body)
    assert response.status_code == 400 and response.json() == {"error": "invalid video_id"}
    assert (
        "admin" not in response.text and "../" not in response.text and TOKEN not in response.text
    )
    assert len(resumer.store) == 0 and resumer.store.received == 0


@pytest.mark.parametrize(
    "body",
    [
        {
            "conversation_id": "c123456",
            "event_type": "system.replica_joined",
            "message_type": "system",
            "timestamp": "2025-01-13T10:00:00Z",
            "properties": {"replica_id": "r783537ef5"},
        },
        # No conversation_id at the top level: event_type with message_type says it is a conversation's.
        {
            "event_type": "application.transcription_ready",
            "message_type": "application",
            "properties": {
                "replica_id": "r783537ef5",
                "transcript": [{"role": "user", "content": "hi"}],
            },
        },
        {"conversation_id": "c123456", "replica_id": "r783537ef5", "status": "ready"},
        {"conversation_id": "c123456", "status": "ended"},
    ],
)
async def test_conversation_callbacks_are_acknowledged_and_ignored(receiver, body):
    client, resumer = receiver
    response = await client.post(URL, json=body)
    assert response.status_code == 202 and response.json() == {"status": "ignored"}
    assert len(resumer.store) == 0


async def test_a_video_and_a_replica_with_same_looking_ids_are_two_callbacks(receiver):
    client, resumer = receiver
    assert (
        await client.post(URL, json={"replica_id": "rsame12345", "status": "ready"})
    ).status_code == 202
    assert (await client.post(URL, json=video_object("rsame12345"))).status_code == 202
    assert (
        await client.post(URL, json=video_object("rsame12345", status="Ready"))
    ).status_code == 202  # a repeat
    replica, video = (
        resumer.store.get("rsame12345", "ready", kind="replica"),
        resumer.store.get("rsame12345", "ready", kind="video"),
    )
    assert replica is not None and video is not None and replica is not video
    assert (replica.kind, video.kind) == ("replica", "video") and replica.event_id != video.event_id
    assert len(resumer.store) == 2 and resumer.store.received == 3


async def test_a_repeated_callback_keeps_its_first_receipt_time(receiver):
    """A repeat, also in another case, is not stored (nor written to Prefect) again; a
    callback with another status is a callback of its own."""
    client, resumer = receiver
    await client.post(URL, json={"replica_id": "r783537ef5", "status": "ready"})
    first = resumer.store.get("r783537ef5", "ready", kind="replica")
    assert first is not None
    await asyncio.sleep(0.01)
    for status in ("ready", "Ready", "READY"):
        await client.post(URL, json={"face_id": "r783537ef5", "status": status})
    assert (
        resumer.store.get("r783537ef5", "READY", kind="replica") is first
        and len(resumer.store) == 1
    )
    assert resumer.store.pending_count == 1 and resumer.store.received == 4
    await client.post(URL, json={"replica_id": "r783537ef5", "status": "error"})
    changed = resumer.store.get("r783537ef5", "error", kind="replica")
    assert (
        changed is not None and changed.received_at > first.received_at and len(resumer.store) == 2
    )


async def test_healthz(receiver):
    client, _ = receiver
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "prefect_api": "unknown"}


async def test_answers_fast_and_logs_no_token_while_prefect_is_unreachable(caplog):
    """The answer never waits on Prefect: with the API on a closed port, a flood is still
    answered at once, the resumer fails in the background, logs one warning and goes on."""
    caplog.set_level(logging.DEBUG)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # this test's own client logs its URLs
    receiver_logger = logging.getLogger("prefect_tavus.callbacks")
    receiver_logger.addHandler(caplog.handler)  # Prefect's logging setup may stop propagation
    with temporary_settings({PREFECT_API_URL: closed_port_url()}):
        resumer = make_resumer(debounce_seconds=0.05, interval_seconds=0.2, max_backoff_seconds=0.4)
        app = create_app(TOKEN, resumer, run_resumer=False)
        task = asyncio.create_task(resumer.run_forever())
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://r"
            ) as client:
                slowest = 0.0
                for index in range(50):
                    started = time.perf_counter()
                    response = await client.post(
                        URL, json={"replica_id": f"r{index:08x}", "status": "ready"}
                    )
                    slowest = max(slowest, time.perf_counter() - started)
                    assert response.status_code == 202
                assert slowest < 1.0, slowest
                deadline = time.monotonic() + 20
                while resumer.failed_passes < 3 and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                assert resumer.failed_passes >= 3, "the resumer should keep retrying"
                assert not task.done(), "the resumer loop must survive Prefect API failures"
                assert (await client.get("/healthz")).json()["prefect_api"] == "failing"
                started = time.perf_counter()
                assert (
                    await client.post(URL, json={"replica_id": "rlast", "status": "ready"})
                ).status_code == 202
                assert time.perf_counter() - started < 1.0
        finally:
            await stop_resumer(resumer, task)
            assert task.done()
    receiver_logger.removeHandler(caplog.handler)
    # The handler may see a record twice (directly and through the root logger): count records.
    warnings = {
        id(r): r
        for r in caplog.records
        if r.name == "prefect_tavus.callbacks" and r.levelno == logging.WARNING
    }
    assert len([r for r in warnings.values() if "Could not resume" in r.getMessage()]) == 1, (
        "one warning per outage"
    )
    assert all(TOKEN not in record.getMessage() for record in caplog.records)
    assert TOKEN not in caplog.text


@pytest.mark.parametrize(
    "token", ["", "short", "changeme", "x" * 15, "has space in it 1234", "slash/in/the/token/123"]
)
def test_unusable_tokens_are_refused_without_echo(token):
    with pytest.raises(ValueError) as raised:
        validate_token(token)
    assert token == "" or token not in str(raised.value)


def test_the_token_is_checked_when_the_app_is_made():
    with pytest.raises(ValueError):
        create_app("short", make_resumer())


async def test_a_body_sent_too_slowly_is_408_and_stores_nothing():
    resumer = make_resumer()
    app = create_app(TOKEN, resumer, run_resumer=False, body_timeout=0.2)

    async def trickle() -> AsyncIterator[bytes]:
        yield b'{"replica_id": "r783537ef5", '
        await asyncio.sleep(1.0)
        yield b'"status": "ready"}'

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://receiver"
    ) as client:
        started = time.perf_counter()
        response = await client.post(URL, content=trickle())
        assert response.status_code == 408 and time.perf_counter() - started < 1.0
    assert len(resumer.store) == 0
