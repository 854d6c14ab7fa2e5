"""Never train twice: a create whose answer is lost says so, is never resent by the client,
and the replica it may have made can be found. Over loopback against the simulator."""

from __future__ import annotations

import pickle
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from prefect_tavus.core import (
    DEFAULT_RETRY_POLICY,
    ReplicaCreateOutcomeUnknownError,
    ReplicaSearchIncompleteError,
    TavusClient,
    TavusConnectionError,
    TavusMalformedResponseError,
    TavusRateLimitError,
    TavusServerError,
    TavusTransientError,
)
from prefect_tavus.core.http_errors import error_from_transport
from prefect_tavus.simulator import ROUTE_CREATE, Fault, TavusSimulator
from tests.conftest import SIM_KEY

NAME = "Sales presenter"
VIDEO = "https://cdn.example.com/train.mp4"


def _all_ids(sim: TavusSimulator) -> set[str]:
    items, _ = sim.state.list_page(api_key=None, limit=100, page=1)
    return {item["replica_id"] for item in items}


async def _create_failing(
    sim: TavusSimulator, fault: Fault, *, timeout: float = 5.0
) -> BaseException:
    sim.inject_faults(ROUTE_CREATE, [fault])
    async with TavusClient(SIM_KEY, base_url=sim.url, timeout=timeout) as client:
        with pytest.raises(TavusTransientError) as info:
            await client.create_replica(train_video_url=VIDEO, replica_name=NAME)
    assert sim.stats()["by_route"].get("POST /v2/replicas") == 1  # sent once, never resent
    return info.value


@pytest.mark.parametrize("list_order", ["oldest_first", "newest_first"])
@pytest.mark.parametrize(
    "fault", [Fault.late_answer(3.0), Fault.lost_answer()], ids=["late", "lost"]
)
async def test_a_lost_create_answer_is_unknown_and_find_replicas_finds_exactly_that_replica(
    list_order, fault
):
    with TavusSimulator(api_keys=(SIM_KEY,), list_order=list_order) as sim:
        # Decoys: the same name long before, near names, a system replica, and pages of others.
        sim.add_replica(replica_name=NAME, extra_fields={"created_at": "2020-01-01T00:00:00.000Z"})
        for near in (NAME.lower(), NAME + " ", NAME + " 2"):
            sim.add_replica(replica_name=near)
        sim.add_replica(
            replica_name=NAME,
            replica_type="system",
            extra_fields={"created_at": "2020-01-01T00:00:00Z"},
        )
        for index in range(17):
            sim.add_replica(replica_name=f"filler {index}")
        before = _all_ids(sim)
        attempted_at = time.time()

        error = await _create_failing(sim, fault, timeout=0.5)
        assert isinstance(error, TavusConnectionError)
        assert error.request_sent is None and error.may_have_taken_effect
        assert not DEFAULT_RETRY_POLICY.may_resend(error, idempotent=False)
        assert DEFAULT_RETRY_POLICY.may_resend(error, idempotent=True)
        (created,) = _all_ids(sim) - before  # the simulator did train one

        async with TavusClient(SIM_KEY, base_url=sim.url) as client:
            found = await client.find_replicas(
                replica_name=NAME, created_since=attempted_at, page_size=4
            )
        assert [r.replica_id for r in found] == [created]
        assert found[0].replica_name == NAME and found[0].status == "started"
        pages = sim.stats()["by_route"]["GET /v2/replicas"]
        assert pages == 6  # 23 replicas at 4 a page: every page read, none twice


async def test_connect_failure_was_not_sent_and_may_be_resent():
    sim = TavusSimulator(api_keys=(SIM_KEY,)).start()
    url = sim.url
    sim.stop()  # nothing listens on that port any more
    async with TavusClient(SIM_KEY, base_url=url, timeout=2) as client:
        with pytest.raises(TavusConnectionError) as info:
            await client.create_replica(train_video_url=VIDEO, replica_name=NAME)
    error = info.value
    assert error.request_sent is False and not error.may_have_taken_effect
    assert "not sent" in str(error)
    assert DEFAULT_RETRY_POLICY.may_resend(error, idempotent=False)


async def test_a_429_refused_the_create_and_a_503_may_not_have(simulator):
    limited = await _create_failing(simulator, Fault.status(429, retry_after="1"))
    assert isinstance(limited, TavusRateLimitError)
    assert limited.request_sent is True and not limited.may_have_taken_effect
    assert DEFAULT_RETRY_POLICY.may_resend(limited, idempotent=False)
    simulator.reset_stats()
    failed = await _create_failing(simulator, Fault.status(503))
    assert isinstance(failed, TavusServerError)
    assert failed.request_sent is True and failed.may_have_taken_effect
    assert not DEFAULT_RETRY_POLICY.may_resend(failed, idempotent=False)
    assert (
        _all_ids(simulator) == set()
    )  # neither created anything (the simulator knows; a client cannot)


async def test_a_garbled_2xx_to_a_create_did_create(simulator):
    error = await _create_failing(simulator, Fault.garbage())
    assert isinstance(error, TavusMalformedResponseError)
    assert error.request_sent is True and error.may_have_taken_effect
    assert len(_all_ids(simulator)) == 1


