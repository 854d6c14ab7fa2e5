"""prefect.yaml, deployed and run for real: the README's "Deploy" commands, then the chain.

``prefect deploy --all`` on a real server, a process worker picking the runs up, and the
trigger of ``welcome-videos`` turning a wait's ``tavus.replica.completed`` event
into a run of the next step (which confirms with Tavus before acting). Setup is in
``conftest.py``; all of it runs over loopback against the Tavus simulator.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, TypeVar

import pytest
import yaml

from tests.e2e.conftest import BLOCK_NAME, POOL, PROJECT_ROOT, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

T = TypeVar("T")

#: Bound on each wait below; a healthy run needs a few seconds for each.
STEP_TIMEOUT = 120.0
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def eventually(
    check: Callable[[], T], what: str, timeout: float = STEP_TIMEOUT, every: float = 0.5
) -> T:
    """Call ``check`` until it returns without an AssertionError; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError as exc:
            if time.monotonic() > deadline:
                pytest.fail(f"Timed out after {timeout:.0f} s waiting for {what}: {exc}")
        time.sleep(every)


def only(items: list[T]) -> T:
    assert len(items) == 1, f"expected exactly one, got {len(items)}: {items}"
    return items[0]


def project_deployments() -> list[dict[str, Any]]:
    return yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())["deployments"]


def deployment_by_name(stack: Stack, name: str) -> dict[str, Any]:
    found = stack.post("/deployments/filter", {"deployments": {"name": {"any_": [name]}}})
    assert len(found) == 1, f"expected one deployment named {name!r}, found {len(found)}"
    return found[0]


def flow_run(stack: Stack, run_id: str) -> dict[str, Any]:
    return stack.get(f"/flow_runs/{run_id}")


