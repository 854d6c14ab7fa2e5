"""Running the receiver as a real process, against a real (temporary) Prefect server."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"Tavus callback receiver listening on (http://\S+) ")


@dataclass
class ReceiverProcess:
    """A running ``prefect-tavus callbacks`` process."""

    process: subprocess.Popen[str]
    url: str
    token: str
    stderr_path: Path

    @property
    def callback_url(self) -> str:
        return f"{self.url}/tavus/callbacks/{self.token}"

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


def receiver_env(api_url: str | None, token: str | None, **extra: str) -> dict[str, str]:
    """A clean environment for a receiver: no Tavus key, private Prefect home, no telemetry."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PREFECT_", "TAVUS_"))
    }
    env.update(
        PREFECT_HOME=tempfile.mkdtemp(prefix="recv-home-"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PYTHONUNBUFFERED="1",
    )
    if api_url is not None:
        env["PREFECT_API_URL"] = api_url
    if token is not None:
        env["TAVUS_CALLBACK_TOKEN"] = token
    env.update(extra)
    return env


def start_receiver(
    api_url: str | None,
    token: str | None = None,
    args: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> ReceiverProcess:
    """Start ``python -m prefect_tavus.cli callbacks --port 0 ...`` and wait until /healthz answers."""
    token = token if token is not None else secrets.token_urlsafe(24)
    stderr_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed by the fixture that stops it
        "w", prefix="receiver-", suffix=".log", delete=False
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "prefect_tavus.cli", "callbacks", "--port", "0", *args],
        cwd=PROJECT_ROOT,
        env=env if env is not None else receiver_env(api_url, token),
        stdout=subprocess.PIPE,
        stderr=stderr_file,
        text=True,
    )
    stderr_file.close()
    assert process.stdout is not None
    line = process.stdout.readline()
    match = LISTENING.search(line)
    if not match:
        process.kill()
        raise AssertionError(
            f"receiver did not start: {line!r}\n{Path(stderr_file.name).read_text()}"
        )
    receiver = ReceiverProcess(process, match.group(1), token, Path(stderr_file.name))
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{receiver.url}/healthz", timeout=1).status_code == 200:
                return receiver
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            receiver.stop()
            raise AssertionError(f"receiver not healthy:\n{receiver.stderr()}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def prefect_api_url() -> Iterator[str]:
    """A temporary Prefect server (a real HTTP server in a subprocess) for this module."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        url = PREFECT_API_URL.value()
        assert url
        yield url
