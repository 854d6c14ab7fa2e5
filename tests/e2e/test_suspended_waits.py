"""Waits that release their worker, on the real stack (``conftest.py``): a deployment run
suspends, its process exits, and Tavus's callback (through the receiver, a real
process) or the sweep deployment resumes it; a worker runs it again and it ends as a
polling wait would. The simulator stands in for Tavus over loopback, and loses the
callbacks it is told to.

The sweep deployment's 10-minute schedule is switched off here; tests run it with
``prefect deployment run`` when they need it, so request counts are exact.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from prefect_tavus.blocks import TavusCredentials
from tests.e2e.conftest import DATABASES, SIM_KEY, Service, Stack, _processes_with_env, free_port
from tests.e2e.test_deployments import (
    completed_events,
    deployment_by_name,
    eventually,
    flow_run,
    run_deployment,
    run_logs,
    wait_until_completed,
    wait_until_final,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

CALLBACK_BLOCK = "tavus-callbacks"
TOKEN = "e2e-callback-token-6c1f0a9b2d"
FAST_WAIT = '{"poll_interval_seconds": 0.5, "max_poll_interval_seconds": 1}'
SWEEP = "resume-waits/resume-waits"
HAS_RECEIVER = importlib.util.find_spec("prefect_tavus.callbacks") is not None
#: Callback receivers, each its own process and port (as behind a load balancer).
RECEIVERS = ("receiver-1", "receiver-2")


@pytest.fixture(scope="module", params=DATABASES)
def database(request: pytest.FixtureRequest) -> str:
    """This module runs twice: on a server on SQLite, then on one on PostgreSQL."""
    return str(request.param)


# --- helpers -------------------------------------------------------------------------


def states(stack: Stack, run_id: str) -> list[str]:
    """The run's state names, oldest first."""
    found = stack.get(f"/flow_run_states/?flow_run_id={run_id}")
    return [s["name"] for s in sorted(found, key=lambda s: s["timestamp"])]


def wait_until_suspended(stack: Stack, run_id: str, times: int = 1) -> dict[str, Any]:
    def check() -> dict[str, Any]:
        run = flow_run(stack, run_id)
        assert run["state_type"] not in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}, (
            f"run ended {run['state_type']}: {(run.get('state') or {}).get('message')}\n{run_logs(stack, run_id)}"
        )
        assert run["state_name"] == "Suspended", run["state_name"]
        assert states(stack, run_id).count("Suspended") >= times, states(stack, run_id)
        return run

    return eventually(check, f"run {run_id} to be suspended ({times}x)")


def processes_of(run_id: str) -> list[int]:
    """Processes running this flow run (a worker starts it with PREFECT__FLOW_RUN_ID)."""
    return _processes_with_env(f"PREFECT__FLOW_RUN_ID={run_id}".encode())


def requests_for(stack: Stack, replica_ids: list[str]) -> int:
    """Requests the simulator served about these replicas (single GETs and list pages)."""
    stats = stack.simulator.stats()
    return sum(stats["by_replica"].get(r, 0) for r in replica_ids) + stats["by_route"].get(
        "GET /v2/replicas", 0
    )


def assert_released(
    stack: Stack, run_id: str, replica_ids: list[str], seconds: float = 3.0
) -> None:
    """While suspended: no process of the run exists, and Tavus hears nothing about the
    replicas it waits on (``replica_ids``)."""
    eventually(
        lambda: assert_no_process(run_id), f"the process of run {run_id} to exit", timeout=60
    )
    before = requests_for(stack, replica_ids)
    time.sleep(seconds)
    assert flow_run(stack, run_id)["state_name"] == "Suspended"
    assert processes_of(run_id) == []
    assert requests_for(stack, replica_ids) == before


def assert_no_process(run_id: str) -> None:
    assert processes_of(run_id) == [], f"processes of run {run_id}: {processes_of(run_id)}"


def sweep(stack: Stack) -> dict[str, Any]:
    run_id = run_deployment(stack, SWEEP)
    return wait_until_completed(stack, run_id, f"sweep run {run_id}")


