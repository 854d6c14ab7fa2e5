"""The ``tavus-api`` global concurrency limit: used when it exists, harmless when not."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

from prefect_tavus.blocks import GLOBAL_LIMIT_NAME, forget_limit_lookup
from prefect_tavus.flows import wait_for_replicas
from prefect_tavus.tasks import get_replica
from tests.integration.conftest import FAST


@pytest.fixture
def tavus_api_limit():
    """Create the limit with the given settings; delete it afterwards."""

    created = []

    def make(**settings):
        async def create():
            async with get_client() as client:
                await client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=GLOBAL_LIMIT_NAME, **settings)
                )

        asyncio.run(create())
        created.append(True)
        forget_limit_lookup()

    yield make

    async def delete():
        async with get_client() as client:
            await client.delete_global_concurrency_limit_by_name(GLOBAL_LIMIT_NAME)

    if created:
        asyncio.run(delete())
    forget_limit_lookup()


def _fetch_n(n, rid, credentials):
    @flow
    def fetch_many():
        started = time.monotonic()
        for _ in range(n):
            get_replica(rid, credentials)
        return time.monotonic() - started

    return fetch_many()


def test_without_the_limit_nothing_breaks_or_warns(simulator, credentials, caplog):
    forget_limit_lookup()
    rid = simulator.add_replica(training_seconds=30)
    with caplog.at_level(logging.WARNING):
        _fetch_n(3, rid, credentials)
    assert simulator.stats()["requests"] == 3
    assert not [r for r in caplog.records if "do not exist" in r.getMessage()]


def test_a_rate_limit_spaces_every_request(simulator, credentials, tavus_api_limit):
    rid = simulator.add_replica(training_seconds=30)
    unlimited = _fetch_n(5, rid, credentials)
    tavus_api_limit(limit=1, slot_decay_per_second=2.0)  # about 2 requests a second
    limited = _fetch_n(5, rid, credentials)
    assert simulator.stats()["requests"] == 10
    assert limited >= 1.5  # 5 requests at 2/s: at least 4 waits of ~0.5 s
    assert limited > unlimited + 1.0


def test_every_wait_request_takes_a_slot(simulator, credentials, tavus_api_limit):
    tavus_api_limit(limit=2)
    ids = [simulator.add_replica(training_seconds=0.6) for _ in range(3)]
    result = wait_for_replicas(ids, credentials, **FAST)
    assert result.all_completed

    async def acquisitions():
        async with get_client() as client:
            limit = await client.read_global_concurrency_limit_by_name(GLOBAL_LIMIT_NAME)
            response = await client._client.post(
                "/events/filter",
                json={
                    "filter": {
                        "event": {"name": ["prefect.concurrency-limit.acquired"]},
                        "resource": {"id": [f"prefect.concurrency-limit.{limit.id}"]},
                    },
                    "limit": 50,
                },
            )
            return response.json()["total"], limit.active_slots

    # The server persists events in batches: on a loaded machine, give it up to 20 s.
    deadline = time.monotonic() + 20
    total, active = asyncio.run(acquisitions())
    while total < result.requests and time.monotonic() < deadline:
        time.sleep(0.5)
        total, active = asyncio.run(acquisitions())
    assert total == simulator.stats()["requests"] == result.requests
    assert active == 0  # every slot was released
