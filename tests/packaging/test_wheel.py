"""The built wheel, installed the way a user installs it into their own Prefect project.

The wheel is built from a copy of the working tree with pip's default, isolated build (as
``pip install`` from a checkout or an sdist does). It is then installed into venvs made
here, never into the repository's ``.venv``:

- a venv that already holds Prefect and its dependencies at the versions of a lock file
  (``requirements.lock``, the newest Prefect in the declared range, unless
  ``WHEEL_TEST_BASE_LOCK`` names another: CI's lowest-version pass gives it
  ``.ci/requirements-lowest.lock``). The wheel goes in WITH dependency resolution, so a pin
  or a too-tight range would show up as a changed version: nothing but ``prefect-tavus``
  may change, and the only new name in site-packages is ``prefect_tavus``. Then a user
  project with its own ``flows``, ``tasks`` and ``blocks`` packages registers the block
  with the Prefect CLI and runs a flow that waits on a simulated replica, on Prefect's
  ephemeral server; Prefect finds the block through the ``prefect.collections`` entry
  point; the project's own pytest run gets the ``pytest11`` fixtures; and pip refuses,
  with its resolver error, a project that holds Prefect below the declared lowest.
- a venv without Prefect (httpx and pydantic only, the wheel with ``--no-deps``):
  ``prefect_tavus.core`` and the simulator work, and the Prefect layer's ImportError names
  the Prefect requirement (also when the installed Prefect is too old).

Needs the package index, as building ``.venv`` does. About 2.5 minutes on 2 cores, half of it pip
installing Prefect into the fresh venv.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.timeout(1200)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BASE_LOCK = Path(os.environ.get("WHEEL_TEST_BASE_LOCK") or PROJECT_ROOT / "requirements.lock")
if not BASE_LOCK.is_absolute():
    BASE_LOCK = PROJECT_ROOT / BASE_LOCK

#: Where each source tree lands in the wheel (pyproject.toml's package-dir).
PACKAGE_DIRS = {
    "src/prefect_tavus": "prefect_tavus",
    "flows": "prefect_tavus/flows",
    "tasks": "prefect_tavus/tasks",
    "blocks": "prefect_tavus/blocks",
}

#: Not part of the source a build needs (and stale build/ output must not leak in).
_COPY_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv*",
    "build",
    "dist",
    ".prefect",
    "__pycache__",
    "*.pyc",
    "*.egg-info",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
)

PIP_TIMEOUT = 900.0
RUN_TIMEOUT = 300.0


# --- helpers ---------------------------------------------------------------------------


def _tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _run(
    args: list[Any],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = RUN_TIMEOUT,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    cmd = [str(a) for a in args]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail(
            f"`{' '.join(cmd)}` exited {proc.returncode}\n--- stdout ---\n{_tail(proc.stdout)}"
            f"\n--- stderr ---\n{_tail(proc.stderr)}",
            pytrace=False,
        )
    return proc


def _lock_pins(lock: Path) -> dict[str, str]:
    pins = {}
    for line in lock.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[canonicalize_name(name)] = version.strip()
    return pins


@dataclass
class Venv:
    root: Path
    home: Path  # a scratch dir: PREFECT_HOME and the like

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a user who activated this venv: nothing of the repo's
        Prefect settings, PYTHONPATH or venv, a throw-away PREFECT_HOME, no telemetry."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PREFECT_", "TAVUS_", "PYTEST_"))
            and k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP"}
        }
        env.update(
            VIRTUAL_ENV=str(self.root),
            PATH=f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            PREFECT_HOME=str(self.home / "prefect-home"),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            DO_NOT_TRACK="1",
            # The ephemeral server shares 2 cores with whatever else runs: give it time.
            PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
            COLUMNS="200",
        )
        env.update(extra)
        return env

    def pip(self, *args: Any, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _run(
            [self.python, "-m", "pip", "--disable-pip-version-check", *args],
            cwd=self.home,
            env=self.env(),
            timeout=PIP_TIMEOUT,
            check=check,
        )

    def snapshot(self) -> dict[str, Any]:
        """Installed distributions (name -> version) and the entries of site-packages."""
        script = (
            "import json, os, sysconfig\n"
            "from importlib.metadata import distributions\n"
            "purelib = sysconfig.get_paths()['purelib']\n"
            "print(json.dumps({'dists': {d.metadata['Name']: d.version for d in distributions()},\n"
            "                  'entries': sorted(os.listdir(purelib)), 'purelib': purelib}))\n"
        )
        out = _run([self.python, "-I", "-c", script], cwd=self.home, env=self.env()).stdout
        data = json.loads(out)
        data["dists"] = {canonicalize_name(k): v for k, v in data["dists"].items()}
        return data


def _make_venv(root: Path) -> Venv:
    home = root.with_name(root.name + "-home")
    home.mkdir(parents=True)
    _run([sys.executable, "-m", "venv", root], timeout=PIP_TIMEOUT)
    return Venv(root, home)


def _older_than(version: str) -> str:
    """The release just below ``version``: 3.8.8 -> 3.8.7 (3.9.0 -> 3.8.99: still older)."""
    major, minor, patch = (int(p) for p in [*version.split("."), "0", "0"][:3])
    if patch:
        return f"{major}.{minor}.{patch - 1}"
    return f"{major}.{minor - 1}.99" if minor else f"{major - 1}.99.99"


def _result_line(stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise AssertionError(f"no RESULT line in the script's output:\n{_tail(stdout)}")


# --- the wheel -------------------------------------------------------------------------


@dataclass(repr=False)
class Wheel:
    path: Path
    source: Path  # the copy of the tree it was built from
    names: list[str]
    metadata: str
    entry_points: str

    def __repr__(self) -> str:
        return f"Wheel({self.path.name})"

    @property
    def prefect_requirement(self) -> Requirement:
        for line in self.metadata.splitlines():
            if line.startswith("Requires-Dist:"):
                req = Requirement(line.split(":", 1)[1].strip())
                if req.name == "prefect" and req.marker is None:
                    return req
        raise AssertionError("the wheel's METADATA has no Requires-Dist on prefect")

    @property
    def prefect_range(self) -> str:
        """``prefect>=3.8.8,<4``, from the wheel's own metadata, in the order users write it."""
        specs = {spec.operator: spec.version for spec in self.prefect_requirement.specifier}
        return f"prefect>={specs['>=']},<{specs['<']}"

    @property
    def lowest_prefect(self) -> str:
        return next(s.version for s in self.prefect_requirement.specifier if s.operator == ">=")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Wheel:
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    shutil.copytree(PROJECT_ROOT, source, ignore=_COPY_IGNORE, symlinks=True)
    out = tmp / "dist"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--disable-pip-version-check",
            "wheel",
            "--no-deps",
            "-w",
            out,
            source,
        ],
        cwd=tmp,
        timeout=PIP_TIMEOUT,
    )
    built = sorted(out.glob("*.whl"))
    assert [w.name for w in built] and len(built) == 1, f"expected one wheel, got {built}"
    with zipfile.ZipFile(built[0]) as zf:
        names = zf.namelist()
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = zf.read(f"{dist_info}/METADATA").decode()
        entry_points = zf.read(f"{dist_info}/entry_points.txt").decode()
    return Wheel(built[0], source, names, metadata, entry_points)


