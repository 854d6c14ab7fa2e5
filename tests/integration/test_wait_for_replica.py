"""wait_for_replica / wait_for_replicas end to end: real Prefect server, simulator over HTTP."""

from __future__ import annotations

import asyncio
import time

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.exceptions import ParameterTypeError

from prefect_tavus.core import (
    InvalidReplicaIdError,
    Replica,
    ReplicaNotFoundDuringWaitError,
    ReplicasWaitFailedError,
    ReplicaTrainingFailedError,
    ReplicaWaitTimeoutError,
    TavusAuthenticationError,
    TavusNotFoundError,
)
from prefect_tavus.core.waiting import Outcome
from prefect_tavus.flows import await_for_replica, wait_for_replica, wait_for_replicas
from tests.integration.conftest import FAST, FAST_SETTINGS, fast


async def _poll_starts(flow_run_id) -> list[float]:
    """When each of a wait's poll rounds started (its ``poll-<n>`` task runs), read back from
    Prefect, which records task runs a moment after they run."""
    async with get_client() as client:
        for _ in range(50):
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            starts = [r.start_time for r in runs if r.name.startswith("poll-") and r.start_time]
            if starts:
                return sorted(start.timestamp() for start in starts)
            await asyncio.sleep(0.2)
    return []


def test_waits_until_completed_and_returns_the_replica(simulator, credentials):
    rid = simulator.add_replica(replica_name="Demo", training_seconds=4.0)
    state = wait_for_replica(rid, credentials, return_state=True, **FAST)
    replica = state.result()
    returned_at = time.time()
    assert isinstance(replica, Replica)
    assert replica.status == "completed" and replica.training_progress == "100/100"
    finished_at = simulator.finished_at(rid)
    assert finished_at is not None and finished_at <= returned_at  # it really waited for training
    # Seen within a poll cap of the end: the last poll round started at most one capped
    # interval (plus a round's own time) after training finished. Read from the poll rounds'
    # task runs, so that the flow run's own end, which a loaded machine stretches, does not count.
    starts = asyncio.run(_poll_starts(state.state_details.flow_run_id))
    assert starts and starts[-1] >= finished_at, (starts, finished_at)
    assert starts[-1] - finished_at <= FAST_SETTINGS["max_poll_interval_seconds"] + 1.0
    requests = simulator.stats()["requests"]
    assert (
        2 <= requests <= 4.0 / FAST_SETTINGS["poll_interval_seconds"] + 2
    )  # polled, but not in a busy loop


def test_ready_status_counts_as_completed(simulator, credentials):
    rid = simulator.add_replica(training_seconds=0.5, final_status="ready")
    assert wait_for_replica(rid, credentials, **FAST).status == "ready"


def test_training_error_fails_the_run_with_the_message(simulator, credentials):
    rid = simulator.add_replica(
        training_seconds=1.0, outcome="error", error_message="Face not visible"
    )
    with pytest.raises(ReplicaTrainingFailedError, match="Face not visible") as info:
        wait_for_replica(rid, credentials, **FAST)
    assert info.value.replica.replica_id == rid
    assert info.value.error_message == "Face not visible"


def test_training_error_can_be_returned_instead(simulator, credentials):
    rid = simulator.add_replica(training_seconds=0.5, outcome="error", error_message="Too short")
    replica = wait_for_replica(rid, credentials, raise_on_error=False, **FAST)
    assert replica.status == "error" and replica.error_message == "Too short"


def test_timeout_states_last_status_and_progress(simulator, credentials):
    rid = simulator.add_replica(training_seconds=60)
    started = time.monotonic()
    with pytest.raises(ReplicaWaitTimeoutError) as info:
        wait_for_replica(rid, credentials, **fast(timeout_seconds=1.5))
    elapsed = time.monotonic() - started
    assert info.value.last_status == "started"
    assert info.value.last_progress is not None and "/100" in info.value.last_progress
    assert "started" in str(info.value)
    # Ended by its 1.5 s deadline (the wait's own clock), not by the 60 s training; wall time
    # adds the flow run's start and end, which a loaded machine stretches.
    assert 1.5 <= info.value.waited_seconds < 4
    assert elapsed < 30


