"""Typed views of what the Tavus Videos API returns.

Lenient as :class:`~prefect_tavus.core.replicas.Replica` is, and for the same reasons: every
field given is kept (``extra="allow"``), the status is kept raw and unknown statuses count
as in progress, and a field that cannot be read becomes None instead of failing the
whole answer. One model serves the create answer, ``GET /v2/videos/{video_id}``, list
items and video callbacks, which carry different subsets of the same fields:

* create: ``video_id``, ``video_name``, ``status`` (``queued``), ``hosted_url``, ``created_at``
  (the API reference's example writes it as an RFC 1123 date, ``Mon, 14 Jul 2025 09:14:24 GMT``);
* GET: also ``download_url``, ``stream_url``, ``status_details``, ``data.script``, timestamps
  (``verbose`` adds thumbnails);
* list items: also ``error_details``;
* callbacks: the whole object plus ``generation_progress`` (``"100/100"``).
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from prefect_tavus.core._time import assume_utc
from prefect_tavus.core.replicas import _lenient_str, parse_progress
from prefect_tavus.core.text import printable

__all__ = [
    "VIDEO_FAILURE_STATUSES",
    "VIDEO_SUCCESS_STATUSES",
    "Video",
    "VideoPage",
    "VideoPhase",
]

#: The status of a rendered video.
VIDEO_SUCCESS_STATUSES = frozenset({"ready"})
#: Statuses of a video that will never be rendered: ``error`` (documented), ``failed``
#: (the replicas' spelling of it, should videos ever use it).
VIDEO_FAILURE_STATUSES = frozenset({"error", "failed"})
_DELETED = "deleted"


class VideoPhase(str, Enum):
    """Where a video is, whatever words the API used for it."""

    IN_PROGRESS = "in_progress"
    READY = "ready"
    FAILED = "failed"
    DELETED = "deleted"


def _timestamp(value: Any) -> datetime | None:
    """ISO-8601 (what the replica endpoints send) or an RFC 1123 date (the video create's
    documented example); anything else is None. A time without a zone is taken as UTC."""
    if value in (None, "") or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            moment = datetime.fromisoformat(
                text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
            )
        except ValueError:
            try:
                moment = email.utils.parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                return None
            if moment is None:
                return None
    else:
        return None
    return assume_utc(moment)


class Video(BaseModel):
    """A Tavus video: the answer to a create, a GET, a list item or a callback.

    Unknown fields are kept (``video.model_extra``). ``status`` keeps the raw value;
    ``phase`` interprets it. ``face_id`` (the newest docs' name for a replica) is read as
    ``replica_id`` when ``replica_id`` is absent, and kept as an extra otherwise.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    video_id: str = Field(description="Unique identifier of the video, e.g. 'abcd123'.")
    video_name: str | None = Field(default=None, description="Name given to the video.")
    replica_id: str | None = Field(default=None, description="The replica that speaks in it.")
    status: str | None = Field(
        default=None,
        description="Raw status: 'queued', 'generating', 'ready', 'deleted', 'error' (documented); "
        "anything else is treated as still in progress.",
    )
    hosted_url: str | None = Field(default=None, description="Tavus's page for the video.")
    download_url: str | None = Field(
        default=None, description="Direct link to the file (null on error)."
    )
    stream_url: str | None = Field(
        default=None, description="Streaming link (null on error, or with fast)."
    )
    status_details: str | None = Field(
        default=None, description="Why it failed, or what it is doing. Kept raw."
    )
    error_details: list[Any] | None = Field(
        default=None, description="List items' error details. Kept raw."
    )
    generation_progress: str | None = Field(
        default=None, description="Callbacks only, e.g. '100/100'. Kept raw; see progress_percent."
    )
    data: dict[str, Any] | None = Field(
        default=None, description="What was rendered: {'script': ...}."
    )
    background_url: str | None = Field(
        default=None, description="The website used as background, if any."
    )
    still_image_thumbnail_url: str | None = Field(default=None, description="Verbose GET only.")
    gif_thumbnail_url: str | None = Field(default=None, description="Verbose GET only.")
    created_at: datetime | None = Field(default=None, description="When the video was requested.")
    updated_at: datetime | None = Field(default=None, description="When it last changed.")

    @model_validator(mode="before")
    @classmethod
    def _faces(cls, data: Any) -> Any:
        if (
            isinstance(data, Mapping)
            and data.get("replica_id") is None
            and data.get("face_id") is not None
        ):
            data = dict(data)
            data["replica_id"] = data.pop("face_id")
        return data

    @field_validator("video_id", mode="before")
    @classmethod
    def _id_as_str(cls, value: Any) -> Any:
        return _lenient_str(value)

    @field_validator(
        "video_name",
        "replica_id",
        "status",
        "hosted_url",
        "download_url",
        "stream_url",
        "generation_progress",
        "background_url",
        "still_image_thumbnail_url",
        "gif_thumbnail_url",
        mode="before",
    )
    @classmethod
    def _stringify(cls, value: Any) -> Any:
        return _lenient_str(value)

    @field_validator("status_details", mode="before")
    @classmethod
    def _details_as_text(cls, value: Any) -> Any:
        """A string as given; an object or list (the shape is undocumented) as its text."""
        if value is None or isinstance(value, str):
            return value
        return _lenient_str(value) if isinstance(value, (int, float, bool)) else str(value)

    @field_validator("error_details", mode="before")
    @classmethod
    def _details_as_list(cls, value: Any) -> Any:
        """Documented as a list; a lone string or object is read as a list of one."""
        if value is None or isinstance(value, list):
            return value
        if isinstance(value, (str, Mapping, int, float)):
            return [value]
        return None

    @field_validator("data", mode="wrap")
    @classmethod
    def _lenient_data(cls, value: Any, handler: Any) -> dict[str, Any] | None:
        if isinstance(value, str) and value.strip():
            return {"script": value}  # a bare script is still the script
        try:
            parsed: dict[str, Any] | None = handler(value)
            return parsed
        except ValueError:
            return None

    @field_validator("created_at", "updated_at", mode="before")
    @classmethod
    def _lenient_timestamp(cls, value: Any) -> datetime | None:
        return _timestamp(value)

    @property
    def script(self) -> str | None:
        """The script the video speaks (``data.script``), if Tavus returned it."""
        script = (self.data or {}).get("script")
        return script if isinstance(script, str) else None

    @property
    def normalized_status(self) -> str:
        """The status lower-cased and trimmed ('' if missing), for comparisons."""
        return (self.status or "").strip().lower()

    @property
    def phase(self) -> VideoPhase:
        """Ready, failed, deleted, else (queued, generating, unknown) in progress."""
        status = self.normalized_status
        if status in VIDEO_SUCCESS_STATUSES:
            return VideoPhase.READY
        if status in VIDEO_FAILURE_STATUSES:
            return VideoPhase.FAILED
        if status == _DELETED:
            return VideoPhase.DELETED
        return VideoPhase.IN_PROGRESS

    @property
    def is_ready(self) -> bool:
        return self.phase is VideoPhase.READY

    @property
    def is_failed(self) -> bool:
        return self.phase is VideoPhase.FAILED

    @property
    def is_deleted(self) -> bool:
        return self.phase is VideoPhase.DELETED

    @property
    def is_terminal(self) -> bool:
        """True once nothing more will change: ready, failed or deleted."""
        return self.phase is not VideoPhase.IN_PROGRESS

    @property
    def progress_percent(self) -> float | None:
        """``generation_progress`` as a number from 0 to 100; 100 once ready. Only
        callbacks carry the progress, so a GET answer in progress says None."""
        parsed = parse_progress(self.generation_progress)
        if parsed is None and self.is_ready:
            return 100.0
        return parsed

    @property
    def failure_reason(self) -> str | None:
        """Why a failed video failed: ``status_details``, else the ``error_details`` as
        text; None for a video that did not fail (where details may be progress notes)."""
        if not self.is_failed:
            return None
        if self.status_details and self.status_details.strip():
            return self.status_details
        reasons = [_detail_text(item) for item in self.error_details or []]
        joined = "; ".join(reason for reason in reasons if reason)
        return joined or None

    # What the wait engine reads of any resource (core.kinds.TavusResource).

    @property
    def resource_id(self) -> str:
        return self.video_id

    @property
    def display_name(self) -> str | None:
        return self.video_name

    @property
    def progress_text(self) -> str | None:
        """Progress as Tavus wrote it (``generation_progress``, callbacks only)."""
        return self.generation_progress

    @property
    def is_completed(self) -> bool:
        """Ready: the engine's word for a resource that ended well."""
        return self.is_ready

    @property
    def is_gone(self) -> bool:
        """Deleted: it will never be ready (the wait reports it as not found)."""
        return self.is_deleted

    def describe(self) -> str:
        """One bounded log line: ``'Welcome' (abcd123): generating, 40/100``."""
        name = f"{printable(self.video_name, 100)!r} " if self.video_name else ""
        progress = (
            f", {printable(self.generation_progress, 20)}" if self.generation_progress else ""
        )
        status = printable(self.status, 40) if self.status else "unknown"
        return f"{name}({printable(self.video_id, 128)}): {status}{progress}"


def _detail_text(item: Any) -> str | None:
    """One ``error_details`` item as text: a string, or an object's message-like field."""
    if isinstance(item, str):
        return item.strip() or None
    if isinstance(item, Mapping):
        for key in ("message", "error", "detail", "reason", "error_message"):
            value = item.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None if item is None else str(item)


class VideoPage(BaseModel):
    """One page of ``GET /v2/videos``: ``{"data": [...], "total_count": n}``."""

    model_config = ConfigDict(extra="allow")

    data: list[Video] = Field(default_factory=list)
    total_count: int | None = None

    @field_validator("data", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("total_count", mode="wrap")
    @classmethod
    def _lenient_total(cls, value: Any, handler: Any) -> int | None:
        try:
            parsed: int | None = handler(value)
            return parsed
        except ValueError:
            return None
