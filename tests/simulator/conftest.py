"""Fixtures for the simulator tests: a running simulator, a keep-alive client, a callback
receiver, and a guard that every test leaves no server or thread behind."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from prefect_tavus.simulator import TavusSimulator

KEY = "sim-key"
OTHER_KEY = "other-key"


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves threads (server, handler, callback) running after teardown."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2.0
    leaked: set[threading.Thread] = set()
    while time.monotonic() < deadline:
        leaked = {t for t in threading.enumerate() if t not in before and t.is_alive()}
        if not leaked:
            return
        time.sleep(0.02)
    pytest.fail(f"threads left running: {sorted(t.name for t in leaked)}")


@pytest.fixture
def sim() -> Iterator[TavusSimulator]:
    """A started simulator with two keys and 0.5 s default training."""
    simulator = TavusSimulator(api_keys=(KEY, OTHER_KEY), default_training_seconds=0.5).start()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def client(sim: TavusSimulator) -> Iterator[httpx.Client]:
    """A keep-alive httpx client authenticated with ``KEY``."""
    with httpx.Client(base_url=sim.url, headers={"x-api-key": KEY}, timeout=5.0) as http:
        yield http


class CallbackReceiver:
    """A tiny loopback HTTP server that records the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.received = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.received:
                    receiver.bodies.append(json.loads(body))
                    receiver.received.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tavus-callback"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}
        )
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until ``count`` bodies arrived; return them (possibly fewer on timeout)."""
        with self.received:
            self.received.wait_for(lambda: len(self.bodies) >= count, timeout)
            return list(self.bodies)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(2.0)


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    """A running :class:`CallbackReceiver`."""
    callback_receiver = CallbackReceiver()
    try:
        yield callback_receiver
    finally:
        callback_receiver.close()
