"""Typed views of what the Tavus Replicas API returns.

The API is messier than its documentation: its own example carries ``replica_type:
"user'"`` and an ``error_message`` on a completed replica, newer versions add fields such
as ``model_name``, and older material uses the statuses ``training`` and ``ready``. So
these models keep every field they are given (``extra="allow"``), keep unknown status
values as they came, and never fail on a field they can't read: a timestamp that does not
parse becomes None, a progress that does not parse has ``progress_percent`` None.

Tavus's newest docs call a replica a *face* (``face_id``, ``face_name``, ``face_type``);
the same payloads may come in either vocabulary, so every model here reads both and
exposes the replica names (see :data:`FACE_FIELD_NAMES`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from prefect_tavus.core.text import printable

__all__ = [
    "FACE_FIELD_NAMES",
    "FAILURE_STATUSES",
    "SUCCESS_STATUSES",
    "CreatedReplica",
    "Replica",
    "ReplicaPage",
    "ReplicaPhase",
    "parse_progress",
]

#: Statuses that mean training finished well: ``completed`` (the API), ``ready`` (callbacks).
SUCCESS_STATUSES = frozenset({"completed", "ready"})
#: Statuses that mean training failed.
FAILURE_STATUSES = frozenset({"error", "failed"})

_FRACTION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*$")
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%?\s*$")


class ReplicaPhase(str, Enum):
    """Where a replica is, whatever words the API used for it."""

    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"


def parse_progress(raw: str | None) -> float | None:
    """``"45/100"`` -> 45.0, ``"3/4"`` -> 75.0, ``"45%"`` -> 45.0; None when unreadable."""
    if raw is None:
        return None
    if match := _FRACTION.match(raw):
        done, total = float(match.group(1)), float(match.group(2))
        if total <= 0:
            return None
        return max(0.0, min(100.0, 100.0 * done / total))
    if match := _PERCENT.match(raw):
        return max(0.0, min(100.0, float(match.group(1))))
    return None


#: The face vocabulary's name of each replica field (Tavus's newest docs); statuses,
#: progress and the ``r…`` ids are the same in both.
FACE_FIELD_NAMES: Mapping[str, str] = {
    "replica_id": "face_id",
    "replica_name": "face_name",
    "replica_type": "face_type",
}


def _from_face_vocabulary(data: Any) -> Any:
    """``data`` with each ``face_*`` field read as its ``replica_*`` field.

    The replica name wins when both carry a value (it is what the ``/v2/replicas``
    endpoints document); a face name stands in only for a replica name that is absent or
    null, and is then consumed. A face name that did not win stays as an extra field, so
    nothing the API sent is lost.
    """
    if not isinstance(data, Mapping):
        return data
    taken = [
        (replica, face)
        for replica, face in FACE_FIELD_NAMES.items()
        if data.get(replica) is None and data.get(face) is not None
    ]
    if not taken:
        return data
    data = dict(data)
    for replica, face in taken:
        data[replica] = data.pop(face)
    return data


def _lenient_str(value: Any) -> Any:
    """Numbers and booleans become strings; None and strings pass; others are refused."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float, bool)):
        return str(value)
    return value


