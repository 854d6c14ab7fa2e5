"""``prefect-tavus callbacks`` refuses to start without what it needs, and says why
without echoing secrets. Real processes; no Prefect server is needed to refuse."""

from __future__ import annotations

import subprocess
import sys

import pytest

from prefect_tavus.cli import build_parser
from tests.callbacks.conftest import PROJECT_ROOT, receiver_env

API_URL = "http://127.0.0.1:9/api"  # never contacted: every case here refuses before


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prefect_tavus.cli", "callbacks", "--port", "0", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_callbacks_is_a_registered_subcommand():
    args = build_parser().parse_args(["callbacks", "--port", "9999", "--interval-seconds", "0.5"])
    assert (
        args._subcommand.name == "callbacks" and args.port == 9999 and args.interval_seconds == 0.5
    )


def test_refuses_to_start_without_a_token():
    result = run_cli(receiver_env(API_URL, None))
    assert result.returncode == 2
    assert "TAVUS_CALLBACK_TOKEN" in result.stderr and "--token-secret-block" in result.stderr
    assert "listening" not in result.stdout


@pytest.mark.parametrize("token", ["tooshort-secret", "has a space but long enough"])
def test_refuses_an_unusable_token_without_echoing_it(token):
    result = run_cli(receiver_env(API_URL, token))
    assert result.returncode == 2
    assert token not in result.stderr + result.stdout


def test_refuses_to_start_without_a_prefect_api_url():
    result = run_cli(receiver_env(None, "a-perfectly-good-token-123"))
    assert result.returncode == 2
    assert "PREFECT_API_URL" in result.stderr


def test_rejects_non_positive_timings():
    result = run_cli(receiver_env(API_URL, "a-perfectly-good-token-123"), "--interval-seconds", "0")
    assert result.returncode == 2
