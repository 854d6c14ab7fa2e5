"""Which tests must share an xdist worker, and the scheduler that keeps them together.

``make test`` runs the suite side by side (``pytest -n 4 --dist loadgroup``). Tests that
share a fixture wider than a function (a module-scoped Prefect server or receiver process,
the e2e stack, the built wheel) must run on one worker, in order, so that the fixture is set
up once, as in a serial run. :func:`group_of` says which group a test is in: its module (or
class), plus the parameters of those shared fixtures, so that the e2e modules, whose stack
is parametrized by database, make one group per database and run side by side.

xdist's own ``loadgroup`` reads ``xdist_group`` marks by appending ``@group`` to each test's
node id, which pytest 9.2 no longer lets a plugin change (xdist 3.8 then silently spreads a
group over every worker). So the workers write the groups they computed to a directory
the controller made (``GROUPS_DIR_ENV``), and :class:`GroupScheduling`, the controller's
``loadgroup`` scheduler, reads them: the node ids stay as they are. It honours ``@group``
ids too (xdist still appends them on older pytest when a test has an ``xdist_group`` mark).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

GROUPS_DIR_ENV = "PREFECT_TAVUS_XDIST_GROUPS"

#: Scopes whose fixtures are shared by several tests: such tests stay on one worker.
_SHARED_SCOPES = ("class", "module", "package")

#: Groups are handed out in the order of the items (``--no-loadscope-reorder``): the longest
#: first, so that no long group starts last. Measured on 2 cores: the e2e stack on
#: PostgreSQL with its 4-minute server outage, then the other e2e stacks, the wheel's venvs,
#: the callback receivers; everything else (seconds each) after them. First match wins.
START_FIRST = (
    "tests/e2e/test_durable_waits.py::*[postgres]",
    "tests/e2e/test_suspended_waits.py::*[postgres]",
    "tests/e2e/test_suspended_waits.py::*[sqlite]",
    "tests/e2e/test_durable_waits.py::*[sqlite]",
    "tests/e2e/test_video_waits.py::*[postgres]",
    "tests/e2e/test_video_waits.py::*[sqlite]",
    "tests/e2e/",
    "tests/packaging/",
    "tests/callbacks/",
)


def _rank(nodeid: str) -> int:
    for rank, pattern in enumerate(START_FIRST):
        prefix, star, suffix = pattern.partition("*")
        if nodeid.startswith(prefix) and (not star or nodeid.endswith(suffix)):
            return rank
    return len(START_FIRST)


def group_of(item: pytest.Item) -> str | None:
    """The group of a test that shares a fixture wider than a function, None if it shares
    none: an ``xdist_group`` mark's name, else its module (or class, if only class-scoped
    fixtures are shared) and the parameters of the shared fixtures (``[postgres]``)."""
    mark = item.get_closest_marker("xdist_group")
    if mark is not None:
        return str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    callspec = getattr(item, "callspec", None)
    scopes, params = set(), []
    for name in info.names_closure:
        defs = info.name2fixturedefs.get(name)
        if not defs or defs[-1].scope not in _SHARED_SCOPES:
            continue
        scopes.add(defs[-1].scope)
        if callspec is not None and name in callspec.params:
            params.append(str(callspec.params[name]))
    if not scopes:
        return None
    group = item.nodeid.split("::", 1)[0]
    if scopes == {"class"} and getattr(item, "cls", None) is not None:
        group = f"{group}::{item.cls.__name__}"  # type: ignore[union-attr]
    return f"{group}[{','.join(params)}]" if params else group


def order_and_publish(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a worker: the longest groups first (a stable sort keeps pytest's order within a
    module, grouped by fixture parameter), and this worker's groups written for the
    controller."""
    items.sort(key=lambda item: _rank(item.nodeid))
    directory = os.environ.get(GROUPS_DIR_ENV)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not directory or not worker:
        return
    groups = {item.nodeid: group for item in items if (group := group_of(item)) is not None}
    tmp = Path(directory) / f".{worker}.json"
    tmp.write_text(json.dumps(groups))
    tmp.replace(Path(directory) / f"{worker}.json")


def uses_group_scheduling(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput") and config.getoption("dist", "no") == "loadgroup"


def controller_configure(config: pytest.Config) -> None:
    """On the controller of a ``--dist loadgroup`` run: where the workers write their groups
    (in the environment the workers inherit)."""
    if uses_group_scheduling(config):
        directory = tempfile.mkdtemp(prefix="prefect-tavus-xdist-groups-")
        os.environ[GROUPS_DIR_ENV] = directory
        config.add_cleanup(lambda: shutil.rmtree(directory, ignore_errors=True))


def make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):  # type: ignore[misc]
        """``loadscope``, with a test's scope being its group (a test of its own if none)."""

        _groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if "@" in nodeid:
                return nodeid.rsplit("@", 1)[-1]
            if self._groups is None:
                self._groups = {}
                for path in sorted(Path(os.environ[GROUPS_DIR_ENV]).glob("gw*.json")):
                    self._groups.update(json.loads(path.read_text()))
            return self._groups.get(nodeid, nodeid)

    return GroupScheduling(config, log)
