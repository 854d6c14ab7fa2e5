"""Shared test setup: hermetic Prefect settings, the local Tavus simulator, and what lets
the suite run side by side under pytest-xdist (``make test`` runs it with ``-n``).

Environment is set before Prefect is imported anywhere: no telemetry (there is no
network), and a short event-persister flush so event assertions don't wait 5 s. Under
xdist each worker gets a Prefect home of its own (``<PREFECT_HOME>/xdist-gw0``, ...), so
no two workers write the same profile, result or log file.

Parallel runs use ``--dist loadgroup``: tests that share a module- or class-scoped fixture
(a Prefect server, a receiver process, the e2e stack, the built wheel) are put in one
``xdist_group`` here, so each such fixture is set up once, on one worker, exactly as in a
serial run; the e2e modules, whose stack is parametrized by database, get one group per
database. Tests using only function- or session-scoped fixtures go wherever a worker is free.
"""

from __future__ import annotations

import os

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

SIM_KEY = "sim-test-key-7f3a9c"

#: Scopes whose fixtures are shared by several tests: such tests stay on one xdist worker.
_SHARED_SCOPES = ("class", "module", "package")
#: Under xdist, groups start longest first: the e2e stacks (minutes of waiting each), the
#: built wheel, then the rest. A rank per path prefix; anything else ranks last.
_START_FIRST = ("tests/e2e/", "tests/packaging/", "tests/callbacks/")


def _xdist_group(item: pytest.Item) -> str | None:
    """The group of a test that shares a fixture wider than a function (None if it does not):
    its module (or class), plus the parameters of those shared fixtures (the e2e database)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    scopes, params = set(), []
    callspec = getattr(item, "callspec", None)
    for name in info.names_closure:
        defs = info.name2fixturedefs.get(name)
        if not defs or defs[-1].scope not in _SHARED_SCOPES:
            continue
        scopes.add(defs[-1].scope)
        if callspec is not None and name in callspec.params:
            params.append(f"{callspec.params[name]}")
    if not scopes:
        return None
    module = item.nodeid.split("::", 1)[0].removeprefix("tests/").removesuffix(".py")
    group = module
    if scopes == {"class"} and item.cls is not None:
        group = f"{module}::{item.cls.__name__}"
    return f"{group}[{','.join(params)}]" if params else group


@pytest.hookimpl(tryfirst=True)  # before -m deselects: the `postgres` marker is added here
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("database") == "postgres":
            item.add_marker(pytest.mark.postgres)
    if config.getoption("dist", "no") == "no" and not _XDIST_WORKER:
        return
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            group = _xdist_group(item)
            if group is not None:
                item.add_marker(pytest.mark.xdist_group(group))

    def rank(item: pytest.Item) -> int:
        return next(
            (i for i, prefix in enumerate(_START_FIRST) if item.nodeid.startswith(prefix)),
            len(_START_FIRST),
        )

    # A stable sort: the order within each module (pytest's, grouped by fixture parameter)
    # is kept. With --no-loadscope-reorder, xdist hands groups out in this order.
    items.sort(key=rank)


@pytest.fixture
def simulator():
    """A fresh simulator on a free loopback port, accepting ``SIM_KEY``."""
    with TavusSimulator(api_keys=(SIM_KEY,)) as sim:
        yield sim
