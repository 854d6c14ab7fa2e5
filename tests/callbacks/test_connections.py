"""Idle and slow connections cannot keep a real callback out.

A real receiver process: 1,100 connections that never send a request (past uvicorn's old
limit of 1,000, where a real callback got 503) and a few that send their headers a byte
at a time; a real callback is still answered 202 at once, and the server closes the idle
ones within its timeout. Then the same timeout in process for each of uvicorn's HTTP
implementations (h11 always; httptools when installed).
"""

from __future__ import annotations

import asyncio
import selectors
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from prefect_tavus.callbacks.connections import protocol_class, raise_open_files_limit
from tests.callbacks.conftest import ReceiverProcess, start_receiver
from tests.callbacks.test_app import closed_port_url

TIMEOUT = 3.0
IDLE = 1100


@pytest.fixture(scope="module")
def receiver() -> Iterator[ReceiverProcess]:
    # The callback's 202 does not need Prefect: the API is a closed port here.
    process = start_receiver(closed_port_url(), args=["--request-timeout-seconds", str(TIMEOUT)])
    yield process
    assert process.stop() == 0
    assert process.token not in process.stderr()


def open_idle(url: str, count: int) -> list[socket.socket]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    sockets = []
    for _ in range(count):
        sock = socket.create_connection((host, int(port)), timeout=5)
        sock.setblocking(False)
        sockets.append(sock)
    return sockets


def closed_by_server(sockets: list[socket.socket], within: float) -> tuple[int, float]:
    """How many of ``sockets`` the server closed within ``within`` seconds, and when the last was."""
    selector = selectors.DefaultSelector()
    for sock in sockets:
        selector.register(sock, selectors.EVENT_READ)
    started, closed, last = time.monotonic(), 0, 0.0
    while closed < len(sockets) and time.monotonic() - started < within:
        for key, _ in selector.select(timeout=0.2):
            sock = key.fileobj
            try:
                data = sock.recv(1024)  # type: ignore[union-attr]
            except (ConnectionResetError, BlockingIOError):
                data = b""
            if not data:
                selector.unregister(sock)
                closed += 1
                last = time.monotonic() - started
    selector.close()
    return closed, last


def test_idle_connections_never_keep_a_callback_out_and_are_closed(receiver, record_property):
    raise_open_files_limit()  # this process holds the client ends
    opened = time.monotonic()
    idle = open_idle(receiver.url, IDLE)
    slow = open_idle(receiver.url, 5)
    for sock in slow:
        sock.send(b"POST /tavus/callbacks/")  # a request line that never ends
    try:
        started = time.perf_counter()
        response = httpx.post(
            receiver.callback_url, json={"face_id": "ridle0001", "status": "ready"}, timeout=10
        )
        answered = time.perf_counter() - started
        assert response.status_code == 202, response.text
        assert answered < 2.0, answered
        for sock in slow:
            sock.send(b"x")  # still trickling: data does not reset the deadline
        closed, last = closed_by_server(idle + slow, within=TIMEOUT + 5)
        since_open = time.monotonic() - opened
        assert closed == IDLE + 5, f"only {closed} of {IDLE + 5} closed"
        assert since_open < TIMEOUT + 5
    finally:
        for sock in idle + slow:
            sock.close()
    assert (
        httpx.post(
            receiver.callback_url, json={"replica_id": "ridle0002", "status": "ready"}, timeout=5
        ).status_code
        == 202
    )
    record_property(
        "idle",
        f"202 in {answered:.3f} s with {IDLE} idle connections open; all closed {last:.1f} s later",
    )
    print(
        f"\nidle: 202 in {answered * 1000:.0f} ms with {IDLE} idle connections; server closed them all by {last:.1f} s"
    )


def test_a_kept_alive_connection_can_send_several_requests(receiver):
    with httpx.Client(timeout=5) as client:
        for index in range(3):
            response = client.post(
                receiver.callback_url, json={"replica_id": f"rkeep{index}", "status": "ready"}
            )
            assert response.status_code == 202
            time.sleep(0.5)


def _implementations() -> list[object]:
    from uvicorn.protocols.http.h11_impl import H11Protocol

    kinds: list[object] = [pytest.param(H11Protocol, id="h11")]
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        kinds.append(
            pytest.param(
                None, id="httptools", marks=pytest.mark.skip(reason="httptools is not installed")
            )
        )
    else:
        kinds.append(pytest.param(HttpToolsProtocol, id="httptools"))
    return kinds


@pytest.mark.parametrize("base", _implementations())
async def test_request_start_timeout_for_each_http_implementation(base):
    import uvicorn

    async def app(scope, receive, send):  # a minimal ASGI app: 200 to any request
        if scope["type"] != "http":
            return
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
        )
        await send({"type": "http.response.body", "body": b"ok"})

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        http=protocol_class(0.5, base),
        lifespan="off",
        log_level="warning",
        timeout_keep_alive=30,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.02)

        async def closed_after(first: bytes, then: bytes = b"") -> float:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            started = time.monotonic()
            writer.write(first)
            if then:
                await asyncio.sleep(0.3)
                writer.write(then)
            try:
                while await asyncio.wait_for(reader.read(1024), 5):
                    pass
            finally:
                writer.close()
            return time.monotonic() - started

        assert 0.4 < await closed_after(b"") < 1.5  # never a byte
        assert (
            0.4 < await closed_after(b"GET / HTTP/1.1\r\nHo", b"st: x\r\n") < 1.5
        )  # headers too slow
        # After a response the clock starts again (timeout_keep_alive is 30 s here).
        assert 0.4 < await closed_after(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") < 1.5
        # A complete request in time is served.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.sleep(0.3)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"HTTP/1.1 200")
        writer.close()
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 10)
