"""The pytest plugin users get with the package (``prefect_tavus.testing``, entry point ``pytest11``).

Each test writes a small test suite, as a user of prefect-tavus would, and runs it with pytest
in a fresh subprocess (``pytester.runpytest_subprocess``): the plugin must be found through
its entry point alone, with no conftest or import, and its fixtures must give a working
simulator and credentials. Nothing here starts a Prefect server: the block is only built.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.metadata import entry_points

import pytest

#: What the generated suites import and use: the public, Prefect-free client.
USER_SUITE = """
    import asyncio
    import time

    import httpx
    import pytest

    from prefect_tavus.core import TavusAuthenticationError, TavusClient

    URLS = []


    def client_for(credentials, api_key=None):
        return TavusClient(
            api_key or credentials.resolved_api_key(),
            base_url=credentials.base_url,
            timeout=credentials.request_timeout_seconds,
        )


    async def fetch(credentials, replica_id, api_key=None):
        async with client_for(credentials, api_key) as client:
            return await client.get_replica(replica_id)


    def test_added_replica_is_returned_with_its_name(tavus_simulator, tavus_credentials):
        replica_id = tavus_simulator.add_replica(replica_name="Presenter", training_seconds=30)
        replica = asyncio.run(fetch(tavus_credentials, replica_id))
        assert replica.replica_id == replica_id
        assert replica.replica_name == "Presenter"
        assert replica.status == "started"
        assert tavus_simulator.stats()["by_replica"] == {replica_id: 1}
        URLS.append(tavus_simulator.url)


    def test_wrong_key_gets_401(tavus_simulator, tavus_credentials):
        replica_id = tavus_simulator.add_replica(training_seconds=30)
        raw = httpx.get(f"{tavus_simulator.url}/v2/replicas/{replica_id}", headers={"x-api-key": "wrong"})
        assert (raw.status_code, raw.json()) == (401, {"message": "Invalid access token"})
        with pytest.raises(TavusAuthenticationError):
            asyncio.run(fetch(tavus_credentials, replica_id, api_key="wrong"))


    def test_each_test_gets_a_fresh_simulator_and_the_last_one_is_stopped(tavus_simulator):
        assert tavus_simulator.url not in URLS
        assert tavus_simulator.stats()["requests"] == 0
        with pytest.raises(httpx.ConnectError):
            httpx.get(URLS[0] + "/v2/replicas", timeout=2)


    def test_credentials_point_at_the_simulator(tavus_simulator, tavus_credentials, tavus_simulator_key):
        from prefect_tavus.blocks import TavusCredentials

        assert isinstance(tavus_credentials, TavusCredentials)
        assert tavus_credentials.base_url == tavus_simulator.url
        assert tavus_credentials.resolved_api_key().get_secret_value() == tavus_simulator_key
        assert tavus_simulator.api_keys == (tavus_simulator_key,)
        assert tavus_credentials.request_timeout_seconds <= 10


    def test_replicas_train_to_their_scripted_outcome(tavus_simulator, tavus_credentials):
        ok = tavus_simulator.add_replica(training_seconds=0.2)
        bad = tavus_simulator.add_replica(training_seconds=0.2, outcome="error", error_message="Blurry video")
        time.sleep(0.4)
        assert asyncio.run(fetch(tavus_credentials, ok)).status == "completed"
        failed = asyncio.run(fetch(tavus_credentials, bad))
        assert (failed.status, failed.error_message) == ("error", "Blurry video")
"""


def run_suite(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run the generated suite in a subprocess, loading plugins from entry points only."""
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=120)


def test_entry_point_registers_the_plugin() -> None:
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("prefect_tavus") == "prefect_tavus.testing", (
        "reinstall the package (pip install -e .) so the pytest11 entry point is registered"
    )


def test_loading_the_plugin_imports_neither_prefect_nor_the_simulator() -> None:
    # The plugin is loaded into every pytest run of everyone who installs the package.
    code = textwrap.dedent(
        """
        import sys
        import prefect_tavus.testing
        heavy = [name for name in ("prefect", "prefect_tavus.simulator") if name in sys.modules]
        sys.exit(f"imported at plugin load: {heavy}" if heavy else 0)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_a_user_suite_runs_offline_with_the_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user_pipeline=textwrap.dedent(USER_SUITE))
    result = run_suite(pytester)
    result.assert_outcomes(passed=5)


def test_fixtures_can_be_overridden_in_a_user_conftest(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def tavus_simulator_key():
            return "my-own-key"

        @pytest.fixture
        def tavus_simulator_training_seconds():
            return 0.1
        """
    )
    pytester.makepyfile(
        """
        import time
        import httpx

        def test_overrides(tavus_simulator, tavus_credentials):
            assert tavus_credentials.resolved_api_key().get_secret_value() == "my-own-key"
            created = httpx.post(
                f"{tavus_simulator.url}/v2/replicas",
                json={"train_video_url": "https://example.com/v.mp4", "replica_name": "Posted"},
                headers={"x-api-key": "my-own-key"},
            )
            assert created.status_code == 200
            time.sleep(0.3)  # POST-created replicas train for tavus_simulator_training_seconds
            replica_id = created.json()["replica_id"]
            assert tavus_simulator.replica_payload(replica_id)["status"] == "completed"
        """
    )
    run_suite(pytester).assert_outcomes(passed=1)


