"""A wait's life as Prefect runs it: cancellation, and a deadline that survives retries
and restarts (it counts from the flow run's first start)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
from prefect.flow_engine import run_flow
from prefect.states import Cancelling, Scheduled

from prefect_tavus.core import ReplicaWaitTimeoutError
from prefect_tavus.flows import wait_for_replica
from prefect_tavus.simulator import Fault
from tests.integration.conftest import fast


async def _flow_run_named(name: str, timeout: float = 20.0):
    async with get_client() as client:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name]))
            )
            if runs:
                return runs[0]
            await asyncio.sleep(0.1)
    raise AssertionError(f"no flow run named {name}")


def test_cancelling_stops_polling_within_a_second_and_leaves_the_replica(simulator, credentials):
    rid = simulator.add_replica(training_seconds=300)
    box = {}
    thread = threading.Thread(
        target=lambda: box.setdefault(
            "state",
            wait_for_replica(
                rid,
                credentials,
                wait_settings={"poll_interval_seconds": 10, "max_poll_interval_seconds": 10},
                return_state=True,
            ),
        ),
        daemon=True,
    )
    thread.start()
    deadline = time.monotonic() + 30
    while simulator.stats()["requests"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # now in its 10 s sleep between polls
    flow_run = asyncio.run(_flow_run_named(f"wait-for-{rid}"))

    async def cancel():
        async with get_client() as client:
            await client.set_flow_run_state(flow_run.id, Cancelling(), force=True)

    requests_at_cancel = simulator.stats()["requests"]
    asyncio.run(cancel())
    cancelled_at = time.monotonic()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert time.monotonic() - cancelled_at < 5  # not the 10 s poll interval
    assert box["state"].is_cancelled()
    assert simulator.stats()["requests"] == requests_at_cancel  # no poll after the cancel
    assert "DELETE /v2/replicas/{id}" not in simulator.stats()["by_route"]
    assert simulator.replica_payload(rid)["status"] == "started"  # untouched, still training


def test_deadline_counts_from_the_first_attempt_across_flow_retries(simulator, credentials, caplog):
    rid = simulator.add_replica(training_seconds=300)
    # First attempt: ~3 s of 503s, then a permanent 401 fails it; Prefect retries the run.
    simulator.inject_faults("*", [Fault.status(503)] * 8 + [Fault.status(401)])
    retrying = wait_for_replica.with_options(retries=1, retry_delay_seconds=0)
    started = time.monotonic()
    with caplog.at_level(logging.INFO), pytest.raises(ReplicaWaitTimeoutError) as info:
        retrying(rid, credentials, **fast(timeout_seconds=5))
    total = time.monotonic() - started
    # Measured by the wait from the run's first start, so Prefect's own retry handling and a
    # loaded machine do not count: a fresh 5 s deadline after a ~3 s first attempt would
    # have waited more than 8 s.
    assert 5 <= info.value.waited_seconds < 7.5
    assert total > 5
    assert any("resuming a wait started" in r.getMessage() for r in caplog.records)


def test_deadline_counts_from_the_first_start_after_a_restart(simulator, credentials):
    """A crashed run started again (as a worker would) keeps its original deadline."""
    rid = simulator.add_replica(training_seconds=300)
    credentials.save("tavus-it-restart", overwrite=True)
    simulator.inject_faults("*", [Fault.status(503)] * 8 + [Fault.status(401)])

    async def create():
        async with get_client() as client:
            return await client.create_flow_run(
                wait_for_replica,
                parameters={
                    "replica_id": rid,
                    "tavus_credentials": "tavus-it-restart",
                    **fast(timeout_seconds=5),
                },
            )

    flow_run = asyncio.run(create())
    first = run_flow(wait_for_replica, flow_run=flow_run, return_type="state")
    assert first.is_failed()  # the first process "crashed" out after ~3 s

    async def reschedule():
        async with get_client() as client:
            await client.set_flow_run_state(flow_run.id, Scheduled(), force=True)
            return await client.read_flow_run(flow_run.id)

    second = run_flow(wait_for_replica, flow_run=asyncio.run(reschedule()), return_type="state")
    assert second.is_failed()
    error = second.result(raise_on_failure=False)
    assert isinstance(error, ReplicaWaitTimeoutError)
    assert error.waited_seconds >= 5

    async def history():
        async with get_client() as client:
            return await client.read_flow_run_states(flow_run.id)

    # The second life keeps the first start's deadline: it gives up within the ~2 s left of
    # it (a poll late on a loaded machine), not after a timeout of its own (5 s). Measured on
    # Prefect's state timestamps, from the second life's Running state to its end, so that
    # the time a loaded machine takes to start a flow run does not count.
    states = sorted(asyncio.run(history()), key=lambda state: state.timestamp)
    second_running = [state for state in states if state.is_running()][-1]
    assert (second.timestamp - second_running.timestamp).total_seconds() < 4.0, states