def test_unknown_replica_ends_the_wait_at_once(simulator, credentials):
    with pytest.raises(ReplicaNotFoundDuringWaitError) as info:
        wait_for_replica("rnotthere01", credentials, **FAST)
    assert simulator.stats()["requests"] == 1
    # It wraps what Tavus answered (the simulator, like Tavus, says 400 "Invalid replica_id").
    assert isinstance(info.value.__cause__, TavusNotFoundError)
    assert info.value.status_code == info.value.__cause__.status_code == 400
    assert info.value.api_message == "Invalid replica_id"
    assert "Invalid replica_id" in str(info.value)


def test_wrong_key_ends_the_wait_after_one_request(simulator):
    from prefect_tavus.blocks import TavusCredentials

    rid = simulator.add_replica(training_seconds=30)
    with pytest.raises(TavusAuthenticationError):
        wait_for_replica(rid, TavusCredentials(api_key="nope", base_url=simulator.url), **FAST)
    assert simulator.stats()["requests"] == 1


@pytest.mark.parametrize("bad_id", ["", "a/b", "r1#x"])
def test_bad_replica_id_fails_before_any_request(simulator, credentials, bad_id):
    with pytest.raises(InvalidReplicaIdError):
        wait_for_replica(bad_id, credentials, **FAST)
    assert simulator.stats()["requests"] == 0


def test_credentials_by_saved_block_name(simulator, credentials):
    credentials.save("tavus-it-wait", overwrite=True)
    rid = simulator.add_replica(training_seconds=0.5)
    assert wait_for_replica(rid, "tavus-it-wait", **FAST).status == "completed"


def test_messy_payloads_do_not_break_the_wait(simulator, credentials):
    rid = simulator.add_replica(
        training_seconds=0.8, extra_fields={"replica_type": "user'", "brand_new_field": [1, 2]}
    )
    replica = wait_for_replica(rid, credentials, **FAST)
    assert replica.is_completed and replica.model_extra.get("brand_new_field") == [1, 2]


def test_async_twin_inside_an_async_parent(simulator, credentials):
    rid = simulator.add_replica(training_seconds=0.5)

    @flow
    async def parent():
        replica = await await_for_replica(rid, credentials, **FAST)
        return f"next step uses {replica.replica_id}"

    assert asyncio.run(parent()) == f"next step uses {rid}"


def test_sync_parent_gets_the_replica_for_its_next_step(simulator, credentials):
    rid = simulator.add_replica(training_seconds=0.5)

    @flow
    def parent():
        replica = wait_for_replica(rid, credentials, **FAST)
        return replica.status

    assert parent() == "completed"


def test_batch_wait_reports_each_outcome_in_input_order(simulator, credentials):
    ok = simulator.add_replica(training_seconds=1.0)
    bad = simulator.add_replica(training_seconds=0.6, outcome="error", error_message="No consent")
    ids = [ok, "rmissing001", bad]
    result = wait_for_replicas(ids, credentials, raise_on_failure=False, **FAST)
    assert [r.replica_id for r in result.results] == ids
    assert [r.outcome for r in result.results] == [
        Outcome.COMPLETED,
        Outcome.NOT_FOUND,
        Outcome.FAILED,
    ]
    assert result.results[2].error_message == "No consent"
    assert result.requests == simulator.stats()["requests"]


def test_batch_wait_fails_the_run_by_default(simulator, credentials):
    bad = simulator.add_replica(training_seconds=0.3, outcome="error", error_message="Blurry")
    ok = simulator.add_replica(training_seconds=0.3)
    with pytest.raises(ReplicasWaitFailedError, match="Blurry") as info:
        wait_for_replicas([ok, bad], credentials, **FAST)
    assert info.value.results.counts()["completed"] == 1


def test_parameter_constraints_are_checked_before_running(simulator, credentials):
    rid = simulator.add_replica(training_seconds=30)
    with pytest.raises(ParameterTypeError, match="poll_interval_seconds"):
        wait_for_replica(rid, credentials, wait_settings={"poll_interval_seconds": 0})
    with pytest.raises(
        ParameterTypeError, match=r"max_poll_interval_seconds \(5\) must be at least"
    ):
        wait_for_replica(
            rid,
            credentials,
            wait_settings={"poll_interval_seconds": 10, "max_poll_interval_seconds": 5},
        )
    with pytest.raises(ParameterTypeError, match="page_size"):
        wait_for_replicas([rid, rid + "x"], credentials, wait_settings={"page_size": 0})
    assert simulator.stats()["requests"] == 0
