"""Waits that release their worker, on the infrastructure they exist for: nothing that
matters lives in one process's memory or on one machine's disk.

The stack (``conftest.py``) is a real ``prefect server start`` on SQLite and on PostgreSQL,
two process workers that share no Prefect home (no local result storage in common: two
machines, or a fresh container per life), two callback receivers as real processes
(``test_suspended_waits.receivers``), and the Tavus simulator. Processes are stopped,
wiped and restarted mid-scenario; the Prefect server itself goes down for minutes.

The sweep's schedule and the example next step's trigger are off (as in
``test_suspended_waits``), so that nothing but what a test does resumes a run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from prefect_tavus.blocks import TavusCredentials
from prefect_tavus.simulator import Fault
from tests.e2e.conftest import DATABASES, SIM_KEY, Stack
from tests.e2e.test_deployments import (
    completed_events,
    eventually,
    flow_run,
    run_deployment,
    run_logs,
    wait_until_completed,
    wait_until_final,
)
from tests.e2e.test_suspended_waits import (  # noqa: F401 - fixtures, used by name
    CALLBACK_BLOCK,
    FAST_WAIT,
    SWEEP,
    Receiver,
    assert_no_process,
    logged,
    next_step_trigger_off,
    receiver,
    receivers,
    states,
    sweep_schedule_off,
    wait_until_suspended,
)

# The longest test keeps the Prefect server down for 4 minutes.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

CREATE_ROUTE = "POST /v2/replicas"
REFUSED_BLOCK = "tavus-refused-key"


@pytest.fixture(scope="module", params=DATABASES)
def database(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _labels(stack: Stack, run_id: str) -> dict[str, Any]:
    return flow_run(stack, run_id)["labels"]


def _fresh_machines(stack: Stack) -> None:
    """Every worker stopped, its Prefect home emptied (local results, profiles, caches),
    and started again: the next life of any run starts on a machine that never saw it."""
    for name in stack.worker_names:
        stack.stop_worker(name)
        home = Path(stack.worker(name).env["PREFECT_HOME"])
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        stack.start_worker(name)


def _one_completed_event(stack: Stack, replica_id: str) -> dict[str, Any]:
    found = completed_events(stack, resource={"id": [f"tavus.replica.{replica_id}"]})
    assert len(found) == 1, f"{len(found)} tavus.replica.completed events for {replica_id}"
    return found[0]


# --- 1. never train twice ------------------------------------------------------------


def test_a_create_and_wait_whose_next_life_finds_local_storage_wiped_trains_once(
    stack: Stack, receiver: str
) -> None:
    sim = stack.simulator
    creates = sim.stats()["by_route"].get(CREATE_ROUTE, 0)
    sim.state.default_training_seconds = 25.0  # long enough to suspend and wipe the machines
    try:
        run_id = run_deployment(
            stack,
            "create-replica-and-wait/create-replica-and-wait",
            "train_video_url=https://example.com/e2e-durable-create.mp4",
            f"replica_name=E2E durable create {stack.database}",
            f"tavus_credentials={CALLBACK_BLOCK}",
            "release_worker=true",
            f"wait_settings={FAST_WAIT}",
        )
        wait_until_suspended(stack, run_id)
    finally:
        sim.state.default_training_seconds = 3.0
    labels = _labels(stack, run_id)
    replica_id = labels["tavus.create.replica_id"]
    assert labels["tavus.wait.replicas"] == replica_id
    # Its process exits by itself; a machine going down under a process still exiting
    # would be another test (Prefect marks such a run Crashed).
    eventually(
        lambda: assert_no_process(run_id), f"the process of run {run_id} to exit", timeout=60
    )
    _fresh_machines(stack)

    run = wait_until_completed(stack, run_id, f"create-and-wait run {run_id}")

    assert sim.stats()["by_route"].get(CREATE_ROUTE, 0) == creates + 1  # trained (and billed) once
    assert states(stack, run_id).count("Suspended") == 1
    assert run["state"]["type"] == "COMPLETED"
    eventually(
        lambda: _one_completed_event(stack, replica_id), f"one completed event for {replica_id}"
    )
    time.sleep(2)  # a late duplicate would have arrived by now (events persist within 0.5 s)
    _one_completed_event(stack, replica_id)


# --- 2. receivers hold nothing that matters ------------------------------------------


def test_a_batch_whose_callbacks_go_to_two_receivers_one_restarted_completes_without_a_sweep(
    stack: Stack, receivers: list[Receiver]
) -> None:
    first, second = receivers
    sim = stack.simulator
    # A load balancer's spread: two callbacks to the first receiver, one to the second.
    delivered = sim.stats()["callbacks"]["delivered"]
    batch = [
        sim.add_replica(training_seconds=20, callback_url=first.url),
        sim.add_replica(training_seconds=35, callback_url=second.url),
        sim.add_replica(training_seconds=55, callback_url=first.url),
    ]
    run_id = run_deployment(
        stack,
        "wait-for-replicas/wait-for-replicas",
        f"replica_ids={batch}".replace("'", '"'),
        "release_worker=true",
        f"wait_settings={FAST_WAIT}",
    )
    wait_until_suspended(stack, run_id)
    eventually(lambda: _called_back(stack, batch[0]), "the first callback", timeout=90)
    first.restart()  # between its two callbacks: whatever it held in memory is gone
    assert sim.finished_at(batch[2]) is None, (
        "the machine was too slow: the last callback came during the restart"
    )
    eventually(lambda: _called_back(stack, batch[1]), "the second callback", timeout=90)

    run = wait_until_completed(stack, run_id, f"batch run {run_id}")

    assert sim.stats()["callbacks"]["delivered"] == delivered + 3
    assert all(sim.finished_at(r) is not None for r in batch)
    history = states(stack, run_id)
    assert history.count("Suspended") == 1 and history.count("Running") == 2, (
        history
    )  # resumed exactly once
    assert run["end_time"]


def _called_back(stack: Stack, replica_id: str) -> None:
    finished = stack.simulator.finished_at(replica_id)
    assert finished is not None and time.time() > finished + 1.0


# --- 3. Prefect's own outage ---------------------------------------------------------


def test_the_prefect_server_down_for_4_minutes_is_survived_by_polling_and_releasing_waits(
    stack: Stack, receivers: list[Receiver]
) -> None:
    """One outage, two waits: a polling wait whose replica completes while the server is
    down, and a release_worker wait whose first check came just before the outage (it
    cannot record itself or suspend until the API is back). The first ends Completed when
    the server is back; the second suspends then, and its callback resumes it.

    On PostgreSQL, the production setup, only: four minutes of outage per database is
    CI's most expensive test (a polling wait through the same outage on SQLite was
    checked by hand)."""
    if stack.database != "postgres":
        pytest.skip("the 4-minute outage runs on PostgreSQL only, to hold CI time")
    sim = stack.simulator
    outage = 240.0
    # Training ends when the test says (sim.end_training), whatever the machine's speed.
    polled = sim.add_replica(training_seconds=3600)
    released = sim.add_replica(training_seconds=3600)
    fast = 'wait_settings={"poll_interval_seconds": 2, "max_poll_interval_seconds": 5}'
    # Tavus answers the releasing wait's first checks 503 for about 40 s, so that its first
    # successful check, the one after which it releases its worker, comes when Prefect is
    # already down, however fast this machine stops the server.
    sim.inject_faults(released, [Fault.status(503)] * 12)
    polling_run = run_deployment(
        stack, "wait-for-replica/wait-for-replica", f"replica_id={polled}", fast
    )
    releasing_run = run_deployment(
        stack,
        "wait-for-replica/wait-for-replica",
        f"replica_id={released}",
        "release_worker=true",
        fast,
    )
    eventually(
        lambda: _asked_about(stack, [polled, released]), "both waits to ask Tavus", timeout=180
    )
    with stack.server_down(outage):
        down_at = time.time()
        eventually(
            lambda: _no_faults_left(stack),
            "the releasing wait's first successful check",
            timeout=120,
        )
        time.sleep(30)
        sim.end_training(polled)  # completes while the server is down
    back_at = time.time()

    assert down_at < sim.finished_at(polled) < back_at
    run = wait_until_final(stack, polling_run, "the polling run")
    assert run["state_type"] == "COMPLETED", (run["state"], run_logs(stack, polling_run))

    wait_until_suspended(stack, releasing_run)
    suspended_at = _epoch(_state_times(stack, releasing_run, "Suspended")[0])
    assert (
        suspended_at > back_at
    )  # it could not suspend while the API was down, and did once it was back
    sim.end_training(released)
    # Tavus's callback, as the simulator would send it, to the second receiver.
    answer = httpx.post(
        receivers[1].url, json={"replica_id": released, "status": "ready"}, timeout=10
    )
    assert answer.status_code == 202, answer.text
    run = wait_until_final(stack, releasing_run, "the releasing run")
    assert run["state_type"] == "COMPLETED", (run["state"], run_logs(stack, releasing_run))
    assert states(stack, releasing_run).count("Suspended") == 1
    for run_id in (polling_run, releasing_run):
        assert not {"CRASHED", "FAILED"} & {
            s["type"] for s in stack.get(f"/flow_run_states/?flow_run_id={run_id}")
        }


def _no_faults_left(stack: Stack) -> None:
    pending = stack.simulator.state.pending_faults()
    assert not any(pending.values()), pending


def _asked_about(stack: Stack, replica_ids: list[str]) -> None:
    by_replica = stack.simulator.stats()["by_replica"]
    assert all(by_replica.get(r, 0) >= 1 for r in replica_ids), by_replica


def _state_times(stack: Stack, run_id: str, name: str) -> list[str]:
    found = stack.get(f"/flow_run_states/?flow_run_id={run_id}")
    return sorted(s["timestamp"] for s in found if s["name"] == name)


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


# --- 4. the sweep ends what must end -------------------------------------------------


def test_a_sweep_facing_a_refused_key_and_an_unreadable_record_still_ends_a_deadline_passed_wait(
    stack: Stack,
) -> None:
    sim = stack.simulator
    lost = {"drop_callback": True, "callback_url": "http://127.0.0.1:9/never-called"}
    endless = sim.add_replica(training_seconds=3600, **lost)
    other = sim.add_replica(training_seconds=3600, **lost)
    training = sim.add_replica(training_seconds=3600, **lost)
    late = run_deployment(
        stack,
        "wait-for-replica/wait-for-replica",
        f"replica_id={endless}",
        "release_worker=true",
        'wait_settings={"poll_interval_seconds": 0.5, "timeout_seconds": 30}',
    )
    broken = run_deployment(
        stack,
        "wait-for-replica/wait-for-replica",
        f"replica_id={other}",
        "release_worker=true",
        f"wait_settings={FAST_WAIT}",
    )
    # Its deadline is hours away: the sweep must ask Tavus about it, with the refused key.
    waiting = run_deployment(
        stack,
        "wait-for-replica/wait-for-replica",
        f"replica_id={training}",
        "release_worker=true",
        f"wait_settings={FAST_WAIT}",
    )
    for run_id in (late, broken, waiting):
        wait_until_suspended(stack, run_id)
    # Someone edited a record by hand: an id that no longer validates.
    response = stack.api.patch(
        f"/flow_runs/{broken}/labels", json={"tavus.wait.replicas": "r-edited/by hand"}
    )
    assert response.status_code < 300, response.text
    _save_refused_block(stack)
    time.sleep(max(0.0, float(_labels(stack, late)["tavus.wait.deadline"]) - time.time()) + 0.5)

    sweep_run = run_deployment(stack, SWEEP, f"tavus_credentials={REFUSED_BLOCK}")
    swept = wait_until_final(stack, sweep_run, "the sweep run")

    assert swept["state_type"] == "FAILED", swept["state"]
    assert "refused" in (swept["state"]["message"] or ""), swept["state"]
    # The unreadable record, named. The run's last logs reach the server after its final
    # state (CI once read them before they had: only the worker's lines were there).
    logged(stack, sweep_run, broken)
    logged(stack, sweep_run, "tavus.wait.replicas")
    timed_out = wait_until_final(stack, late, "the deadline-passed run")
    message = timed_out["state"]["message"] or ""
    assert timed_out["state_type"] == "FAILED", timed_out["state"]
    assert "ReplicaWaitTimeoutError" in message and "last status started" in message, message
    assert flow_run(stack, broken)["state_name"] == "Suspended"  # never acted on
    assert (
        flow_run(stack, waiting)["state_name"] == "Suspended"
    )  # nothing known about it: left alone
    for run_id in (broken, waiting):
        stack.prefect("flow-run", "cancel", run_id)


def _save_refused_block(stack: Stack) -> None:
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
            api_key=f"{SIM_KEY}-revoked",
            base_url=stack.simulator.url,
            request_timeout_seconds=5,
            min_poll_spacing_seconds=0.01,
        ).save(REFUSED_BLOCK, overwrite=True)


# --- one resume per check, whoever races for it --------------------------------------


def test_racing_resumes_of_one_suspended_wait_resume_it_once(stack: Stack) -> None:
    """What two receivers and a sweep do when they decide on the same record at once: on
    PostgreSQL, Prefect alone accepts several resumes that arrive together."""
    replica_id = stack.simulator.add_replica(training_seconds=0)
    run_id = run_deployment(
        stack,
        "wait-for-replica/wait-for-replica",
        f"replica_id={replica_id}",
        "release_worker=true",
        f"wait_settings={FAST_WAIT}",
    )
    # Made to suspend by hand (its replica is done, so it would not): pause the worker-less run.
    wait_until_final_or_running(stack, run_id)

    _suspend_by_hand(stack, run_id, replica_id)
    # In a process of its own, as a receiver or a sweep is: taking the lock emits Prefect
    # events, and the event worker that starts then would stay bound to this stack's API.
    script = f"""
