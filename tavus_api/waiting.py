"""The decisions of a wait, free of I/O: when to poll next, when an outage is too long,
how fast a replica is progressing, and what a wait reports at the end.

The wait flows (``flows/``) do the requests, logging, events and artifacts; everything
they decide is decided here, so it is tested without a server or a clock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import Enum

from pydantic import BaseModel, Field

from tavus_api.errors import TavusError
from tavus_api.models import Replica

__all__ = [
    "Outcome",
    "OutageTracker",
    "PollCadence",
    "ProgressRate",
    "RequestSpacer",
    "ReplicaOutcome",
    "WaitResult",
]


class Outcome(str, Enum):
    """How the wait ended for one replica."""

    COMPLETED = "completed"
    FAILED = "failed"
    NOT_FOUND = "not_found"
    TIMED_OUT = "timed_out"


class ReplicaOutcome(BaseModel):
    """One replica's result: its outcome and the last state seen of it."""

    replica_id: str
    outcome: Outcome
    replica: Replica | None = Field(default=None, description="Last state seen (None if never found).")
    error_message: str | None = Field(default=None, description="Why it failed or was not found.")
    seen_finished_after_seconds: float | None = Field(
        default=None, description="Seconds from the wait's start until it was seen finished."
    )
    seen_finished_at: float | None = Field(
        default=None, description="When the wait saw it finished (epoch seconds)."
    )
    poll_cap_seconds: float | None = Field(
        default=None, description="The longest delay between polls in force when it was seen finished."
    )

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.COMPLETED


class WaitResult(BaseModel):
    """What a wait returns: one :class:`ReplicaOutcome` per requested id, in input order."""

    results: list[ReplicaOutcome]
    elapsed_seconds: float = 0.0
    poll_rounds: int = 0
    requests: int = Field(default=0, description="HTTP requests sent to Tavus by this wait.")

    def by_outcome(self, outcome: Outcome) -> list[ReplicaOutcome]:
        return [result for result in self.results if result.outcome is outcome]

    @property
    def completed(self) -> list[ReplicaOutcome]:
        return self.by_outcome(Outcome.COMPLETED)

    @property
    def not_completed(self) -> list[ReplicaOutcome]:
        return [result for result in self.results if not result.ok]

    @property
    def all_completed(self) -> bool:
        return not self.not_completed

    def counts(self) -> dict[str, int]:
        return {outcome.value: len(self.by_outcome(outcome)) for outcome in Outcome}

    def summary(self) -> str:
        """``3 replicas in 42s (12 requests): 2 completed, 1 failed``."""
        parts = [f"{n} {name.replace('_', ' ')}" for name, n in self.counts().items() if n]
        return (
            f"{len(self.results)} replica{'s' if len(self.results) != 1 else ''} in "
            f"{self.elapsed_seconds:.0f}s ({self.requests} requests): {', '.join(parts)}"
        )


@dataclass
class PollCadence:
    """When to poll next: start at ``initial``, grow by ``growth`` per poll up to ``cap``,
    with jitter so that many waits started together drift apart.

    With ``speed_up_near_completion``, a poll is brought forward to when the wait is
    expected to be over (the caller passes the ETA of the last pending replica, from
    observed progress rates), never sooner than ``initial``: the wait sees the end soon
    after it happens without polling hard for hours.
    """

    initial: float
    cap: float
    growth: float = 1.5
    jitter: float = 0.1
    speed_up_near_completion: bool = True
    _current: float = field(init=False)

    def __post_init__(self) -> None:
        if self.initial <= 0:
            raise ValueError(f"poll_interval_seconds must be positive, got {self.initial}.")
        if self.cap < self.initial:
            raise ValueError(
                f"max_poll_interval_seconds ({self.cap}) must be at least poll_interval_seconds ({self.initial})."
            )
        self._current = self.initial

    @property
    def current_cap(self) -> float:
        """The longest the next delay can be (the grown interval, before speed-ups)."""
        return self._current

    def next_delay(self, eta_seconds: float | None = None, *, rng: random.Random | None = None) -> float:
        """Delay before the next poll; advances the growth."""
        delay = self._current
        self._current = min(self.cap, self._current * self.growth)
        if self.speed_up_near_completion and eta_seconds is not None:
            delay = min(delay, max(self.initial, eta_seconds))
        spread = self.jitter * (2 * (rng or random).random() - 1)
        return min(self.cap, max(self.initial * (1 - self.jitter), delay * (1 + spread)))


@dataclass
class ProgressRate:
    """Estimates when a replica will finish from how its progress has moved."""

    first: tuple[float, float] | None = None  # (time, percent) when first seen moving
    last: tuple[float, float] | None = None

    def observe(self, now: float, percent: float | None) -> None:
        if percent is None:
            return
        if self.first is None:
            self.first = (now, percent)
        self.last = (now, percent)

    def eta_seconds(self, now: float) -> float | None:
        """Seconds until 100%, or None when no rate can be measured yet."""
        if self.first is None or self.last is None:
            return None
        (t0, p0), (t1, p1) = self.first, self.last
        if t1 <= t0 or p1 <= p0:
            return None
        rate = (p1 - p0) / (t1 - t0)
        return max(0.0, (100.0 - p1) / rate - (now - t1))


@dataclass
class OutageTracker:
    """Counts one continuous outage in time, not attempts.

    A wait survives transient faults for up to ``budget_seconds`` of continuous
    failure; one success ends the outage and resets the clock.
    """

    budget_seconds: float
    started_at: float | None = None
    failures: int = 0
    last_error: TavusError | None = None

    @property
    def active(self) -> bool:
        return self.started_at is not None

    def record_failure(self, error: TavusError, now: float) -> bool:
        """Note a failed poll; True when this failure starts a new outage."""
        new = self.started_at is None
        if new:
            self.started_at = now
        self.failures += 1
        self.last_error = error
        return new

    def duration(self, now: float) -> float:
        return 0.0 if self.started_at is None else now - self.started_at

    def exceeded(self, now: float) -> bool:
        return self.started_at is not None and self.duration(now) >= self.budget_seconds

    def record_success(self, now: float) -> float | None:
        """Note a good poll; returns the length of the outage it ended, if any."""
        if self.started_at is None:
            return None
        ended = now - self.started_at
        self.started_at, self.failures, self.last_error = None, 0, None
        return ended


class RequestSpacer:
    """Keeps polls for one API key at least ``spacing`` seconds apart, process-wide.

    Many waits in one process (subflows, a ``.map``) share the key's rate; each asks for
    a slot and is told how long to sleep first. Thread-safe and loop-agnostic, since
    sync flows run their async core on Prefect's own loop thread.
    """

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._next_slot: dict[str, float] = {}

    def reserve(self, key: str, spacing: float, now: float) -> float:
        """Reserve the next slot for ``key``; returns seconds to wait before using it."""
        with self._lock:
            slot = max(now, self._next_slot.get(key, now))
            self._next_slot[key] = slot + spacing
            return slot - now
