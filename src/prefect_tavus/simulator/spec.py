"""What a simulated replica or video should be and do: the one definition of their parameters.

A replica can be added from Python (:meth:`TavusSimulator.add_replica`), from another
process through the control API (``POST /_sim/replicas``) and by the simulated
``POST /v2/replicas``. All three build a :class:`ReplicaSpec`, and only the spec knows the
parameters, their defaults and what values are valid, so the three cannot drift apart and
a bad value gets the same clear message whichever way it came in. Videos work the same way
with :class:`VideoSpec` (:meth:`TavusSimulator.add_video`, ``POST /_sim/videos``,
``POST /v2/videos``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from prefect_tavus.simulator.timeline import (
    DEFAULT_FAIL_AT_PROGRESS,
    Outcome,
    Timeline,
    VideoOutcome,
    VideoTimeline,
)

__all__ = [
    "DEFAULT_ERROR_MESSAGE",
    "DEFAULT_VIDEO_ERROR",
    "MAX_SECONDS",
    "OUTCOMES",
    "VIDEO_OUTCOMES",
    "InvalidReplicaSpec",
    "InvalidVideoSpec",
    "ReplicaSpec",
    "VideoSpec",
    "build_spec",
    "build_video_spec",
]

#: Error message of a failed replica when the caller gives none.
DEFAULT_ERROR_MESSAGE = "Replica training failed: the training video could not be processed."

#: Longest training (or plateau) a spec may ask for: ten years, i.e. "never finishes" in any
#: test, while every derived time stays a valid timestamp and a valid timer timeout.
MAX_SECONDS = 10 * 365 * 24 * 3600.0

#: The outcomes a replica's training can have.
OUTCOMES: tuple[Outcome, ...] = ("completed", "error")

#: The outcomes a video's generation can have.
VIDEO_OUTCOMES: tuple[VideoOutcome, ...] = ("ready", "error")

#: ``status_details`` of a failed video when the caller gives no reason.
DEFAULT_VIDEO_ERROR = "video_generation_failed"


class InvalidReplicaSpec(ValueError):
    """A replica parameter has a wrong type or value; the message names it and says why.

    A ``ValueError``, so callers that already catch ``ValueError`` keep working; the
    control API answers it with a 400 carrying the message.
    """


@dataclass(frozen=True, kw_only=True)
class ReplicaSpec:
    """Everything about a simulated replica that is chosen when it is added.

    Frozen (a spec can be shared between tests and reused for many replicas) and validated
    on construction. Only ``replica_name`` changes after creation (by a rename), and that
    change is kept by the simulator's store, not here.

    Attributes:
        replica_id: id to use; ``None`` generates ``r`` + 10 hex digits.
        replica_name: its name.
        training_seconds: real seconds until it completes; ``None`` uses the simulator's
            ``default_training_seconds``.
        outcome: ``"completed"`` or ``"error"``.
        error_message: message of an ``error`` outcome; ``None`` gives
            :data:`DEFAULT_ERROR_MESSAGE`.
        fail_at_progress: percent (0..100) at which an ``error`` outcome fails.
        replica_type: stored and reported as is (``user``, ``system``, or anything messy).
        model_name: e.g. ``phoenix-3``.
        stall: ``(at_progress, seconds)``: a plateau inside ``training_seconds``; any
            two-item sequence is accepted and stored as a tuple.
        initial_status: status while training (``started``; ``training`` for older API).
        final_status: status on success (``completed``; ``ready`` like the callback).
        extra_fields: merged into every payload of this replica (unknown or messy fields);
            stored as a read-only copy.
        owner_key: only this API key can see it; ``None`` means every key can.
        callback_url: URL POSTed to when training ends, as Tavus does (only loopback URLs
            are ever called; others are counted as skipped).
        drop_callback: lose this replica's callback (Tavus documents no delivery
            guarantee): nothing is POSTed, and it is counted as dropped.

    Raises:
        InvalidReplicaSpec: on construction, for any invalid value.
    """

    replica_id: str | None = None
    replica_name: str = "My Replica"
    training_seconds: float | None = None
    outcome: Outcome = "completed"
    error_message: str | None = None
    fail_at_progress: int = DEFAULT_FAIL_AT_PROGRESS
    replica_type: str = "user"
    model_name: str = "phoenix-3"
    stall: tuple[int, float] | None = None
    initial_status: str = "started"
    final_status: str = "completed"
    extra_fields: Mapping[str, Any] = field(default_factory=dict, hash=False)
    owner_key: str | None = None
    callback_url: str | None = None
    drop_callback: bool = False

    def __post_init__(self) -> None:
        if self.replica_id is not None:
            _require_text(self.replica_id, "replica_id", allow_empty=False)
        _require_text(self.replica_name, "replica_name")
        if self.training_seconds is not None:
            _set(
                self,
                "training_seconds",
                _non_negative_seconds(self.training_seconds, "training_seconds"),
            )
        if self.outcome not in OUTCOMES:
            raise InvalidReplicaSpec(
                f"outcome must be 'completed' or 'error', got {self.outcome!r}"
            )
        if self.error_message is not None:
            _require_text(self.error_message, "error_message")
        _set(self, "fail_at_progress", _percent(self.fail_at_progress, "fail_at_progress"))
        for name in ("replica_type", "model_name", "initial_status", "final_status"):
            _require_text(getattr(self, name), name)
        if self.stall is not None:
            _set(self, "stall", _stall(self.stall))
        _set(self, "extra_fields", _extra_fields(self.extra_fields))
        if self.owner_key is not None:
            _require_text(self.owner_key, "owner_key", allow_empty=False)
        if self.callback_url is not None:
            _require_text(self.callback_url, "callback_url", allow_empty=False)
        if not isinstance(self.drop_callback, bool):
            raise InvalidReplicaSpec(
                f"drop_callback must be true or false, got {self.drop_callback!r}"
            )

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The parameter names, in declaration order (what ``from_dict`` accepts)."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_dict(cls, data: Any) -> ReplicaSpec:
        """Build a spec from its JSON spelling (the control API's ``POST /_sim/replicas`` body).

        Absent keys take their defaults; ``stall`` may be a JSON array. Never raises anything
        but :class:`InvalidReplicaSpec`, whatever ``data`` is.

        Raises:
            InvalidReplicaSpec: ``data`` is not an object, has unknown keys, or a bad value.
        """
        if not isinstance(data, Mapping):
            raise InvalidReplicaSpec(
                f"a replica spec must be a JSON object, got {type(data).__name__}"
            )
        names = cls.field_names()
        unknown = sorted(str(key) for key in data if key not in names)
        if unknown:
            raise InvalidReplicaSpec(
                f"unknown replica parameters: {', '.join(unknown)}; known: {', '.join(names)}"
            )
        return cls(**{str(key): value for key, value in data.items()})

    def to_dict(self) -> dict[str, Any]:
        """The JSON spelling of this spec (inverse of :meth:`from_dict`)."""
        data = {name: getattr(self, name) for name in self.field_names()}
        data["stall"] = None if self.stall is None else list(self.stall)
        data["extra_fields"] = dict(self.extra_fields)
        return data

    # -- derived values -----------------------------------------------------------------------

    @property
    def effective_error_message(self) -> str:
        """The message reported once an ``error`` outcome has failed."""
        return DEFAULT_ERROR_MESSAGE if self.error_message is None else self.error_message

    def timeline(self, started_at: float, default_training_seconds: float) -> Timeline:
        """The training timeline of a replica made from this spec that starts at ``started_at``.

        Args:
            started_at: ``time.time()`` at which training starts.
            default_training_seconds: used when ``training_seconds`` is ``None``.
        """
        seconds = self.training_seconds_or(default_training_seconds)
        stall_at, stall_seconds = self.stall if self.stall is not None else (None, 0.0)
        return Timeline(
            started_at=started_at,
            duration=seconds,
            outcome=self.outcome,
            fail_at_progress=self.fail_at_progress,
            stall_at=stall_at,
            stall_seconds=stall_seconds,
        )

    def training_seconds_or(self, default_training_seconds: float) -> float:
        """``training_seconds``, or ``default_training_seconds`` when it is ``None``."""
        if self.training_seconds is None:
            return _non_negative_seconds(default_training_seconds, "default_training_seconds")
        return self.training_seconds


def build_spec(spec: ReplicaSpec | None, overrides: Mapping[str, Any]) -> ReplicaSpec:
    """``spec`` with ``overrides`` applied (a default spec when ``spec`` is ``None``).

    What keyword-style callers (``TavusSimulator.add_replica(replica_name=...)``) go through.

    Raises:
        TypeError: ``spec`` is not a ``ReplicaSpec``, or an override is not one of its fields.
        InvalidReplicaSpec: an override has an invalid value.
    """
    if spec is not None and not isinstance(spec, ReplicaSpec):
        raise TypeError(
            f"expected a ReplicaSpec (or keyword arguments), got {type(spec).__name__} {spec!r}"
        )
    names = ReplicaSpec.field_names()
    unknown = sorted(name for name in overrides if name not in names)
    if unknown:
        raise TypeError(
            f"unknown replica parameters: {', '.join(unknown)}; known: {', '.join(names)}"
        )
    if spec is None:
        return ReplicaSpec(**overrides)
    return dataclasses.replace(spec, **overrides) if overrides else spec


class InvalidVideoSpec(ValueError):
    """A video parameter has a wrong type or value; the message names it and says why.

    A ``ValueError``, like :class:`InvalidReplicaSpec`; the control API answers it with a 400.
    """


@dataclass(frozen=True, kw_only=True)
class VideoSpec:
    """Everything about a simulated video that is chosen when it is added.

    Frozen and validated on construction, like :class:`ReplicaSpec`. Only ``video_name``
    (a rename) and the deletion change later, kept by the simulator's store.

    Attributes:
        video_id: id to use; ``None`` generates ``v`` + 10 hex digits (see
            :func:`~prefect_tavus.simulator.state.new_video_id`).
        replica_id: the replica that presents it. A simulated replica's training decides
            when the video may start (it waits ``queued`` until training ends) and whether
            it fails (``replica_in_error_state``). ``None`` binds it to no simulated
            replica: it behaves as if its replica were ready and reports ``replica_id: null``.
        video_name: its name.
        script: reported as ``data.script`` (``None`` for a video made from ``audio_url``).
        audio_url: stored as given (the simulator never fetches it).
        generation_seconds: real seconds spent ``generating``; ``None`` uses the simulator's
            ``default_generation_seconds``.
        queued_seconds: least real seconds spent ``queued`` before generating (more while
            the replica trains).
        outcome: ``"ready"`` or ``"error"``.
        error_reason: ``status_details`` (and list ``error_details``) of an ``error``
            outcome; ``None`` gives :data:`DEFAULT_VIDEO_ERROR`.
        extra_fields: merged into every payload of this video (GET, list, callback).
        owner_key: only this API key can see it; ``None`` means every key can.
        callback_url: URL POSTed the whole video object when it is ready or fails (only
            loopback URLs are ever called; others are counted as skipped).
        drop_callback: lose this video's callback (counted as dropped).

    Raises:
        InvalidVideoSpec: on construction, for any invalid value.
    """

    video_id: str | None = None
    replica_id: str | None = None
    video_name: str = "My Video"
    script: str | None = None
    audio_url: str | None = None
    generation_seconds: float | None = None
    queued_seconds: float = 0.0
    outcome: VideoOutcome = "ready"
    error_reason: str | None = None
    extra_fields: Mapping[str, Any] = field(default_factory=dict, hash=False)
    owner_key: str | None = None
    callback_url: str | None = None
    drop_callback: bool = False

    def __post_init__(self) -> None:
        try:
            self._validate()
        except InvalidReplicaSpec as exc:  # the shared helpers speak of replicas' class
            raise InvalidVideoSpec(str(exc)) from None

    def _validate(self) -> None:
        for name in ("video_id", "replica_id", "owner_key", "callback_url"):
            if getattr(self, name) is not None:
                _require_text(getattr(self, name), name, allow_empty=False)
        _require_text(self.video_name, "video_name")
        for name in ("script", "audio_url", "error_reason"):
            if getattr(self, name) is not None:
                _require_text(getattr(self, name), name)
        if self.generation_seconds is not None:
            _set(
                self,
                "generation_seconds",
                _non_negative_seconds(self.generation_seconds, "generation_seconds"),
            )
        _set(self, "queued_seconds", _non_negative_seconds(self.queued_seconds, "queued_seconds"))
        if self.outcome not in VIDEO_OUTCOMES:
            raise InvalidVideoSpec(f"outcome must be 'ready' or 'error', got {self.outcome!r}")
        _set(self, "extra_fields", _extra_fields(self.extra_fields))
        if not isinstance(self.drop_callback, bool):
            raise InvalidVideoSpec(
                f"drop_callback must be true or false, got {self.drop_callback!r}"
            )

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The parameter names, in declaration order (what ``from_dict`` accepts)."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_dict(cls, data: Any) -> VideoSpec:
        """Build a spec from its JSON spelling (the control API's ``POST /_sim/videos`` body).

        Raises:
            InvalidVideoSpec: ``data`` is not an object, has unknown keys, or a bad value.
        """
        if not isinstance(data, Mapping):
            raise InvalidVideoSpec(f"a video spec must be a JSON object, got {type(data).__name__}")
        names = cls.field_names()
        unknown = sorted(str(key) for key in data if key not in names)
        if unknown:
            raise InvalidVideoSpec(
                f"unknown video parameters: {', '.join(unknown)}; known: {', '.join(names)}"
            )
        return cls(**{str(key): value for key, value in data.items()})

    def to_dict(self) -> dict[str, Any]:
        """The JSON spelling of this spec (inverse of :meth:`from_dict`)."""
        data = {name: getattr(self, name) for name in self.field_names()}
        data["extra_fields"] = dict(self.extra_fields)
        return data

    @property
    def effective_error_reason(self) -> str:
        """``status_details`` of a scripted ``error`` outcome."""
        return DEFAULT_VIDEO_ERROR if self.error_reason is None else self.error_reason

    def timeline(
        self,
        created_at: float,
        default_generation_seconds: float,
        *,
        replica_ready_at: float | None = None,
        replica_failed: bool = False,
    ) -> VideoTimeline:
        """The timeline of a video made from this spec, created at ``created_at``.

        Args:
            created_at: ``time.time()`` of the create.
            default_generation_seconds: used when ``generation_seconds`` is ``None``.
            replica_ready_at: when its replica's training ends (``None``: not simulated).
            replica_failed: that training ends in ``error``.
        """
        if self.generation_seconds is None:
            seconds = _non_negative_seconds(
                default_generation_seconds, "default_generation_seconds"
            )
        else:
            seconds = self.generation_seconds
        return VideoTimeline(
            created_at=created_at,
            generation_seconds=seconds,
            queued_seconds=self.queued_seconds,
            outcome=self.outcome,
            replica_ready_at=replica_ready_at,
            replica_failed=replica_failed,
        )


def build_video_spec(spec: VideoSpec | None, overrides: Mapping[str, Any]) -> VideoSpec:
    """``spec`` with ``overrides`` applied (a default spec when ``spec`` is ``None``).

    Raises:
        TypeError: ``spec`` is not a ``VideoSpec``, or an override is not one of its fields.
        InvalidVideoSpec: an override has an invalid value.
    """
    if spec is not None and not isinstance(spec, VideoSpec):
        raise TypeError(
            f"expected a VideoSpec (or keyword arguments), got {type(spec).__name__} {spec!r}"
        )
    names = VideoSpec.field_names()
    unknown = sorted(name for name in overrides if name not in names)
    if unknown:
        raise TypeError(
            f"unknown video parameters: {', '.join(unknown)}; known: {', '.join(names)}"
        )
    if spec is None:
        return VideoSpec(**overrides)
    return dataclasses.replace(spec, **overrides) if overrides else spec


# -- validation helpers (each raises InvalidReplicaSpec naming the parameter) -------------------


def _set(spec: object, name: str, value: Any) -> None:
    # The normalised value replaces the given one; a frozen dataclass needs object.__setattr__.
    object.__setattr__(spec, name, value)


def _as_float(value: Any) -> float | None:
    """``value`` as a finite float, or ``None`` if it is not a finite real number.

    Booleans are not numbers here, and a huge JSON integer (``1e400`` written out) must be
    refused, not raise ``OverflowError``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _require_text(value: Any, name: str, *, allow_empty: bool = True) -> None:
    if not isinstance(value, str):
        raise InvalidReplicaSpec(f"{name} must be a string, got {type(value).__name__} {value!r}")
    if not allow_empty and not value:
        raise InvalidReplicaSpec(f"{name} must not be empty")


def _non_negative_seconds(value: Any, name: str) -> float:
    number = _as_float(value)
    if number is None or not 0 <= number <= MAX_SECONDS:
        raise InvalidReplicaSpec(
            f"{name} must be a number of seconds in 0..{MAX_SECONDS:.0f}, got {value!r}"
        )
    return number


def _percent(value: Any, name: str) -> int:
    # Whole numbers only (50 or 50.0): progress is reported in whole percent.
    number = _as_float(value)
    if number is None or number != int(number) or not 0 <= number <= 100:
        raise InvalidReplicaSpec(f"{name} must be a whole number in 0..100, got {value!r}")
    return int(number)


def _stall(value: Any) -> tuple[int, float]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise InvalidReplicaSpec(f"stall must be (at_progress, seconds), got {value!r}")
    return _percent(value[0], "stall progress"), _non_negative_seconds(value[1], "stall seconds")


def _extra_fields(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidReplicaSpec(
            f"extra_fields must be an object (mapping), got {type(value).__name__}"
        )
    for key in value:
        if not isinstance(key, str):
            raise InvalidReplicaSpec(f"extra_fields keys must be strings, got {key!r}")
    return MappingProxyType(dict(value))