@pytest.fixture(scope="module", autouse=True)
def sweep_schedule_off(stack: Stack) -> None:
    deployment = deployment_by_name(stack, "resume-waits")
    assert [s["schedule"].get("interval") for s in deployment["schedules"]] == [600.0]
    for schedule in deployment["schedules"]:
        response = stack.api.patch(
            f"/deployments/{deployment['id']}/schedules/{schedule['id']}", json={"active": False}
        )
        assert response.status_code == 204, response.text


@pytest.fixture(scope="module", autouse=True)
def next_step_trigger_off(stack: Stack) -> None:
    """This module counts requests to Tavus about the replicas it waits on. The next step
    (``welcome-videos``, triggered by every ``tavus.replica.completed``) asks
    Tavus about the same replicas, at a moment that depends on the worker: switch its
    trigger off here (tests/e2e/test_deployments.py follows the chain)."""
    automations = stack.post("/automations/filter", {})
    mine = [a for a in automations if a["name"].startswith("welcome-videos")]
    assert mine, [a["name"] for a in automations]
    for automation in mine:
        response = stack.api.patch(f"/automations/{automation['id']}", json={"enabled": False})
        assert response.status_code == 204, response.text


# --- the sweep: lost callbacks, failures, deadlines ------------------------------------


@pytest.fixture(scope="module")
def swept(stack: Stack) -> dict[str, Any]:
    """Three waits that release their worker, with every callback lost: a batch (one
    replica already finished at the first check), a replica whose training fails, and a
    replica that outlives its wait's deadline. One sweep resumes all three."""
    sim = stack.simulator
    lost = {"drop_callback": True, "callback_url": "http://127.0.0.1:9/never-called"}
    batch = [
        sim.add_replica(training_seconds=0, replica_name="Done early", **lost),
        *(sim.add_replica(training_seconds=60, **lost) for _ in range(2)),
    ]
    failing = sim.add_replica(
        training_seconds=60,
        outcome="error",
        error_message="Face not visible",
        fail_at_progress=100,
        **lost,
    )
    endless = sim.add_replica(training_seconds=3600, **lost)
    runs = {
        "batch": run_deployment(
            stack,
            "wait-for-replicas/wait-for-replicas",
            f"replica_ids={batch}".replace("'", '"'),
            "release_worker=true",
            f"wait_settings={FAST_WAIT}",
        ),
        "failing": run_deployment(
            stack,
            "wait-for-replica/wait-for-replica",
            f"replica_id={failing}",
            "release_worker=true",
            f"wait_settings={FAST_WAIT}",
        ),
        "endless": run_deployment(
            stack,
            "wait-for-replica/wait-for-replica",
            f"replica_id={endless}",
            "release_worker=true",
            'wait_settings={"poll_interval_seconds": 0.5, "timeout_seconds": 60}',
        ),
    }
    for run_id in runs.values():
        wait_until_suspended(stack, run_id)
    # About the replicas it still waits on: "Done early" was reported at the first check,
    # and the next step its completed event triggers asks Tavus about it, as it should.
    assert_released(stack, runs["batch"], batch[1:])
    suspended_with = {name: flow_run(stack, run_id)["labels"] for name, run_id in runs.items()}
    # Past every end: the batch's and the failing replica's training, the deadline.
    eventually(lambda: _all_finished(stack, [*batch, failing]), "training to end", timeout=60)
    time.sleep(
        max(0.0, float(suspended_with["endless"]["tavus.wait.deadline"]) - time.time()) + 0.5
    )
    dropped = sim.stats()["callbacks"]["dropped"]
    sim.reset_stats()
    result = sweep(stack)
    finals = {name: wait_until_final(stack, run_id, f"{name} run") for name, run_id in runs.items()}
    return {
        "runs": runs,
        "batch": batch,
        "failing": failing,
        "endless": endless,
        "sweep": result,
        "finals": finals,
        "suspended_with": suspended_with,
        "requests": stack.simulator.stats(),
        "dropped": dropped,
    }