import asyncio, json
from prefect.client.orchestration import get_client
from prefect_tavus.suspension import SuspendedWait, resume_if_still_waiting

async def race():
    clients = [get_client() for _ in range(8)]
    for client in clients:
        await client.__aenter__()
    try:
        wait = SuspendedWait.from_flow_run(await clients[0].read_flow_run({run_id!r}))
        return list(await asyncio.gather(*(resume_if_still_waiting(c, wait) for c in clients)))
    finally:
        for client in clients:
            await client.__aexit__(None, None, None)

print(json.dumps(asyncio.run(race())))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], env=stack.env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    accepted = json.loads(done.stdout.strip().splitlines()[-1])
    assert accepted.count(True) == 1, accepted
    history = _history(stack, run_id)
    suspended = max(i for i, s in enumerate(history) if s["name"] == "Suspended")
    resumes = [s for s in history[suspended + 1 :] if s["type"] == "SCHEDULED"]
    assert len(resumes) == 1, [(s["name"], s["timestamp"]) for s in history]
    assert wait_until_final(stack, run_id, "the resumed run")["state_type"] == "COMPLETED"


def _history(stack: Stack, run_id: str) -> list[dict[str, Any]]:
    return sorted(
        stack.get(f"/flow_run_states/?flow_run_id={run_id}"), key=lambda s: s["timestamp"]
    )


