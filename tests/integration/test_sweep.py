"""resume_waits (and its old name, resume_replica_waits) against a real Prefect server and
the simulator.

The suspended runs here are real flow runs of a real deployment, put in Prefect's
``Suspended`` state through the API with the record a suspending wait writes; no worker
runs them (tests/e2e does that), so what is checked is the sweep's choice and its cost.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.states import Running, Suspended

from prefect_tavus.core import TavusAuthenticationError
from prefect_tavus.flows import resume_replica_waits, resume_waits
from prefect_tavus.suspension import record_waiting
from tests.conftest import SIM_KEY

LIST = "GET /v2/replicas"


@flow(name="sweep-test-target")
def _target() -> None:  # only its deployment is used; it never runs
    pass


async def _suspended_run(
    replica_ids: list[str], deadline: float, checked_at: float | None = None
) -> UUID:
    async with get_client() as client:
        flow_id = await client.create_flow(_target)
        deployment_id = await client.create_deployment(
            flow_id=flow_id, name=f"d-{uuid.uuid4().hex[:8]}"
        )
        run = await client.create_flow_run_from_deployment(deployment_id)
        await client.set_flow_run_state(run.id, Running(), force=True)
        await record_waiting(
            client, run.id, replica_ids, deadline, checked_at or time.time(), kind="replica"
        )
        result = await client.set_flow_run_state(run.id, Suspended(pause_key=uuid.uuid4().hex))
        assert result.state is not None and result.state.name == "Suspended", result
        return run.id


async def _state_name(run_id: UUID) -> str:
    async with get_client() as client:
        run = await client.read_flow_run(run_id)
        return run.state.name if run.state else ""


async def _clear_suspended() -> None:
    """Cancel suspended runs other tests left (the server is shared by the session)."""
    from prefect.states import Cancelled

    from prefect_tavus.suspension import find_suspended_waits

    async with get_client() as client:
        unreadable = []
        for wait in await find_suspended_waits(
            client, on_unreadable=lambda run, error: unreadable.append(run.id)
        ):
            await client.set_flow_run_state(wait.flow_run_id, Cancelled(), force=True)
        for run_id in unreadable:
            await client.set_flow_run_state(run_id, Cancelled(), force=True)


@pytest.fixture(autouse=True)
def no_suspended_waits():
    asyncio.run(_clear_suspended())
    yield
    asyncio.run(_clear_suspended())


def test_nothing_suspended_means_no_request(simulator, credentials):
    result = resume_waits(credentials)
    assert result["suspended_waits"] == 0 and result["resumed"] == 0
    assert simulator.stats()["requests"] == 0


def test_resumes_only_waits_whose_replicas_all_finished_or_whose_deadline_passed(
    simulator, credentials
):
    done = [simulator.add_replica(training_seconds=0) for _ in range(3)]
    failed = simulator.add_replica(training_seconds=0, outcome="error")
    training = simulator.add_replica(training_seconds=3600)
    far = time.time() + 3600
    all_done = asyncio.run(_suspended_run([*done, failed], far))
    half_done = asyncio.run(_suspended_run([done[0], training], far))
    late = asyncio.run(_suspended_run([training], time.time() - 1))
    gone = asyncio.run(
        _suspended_run(["rdeleted0001"], far)
    )  # missing: the resumed run will say so
    simulator.reset_stats()

    result = resume_waits(credentials)

    assert result["suspended_waits"] == 4 and result["replicas_checked"] == 6
    assert result["resumed"] == 3
    assert simulator.stats()["by_route"] == {LIST: 1}  # one request for all of them
    assert asyncio.run(_state_name(half_done)) == "Suspended"
    for run_id in (all_done, late, gone):
        assert asyncio.run(_state_name(run_id)) != "Suspended"


def test_one_request_per_100_replicas(simulator, credentials):
    ids = [simulator.add_replica(training_seconds=3600) for _ in range(150)]
    asyncio.run(_suspended_run(ids[:120], time.time() + 3600))
    asyncio.run(_suspended_run(ids[100:], time.time() + 3600))  # overlapping ids are asked for once
    simulator.reset_stats()
    result = resume_waits(credentials)
    assert result["replicas_checked"] == 150 and result["resumed"] == 0
    assert simulator.stats()["by_route"] == {LIST: 2}


def test_two_sweeps_at_once_resume_each_run_once(simulator, credentials):
    done = simulator.add_replica(training_seconds=0)
    run_ids = [asyncio.run(_suspended_run([done], time.time() + 3600)) for _ in range(3)]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: resume_waits(credentials), range(2)))
    assert sum(r["resumed"] for r in results) == 3  # each run resumed exactly once
    assert all(asyncio.run(_state_name(run_id)) != "Suspended" for run_id in run_ids)


async def _run_with_labels(labels: dict[str, object]) -> UUID:
    """A suspended run carrying ``labels`` as its record, however malformed."""
    async with get_client() as client:
        flow_id = await client.create_flow(_target)
        deployment_id = await client.create_deployment(
            flow_id=flow_id, name=f"d-{uuid.uuid4().hex[:8]}"
        )
        run = await client.create_flow_run_from_deployment(deployment_id)
        await client.set_flow_run_state(run.id, Running(), force=True)
        await client.update_flow_run_labels(run.id, labels)
        await client.set_flow_run_state(run.id, Suspended(pause_key=uuid.uuid4().hex))
        return run.id


def test_a_refused_key_fails_the_sweep_only_after_deadlines_were_enforced(
    simulator, credentials, caplog
):
    training = simulator.add_replica(training_seconds=3600)
    late = asyncio.run(_suspended_run([training], time.time() - 1))
    waiting = asyncio.run(_suspended_run([training], time.time() + 3600))
    bad = asyncio.run(
        _run_with_labels({"tavus.wait.replicas": "r-not/an-id", "tavus.wait.deadline": 1.0})
    )
    simulator.revoke_key(SIM_KEY)
    with caplog.at_level("WARNING"), pytest.raises(TavusAuthenticationError):
        resume_waits(credentials)
    assert asyncio.run(_state_name(late)) != "Suspended"  # the deadline was enforced first
    assert asyncio.run(_state_name(waiting)) == "Suspended"  # nothing known about it: left alone
    assert asyncio.run(_state_name(bad)) == "Suspended"  # never acted on
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(str(bad) in message and "tavus.wait.replicas" in message for message in warnings), (
        warnings
    )


def test_a_block_name_that_does_not_exist_fails_after_deadlines(simulator):
    training = simulator.add_replica(training_seconds=3600)
    late = asyncio.run(_suspended_run([training], time.time() - 1))
    with pytest.raises(ValueError, match="no-such-block"):
        resume_waits("no-such-block")
    assert asyncio.run(_state_name(late)) != "Suspended"
    assert simulator.stats()["requests"] == 0


@pytest.mark.parametrize(
    "labels",
    [
        {"tavus.wait.replicas": "r1234567890, ../etc"},
        {"tavus.wait.replicas": "", "tavus.wait.deadline": 1.0},
        {"tavus.wait.replicas": "r1234567890", "tavus.wait.deadline": "soon"},
    ],
    ids=["invalid-id", "empty", "deadline-not-a-number"],
)
def test_an_unreadable_record_is_skipped_and_named(simulator, credentials, labels, caplog):
    done = simulator.add_replica(training_seconds=0)
    good = asyncio.run(_suspended_run([done], time.time() + 3600))
    bad = asyncio.run(_run_with_labels(labels))
    with caplog.at_level("WARNING"):
        result = resume_waits(credentials)
    assert result["unreadable"] == 1 and result["resumed"] == 1
    assert asyncio.run(_state_name(good)) != "Suspended"
    assert asyncio.run(_state_name(bad)) == "Suspended"
    assert any(str(bad) in r.getMessage() for r in caplog.records if r.levelname == "WARNING")


def test_the_old_name_still_sweeps_for_existing_deployments(simulator, credentials):
    """Deployments made from flows/sweep.py:resume_replica_waits keep their flow name and work."""
    assert (
        resume_replica_waits.name == "resume-replica-waits" and resume_waits.name == "resume-waits"
    )
    done = simulator.add_replica(training_seconds=0)
    run = asyncio.run(
        _suspended_run([done, simulator.add_replica(training_seconds=0)], time.time() + 3600)
    )
    result = resume_replica_waits(credentials)
    assert result["suspended_waits"] == 1 and result["resumed"] == 1
    assert asyncio.run(_state_name(run)) != "Suspended"