def _all_finished(stack: Stack, replica_ids: list[str]) -> None:
    assert all(stack.simulator.finished_at(r) is not None for r in replica_ids)


def test_a_lost_callback_is_made_up_for_by_the_sweep(stack: Stack, swept: dict[str, Any]) -> None:
    run_id, batch = swept["runs"]["batch"], swept["batch"]
    labels = swept["suspended_with"]["batch"]
    # The replica finished at the first check was reported then, not waited for.
    assert set(labels["tavus.wait.replicas"].split(",")) == set(batch[1:]), labels
    run = swept["finals"]["batch"]
    assert run["state_type"] == "COMPLETED", (run["state"], run_logs(stack, run_id))
    history = states(stack, run_id)
    assert history.count("Suspended") == 1 and history.count("Running") == 2, history
    assert swept["dropped"] >= 3  # every callback lost
    # One completed event per replica, though the batch ran twice (no repeat after resuming).
    for replica_id in batch:
        found = eventually(
            lambda replica_id=replica_id: _one_event(stack, replica_id, run_id),
            f"the completed event of {replica_id}",
        )
        assert found["payload"]["status"] == "completed"
    artifacts = stack.post("/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run_id]}}})
    assert any(a.get("type") == "table" for a in artifacts), artifacts


def _one_event(stack: Stack, replica_id: str, run_id: str) -> dict[str, Any]:
    found = completed_events(
        stack,
        resource={"id": [f"tavus.replica.{replica_id}"]},
        related={"id": [f"prefect.flow-run.{run_id}"]},
    )
    assert len(found) == 1, f"{len(found)} completed events for {replica_id}"
    return found[0]


def test_the_sweep_costs_one_request_per_100_replicas(swept: dict[str, Any]) -> None:
    # Sweep: one list request for the 4 suspended replicas; then each resumed run checks once
    # (a list for the batch, a GET for each single wait).
    by_route = swept["requests"]["by_route"]
    assert by_route.get("GET /v2/replicas") == 2, by_route
    assert by_route.get("GET /v2/replicas/{id}") == 2, by_route


def test_a_failed_training_fails_the_resumed_run(stack: Stack, swept: dict[str, Any]) -> None:
    run = swept["finals"]["failing"]
    assert run["state_type"] == "FAILED", run["state"]
    message = run["state"].get("message") or ""
    assert "Face not visible" in message, message
    if "failed" not in message:
        logged(stack, swept["runs"]["failing"], "ReplicaTrainingFailedError")


def test_a_deadline_passing_while_suspended_ends_as_a_timeout(
    stack: Stack, swept: dict[str, Any]
) -> None:
    run = swept["finals"]["endless"]
    assert run["state_type"] == "FAILED", run["state"]
    message = run["state"].get("message") or ""
    assert "started" in message and "/100" in message, (
        message
    )  # the last status seen, not a pause timeout
    assert "never resumed" not in message
    if "deadline" not in message:
        logged(stack, swept["runs"]["endless"], "ReplicaWaitTimeoutError")


def logged(stack: Stack, run_id: str, text: str) -> None:
    """``text`` is in the run's logs, once they arrive: a run's process sends its last logs
    after its final state, so they can reach the server a moment after the test sees it."""

    def check() -> None:
        assert text in run_logs(stack, run_id), f"no {text!r} in the logs of run {run_id}"

    eventually(check, f"{text!r} in the logs of run {run_id}", timeout=30)


# --- forged callbacks, cancelling ----------------------------------------------------


def test_a_forged_ready_costs_one_request_and_the_run_suspends_again(stack: Stack) -> None:
    replica_id = stack.simulator.add_replica(training_seconds=3600, drop_callback=True)
    run_id = run_deployment(
        stack,
        "wait-for-replica/wait-for-replica",
        f"replica_id={replica_id}",
        "release_worker=true",
        f"wait_settings={FAST_WAIT}",
    )
    wait_until_suspended(stack, run_id)
    eventually(lambda: assert_no_process(run_id), "the suspended run's process to exit", timeout=60)
    before = requests_for(stack, [replica_id])
    # What the receiver does with a forged {"replica_id": ..., "status": "ready"}: resume.
    forge_ready(stack, replica_id, run_id)
    wait_until_suspended(stack, run_id, times=2)
    assert requests_for(stack, [replica_id]) == before + 1
    stack.prefect("flow-run", "cancel", run_id)


def forge_ready(stack: Stack, replica_id: str, run_id: str) -> None:
    if HAS_RECEIVER and getattr(stack, "receiver_url", None):
        response = httpx.post(
            stack.receiver_url, json={"replica_id": replica_id, "status": "ready"}, timeout=10
        )
        assert response.status_code < 300, response.text
    else:  # until the receiver is merged: the resume it would make, through the same contract
        response = stack.api.post(f"/flow_runs/{run_id}/resume", json={})
        assert response.json()["status"] == "ACCEPT", response.text


def test_cancelling_a_suspended_run_cancels_it_for_good(stack: Stack) -> None:
    replica_id = stack.simulator.add_replica(training_seconds=3600, drop_callback=True)
    run_id = run_deployment(
        stack,
        "wait-for-replica/wait-for-replica",
        f"replica_id={replica_id}",
        "release_worker=true",
        f"wait_settings={FAST_WAIT}",
    )
    wait_until_suspended(stack, run_id)
    stack.prefect("flow-run", "cancel", run_id)
    assert wait_until_final(stack, run_id, "cancelled run")["state_type"] == "CANCELLED"
    # What the sweep and the receiver go by: it is no suspended wait any more, and a resume is refused.
    suspended = stack.post(
        "/flow_runs/filter", {"flow_runs": {"state": {"name": {"any_": ["Suspended"]}}}}
    )
    assert run_id not in {run["id"] for run in suspended}
    result = stack.api.post(f"/flow_runs/{run_id}/resume", json={}).json()
    assert result["status"] != "ACCEPT", result
    time.sleep(2)
    assert flow_run(stack, run_id)["state_type"] == "CANCELLED"
    assert processes_of(run_id) == []


# --- the callback receiver (a real process) -----------------------------------------


@dataclass
class Receiver:
    """One ``prefect-tavus callbacks`` process (a service of the stack), on a fixed port."""

    service: Service
    #: ``http://127.0.0.1:<port>``: what a ``callback_base_url`` names.
    base: str

    @property
    def name(self) -> str:
        return self.service.name

    @property
    def url(self) -> str:
        """The callback URL Tavus is given (it holds the token)."""
        return f"{self.base}/tavus/callbacks/{TOKEN}"

    def wait_healthy(self, timeout: float = 60.0) -> None:
        def healthy() -> None:
            assert self.service.running, f"{self.name} exited:\n{self.service.tail()}"
            try:
                response = httpx.get(f"{self.base}/healthz", timeout=2)
            except httpx.TransportError as exc:
                raise AssertionError(str(exc)) from None
            assert response.status_code == 200, response.text

        eventually(healthy, f"{self.name} to answer GET /healthz", timeout=timeout)

    def stop(self) -> None:
        self.service.stop()

    def start(self) -> None:
        """Start it again on the same port; return once it is healthy."""
        self.service.start()
        self.wait_healthy()

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="module")
def receivers(stack: Stack) -> Iterator[list[Receiver]]:
    """Two callback receivers, each its own process, port and Prefect home. The
    ``tavus-callbacks`` block sends Tavus to the first (``stack.receiver_url``)."""
    if not HAS_RECEIVER:
        pytest.skip(
            "the callback receiver (prefect_tavus.callbacks, branch issue-receiver) is not merged yet"
        )
    script = Path(sys.executable).with_name("prefect-tavus")
    found = []
    try:
        for name in RECEIVERS:
            port = free_port()
            service = stack.start_process(
                name,
                [str(script), "callbacks", "--host", "127.0.0.1", "--port", str(port)],
                {"TAVUS_CALLBACK_TOKEN": TOKEN},
            )
            found.append(Receiver(service, f"http://127.0.0.1:{port}"))
        for one in found:
            one.wait_healthy()
        _save_callback_block(stack, found[0].base)
        stack.receiver_url = found[0].url  # type: ignore[attr-defined]
        yield found
    finally:
        stack.__dict__.pop("receiver_url", None)
        for one in found:
            one.stop()
            stack.services.pop(one.name, None)


