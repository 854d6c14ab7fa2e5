"""The simulator's command line: ``python -m prefect_tavus.simulator`` and ``prefect-tavus``.

Both spellings run in a real subprocess, because what matters is what a user or a benchmark
sees: the "listening" line, a working API at that address, and a clean exit (status 0, no
traceback) on Ctrl-C (SIGINT) and on SIGTERM.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from prefect_tavus import cli
from prefect_tavus.simulator import cli as simulator_cli

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(
    r"Tavus simulator listening on (http://127\.0\.0\.1:\d+) \(api key: cli-key\)\n"
)

#: The console script of this environment (installed next to the interpreter).
CONSOLE_SCRIPT = Path(sys.executable).with_name("prefect-tavus")

SPELLINGS = {
    "python -m prefect_tavus.simulator": [sys.executable, "-m", "prefect_tavus.simulator"],
    "python -m prefect_tavus.cli simulator": [
        sys.executable,
        "-m",
        "prefect_tavus.cli",
        "simulator",
    ],
}


def console_script() -> list[str]:
    """The ``prefect-tavus`` console script; skips if the environment was not reinstalled."""
    script = CONSOLE_SCRIPT if CONSOLE_SCRIPT.exists() else shutil.which("prefect-tavus")
    if script is None:
        pytest.skip("prefect-tavus console script not installed (pip install -e . to create it)")
    return [str(script)]


def serve_and_stop(command: Sequence[str], stop_signal: signal.Signals) -> tuple[int, str]:
    """Start ``command`` with two seeded replicas, check they are served, then signal it."""
    process = subprocess.Popen(
        [*command, "--port", "0", "--api-key", "cli-key", "--seed", "2"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = LISTENING.fullmatch(line)
        assert match, (
            line,
            process.stderr.read() if process.poll() is not None and process.stderr else "",
        )
        seeded = [process.stdout.readline().split()[-1] for _ in range(2)]
        with httpx.Client(
            base_url=match.group(1), headers={"x-api-key": "cli-key"}, timeout=5.0
        ) as http:
            for rid in seeded:
                assert http.get(f"/v2/replicas/{rid}").json()["replica_id"] == rid
            assert http.get("/v2/replicas").json()["total_count"] == 2
            assert http.get("/v2/replicas", headers={"x-api-key": "wrong"}).status_code == 401
        process.send_signal(stop_signal)
        stdout, stderr = process.communicate(timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert "Tavus simulator stopped" in stdout
    return process.returncode, stderr


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_serves_seeded_replicas_and_exits_cleanly(
    spelling: str, stop_signal: signal.Signals
) -> None:
    returncode, stderr = serve_and_stop(SPELLINGS[spelling], stop_signal)
    assert returncode == 0
    assert "Traceback" not in stderr


def test_console_script_serves_and_exits_cleanly() -> None:
    returncode, stderr = serve_and_stop([*console_script(), "simulator"], signal.SIGINT)
    assert (returncode, "Traceback" in stderr) == (0, False)


def test_console_script_help_lists_subcommands() -> None:
    result = subprocess.run(
        [*console_script(), "--help"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0
    assert "simulator" in result.stdout and "Tavus Replicas API" in result.stdout


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_refuses_non_loopback_host(spelling: str) -> None:
    result = subprocess.run(
        [*SPELLINGS[spelling], "--host", "0.0.0.0", "--port", "0"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--allow-external" in result.stderr
    assert "Traceback" not in result.stderr


def test_cannot_bind_is_a_message_and_status_1() -> None:
    with socket_in_use() as port:
        result = subprocess.run(
            [sys.executable, "-m", "prefect_tavus.simulator", "--port", str(port)],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert "cannot listen on" in result.stderr and "Traceback" not in result.stderr


def test_cli_module_does_not_import_prefect() -> None:
    # The console script must start fast and work before Prefect is configured.
    code = "import sys, prefect_tavus.cli; sys.exit('prefect' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


# -- in-process: parsing and the subcommand registry ------------------------------------------


def test_help_lists_every_registered_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for command in cli.SUBCOMMANDS:
        assert command.name in out and command.summary in out


def test_no_subcommand_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "simulator" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--training-seconds", "-1"], "--training-seconds"),
        (["--training-seconds", "nan"], "--training-seconds"),
        (["--seed", "-1"], "--seed"),
        (["--port", "70000"], "--port"),
        (["--api-key", " "], "--api-key"),
        (["--port", "eighty"], "invalid int value"),
    ],
)
def test_simulator_subcommand_rejects_bad_options(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["simulator", *argv])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "prefect-tavus simulator" in err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        [
            "--host",
            "localhost",
            "--port",
            "0",
            "--api-key",
            "a",
            "--api-key",
            "b",
            "--training-seconds",
            "3",
            "--seed",
            "2",
            "--allow-external",
            "--verbose",
        ],
    ],
    ids=["defaults", "every-option"],
)
def test_both_spellings_take_the_same_options(argv: list[str]) -> None:
    direct = vars(simulator_cli.build_parser().parse_args(argv))
    via_cli = vars(cli.build_parser().parse_args(["simulator", *argv]))
    for internal in ("command", "_subcommand", "_subparser"):
        via_cli.pop(internal)
    assert via_cli == direct


def test_a_new_subcommand_is_one_registry_entry(capsys: pytest.CaptureFixture[str]) -> None:
    ran: list[str] = []

    def add_arguments(parser: object) -> None:
        parser.add_argument("--name", default="x")  # type: ignore[attr-defined]

    def run(args: object, parser: object) -> int:
        ran.append(args.name)  # type: ignore[attr-defined]
        return 7

    extra = cli.Subcommand("hello", "say hello", add_arguments, run)
    parser = cli.build_parser((*cli.SUBCOMMANDS, extra))
    args = parser.parse_args(["hello", "--name", "tavus"])
    assert args._subcommand.run(args, args._subparser) == 7 and ran == ["tavus"]
    with pytest.raises(ValueError, match="duplicate"):
        cli.build_parser((extra, extra))


# -- helpers --------------------------------------------------------------------------------------


@contextlib.contextmanager
def socket_in_use() -> Iterator[int]:
    """Hold a listening loopback socket; yields its port."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])
