"""The training timeline of one simulated replica, as a pure function of wall-clock time.

Real training takes hours; the simulator compresses it into seconds, but keeps its shape:
progress climbs from 0 to 100 (integer percent, rounded down), may sit on one value for a
while without being stuck, and either completes at 100 or fails part-way with ``error``.
Computing everything from ``(started_at, now)`` instead of advancing state on a timer means
there is no background thread per replica, any number of replicas costs nothing while idle,
and the time a replica finished is known exactly, whenever (or whether) anyone polled it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

Outcome = Literal["completed", "error"]

#: Progress at which an ``error`` replica fails when nobody says otherwise.
DEFAULT_FAIL_AT_PROGRESS = 40

# Guards the floor() of progress against binary rounding (0.29 * 100 == 28.999999999999996).
_EPSILON = 1e-9


def iso_timestamp(epoch_seconds: float) -> str:
    """Format a ``time.time()`` value the way Tavus does: ``2024-01-24T07:14:03.327Z``."""
    moment = datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Timeline:
    """When a replica reaches each progress value and its final status.

    Progress is linear over ``duration`` seconds, except for an optional plateau: at
    ``stall_at`` percent it stands still for ``stall_seconds``. The plateau is part of
    ``duration`` (progress moves faster elsewhere to make up for it). An ``error`` outcome
    stops at ``fail_at_progress`` and fails the moment progress reaches that value, so it
    finishes before ``duration`` has elapsed.

    Attributes:
        started_at: ``time.time()`` when training started.
        duration: seconds from start to completion (for a successful replica).
        outcome: ``"completed"`` or ``"error"``.
        fail_at_progress: percent at which an ``error`` replica fails (0..100).
        stall_at: percent of the plateau, or ``None`` for no plateau.
        stall_seconds: length of the plateau (clamped to ``duration``).
    """

    started_at: float
    duration: float
    outcome: Outcome = "completed"
    fail_at_progress: int = DEFAULT_FAIL_AT_PROGRESS
    stall_at: int | None = None
    stall_seconds: float = 0.0

    def __post_init__(self) -> None:
        if not math.isfinite(self.duration) or self.duration < 0:
            raise ValueError(
                f"training seconds must be a finite number >= 0, got {self.duration!r}"
            )
        if self.outcome not in ("completed", "error"):
            raise ValueError(f"outcome must be 'completed' or 'error', got {self.outcome!r}")
        if not 0 <= self.fail_at_progress <= 100:
            raise ValueError(f"fail_at_progress must be in 0..100, got {self.fail_at_progress!r}")
        if self.stall_at is not None and not 0 <= self.stall_at <= 100:
            raise ValueError(f"stall progress must be in 0..100, got {self.stall_at!r}")
        if not math.isfinite(self.stall_seconds) or self.stall_seconds < 0:
            raise ValueError(
                f"stall seconds must be a finite number >= 0, got {self.stall_seconds!r}"
            )

    @property
    def stall_length(self) -> float:
        """Seconds the plateau actually lasts (0 without one; never more than ``duration``)."""
        if self.stall_at is None:
            return 0.0
        return min(self.stall_seconds, self.duration)

    @property
    def moving_seconds(self) -> float:
        """Seconds during which progress is moving (``duration`` minus the plateau)."""
        return max(self.duration - self.stall_length, 0.0)

    @property
    def target_progress(self) -> int:
        """The progress the replica ends on: 100, or ``fail_at_progress`` for an error."""
        return 100 if self.outcome == "completed" else self.fail_at_progress

    def offset_of_progress(self, progress: int) -> float:
        """Seconds after the start at which ``progress`` is first reported."""
        offset = progress / 100 * self.moving_seconds
        if self.stall_at is not None and progress > self.stall_at:
            offset += self.stall_length
        return offset

    @property
    def finish_offset(self) -> float:
        """Seconds after the start at which the final status is reached."""
        if self.outcome == "completed":
            return self.duration
        return self.offset_of_progress(self.fail_at_progress)

    @property
    def finished_at(self) -> float:
        """``time.time()`` at which the final status is reached."""
        return self.started_at + self.finish_offset

    def is_finished(self, now: float) -> bool:
        """Whether the final status has been reached at ``now``."""
        return now >= self.finished_at

    def progress_at(self, now: float) -> int:
        """Integer percent reported at ``now``."""
        elapsed = now - self.started_at
        target = self.target_progress
        if elapsed >= self.finish_offset:
            return target
        if elapsed <= 0:
            return 0
        moving = elapsed
        if self.stall_at is not None and self.stall_length > 0:
            plateau_start = self.offset_of_progress(self.stall_at)
            if elapsed >= plateau_start:
                if elapsed < plateau_start + self.stall_length:
                    return min(self.stall_at, target)
                moving = elapsed - self.stall_length
        if self.moving_seconds <= 0:
            return target
        return min(int(moving * 100 / self.moving_seconds + _EPSILON), target)

    def last_change_at(self, now: float) -> float:
        """``time.time()`` at which the reported progress or status last changed."""
        if self.is_finished(now):
            return self.finished_at
        changed = self.started_at + self.offset_of_progress(self.progress_at(now))
        return min(changed, now)


# -- videos ----------------------------------------------------------------------------------------

#: The statuses a video's generation can end in.
VideoOutcome = Literal["ready", "error"]

#: ``status_details`` of a video whose replica failed training (the reason Tavus gives).
REPLICA_IN_ERROR_STATE = "replica_in_error_state"


@dataclass(frozen=True)
class VideoTimeline:
    """When a video leaves ``queued``, and when it ends ``ready`` or ``error``.

    A video waits ``queued`` for at least ``queued_seconds`` and, if its replica is still
    training, until training ends (``replica_ready_at``); then it is ``generating`` for
    ``generation_seconds`` and ends with ``outcome``. A video whose replica fails training
    (``replica_failed``) never generates: it fails when the replica does (at once if the
    replica had already failed), with :data:`REPLICA_IN_ERROR_STATE`.

    Like :class:`Timeline`, a pure function of wall-clock time: no timer per video.

    Attributes:
        created_at: ``time.time()`` of the create.
        generation_seconds: seconds spent ``generating``.
        queued_seconds: least seconds spent ``queued`` (Tavus queues even for a ready replica).
        outcome: ``"ready"`` or ``"error"`` (a scripted generation failure).
        replica_ready_at: when the replica's training ends, or ``None`` for a video bound to
            no simulated replica (it behaves as if its replica were ready).
        replica_failed: the replica's training ends in ``error``.
    """

    created_at: float
    generation_seconds: float
    queued_seconds: float = 0.0
    outcome: VideoOutcome = "ready"
    replica_ready_at: float | None = None
    replica_failed: bool = False

    def __post_init__(self) -> None:
        for name in ("generation_seconds", "queued_seconds"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.outcome not in ("ready", "error"):
            raise ValueError(f"outcome must be 'ready' or 'error', got {self.outcome!r}")

    @property
    def started_at(self) -> float | None:
        """``time.time()`` at which generation starts; ``None`` if it never does (replica failed)."""
        if self.replica_failed:
            return None
        start = self.created_at + self.queued_seconds
        if self.replica_ready_at is not None:
            start = max(start, self.replica_ready_at)
        return start

    @property
    def finished_at(self) -> float:
        """``time.time()`` at which the video is ``ready`` or ``error``."""
        started = self.started_at
        if started is None:
            return max(self.created_at, self.replica_ready_at or self.created_at)
        return started + self.generation_seconds

    @property
    def final_status(self) -> VideoOutcome:
        """The status the video ends with."""
        return "error" if self.replica_failed else self.outcome

    def is_finished(self, now: float) -> bool:
        """Whether the final status has been reached at ``now``."""
        return now >= self.finished_at

    def status_at(self, now: float) -> str:
        """``queued``, ``generating``, ``ready`` or ``error`` at ``now``."""
        if self.is_finished(now):
            return self.final_status
        started = self.started_at
        if started is not None and now >= started:
            return "generating"
        return "queued"

    def last_change_at(self, now: float) -> float:
        """``time.time()`` at which the status last changed (the create, at first)."""
        if self.is_finished(now):
            return self.finished_at
        started = self.started_at
        if started is not None and now >= started:
            return started
        return self.created_at
