"""pytest fixtures for testing your own Tavus pipelines offline, against a local simulator.

Installing ``prefect-tavus`` registers this module as a pytest plugin (entry point
``pytest11: prefect_tavus``), so the fixtures below are available in any test suite with
no import and no ``conftest.py`` line. They start the package's Tavus simulator (a local,
standard-library fake of the Tavus Replicas and Videos APIs, see :mod:`prefect_tavus.simulator`)
on a free loopback port: no network, no Tavus account, and replicas that train (and videos
that generate) in seconds.

Usage, testing your own flow (``my_project.flows.onboard_presenter`` stands for yours)::

    # conftest.py: flows need a Prefect API; prefect_test_harness gives a temporary one.
    import pytest
    from prefect.testing.utilities import prefect_test_harness

    @pytest.fixture(scope="session", autouse=True)
    def prefect_api():
        with prefect_test_harness():
            yield

    # test_onboarding.py
    from my_project.flows import onboard_presenter

    def test_onboarding_waits_for_training(tavus_simulator, tavus_credentials):
        replica_id = tavus_simulator.add_replica(replica_name="Presenter", training_seconds=0.5)
        result = onboard_presenter(replica_id, tavus_credentials=tavus_credentials)
        assert result.replica_name == "Presenter"

    def test_onboarding_reports_a_failed_training(tavus_simulator, tavus_credentials):
        replica_id = tavus_simulator.add_replica(
            training_seconds=0.2, outcome="error", error_message="Blurry video"
        )
        ...

Or, with no Prefect at all, straight against the API::

    import asyncio
    from prefect_tavus.core import TavusClient

    def test_client(tavus_simulator, tavus_simulator_key):
        replica_id = tavus_simulator.add_replica(replica_name="Ann", training_seconds=30)

        async def fetch():
            async with TavusClient(tavus_simulator_key, base_url=tavus_simulator.url) as client:
                return await client.get_replica(replica_id)

        assert asyncio.run(fetch()).replica_name == "Ann"

Videos, for a pipeline's next step (``POST /v2/videos``). A video your code creates waits
``queued`` while its replica trains, generates for ``tavus_simulator_generation_seconds``
and ends ``ready``; script what the next creates do (their ids cannot be known in advance),
or add videos yourself::

    from prefect_tavus.simulator import ROUTE_VIDEO_CREATE, Fault

    def test_my_step_reports_a_failed_video(tavus_simulator, tavus_credentials):
        replica_id = tavus_simulator.add_replica(training_seconds=0.2)
        # The next POST /v2/videos makes this video: its id, outcome and reason are chosen
        # here; its replica, script and callback_url come from what your code sends.
        tavus_simulator.script_created_videos(
            video_id="vscripted01", outcome="error", error_reason="audio_too_short"
        )
        my_generate_step(replica_id, tavus_credentials=tavus_credentials)
        assert tavus_simulator.video_payload("vscripted01")["status"] == "error"
        assert tavus_simulator.video_request("vscripted01")["script"]  # the body your code sent

    def test_my_poller(tavus_simulator, tavus_credentials):
        replica_id = tavus_simulator.add_replica(training_seconds=0.5)
        video_id = tavus_simulator.add_video(replica_id=replica_id, script="Hi", generation_seconds=0.5)
        doomed = tavus_simulator.add_video(
            replica_id=tavus_simulator.add_replica(training_seconds=0, outcome="error"), script="Hi"
        )  # fails with status_details "replica_in_error_state"
        tavus_simulator.inject_faults(video_id, [Fault.status(503, retry_after="1")])
        tavus_simulator.inject_faults(ROUTE_VIDEO_CREATE, [Fault.lost_answer()])
        ...  # tavus_simulator.video_finished_at(video_id) says when it became ready

Fixtures (all function-scoped, so every test gets a fresh, empty simulator):

``tavus_simulator``
    A started :class:`~prefect_tavus.simulator.TavusSimulator` on a free loopback port,
    stopped after the test. Script it with ``add_replica(...)`` (outcome, training time,
    error message, ... see :class:`~prefect_tavus.simulator.ReplicaSpec`), ``add_video(...)``
    and ``script_created_videos(...)`` (see :class:`~prefect_tavus.simulator.VideoSpec`),
    ``inject_faults(...)`` (429/5xx, dropped connections, lost answers, ...; per replica or
    video id, per route such as ``"POST /v2/videos"``, or ``"*"``), ``revoke_key(...)``;
    read ``url``, ``stats()`` (request counts, ``by_route``, ``by_replica``, ``by_video``),
    ``video_payload(...)``, ``video_finished_at(...)`` and ``video_request(...)``.
``tavus_credentials``
    A :class:`~prefect_tavus.blocks.TavusCredentials` block pointing at that simulator,
    with its key, a 5 s request timeout and no poll spacing. It is not saved, so creating
    it needs no Prefect API (running your flows still does, as shown above).
``tavus_simulator_key``
    The API key the simulator accepts (``"prefect-tavus-test-key"``). Any other key gets
    Tavus's 401. Override this fixture to use another key.
``tavus_simulator_training_seconds``
    Training time of replicas created through ``POST /v2/replicas`` (and of
    ``add_replica`` calls without ``training_seconds``): 1.0. Override it to change that.
``tavus_simulator_generation_seconds``
    Generation time of videos created through ``POST /v2/videos`` (and of ``add_video``
    calls without ``generation_seconds``), once their replica is trained: 1.0. Override it
    to change that.

This module is loaded into every pytest run of every project that installs the package, so
it imports nothing heavy at import time: the simulator is imported when a fixture is first
used, and Prefect only inside ``tavus_credentials``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # pragma: no cover - annotations only; imported lazily at run time
    from prefect_tavus.blocks import TavusCredentials
    from prefect_tavus.simulator import TavusSimulator

__all__ = [
    "DEFAULT_TEST_API_KEY",
    "DEFAULT_TEST_GENERATION_SECONDS",
    "DEFAULT_TEST_TRAINING_SECONDS",
    "tavus_credentials",
    "tavus_simulator",
    "tavus_simulator_generation_seconds",
    "tavus_simulator_key",
    "tavus_simulator_training_seconds",
]

#: The key ``tavus_simulator`` accepts unless ``tavus_simulator_key`` is overridden.
DEFAULT_TEST_API_KEY = "prefect-tavus-test-key"

#: Default training time of simulated replicas in tests: long enough to observe
#: "still training", short enough not to slow a suite down.
DEFAULT_TEST_TRAINING_SECONDS = 1.0

#: Default generation time of simulated videos in tests (after their replica is trained).
DEFAULT_TEST_GENERATION_SECONDS = 1.0

#: Request timeout of ``tavus_credentials``: a loopback simulator answers in milliseconds,
#: so a hung request should fail the test quickly rather than after Tavus's 30 s default.
_TEST_REQUEST_TIMEOUT_SECONDS = 5.0


@pytest.fixture
def tavus_simulator_key() -> str:
    """The API key the ``tavus_simulator`` accepts (override to choose another)."""
    return DEFAULT_TEST_API_KEY


@pytest.fixture
def tavus_simulator_training_seconds() -> float:
    """Default training time of the ``tavus_simulator``'s replicas (override to change)."""
    return DEFAULT_TEST_TRAINING_SECONDS


