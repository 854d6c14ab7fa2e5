"""Hours-long waits under faults, each scenario over real HTTP against the simulator.

Transient faults (429, 5xx, dropped connections, timeouts, garbled bodies) are survived
within the outage budget; permanent ones (key revoked, replica deleted) end the wait at
once, after one request. Time is compressed: polls every 0.2-0.5 s.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time

import pytest

from prefect_tavus.core import (
    ReplicaNotFoundDuringWaitError,
    TavusAPIUnavailableError,
    TavusAuthenticationError,
)
from prefect_tavus.flows import wait_for_replica
from prefect_tavus.simulator import ROUTE_GET, Fault
from tests.conftest import SIM_KEY
from tests.integration.conftest import FAULT_TABLE, fast


def _run(simulator, credentials, name, **kwargs):
    started = time.monotonic()
    try:
        replica = wait_for_replica(kwargs.pop("replica_id"), credentials, **fast(**kwargs))
        outcome = f"survived: {replica.status}"
        error = None
    except Exception as exc:  # recorded, then re-raised for the test to check
        outcome = f"failed: {type(exc).__name__}"
        error = exc
    waited = time.monotonic() - started
    FAULT_TABLE.append((name, simulator.stats()["requests"], waited, outcome))
    return error, waited


TRANSIENT = [
    ("503 x3", [Fault.status(503)] * 3),
    ("500, 502, 504", [Fault.status(500), Fault.status(502), Fault.status(504)]),
    ("connection dropped x2", [Fault.drop(), Fault.drop()]),
    ("answer slower than the 2 s client timeout", [Fault.delay(3.0)]),
    ("200 with a non-JSON body", [Fault.garbage()]),
    ("200 with truncated JSON", [Fault.truncated()]),
    ("429 without Retry-After", [Fault.status(429)]),
]


@pytest.mark.parametrize(("name", "faults"), TRANSIENT, ids=[t[0] for t in TRANSIENT])
def test_transient_faults_never_end_the_wait(simulator, credentials, name, faults, caplog):
    rid = simulator.add_replica(training_seconds=1.0)
    simulator.inject_faults("*", faults)
    with caplog.at_level(logging.INFO):
        error, _ = _run(simulator, credentials, name, replica_id=rid)
    assert error is None
    assert simulator.stats()["requests"] >= len(faults) + 1
    warnings = [r for r in caplog.records if "Tavus API unavailable" in r.getMessage()]
    recoveries = [r for r in caplog.records if "reachable again" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING  # once per outage
    assert len(recoveries) == 1 and recoveries[0].levelno == logging.INFO


def test_retry_after_seconds_is_honoured(simulator, credentials):
    rid = simulator.add_replica(training_seconds=0.2)
    simulator.inject_faults("*", [Fault.status(429, retry_after="1.5")])
    error, waited = _run(simulator, credentials, "429 Retry-After: 1.5 (seconds)", replica_id=rid)
    assert error is None
    assert waited >= 1.5  # the backoff alone would be 0.2 s
    assert simulator.stats()["requests"] == 2


def test_retry_after_http_date_is_honoured(simulator, credentials):
    rid = simulator.add_replica(training_seconds=0.2)
    when = email.utils.formatdate(time.time() + 2.5, usegmt=True)  # whole seconds: >= 1.5 s ahead
    simulator.inject_faults("*", [Fault.status(503, retry_after=when)])
    error, waited = _run(simulator, credentials, "503 Retry-After: <HTTP-date>", replica_id=rid)
    assert error is None
    assert waited >= 1.4
    assert simulator.stats()["requests"] == 2


def test_outage_longer_than_budget_fails_and_says_how_long(simulator, credentials):
    rid = simulator.add_replica(training_seconds=30)
    simulator.inject_faults("*", [Fault.status(503)] * 200)
    error, waited = _run(
        simulator,
        credentials,
        "503 for longer than max_outage_seconds=1.5",
        replica_id=rid,
        max_outage_seconds=1.5,
    )
    assert isinstance(error, TavusAPIUnavailableError)
    # Ended by the budget, on the wait's own clock: within a poll or two of 1.5 s of outage
    # (ignoring the budget, the 200 faults would have lasted well over a minute).
    assert 1.5 <= error.outage_seconds < 4.0
    assert "unreachable for" in str(error) and "503" in str(error)
    # Wall time adds the flow run's start and end, which a loaded machine stretches.
    assert 1.5 <= waited < 30


def test_key_revoked_mid_wait_ends_at_once(simulator, credentials):
    rid = simulator.add_replica(training_seconds=30)
    threading.Timer(1.0, simulator.revoke_key, [SIM_KEY]).start()
    error, waited = _run(simulator, credentials, "key revoked mid-wait", replica_id=rid)
    assert isinstance(error, TavusAuthenticationError)
    assert simulator.stats()["unauthorized"] == 1  # one request after revocation, no retries
    assert waited < 15  # at once: not riding it out as an outage, nor the 30 s training


def test_replica_deleted_mid_wait_ends_at_once(simulator, credentials):
    rid = simulator.add_replica(training_seconds=30)
    before = {}

    def delete():
        before["requests"] = simulator.stats()["requests"]
        simulator.delete_replica(rid)

    threading.Timer(1.0, delete).start()
    error, _ = _run(simulator, credentials, "replica deleted mid-wait", replica_id=rid)
    assert isinstance(error, ReplicaNotFoundDuringWaitError)
    assert simulator.stats()["requests"] - before["requests"] == 1


def test_a_scripted_401_is_permanent(simulator, credentials):
    rid = simulator.add_replica(training_seconds=1)
    simulator.inject_faults("*", [Fault.status(401)])
    error, _ = _run(simulator, credentials, "401 on the first poll", replica_id=rid)
    assert isinstance(error, TavusAuthenticationError)
    assert simulator.stats()["requests"] == 1


# --- one budget for every request of a round ------------------------------------------


def test_confirming_gets_obey_the_outage_budget(simulator, credentials):
    """A replica the list leaves out is confirmed with a GET; in a 503 storm of that GET
    alone, the wait fails when max_outage_seconds runs out, not after each GET's own
    retries (four of them, up to 300 s of Retry-After each)."""
    from prefect_tavus.flows import wait_for_replicas

    training = simulator.add_replica(training_seconds=3600)
    gone = simulator.add_replica(training_seconds=3600)
    simulator.delete_replica(gone)  # lists leave it out; only a GET can say what it is
    simulator.inject_faults(ROUTE_GET, [Fault.status(503, retry_after=300)] * 200)
    started = time.monotonic()
    with pytest.raises(TavusAPIUnavailableError):
        wait_for_replicas([training, gone], credentials, **fast(max_outage_seconds=1.5))
    assert time.monotonic() - started < 30
    assert simulator.stats()["by_route"][ROUTE_GET] <= 8  # one a round, no retries of its own


def test_confirming_gets_stop_at_the_deadline(simulator, credentials):
    from prefect_tavus.flows import wait_for_replicas

    done = simulator.add_replica(training_seconds=0)
    failed = simulator.add_replica(training_seconds=0, outcome="error", error_message="No face")
    simulator.inject_faults(ROUTE_GET, [Fault.status(429, retry_after=300)] * 200)
    started = time.monotonic()
    result = wait_for_replicas(
        [done, failed],
        credentials,
        raise_on_failure=False,
        **fast(timeout_seconds=2.0, max_outage_seconds=600),
    )
    assert time.monotonic() - started < 20
    outcomes = {r.replica_id: r.outcome.value for r in result.results}
    assert outcomes == {
        done: "completed",
        failed: "failed",
    }  # the list's view stands without its message