def test_transport_failures_say_whether_the_request_was_sent():
    request = httpx.Request("POST", "https://tavusapi.com/v2/replicas")
    cases = [
        (httpx.ConnectError("refused", request=request), False),
        (httpx.ConnectTimeout("slow", request=request), False),
        (httpx.PoolTimeout("busy", request=request), False),
        (httpx.UnsupportedProtocol("ftp", request=request), False),
        (httpx.ReadTimeout("slow", request=request), None),
        (httpx.WriteTimeout("slow", request=request), None),
        (httpx.WriteError("broken", request=request), None),
        (httpx.ReadError("reset", request=request), None),
        (httpx.RemoteProtocolError("closed", request=request), None),
    ]
    for exc, sent in cases:
        error = error_from_transport(exc, operation="create replica")
        assert error.request_sent is sent, type(exc).__name__
        assert error.may_have_taken_effect is (sent is None), type(exc).__name__
        assert ("not sent" in str(error)) is (sent is False) and (
            "may have reached" in str(error)
        ) is (sent is None)


async def test_clock_skew_allowance_and_unreadable_created_at(simulator):
    since = datetime.now(timezone.utc)
    minute_before = (since - timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    three_before = (since - timedelta(seconds=180)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    skewed = simulator.add_replica(replica_name=NAME, extra_fields={"created_at": minute_before})
    simulator.add_replica(replica_name=NAME, extra_fields={"created_at": three_before})
    unknown = simulator.add_replica(replica_name=NAME, extra_fields={"created_at": "yesterday-ish"})
    naive = simulator.add_replica(
        replica_name=NAME, extra_fields={"created_at": since.strftime("%Y-%m-%dT%H:%M:%S.%f")}
    )
    async with TavusClient(SIM_KEY, base_url=simulator.url) as client:
        default = await client.find_replicas(replica_name=NAME, created_since=since)
        strict = await client.find_replicas(
            replica_name=NAME, created_since=since.timestamp(), clock_skew_seconds=0
        )
        with pytest.raises(ValueError, match="naive"):
            await client.find_replicas(replica_name=NAME, created_since=since.replace(tzinfo=None))
    # oldest first, an unreadable created_at last (it cannot be ruled out)
    assert [r.replica_id for r in default] == [skewed, naive, unknown]
    assert [r.replica_id for r in strict] == [naive, unknown]


async def test_a_huge_account_stops_after_max_pages_with_what_it_found(simulator):
    since = time.time() - 5
    first = simulator.add_replica(replica_name=NAME)
    for index in range(12):
        simulator.add_replica(replica_name=f"other {index}")
    async with TavusClient(SIM_KEY, base_url=simulator.url) as client:
        with pytest.raises(ReplicaSearchIncompleteError) as info:
            await client.find_replicas(
                replica_name=NAME, created_since=since, page_size=3, max_pages=2
            )
        complete = await client.find_replicas(
            replica_name=NAME, created_since=since, page_size=3, max_pages=5
        )
    error = info.value
    assert (
        error.pages_read == 2
        and error.total_count == 13
        and [r.replica_id for r in error.found] == [first]
    )
    assert "max_pages" in str(error) and "13" in str(error)
    assert [r.replica_id for r in complete] == [first]


def test_outcome_unknown_error_says_what_happened_and_how_to_check():
    cause = TavusConnectionError(
        "Request to create replica timed out (it may have reached Tavus).", request_sent=None
    )
    attempted = datetime(2026, 11, 29, 12, 0, 5, tzinfo=timezone.utc)
    error = ReplicaCreateOutcomeUnknownError(replica_name=NAME, attempted_at=attempted, cause=cause)
    text = str(error)
    for words in (
        "unknown",
        "second replica",
        "bill",
        f"named {NAME!r}",
        "29 Nov 2026, 12:00:05 UTC",
        "list_replicas",
        "dashboard",
        "timed out",
    ):
        assert words in text, words
    assert error.replica_name == NAME and error.attempted_at == attempted and error.cause is cause
    assert error.__cause__ is cause and not isinstance(error, TavusTransientError)
    clone = pickle.loads(pickle.dumps(error))
    assert str(clone) == text and clone.attempted_at == attempted and clone.replica_name == NAME

    from_epoch = ReplicaCreateOutcomeUnknownError(
        replica_name=None, attempted_at=attempted.timestamp()
    )
    assert from_epoch.attempted_at == attempted and "no replica_name" in str(from_epoch)
    with pytest.raises(ValueError, match="naive"):
        ReplicaCreateOutcomeUnknownError(
            replica_name=NAME, attempted_at=attempted.replace(tzinfo=None)
        )


@pytest.mark.parametrize("ids", [False, True], ids=["all", "by_id"])
async def test_pages_are_followed_by_total_count_when_tavus_caps_the_page_size(ids):
    with TavusSimulator(api_keys=(SIM_KEY,), max_page_size=3) as sim:
        made = [
            sim.add_replica(replica_name=NAME if i == 7 else f"r{i}", training_seconds=60)
            for i in range(8)
        ]
        async with TavusClient(SIM_KEY, base_url=sim.url) as client:
            listed = [
                r.replica_id
                async for r in client.iter_replicas(replica_ids=made if ids else None, page_size=5)
            ]
            found = await client.find_replicas(
                replica_name=NAME, created_since=time.time() - 5, page_size=5
            )
    assert listed == made  # 3 a page although 5 were asked for: every page followed
    assert [r.replica_id for r in found] == [made[7]]
