"""The wait's decisions: cadence, progress-rate estimates, outage budget, spacing."""

import random

import pytest

from prefect_tavus.core import TavusServerError
from prefect_tavus.core.waiting import (
    DEFAULT_TIMEOUT_SECONDS,
    OutageTracker,
    PollCadence,
    ProgressRate,
    RequestSpacer,
    WaitSettings,
)


def test_cadence_grows_from_initial_to_cap():
    cadence = PollCadence(10, 100, jitter=0, speed_up_near_completion=False)
    delays = [cadence.next_delay() for _ in range(10)]
    assert delays[0] == 10
    assert delays == sorted(delays)
    assert delays[-1] == 100


def test_cadence_jitter_stays_within_bounds():
    cadence = PollCadence(10, 10, jitter=0.1)
    rng = random.Random(3)
    delays = {round(cadence.next_delay(rng=rng), 3) for _ in range(50)}
    assert len(delays) > 5
    assert all(9 <= d <= 10 for d in delays)


def test_speed_up_polls_at_eta_but_not_below_initial():
    cadence = PollCadence(5, 300, jitter=0)
    for _ in range(20):
        cadence.next_delay()
    assert cadence.next_delay(eta_seconds=40) == 40
    assert cadence.next_delay(eta_seconds=1) == 5
    off = PollCadence(5, 300, jitter=0, speed_up_near_completion=False)
    for _ in range(20):
        off.next_delay()
    assert off.next_delay(eta_seconds=1) == 300


def test_wait_settings_validate_in_one_place():
    with pytest.raises(ValueError, match="poll_interval_seconds"):
        WaitSettings(poll_interval_seconds=0)
    with pytest.raises(
        ValueError,
        match=r"max_poll_interval_seconds \(5\) must be at least poll_interval_seconds \(10\)",
    ):
        WaitSettings(poll_interval_seconds=10, max_poll_interval_seconds=5)
    with pytest.raises(ValueError, match="page_size"):
        WaitSettings(page_size=101)
    with pytest.raises(ValueError, match="poll_every"):  # a typo is refused, not ignored
        WaitSettings.model_validate({"poll_every": 5})


def test_wait_settings_defaults_cover_a_long_training_and_feed_the_cadence():
    settings = WaitSettings()
    assert settings.timeout_seconds == DEFAULT_TIMEOUT_SECONDS >= 6 * 3600  # Tavus: up to 6 h
    cadence = PollCadence.from_settings(
        settings.model_copy(update={"speed_up_near_completion": False})
    )
    assert (cadence.initial, cadence.cap, cadence.speed_up_near_completion) == (60.0, 300.0, False)


def test_progress_rate_estimates_eta():
    rate = ProgressRate()
    assert rate.eta_seconds(0) is None
    rate.observe(0, 10)
    assert rate.eta_seconds(0) is None
    rate.observe(100, 60)  # 0.5 %/s
    assert rate.eta_seconds(100) == pytest.approx(80)
    assert rate.eta_seconds(150) == pytest.approx(30)
    stalled = ProgressRate()
    stalled.observe(0, 40)
    stalled.observe(100, 40)
    assert stalled.eta_seconds(100) is None


def test_outage_is_measured_in_time_and_reset_by_success():
    outage = OutageTracker(budget_seconds=60)
    assert outage.record_failure(TavusServerError("503"), now=100) is True
    assert outage.record_failure(TavusServerError("503"), now=130) is False
    assert not outage.exceeded(now=159)
    assert outage.exceeded(now=160)
    assert outage.record_success(now=161) == 61
    assert not outage.active and outage.failures == 0
    assert outage.record_success(now=162) is None


def test_spacer_keeps_slots_apart_per_key():
    spacer = RequestSpacer()
    assert spacer.reserve("k", 1.0, now=10) == 0
    assert spacer.reserve("k", 1.0, now=10) == 1.0
    assert spacer.reserve("k", 1.0, now=10.5) == 1.5
    assert spacer.reserve("other", 1.0, now=10) == 0
