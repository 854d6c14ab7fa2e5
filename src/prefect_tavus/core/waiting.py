"""The decisions of a wait, free of I/O: its settings, when to poll next, when an outage
is too long, how fast a replica is progressing, what a poll round learnt, and what a wait
reports at the end.

The wait flows (``flows/``) do the requests, logging, events and artifacts; everything
they decide is decided here, so it is tested without a server or a clock.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from prefect_tavus.core.client import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from prefect_tavus.core.errors import TavusError, TavusNotFoundError, TavusTransientError
from prefect_tavus.core.replicas import Replica
from prefect_tavus.core.text import plural
from prefect_tavus.core.videos import Video

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "OutageTracker",
    "Outcome",
    "OutcomeT",
    "PollCadence",
    "PollRound",
    "ProgressRate",
    "ReplicaOutcome",
    "ReplicaWaitResult",
    "RequestSpacer",
    "SettledOutcome",
    "VideoOutcome",
    "VideoRowResult",
    "VideoWaitResult",
    "WaitResult",
    "WaitSettings",
    "reported_progress",
]

#: Training takes 3 to 6 hours by Tavus's own docs (older ones say 4 to 6); the default
#: wait covers 8.
DEFAULT_TIMEOUT_SECONDS = 8 * 3600.0


class WaitSettings(BaseModel):
    """How a wait polls and when it gives up: the one definition of these knobs.

    Every wait flow takes it as its ``wait_settings`` parameter (a dict of the same
    fields works too, which is what deployments and the Prefect UI pass), and the engine
    reads it; defaults, bounds and the cross-field check live only here.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    poll_interval_seconds: float = Field(
        default=60.0, gt=0, description="First delay between polls; it grows from here."
    )
    max_poll_interval_seconds: float = Field(
        default=300.0,
        gt=0,
        description="The delay between polls grows (x1.5 a poll, with jitter) up to this cap.",
    )
    timeout_seconds: float = Field(
        default=DEFAULT_TIMEOUT_SECONDS,
        gt=0,
        description="Give up this long after the flow run first started (retries and restarts "
        "included). Tavus documents 3 to 6 hours of training.",
    )
    max_outage_seconds: float = Field(
        default=1800.0,
        gt=0,
        description="Survive this long of continuous 429/5xx/timeouts/dropped connections "
        "before failing.",
    )
    speed_up_near_completion: bool = Field(
        default=True,
        description="Poll sooner when the progress rate says training is about to end.",
    )
    heartbeat_seconds: float = Field(
        default=900.0, gt=0, description="Log a line at least this often while nothing changes."
    )
    page_size: int = Field(
        default=DEFAULT_PAGE_SIZE,
        ge=1,
        le=MAX_PAGE_SIZE,
        description="Replicas asked about per list request when waiting on many.",
    )

    @model_validator(mode="after")
    def _cap_not_below_interval(self) -> WaitSettings:
        if self.max_poll_interval_seconds < self.poll_interval_seconds:
            raise ValueError(
                f"max_poll_interval_seconds ({self.max_poll_interval_seconds:g}) must be at least "
                f"poll_interval_seconds ({self.poll_interval_seconds:g})."
            )
        return self


def reported_progress(resource: Any, *, completed: bool = False) -> float:
    """A replica's (or video's) progress (0-100) as Tavus last reported it: 100 once
    completed; for any other (still going, failed, missing, timed out) the last value
    Tavus gave, 0 if it never gave one. Never 100 for one that did not complete."""
    if completed:
        return 100.0
    percent = resource.progress_percent if resource is not None else None
    if percent is None:
        return 0.0
    return float(percent if resource is not None and resource.is_completed else min(percent, 99.9))


class Outcome(str, Enum):
    """How the wait ended for one replica or video (the words for each are in
    :mod:`prefect_tavus.core.kinds`)."""

    COMPLETED = "completed"
    FAILED = "failed"
    NOT_FOUND = "not_found"
    TIMED_OUT = "timed_out"


class SettledOutcome(BaseModel):
    """What the wait learnt of one resource: its outcome, why, and when it was seen.

    :class:`ReplicaOutcome` and :class:`VideoOutcome` add the id and the last state seen
    under their own names (``replica_id``/``replica``, ``video_id``/``video``);
    ``resource_id`` and ``resource`` read either.
    """

    #: What it is, for sentences (``3 replicas``); each kind's outcome names its own.
    noun: ClassVar[str] = "resource"

    model_config = ConfigDict(arbitrary_types_allowed=True)

    outcome: Outcome
    error_message: str | None = Field(default=None, description="Why it failed or was not found.")
    seen_finished_after_seconds: float | None = Field(
        default=None, description="Seconds from the wait's start until it was seen finished."
    )
    seen_finished_at: float | None = Field(
        default=None, description="When the wait saw it finished (epoch seconds)."
    )
    poll_cap_seconds: float | None = Field(
        default=None,
        description="The longest delay between polls in force when it was seen finished.",
    )
    cause: TavusError | None = Field(
        default=None,
        exclude=True,
        repr=False,
        description="The API error behind a not_found outcome (kept for raising from; not serialised).",
    )

    @property
    def resource_id(self) -> str:
        raise NotImplementedError

    @property
    def resource(self) -> Any:
        raise NotImplementedError

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.COMPLETED

    @property
    def progress_percent(self) -> float:
        """Progress as Tavus last reported it: 100 if completed, else the last value."""
        return reported_progress(self.resource, completed=self.ok)


class ReplicaOutcome(SettledOutcome):
    """One replica's result: its outcome and the last state seen of it."""

    noun: ClassVar[str] = "replica"

    replica_id: str
    replica: Replica | None = Field(
        default=None, description="Last state seen (None if never found)."
    )

    @property
    def resource_id(self) -> str:
        return self.replica_id

    @property
    def resource(self) -> Replica | None:
        return self.replica


