"""Video waits that release their worker, on the real stack (``conftest.py``), on SQLite
and on PostgreSQL: ``wait-for-videos`` resumed by Tavus's video callbacks through a
receiver (a real process) or, with every callback lost, by the sweep deployment; and
``generate-videos`` creating one video per row, suspending while they render, and
completing on machines that never saw it, without creating anything twice.

When a video finishes is up to the test, not to a busy machine: each video is made with
a replica still training (the simulator keeps it ``queued`` until the training ends) and
``sim.end_training`` starts them all once the run is suspended.

As in ``test_suspended_waits``, the sweep's schedule and the welcome-videos trigger are
off, so that nothing but what a test does resumes a run or asks Tavus about a video.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from prefect_tavus.core.contract import (
    LABEL_CHECKED_AT,
    LABEL_DEADLINE,
    LABEL_VIDEOS,
    event_name,
    row_labels,
)
from tests.e2e.conftest import DATABASES, Stack
from tests.e2e.test_deployments import (
    eventually,
    flow_run,
    run_deployment,
    run_logs,
    wait_until_completed,
)
from tests.e2e.test_durable_waits import _fresh_machines
from tests.e2e.test_suspended_waits import (  # noqa: F401 - fixtures, used by name
    CALLBACK_BLOCK,
    FAST_WAIT,
    TOKEN,
    Receiver,
    assert_no_process,
    next_step_trigger_off,
    processes_of,
    receiver,
    receivers,
    states,
    sweep,
    sweep_schedule_off,
    wait_until_suspended,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

CREATE_ROUTE = "POST /v2/videos"
LIST_ROUTE = "GET /v2/videos"
#: Long enough never to end by itself during a test: sim.end_training ends it.
GATE_SECONDS = 3600.0


@pytest.fixture(scope="module", params=DATABASES)
def database(request: pytest.FixtureRequest) -> str:
    """This module runs twice: on a server on SQLite, then on one on PostgreSQL."""
    return str(request.param)


# --- helpers -------------------------------------------------------------------------


def gate(stack: Stack, name: str) -> str:
    """A replica still training: its videos stay ``queued`` until ``sim.end_training``."""
    return stack.simulator.add_replica(replica_name=name, training_seconds=GATE_SECONDS)


def video_requests(stack: Stack, video_ids: list[str]) -> int:
    """Requests the simulator served that can be about these videos: their single GETs
    and every video list page (the list has no id filter)."""
    stats = stack.simulator.stats()
    return sum(stats["by_video"].get(v, 0) for v in video_ids) + stats["by_route"].get(
        LIST_ROUTE, 0
    )


def assert_videos_released(
    stack: Stack, run_id: str, video_ids: list[str], seconds: float = 2.0
) -> None:
    """While suspended: no process of the run exists, and Tavus hears nothing about the
    videos it waits on."""
    eventually(
        lambda: assert_no_process(run_id), f"the process of run {run_id} to exit", timeout=60
    )
    before = video_requests(stack, video_ids)
    time.sleep(seconds)
    assert flow_run(stack, run_id)["state_name"] == "Suspended"
    assert processes_of(run_id) == []
    assert video_requests(stack, video_ids) == before, stack.simulator.stats()


def waited_on(stack: Stack, run_id: str) -> list[str]:
    """The videos the suspended run recorded it waits on (its wait record's labels)."""
    labels = flow_run(stack, run_id)["labels"]
    assert float(labels[LABEL_DEADLINE]) > time.time(), labels
    assert float(labels[LABEL_CHECKED_AT]) <= time.time(), labels
    return sorted(labels[LABEL_VIDEOS].split(","))


def video_events(stack: Stack, what: str, video_id: str) -> list[dict[str, Any]]:
    return stack.post(
        "/events/filter",
        {
            "filter": {
                "event": {"name": [event_name("video", what)]},
                "resource": {"id": [f"tavus.video.{video_id}"]},
            },
            "limit": 50,
        },
    )["events"]


def one_event(stack: Stack, what: str, video_id: str, run_id: str) -> dict[str, Any]:
    """The one ``tavus.video.<what>`` event of ``video_id``, once persisted; from ``run_id``."""

    def check() -> dict[str, Any]:
        found = video_events(stack, what, video_id)
        assert len(found) == 1, f"{len(found)} {event_name('video', what)} events for {video_id}"
        return found[0]

    event = eventually(check, f"the {event_name('video', what)} event of {video_id}", timeout=30)
    assert f"prefect.flow-run.{run_id}" in {r["prefect.resource.id"] for r in event["related"]}, (
        event["related"]
    )
    assert event["payload"]["video_id"] == video_id
    return event


def artifacts_of(stack: Stack, run_id: str) -> list[dict[str, Any]]:
    return stack.post("/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run_id]}}})


def table(stack: Stack, run_id: str, prefix: str) -> list[dict[str, Any]]:
    """The rows of the run's table artifact whose key starts with ``prefix``."""
    (found,) = [a for a in artifacts_of(stack, run_id) if (a.get("key") or "").startswith(prefix)]
    assert found["type"] == "table", found
    data = found["data"]
    return json.loads(data) if isinstance(data, str) else data


def assert_no_token(stack: Stack, run_id: str) -> None:
    """The callback token is nowhere in the run (parameters, labels, state) nor its logs
    nor its artifacts: it is a secret (it lets anyone resume waits)."""
    assert TOKEN not in json.dumps(flow_run(stack, run_id))
    assert TOKEN not in run_logs(stack, run_id)
    assert TOKEN not in json.dumps(artifacts_of(stack, run_id))


def json_param(name: str, value: Any) -> str:
    return f"{name}={json.dumps(value)}"


# --- 1. callbacks resume a suspended batch ---------------------------------------------


def test_a_suspended_video_batch_is_resumed_by_its_callbacks(
    stack: Stack, receivers: list[Receiver]
) -> None:
    sim = stack.simulator
    replica_id = gate(stack, "E2E video callbacks")
    url = receivers[0].url
    videos = sorted(
        sim.add_video(
            replica_id=replica_id,
            script=f"Hello {n}",
            video_name=f"E2E callback {n}",
            generation_seconds=1.0,
            callback_url=url,
        )
        for n in range(2)
    )
    delivered = sim.stats()["callbacks"]["delivered"]

    # The block that holds the token: the run loads it, and must not show it anywhere.
    run_id = run_deployment(
        stack,
        "wait-for-videos/wait-for-videos",
        json_param("video_ids", videos),
        f"tavus_credentials={CALLBACK_BLOCK}",
        "release_worker=true",
        f"wait_settings={FAST_WAIT}",
    )
    wait_until_suspended(stack, run_id)

    assert waited_on(stack, run_id) == videos
    assert_videos_released(stack, run_id, videos)
    sim.end_training(replica_id)  # the videos generate now, and their callbacks follow
    run = wait_until_completed(stack, run_id, f"wait-for-videos run {run_id}")

    assert sim.stats()["callbacks"]["delivered"] == delivered + 2
    history = states(stack, run_id)
    assert history.count("Suspended") == 1 and history.count("Running") == 2, (
        history
    )  # resumed once
    for video_id in videos:
        event = one_event(stack, "completed", video_id, run_id)
        assert event["payload"]["status"] == "ready" and event["payload"]["download_url"], event[
            "payload"
        ]
    rows = table(stack, run_id, "tavus-batch-2-videos-")
    assert sorted(row["video_id"] for row in rows) == videos
    assert all(row["outcome"] == "completed" and row["download_url"] for row in rows), rows
    assert run["state_type"] == "COMPLETED"
    assert_no_token(stack, run_id)


# --- 2. every callback lost: the sweep; a failed video's reason ------------------------


def test_a_video_batch_whose_callbacks_are_lost_is_resumed_by_the_sweep_and_names_a_failure(
    stack: Stack,
) -> None:
    sim = stack.simulator
    replica_id = gate(stack, "E2E video sweep")
    lost = {"drop_callback": True, "callback_url": "http://127.0.0.1:9/never-called"}
    reason = "E2E: the audio is too short to speak"
    ready = sim.add_video(
        replica_id=replica_id,
        script="Ready one",
        video_name="E2E ready",
        generation_seconds=1.0,
        **lost,
    )
    failing = sim.add_video(
        replica_id=replica_id,
        script="Failing one",
        video_name="E2E failing",
        generation_seconds=1.0,
        outcome="error",
        error_reason=reason,
        **lost,
    )
    videos = sorted([ready, failing])
    dropped = sim.stats()["callbacks"]["dropped"]

    run_id = run_deployment(
        stack,
        "wait-for-videos/wait-for-videos",
        json_param("video_ids", videos),
        "release_worker=true",
        "raise_on_failure=false",
        f"wait_settings={FAST_WAIT}",
    )
    wait_until_suspended(stack, run_id)
    assert waited_on(stack, run_id) == videos
    assert_videos_released(stack, run_id, videos, seconds=1.0)
    sim.end_training(replica_id)
    eventually(lambda: _finished(stack, videos), "both videos to finish", timeout=30)
    eventually(lambda: _dropped(stack, dropped + 2), "both callbacks to be lost", timeout=30)
    time.sleep(2)  # nothing else resumes it: no callback reached any receiver
    assert flow_run(stack, run_id)["state_name"] == "Suspended"

    swept = sweep(stack)
    run = wait_until_completed(stack, run_id, f"wait-for-videos run {run_id}")

    history = states(stack, run_id)
    assert history.count("Suspended") == 1 and history.count("Running") == 2, history
    rows = {row["video_id"]: row for row in table(stack, run_id, "tavus-batch-2-videos-")}
    assert rows[ready]["outcome"] == "completed" and rows[ready]["download_url"], rows
    assert rows[failing]["outcome"] == "failed" and rows[failing]["status"] == "error", rows
    assert reason in (rows[failing]["error_message"] or ""), rows[failing]
    details = [
        a for a in artifacts_of(stack, run_id) if a.get("key") == f"tavus-video-{failing.lower()}"
    ]
    assert details and reason in details[0]["data"], details
    one_event(stack, "completed", ready, run_id)
    failed = one_event(stack, "failed", failing, run_id)
    assert reason in (failed["payload"]["error_message"] or ""), failed["payload"]
    assert run["state_type"] == "COMPLETED"
    eventually(
        lambda: _swept_videos(stack, swept["id"]), "the sweep's summary in its logs", timeout=30
    )


def _swept_videos(stack: Stack, sweep_id: str) -> None:
    logs = run_logs(stack, sweep_id)
    # Two videos are read as the wait reads them: a GET each (fewer than a list page costs).
    assert "1 suspended wait on 0 replicas and 2 videos, 2 requests to Tavus; resumed 1." in logs, (
        logs
    )


def _finished(stack: Stack, video_ids: list[str]) -> None:
    assert all(stack.simulator.video_finished_at(v) is not None for v in video_ids)


def _dropped(stack: Stack, at_least: int) -> None:
    assert stack.simulator.stats()["callbacks"]["dropped"] >= at_least, stack.simulator.stats()[
        "callbacks"
    ]


# --- 3. generate-videos: once per row, across fresh machines ---------------------------


def test_generate_videos_that_releases_its_worker_creates_each_row_once_across_fresh_machines(
    stack: Stack, receivers: list[Receiver]
) -> None:
    sim = stack.simulator
    replica_id = gate(stack, "E2E generate")
    rows = [
        {
            "key": f"lead-{n}",
            "video_name": f"E2E generate {stack.database} {n}",
            "script": f"Hi lead {n}!",
        }
        for n in range(3)
    ]
    creates = sim.stats()["by_route"].get(CREATE_ROUTE, 0)
    delivered = sim.stats()["callbacks"]["delivered"]

    run_id = run_deployment(
        stack,
        "generate-videos/generate-videos",
        f"replica_id={replica_id}",
        json_param("requests", rows),
        f"tavus_credentials={CALLBACK_BLOCK}",
        "release_worker=true",
        f"wait_settings={FAST_WAIT}",
    )
    wait_until_suspended(stack, run_id)

    labels = flow_run(stack, run_id)["labels"]
    by_key = {
        row["key"]: labels[row_labels(row["key"])[0]] for row in rows
    }  # recorded before suspending
    videos = sorted(by_key.values())
    assert waited_on(stack, run_id) == videos
    assert sim.stats()["by_route"].get(CREATE_ROUTE, 0) == creates + 3
    for row in rows:
        sent = sim.video_request(by_key[row["key"]])
        assert sent["script"] == row["script"] and sent["replica_id"] == replica_id, sent
        assert sent["callback_url"] == receivers[0].url  # the block's receiver, with its token
    # Its process exits by itself; then every machine is wiped and started again.
    eventually(
        lambda: assert_no_process(run_id), f"the process of run {run_id} to exit", timeout=60
    )
    _fresh_machines(stack)
    assert_videos_released(stack, run_id, videos, seconds=1.0)

    sim.end_training(replica_id)  # the videos render now; their callbacks resume the run
    run = wait_until_completed(stack, run_id, f"generate-videos run {run_id}")

    assert sim.stats()["by_route"].get(CREATE_ROUTE, 0) == creates + 3  # one create per row, ever
    assert sim.stats()["callbacks"]["delivered"] == delivered + 3
    history = states(stack, run_id)
    assert history.count("Suspended") == 1 and history.count("Running") == 2, history
    results = table(stack, run_id, "tavus-videos-3-rows-")
    assert [r["key"] for r in results] == [row["key"] for row in rows], results
    for result in results:
        assert result["video_id"] == by_key[result["key"]], result
        assert result["outcome"] == "completed" and result["status"] == "ready", result
        assert result["download_url"] and result["hosted_url"] and result["error"] is None, result
    for video_id in videos:
        one_event(stack, "completed", video_id, run_id)
    assert run["state_type"] == "COMPLETED"
    assert_no_token(stack, run_id)
