"""Static tools see the code as Python does: the editable install is a plain path entry for
``src/``, and ``src/prefect_tavus/{flows,tasks,blocks}`` link to the top-level folders, so a
type checker run from anywhere resolves ``prefect_tavus.flows`` to the files in ``flows/``
and types the flows (the import hook of a mapped ``package-dir`` install was invisible to
mypy, pyright and IDEs)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_mypy_outside_the_checkout_resolves_the_flows_to_the_top_level_folder(
    tmp_path: Path,
) -> None:
    pytest.importorskip("mypy", reason="mypy is in the dev lock (make check), not the lowest")
    probe = "from prefect_tavus.flows import wait_for_replica\nreveal_type(wait_for_replica)\n"
    mypy = [sys.executable, "-m", "mypy", "-v", "--follow-imports=silent", "--cache-dir=cache"]
    done = subprocess.run(
        [*mypy, "--command", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert 'Revealed type is "prefect.flows.Flow[' in done.stdout, done.stdout + done.stderr
    parsed = dict(
        (module, path)
        for path, module in re.findall(
            r"Parsing (\S+) \((prefect_tavus\.flows[\w.]*)\)", done.stderr
        )
    )
    assert "prefect_tavus.flows" in parsed, done.stderr[-2000:]
    for module, path in parsed.items():
        real = Path(os.path.realpath(path))
        assert real.parent == PROJECT_ROOT / "flows", (module, path, real)
