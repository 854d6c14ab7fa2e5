"""Benchmark: 1,000 videos from one replica, waited on three ways, on one deployed stack.

``python -m benchmarks.video_batch`` (``make bench-videos``) starts a real ``prefect server
start``, a process worker with Prefect's DEFAULT polling (``PREFECT_WORKER_QUERY_SECONDS``
unset: 10 s), ``prefect deploy`` of this project's ``wait-for-videos`` and
``resume-waits`` deployments, and the callback receiver (``prefect-tavus
callbacks``, a real process). Each scenario gets 1,000 videos (``--videos``) of one trained
replica, with generation times drawn uniformly from 60-180 s (``--gen-min``/``--gen-max``,
seed 11), all created at once, and one ``wait-for-videos`` deployment run on all of them:

(a) polling: ``release_worker=false``; the run polls (2 s growing to a 10 s cap) until all
    are done, holding its worker throughout;
(b) ``release_worker=true`` with callbacks: every video is created with the receiver's
    callback URL; the run checks once and suspends; the receiver resumes it once every
    video has called back after that check;
(c) ``release_worker=true`` with every callback lost (``drop_callback``): this benchmark
    triggers a run of the ``resume-waits`` deployment every 30 s
    (``--sweep-interval``; its own 10-minute schedule is switched off), which resumes the
    wait once Tavus says every video finished.

Each scenario has its own simulator process (its own account and key), so its requests,
list pages included, are its own: the video list has no id filter and spans the whole
account, so one shared simulator could not attribute list pages to a scenario. (a) and
(b) run at the same time; (c) runs after them, alone: the sweep resumes *every* suspended
wait whose videos its key cannot find (``README``: one sweep per key), so beside (b) it
would wake (b)'s run too and mix the two measurements.

Measured from the Prefect server and the simulators, not from inside the flows: requests
to Tavus (the simulator's count, by route; for (c) the sweeps' share read from their
logs), task runs of the wait's flow run by task (``poll_videos`` rounds, ``confirm_video``
GETs), worker-seconds (the sum of the intervals the flow run spent ``Running``, from its
state history; (c)'s sweep runs separately), and detection lag: each video's finish (the
simulator's timeline) -> the flow run's ``Completed`` state, median and max (a batch
run completes only once its last video is done, so these mostly measure the spread of
generation times), and the last video's finish -> the resume (the state after
``Suspended``: the receiver or a sweep acted) and -> ``Completed`` (the worker has also
picked the run up, started it and checked).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks._infra import (
    LOOPBACK,
    POOL,
    PROJECT_ROOT,
    RESULTS_DIR,
    BenchStack,
    BusyPrefect,
    SimulatorControl,
    free_port,
    machine_summary,
    wait_http_ok,
)
from benchmarks._report import percentile

TOKEN = "bench-video-callback-token-7d3e1a"
LABELS = {
    "a": "(a) polling (holds its worker)",
    "b": "(b) release_worker + callbacks",
    "c": "(c) release_worker, callbacks lost, sweep",
}
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
ROUTE_LIST = "GET /v2/videos"
ROUTE_GET = "GET /v2/videos/{id}"
#: Targets. (b) holds its worker at most this share of the generation span...
HELD_SHARE_MAX = 0.10
#: ...and (a) sends at most this share of the requests of one GET per pending video per round.
POLL_SHARE_MAX = 0.10


def _log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.video_batch", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--videos", type=int, default=1000, help="videos per scenario (default 1000)"
    )
    parser.add_argument("--scenarios", default="a,b,c")
    parser.add_argument(
        "--gen-min", type=float, default=60.0, help="shortest generation, s (default 60)"
    )
    parser.add_argument(
        "--gen-max", type=float, default=180.0, help="longest generation, s (default 180)"
    )
    parser.add_argument(
        "--poll-interval", type=float, default=2.0, help="first poll interval, s (default 2)"
    )
    parser.add_argument(
        "--poll-cap", type=float, default=10.0, help="largest poll interval, s (default 10)"
    )
    parser.add_argument(
        "--sweep-interval",
        type=float,
        default=30.0,
        help="s between sweep runs for (c) (default 30)",
    )
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--max-seconds", type=float, default=900.0, help="give up on a phase after this long"
    )
    return parser


class Prefect(BusyPrefect):
    """The Prefect REST calls of this benchmark (no Prefect import in the parent)."""

    def paged(self, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            page = self.post(path, {**body, "limit": 200, "offset": len(out)})
            out.extend(page)
            if len(page) < 200:
                return out


class Simulator(SimulatorControl):
    def add_video(self, **kwargs: Any) -> str:
        return str(self.ok("POST", "/_sim/videos", kwargs)["video_id"])

    def video_finished_at(self, video_id: str) -> float | None:
        value = self.ok("GET", f"/_sim/videos/{video_id}")["finished_at"]
        return None if value is None else float(value)


class Bench(BenchStack):
    def __init__(self, args: argparse.Namespace) -> None:
        import random

        super().__init__("prefect-tavus-bench-videos-", Prefect)
        self.args = args
        self.rng = random.Random(args.seed)
        self.sims: dict[str, Simulator] = {}
        self.replicas: dict[str, str] = {}
        self.receiver_url: str | None = None

    def setup(self, scenarios: list[str]) -> None:
        server = self.start_server()
        sim_urls = {}
        for scenario in scenarios:
            port = free_port()
            sim = self.start(
                f"simulator-{scenario}",
                [
                    sys.executable,
                    "-m",
                    "prefect_tavus.simulator",
                    "--port",
                    str(port),
                    "--api-key",
                    f"key-{scenario}",
                ],
            )
            wait_http_ok(f"http://{LOOPBACK}:{port}/_sim/health", sim, 60)
            self.sims[scenario] = Simulator(LOOPBACK, port)
            sim_urls[scenario] = f"http://{LOOPBACK}:{port}"
            # One replica per account, trained already: every video of the scenario speaks with it.
            self.replicas[scenario] = self.sims[scenario].add_replica(
                training_seconds=0, replica_name="Presenter"
            )
        wait_http_ok(f"{self.api}/health", server, 240)
        _log(f"Prefect server on {self.api}; simulators {sim_urls}")
        if "b" in scenarios or "c" in scenarios:
            self.start_receiver()
        blocks = {
            s: {"api_key": f"key-{s}", "base_url": sim_urls[s], "min_poll_spacing_seconds": 0.01}
            for s in scenarios
        }
        self.save_blocks(blocks)
        self.cli("work-pool", "create", POOL, "--type", "process")
        self.cli("--no-prompt", "deploy", "--name", "wait-for-videos", "--name", "resume-waits")
        # Sweeps are triggered by this benchmark (at a fixed interval, during (c) only),
        # not by the deployment's own 10-minute schedule.
        sweep = self.prefect.deployment("resume-waits")
        for schedule in sweep["schedules"]:
            self.prefect.ok(
                "PATCH",
                f"/api/deployments/{sweep['id']}/schedules/{schedule['id']}",
                {"active": False},
            )
        self.start(
            "worker",
            [
                sys.executable,
                "-m",
                "prefect",
                "worker",
                "start",
                "--pool",
                POOL,
                "--limit",
                "40",
                "--name",
                "bench-worker",
            ],
        )
        _log("deployed; worker started with Prefect's default polling")

    def start_receiver(self) -> None:
        port = free_port()
        receiver = self.start(
            "receiver",
            [
                str(Path(sys.executable).with_name("prefect-tavus")),
                "callbacks",
                "--host",
                LOOPBACK,
                "--port",
                str(port),
            ],
            dict(self.env, TAVUS_CALLBACK_TOKEN=TOKEN),
        )
        wait_http_ok(f"http://{LOOPBACK}:{port}/healthz", receiver, 60)
        self.receiver_url = f"http://{LOOPBACK}:{port}/tavus/callbacks/{TOKEN}"

    def log_summary(self) -> dict[str, Any]:
        """ERROR records in each process's log, and the server's "database is locked" ones."""
        out: dict[str, Any] = {"log_dir": str(self.tmp)}
        for process in self.processes:
            try:
                text = process.log_path.read_text(errors="replace")
            except OSError:
                continue
            out[process.name] = {
                "error_lines": len(re.findall(r"\|\s*ERROR\s*\||\d ERROR ", text)),
                "database_locked": text.count("database is locked"),
            }
        return out

    # -- one scenario ----------------------------------------------------------------------

    def launch(self, scenario: str) -> dict[str, Any]:
        """Create the scenario's videos (all at once) and one wait-for-videos run on them."""
        sim = self.sims[scenario]
        ids: list[str] = []
        created_first = time.time()
        for index in range(self.args.videos):
            spec: dict[str, Any] = {
                "replica_id": self.replicas[scenario],
                "script": f"Hello number {index}!",
                "video_name": f"bench-{scenario}-{index}",
                "generation_seconds": self.rng.uniform(self.args.gen_min, self.args.gen_max),
            }
            if scenario in ("b", "c"):
                spec["callback_url"] = self.receiver_url
            if scenario == "c":
                spec["drop_callback"] = True  # Tavus never calls back (counted as dropped)
            ids.append(sim.add_video(**spec))
        created_last = time.time()
        wait_id = self.prefect.deployment("wait-for-videos")["id"]
        run = self.prefect.post(
            f"/deployments/{wait_id}/create_flow_run",
            {
                "parameters": {
                    "video_ids": ids,
                    "tavus_credentials": f"tavus-{scenario}",
                    "raise_on_failure": False,
                    "release_worker": scenario != "a",
                    "wait_settings": {
                        "poll_interval_seconds": self.args.poll_interval,
                        "max_poll_interval_seconds": self.args.poll_cap,
                        "timeout_seconds": 3600,
                    },
                }
            },
        )
        _log(
            f"{LABELS[scenario]}: {len(ids)} videos created in {created_last - created_first:.1f} s; run {run['id']}"
        )
        return {
            "scenario": scenario,
            "id": run["id"],
            "video_ids": ids,
            "created_first": created_first,
            "created_last": created_last,
            "launched_at": time.time(),
            "requests_at_suspend": None,
            "suspended_seen_at": None,
        }

    def follow(self, runs: list[dict[str, Any]], sweep: bool) -> list[dict[str, Any]]:
        """Until every run is final: note each run's first suspension (and its simulator's
        request count then), and with ``sweep`` trigger a sweep run every interval."""
        sweep_id = self.prefect.deployment("resume-waits")["id"] if sweep else None
        sweeps: list[dict[str, Any]] = []
        next_sweep = time.monotonic() + self.args.sweep_interval
        deadline = time.monotonic() + self.args.max_seconds
        pending = {run["id"]: run for run in runs}
        while pending and time.monotonic() < deadline:
            found = self.prefect.post(
                "/flow_runs/filter", {"flow_runs": {"id": {"any_": sorted(pending)}}}
            )
            for flow_run in found:
                run = pending[flow_run["id"]]
                if flow_run["state_type"] == "PAUSED" and run["requests_at_suspend"] is None:
                    # Suspended: the first life has ended; what its simulator counted so far is its.
                    run["requests_at_suspend"] = self.sims[run["scenario"]].stats()["requests"]
                    run["suspended_seen_at"] = time.time()
                    _log(
                        f"{LABELS[run['scenario']]}: suspended after {run['requests_at_suspend']} requests"
                    )
                if flow_run["state_type"] in FINAL:
                    _log(f"{LABELS[run['scenario']]}: {flow_run['state_name']}")
                    del pending[flow_run["id"]]
            if sweep_id is not None and pending and time.monotonic() >= next_sweep:
                next_sweep += self.args.sweep_interval
                created = self.prefect.post(
                    f"/deployments/{sweep_id}/create_flow_run",
                    {"parameters": {"tavus_credentials": "tavus-c"}},
                )
                sweeps.append({"id": created["id"], "triggered_at": time.time()})
            time.sleep(2)
        if pending:
            _log(f"{len(pending)} runs did not finish within {self.args.max_seconds:.0f} s")
        return sweeps

    def wait_sweeps_final(self, sweeps: list[dict[str, Any]], max_seconds: float = 120.0) -> None:
        """Sweeps triggered just before the wait ended still run: let them end (they are
        measured too), or cancel those not started after ``max_seconds``."""
        deadline = time.monotonic() + max_seconds
        ids = [s["id"] for s in sweeps]
        while ids and time.monotonic() < deadline:
            found = self.prefect.post("/flow_runs/filter", {"flow_runs": {"id": {"any_": ids}}})
            if all(r["state_type"] in FINAL for r in found):
                return
            time.sleep(3)

    # -- measurements ----------------------------------------------------------------------

    def states(self, run_id: str) -> list[dict[str, Any]]:
        return sorted(
            self.prefect.get(f"/flow_run_states/?flow_run_id={run_id}"),
            key=lambda s: s["timestamp"],
        )

    def held(self, run_id: str) -> dict[str, Any]:
        """Seconds Running (each interval: Running -> the next state), lives, Completed time,
        final state, and the Running intervals themselves."""
        states = self.states(run_id)
        intervals = []
        completed = resumed = None
        for state, after in zip(states, [*states[1:], None], strict=True):
            if state["type"] == "RUNNING":
                intervals.append(
                    (_ts(state["timestamp"]), _ts(after["timestamp"]) if after else time.time())
                )
            if state["type"] == "COMPLETED":
                completed = _ts(state["timestamp"])
            if state["type"] == "PAUSED" and after is not None:
                resumed = _ts(
                    after["timestamp"]
                )  # the last resume (Resuming, by the receiver or a sweep)
        return {
            "seconds": sum(end - start for start, end in intervals),
            "lives": len(intervals),
            "intervals": intervals,
            "completed_at": completed,
            "resumed_at": resumed,
            "final": states[-1]["name"] if states else "?",
            "final_type": states[-1]["type"] if states else "?",
            "suspensions": sum(1 for s in states if s["type"] == "PAUSED"),
        }

    def task_runs(
        self, run_id: str, quiet_seconds: float = 10.0, max_seconds: float = 120.0
    ) -> list[dict[str, Any]]:
        """The flow run's task runs, once the server has recorded them all (Prefect 3 records
        them from events, asynchronously: read until the count stops moving)."""
        started = time.monotonic()
        last, last_change = -1, started
        body = {"flow_runs": {"id": {"any_": [run_id]}}}
        while True:
            count = int(self.prefect.post("/task_runs/count", body))
            now = time.monotonic()
            if count != last:
                last, last_change = count, now
            if now - last_change >= quiet_seconds or now - started >= max_seconds:
                break
            time.sleep(1)
        return self.prefect.paged("/task_runs/filter", {**body, "sort": "EXPECTED_START_TIME_ASC"})

    def sweep_requests(self, sweep_ids: list[str]) -> tuple[int, int]:
        """Requests to Tavus the sweep runs reported in their summary log lines, and how
        many runs logged one."""
        if not sweep_ids:
            return 0, 0
        logs = self.prefect.paged("/logs/filter", {"logs": {"flow_run_id": {"any_": sweep_ids}}})
        total = runs = 0
        for line in logs:
            message = line.get("message") or ""
            match = re.search(r"([\d,]+) requests? to Tavus", message)
            if message.startswith("Sweep:") and match:
                total += int(match.group(1).replace(",", ""))
                runs += 1
            elif message.startswith("No suspended waits"):
                runs += 1
        return total, runs

    def measure(self, run: dict[str, Any], sweeps: list[dict[str, Any]]) -> dict[str, Any]:
        scenario = run["scenario"]
        sim = self.sims[scenario]
        n = len(run["video_ids"])
        held = self.held(run["id"])
        finished = {vid: sim.video_finished_at(vid) for vid in run["video_ids"]}
        done = [t for t in finished.values() if t is not None]
        last_finish = max(done) if len(done) == n else None
        completed = held["completed_at"]
        lags = [completed - t for t in done] if completed is not None else []
        tasks = self.task_runs(run["id"])
        polls = [t for t in tasks if t["name"].startswith("poll-")]
        confirms = [t for t in tasks if t["name"].startswith("get-video-")]
        stats = sim.stats()
        by_route = stats["by_route"]
        by_video = stats["by_video"]
        requests = stats["requests"]
        sweep_ids = [s["id"] for s in sweeps]
        sweep_requests, sweep_logged = self.sweep_requests(sweep_ids)
        sweep_held = [self.held(sid) for sid in sweep_ids]
        wait_requests = requests - sweep_requests
        # One GET per pending video per round, at the rounds the wait actually made: a
        # video is still pending at a round if it had not finished when the round before began.
        round_starts = [_ts(t["start_time"]) for t in polls if t.get("start_time")]
        naive = 0
        previous = -math.inf
        for start in sorted(round_starts):
            naive += sum(1 for t in finished.values() if t is None or t >= previous)
            previous = start
        # Worker-seconds while the videos were generating: Running time inside [first create, last finish].
        span_start, span_end = run["created_first"], last_finish or time.time()
        during = sum(
            max(0.0, min(end, span_end) - max(start, span_start))
            for start, end in held["intervals"]
        )
        return {
            "scenario": scenario,
            "label": LABELS[scenario],
            "flow_run_id": run["id"],
            "videos": n,
            "videos_finished": len(done),
            "final_state": held["final"],
            "completed": held["final_type"] == "COMPLETED",
            "requests_total": requests,
            "requests_list": by_route.get(ROUTE_LIST, 0),
            "requests_get": by_route.get(ROUTE_GET, 0),
            "by_route": by_route,
            "max_gets_one_video": max(by_video.values(), default=0),
            "requests_by_sweeps": sweep_requests,
            "requests_by_wait": wait_requests,
            "requests_first_life": run["requests_at_suspend"],
            "requests_after_suspend": (
                None
                if run["requests_at_suspend"] is None
                else requests - run["requests_at_suspend"] - sweep_requests
            ),
            "requests_per_video": requests / n,
            "task_runs_total": len(tasks),
            "task_runs_poll": len(polls),
            "task_runs_confirm": len(confirms),
            "task_runs_other": len(tasks) - len(polls) - len(confirms),
            "rounds": len(polls),
            "naive_get_per_pending_per_round": naive,
            "worker_seconds": held["seconds"],
            "worker_seconds_during_generation": during,
            "lives": held["lives"],
            "suspensions": held["suspensions"],
            "generation_span_seconds": (last_finish - run["created_first"])
            if last_finish
            else None,
            "lag_median": percentile(lags, 50),
            "lag_max": max(lags) if lags else None,
            "lag_last_finish": (completed - last_finish)
            if completed is not None and last_finish
            else None,
            "lag_last_finish_to_resume": (held["resumed_at"] - last_finish)
            if held["resumed_at"] is not None and last_finish
            else None,
            "callbacks": stats["callbacks"],
            "sweep_runs": len(sweep_ids),
            "sweep_runs_logged": sweep_logged,
            "sweep_worker_seconds": sum(h["seconds"] for h in sweep_held),
            "sweep_final_states": sorted({h["final"] for h in sweep_held}),
            "sweeps_triggered_at": [s["triggered_at"] for s in sweeps],
        }


