"""Integration tests run flows on a real (temporary) Prefect server."""

from __future__ import annotations

import pytest
from prefect.testing.utilities import prefect_test_harness

from prefect_tavus.blocks import TavusCredentials
from tests.conftest import SIM_KEY


@pytest.fixture(scope="session", autouse=True)
def prefect_server():
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def credentials(simulator):
    return TavusCredentials(
        api_key=SIM_KEY,
        base_url=simulator.url,
        request_timeout_seconds=2,
        min_poll_spacing_seconds=0.01,
    )


#: Wait settings for tests: poll every 0.2 s growing to 0.5 s, no heartbeat lines.
FAST_SETTINGS = {
    "poll_interval_seconds": 0.2,
    "max_poll_interval_seconds": 0.5,
    "heartbeat_seconds": 3600,
}


def fast(**overrides: float) -> dict[str, dict[str, float]]:
    """Keyword arguments for a quick wait: ``wait_for_replica(rid, creds, **fast(timeout_seconds=2))``."""
    return {"wait_settings": {**FAST_SETTINGS, **overrides}}


FAST = fast()


#: Rows collected by tests/integration/test_faults.py, printed at the end of the run.
FAULT_TABLE: list[tuple[str, int, float, str]] = []


def pytest_sessionfinish(session):
    """On an xdist worker: hand this worker's rows to the controller, which prints the table."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["fault_table"] = list(FAULT_TABLE)


def pytest_terminal_summary(terminalreporter):
    if not FAULT_TABLE:
        return
    terminalreporter.write_sep("-", "fault scenarios against the simulator")
    terminalreporter.write_line("| scenario | requests | waited (s) | outcome |")
    terminalreporter.write_line("|---|---:|---:|---|")
    for name, requests, waited, outcome in FAULT_TABLE:
        terminalreporter.write_line(f"| {name} | {requests} | {waited:.2f} | {outcome} |")