class VideoOutcome(SettledOutcome):
    """One video's result: its outcome and the last state seen of it (its URLs once ready)."""

    noun: ClassVar[str] = "video"

    video_id: str
    video: Video | None = Field(default=None, description="Last state seen (None if never found).")

    @property
    def resource_id(self) -> str:
        return self.video_id

    @property
    def resource(self) -> Video | None:
        return self.video


OutcomeT = TypeVar("OutcomeT", bound=SettledOutcome)


class WaitResult(BaseModel, Generic[OutcomeT]):
    """What a wait returns: one outcome per requested id, in input order.

    Kind-neutral; each kind's result narrows ``results`` to its outcome model
    (:class:`ReplicaWaitResult`, :class:`VideoWaitResult`), so ``isinstance(result,
    WaitResult)`` holds for every kind.
    """

    results: list[OutcomeT]
    elapsed_seconds: float = 0.0
    poll_rounds: int = 0
    requests: int = Field(default=0, description="HTTP requests sent to Tavus by this wait.")

    def by_outcome(self, outcome: Outcome) -> list[OutcomeT]:
        return [result for result in self.results if result.outcome is outcome]

    @property
    def completed(self) -> list[OutcomeT]:
        return self.by_outcome(Outcome.COMPLETED)

    @property
    def not_completed(self) -> list[OutcomeT]:
        return [result for result in self.results if not result.ok]

    @property
    def all_completed(self) -> bool:
        return not self.not_completed

    @property
    def progress_percent(self) -> float:
        """Mean of the results' ``progress_percent`` (0 for none)."""
        if not self.results:
            return 0.0
        return sum(result.progress_percent for result in self.results) / len(self.results)

    def counts(self) -> dict[str, int]:
        return {outcome.value: len(self.by_outcome(outcome)) for outcome in Outcome}

    def summary(self) -> str:
        """``3 replicas in 42s (12 requests): 2 completed, 1 failed``; ``1 replica in 8s (1 request): ...``."""
        parts = [f"{n} {name.replace('_', ' ')}" for name, n in self.counts().items() if n]
        noun = self.results[0].noun if self.results else "result"
        return (
            f"{plural(len(self.results), noun)} in "
            f"{self.elapsed_seconds:.0f}s ({plural(self.requests, 'request')}): {', '.join(parts)}"
        )


class ReplicaWaitResult(WaitResult[ReplicaOutcome]):
    """What a replica wait returns: one :class:`ReplicaOutcome` per requested id, in input order."""


class VideoWaitResult(WaitResult[VideoOutcome]):
    """What a video wait returns: one :class:`VideoOutcome` per requested id, in input order."""


@dataclass(frozen=True)
class PollRound:
    """What one poll round learnt about the replicas (or videos) it asked for, in three explicit parts.

    Attributes:
        found: id -> the replica as Tavus reported it.
        received_at: id -> when its answer arrived (epoch seconds): when the wait learnt it.
        missing: ids Tavus did not report. The value is the 400/404 that said so when the
            round asked for that replica alone (definitive), or None when a list simply
            left it out (deleted, mistyped, or a glitch: the engine confirms with one GET).
        failed: the transient fault that made the whole round fail; nothing else is set.
    """

    found: dict[str, Any] = field(default_factory=dict)  # Replica or Video
    received_at: dict[str, float] = field(default_factory=dict)
    missing: dict[str, TavusNotFoundError | None] = field(default_factory=dict)
    failed: TavusTransientError | None = None

    @classmethod
    def failure(cls, error: TavusTransientError) -> PollRound:
        return cls(failed=error)

    @classmethod
    async def of_one(cls, resource_id: str, get: Callable[[str], Awaitable[Any]]) -> PollRound:
        """One GET (``get(resource_id)``) as a round: found, not found (400/404:
        definitive) or a transient failure, all returned, never raised; the wait decides
        within its budget. Permanent refusals (a refused key) are raised."""
        try:
            resource = await get(resource_id)
        except TavusNotFoundError as error:
            return cls(missing={resource_id: error}, received_at={resource_id: time.time()})
        except TavusTransientError as error:
            return cls.failure(error)
        return cls(found={resource_id: resource}, received_at={resource_id: time.time()})


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
        self._current = self.initial

    @classmethod
    def from_settings(cls, settings: WaitSettings) -> PollCadence:
        """The cadence a wait with ``settings`` follows (already validated there)."""
        return cls(
            settings.poll_interval_seconds,
            settings.max_poll_interval_seconds,
            speed_up_near_completion=settings.speed_up_near_completion,
        )

    @property
    def current_cap(self) -> float:
        """The longest the next delay can be (the grown interval, before speed-ups)."""
        return self._current

    def next_delay(
        self, eta_seconds: float | None = None, *, rng: random.Random | None = None
    ) -> float:
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


class VideoRowResult(BaseModel):
    """One row of ``generate_videos``'s results table: what a pipeline writes back to its
    warehouse, joined on ``key``."""

    key: str = Field(description="The caller's key for the row.")
    video_id: str | None = Field(
        default=None, description="The video made for it (None if none was)."
    )
    outcome: Outcome | None = Field(
        default=None, description="How its wait ended (None: never created)."
    )
    status: str | None = Field(
        default=None, description="The video's last status as Tavus reported it."
    )
    # Before the URLs, which are long: a table in the UI shows it without scrolling.
    error: str | None = Field(
        default=None, description="Why it has no ready video, if it has none."
    )
    hosted_url: str | None = None
    download_url: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.COMPLETED