def test_wheel_holds_only_the_prefect_tavus_package(wheel: Wheel) -> None:
    assert re.fullmatch(r"prefect_tavus-[^-]+-py3-none-any\.whl", wheel.path.name), wheel.path.name
    version = wheel.path.name.split("-")[1]
    top = {name.split("/")[0] for name in wheel.names}
    assert top == {"prefect_tavus", f"prefect_tavus-{version}.dist-info"}

    with zipfile.ZipFile(wheel.path) as zf:
        top_level = zf.read(f"prefect_tavus-{version}.dist-info/top_level.txt").decode().split()
    assert top_level == ["prefect_tavus"]

    # Every module of every source tree is in the wheel, where package-dir maps it (a new
    # sub-package missing from pyproject's explicit `packages` list would be silently
    # left out), and nothing else is: no tests, benchmarks or stale build output.
    expected = {"prefect_tavus/py.typed"}
    for tree, target in PACKAGE_DIRS.items():
        for path in (wheel.source / tree).rglob("*.py"):
            expected.add(f"{target}/{path.relative_to(wheel.source / tree).as_posix()}")
    shipped = {n for n in wheel.names if not n.split("/")[0].endswith(".dist-info")}
    assert shipped - expected == set(), "in the wheel but not in the source trees"
    assert expected - shipped == set(), "in the source trees but not in the wheel"