@pytest.fixture
def tavus_simulator_generation_seconds() -> float:
    """Default generation time of the ``tavus_simulator``'s videos (override to change)."""
    return DEFAULT_TEST_GENERATION_SECONDS


@pytest.fixture
def tavus_simulator(
    tavus_simulator_key: str,
    tavus_simulator_training_seconds: float,
    tavus_simulator_generation_seconds: float,
) -> Iterator[TavusSimulator]:
    """A local Tavus API simulator (replicas and videos) on a free loopback port, stopped after the test."""
    from prefect_tavus.simulator import TavusSimulator

    simulator = TavusSimulator(
        host="127.0.0.1",
        port=0,
        api_keys=(tavus_simulator_key,),
        default_training_seconds=tavus_simulator_training_seconds,
        default_generation_seconds=tavus_simulator_generation_seconds,
    ).start()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def tavus_credentials(
    tavus_simulator: TavusSimulator, tavus_simulator_key: str
) -> TavusCredentials:
    """An unsaved ``TavusCredentials`` block for ``tavus_simulator``, with short timeouts."""
    # Imported here, not at module level: this plugin loads into every pytest run, and
    # Prefect is slow to import and must not be imported before a suite configures it.
    from prefect_tavus.blocks import TavusCredentials

    return TavusCredentials(
        api_key=tavus_simulator_key,
        base_url=tavus_simulator.url,
        request_timeout_seconds=_TEST_REQUEST_TIMEOUT_SECONDS,
        min_poll_spacing_seconds=0.0,
    )
