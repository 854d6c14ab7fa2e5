"""Processes and HTTP plumbing of the batch-wait benchmark (standard library only).

Starts the Tavus simulator and one Prefect server as separate process groups, waits for
them to answer, drives the simulator's ``/_sim`` control API, asks the Prefect REST API
how many task runs a flow run has, and stops everything it started (process group by
process group, TERM then KILL), whatever happens.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

LOOPBACK = "127.0.0.1"
#: The repository, where every benchmark runs its processes and prefect.yaml lives.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: Where the benchmarks save their JSON (gitignored).
RESULTS_DIR = PROJECT_ROOT / "benchmarks" / "results"
#: The process work pool of prefect.yaml.
POOL = "tavus-process"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


@dataclass
class ManagedProcess:
    """A child started in its own session (so its whole process group can be stopped)."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    _log: BinaryIO | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace_seconds: float = 10.0) -> None:
        """SIGTERM the process group, SIGKILL it after ``grace_seconds``; reap the leader."""
        if self.popen.returncode is None:
            _signal_group(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=grace_seconds)
            except subprocess.TimeoutExpired:
                _signal_group(self.pid, signal.SIGKILL)
                try:
                    self.popen.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        # Members of the group that outlived the leader (e.g. a server's own children).
        _signal_group(self.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None


def _group_has_members(pgid: int) -> bool:
    """Whether any process is still in process group ``pgid`` (Linux ``/proc``; else assume so).

    A group id is never reused while a member lives, so signalling a group that still has
    members only reaches processes this benchmark started (or their children).
    """
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces or parentheses, so split after the last ')'.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[2] == str(pgid):
            return True
    return False


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    if not _group_has_members(pgid):
        return
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def start_process(
    name: str,
    argv: Sequence[str],
    log_path: Path,
    env: dict[str, str],
    cwd: Path,
    *,
    stdin: int | None = None,
) -> ManagedProcess:
    """Start ``argv`` in a new session, stdout and stderr to ``log_path``."""
    log = open(log_path, "wb")  # noqa: SIM115 - closed by ManagedProcess.stop
    popen = subprocess.Popen(
        list(argv),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        env=env,
        cwd=str(cwd),
        start_new_session=True,
    )
    return ManagedProcess(name, popen, log_path, log)


def wait_http_ok(url: str, process: ManagedProcess, timeout_seconds: float) -> None:
    """Poll ``url`` until it answers 200; raise if ``process`` dies or time runs out."""
    deadline = time.monotonic() + timeout_seconds
    last_error = "no answer"
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(
                f"{process.name} exited early (code {process.popen.returncode}):\n{process.log_tail()}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
                last_error = f"HTTP {response.status}"
        except (OSError, urllib.error.URLError) as exc:
            last_error = str(exc)
        time.sleep(0.25)
    raise RuntimeError(
        f"{process.name} did not answer {url} within {timeout_seconds:.0f} s ({last_error})"
    )


class JsonHttp:
    """A tiny keep-alive JSON client for one loopback host (the control APIs)."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"content-type": "application/json"} if payload is not None else {}
        for attempt in (1, 2):  # one reconnect if the server closed an idle keep-alive connection
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self._conn.request(method, path, body=payload, headers=headers)
                response = self._conn.getresponse()
                data = response.read()
            except (http.client.HTTPException, OSError):
                self.close()
                if attempt == 2:
                    raise
                continue
            text = data.decode() if data else ""
            return response.status, (json.loads(text) if text else None)
        raise AssertionError("unreachable")

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, data = self.request(method, path, body)
        if not 200 <= status < 300:
            raise RuntimeError(f"{method} {path} answered {status}: {data!r}")
        return data

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class SimulatorControl(JsonHttp):
    """The simulator's ``/_sim`` control API (never counted in its request statistics)."""

    def reset(self) -> None:
        self.ok("POST", "/_sim/reset")
        self.ok("POST", "/_sim/stats/reset")

    def add_replica(self, **kwargs: Any) -> str:
        return str(self.ok("POST", "/_sim/replicas", kwargs)["replica_id"])

    def stats(self) -> dict[str, Any]:
        return dict(self.ok("GET", "/_sim/stats"))

    def finished_at(self, replica_id: str) -> float | None:
        value = self.ok("GET", f"/_sim/replicas/{replica_id}")["finished_at"]
        return None if value is None else float(value)


class PrefectRest(JsonHttp):
    """The few Prefect REST calls the parent needs (no Prefect import in the parent)."""

    def count_task_runs(self, flow_run_ids: Sequence[str]) -> int:
        body = {"flow_runs": {"id": {"any_": list(flow_run_ids)}}}
        return int(self.ok("POST", "/api/task_runs/count", body))

    def settled_task_run_count(
        self,
        flow_run_ids: Sequence[str],
        *,
        expected: int | None,
        quiet_seconds: float,
        max_seconds: float,
    ) -> tuple[int, bool, float]:
        """Task runs of ``flow_run_ids`` once the server has recorded them all.

        Prefect 3 records task runs from events, asynchronously: the count is read until it
        reaches ``expected`` (when known) or stops moving for ``quiet_seconds``, for at most
        ``max_seconds``. Returns (count, settled, seconds spent waiting).
        """
        started = time.monotonic()
        last, last_change = -1, started
        while True:
            count = self.count_task_runs(flow_run_ids) if flow_run_ids else 0
            now = time.monotonic()
            if count != last:
                last, last_change = count, now
            if expected is not None and count >= expected:
                return count, True, now - started
            if expected is None and now - last_change >= quiet_seconds:
                return count, True, now - started
            if now - started >= max_seconds:
                return count, False, now - started
            time.sleep(1.0)


def machine_summary() -> dict[str, Any]:
    """CPU count, platform, Python and package versions."""
    import platform
    from importlib import metadata

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model or platform.processor() or "unknown",
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "prefect": version("prefect"),
        "httpx": version("httpx"),
        "prefect_tavus": version("prefect-tavus"),
    }


class BusyPrefect(JsonHttp):
    """The Prefect REST calls of the deployment benchmarks (no Prefect import in the
    parent). A server busy with a 1,000-run wait on SQLite may answer 503 (database
    locked): each call is tried again for up to a minute."""

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        for _ in range(30):
            status, data = self.request(method, path, body)
            if status != 503:
                break
            time.sleep(2)
        if not 200 <= status < 300:
            raise RuntimeError(f"{method} {path} answered {status}: {data!r}")
        return data

    def get(self, path: str) -> Any:
        return self.ok("GET", "/api" + path)

    def post(self, path: str, body: Any = None) -> Any:
        return self.ok("POST", "/api" + path, body if body is not None else {})

    def deployment(self, name: str) -> dict[str, Any]:
        (found,) = self.post("/deployments/filter", {"deployments": {"name": {"any_": [name]}}})
        return found


class BenchStack:
    """What a deployment benchmark starts its processes in: a temporary directory (logs, a
    Prefect home), a port for its Prefect server, the environments of the server and of
    everything that talks to it (no user profile, no Tavus secrets, no telemetry), and the
    processes it started, stopped in reverse order by :meth:`stop`."""

    def __init__(self, prefix: str, prefect: type[BusyPrefect] = BusyPrefect) -> None:
        import tempfile

        self.tmp = Path(tempfile.mkdtemp(prefix=prefix))
        self.processes: list[ManagedProcess] = []
        self.prefect_port = free_port()
        self.api = f"http://{LOOPBACK}:{self.prefect_port}/api"
        self.prefect = prefect(LOOPBACK, self.prefect_port, timeout=120.0)
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PREFECT_") and k not in ("TAVUS_API_KEY", "TAVUS_CALLBACK_TOKEN")
        }
        base.update(
            PREFECT_HOME=str(self.tmp / "prefect-home"),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            DO_NOT_TRACK="1",
            PYTHONPATH=str(PROJECT_ROOT),
            PREFECT_SERVER_UI_ENABLED="false",
        )
        self.server_env = dict(base)
        self.env = dict(base, PREFECT_API_URL=self.api)

    def start(
        self, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> ManagedProcess:
        process = start_process(name, argv, self.tmp / f"{name}.log", env or self.env, PROJECT_ROOT)
        self.processes.append(process)
        return process

    def cli(self, *args: str) -> str:
        """``prefect <args>`` against this stack's server; its output, or RuntimeError."""
        done = subprocess.run(
            [sys.executable, "-m", "prefect", *args],
            cwd=PROJECT_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"prefect {' '.join(args)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
            )
        return done.stdout

    def save_blocks(self, blocks: dict[str, dict[str, Any]]) -> None:
        """Save a ``TavusCredentials`` block ``tavus-<name>`` per entry, in a child process
        (the parent imports no Prefect)."""
        script = (
            "import json,sys\nfrom prefect_tavus.blocks import TavusCredentials\n"
            "for name, fields in json.loads(sys.argv[1]).items():\n"
            "    TavusCredentials(**fields).save(f'tavus-{name}', overwrite=True)\n"
        )
        subprocess.run(
            [sys.executable, "-c", script, json.dumps(blocks)],
            cwd=PROJECT_ROOT,
            env=self.env,
            check=True,
            timeout=300,
        )

    def start_server(self) -> ManagedProcess:
        return self.start(
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
                str(self.prefect_port),
                "--analytics-off",
            ],
            self.server_env,
        )

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop(grace_seconds=10)