def run_logs(stack: Stack, run_id: str) -> str:
    logs = stack.post("/logs/filter", {"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200})
    return "\n".join(f"{log['level']:>2} {log['message']}" for log in logs)


def wait_until_final(stack: Stack, run_id: str, what: str) -> dict[str, Any]:
    """The flow run once it is COMPLETED, FAILED, CRASHED or CANCELLED."""

    def check() -> dict[str, Any]:
        run = flow_run(stack, run_id)
        assert run.get("state_type") in FINAL, (
            f"{what} is {run.get('state_type')} ({run.get('state_name')})"
        )
        return run

    return eventually(check, f"{what} to finish")


def wait_until_completed(stack: Stack, run_id: str, what: str) -> dict[str, Any]:
    run = wait_until_final(stack, run_id, what)
    if run["state_type"] != "COMPLETED":
        message = (run.get("state") or {}).get("message")
        pytest.fail(
            f"{what} ended {run['state_type']}: {message}\nflow-run logs:\n{run_logs(stack, run_id)}"
        )
    return run


def run_deployment(stack: Stack, name: str, *params: str) -> str:
    """``prefect deployment run <name> --param k=v ...``, as a user types it; the run's id."""
    args = [arg for param in params for arg in ("--param", param)]
    output = stack.prefect("deployment", "run", name, *args)
    match = UUID_RE.search(output.split("UUID:", 1)[-1])
    assert match, f"no flow-run id in `prefect deployment run` output:\n{output}"
    return match.group(0)


def completed_events(stack: Stack, **resource_filter: Any) -> list[dict[str, Any]]:
    return stack.post(
        "/events/filter",
        {
            "filter": {"event": {"name": ["tavus.replica.completed"]}, **resource_filter},
            "limit": 50,
        },
    )["events"]


def triggered_runs(stack: Stack, replica_id: str, expect: int = 1) -> list[dict[str, Any]]:
    """welcome-videos runs for ``replica_id`` (waits until there are ``expect``)."""
    welcome = deployment_by_name(stack, "welcome-videos")

    def check() -> list[dict[str, Any]]:
        runs = stack.post("/flow_runs/filter", {"deployments": {"id": {"any_": [welcome["id"]]}}})
        mine = [r for r in runs if r["parameters"].get("replica_id") == replica_id]
        assert len(mine) >= expect, (
            f"{len(mine)} welcome-videos runs for {replica_id} (of {len(runs)})"
        )
        return mine

    return eventually(check, f"the trigger to start welcome-videos for {replica_id}")


def test_every_flow_is_deployed_on_the_process_pool(stack: Stack) -> None:
    wanted = project_deployments()
    assert {d["name"] for d in wanted} >= {
        "wait-for-replica",
        "wait-for-replicas",
        "create-replica-and-wait",
        "wait-for-video",
        "wait-for-videos",
        "generate-videos",
        "welcome-videos",
    }
    for spec in wanted:
        deployment = deployment_by_name(stack, spec["name"])
        assert deployment["work_pool_name"] == POOL, spec["name"]
        assert deployment["parameters"].get("tavus_credentials") == BLOCK_NAME, spec["name"]
        # No `pull` section in prefect.yaml: deploy records the project directory.
        steps = deployment.get("pull_steps") or []
        assert any(
            step.get("prefect.deployments.steps.set_working_directory", {}).get("directory")
            == str(PROJECT_ROOT)
            for step in steps
        ), (spec["name"], steps)

    welcome = deployment_by_name(stack, "welcome-videos")
    automations = stack.get(f"/automations/related-to/prefect.deployment.{welcome['id']}")
    assert len(automations) == 1, automations
    (automation,) = automations
    assert automation["enabled"] is True
    trigger = automation["trigger"]
    assert trigger["type"] == "event"
    assert trigger["posture"] == "Reactive"
    assert trigger["expect"] == ["tavus.replica.completed"]
    assert trigger["match"] == {"prefect.resource.id": "tavus.replica.*"}
    assert trigger["for_each"] == ["prefect.resource.id"]
    (action,) = automation["actions"]
    assert action["type"] == "run-deployment"
    assert action["deployment_id"] == welcome["id"]
    assert action["parameters"] == {
        "replica_id": "{{ event.resource['tavus.replica.id'] }}",
        "tavus_credentials": BLOCK_NAME,
        "require_completed_replica": True,
        "requests": [
            {
                "key": "welcome",
                "video_name": "Welcome",
                "script": "Hello! I am your new presenter, and this is my first video.",
            }
        ],
    }


def test_a_completed_wait_triggers_the_next_step(stack: Stack) -> None:
    started = time.monotonic()
    replica_id = stack.simulator.add_replica(replica_name="E2E presenter", training_seconds=8.0)

    # The README's command, as a user would type it.
    run_id = run_deployment(
        stack,
        "wait-for-replica/wait-for-replica",
        f"replica_id={replica_id}",
        'wait_settings={"poll_interval_seconds": 0.5, "max_poll_interval_seconds": 1}',
    )

    # 1. The worker runs the wait, which polls the simulator until training completes.
    run = wait_until_completed(stack, run_id, f"wait-for-replica run {run_id}")
    assert run["parameters"]["replica_id"] == replica_id
    assert stack.simulator.stats()["by_replica"].get(replica_id, 0) >= 1

    # 2. Its artifacts: progress, and the final report under a predictable key.
    artifacts = stack.post("/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run_id]}}})
    keys = {a.get("key") for a in artifacts}
    assert f"tavus-replica-{replica_id.lower()}" in keys, artifacts
    assert any(a.get("type") == "progress" for a in artifacts), artifacts

    # 3. Its events, persisted by the server.
    resource_id = f"tavus.replica.{replica_id}"

    def completed_event() -> dict[str, Any]:
        found = completed_events(stack, resource={"id": [resource_id]})
        assert len(found) == 1, f"{len(found)} tavus.replica.completed events for {resource_id}"
        return found[0]

    event = eventually(completed_event, f"the tavus.replica.completed event of {replica_id}")
    assert event["resource"]["tavus.replica.id"] == replica_id
    assert event["payload"]["replica_id"] == replica_id
    assert event["payload"]["status"] == "completed"
    assert {
        (r["prefect.resource.id"], r.get("prefect.resource.role")) for r in event["related"]
    } >= {(f"prefect.flow-run.{run_id}", "flow-run")}

    # 4. The trigger starts welcome-videos for that replica: one video, made and ready.
    downstream = only(triggered_runs(stack, replica_id))
    assert downstream["parameters"]["replica_id"] == replica_id
    assert downstream["parameters"]["require_completed_replica"] is True
    assert (downstream.get("created_by") or {}).get("type") == "AUTOMATION", downstream.get(
        "created_by"
    )
    downstream = wait_until_completed(
        stack, downstream["id"], f"welcome-videos run {downstream['id']}"
    )

    artifacts = stack.post(
        "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [downstream["id"]]}}}
    )
    (table,) = [a for a in artifacts if (a.get("key") or "").startswith("tavus-videos-1-rows-")]
    (row,) = json.loads(table["data"])
    assert row["key"] == "welcome" and row["outcome"] == "completed" and row["download_url"], row
    assert stack.simulator.video_payload(row["video_id"])["replica_id"] == replica_id
    print(f"wait run -> triggered next step completed in {time.monotonic() - started:.1f} s")


def test_the_next_step_confirms_with_tavus_before_acting(stack: Stack) -> None:
    """A ``tavus.replica.completed`` event for a replica still training (stale, replayed
    or forged) starts the next step, which asks Tavus, refuses, and generates nothing."""
    replica_id = stack.simulator.add_replica(replica_name="Still training", training_seconds=3600.0)
    response = stack.api.post(
        "/events",
        json=[
            {
                "id": str(uuid.uuid4()),
                "occurred": datetime.now(timezone.utc).isoformat(),
                "event": "tavus.replica.completed",
                "resource": {
                    "prefect.resource.id": f"tavus.replica.{replica_id}",
                    "prefect.resource.name": "Still training",
                    "tavus.replica.id": replica_id,
                },
                "payload": {
                    "replica_id": replica_id,
                    "status": "completed",
                    "training_progress": "100/100",
                    "progress_percent": 100.0,
                    "error_message": None,
                },
            }
        ],
    )
    assert response.status_code == 204, response.text

    creates = stack.simulator.stats()["by_route"].get("POST /v2/videos", 0)
    downstream = only(triggered_runs(stack, replica_id))
    assert downstream["parameters"]["replica_id"] == replica_id
    run = wait_until_final(stack, downstream["id"], f"welcome-videos run {downstream['id']}")
    assert run["state_type"] == "FAILED", run["state"]
    assert "not completed" in (run["state"].get("message") or ""), run["state"]
    assert stack.simulator.stats()["by_replica"].get(replica_id, 0) >= 1  # it did ask Tavus
    assert (
        stack.simulator.stats()["by_route"].get("POST /v2/videos", 0) == creates
    )  # and made nothing
    artifacts = stack.post(
        "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [downstream["id"]]}}}
    )
    assert not [a for a in artifacts if (a.get("key") or "").startswith("tavus-videos-")], artifacts


def test_create_replica_and_wait_chains_to_the_next_step(stack: Stack) -> None:
    """The whole pipeline from a training video: create (once), wait, event, next step."""
    creates_before = stack.simulator.stats()["by_route"].get("POST /v2/replicas", 0)
    run_id = run_deployment(
        stack,
        "create-replica-and-wait/create-replica-and-wait",
        "train_video_url=https://example.com/e2e-training.mp4",
        "replica_name=E2E created",
        'wait_settings={"poll_interval_seconds": 0.5, "max_poll_interval_seconds": 1}',
    )
    wait_until_completed(stack, run_id, f"create-replica-and-wait run {run_id}")
    assert stack.simulator.stats()["by_route"].get("POST /v2/replicas", 0) == creates_before + 1

    def created_event() -> dict[str, Any]:
        found = completed_events(stack, related={"id": [f"prefect.flow-run.{run_id}"]})
        assert len(found) == 1, f"{len(found)} tavus.replica.completed events from run {run_id}"
        return found[0]

    event = eventually(created_event, f"the tavus.replica.completed event of run {run_id}")
    replica_id = event["resource"]["tavus.replica.id"]
    assert stack.simulator.replica_payload(replica_id)["replica_name"] == "E2E created"

    downstream = only(triggered_runs(stack, replica_id))
    wait_until_completed(stack, downstream["id"], f"welcome-videos run {downstream['id']}")
