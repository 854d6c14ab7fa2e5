"""Shared test setup: hermetic Prefect settings, the local Tavus simulator, and what lets
the suite run side by side under pytest-xdist (``make test`` runs it with ``-n``).

Environment is set before Prefect is imported anywhere: no telemetry (there is no
network), and a short event-persister flush so event assertions don't wait 5 s. Under
xdist each worker gets a Prefect home of its own (``<PREFECT_HOME>/xdist-gw0``, ...), so
no two workers write the same profile, result or log file.

Parallel runs use ``--dist loadgroup`` with the scheduler of ``tests/_xdist.py``: tests that
share a module- or class-scoped fixture (a Prefect server, a receiver process, the e2e stack,
the built wheel) run on one worker, so each such fixture is set up once, as in a serial run;
the e2e modules, whose stack is parametrized by database, make one group per database. Tests
using only function- or session-scoped fixtures go wherever a worker is free.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL", "0.5")
os.environ.pop("TAVUS_API_KEY", None)

_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _XDIST_WORKER:
    _home = os.path.join(
        os.environ.get("PREFECT_HOME") or os.path.expanduser("~/.prefect"),
        f"xdist-{_XDIST_WORKER}",
    )
    os.makedirs(_home, exist_ok=True)
    os.environ["PREFECT_HOME"] = _home

# After the environment above, which Prefect must see when something first imports it.
import pytest  # noqa: E402

from prefect_tavus.simulator import TavusSimulator  # noqa: E402
from tests import _xdist  # noqa: E402

SIM_KEY = "sim-test-key-7f3a9c"


def pytest_configure(config: pytest.Config) -> None:
    _xdist.controller_configure(config)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    return _xdist.make_scheduler(config, log) if _xdist.uses_group_scheduling(config) else None


@pytest.hookimpl(tryfirst=True)  # before -m deselects: the `postgres` marker is added here
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("database") == "postgres":
            item.add_marker(pytest.mark.postgres)


# After pytest's own ordering (by fixture parameter) and -m/-k; before xdist's worker sends
# the collected ids to the controller.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    if _XDIST_WORKER:
        _xdist.order_and_publish(session.config, session.items)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """On the xdist controller: the fault-table rows of a worker that finished (tests/integration
    collects them; its conftest is not loaded here, where nothing is collected)."""
    rows = getattr(node, "workeroutput", {}).get("fault_table", [])
    if rows:
        from tests.integration.conftest import FAULT_TABLE

        FAULT_TABLE.extend(tuple(row) for row in rows)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fault table on an xdist controller that did not load tests/integration/conftest.py
    as a conftest (it does when the command line names a path under tests/integration)."""
    module = sys.modules.get("tests.integration.conftest")
    if module is not None and not terminalreporter.config.pluginmanager.is_registered(module):
        module.pytest_terminal_summary(terminalreporter)


@pytest.fixture
def simulator():
    """A fresh simulator on a free loopback port, accepting ``SIM_KEY``."""
    with TavusSimulator(api_keys=(SIM_KEY,)) as sim:
        yield sim
