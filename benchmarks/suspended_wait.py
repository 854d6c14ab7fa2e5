"""Benchmark: waits that hold their worker vs. waits that release it.

``python -m benchmarks.suspended_wait`` (part of ``make bench``) runs, in one go, on a
real ``prefect server start``, a process worker with Prefect's DEFAULT polling
(``PREFECT_WORKER_QUERY_SECONDS`` unset: 10 s) and ``prefect deploy`` of this project's
``prefect.yaml``, with training compressed to 60-120 s per replica:

(a) ``wait_for_replicas`` deployment runs that poll (1 s growing to a 4 s cap);
(b) the same with ``release_worker=True``: each run checks once and suspends; the
    simulator POSTs each replica's callback to ``prefect-tavus callbacks`` (a real
    process), which resumes a run once all its replicas have called back;
(c) ``release_worker=True`` with every callback lost; the ``resume-waits``
    deployment, scheduled every 30 s, resumes the runs.

For N = 1 (several single-replica runs, for a spread of lags), 100 and 1,000 replicas.
Each approach has its own simulator process (so its requests are its own), and the
approaches run one after another in the same run, on the same server and worker: run
together on two cores, a 1,000-replica polling wait and a flood of 1,000 callbacks
saturate the server and each approach is measured under the other's load.

Measured from the Prefect server and the simulators, not from inside the flows:
worker-seconds held (the sum of the intervals each flow run spent ``Running``, from its
state history; sweep runs included for (c)), flow-run starts (``Running`` states), HTTP
requests to Tavus (the simulator's count), and detection lag per run: the last of its
replicas finished (the simulator's timeline) -> the run's ``Completed`` state.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks._infra import (
    LOOPBACK,
    POOL,
    PROJECT_ROOT,
    RESULTS_DIR,
    BenchStack,
    JsonHttp,
    SimulatorControl,
    free_port,
    machine_summary,
    wait_http_ok,
)
from benchmarks._report import percentile

TOKEN = "bench-callback-token-51f0c2"
LABELS = {
    "a": "(a) polling wait (holds its worker)",
    "b": "(b) release_worker + callbacks",
    "c": "(c) release_worker, callbacks lost, sweep",
}
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def _log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.suspended_wait", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--sizes", default="1,100,1000", help="batch sizes (default 1,100,1000)")
    parser.add_argument(
        "--singles", type=int, default=5, help="single-replica runs for N=1 (default 5)"
    )
    parser.add_argument("--approaches", default="a,b,c")
    parser.add_argument("--train-min", type=float, default=60.0)
    parser.add_argument("--train-max", type=float, default=120.0)
    parser.add_argument("--sweep-interval", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--max-seconds", type=float, default=900.0, help="give up on a phase after this long"
    )
    return parser


class Bench(BenchStack):
    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__("prefect-tavus-bench-suspend-")
        self.args = args
        self.rng = random.Random(args.seed)
        self.sims: dict[str, SimulatorControl] = {}
        self.sim_urls: dict[str, str] = {}
        self.receiver_url: str | None = None

    def setup(self, approaches: list[str]) -> None:
        server = self.start_server()
        for approach in approaches:
            port = free_port()
            sim = self.start(
                f"simulator-{approach}",
                [
                    sys.executable,
                    "-m",
                    "prefect_tavus.simulator",
                    "--port",
                    str(port),
                    "--api-key",
                    f"key-{approach}",
                ],
            )
            wait_http_ok(f"http://{LOOPBACK}:{port}/_sim/health", sim, 60)
            self.sims[approach] = SimulatorControl(LOOPBACK, port)
            self.sim_urls[approach] = f"http://{LOOPBACK}:{port}"
        wait_http_ok(f"{self.api}/health", server, 240)
        _log(f"Prefect server on {self.api}; simulators {self.sim_urls}")
        receiver_base = None
        if "b" in approaches:
            receiver_base = self.start_receiver()
        blocks = {
            a: {
                "api_key": f"key-{a}",
                "base_url": self.sim_urls[a],
                "min_poll_spacing_seconds": 0.01,
                "callback_base_url": receiver_base if a == "b" else None,
                "callback_token": TOKEN,
            }
            for a in approaches
        }
        self.save_blocks(blocks)
        self.cli("work-pool", "create", POOL, "--type", "process")
        self.cli("--no-prompt", "deploy", "--name", "wait-for-replicas", "--name", "resume-waits")
        # The sweep sweeps with (c)'s key, as a user points it at their own saved block.
        sweep = self.prefect.deployment("resume-waits")
        self.prefect.ok(
            "PATCH",
            f"/api/deployments/{sweep['id']}",
            {"parameters": {**sweep["parameters"], "tavus_credentials": "tavus-c"}},
        )
        self.sweep_schedules(active=False)
        # The worker's DEFAULT polling: PREFECT_WORKER_QUERY_SECONDS is not set.
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

    def start_receiver(self) -> str | None:
        import importlib.util

        if importlib.util.find_spec("prefect_tavus.callbacks") is None:
            _log("prefect_tavus.callbacks (the receiver) is not installed: approach (b) is skipped")
            return None
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
        base = f"http://{LOOPBACK}:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not receiver.alive():
                raise RuntimeError(f"receiver exited:\n{receiver.log_tail()}")
            try:
                JsonHttp(LOOPBACK, port, timeout=2).request("GET", "/healthz")
                break
            except OSError:
                time.sleep(0.5)
        self.receiver_url = f"{base}/tavus/callbacks/{TOKEN}"
        return base

    def sweep_schedules(self, active: bool) -> None:
        deployment = self.prefect.deployment("resume-waits")
        for schedule in deployment["schedules"]:
            body: dict[str, Any] = {"active": active}
            if active:
                body["schedule"] = {"interval": self.args.sweep_interval}
            self.prefect.ok(
                "PATCH", f"/api/deployments/{deployment['id']}/schedules/{schedule['id']}", body
            )

    # -- one approach ----------------------------------------------------------------------

    def launch(self, approach: str, sizes: list[int]) -> list[dict[str, Any]]:
        """Create the replicas and one deployment run per batch; return the runs."""
        sim = self.sims[approach]
        wait_id = self.prefect.deployment("wait-for-replicas")["id"]
        runs = []
        for n in sizes:
            for _ in range(self.args.singles if n == 1 else 1):
                ids = []
                for _ in range(n):
                    spec: dict[str, Any] = {
                        "training_seconds": self.rng.uniform(
                            self.args.train_min, self.args.train_max
                        )
                    }
                    if approach == "b" and self.receiver_url:
                        spec["callback_url"] = self.receiver_url
                    if approach == "c":
                        spec["callback_url"] = "http://127.0.0.1:9/lost"
                        spec["drop_callback"] = True
                    ids.append(sim.add_replica(**spec))
                run = self.prefect.post(
                    f"/deployments/{wait_id}/create_flow_run",
                    {
                        "parameters": {
                            "replica_ids": ids,
                            "tavus_credentials": f"tavus-{approach}",
                            "raise_on_failure": False,
                            "release_worker": approach != "a",
                            "wait_settings": {
                                "poll_interval_seconds": 1,
                                "max_poll_interval_seconds": 4,
                                "timeout_seconds": 3600,
                            },
                        }
                    },
                )
                runs.append({"approach": approach, "n": n, "id": run["id"], "replica_ids": ids})
        _log(f"{LABELS[approach]}: {len(runs)} runs launched")
        return runs

    def wait_final(self, runs: list[dict[str, Any]]) -> None:
        deadline = time.monotonic() + self.args.max_seconds
        pending = {run["id"] for run in runs}
        while pending and time.monotonic() < deadline:
            found = self.prefect.post(
                "/flow_runs/filter", {"flow_runs": {"id": {"any_": sorted(pending)}}}
            )
            pending -= {r["id"] for r in found if r["state_type"] in FINAL}
            time.sleep(3)
        if pending:
            _log(f"{len(pending)} runs did not finish within {self.args.max_seconds:.0f} s")

    # -- measurements ----------------------------------------------------------------------

    def running_seconds(self, run_id: str) -> tuple[float, int, float | None, str]:
        """(seconds Running, Running states, Completed time, final state type)."""
        states = sorted(
            self.prefect.get(f"/flow_run_states/?flow_run_id={run_id}"),
            key=lambda s: s["timestamp"],
        )
        held, lives, completed = 0.0, 0, None
        for state, after in zip(states, [*states[1:], None], strict=True):
            if state["type"] == "RUNNING":
                lives += 1
                end = _ts(after["timestamp"]) if after else time.time()
                held += end - _ts(state["timestamp"])
            if state["type"] == "COMPLETED":
                completed = _ts(state["timestamp"])
        return held, lives, completed, states[-1]["type"] if states else "?"

    def measure(
        self, approach: str, runs: list[dict[str, Any]], sweep_runs: list[str]
    ) -> list[dict[str, Any]]:
        sim = self.sims[approach]
        rows = []
        for n in sorted({run["n"] for run in runs}):
            mine = [run for run in runs if run["n"] == n]
            held = lives = 0.0
            lags, finals = [], []
            for run in mine:
                seconds, starts, completed, final = self.running_seconds(run["id"])
                held += seconds
                lives += starts
                finals.append(final)
                last = max(sim.finished_at(r) or float("inf") for r in run["replica_ids"])
                if completed is not None and last != float("inf"):
                    lags.append(completed - last)
            rows.append(
                {
                    "approach": approach,
                    "n": n,
                    "runs": len(mine),
                    "held": held,
                    "starts": int(lives),
                    "lags": lags,
                    "finals": finals,
                }
            )
        total_held_sweep = sum(self.running_seconds(run_id)[0] for run_id in sweep_runs)
        return rows + (
            [
                {
                    "approach": approach,
                    "n": "sweep",
                    "runs": len(sweep_runs),
                    "held": total_held_sweep,
                }
            ]
            if sweep_runs
            else []
        )


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f}"


def render(results: dict[str, Any]) -> str:
    lines = [
        "| approach | N | runs | worker-s held | flow-run starts | lag median (s) | lag p95 (s) | lag max (s) | ended |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    held_by: dict[tuple[str, int], float] = {}
    for approach, data in results["approaches"].items():
        sweep = next((row for row in data["rows"] if row["n"] == "sweep"), None)
        for row in data["rows"]:
            if row["n"] == "sweep":
                continue
            n = row["n"]
            # (c): the sweep's own runs count too, shared over the batch sizes in proportion to runs.
            share = (sweep["held"] * row["runs"] / data["run_count"]) if sweep else 0.0
            held = row["held"] + share
            held_by[(approach, n)] = held
            lags = row["lags"]
            lines.append(
                f"| {LABELS[approach]} | {n:,} | {row['runs']} | {held:,.1f} | "
                f"{row['starts']} | {_fmt(percentile(lags, 50))} | {_fmt(percentile(lags, 95))} | "
                f"{_fmt(max(lags) if lags else None)} | {', '.join(sorted(set(row['finals'])))} |"
            )
        if sweep:
            lines.append(
                f"| {LABELS[approach]}: sweep runs | | {sweep['runs']} | {sweep['held']:,.1f} (shared into rows above) | {sweep['runs']} | | | | |"
            )
    lines += [
        "",
        "| approach | replicas | runs | flow-run starts | HTTP requests to Tavus |",
        "|---|---:|---:|---:|---:|",
    ]
    for approach, data in results["approaches"].items():
        starts = sum(row["starts"] for row in data["rows"] if row["n"] != "sweep")
        lines.append(
            f"| {LABELS[approach]} | {data['replicas']:,} | {data['run_count']} | {starts} | "
            f"{data['requests_total']:,} |"
        )
    lines.append("")
    lines.append("Worker-seconds relative to (a):")
    for (approach, n), held in sorted(held_by.items(), key=lambda item: (item[0][1], item[0][0])):
        base = held_by.get(("a", n))
        if approach != "a" and base:
            lines.append(
                f"- N = {n:,}: {LABELS[approach]} holds {held / base:.1%} of (a)'s worker-seconds"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sizes = [int(part) for part in args.sizes.split(",") if part.strip()]
    approaches = [a.strip() for a in args.approaches.split(",") if a.strip()]
    bench = Bench(args)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    started = time.monotonic()
    results: dict[str, Any] = {
        "machine": machine_summary(),
        "settings": vars(args),
        "worker_query_seconds": "Prefect default (10 s)",
        "approaches": {},
    }
    try:
        bench.setup(approaches)
        if "b" in approaches and bench.receiver_url is None:
            approaches.remove("b")
        # One approach at a time: on two cores, a 1,000-replica polling wait next to a
        # flood of 1,000 callbacks saturates the (SQLite) Prefect server, and each approach
        # would then be measured against the other's load rather than its own.
        runs: dict[str, list[dict[str, Any]]] = {}
        for approach in [a for a in approaches if a in ("a", "b")]:
            runs[approach] = bench.launch(approach, sizes)
            bench.wait_final(runs[approach])
        sweep_runs: list[str] = []
        if "c" in approaches:
            phase_started = datetime.now().astimezone().isoformat()
            bench.sweep_schedules(active=True)
            runs["c"] = bench.launch("c", sizes)
            bench.wait_final(runs["c"])
            bench.sweep_schedules(active=False)
            sweep_id = bench.prefect.deployment("resume-waits")["id"]
            found = bench.prefect.post(
                "/flow_runs/filter",
                {
                    "deployments": {"id": {"any_": [sweep_id]}},
                    "flow_runs": {"start_time": {"after_": phase_started}},
                },
            )
            sweep_runs = [r["id"] for r in found]
        for approach, mine in runs.items():
            rows = bench.measure(approach, mine, sweep_runs if approach == "c" else [])
            results["approaches"][approach] = {
                "rows": rows,
                "run_count": len(mine),
                "replicas": sum(len(r["replica_ids"]) for r in mine),
                "requests_total": bench.sims[approach].stats()["requests"],
            }
    finally:
        bench.stop()
    results["seconds"] = time.monotonic() - started
    table = render(results)
    machine = results["machine"]
    print(f"\n## Waiting without holding a worker ({datetime.now():%Y-%m-%d})\n")
    print(
        f"Training {args.train_min:.0f}-{args.train_max:.0f} s per replica; worker polling: Prefect's default "
        f"(PREFECT_WORKER_QUERY_SECONDS unset, 10 s); sweep every {args.sweep_interval:.0f} s; "
        f"N=1 is {args.singles} single-replica runs. Lag: last replica of a run finished -> run Completed.\n"
    )
    print(table)
    print(
        f"\nMachine: {machine['cpu_count']} CPUs ({machine['cpu_model']}), {machine['platform']}, Python "
        f"{machine['python']}, Prefect {machine['prefect']}; whole benchmark {results['seconds'] / 60:.1f} min."
    )
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"suspended-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nFull results: {out.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
