"""``make demo``, the README's first command, as a newcomer runs it: its own process, its
own Prefect home and Prefect's embedded server, the simulator, no API key. It must print
the video results table (two ready, one failed with Tavus's reason), and work again on the
same home (the README promises both commands work the second time)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _demo(home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        DEMO_TRAINING_SECONDS="4",
        # The embedded server starts on cores shared with the other xdist workers (make test):
        # Prefect's default 20 s to come up is not always enough there.
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
    )
    return subprocess.run(
        [sys.executable, "-m", "prefect_tavus.flows.demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow  # two whole demo programs, each with its own embedded Prefect server
def test_the_demo_prints_the_video_table_twice_on_one_home(tmp_path: Path) -> None:
    for attempt in (1, 2):
        done = _demo(tmp_path / "prefect-home")
        assert done.returncode == 0, (attempt, done.stdout[-2000:], done.stderr[-3000:])
        table = done.stdout.split("==> Results table", 1)[1].split("Waiting on a batch", 1)[0]
        rows = {
            line.split()[0]: line.split()
            for line in table.splitlines()
            if line.strip().startswith("lead-")
        }
        assert [rows[key][2] for key in ("lead-0001", "lead-0002", "lead-0003")] == [
            "ready",
            "ready",
            "error",
        ]
        assert rows["lead-0001"][-1].endswith(".mp4") and "audio_too_short" in " ".join(
            rows["lead-0003"]
        )
        assert "sim-key" not in done.stdout + done.stderr  # the simulator's key is never printed
