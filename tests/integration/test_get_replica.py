"""The get_replica task on a real Prefect server against the simulator over HTTP."""

from __future__ import annotations

import time

import pytest
from prefect import flow

from prefect_tavus.blocks import TavusCredentials
from prefect_tavus.core import (
    InvalidReplicaIdError,
    Replica,
    TavusAuthenticationError,
    TavusConfigurationError,
    TavusNotFoundError,
    TavusServerError,
)
from prefect_tavus.simulator import Fault
from prefect_tavus.tasks import aget_replica, get_replica

FAST_RETRIES = {"retry_delay_seconds": [0.05] * 4, "retry_jitter_factor": 0}


def test_returns_a_typed_replica(simulator, credentials):
    rid = simulator.add_replica(replica_name="Ann", training_seconds=30)

    @flow
    def pipeline():
        return get_replica(rid, credentials, verbose=True)

    replica = pipeline()
    assert isinstance(replica, Replica)
    assert replica.replica_id == rid and replica.replica_name == "Ann"
    assert replica.status == "started" and replica.replica_type == "user"
    assert replica.created_at is not None and 0 <= replica.progress_percent < 100


async def test_async_twin_in_an_async_flow(simulator, credentials):
    rid = simulator.add_replica(training_seconds=30)

    @flow
    async def pipeline():
        return await get_replica(rid, credentials)  # dispatches to aget_replica

    replica = await pipeline()
    assert replica.replica_id == rid and replica.replica_type is None  # not verbose


def test_saved_block_name_is_accepted(simulator, credentials):
    rid = simulator.add_replica(training_seconds=30)
    credentials.save("tavus-it-get", overwrite=True)

    @flow
    def pipeline():
        return get_replica(rid, "tavus-it-get")

    assert pipeline().replica_id == rid


def test_auth_error_fails_after_exactly_one_request(simulator):
    rid = simulator.add_replica(training_seconds=30)
    bad = TavusCredentials(api_key="wrong-key", base_url=simulator.url)

    @flow
    def pipeline():
        return get_replica(rid, bad)

    with pytest.raises(TavusAuthenticationError, match="refused the API key"):
        pipeline()
    assert simulator.stats()["requests"] == 1


def test_unknown_replica_fails_after_exactly_one_request(simulator, credentials):
    @flow
    def pipeline():
        return get_replica("rdoesnotexist", credentials)

    with pytest.raises(TavusNotFoundError, match="Invalid replica_id"):
        pipeline()
    assert simulator.stats()["requests"] == 1


@pytest.mark.parametrize("bad_id", ["", "  ", "a/b", "../r1", "r1?x", None, 42])
def test_bad_input_raises_value_error_before_any_request(simulator, credentials, bad_id):
    @flow
    def pipeline():
        return get_replica(bad_id, credentials)

    with pytest.raises(InvalidReplicaIdError):
        pipeline()
    assert simulator.stats()["requests"] == 0


def test_missing_key_says_how_to_provide_one(simulator):
    rid = simulator.add_replica(training_seconds=30)

    @flow
    def pipeline():
        return get_replica(rid, TavusCredentials(base_url=simulator.url))

    with pytest.raises(TavusConfigurationError, match="TAVUS_API_KEY"):
        pipeline()
    assert simulator.stats()["requests"] == 0


def test_key_from_environment(simulator, monkeypatch):
    from tests.conftest import SIM_KEY

    rid = simulator.add_replica(training_seconds=30)
    monkeypatch.setenv("TAVUS_API_KEY", SIM_KEY)

    @flow
    def pipeline():
        return get_replica(rid, TavusCredentials(base_url=simulator.url))

    assert pipeline().replica_id == rid


def test_transient_faults_are_retried_until_success(simulator, credentials):
    rid = simulator.add_replica(training_seconds=30)
    simulator.inject_faults(rid, [Fault.status(503), Fault.drop(), Fault.garbage()])
    task = aget_replica.with_options(**FAST_RETRIES)

    @flow
    async def pipeline():
        return await task(rid, credentials)

    import asyncio

    replica = asyncio.run(pipeline())
    assert replica.replica_id == rid
    assert simulator.stats()["requests"] == 4


def test_retries_give_up_with_the_transient_error(simulator, credentials):
    rid = simulator.add_replica(training_seconds=30)
    simulator.inject_faults(rid, [Fault.status(500)] * 10)
    task = aget_replica.with_options(**FAST_RETRIES)

    @flow
    async def pipeline():
        return await task(rid, credentials)

    import asyncio

    with pytest.raises(TavusServerError):
        asyncio.run(pipeline())
    assert simulator.stats()["requests"] == 5  # policy: 5 attempts


def test_retry_after_is_honoured_over_a_shorter_backoff(simulator, credentials):
    rid = simulator.add_replica(training_seconds=30)
    simulator.inject_faults(rid, [Fault.status(429, retry_after="1")])
    task = aget_replica.with_options(**FAST_RETRIES)

    @flow
    async def pipeline():
        started = time.monotonic()
        replica = await task(rid, credentials)
        return replica, time.monotonic() - started

    import asyncio

    replica, elapsed = asyncio.run(pipeline())
    assert replica.replica_id == rid
    assert elapsed >= 1.0  # backoff alone would have been 0.05 s
    assert simulator.stats()["requests"] == 2
