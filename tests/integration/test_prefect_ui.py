"""Events and artifacts a wait leaves in Prefect, read back from the server."""

from __future__ import annotations

import asyncio
import time

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

from prefect_tavus.flows import wait_for_replica, wait_for_replicas
from prefect_tavus.flows._prefect_ui import replica_artifact_key
from tests.integration.conftest import FAST, fast


async def _events_about(replica_id: str) -> list[dict]:
    async with get_client() as client:
        for _ in range(40):
            response = await client._client.post(
                "/events/filter",
                json={"filter": {"any_resource": {"id": [f"tavus.replica.{replica_id}"]},
                                 "order": "ASC"}, "limit": 50},
            )
            events = response.json()["events"]
            if any(e["event"] != "tavus.replica.progress" for e in events):
                return events
            await asyncio.sleep(0.25)
    return events


async def _artifacts(flow_run_id) -> list:
    async with get_client() as client:
        return await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )


def test_completed_wait_emits_progress_and_completed_events(simulator, credentials):
    rid = simulator.add_replica(replica_name="Events Demo", training_seconds=3.0)
    state = wait_for_replica(rid, credentials, return_state=True, **FAST)
    assert state.is_completed()
    flow_run_id = state.state_details.flow_run_id
    events = asyncio.run(_events_about(rid))
    names = [e["event"] for e in events]
    assert "tavus.replica.progress" in names
    assert names.count("tavus.replica.completed") == 1
    assert names.count("tavus.replica.progress") <= 11  # one per 10% band at most, not per poll
    completed = next(e for e in events if e["event"] == "tavus.replica.completed")
    assert completed["resource"]["prefect.resource.id"] == f"tavus.replica.{rid}"
    assert completed["resource"]["prefect.resource.name"] == "Events Demo"
    assert completed["payload"]["status"] == "completed"
    assert completed["payload"]["training_progress"] == "100/100"
    related = {r["prefect.resource.id"] for r in completed["related"]}
    assert f"prefect.flow-run.{flow_run_id}" in related


def test_failed_and_timed_out_events_carry_the_reason(simulator, credentials):
    bad = simulator.add_replica(training_seconds=0.5, outcome="error", error_message="Lighting too dark")
    slow = simulator.add_replica(training_seconds=120)
    wait_for_replicas([bad, slow], credentials, raise_on_failure=False, **fast(timeout_seconds=2))
    failed = [e for e in asyncio.run(_events_about(bad)) if e["event"] == "tavus.replica.failed"]
    assert len(failed) == 1 and failed[0]["payload"]["error_message"] == "Lighting too dark"
    timed_out = [e for e in asyncio.run(_events_about(slow)) if e["event"] == "tavus.replica.timed-out"]
    assert len(timed_out) == 1 and timed_out[0]["payload"]["status"] == "started"


def test_artifacts_show_progress_and_details_under_a_stable_key(simulator, credentials):
    rid = simulator.add_replica(replica_name="Artifact Demo", training_seconds=1.5, model_name="phoenix-4")
    first = wait_for_replica(rid, credentials, return_state=True, **FAST)
    second = wait_for_replica(rid, credentials, return_state=True, **FAST)  # waiting again: same key
    artifacts = asyncio.run(_artifacts(first.state_details.flow_run_id))
    by_type = {a.type: a for a in artifacts}
    assert by_type["progress"].data == 100.0
    details = by_type["markdown"]
    assert details.key == replica_artifact_key(rid)
    assert "completed training" in details.data and "Artifact Demo" in details.data
    assert "phoenix-4" in details.data and "Requests made" in details.data

    async def history():
        async with get_client() as client:
            return await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[replica_artifact_key(rid)]))
            )

    versions = asyncio.run(history())
    assert {a.flow_run_id for a in versions} == {first.state_details.flow_run_id, second.state_details.flow_run_id}


def test_failed_replica_artifact_shows_the_error(simulator, credentials):
    rid = simulator.add_replica(training_seconds=0.5, outcome="error", error_message="No face detected")
    state = wait_for_replica(rid, credentials, return_state=True, **FAST)
    assert state.is_failed()
    details = [a for a in asyncio.run(_artifacts(state.state_details.flow_run_id)) if a.type == "markdown"]
    assert len(details) == 1 and "No face detected" in details[0].data and "failed" in details[0].data


def test_batch_wait_writes_one_table(simulator, credentials):
    ids = [simulator.add_replica(training_seconds=0.5) for _ in range(3)]
    state = wait_for_replicas(ids, credentials, return_state=True, **FAST)
    tables = [a for a in asyncio.run(_artifacts(state.state_details.flow_run_id)) if a.type == "table"]
    assert len(tables) == 1
    assert sorted(row["replica_id"] for row in __import__("json").loads(tables[0].data)) == sorted(ids)


def test_text_from_tavus_cannot_break_the_details_table():
    from prefect_tavus.flows._prefect_ui import _replica_markdown
    from prefect_tavus.core import Replica
    from prefect_tavus.core.waiting import Outcome, ReplicaOutcome, WaitResult

    replica = Replica(replica_id="r1", replica_name="A | B\nC", status="error", error_message="bad | video\nline")
    outcome = ReplicaOutcome(replica_id="r1", outcome=Outcome.FAILED, replica=replica, error_message="bad | video\nline")
    markdown = _replica_markdown(outcome, WaitResult(results=[outcome]))
    table = [line for line in markdown.splitlines() if line.startswith("|")]
    assert all(line.replace("\\|", "").count("|") == 3 for line in table)  # two cells on every row
    assert "A \\| B C" in markdown
