"""Shared test setup: hermetic Prefect settings, and the local Tavus simulator.

Environment is set before Prefect is imported anywhere: no telemetry (there is no
network), and a short event-persister flush so event assertions don't wait 5 s.
"""

from __future__ import annotations

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL", "0.5")
os.environ.pop("TAVUS_API_KEY", None)

import pytest

from prefect_tavus.simulator import TavusSimulator

SIM_KEY = "sim-test-key-7f3a9c"


@pytest.fixture
def simulator():
    """A fresh simulator on a free loopback port, accepting ``SIM_KEY``."""
    with TavusSimulator(api_keys=(SIM_KEY,)) as sim:
        yield sim
