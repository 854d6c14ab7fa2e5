"""Reading a Tavus training callback: lenient about its shape, strict about the id.

Tavus documents ``{"replica_id": "r...", "status": "ready"}`` and ``{"replica_id": "r...",
"status": "error", "error_message": "..."}``; its newest docs call a replica a *face* and
the id ``face_id`` (same ``r...`` ids), so either name is read (``replica_id`` first). One
docs page branches on an ``event_type`` field instead, so the id (and status) are also
looked for under ``data`` or ``properties``. Extra fields are ignored. The status and
error message are cut to 64 and 1,000 characters: they are stored, written to Prefect and
logged, and an outsider chooses them. The id goes through ``validate_replica_id``
(the same check as every id the integration sends in a URL): a callback is only a hint,
but a hint naming ``../x`` is refused, not stored.

Video and conversation callbacks also carry a ``replica_id`` but say nothing about
training; they are accepted (so Tavus does not retry them) and ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from prefect_tavus.core.errors import InvalidReplicaIdError
from prefect_tavus.core.validation import validate_replica_id

__all__ = ["BadCallback", "ParsedCallback", "parse_callback"]

_MAX_STATUS = 64
_MAX_ERROR_MESSAGE = 1000
_NESTED = ("data", "properties")
_NOT_TRAINING = ("video_id", "conversation_id")
#: The id's names, in order of preference: Tavus's documented one, then the newest docs' one.
_ID_KEYS = ("replica_id", "face_id")


class BadCallback(ValueError):
    """The body is not a training callback (answered 400 with a short, generic reason)."""


@dataclass(frozen=True)
class ParsedCallback:
    """What the receiver keeps from a callback; ``replica_id`` is None for one it ignores."""

    replica_id: str | None
    status: str | None = None
    error_message: str | None = None


def parse_callback(body: bytes) -> ParsedCallback:
    """Parse a callback body.

    Raises:
        BadCallback: not a JSON object, or no valid ``replica_id`` / ``face_id``.
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise BadCallback("body is not JSON") from None
    if not isinstance(data, dict):
        raise BadCallback("body is not a JSON object")
    if any(key in data for key in _NOT_TRAINING):
        return ParsedCallback(None)
    found = _replica_id_and_holder(data)
    if found is None:
        raise BadCallback("no replica_id")
    raw_id, source = found
    try:
        replica_id = validate_replica_id(raw_id)
    except InvalidReplicaIdError:
        raise BadCallback("invalid replica_id") from None
    status = _short_text(source.get("status", data.get("status")), _MAX_STATUS)
    if status is None:
        status = _short_text(data.get("event_type"), _MAX_STATUS)
    message = _short_text(source.get("error_message", data.get("error_message")), _MAX_ERROR_MESSAGE)
    return ParsedCallback(replica_id, status, message)


def _replica_id_and_holder(data: dict[str, Any]) -> tuple[object, dict[str, Any]] | None:
    """The raw id and the object that carries it: the body itself, or its data/properties;
    ``replica_id`` before ``face_id`` at each level."""
    holders = [data] + [nested for key in _NESTED if isinstance(nested := data.get(key), dict)]
    for holder in holders:
        for key in _ID_KEYS:
            if key in holder:
                return holder[key], holder
    return None


def _short_text(value: object, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    return value[:limit]