def test_wheel_metadata_declares_the_range_and_entry_points(wheel: Wheel) -> None:
    req = wheel.prefect_requirement
    lowest = wheel.lowest_prefect
    assert req.specifier.contains(lowest) and not req.specifier.contains("4.0.0"), str(req)
    lock_prefect = _lock_pins(PROJECT_ROOT / "requirements.lock")["prefect"]
    lowest_lock_prefect = _lock_pins(PROJECT_ROOT / ".ci" / "requirements-lowest.lock")["prefect"]
    assert req.specifier.contains(lock_prefect), (
        f"requirements.lock's Prefect {lock_prefect} is outside {req}"
    )
    assert lowest_lock_prefect == lowest, (
        f"CI's lowest pass runs Prefect {lowest_lock_prefect}, but the wheel declares {req}"
    )
    for line in (
        "[prefect.collections]\nprefect_tavus = prefect_tavus",
        "[pytest11]\nprefect_tavus = prefect_tavus.testing",
    ):
        assert line in wheel.entry_points, wheel.entry_points


# --- a user's venv that already holds Prefect -------------------------------------------


@dataclass
class UserVenv(Venv):
    before: dict[str, Any]
    after: dict[str, Any]


@pytest.fixture(scope="module")
def user_venv(wheel: Wheel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UserVenv]:
    """Prefect (and pytest, as most projects have it) at the lock's versions, then the wheel."""
    venv = _make_venv(tmp_path_factory.mktemp("user") / "venv")
    pins = _lock_pins(BASE_LOCK)
    venv.pip("install", "-c", BASE_LOCK, f"prefect=={pins['prefect']}", f"pytest=={pins['pytest']}")
    before = venv.snapshot()
    venv.pip("install", wheel.path)  # with dependency resolution, as `pip install prefect-tavus`
    after = venv.snapshot()
    yield UserVenv(venv.root, venv.home, before, after)
    shutil.rmtree(venv.root, ignore_errors=True)  # ~300 MB; pytest keeps 3 basetemps


def test_install_changes_nothing_but_adds_prefect_tavus(wheel: Wheel, user_venv: UserVenv) -> None:
    before, after = user_venv.before, user_venv.after
    pins = _lock_pins(BASE_LOCK)
    print(
        f"\nbase lock {BASE_LOCK.name}: prefect {before['dists']['prefect']}, "
        f"fastapi {before['dists']['fastapi']}"
    )
    assert before["dists"]["prefect"] == pins["prefect"]
    assert before["dists"]["fastapi"] == pins["fastapi"]

    version = wheel.path.name.split("-")[1]
    assert after["dists"] == {**before["dists"], "prefect-tavus": version}, (
        "installing the wheel changed other distributions: "
        f"{ {k: (before['dists'].get(k), v) for k, v in after['dists'].items() if before['dists'].get(k) != v} }"
    )
    assert set(before["entries"]) - set(after["entries"]) == set()
    assert set(after["entries"]) - set(before["entries"]) == {
        "prefect_tavus",
        f"prefect_tavus-{version}.dist-info",
    }
    assert "prefect-tavus" in os.listdir(user_venv.bin)  # the console script
    user_venv.pip("check")


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())


