"""Benchmark: waiting on N replicas with ``wait_for_replicas`` vs. the alternatives.

``python -m benchmarks.batch_wait`` (``make bench``) compares, in one run, against the
local Tavus simulator with training compressed to seconds and randomised per replica:

(a) ``wait_for_replicas``: the project's batch wait (one task run per poll round, list
    endpoint with ``replica_ids``, ``page_size`` ids per request; 1 s growing to a 4 s cap);
(b) the prefect-dbt pattern: prefect-dbt's ``wait_for_dbt_cloud_job_run`` loop (one task
    run per poll, fixed interval) run once per replica, concurrently, in one Prefect flow
    (see ``benchmarks/_dbt_pattern.py`` for exactly what is reproduced);
(c) a plain-Python loop without Prefect: every round one GET per pending replica, bounded
    concurrency, then a fixed sleep (``benchmarks/_naive.py``);

for N = 1, 100 and 1,000 replicas. Each approach and N runs in its own child process
(CPU time and peak RSS from ``os.wait4``), with its own fresh replicas, against one
simulator process and one Prefect server process (neither counted). It prints Markdown
tables to stdout and writes everything to ``benchmarks/results/<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks._infra import (
    LOOPBACK,
    PROJECT_ROOT,
    RESULTS_DIR,
    ManagedProcess,
    PrefectRest,
    SimulatorControl,
    free_port,
    machine_summary,
    start_process,
    wait_http_ok,
)
from benchmarks._report import (
    LABELS,
    checks,
    checks_markdown,
    lag_stats,
    percentile,
    ratios_table,
    results_table,
)

SIM_KEY = "bench-sim-key"
#: Where a failing simulated replica fails (the simulator's default fail_at_progress, 40%).
FAIL_AT_FRACTION = 0.40


# --- command line ----------------------------------------------------------------------


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--sizes takes comma-separated integers, got {text!r}"
        ) from None
    if not sizes or any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError("--sizes needs at least one size, each >= 1")
    return sizes


def _approaches(text: str) -> list[str]:
    items = [part.strip() for part in text.split(",") if part.strip()]
    if not items or any(item not in LABELS for item in items):
        raise argparse.ArgumentTypeError(
            f"--approaches takes a comma-separated subset of a,b,c, got {text!r}"
        )
    return list(dict.fromkeys(items))


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.batch_wait",
        description="Compare wait_for_replicas, a prefect-dbt-style per-replica wait and a plain loop.",
    )
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=[1, 100, 1000],
        help="numbers of replicas (default: 1,100,1000)",
    )
    parser.add_argument(
        "--approaches",
        type=_approaches,
        default=["a", "b", "c"],
        help="subset of a,b,c (default: all)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the training durations (default: 0)"
    )
    parser.add_argument(
        "--train-min", type=_positive, default=10.0, help="shortest training, seconds (default: 10)"
    )
    parser.add_argument(
        "--train-max", type=_positive, default=40.0, help="longest training, seconds (default: 40)"
    )
    parser.add_argument(
        "--fail-fraction",
        type=float,
        default=0.02,
        help="fraction of replicas that fail training (status error, at 40%% progress); default 0.02",
    )
    parser.add_argument(
        "--poll-interval",
        type=_positive,
        default=1.0,
        help="(a) poll_interval_seconds (default: 1)",
    )
    parser.add_argument(
        "--poll-cap",
        type=_positive,
        default=4.0,
        help="(a) max_poll_interval_seconds, the poll cap (default: 4)",
    )
    parser.add_argument(
        "--no-speed-up",
        dest="speed_up",
        action="store_false",
        help="(a) speed_up_near_completion=False",
    )
    parser.add_argument("--page-size", type=int, default=100, help="(a) page_size (default: 100)")
    parser.add_argument(
        "--a-timeout",
        type=_positive,
        default=None,
        help="(a) timeout_seconds, also the per-replica max_wait_seconds of (b) (default: 2 x train-max + 60)",
    )
    parser.add_argument(
        "--interval",
        type=_positive,
        default=None,
        help="(b) and (c) fixed poll interval (default: the poll cap)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=10,
        help="(b) task runs / (c) requests in flight at once, and their connection pool (default: 10)",
    )
    parser.add_argument(
        "--b-max-seconds",
        type=_positive,
        default=240.0,
        help="(b) stops polling this long after it starts, resolved or not (default: 240)",
    )
    parser.add_argument(
        "--c-max-seconds",
        type=_positive,
        default=None,
        help="(c) gives up after this long (default: --a-timeout)",
    )
    parser.add_argument(
        "--task-run-settle-seconds",
        type=_positive,
        default=120.0,
        help="longest wait for the Prefect server to record a run's task runs (default: 120)",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON goes")
    parser.add_argument(
        "--keep-temp", action="store_true", help="keep the temp dir (logs, Prefect home) afterwards"
    )
    parser.add_argument(
        "--worker-config", help=argparse.SUPPRESS
    )  # internal: run one approach (child process)
    return parser


def _finish_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    if args.train_max < args.train_min:
        parser.error("--train-max must be >= --train-min")
    if not 0 <= args.fail_fraction <= 1:
        parser.error("--fail-fraction must be within 0..1")
    if args.poll_cap < args.poll_interval:
        parser.error("--poll-cap must be >= --poll-interval")
    if not 1 <= args.page_size <= 100:
        parser.error("--page-size must be within 1..100")
    if args.concurrency < 1:
        parser.error("--concurrency must be >= 1")
    if args.a_timeout is None:
        args.a_timeout = 2 * args.train_max + 60.0
    if args.a_timeout <= args.train_max:
        parser.error("--a-timeout must be above --train-max")
    if args.interval is None:
        args.interval = args.poll_cap
    if args.c_max_seconds is None:
        args.c_max_seconds = args.a_timeout
    return args


# --- the run ---------------------------------------------------------------------------


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class _Terminated(Exception):
    pass


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated(f"signal {signum}")


def plan_replicas(args: argparse.Namespace, n: int) -> list[dict[str, Any]]:
    """Training durations and outcomes for N replicas: the same for every approach at this N."""
    rng = random.Random(f"{args.seed}:{n}")
    plan = []
    for index in range(n):
        seconds = rng.uniform(args.train_min, args.train_max)
        fails = rng.random() < args.fail_fraction
        plan.append(
            {
                "training_seconds": round(seconds, 3),
                "outcome": "error" if fails else "completed",
                "index": index,
            }
        )
    return plan


def nominal_fixed_interval_requests(plan: list[dict[str, Any]], interval: float) -> int:
    """GETs a fixed-interval, one-request-per-replica loop makes if it keeps its cadence.

    Polls at 0, I, 2I, ... until one lands at or after the replica's finish (``T``, or
    ``0.4 T`` for a replica that fails at 40% progress): ``ceil(finish / I) + 1`` each.
    Computed from the plan, not measured: what (b) and (c) would cost if never late.
    """
    total = 0
    for item in plan:
        finish = item["training_seconds"] * (
            1.0 if item["outcome"] == "completed" else FAIL_AT_FRACTION
        )
        total += math.ceil(finish / interval) + 1
    return total


class Bench:
    """Owns the temp dir, the simulator, the Prefect server and the current worker."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="prefect-tavus-bench-"))
        self.processes: list[ManagedProcess] = []
        self.worker: ManagedProcess | None = None
        self.sim_port = free_port()
        self.prefect_port = free_port()
        self.sim_url = f"http://{LOOPBACK}:{self.sim_port}"
        self.prefect_api = f"http://{LOOPBACK}:{self.prefect_port}/api"
        self.sim = SimulatorControl(LOOPBACK, self.sim_port)
        self.prefect = PrefectRest(LOOPBACK, self.prefect_port, timeout=60.0)
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PREFECT_") and k != "TAVUS_API_KEY"
        }
        base.update(
            PREFECT_HOME=str(self.tmp / "prefect-home"),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            DO_NOT_TRACK="1",
            PYTHONPATH=str(PROJECT_ROOT),
        )
        self.server_env = dict(base)
        self.worker_env = dict(base, PREFECT_API_URL=self.prefect_api)

    # -- infrastructure --

    def start_services(self) -> None:
        sim = start_process(
            "simulator",
            [
                sys.executable,
                "-m",
                "prefect_tavus.simulator",
                "--port",
                str(self.sim_port),
                "--api-key",
                SIM_KEY,
            ],
            self.tmp / "simulator.log",
            self.server_env,
            PROJECT_ROOT,
        )
        self.processes.append(sim)
        prefect_cli = Path(sys.executable).with_name("prefect")
        server_argv = (
            [str(prefect_cli)] if prefect_cli.exists() else [sys.executable, "-m", "prefect"]
        ) + ["server", "start", "--host", LOOPBACK, "--port", str(self.prefect_port)]
        server = start_process(
            "prefect server",
            server_argv,
            self.tmp / "prefect-server.log",
            self.server_env,
            PROJECT_ROOT,
        )
        self.processes.append(server)
        wait_http_ok(f"{self.sim_url}/_sim/health", sim, 30)
        _log(f"simulator on {self.sim_url} (pid {sim.pid})")
        started = time.monotonic()
        wait_http_ok(f"{self.prefect_api}/health", server, 180)
        _log(
            f"Prefect server on {self.prefect_api} (pid {server.pid}, up in {time.monotonic() - started:.0f} s)"
        )

    def stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.stop(grace_seconds=5)
            self.worker = None

    def stop_all(self) -> None:
        self.stop_worker()
        for process in reversed(self.processes):
            process.stop(grace_seconds=15)
        self.processes.clear()
        self.sim.close()
        self.prefect.close()

    # -- one approach, one N --

    def run_one(self, approach: str, n: int, plan: list[dict[str, Any]]) -> dict[str, Any]:
        args = self.args
        tag = f"{approach}-{n}"
        paths = {
            name: self.tmp / f"{tag}.{name}"
            for name in ("config.json", "ready", "ids.json", "out.json", "log")
        }
        hard_limit = {
            "a": args.a_timeout + 180.0,
            "b": args.b_max_seconds + 300.0,
            "c": args.c_max_seconds + 120.0,
        }[approach]
        config = {
            "approach": approach,
            "n": n,
            "sim_url": self.sim_url,
            "api_key": SIM_KEY,
            "poll_interval": args.poll_interval,
            "poll_cap": args.poll_cap,
            "speed_up": args.speed_up,
            "page_size": args.page_size,
            "a_timeout": args.a_timeout,
            "interval": args.interval,
            "concurrency": args.concurrency,
            "b_max_seconds": args.b_max_seconds,
            "c_max_seconds": args.c_max_seconds,
            "ready_path": str(paths["ready"]),
            "ids_path": str(paths["ids.json"]),
            "out_path": str(paths["out.json"]),
        }
        paths["config.json"].write_text(json.dumps(config))
        self.sim.reset()

        worker = start_process(
            f"worker {tag}",
            [
                sys.executable,
                "-m",
                "benchmarks.batch_wait",
                "--worker-config",
                str(paths["config.json"]),
            ],
            paths["log"],
            self.worker_env,
            PROJECT_ROOT,
            stdin=subprocess.PIPE,
        )
        self.worker = worker
        spawned = time.monotonic()
        deadline = spawned + 180.0
        while not paths["ready"].exists():
            if not worker.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"worker {tag} did not get ready:\n{worker.log_tail()}")
            time.sleep(0.1)

        created_at = time.monotonic()
        ids = [
            self.sim.add_replica(
                replica_name=f"bench {tag} #{item['index']}",
                training_seconds=item["training_seconds"],
                outcome=item["outcome"],
            )
            for item in plan
        ]
        create_seconds = time.monotonic() - created_at
        paths["ids.json"].write_text(json.dumps(ids))
        assert worker.popen.stdin is not None
        try:
            worker.popen.stdin.write(b"go\n")
            worker.popen.stdin.close()
        except BrokenPipeError:
            pass  # the worker died; _reap reports it
        _log(f"{LABELS[approach]}, N={n}: {n} replicas created in {create_seconds:.1f} s; waiting")

        status, usage, killed = self._reap(worker, hard_limit)
        self.worker = None
        worker.stop(grace_seconds=1)  # closes the log; the group should be empty already

        out: dict[str, Any] = {}
        if paths["out.json"].exists():
            out = json.loads(paths["out.json"].read_text())
        stats = self.sim.stats()
        row: dict[str, Any] = {
            "approach": approach,
            "label": LABELS[approach],
            "n": n,
            "exit_status": status,
            "killed_at_hard_limit": killed,
            "cpu_seconds": usage.ru_utime + usage.ru_stime if usage else None,
            "cpu_user_seconds": usage.ru_utime if usage else None,
            "cpu_system_seconds": usage.ru_stime if usage else None,
            "peak_rss_mb": usage.ru_maxrss / 1024.0 if usage else None,
            "wall_seconds": out.get("wall_seconds"),
            "cpu_wait_seconds": out.get("cpu_wait_seconds"),
            "process_wall_seconds": time.monotonic() - spawned,
            "replica_create_seconds": create_seconds,
            "http_requests": stats["requests"],
            "by_route": stats["by_route"],
            "connections": stats["connections"],
            "rounds": out.get("rounds"),
            "client_requests": out.get("client_requests"),
            "task_calls": out.get("task_calls"),
            "flow_run_ids": out.get("flow_run_ids", []),
            "bounded": bool(out.get("bounded")),
            "bound_seconds": args.b_max_seconds if approach == "b" else args.c_max_seconds,
            "failed_created": sum(1 for item in plan if item["outcome"] == "error"),
        }
        if out.get("error") or killed or status != 0:
            row["error"] = (
                out.get("error")
                or f"worker exit status {status}{' (killed at hard limit)' if killed else ''}"
            )
            row["log_tail"] = worker.log_tail(40)
            _log(f"worker {tag} failed: {row['error']}\n{row['log_tail']}")
        if out.get("request_errors"):
            row["request_errors"] = out["request_errors"]

        records: dict[str, dict[str, Any]] = out.get("records") or {}
        lags, ratios, per_replica = [], [], []
        for rid in ids:
            finished_at = self.sim.finished_at(rid)
            record = records.get(rid, {})
            seen_at = record.get("seen_at")
            cap = record.get("cap") if approach == "a" else args.interval
            lag = seen_at - finished_at if seen_at is not None and finished_at is not None else None
            if lag is not None:
                lags.append(lag)
                if cap:
                    ratios.append(lag / cap)
            per_replica.append(
                {
                    "replica_id": rid,
                    "finished_at": finished_at,
                    "seen_at": seen_at,
                    "lag": lag,
                    "cap": cap,
                    "outcome": record.get("outcome"),
                    "polls": record.get("polls"),
                }
            )
        row.update(lag_stats(lags, ratios))
        row["resolved"] = len(lags)
        row["failed_seen"] = sum(
            1 for item in per_replica if item["outcome"] in ("failed", "error")
        )
        row["requests_per_round"] = (
            (row["http_requests"] / row["rounds"]) if row.get("rounds") else None
        )
        row["nominal_fixed_interval_requests"] = nominal_fixed_interval_requests(
            plan, args.interval
        )
        row["poll_spacing_seconds"] = _poll_spacing(approach, row, records, out.get("started_at"))
        row["per_replica"] = per_replica

        if approach in ("a", "b") and row["flow_run_ids"]:
            expected = row["task_calls"] if approach == "b" else None
            count, settled, waited = self.prefect.settled_task_run_count(
                row["flow_run_ids"],
                expected=expected,
                quiet_seconds=5.0,
                max_seconds=args.task_run_settle_seconds,
            )
            row.update(
                task_runs=count, task_runs_settled=settled, task_run_settle_wait_seconds=waited
            )
        elif approach == "c":
            row.update(task_runs=0, task_runs_settled=True)
        else:
            row.update(task_runs=None, task_runs_settled=False)

        _log(
            f"{LABELS[approach]}, N={n}: {row['resolved']}/{n} seen finished, {row['http_requests']} requests, "
            f"{row.get('task_runs')} task runs, lag p95 {row['lag_p95'] if row['lag_p95'] is not None else 'n/a'}, "
            f"wall {row['wall_seconds'] or 0:.1f} s, CPU {row['cpu_seconds'] or 0:.1f} s, "
            f"RSS {row['peak_rss_mb'] or 0:.0f} MB"
        )
        return row

    def _reap(self, worker: ManagedProcess, hard_limit: float) -> tuple[int | None, Any, bool]:
        """Wait for the worker with ``os.wait4`` (its own rusage); kill it past ``hard_limit``."""
        deadline = time.monotonic() + hard_limit
        killed = False
        while True:
            pid, status, usage = os.wait4(worker.pid, os.WNOHANG)
            if pid == worker.pid:
                worker.popen.returncode = os.waitstatus_to_exitcode(status)
                return worker.popen.returncode, usage, killed
            if time.monotonic() > deadline and not killed:
                _log(f"{worker.name} passed its hard limit of {hard_limit:.0f} s; killing it")
                os.killpg(worker.pid, signal.SIGKILL)
                killed = True
            time.sleep(0.1)