def test_fixtures_are_documented_in_pytest_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = run_suite(pytester, "--fixtures")
    assert result.ret == 0
    output = result.stdout.str()
    for name in (
        "tavus_simulator",
        "tavus_credentials",
        "tavus_simulator_key",
        "tavus_simulator_training_seconds",
        "tavus_simulator_generation_seconds",
    ):
        assert name in output
    result.stdout.fnmatch_lines(["*tavus_simulator*", "*local Tavus API simulator*"])


def test_the_simulator_fixture_needs_no_prefect(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A ``prefect`` that cannot be imported, ahead of the real one on sys.path: the plugin
    # must still load, and the simulator fixture must still work without it.
    pytester.makepyfile(
        **{"broken_prefect/prefect/__init__": "raise ImportError('no prefect here')"}
    )
    pytester.makepyfile(
        test_no_prefect="""
        import httpx

        def test_simulator_alone(tavus_simulator, tavus_simulator_key):
            replica_id = tavus_simulator.add_replica(replica_name="No Prefect", training_seconds=30)
            response = httpx.get(
                f"{tavus_simulator.url}/v2/replicas/{replica_id}", headers={"x-api-key": tavus_simulator_key}
            )
            assert response.json()["replica_name"] == "No Prefect"

        def test_credentials_need_prefect(tavus_credentials):
            pass
        """
    )
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "broken_prefect"))
    result = run_suite(pytester)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*no prefect here*"])


#: A user suite that tests a video step against the fixture, with raw httpx as a user's own
#: code might (the project's tasks are tested on the fixture in tests/integration/test_videos.py).
VIDEO_SUITE = """
    import time

    import httpx
    import pytest

    from prefect_tavus.simulator import ROUTE_VIDEO_CREATE, Fault


    def generate(simulator, key, replica_id, **body):
        return httpx.post(
            f"{simulator.url}/v2/videos",
            json={"replica_id": replica_id, "script": "Hello", **body},
            headers={"x-api-key": key},
        )


    def test_a_created_video_waits_for_training_then_generates(tavus_simulator, tavus_simulator_key):
        # Training ends when the test says (end_training), not when a busy machine gets here.
        replica_id = tavus_simulator.add_replica(training_seconds=3600)
        video_id = generate(tavus_simulator, tavus_simulator_key, replica_id).json()["video_id"]
        assert tavus_simulator.video_payload(video_id)["status"] == "queued"
        tavus_simulator.end_training(replica_id)  # generation takes the overridden 0.8 s
        assert tavus_simulator.video_payload(video_id)["status"] == "generating"
        time.sleep(0.8)
        assert tavus_simulator.video_payload(video_id)["status"] == "ready"
        assert tavus_simulator.stats()["by_route"] == {"POST /v2/videos": 1}


    def test_scripted_outcomes_and_faults(tavus_simulator, tavus_simulator_key):
        replica_id = tavus_simulator.add_replica(training_seconds=0)
        tavus_simulator.script_created_videos(video_id="vmine000001", outcome="error", error_reason="bad_audio",
                                              generation_seconds=0)
        tavus_simulator.inject_faults(ROUTE_VIDEO_CREATE, [Fault.status(429, retry_after="1")])
        assert generate(tavus_simulator, tavus_simulator_key, replica_id).status_code == 429
        created = generate(tavus_simulator, tavus_simulator_key, replica_id, video_name="Mine")
        assert created.json()["video_id"] == "vmine000001"
        video = tavus_simulator.video_payload("vmine000001")
        assert (video["status"], video["status_details"], video["video_name"]) == ("error", "bad_audio", "Mine")
        assert tavus_simulator.video_request("vmine000001")["video_name"] == "Mine"


    def test_added_videos_and_a_replica_in_error(tavus_simulator):
        failed = tavus_simulator.add_replica(training_seconds=0, outcome="error")
        doomed = tavus_simulator.add_video(replica_id=failed, script="x")
        assert tavus_simulator.video_payload(doomed)["status_details"] == "replica_in_error_state"
        quick = tavus_simulator.add_video(script="x", generation_seconds=0)
        assert tavus_simulator.video_finished_at(quick) is not None
"""


def test_a_user_suite_scripts_videos_with_the_fixture(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def tavus_simulator_generation_seconds():
            return 0.8
        """
    )
    pytester.makepyfile(test_user_videos=textwrap.dedent(VIDEO_SUITE))
    run_suite(pytester).assert_outcomes(passed=3)


def test_generation_seconds_fixture_defaults_to_one_second(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_default(tavus_simulator, tavus_simulator_generation_seconds):
            assert tavus_simulator_generation_seconds == 1.0
            assert tavus_simulator.state.default_generation_seconds == 1.0
        """
    )
    run_suite(pytester).assert_outcomes(passed=1)