#: A user's project, with packages named like prefect-tavus's source folders.
USER_PROJECT = {
    "flows/__init__.py": '''
        """This project's own flows package (prefect-tavus's is prefect_tavus.flows)."""
        from flows.onboarding import onboard_presenter

        OWNER = "my-project"
    ''',
    "flows/onboarding.py": """
        from prefect import flow
        from prefect_tavus import wait_for_replica

        from blocks import CREDENTIALS_BLOCK, poll_settings
        from tasks import announce


        @flow(name="onboard-presenter")
        def onboard_presenter(replica_id: str) -> dict:
            replica = wait_for_replica(replica_id, CREDENTIALS_BLOCK, **poll_settings())
            return announce(replica.replica_id, replica.status)
    """,
    "tasks/__init__.py": '''
        """This project's own tasks package."""
        from prefect import task

        OWNER = "my-project"


        @task
        def announce(replica_id: str, status: str) -> dict:
            return {"replica_id": replica_id, "status": status, "by": "my-project tasks"}
    ''',
    "blocks/__init__.py": '''
        """This project's own blocks package."""
        OWNER = "my-project"
        CREDENTIALS_BLOCK = "tavus"


        def poll_settings() -> dict:
            """Fast polls, for a replica that trains in 2 s."""
            return {"wait_settings": {"poll_interval_seconds": 0.2, "max_poll_interval_seconds": 0.5}}
    ''',
    "run_pipeline.py": """
        import asyncio
        import json
        import sysconfig
        from pathlib import Path

        import blocks  # the project's own packages, first on sys.path (the script's dir)
        import flows
        import tasks

        import prefect
        import prefect_tavus
        import prefect_tavus.blocks
        import prefect_tavus.flows
        import prefect_tavus.tasks
        from prefect.client.orchestration import get_client
        from prefect_tavus import TavusCredentials, wait_for_replica
        from prefect_tavus.simulator import TavusSimulator

        KEY = "sim-user-project-key"


        async def server():
            async with get_client() as client:
                await client.hello()
                block_type = await client.read_block_type_by_slug("tavus-credentials")
                return str(client.api_url), block_type.name


        async def flow_runs():
            async with get_client() as client:
                names = {f.id: f.name for f in await client.read_flows()}
                return sorted([names[r.flow_id], r.state.type.value] for r in await client.read_flow_runs())


        api_url, block_type = asyncio.run(server())
        with TavusSimulator(api_keys=(KEY,)) as sim:
            direct_id = sim.add_replica(replica_name="Direct", training_seconds=2)
            credentials = TavusCredentials(api_key=KEY, base_url=sim.url, min_poll_spacing_seconds=0.01)
            direct = wait_for_replica(direct_id, credentials, **blocks.poll_settings())

            via_id = sim.add_replica(replica_name="Via the project's flow", training_seconds=2)
            credentials.save(blocks.CREDENTIALS_BLOCK, overwrite=True)
            announced = flows.onboard_presenter(via_id)

        here = Path(__file__).resolve().parent
        site_packages = Path(sysconfig.get_paths()["purelib"]).resolve()
        print("RESULT " + json.dumps({
            "prefect": prefect.__version__,
            "api_url": api_url,
            "block_type": block_type,
            "direct": [direct.replica_id, direct_id, str(direct.status)],
            "announced": announced,
            "via_id": via_id,
            "flow_runs": asyncio.run(flow_runs()),
            "own": {m.__name__: [m.OWNER, Path(m.__file__).resolve().is_relative_to(here)]
                    for m in (flows, tasks, blocks)},
            "ours": {m.__name__: Path(m.__file__).resolve().is_relative_to(site_packages)
                     for m in (prefect_tavus, prefect_tavus.flows, prefect_tavus.tasks, prefect_tavus.blocks)},
        }))
    """,
    "tests/test_with_plugin.py": """
        def test_prefect_tavus_fixtures_come_from_the_installed_plugin(pytestconfig, tavus_simulator):
            assert pytestconfig.pluginmanager.has_plugin("prefect_tavus")
            assert tavus_simulator.url.startswith("http://127.0.0.1:")


        def test_own_packages_are_not_shadowed():
            import blocks, flows, tasks
            assert flows.OWNER == tasks.OWNER == blocks.OWNER == "my-project"
    """,
}


@pytest.fixture(scope="module")
def user_project(user_venv: UserVenv) -> Path:
    project = user_venv.home / "my-project"
    _write(project, USER_PROJECT)
    return project