@pytest.fixture(scope="module")
def receiver(receivers: list[Receiver]) -> str:
    """The base URL of the receiver Tavus calls back (the first of ``receivers``)."""
    return receivers[0].base


def _save_callback_block(stack: Stack, base: str) -> None:
    from prefect.settings import (
        PREFECT_API_AUTH_STRING,
        PREFECT_API_KEY,
        PREFECT_API_URL,
        temporary_settings,
    )

    with temporary_settings(
        {PREFECT_API_URL: stack.api_url},
        restore_defaults={PREFECT_API_KEY, PREFECT_API_AUTH_STRING},
    ):
        TavusCredentials(
            api_key=SIM_KEY,
            base_url=stack.simulator.url,
            request_timeout_seconds=5,
            min_poll_spacing_seconds=0.01,
            callback_base_url=base,
            callback_token=TOKEN,
        ).save(CALLBACK_BLOCK, overwrite=True)


def test_a_suspended_wait_is_resumed_by_its_callback(stack: Stack, receiver: str) -> None:
    sim = stack.simulator
    delivered = sim.stats()["callbacks"]["delivered"]
    # Training ends when the test says (sim.end_training), not when a busy machine
    # happens to have suspended the run by.
    sim.state.default_training_seconds = 3600.0
    try:
        run_id = run_deployment(
            stack,
            "create-replica-and-wait/create-replica-and-wait",
            "train_video_url=https://example.com/e2e-callback.mp4",
            "replica_name=E2E callback",
            f"tavus_credentials={CALLBACK_BLOCK}",
            "release_worker=true",
            f"wait_settings={FAST_WAIT}",
        )
        wait_until_suspended(stack, run_id)
    finally:
        sim.state.default_training_seconds = 3.0
    replica_id = flow_run(stack, run_id)["labels"]["tavus.wait.replicas"]
    assert_released(stack, run_id, [replica_id], seconds=1.0)
    sim.end_training(replica_id)  # its callback goes out now
    run = wait_until_completed(stack, run_id, f"create-replica-and-wait run {run_id}")
    assert sim.stats()["callbacks"]["delivered"] == delivered + 1
    finished = sim.finished_at(replica_id)
    assert finished is not None
    ended = run["end_time"]
    assert states(stack, run_id).count("Suspended") == 1
    assert TOKEN not in str(run) and TOKEN not in run_logs(stack, run_id)
    print(f"callback: replica finished -> run completed in {_epoch(ended) - finished:.1f} s")


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


# --- the stack's own restarts (what outage tests build on) ---------------------------


def test_the_stack_comes_back_after_restarts(stack: Stack, receivers: list[Receiver]) -> None:
    """The server down and back on the same port and database, a worker and a receiver
    restarted: the deployments are still there and a run still completes."""
    deployments = {d["name"] for d in stack.post("/deployments/filter", {})}
    with stack.server_down(seconds=3), pytest.raises(httpx.TransportError):
        httpx.get(f"{stack.api_url}/health", timeout=2)
    assert {d["name"] for d in stack.post("/deployments/filter", {})} == deployments
    stack.restart_worker("worker-2")
    receivers[1].restart()
    replica_id = stack.simulator.add_replica(training_seconds=1)
    run_id = run_deployment(
        stack,
        "wait-for-replica/wait-for-replica",
        f"replica_id={replica_id}",
        f"wait_settings={FAST_WAIT}",
    )
    wait_until_completed(stack, run_id, f"wait-for-replica run {run_id} after the restarts")
