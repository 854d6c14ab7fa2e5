"""create_replica_and_wait trains once per flow run, whatever retries and restarts."""

from __future__ import annotations

import asyncio
import time

import pytest
from prefect.client.orchestration import get_client
from prefect.flow_engine import run_flow
from prefect.states import Scheduled

from prefect_tavus.blocks import TavusCredentials
from prefect_tavus.core import ReplicaCreateOutcomeUnknownError, ReplicaTrainingFailedError
from prefect_tavus.flows import create_replica_and_wait
from prefect_tavus.simulator import ROUTE_CREATE, Fault, TavusSimulator
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
                parameters={
                    "train_video_url": VIDEO,
                    "tavus_credentials": "tavus-it-create",
                    **FAST,
                },
            )

    flow_run = asyncio.run(create_run())
    assert run_flow(create_replica_and_wait, flow_run=flow_run, return_type="state").is_failed()

    async def reschedule():
        async with get_client() as client:
            await client.set_flow_run_state(flow_run.id, Scheduled(), force=True)
            return await client.read_flow_run(flow_run.id)

    state = run_flow(
        create_replica_and_wait, flow_run=asyncio.run(reschedule()), return_type="state"
    )
    assert state.is_completed()
    assert quick_sim.stats()["by_route"][CREATE] == 1


def test_failed_training_fails_the_run(quick_sim, quick_creds):
    with pytest.raises(ReplicaTrainingFailedError):
        create_replica_and_wait("https://example.invalid/fail.mp4", quick_creds, **FAST)


def test_bad_input_sends_nothing(quick_sim, quick_creds):
    with pytest.raises(ValueError, match="exactly one of train_video_url or train_image_url"):
        create_replica_and_wait(None, quick_creds, **FAST)
    assert quick_sim.stats()["requests"] == 0


# --- never train twice: the create's record lives on the flow run -----------------------


def _labels(run_id) -> dict:
    async def read():
        async with get_client() as client:
            return (await client.read_flow_run(run_id)).labels

    return asyncio.run(read())


def test_the_created_id_is_recorded_on_the_flow_run(quick_sim, quick_creds):
    state = create_replica_and_wait(
        VIDEO, quick_creds, replica_name="Recorded", return_state=True, **FAST
    )
    replica = state.result()
    labels = _labels(state.state_details.flow_run_id)
    assert labels["tavus.create.replica_id"] == replica.replica_id
    assert float(labels["tavus.create.attempted_at"]) <= time.time()


def test_a_lost_answer_reattaches_to_the_replica_the_create_made(quick_sim, quick_creds):
    quick_sim.add_replica(
        training_seconds=0, replica_name="Lost answer (2)"
    )  # a near namesake: not ours
    quick_sim.inject_faults(ROUTE_CREATE, [Fault.lost_answer()])
    replica = create_replica_and_wait(VIDEO, quick_creds, replica_name="Lost answer", **FAST)
    assert replica.status == "completed"
    assert quick_sim.stats()["by_route"][CREATE] == 1  # looked, never sent again
    made = [r["replica_id"] for r in _all(quick_sim) if r["replica_name"] == "Lost answer"]
    assert made == [replica.replica_id]


def test_a_lost_answer_without_a_name_fails_saying_the_outcome_is_unknown(quick_sim, quick_creds):
    quick_sim.inject_faults(ROUTE_CREATE, [Fault.lost_answer()])
    with pytest.raises(
        ReplicaCreateOutcomeUnknownError, match="could train and bill a second replica"
    ):
        create_replica_and_wait(VIDEO, quick_creds, **FAST)
    assert quick_sim.stats()["by_route"][CREATE] == 1


def test_a_create_refused_with_429_is_sent_again(quick_sim, quick_creds):
    quick_sim.inject_faults(ROUTE_CREATE, [Fault.status(429)])
    replica = create_replica_and_wait(VIDEO, quick_creds, replica_name="After a 429", **FAST)
    assert replica.status == "completed"
    assert quick_sim.stats()["by_route"][CREATE] == 2
    assert [r["replica_name"] for r in _all(quick_sim)] == ["After a 429"]  # one replica trained


def test_a_life_that_finds_an_unanswered_attempt_looks_instead_of_creating(quick_sim, quick_creds):
    """An earlier life sent the POST and was killed before it recorded the answer."""
    quick_creds.save("tavus-it-attempt", overwrite=True)
    attempted = time.time()
    made = quick_sim.add_replica(training_seconds=0.5, replica_name="Killed mid-create")

    async def earlier_life():
        async with get_client() as client:
            run = await client.create_flow_run(
                create_replica_and_wait,
                parameters={
                    "train_video_url": VIDEO,
                    "tavus_credentials": "tavus-it-attempt",
                    "replica_name": "Killed mid-create",
                    **FAST,
                },
            )
            await client.update_flow_run_labels(run.id, {"tavus.create.attempted_at": attempted})
            return await client.read_flow_run(run.id)

    flow_run = asyncio.run(earlier_life())
    quick_sim.reset_stats()
    state = run_flow(create_replica_and_wait, flow_run=flow_run, return_type="state")
    assert state.is_completed(), state
    assert state.result().replica_id == made
    assert quick_sim.stats()["by_route"].get(CREATE, 0) == 0
    assert _labels(flow_run.id)["tavus.create.replica_id"] == made


def test_two_matching_replicas_fail_as_ambiguous(quick_sim, quick_creds):
    # A namesake created moments before (another pipeline): within the clock-skew allowance,
    # so it cannot be told from the one the lost create made.
    quick_sim.add_replica(training_seconds=0, replica_name="Twin")
    quick_sim.inject_faults(ROUTE_CREATE, [Fault.lost_answer()])
    with pytest.raises(ReplicaCreateOutcomeUnknownError) as caught:
        create_replica_and_wait(VIDEO, quick_creds, replica_name="Twin", **FAST)
    assert len(caught.value.found) == 2
    assert quick_sim.stats()["by_route"][CREATE] == 1


def _all(sim) -> list[dict]:
    items, _ = sim.state.list_page(api_key=None, limit=100, page=1)
    return items