def test_user_project_registers_the_block_and_waits_on_a_replica(
    user_venv: UserVenv,
    user_project: Path,
) -> None:
    env = user_venv.env()
    assert "PREFECT_API_URL" not in env  # Prefect starts its ephemeral server

    registered = _run(
        [user_venv.bin / "prefect", "block", "register", "-m", "prefect_tavus"],
        cwd=user_project,
        env=env,
    )
    assert re.search(r"registered 1 block", registered.stdout, re.I), registered.stdout
    assert "Tavus Credentials" in registered.stdout, registered.stdout

    proc = _run([user_venv.python, "run_pipeline.py"], cwd=user_project, env=env)
    result = _result_line(proc.stdout)
    print(
        f"\nuser project on Prefect {result['prefect']}, API {result['api_url']}: {result['flow_runs']}"
    )

    assert result["prefect"] == user_venv.after["dists"]["prefect"]
    assert result["api_url"].startswith("http://127.0.0.1:")  # ephemeral, not a configured server
    assert result["block_type"] == "Tavus Credentials"
    replica_id, expected_id, status = result["direct"]
    assert [replica_id, status] == [expected_id, "completed"], result["direct"]
    assert result["announced"] == {
        "replica_id": result["via_id"],
        "status": "completed",
        "by": "my-project tasks",
    }
    assert result["own"] == {name: ["my-project", True] for name in ("flows", "tasks", "blocks")}
    assert result["ours"] == dict.fromkeys(  # from the installed wheel, in site-packages
        ["prefect_tavus", "prefect_tavus.flows", "prefect_tavus.tasks", "prefect_tavus.blocks"],
        True,
    )
    runs = result["flow_runs"]
    assert ["onboard-presenter", "COMPLETED"] in runs
    assert all(state == "COMPLETED" for _, state in runs), runs
    assert [name for name, _ in runs].count("wait-for-replica") == 2, runs


def test_prefect_loads_the_collection_and_every_entry_point_loads(user_venv: UserVenv) -> None:
    script = textwrap.dedent("""
        import json, sys
        from importlib.metadata import distribution, entry_points

        collections = {ep.name: ep.value for ep in entry_points(group="prefect.collections")}
        import prefect
        from prefect.blocks.core import Block

        imported_before = "prefect_tavus" in sys.modules
        cls = Block.get_block_class_from_key("tavus-credentials")  # loads prefect.collections
        loaded = {}
        for ep in distribution("prefect-tavus").entry_points:
            obj = ep.load()
            loaded[f"{ep.group}:{ep.name}"] = getattr(obj, "__name__", repr(obj))
        print("RESULT " + json.dumps({
            "collections": collections, "imported_before": imported_before,
            "block": f"{cls.__module__}.{cls.__qualname__}", "loaded": loaded,
        }))
    """)
    proc = _run([user_venv.python, "-c", script], cwd=user_venv.home, env=user_venv.env())
    result = _result_line(proc.stdout)
    assert result["collections"].get("prefect_tavus") == "prefect_tavus"
    assert result["imported_before"] is False  # so it was the entry point that brought it in
    assert result["block"] == "prefect_tavus.blocks.credentials.TavusCredentials"
    assert set(result["loaded"]) == {
        "prefect.collections:prefect_tavus",
        "pytest11:prefect_tavus",
        "console_scripts:prefect-tavus",
    }, result["loaded"]

    cli = _run([user_venv.bin / "prefect-tavus", "--help"], cwd=user_venv.home, env=user_venv.env())
    assert cli.stdout.strip(), "prefect-tavus --help printed nothing"


