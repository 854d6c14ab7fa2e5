"""``make demo``: the whole pipeline on this machine. ``wait_for_replica`` follows a replica
from ``started`` to ``completed``; ``generate_videos`` then makes three videos with it (one
fails, as videos sometimes do) and prints the results table a pipeline writes back; last,
a batch of replicas is waited on together.

Runs entirely on this machine: the local Tavus simulator on 127.0.0.1 stands in for
Tavus (its key is ``sim-key``: no real API key is used or needed) and Prefect's embedded
server records the run. A four-hour training is compressed into about 20 seconds.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from prefect.client.orchestration import get_client

from prefect_tavus.blocks import TavusCredentials
from prefect_tavus.core import WaitSettings
from prefect_tavus.flows.generate import generate_videos
from prefect_tavus.flows.replicas import wait_for_replica, wait_for_replicas
from prefect_tavus.simulator import TavusSimulator

SIM_KEY = "sim-key"


async def _start_prefect() -> str:
    """Start (or reach) the Prefect API before the training clock starts ticking."""
    async with get_client() as client:
        await client.hello()
        return str(client.api_url)


def _table(rows: list) -> str:
    """The results as a plain-text table (what a pipeline writes back to its warehouse)."""
    header = ("key", "video_id", "status", "error", "download_url")
    cells = [header] + [
        (r.key, r.video_id or "-", r.status or "-", r.error or "-", r.download_url or "-")
        for r in rows
    ]
    widths = [max(len(str(row[i])) for row in cells) for i in range(len(header))]
    return "\n".join(
        "    " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


def main() -> int:
    training_seconds = float(os.environ.get("DEMO_TRAINING_SECONDS", "20"))
    print(
        "prefect-tavus demo: local Tavus simulator + Prefect's embedded server, no API key needed.\n"
    )
    api_url = asyncio.run(_start_prefect())
    print(f"Prefect API: {api_url}")

    with TavusSimulator(api_keys=(SIM_KEY,)) as simulator:
        print(f"Tavus simulator: {simulator.url}\n")
        credentials = TavusCredentials(api_key=SIM_KEY, base_url=simulator.url)

        replica_id = simulator.add_replica(
            replica_name="Sales presenter", training_seconds=training_seconds
        )
        print(f"Training replica {replica_id} ({training_seconds:.0f} s standing in for ~4 h)...\n")
        started = time.monotonic()
        replica = wait_for_replica(
            replica_id,
            credentials,
            wait_settings=WaitSettings(poll_interval_seconds=2, max_poll_interval_seconds=5),
        )
        print(
            f"\n==> {replica.replica_id} is {replica.status} ({replica.training_progress}) after "
            f"{time.monotonic() - started:.0f} s; the pipeline can now generate videos with it.\n"
        )

        rows = [
            {
                "key": "lead-0001",
                "video_name": "Welcome, Ana",
                "script": "Hi Ana, thanks for signing up!",
            },
            {
                "key": "lead-0002",
                "video_name": "Welcome, Bo",
                "script": "Hi Bo, great to meet you.",
            },
            {
                "key": "lead-0003",
                "video_name": "Welcome, Cy",
                "audio_url": "https://media.example.com/cy.mp3",
            },
        ]
        # The simulator renders in a few seconds; Cy's audio is "too short", as Tavus would say.
        simulator.state.default_generation_seconds = 4.0
        simulator.script_video_named(
            "Welcome, Cy",
            outcome="error",
            error_reason="audio_too_short: audio must be at least 3 seconds long",
        )
        print(f"Generating {len(rows)} videos with {replica_id}...\n")
        table = generate_videos(
            replica_id,
            rows,
            credentials,
            raise_on_failure=False,
            wait_settings=WaitSettings(poll_interval_seconds=1, max_poll_interval_seconds=3),
        )
        print("\n==> Results table (also the run's table artifact):\n")
        print(_table(table))
        print()

        batch = [
            simulator.add_replica(replica_name="Rep A", training_seconds=6),
            simulator.add_replica(replica_name="Rep B", training_seconds=8),
            simulator.add_replica(
                replica_name="Rep C",
                training_seconds=5,
                outcome="error",
                error_message="Training video has no audible speech",
            ),
        ]
        print(f"Waiting on a batch of {len(batch)} replicas together...\n")
        result = wait_for_replicas(
            batch,
            credentials,
            wait_settings=WaitSettings(poll_interval_seconds=1, max_poll_interval_seconds=3),
            raise_on_failure=False,
        )
        print(f"\n==> {result.summary()}")
        for outcome in result.results:
            detail = f": {outcome.error_message}" if outcome.error_message else ""
            print(f"    {outcome.replica_id}  {outcome.outcome.value}{detail}")
        stats = simulator.stats()
        print(f"\nTavus requests made in all: {stats['requests']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
