"""``make demo``: watch ``wait_for_replica`` follow a replica from ``started`` to ``completed``.

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
from prefect_tavus.flows.wait import wait_for_replica, wait_for_replicas
from prefect_tavus.core import WaitSettings
from prefect_tavus.simulator import TavusSimulator

SIM_KEY = "sim-key"


async def _start_prefect() -> str:
    """Start (or reach) the Prefect API before the training clock starts ticking."""
    async with get_client() as client:
        await client.hello()
        return str(client.api_url)


def main() -> int:
    training_seconds = float(os.environ.get("DEMO_TRAINING_SECONDS", "20"))
    print("prefect-tavus demo: local Tavus simulator + Prefect's embedded server, no API key needed.\n")
    api_url = asyncio.run(_start_prefect())
    print(f"Prefect API: {api_url}")

    with TavusSimulator(api_keys=(SIM_KEY,)) as simulator:
        print(f"Tavus simulator: {simulator.url}\n")
        credentials = TavusCredentials(api_key=SIM_KEY, base_url=simulator.url)

        replica_id = simulator.add_replica(replica_name="Sales presenter", training_seconds=training_seconds)
        print(f"Training replica {replica_id} ({training_seconds:.0f} s standing in for ~4 h)...\n")
        started = time.monotonic()
        replica = wait_for_replica(
            replica_id, credentials,
            wait_settings=WaitSettings(poll_interval_seconds=2, max_poll_interval_seconds=5),
        )
        print(
            f"\n==> {replica.replica_id} is {replica.status} ({replica.training_progress}) after "
            f"{time.monotonic() - started:.0f} s; the pipeline can now generate videos with it.\n"
        )

        batch = [
            simulator.add_replica(replica_name="Rep A", training_seconds=6),
            simulator.add_replica(replica_name="Rep B", training_seconds=8),
            simulator.add_replica(replica_name="Rep C", training_seconds=5, outcome="error",
                                  error_message="Training video has no audible speech"),
        ]
        print(f"Waiting on a batch of {len(batch)} replicas together...\n")
        result = wait_for_replicas(
            batch, credentials, wait_settings=WaitSettings(poll_interval_seconds=1, max_poll_interval_seconds=3),
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