def _error_row(approach: str, n: int, error: str, log_tail: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "approach": approach,
        "label": LABELS[approach],
        "n": n,
        "error": error,
        "log_tail": log_tail,
        "resolved": 0,
        "bounded": False,
        "flow_run_ids": [],
        "failed_seen": 0,
        "by_route": {},
    }
    row.update(lag_stats([], []))
    return row


def _poll_spacing(
    approach: str, row: dict[str, Any], records: dict[str, dict[str, Any]], started_at: float | None
) -> float | None:
    """Typical seconds between two polls of the same replica.

    (a) and (c) poll every pending replica each round: wall time / (rounds - 1). (b) polls
    each replica on its own: the median over replicas polled at least twice of
    (time seen finished - start) / (polls - 1).
    """
    if approach != "b":
        rounds, wall = row.get("rounds"), row.get("wall_seconds")
        return wall / (rounds - 1) if rounds and rounds >= 2 and wall else None
    if started_at is None:
        return None
    spacings = [
        (record["seen_at"] - started_at) / (record["polls"] - 1)
        for record in records.values()
        if record.get("seen_at") is not None and (record.get("polls") or 0) >= 2
    ]
    return percentile(spacings, 50)


def run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    executable = sys.executable
    if Path(executable).absolute().is_relative_to(Path.cwd()):
        executable = os.path.relpath(executable)
    command = shlex.join([executable, "-m", "benchmarks.batch_wait", *argv])
    machine = machine_summary()
    bench = Bench(args)
    rows: list[dict[str, Any]] = []
    started = time.monotonic()
    ok = False
    previous_handler = signal.signal(signal.SIGTERM, _on_sigterm)
    # Ctrl-C stops everything cleanly, even when started from a shell that ignores SIGINT
    # for background jobs.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _log(f"temp dir {bench.tmp}")
        bench.start_services()
        for n in args.sizes:
            plan = plan_replicas(args, n)
            for approach in args.approaches:
                try:
                    rows.append(bench.run_one(approach, n, plan))
                except (KeyboardInterrupt, _Terminated):
                    raise
                except Exception as exc:
                    tail = bench.worker.log_tail(40) if bench.worker is not None else ""
                    bench.stop_worker()
                    _log(f"{LABELS[approach]}, N={n} failed: {type(exc).__name__}: {exc}\n{tail}")
                    rows.append(_error_row(approach, n, f"{type(exc).__name__}: {exc}", tail))
        ok = True
    except (KeyboardInterrupt, _Terminated):
        _log("interrupted; stopping everything")
    finally:
        # Cleanup is bounded (a few TERM-then-KILL grace periods); do not let a second Ctrl-C cut it short.
        previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            bench.stop_all()
        finally:
            signal.signal(signal.SIGINT, previous_int)
            signal.signal(signal.SIGTERM, previous_handler)
    total_seconds = time.monotonic() - started

    report = render(args, command, machine, rows, total_seconds, complete=ok)
    print(report["markdown"])
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = args.results_dir / f"{stamp}.json"
    path.write_text(
        json.dumps(
            {
                "command": command,
                "machine": machine,
                "settings": _settings(args),
                "complete": ok,
                "total_seconds": total_seconds,
                "rows": rows,
                "ratios": report["ratios"],
                "checks": report["checks"],
                "markdown": report["markdown"],
            },
            indent=1,
        )
    )
    _log(f"results written to {path}")
    if args.keep_temp or not ok or any(row.get("error") for row in rows):
        _log(f"logs kept in {bench.tmp}")
    else:
        shutil.rmtree(bench.tmp, ignore_errors=True)
    if not ok:
        return 130
    return 1 if any(row.get("error") for row in rows) else 0


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        key: (str(value) if isinstance(value, Path) else value)
        for key, value in vars(args).items()
        if key != "worker_config"
    }


