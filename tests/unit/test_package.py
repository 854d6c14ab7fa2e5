"""The one import package: what ``import prefect_tavus`` loads, and the Prefect version check."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import PackageNotFoundError, requires

import pytest

from prefect_tavus import _compat


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_importing_the_package_loads_prefect_only_when_a_prefect_name_is_used():
    done = _python(
        "import sys, prefect_tavus\n"
        "assert 'prefect' not in sys.modules, 'import prefect_tavus imported prefect'\n"
        "prefect_tavus.Replica, prefect_tavus.TavusClient, prefect_tavus.WaitSettings\n"
        "prefect_tavus.Video, prefect_tavus.VideoCreateRequest, prefect_tavus.ReplicaCreateRequest\n"
        "assert 'prefect' not in sys.modules, 'a core name imported prefect'\n"
        "from prefect_tavus import wait_for_replica, TavusCredentials\n"
        "assert 'prefect' in sys.modules\n"
        "print(type(wait_for_replica).__name__, TavusCredentials.get_block_type_slug())\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["Flow", "tavus-credentials"]


def test_the_contract_is_prefect_free_and_the_receiver_does_not_import_the_flows():
    """Flows, sweep and receiver agree through ``core.contract`` alone: it imports without
    Prefect, and the receiver (which may run another release, on another machine) loads
    neither ``prefect_tavus.flows`` nor the tasks."""
    done = _python(
        "import sys\n"
        "from prefect_tavus.core.contract import WaitRecord, validate_token, CALLBACK_PATH, event_name\n"
        "assert 'prefect' not in sys.modules, 'the contract imported prefect'\n"
        "import prefect_tavus.callbacks.server, prefect_tavus.callbacks.resumer, prefect_tavus.suspension\n"
        "from prefect_tavus.callbacks import create_app, Resumer\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('prefect_tavus.flows', 'prefect_tavus.tasks')))\n"
        "assert not bad, bad\n"
    )
    assert done.returncode == 0, done.stderr


def test_every_public_name_is_importable_from_the_top():
    import prefect_tavus

    missing = [name for name in prefect_tavus.__all__ if not hasattr(prefect_tavus, name)]
    assert missing == []
    for name in (
        "TavusCredentials",
        "get_replica",
        "aget_replica",
        "list_replicas",
        "create_replica",
        "rename_replica",
        "delete_replica",
        "wait_for_replica",
        "await_for_replica",
        "wait_for_replicas",
        "await_for_replicas",
        "create_replica_and_wait",
        "acreate_replica_and_wait",
        "Replica",
        "WaitSettings",
        "WaitResult",
        "ReplicaWaitResult",
        "resume_waits",
        "WaitTimeoutError",
        "JobFailedError",
        "NotFoundDuringWaitError",
        "WaitFailedError",
        "TavusError",
        "ReplicaTrainingFailedError",
        "ReplicaWaitTimeoutError",
        "TavusAuthenticationError",
        "create_video",
        "acreate_video",
        "get_video",
        "aget_video",
        "list_videos",
        "alist_videos",
        "rename_video",
        "arename_video",
        "delete_video",
        "adelete_video",
        "Video",
        "VideoPage",
        "VideoCreateRequest",
        "ReplicaCreateRequest",
        "InvalidVideoRequestError",
        "InvalidReplicaRequestError",
        "InvalidVideoIdError",
        "validate_video_id",
    ):
        assert name in prefect_tavus.__all__
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        prefect_tavus.nope  # noqa: B018


def test_prefect_loaded_first_registers_the_block_on_import():
    """Prefect loads the ``prefect.collections`` entry point after importing itself: the
    block must be registered by that import alone."""
    done = _python(
        "import prefect\n"
        "from prefect.plugins import load_prefect_collections\n"
        "assert 'prefect_tavus' in load_prefect_collections()\n"
        "from prefect.blocks.core import Block\n"
        "print(Block.get_block_class_from_key('tavus-credentials').__module__)\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "prefect_tavus.blocks.credentials"


def test_declared_range_is_the_one_the_check_enforces():
    declared = [
        r
        for r in requires("prefect-tavus") or []
        if r.split(";")[0].replace(" ", "").startswith("prefect")
        and r[len("prefect") : len("prefect") + 1] in "<>=!~ "
    ]
    assert len(declared) == 1, declared
    bounds = set(declared[0].replace(" ", "")[len("prefect") :].split(","))
    assert bounds == {
        ">=" + ".".join(map(str, _compat.PREFECT_LOWEST)),
        "<" + ".".join(map(str, _compat.PREFECT_BELOW)),
    }


@pytest.mark.parametrize(
    ("text", "release"),
    [
        ("3.9.1", (3, 9, 1)),
        ("3.10.0rc1", (3, 10, 0)),
        ("4.0.0.dev3", (4, 0, 0)),
        ("3.8.8+local", (3, 8, 8)),
    ],
)
def test_release_numbers_are_read_from_version_strings(text, release):
    assert _compat._release(text) == release


@pytest.mark.parametrize("installed", ["3.8.7", "2.20.0", "4.0.0"])
def test_a_prefect_outside_the_range_is_named_with_the_fix(monkeypatch, installed):
    monkeypatch.setattr(_compat, "version", lambda name: installed)
    with pytest.raises(_compat.PrefectVersionError) as info:
        _compat.require_prefect()
    assert isinstance(info.value, ImportError)
    assert f"Prefect {installed} is installed" in str(info.value)
    assert "pip install 'prefect>=3.8.8,<4'" in str(info.value)


def test_missing_prefect_is_named_with_the_fix(monkeypatch):
    def not_installed(name: str) -> str:
        raise PackageNotFoundError(name)

    monkeypatch.setattr(_compat, "version", not_installed)
    with pytest.raises(
        _compat.PrefectVersionError, match=r"not installed: pip install 'prefect>=3.8.8,<4'"
    ):
        _compat.require_prefect()


def test_the_installed_prefect_passes():
    assert _compat.require_prefect()


def test_the_version_is_said_once_and_the_license_is_the_one_declared():
    """pyproject.toml reads the version from ``_version.py``, so the installed metadata, the
    package and the client's User-Agent agree; LICENSE holds the license pyproject names."""
    from importlib.metadata import version
    from pathlib import Path

    import tomllib

    import prefect_tavus
    from prefect_tavus.core.client import USER_AGENT

    root = Path(__file__).resolve().parents[2]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert version("prefect-tavus") == prefect_tavus.__version__
    assert USER_AGENT.startswith(f"prefect-tavus/{prefect_tavus.__version__} ")
    assert project["license"] == {"text": "Apache-2.0"}
    license_text = (root / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text


def test_old_entrypoints_of_existing_deployments_still_load_the_same_flows():
    """Deployments made before the layout moved (``flows/wait.py:wait_for_replica``,
    ``flows/create.py:...``, ``flows/videos.py:generate_videos``,
    ``flows/sweep.py:resume_replica_waits``) keep loading; prefect.yaml uses the new paths."""
    from pathlib import Path

    import yaml
    from prefect.flows import load_flow_from_entrypoint

    root = Path(__file__).resolve().parents[2]
    old = {
        "flows/wait.py:wait_for_replica": "wait-for-replica",
        "flows/wait.py:wait_for_replicas": "wait-for-replicas",
        "flows/create.py:create_replica_and_wait": "create-replica-and-wait",
        "flows/videos.py:generate_videos": "generate-videos",
        "flows/sweep.py:resume_replica_waits": "resume-replica-waits",
    }
    for entrypoint, name in old.items():
        assert load_flow_from_entrypoint(str(root / entrypoint)).name == name, entrypoint
    deployments = yaml.safe_load((root / "prefect.yaml").read_text())["deployments"]
    for deployment in deployments:
        entrypoint = deployment["entrypoint"]
        assert entrypoint not in old, entrypoint
        assert load_flow_from_entrypoint(str(root / entrypoint)).name, entrypoint
