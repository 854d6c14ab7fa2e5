"""The child side of the batch-wait benchmark: one approach, one N, in its own process.

Protocol with the parent (``batch_wait.py``): the child reads its JSON config, imports
what its approach needs and warms up (so that imports are not counted as waiting time),
creates ``ready_path``, then blocks on one line of stdin. The parent creates the
replicas, writes their ids to ``ids_path`` and sends the line; the child waits for them,
writes its result JSON to ``out_path`` and exits. The parent measures the child's CPU
time and peak RSS with ``os.wait4``; the child also reports the CPU time it used while
waiting (``getrusage`` before/after), its wall time, and what it saw of each replica.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _warm_up(approach: str) -> None:
    if approach in ("a", "b"):
        from prefect.client.orchestration import get_client

        import prefect_tavus.blocks
        import prefect_tavus.flows.replicas  # noqa: F401

        with get_client(sync_client=True) as client:
            client.hello()
        if approach == "b":
            import benchmarks._dbt_pattern
    else:
        import benchmarks._naive  # noqa: F401


def _run_a(config: dict[str, Any], ids: list[str]) -> dict[str, Any]:
    from prefect_tavus.blocks import TavusCredentials
    from prefect_tavus.core.waiting import Outcome, WaitSettings
    from prefect_tavus.flows.replicas import wait_for_replicas

    credentials = TavusCredentials(api_key=config["api_key"], base_url=config["sim_url"])
    state = wait_for_replicas(
        ids,
        credentials,
        wait_settings=WaitSettings(
            poll_interval_seconds=config["poll_interval"],
            max_poll_interval_seconds=config["poll_cap"],
            timeout_seconds=config["a_timeout"],
            speed_up_near_completion=config["speed_up"],
            page_size=config["page_size"],
        ),
        raise_on_failure=False,
        return_state=True,
    )
    flow_run_id = str(state.state_details.flow_run_id)
    if not state.is_completed():
        return {
            "flow_run_ids": [flow_run_id],
            "error": f"wait_for_replicas ended {state.type.value}: {state.message}",
        }
    result = state.result()
    seen_kinds = (Outcome.COMPLETED, Outcome.FAILED)
    records = {
        o.replica_id: {
            "seen_at": o.seen_finished_at if o.outcome in seen_kinds else None,
            "cap": o.poll_cap_seconds,
            "outcome": o.outcome.value,
            "polls": None,
        }
        for o in result.results
    }
    return {
        "flow_run_ids": [flow_run_id],
        "records": records,
        "rounds": result.poll_rounds,
        "client_requests": result.requests,
        "elapsed_reported": result.elapsed_seconds,
    }


def _run_b(config: dict[str, Any], ids: list[str]) -> dict[str, Any]:
    import asyncio

    from benchmarks._dbt_pattern import wait_and_collect
    from prefect_tavus.blocks import TavusCredentials

    credentials = TavusCredentials(api_key=config["api_key"], base_url=config["sim_url"])
    stop_at = time.time() + config["b_max_seconds"]
    out = asyncio.run(
        wait_and_collect(
            ids,
            credentials,
            max_wait_seconds=config["a_timeout"],
            poll_frequency_seconds=config["interval"],
            concurrency=config["concurrency"],
            stop_at=stop_at,
        )
    )
    records = out["records"]
    polls = [r["polls"] for r in records.values()]
    return {
        "flow_run_ids": [out["flow_run_id"]] if out["flow_run_id"] else [],
        "records": records,
        "rounds": max(polls, default=0),
        "task_calls": sum(polls),
        "bounded": any(r["outcome"] == "bounded" for r in records.values()),
    }


def _run_c(config: dict[str, Any], ids: list[str]) -> dict[str, Any]:
    import asyncio

    from benchmarks._naive import naive_wait

    out = asyncio.run(
        naive_wait(
            ids,
            api_key=config["api_key"],
            base_url=config["sim_url"],
            interval_seconds=config["interval"],
            max_seconds=config["c_max_seconds"],
            concurrency=config["concurrency"],
        )
    )
    out["flow_run_ids"] = []
    out["bounded"] = any(r["outcome"] == "bounded" for r in out["records"].values())
    return out


_RUNNERS = {"a": _run_a, "b": _run_b, "c": _run_c}


def worker_main(config_path: str) -> int:
    config = json.loads(Path(config_path).read_text())
    approach = config["approach"]
    out_path = Path(config["out_path"])
    result: dict[str, Any] = {"approach": approach, "n": config["n"], "pid": os.getpid()}
    try:
        _warm_up(approach)
        Path(config["ready_path"]).write_text("ready")
        go = sys.stdin.readline()
        if not go.strip():
            result["error"] = "parent closed stdin before the start signal"
            return 3
        ids = json.loads(Path(config["ids_path"]).read_text())
        cpu_before, started = _cpu_seconds(), time.monotonic()
        result["started_at"] = time.time()
        try:
            result.update(_RUNNERS[approach](config, ids))
        finally:
            result["wall_seconds"] = time.monotonic() - started
            result["cpu_wait_seconds"] = _cpu_seconds() - cpu_before
            result["ended_at"] = time.time()
        return 0 if "error" not in result else 1
    except BaseException as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        result["traceback"] = traceback.format_exc()
        return 1
    finally:
        tmp = out_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(result))
        tmp.replace(out_path)
