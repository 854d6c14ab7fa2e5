"""release_worker=True where Prefect cannot suspend, and the block's callback settings.

Suspending for real needs a deployment run on a worker: tests/e2e/test_suspended_waits.py.
Here: a run that cannot suspend says why, once, and waits by polling as before; the
callback URL is built from the block and reaches Tavus without becoming a parameter.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest
from prefect import flow
from prefect.client.orchestration import get_client

from prefect_tavus.blocks import CALLBACK_TOKEN_ENV_VAR, TavusCredentials
from prefect_tavus.core import TavusConfigurationError
from prefect_tavus.flows import create_replica_and_wait, wait_for_replica, wait_for_replicas
from tests.conftest import SIM_KEY
from tests.integration.conftest import FAST

VIDEO = "https://example.invalid/training.mp4"


def _release_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "release_worker" in r.getMessage()
    ]


def test_a_plain_flow_call_warns_once_and_polls(simulator, credentials, caplog):
    rid = simulator.add_replica(training_seconds=6.0)
    with caplog.at_level(logging.INFO):
        replica = wait_for_replica(rid, credentials, release_worker=True, **FAST)
    assert replica.status == "completed"
    (warning,) = _release_warnings(caplog)
    assert "not a deployment run" in warning and "polls instead" in warning
    assert simulator.stats()["requests"] >= 2  # it kept polling until training ended


def test_a_subflow_warns_once_and_polls(simulator, credentials, caplog):
    ids = [simulator.add_replica(training_seconds=5.0), simulator.add_replica(training_seconds=5.5)]

    @flow
    def pipeline() -> int:
        return len(wait_for_replicas(ids, credentials, release_worker=True, **FAST).results)

    with caplog.at_level(logging.INFO):
        assert pipeline() == 2
    (warning,) = _release_warnings(caplog)
    assert "subflow" in warning


def test_without_release_worker_nothing_is_said(simulator, credentials, caplog):
    rid = simulator.add_replica(training_seconds=0.3)
    with caplog.at_level(logging.INFO):
        wait_for_replica(rid, credentials, **FAST)
    assert _release_warnings(caplog) == []


# --- the block's callback settings ----------------------------------------------------


def test_callback_url_is_built_from_base_url_and_token(monkeypatch):
    monkeypatch.delenv(CALLBACK_TOKEN_ENV_VAR, raising=False)
    block = TavusCredentials(
        api_key="k",
        callback_base_url="https://hooks.example.com/",
        callback_token="t0k-0123456789abcdef",
    )
    url = block.callback_url()
    assert (
        url is not None
        and url.get_secret_value()
        == "https://hooks.example.com/tavus/callbacks/t0k-0123456789abcdef"
    )
    assert "t0k" not in repr(url) and "t0k" not in repr(block) and "t0k" not in str(block)
    assert TavusCredentials(api_key="k").callback_url() is None  # no receiver: no callback
    monkeypatch.setenv(CALLBACK_TOKEN_ENV_VAR, "fromenv-0123456789abcdef")
    assert (
        TavusCredentials(callback_base_url="http://127.0.0.1:9")
        .callback_url()
        .get_secret_value()
        .endswith("/tavus/callbacks/fromenv-0123456789abcdef")
    )


def test_callback_settings_are_checked(monkeypatch):
    monkeypatch.delenv(CALLBACK_TOKEN_ENV_VAR, raising=False)
    with pytest.raises(ValueError, match=r"callback_base_url .* plain http"):  # pydantic wraps it
        TavusCredentials(callback_base_url="http://hooks.example.com")
    with pytest.raises(TavusConfigurationError, match="no callback token"):
        TavusCredentials(callback_base_url="https://hooks.example.com").callback_url()
    # The receiver's token rule, said once (core.contract.validate_token), refuses these
    # before Tavus is given a URL the receiver would answer 404.
    for bad, why in (("a/b-0123456789abcdef", "letters, digits"), ("short", "at least 16")):
        with pytest.raises(TavusConfigurationError, match=why) as caught:
            TavusCredentials(
                callback_base_url="https://hooks.example.com", callback_token=bad
            ).callback_url()
        assert bad not in str(caught.value)


def test_create_and_wait_sends_the_blocks_callback_url_and_never_records_the_token(
    simulator, caplog
):
    token = f"cbtok-{uuid.uuid4().hex}"
    seen_urls: list[str | None] = []
    original = simulator.state.add_replica

    def spy(spec):  # what the simulated POST /v2/replicas was given
        seen_urls.append(spec.callback_url)
        return original(spec)

    simulator.state.add_replica = spy  # type: ignore[method-assign]
    creds = TavusCredentials(
        api_key=SIM_KEY,
        base_url=simulator.url,
        min_poll_spacing_seconds=0.01,
        callback_base_url="http://127.0.0.1:9",
        callback_token=token,
    )
    simulator.state.default_training_seconds = 1.0
    with caplog.at_level(logging.DEBUG):
        replica = create_replica_and_wait(
            VIDEO, creds, replica_name="Cb", release_worker=True, **FAST
        )
    assert replica.status == "completed"
    assert seen_urls == [f"http://127.0.0.1:9/tavus/callbacks/{token}"]

    async def from_server() -> list[str]:
        async with get_client() as client:
            texts = [run.model_dump_json() for run in await client.read_flow_runs(limit=50)]
            texts += [t.model_dump_json() for t in await client.read_task_runs(limit=200)]
            texts += [log.model_dump_json() for log in await client.read_logs(limit=200)]
            texts += [a.model_dump_json() for a in await client.read_artifacts(limit=100)]
        return texts

    texts = asyncio.run(from_server()) + [r.getMessage() for r in caplog.records]
    assert len(texts) > 5
    assert not [t[:200] for t in texts if token in t], "callback token leaked"


def test_without_release_worker_no_callback_is_requested(simulator):
    seen: list[str | None] = []
    original = simulator.state.add_replica
    simulator.state.add_replica = lambda spec: (seen.append(spec.callback_url), original(spec))[1]  # type: ignore[method-assign]
    simulator.state.default_training_seconds = 0.5
    creds = TavusCredentials(
        api_key=SIM_KEY,
        base_url=simulator.url,
        min_poll_spacing_seconds=0.01,
        callback_base_url="http://127.0.0.1:9",
        callback_token="tok-0123456789abcdef",
    )
    create_replica_and_wait(VIDEO, creds, **FAST)
    assert seen == [None]