def wait_until_final_or_running(stack: Stack, run_id: str) -> None:
    eventually(lambda: _final(stack, run_id), f"run {run_id} to end", timeout=300)


def _final(stack: Stack, run_id: str) -> None:
    assert flow_run(stack, run_id)["state_type"] == "COMPLETED"


def _suspend_by_hand(stack: Stack, run_id: str, replica_id: str) -> None:
    """Put a finished run back as a suspended wait on ``replica_id`` (force: no worker)."""
    import uuid

    stack.post(
        f"/flow_runs/{run_id}/set_state",
        {"state": {"type": "RUNNING", "name": "Running"}, "force": True},
    )
    response = stack.api.patch(
        f"/flow_runs/{run_id}/labels",
        json={
            "tavus.wait.replicas": replica_id,
            "tavus.wait.deadline": time.time() + 3600,
            "tavus.wait.checked_at": time.time() - 60,
        },
    )
    assert response.status_code < 300, response.text
    result = stack.post(
        f"/flow_runs/{run_id}/set_state",
        {
            "state": {
                "type": "PAUSED",
                "name": "Suspended",
                "state_details": {"pause_reschedule": True, "pause_key": uuid.uuid4().hex},
            },
            "force": True,
        },
    )
    assert result["status"] == "ACCEPT", result
