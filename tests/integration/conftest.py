"""Integration tests run flows on a real (temporary) Prefect server."""

from __future__ import annotations

import pytest
from prefect.testing.utilities import prefect_test_harness

from blocks import TavusCredentials
from tests.conftest import SIM_KEY


@pytest.fixture(scope="session", autouse=True)
def prefect_server():
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def credentials(simulator):
    return TavusCredentials(api_key=SIM_KEY, base_url=simulator.url, request_timeout_seconds=2)


FAST = {"poll_interval_seconds": 0.2, "max_poll_interval_seconds": 0.5, "heartbeat_seconds": 3600}