class Replica(BaseModel):
    """A Tavus replica, as returned by ``GET /v2/replicas/{replica_id}`` or the list.

    Unknown fields are kept (``replica.model_extra``) so nothing the API adds is lost.
    ``status`` and ``replica_type`` keep the raw value; ``phase`` interprets the status.
    A payload in the face vocabulary (``face_id``, ``face_name``, ``face_type``) is read
    into the same attributes; with both names, the ``replica_*`` one wins.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    replica_id: str = Field(description="Unique identifier of the replica, e.g. 'rf4e9d9790f0'.")
    replica_name: str | None = Field(default=None, description="Name given to the replica.")
    thumbnail_video_url: str | None = Field(
        default=None, description="Link to the thumbnail video."
    )
    training_progress: str | None = Field(
        default=None, description="Progress as Tavus reports it, e.g. '45/100'. Kept raw."
    )
    status: str | None = Field(
        default=None,
        description="Raw status: 'started', 'completed', 'error' (documented); 'training', "
        "'ready' (seen elsewhere); anything else is treated as still training.",
    )
    created_at: datetime | None = Field(default=None, description="When the replica was created.")
    updated_at: datetime | None = Field(
        default=None, description="When it last changed (single-replica GET only)."
    )
    error_message: str | None = Field(
        default=None, description="Why training failed (single-replica GET only)."
    )
    replica_type: str | None = Field(
        default=None, description="'user' or 'system' (verbose GET and list only). Kept raw."
    )
    model_name: str | None = Field(default=None, description="Model, e.g. 'phoenix-3'.")

    @field_validator(
        "replica_name",
        "thumbnail_video_url",
        "training_progress",
        "status",
        "error_message",
        "replica_type",
        "model_name",
        mode="before",
    )
    @classmethod
    def _stringify(cls, value: Any) -> Any:
        return _lenient_str(value)

    @model_validator(mode="before")
    @classmethod
    def _faces(cls, data: Any) -> Any:
        return _from_face_vocabulary(data)

    @field_validator("replica_id", mode="before")
    @classmethod
    def _id_as_str(cls, value: Any) -> Any:
        return _lenient_str(value)

    @field_validator("created_at", "updated_at", mode="wrap")
    @classmethod
    def _lenient_timestamp(cls, value: Any, handler: Any) -> datetime | None:
        if value in (None, ""):
            return None
        try:
            parsed: datetime | None = handler(value)
            return parsed
        except ValueError:
            return None

    @property
    def progress_percent(self) -> float | None:
        """``training_progress`` as a number from 0 to 100; 100 once completed."""
        parsed = parse_progress(self.training_progress)
        if parsed is None and self.phase is ReplicaPhase.COMPLETED:
            return 100.0
        return parsed

    @property
    def normalized_status(self) -> str:
        """The status lower-cased and trimmed ('' if missing), for comparisons."""
        return (self.status or "").strip().lower()

    @property
    def phase(self) -> ReplicaPhase:
        """Completed (``completed``/``ready``), failed (``error``), else in progress."""
        status = self.normalized_status
        if status in SUCCESS_STATUSES:
            return ReplicaPhase.COMPLETED
        if status in FAILURE_STATUSES:
            return ReplicaPhase.FAILED
        return ReplicaPhase.IN_PROGRESS

    @property
    def is_completed(self) -> bool:
        return self.phase is ReplicaPhase.COMPLETED

    @property
    def is_failed(self) -> bool:
        return self.phase is ReplicaPhase.FAILED

    @property
    def is_terminal(self) -> bool:
        """True once training has finished, well or not: nothing more will change."""
        return self.phase is not ReplicaPhase.IN_PROGRESS

    @property
    def failure_reason(self) -> str | None:
        """``error_message`` of a failed replica (ignored on others, where it can be stale)."""
        return self.error_message if self.is_failed else None

    # What the wait engine reads of any resource (core.kinds.TavusResource).

    @property
    def resource_id(self) -> str:
        return self.replica_id

    @property
    def display_name(self) -> str | None:
        return self.replica_name

    @property
    def progress_text(self) -> str | None:
        """Progress as Tavus wrote it (``training_progress``)."""
        return self.training_progress

    @property
    def is_gone(self) -> bool:
        """A replica that no longer exists answers 400/404 instead: never True here."""
        return False

    def describe(self) -> str:
        """One line for logs: ``'My Replica' (r123): started, 45/100``.

        Every part came from Tavus and is kept raw on the model, so each is cut and
        escaped here (:func:`~prefect_tavus.core.text.printable`): one bounded line.
        """
        name = f"{printable(self.replica_name, 100)!r} " if self.replica_name else ""
        progress = f", {printable(self.training_progress, 20)}" if self.training_progress else ""
        status = printable(self.status, 40) if self.status else "unknown"
        return f"{name}({printable(self.replica_id, 128)}): {status}{progress}"


class ReplicaPage(BaseModel):
    """One page of ``GET /v2/replicas``: ``{"data": [...], "total_count": n}``."""

    model_config = ConfigDict(extra="allow")

    data: list[Replica] = Field(default_factory=list)
    total_count: int | None = None

    @field_validator("data", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


class CreatedReplica(BaseModel):
    """The answer to ``POST /v2/replicas``: the new id and its first status.

    ``face_id`` is read as ``replica_id`` (the face vocabulary), as on :class:`Replica`.
    """

    model_config = ConfigDict(extra="allow")

    replica_id: str
    status: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _faces(cls, data: Any) -> Any:
        return _from_face_vocabulary(data)