def test_pytest_in_the_user_project_gets_the_fixtures(
    user_venv: UserVenv, user_project: Path
) -> None:
    proc = _run(
        [user_venv.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=user_project,
        env=user_venv.env(),
        check=False,
    )
    assert proc.returncode == 0, f"{_tail(proc.stdout)}\n{_tail(proc.stderr)}"
    assert "2 passed" in proc.stdout, proc.stdout


@pytest.mark.parametrize("how", ["requirement", "constraint"])
def test_a_project_holding_an_older_prefect_gets_a_resolver_error(
    wheel: Wheel,
    user_venv: UserVenv,
    how: str,
) -> None:
    lowest = wheel.lowest_prefect  # 3.8.8 -> a project that holds prefect==3.8.7
    older = f"prefect<{lowest}" if lowest.endswith(".0") else f"prefect=={_older_than(lowest)}"
    if how == "requirement":  # pip install prefect-tavus "prefect==3.8.7"
        args = [wheel.path, older]
    else:  # a project whose constraints / lock hold Prefect back
        constraints = user_venv.home / "constraints.txt"
        constraints.write_text(older + "\n")
        args = ["-c", constraints, wheel.path]
    proc = user_venv.pip("install", "--dry-run", *args, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "ResolutionImpossible" in output, _tail(output)
    # "prefect-tavus 0.2.0 depends on prefect<4 and >=3.8.8" (the wording varies by pip version)
    assert re.search(rf"prefect-tavus \S+ depends on prefect\b.*{re.escape(lowest)}", output), (
        _tail(output)
    )
    assert user_venv.snapshot()["dists"] == user_venv.after["dists"]  # nothing was changed


# --- a venv without Prefect --------------------------------------------------------------


@pytest.fixture(scope="module")
def core_venv(wheel: Wheel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venv]:
    venv = _make_venv(tmp_path_factory.mktemp("core") / "venv")
    venv.pip("install", "-c", BASE_LOCK, "httpx", "pydantic")
    venv.pip("install", "--no-deps", wheel.path)
    yield venv
    shutil.rmtree(venv.root, ignore_errors=True)


CORE_SCRIPT = """
import asyncio, json, sys

import prefect_tavus
import prefect_tavus.core
from prefect_tavus.core import TavusClient
from prefect_tavus.simulator import TavusSimulator


async def fetch(url, replica_id):
    async with TavusClient("k", base_url=url) as client:
        return (await client.get_replica(replica_id)).replica_id


with TavusSimulator(api_keys=("k",)) as sim:
    rid = sim.add_replica(training_seconds=0.1)
    fetched = asyncio.run(fetch(sim.url, rid))

errors = {}
for statement in ("from prefect_tavus import get_replica", "import prefect_tavus.blocks",
                  "import prefect_tavus.flows", "prefect_tavus.TavusCredentials"):
    try:
        exec(statement)
        errors[statement] = None
    except ImportError as exc:
        errors[statement] = [type(exc).__name__, str(exc)]
print("RESULT " + json.dumps({"fetched": fetched == rid, "errors": errors,
                              "prefect_imported": "prefect" in sys.modules}))
"""


def _fake_prefect_dist(root: Path, version: str) -> Path:
    """A directory whose only content is the metadata of an installed ``prefect`` of that version."""
    dist = root / f"prefect-{version}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: prefect\nVersion: {version}\n")
    return root


@pytest.mark.parametrize("prefect_version", [None, "older"])
def test_without_a_suitable_prefect_the_core_works_and_the_error_names_the_requirement(
    wheel: Wheel,
    core_venv: Venv,
    prefect_version: str | None,
) -> None:
    env = core_venv.env()
    if prefect_version == "older":  # metadata only: the check runs before any Prefect import
        prefect_version = _older_than(wheel.lowest_prefect)
        env["PYTHONPATH"] = str(_fake_prefect_dist(core_venv.home / "old-prefect", prefect_version))
    proc = _run([core_venv.python, "-c", CORE_SCRIPT], cwd=core_venv.home, env=env)
    result = _result_line(proc.stdout)
    assert result["fetched"] is True
    assert result["prefect_imported"] is False
    for statement, error in result["errors"].items():
        assert error is not None, f"{statement!r} did not raise ImportError"
        name, message = error
        assert wheel.prefect_range in message, f"{statement!r}: {name}: {message}"
        if prefect_version:
            assert prefect_version in message, f"{statement!r}: {message}"
        else:
            assert "not installed" in message, f"{statement!r}: {message}"
