"""Events and artifacts a wait leaves in Prefect, read back from the server."""

from __future__ import annotations

import asyncio
import json
import re
import time

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
)

from prefect_tavus.core.kinds import REPLICAS
from prefect_tavus.flows import wait_for_replica, wait_for_replicas
from prefect_tavus.flows._prefect_ui import (
    PER_REPLICA_ARTIFACT_LIMIT,
    batch_artifact_key,
    details_artifact_key,
    progress_artifact_key,
)
from tests.integration.conftest import FAST, fast


async def _events_about(replica_id: str) -> list[dict]:
    async with get_client() as client:
        for _ in range(40):
            response = await client._client.post(
                "/events/filter",
                json={
                    "filter": {
                        "any_resource": {"id": [f"tavus.replica.{replica_id}"]},
                        "order": "ASC",
                    },
                    "limit": 50,
                },
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
    assert completed["resource"]["prefect.resource.name"] == "Events Demo (completed, 100/100)"
    assert completed["resource"]["tavus.replica.name"] == "Events Demo"
    assert completed["payload"]["status"] == "completed"
    assert completed["payload"]["training_progress"] == "100/100"
    related = {r["prefect.resource.id"] for r in completed["related"]}
    assert f"prefect.flow-run.{flow_run_id}" in related


def test_failed_and_timed_out_events_carry_the_reason(simulator, credentials):
    bad = simulator.add_replica(
        training_seconds=0.5, outcome="error", error_message="Lighting too dark"
    )
    slow = simulator.add_replica(training_seconds=120)
    wait_for_replicas([bad, slow], credentials, raise_on_failure=False, **fast(timeout_seconds=2))
    failed = [e for e in asyncio.run(_events_about(bad)) if e["event"] == "tavus.replica.failed"]
    assert len(failed) == 1 and failed[0]["payload"]["error_message"] == "Lighting too dark"
    timed_out = [
        e for e in asyncio.run(_events_about(slow)) if e["event"] == "tavus.replica.timed-out"
    ]
    assert len(timed_out) == 1 and timed_out[0]["payload"]["status"] == "started"


def test_artifacts_show_progress_and_details_under_a_stable_key(simulator, credentials):
    rid = simulator.add_replica(
        replica_name="Artifact Demo", training_seconds=1.5, model_name="phoenix-4"
    )
    first = wait_for_replica(rid, credentials, return_state=True, **FAST)
    second = wait_for_replica(
        rid, credentials, return_state=True, **FAST
    )  # waiting again: same key
    artifacts = asyncio.run(_artifacts(first.state_details.flow_run_id))
    by_type = {a.type: a for a in artifacts}
    assert by_type["progress"].data == 100.0 and by_type["progress"].key == progress_artifact_key(
        [rid], REPLICAS
    )
    details = by_type["markdown"]
    assert details.key == details_artifact_key(rid, REPLICAS)
    assert "completed training" in details.data and "Artifact Demo" in details.data
    assert "phoenix-4" in details.data and "Requests made" in details.data

    async def history():
        async with get_client() as client:
            return await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(any_=[details_artifact_key(rid, REPLICAS)])
                )
            )

    versions = asyncio.run(history())
    assert {a.flow_run_id for a in versions} == {
        first.state_details.flow_run_id,
        second.state_details.flow_run_id,
    }


def test_failed_replica_artifact_shows_the_error(simulator, credentials):
    rid = simulator.add_replica(
        training_seconds=0.5, outcome="error", error_message="No face detected"
    )
    state = wait_for_replica(rid, credentials, return_state=True, **FAST)
    assert state.is_failed()
    details = [
        a for a in asyncio.run(_artifacts(state.state_details.flow_run_id)) if a.type == "markdown"
    ]
    assert (
        len(details) == 1 and "No face detected" in details[0].data and "failed" in details[0].data
    )


def test_batch_wait_writes_one_table(simulator, credentials):
    ids = [simulator.add_replica(training_seconds=0.5) for _ in range(3)]
    state = wait_for_replicas(ids, credentials, return_state=True, **FAST)
    tables = [
        a for a in asyncio.run(_artifacts(state.state_details.flow_run_id)) if a.type == "table"
    ]
    assert len(tables) == 1
    assert tables[0].key == batch_artifact_key(ids, REPLICAS)
    assert sorted(row["replica_id"] for row in json.loads(tables[0].data)) == sorted(ids)


def test_text_from_tavus_cannot_break_the_details_table():
    from prefect_tavus.core import Replica
    from prefect_tavus.core.kinds import REPLICAS
    from prefect_tavus.core.waiting import Outcome, ReplicaOutcome, WaitResult
    from prefect_tavus.flows._prefect_ui import _details_markdown

    replica = Replica(
        replica_id="r1", replica_name="A | B\nC", status="error", error_message="bad | video\nline"
    )
    outcome = ReplicaOutcome(
        replica_id="r1", outcome=Outcome.FAILED, replica=replica, error_message="bad | video\nline"
    )
    markdown = _details_markdown(outcome, WaitResult(results=[outcome]), REPLICAS)
    table = [line for line in markdown.splitlines() if line.startswith("|")]
    assert all(line.replace("\\|", "").count("|") == 3 for line in table)  # two cells on every row
    assert "A \\| B C" in markdown