def render(
    args: argparse.Namespace,
    command: str,
    machine: dict[str, Any],
    rows: list[dict[str, Any]],
    total_seconds: float,
    *,
    complete: bool,
) -> dict[str, Any]:
    ratios_md, ratios = ratios_table(rows)
    check_items = checks(rows, args.page_size)
    pages = lambda n: math.ceil(n / args.page_size)  # noqa: E731
    bounded = [row for row in rows if row.get("bounded")]
    lines = [
        "## Batch-wait benchmark",
        "",
        f"- Machine: {machine['cpu_count']} CPUs ({machine['cpu_model']}), {machine['platform']}",
        f"- Python {machine['python']}, Prefect {machine['prefect']}, httpx {machine['httpx']}, "
        f"prefect-tavus {machine['prefect_tavus']}",
        f"- Command: `{command}`",
        f"- Whole run: {total_seconds / 60:.1f} min{'' if complete else ' (INTERRUPTED: partial results)'}",
        f"- Replicas: training uniform in [{args.train_min:g}, {args.train_max:g}] s (seed {args.seed}; the same "
        f"durations for every approach at a given N), {args.fail_fraction:.0%} fail (status `error` at 40% progress); "
        "each approach gets its own fresh replicas, created just before it starts",
        f"- (a) `wait_for_replicas(poll_interval_seconds={args.poll_interval:g}, max_poll_interval_seconds="
        f"{args.poll_cap:g}, timeout_seconds={args.a_timeout:g}, page_size={args.page_size}, "
        f"speed_up_near_completion={args.speed_up})`",
        f"- (b) prefect-dbt's `wait_for_dbt_cloud_job_run` loop, once per replica, all concurrently in ONE flow run "
        f"(not one subflow each as prefect-dbt would), fixed interval {args.interval:g} s, one task run "
        f"(`cache_policy=NO_CACHE, retries=3`) per poll per replica, at most {args.concurrency} task runs in flight, "
        f"one shared pool of {args.concurrency} connections; stopped after {args.b_max_seconds:g} s",
        f"- (c) no Prefect: rounds of one GET per pending replica, at most {args.concurrency} in flight, then a fixed "
        f"{args.interval:g} s sleep (fixed delay)",
        "- Requests: counted by the simulator. Task runs: counted on the Prefect server for the worker's flow run. "
        "Lag: simulator's finish time to when the approach saw it; poll cap: (a) the cap in force at that moment "
        f"(grows from {args.poll_interval:g} to {args.poll_cap:g} s), (b)/(c) the fixed interval. "
        "CPU: the worker process's user+system time from `os.wait4` (whole process, imports included) / "
        "during the wait only; RSS: its `ru_maxrss`. The simulator and the Prefect server run in their own "
        "processes and are not counted.",
        "",
        results_table(rows),
        "",
        "Ratios per N (how many times (a)'s figure):",
        "",
        ratios_md,
        "",
        "Targets for (a):",
        "",
        checks_markdown(check_items),
    ]
    if bounded:
        lines += ["", "Bounded runs (stopped before every replica was seen finished):", ""]
        for row in bounded:
            lines.append(
                f"- {row['label']}, N={row['n']:,}: stopped after {row['bound_seconds']:g} s with "
                f"{row['resolved']:,}/{row['n']:,} replicas seen finished, {row['http_requests']:,} requests and "
                f"{row.get('task_runs') if row.get('task_runs') is not None else 'n/a'} task runs by then"
            )
    notes = [
        f"N={row['n']:,}: {row['http_requests']:,} requests (list: {row['by_route'].get('GET /v2/replicas', 0):,}, "
        f"single GET: {row['by_route'].get('GET /v2/replicas/{id}', 0):,}) over {row['rounds']} rounds, one every "
        f"{_fmt(row.get('poll_spacing_seconds'))} s on average (budget {row['rounds']} x {pages(row['n'])} + "
        f"{row['failed_seen']} failed = {row['rounds'] * pages(row['n']) + row['failed_seen']})"
        for row in rows
        if row["approach"] == "a" and row.get("rounds")
    ]
    if notes:
        lines += ["", "Requests of (a): " + "; ".join(notes) + "."]
    lines += [
        "",
        '"Nominal fixed-interval requests" is computed from the replica plan, not measured: the GETs a '
        f"one-request-per-replica loop polling every {args.interval:g} s makes if it is never late "
        f"(ceil(finish / {args.interval:g}) + 1 per replica). (b) and (c) make fewer when their rounds take longer "
        'than the interval (see "s between polls of a replica").',
    ]
    recording = [
        f"N={row['n']:,}: {_fmt(row.get('task_run_settle_wait_seconds'))} s"
        + ("" if row.get("task_runs_settled") else " (gave up; count still short)")
        for row in rows
        if row["approach"] == "b" and row.get("task_run_settle_wait_seconds") is not None
    ]
    if recording:
        lines += [
            "",
            "Prefect 3 records task runs from events, after the fact. Time the server still needed, after (b)'s "
            "worker had exited, before it showed all of (b)'s task runs: "
            + "; ".join(recording)
            + ". "
            "((a)'s counts were read once they had not moved for 5 s.)",
        ]
    errors = [row for row in rows if row.get("error")]
    if errors:
        lines += ["", "Errors:", ""] + [
            f"- {row['label']}, N={row['n']:,}: {row['error']}" for row in errors
        ]
    return {"markdown": "\n".join(lines), "ratios": ratios, "checks": check_items}


def _fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.worker_config:
        from benchmarks._worker import worker_main

        return worker_main(args.worker_config)
    return run(_finish_args(parser, args), argv)


if __name__ == "__main__":
    sys.exit(main())
