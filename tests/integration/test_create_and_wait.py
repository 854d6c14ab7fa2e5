"""create_replica_and_wait trains once per flow run, whatever retries and restarts."""

from __future__ import annotations

import asyncio

import pytest
from prefect.client.orchestration import get_client
from prefect.flow_engine import run_flow
from prefect.states import Scheduled

from prefect_tavus.blocks import TavusCredentials
from prefect_tavus.flows import create_replica_and_wait
from prefect_tavus.core import ReplicaTrainingFailedError
from prefect_tavus.simulator import Fault, TavusSimulator
from tests.conftest import SIM_KEY
from tests.integration.conftest import FAST

CREATE = "POST /v2/replicas"
VIDEO = "https://example.invalid/training.mp4"


@pytest.fixture
def quick_sim():
    with TavusSimulator(api_keys=(SIM_KEY,), default_training_seconds=1.0) as sim:
        yield sim


@pytest.fixture
def quick_creds(quick_sim):
    return TavusCredentials(api_key=SIM_KEY, base_url=quick_sim.url, min_poll_spacing_seconds=0.01)


def _polls(sim):
    return {k: v for k, v in sim.stats()["by_route"].items() if k != CREATE}


def test_creates_then_waits(quick_sim, quick_creds):
    replica = create_replica_and_wait(VIDEO, quick_creds, replica_name="Fresh", **FAST)
    assert replica.status == "completed" and replica.replica_name == "Fresh"
    assert quick_sim.stats()["by_route"][CREATE] == 1


def test_a_retried_run_reuses_the_replica_it_created(quick_sim, quick_creds):
    # The POST goes through; the first poll is refused, failing the first attempt.
    quick_sim.inject_faults("*", [Fault.delay(0), Fault.status(401)])
    retrying = create_replica_and_wait.with_options(retries=1, retry_delay_seconds=0)
    replica = retrying(VIDEO, quick_creds, **FAST)
    assert replica.status == "completed"
    assert quick_sim.stats()["by_route"][CREATE] == 1  # never trained (or billed) twice


def test_a_restarted_run_reuses_the_replica_it_created(quick_sim, quick_creds):
    quick_creds.save("tavus-it-create", overwrite=True)
    quick_sim.inject_faults("*", [Fault.delay(0), Fault.status(401)])

    async def create_run():
        async with get_client() as client:
            return await client.create_flow_run(
                create_replica_and_wait,
                parameters={"train_video_url": VIDEO, "tavus_credentials": "tavus-it-create", **FAST},
            )

    flow_run = asyncio.run(create_run())
    assert run_flow(create_replica_and_wait, flow_run=flow_run, return_type="state").is_failed()

    async def reschedule():
        async with get_client() as client:
            await client.set_flow_run_state(flow_run.id, Scheduled(), force=True)
            return await client.read_flow_run(flow_run.id)

    state = run_flow(create_replica_and_wait, flow_run=asyncio.run(reschedule()), return_type="state")
    assert state.is_completed()
    assert quick_sim.stats()["by_route"][CREATE] == 1


def test_failed_training_fails_the_run(quick_sim, quick_creds):
    with pytest.raises(ReplicaTrainingFailedError):
        create_replica_and_wait("https://example.invalid/fail.mp4", quick_creds, **FAST)


def test_bad_input_sends_nothing(quick_sim, quick_creds):
    with pytest.raises(ValueError, match="exactly one of train_video_url or train_image_url"):
        create_replica_and_wait(None, quick_creds, **FAST)
    assert quick_sim.stats()["requests"] == 0