# --- what the UI shows after a failure: the scenarios, read back from the server ---

#: A time as the artifacts write it for people: ``26 Nov 2026, 11:55:20 UTC``.
HUMAN_TIME = re.compile(r"\d{2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2}:\d{2} UTC")


async def _latest(key: str):
    """What the Artifacts page shows for ``key``: the collection's latest version."""
    from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey

    async with get_client() as client:
        (latest,) = await client.read_latest_artifacts(
            artifact_filter=ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=[key]))
        )
        return latest


async def _names_of_runs(
    flow_run_id, expected: int = 1, timeout: float = 15.0
) -> tuple[str, list[str]]:
    """The flow run's name and its task runs' names (recorded from events, so waited for)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async with get_client() as client:
        flow_run = await client.read_flow_run(flow_run_id)
        deadline = time.monotonic() + timeout
        while True:
            task_runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            if len(task_runs) >= expected or time.monotonic() > deadline:
                return flow_run.name, sorted(t.name for t in task_runs)
            await asyncio.sleep(0.2)


def test_a_replica_failing_at_40_shows_40_not_100(simulator, credentials):
    rid = simulator.add_replica(
        replica_name="Broken take",
        training_seconds=1.5,
        outcome="error",
        fail_at_progress=40,
        error_message="No face detected",
    )
    state = wait_for_replica(rid, credentials, return_state=True, **FAST)
    assert state.is_failed()
    artifacts = {a.type: a for a in asyncio.run(_artifacts(state.state_details.flow_run_id))}

    progress = artifacts["progress"]
    assert progress.key == f"tavus-progress-{rid}"
    assert progress.data == 40.0  # what Tavus reported when it failed, not 100
    assert progress.description.startswith(
        "Failed at 40/100: replica 'Broken take'"
    )  # verdict first
    assert asyncio.run(_latest(progress.key)).data == 40.0  # the Artifacts page shows the same

    details = artifacts["markdown"].data
    assert "'Broken take'" in details and "failed training at 40/100" in details
    assert "> **Error:** No face detected" in details
    assert "| Training progress | 40/100 |" in details and "| Type | user |" in details
    created = next(line for line in details.splitlines() if line.startswith("| Created |"))
    assert HUMAN_TIME.search(created) and not re.search(
        r"\d{4}-\d{2}-\d{2}T", details
    )  # no raw ISO time
    assert "| | |" not in details  # the table is headed by the replica's id, not an empty row
    assert details.splitlines()[4] == f"| Replica id | `{rid}` |"


def test_a_batch_with_one_failure_shows_the_mean_of_what_tavus_reported(simulator, credentials):
    done = simulator.add_replica(replica_name="Rep A", training_seconds=0.8)
    failed = simulator.add_replica(
        replica_name="Rep B",
        training_seconds=1.5,
        outcome="error",
        fail_at_progress=40,
        error_message="No face detected",
    )
    ids = [done, failed]
    state = wait_for_replicas(ids, credentials, raise_on_failure=False, return_state=True, **FAST)
    assert state.is_completed()
    artifacts = asyncio.run(_artifacts(state.state_details.flow_run_id))
    assert all(a.key and a.description for a in artifacts)  # listed on the Artifacts page, titled

    (progress,) = [a for a in artifacts if a.type == "progress"]
    assert progress.key == progress_artifact_key(ids, REPLICAS) and progress.key.startswith(
        "tavus-progress-batch-2-replicas-"
    )
    assert progress.data == 70.0  # (100 + 40) / 2: the failed one counts at 40, not 100
    assert progress.description.startswith("1 completed, 1 failed (2 replicas)")
    assert asyncio.run(_latest(progress.key)).data == 70.0

    (table,) = [a for a in artifacts if a.type == "table"]
    assert table.key == batch_artifact_key(ids, REPLICAS) and table.key.startswith(
        "tavus-batch-2-replicas-"
    )
    assert table.description.startswith("1 completed, 1 failed: Tavus batch of 2 replicas")
    rows = {row["replica_id"]: row for row in json.loads(table.data)}
    assert rows[failed]["progress"] == "40/100" and rows[failed]["outcome"] == "failed"

    details = {a.key: a for a in artifacts if a.type == "markdown"}
    assert set(details) == {
        details_artifact_key(done, REPLICAS),
        details_artifact_key(failed, REPLICAS),
    }
    assert details[details_artifact_key(failed, REPLICAS)].description.startswith(
        "Failed at 40/100: Tavus replica 'Rep B'"
    )
    failed_details = details[details_artifact_key(failed, REPLICAS)].data
    assert (
        "No face detected" in failed_details and "| Type | user |" in failed_details
    )  # re-read verbose

    # The same batch again (any order): the same keys, so the UI keeps one history per batch.
    again = wait_for_replicas(
        [failed, done], credentials, raise_on_failure=False, return_state=True, **FAST
    )
    keys = {a.key for a in asyncio.run(_artifacts(again.state_details.flow_run_id))}
    assert {progress.key, table.key} <= keys


def test_a_large_batch_writes_details_only_for_replicas_that_did_not_complete(
    simulator, credentials
):
    ids = [simulator.add_replica(training_seconds=0.3) for _ in range(PER_REPLICA_ARTIFACT_LIMIT)]
    bad = simulator.add_replica(training_seconds=0.3, outcome="error", fail_at_progress=10)
    state = wait_for_replicas(
        [*ids, bad], credentials, raise_on_failure=False, return_state=True, **FAST
    )
    artifacts = asyncio.run(_artifacts(state.state_details.flow_run_id))
    assert [a.key for a in artifacts if a.type == "markdown"] == [
        details_artifact_key(bad, REPLICAS)
    ]
    (table,) = [a for a in artifacts if a.type == "table"]
    assert len(json.loads(table.data)) == len(ids) + 1 and "did not complete" in table.description


def test_runs_are_named_after_what_they_are_about(simulator, credentials):
    from prefect_tavus.flows import create_replica_and_wait

    one = simulator.add_replica(training_seconds=0.5)
    failed = simulator.add_replica(training_seconds=0.5, outcome="error", fail_at_progress=30)
    single = wait_for_replica(one, credentials, return_state=True, **FAST)
    name, task_names = asyncio.run(_names_of_runs(single.state_details.flow_run_id))
    assert name == f"wait-for-{one}"
    assert task_names and all(re.fullmatch(r"poll-\d+", t) for t in task_names)

    batch = wait_for_replicas(
        [one, failed, one], credentials, raise_on_failure=False, return_state=True, **FAST
    )
    name, task_names = asyncio.run(_names_of_runs(batch.state_details.flow_run_id, expected=2))
    assert name == "wait-for-2-replicas"  # duplicates are waited on once, and counted once
    assert f"get-replica-{failed}" in task_names  # the failed one's error_message, read once
    assert all(re.fullmatch(rf"poll-\d+|get-replica-{failed}", t) for t in task_names)

    created = create_replica_and_wait(
        "https://example.invalid/videos/Intro_Take-2.mp4",
        credentials,
        replica_name="New Hire",
        return_state=True,
        **FAST,
    )
    name, task_names = asyncio.run(_names_of_runs(created.state_details.flow_run_id, expected=2))
    assert name == "create-and-wait-new-hire"
    assert "create-replica-new-hire" in task_names

    unnamed = create_replica_and_wait(
        "https://example.invalid/videos/Intro_Take-2.mp4?sig=x",
        credentials,
        return_state=True,
        **FAST,
    )
    name, task_names = asyncio.run(_names_of_runs(unnamed.state_details.flow_run_id, expected=2))
    assert name == "create-and-wait-intro-take-2" and "create-replica-intro-take-2" in task_names


def test_event_cards_show_the_replica_name_status_and_progress(simulator, credentials):
    # Fails 4 s in: time enough to be seen training first, even when a busy machine is slow
    # to start the flow run.
    rid = simulator.add_replica(
        replica_name="Feed Demo",
        training_seconds=10.0,
        outcome="error",
        fail_at_progress=40,
        error_message="Lighting too dark",
    )
    wait_for_replica(rid, credentials, raise_on_error=False, **FAST)
    events = asyncio.run(_events_about(rid))
    progress = [e for e in events if e["event"] == "tavus.replica.progress"]
    assert progress
    names = [e["resource"]["prefect.resource.name"] for e in progress]
    assert all(re.fullmatch(r"Feed Demo \(started, \d+/100\)", n) for n in names), names
    assert len(set(names)) == len(names)  # each card differs: it says how far training was
    for event in progress:
        resource = event["resource"]
        assert resource["prefect.resource.id"] == f"tavus.replica.{rid}"  # stable, for triggers
        assert (
            resource["tavus.replica.name"] == "Feed Demo"
            and resource["tavus.replica.status"] == "started"
        )
        assert resource["tavus.replica.progress"] == event["payload"]["training_progress"]
        assert set(event["payload"]) == {
            "replica_id",
            "status",
            "training_progress",
            "progress_percent",
            "error_message",
        }  # the payload is as it was
    (failed,) = [e for e in events if e["event"] == "tavus.replica.failed"]
    assert failed["resource"]["prefect.resource.name"] == "Feed Demo (error, 40/100)"
    assert failed["resource"]["tavus.replica.progress"] == "40/100"
    assert failed["payload"]["error_message"] == "Lighting too dark"