def _num(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _resumed(row: dict[str, Any]) -> str:
    return "" if row["scenario"] == "a" else f"{_num(row['lag_last_finish_to_resume'])} / "


def render(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| scenario | videos | run ended | requests to Tavus (list pages / GETs) | requests per video "
        "| poll rounds | task runs (poll / confirm) | flow-run lives | worker-s held | worker-s held while generating "
        "| lag each video -> Completed, median / max (s) | lag last video -> resumed / -> Completed (s) "
        "| callbacks delivered / dropped |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        sweep_note = ""
        if row["sweep_runs"]:
            sweep_note = f" (sweeps: {row['requests_by_sweeps']:,})"
        held = f"{row['worker_seconds']:,.1f}"
        if row["sweep_runs"]:
            held += f" + {row['sweep_worker_seconds']:,.1f} in {row['sweep_runs']} sweeps"
        lines.append(
            f"| {row['label']} | {row['videos']:,} | {row['final_state']} "
            f"| {row['requests_total']:,} ({row['requests_list']:,} / {row['requests_get']:,}){sweep_note} "
            f"| {row['requests_per_video']:.3f} | {row['rounds']} "
            f"| {row['task_runs_total']} ({row['task_runs_poll']} / {row['task_runs_confirm']}) "
            f"| {row['lives']} | {held} | {row['worker_seconds_during_generation']:,.1f} "
            f"| {_num(row['lag_median'])} / {_num(row['lag_max'])} "
            f"| {_resumed(row)}{_num(row['lag_last_finish'])} "
            f"| {row['callbacks']['delivered']:,} / {row['callbacks']['dropped']:,} |"
        )
    return "\n".join(lines)


def checks(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(scenario: str, name: str, ok: bool | None, detail: str) -> None:
        out.append({"scenario": scenario, "check": name, "ok": ok, "detail": detail})

    for row in rows:
        s, n = row["scenario"], row["videos"]
        add(
            s,
            "run completed, every video seen",
            row["completed"] and row["videos_finished"] == n,
            f"{row['final_state']}, {row['videos_finished']:,}/{n:,} videos finished at the simulator",
        )
        if s == "a":
            rounds = row["rounds"]
            naive = row["naive_get_per_pending_per_round"]
            per_round = row["requests_total"] / rounds if rounds else None
            add(
                s,
                f"polling: requests <= {POLL_SHARE_MAX:.0%} of one GET per pending video per round",
                bool(naive) and row["requests_total"] <= POLL_SHARE_MAX * naive,
                f"{row['requests_total']:,} requests in {rounds} rounds ({_num(per_round)} per round); one GET per "
                f"pending video per round would be {naive:,} ({_num(100 * row['requests_total'] / naive if naive else None)}%); "
                f"N x rounds = {n * rounds:,}",
            )
        if s == "b":
            after = row["requests_after_suspend"]
            add(
                s,
                "callbacks: at most one confirming request per video",
                after is not None and after <= n and row["max_gets_one_video"] <= 1,
                f"{_num(after, 0)} requests after the suspension for {n:,} videos "
                f"({_num(after / n if after is not None else None, 3)} per video); "
                f"most GETs of one video: {row['max_gets_one_video']}",
            )
            span = row["generation_span_seconds"]
            add(
                s,
                f"callbacks: worker held <= {HELD_SHARE_MAX:.0%} of the generation span",
                span is not None and row["worker_seconds"] <= HELD_SHARE_MAX * span,
                f"{row['worker_seconds']:,.1f} worker-s over {row['lives']} lives "
                f"({row['worker_seconds_during_generation']:,.1f} while generating) vs a span of {_num(span)} s "
                f"({_num(100 * row['worker_seconds'] / span if span else None)}%)",
            )
            add(
                s,
                "callbacks: resumed once (one suspension, two lives)",
                row["suspensions"] == 1 and row["lives"] == 2,
                f"{row['suspensions']} suspensions, {row['lives']} lives",
            )
        if s == "c":
            add(
                s,
                "sweep: every sweep run logged its summary",
                row["sweep_runs_logged"] == row["sweep_runs"],
                f"{row['sweep_runs_logged']}/{row['sweep_runs']} (final states: {', '.join(row['sweep_final_states'])})",
            )
    return out


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if not set(scenarios) <= set(LABELS):
        raise SystemExit(f"--scenarios takes a subset of {','.join(LABELS)}")
    bench = Bench(args)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    started = time.monotonic()
    results: dict[str, Any] = {
        "machine": machine_summary(),
        "settings": vars(args),
        "worker_query_seconds": "Prefect default (10 s)",
        "phases": [],
        "rows": [],
    }
    rows: list[dict[str, Any]] = []
    try:
        bench.setup(scenarios)
        # (a) and (b) together; (c) alone, with the sweep (see the module docstring).
        phases = [[s for s in scenarios if s in ("a", "b")], [s for s in scenarios if s == "c"]]
        for phase in [p for p in phases if p]:
            phase_started = time.monotonic()
            runs = [bench.launch(s) for s in phase]
            sweeps = bench.follow(runs, sweep="c" in phase)
            if sweeps:
                bench.wait_sweeps_final(sweeps)
            rows.extend(
                bench.measure(run, sweeps if run["scenario"] == "c" else []) for run in runs
            )
            results["phases"].append(
                {"scenarios": phase, "seconds": time.monotonic() - phase_started}
            )
            _log(f"phase {'+'.join(phase)} done in {time.monotonic() - phase_started:.0f} s")
    finally:
        bench.stop()
        results["logs"] = bench.log_summary()
    results["rows"] = rows
    results["seconds"] = time.monotonic() - started
    results["checks"] = found = checks(rows)
    table = render(rows)
    machine = results["machine"]
    print(
        f"\n## {args.videos:,} videos from one replica: polling vs release_worker ({datetime.now():%Y-%m-%d})\n"
    )
    print(
        f"Generation {args.gen_min:.0f}-{args.gen_max:.0f} s per video (uniform, seed {args.seed}), all created at "
        f"once; polls every {args.poll_interval:g} s growing to {args.poll_cap:g} s; worker polling: Prefect's "
        f"default (10 s); (c): a sweep run triggered every {args.sweep_interval:.0f} s. (a) and (b) ran at the "
        "same time, (c) after them. Lag: each video's finish (simulator) -> the run's Completed state; "
        "resumed: the state after Suspended.\n"
    )
    print(table)
    print()
    for item in found:
        verdict = {True: "PASS", False: "FAIL", None: "n/a"}[item["ok"]]
        print(f"{verdict}: {LABELS[item['scenario']]}: {item['check']} -- {item['detail']}")
    logs = results["logs"]
    print(
        "\nLogs ("
        + logs["log_dir"]
        + "): "
        + "; ".join(
            f"{name} {info['error_lines']} ERROR lines"
            + (
                f" ({info['database_locked']} 'database is locked')"
                if info["database_locked"]
                else ""
            )
            for name, info in logs.items()
            if name != "log_dir"
        )
    )
    print(
        f"\nMachine: {machine['cpu_count']} CPUs ({machine['cpu_model']}), {machine['platform']}, Python "
        f"{machine['python']}, Prefect {machine['prefect']}; whole benchmark {results['seconds'] / 60:.1f} min."
    )
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"video-batch-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}.json"
    results["markdown"] = table
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nFull results: {out.relative_to(PROJECT_ROOT)}")
    return 0 if rows and all(item["ok"] is not False for item in found) else 1


if __name__ == "__main__":
    sys.exit(main())
