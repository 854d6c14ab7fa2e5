"""Reading a Tavus callback: lenient about its shape, strict about the id.

Two kinds of callback are taken, told apart by the id they carry:

* a **video** callback: Tavus POSTs the whole video object (``video_id``, ``status`` in
  ``queued`` / ``generating`` / ``ready`` / ``deleted`` / ``error``, ``status_details``
  with the reason on error, ``generation_progress``, ...). It also carries the
  ``replica_id`` of the replica that speaks in it, so ``video_id`` is looked for first: a
  body with one is a video callback whatever else it holds. The reason is read from
  ``status_details``, else ``error_details`` or ``error_message``; whichever shape it has
  (text, a list, an object) it is kept as text.
* a **training** (replica) callback: Tavus documents ``{"replica_id": "r...", "status":
  "ready"}`` and ``{"replica_id": "r...", "status": "error", "error_message": "..."}``; its
  newest docs call a replica a *face* and the id ``face_id`` (same ``r...`` ids), so either
  name is read (``replica_id`` first). One docs page branches on an ``event_type`` field
  instead, so the ids (and status) are also looked for under ``data`` or ``properties``,
  and ``event_type`` stands in for a missing status.

Which kind a callback is about, the names its id may have and where its reason is are
data on each kind (:mod:`prefect_tavus.core.kinds`); this module loops over them.

Conversation callbacks (a different product: ``conversation_id``, or ``event_type`` with
``message_type``, and no ``video_id``) often name a replica too but say nothing about
training; they are accepted (so Tavus does not retry them) and ignored.

Extra fields are ignored. The status and the reason are cut to 64 and 1,000 characters:
they are stored, written to Prefect and logged, and an outsider chooses them. The id goes
through its kind's id rule (the same checks as every id the integration sends in a URL): a callback is only a hint, but a hint naming ``../x`` is
refused, not stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from prefect_tavus.core.kinds import KINDS, Kind, ResourceKind

__all__ = ["BadCallback", "ParsedCallback", "parse_callback"]

_MAX_STATUS = 64
_MAX_REASON = 1000
_NESTED = ("data", "properties")
#: The kinds in the order a body is matched against them (a video callback also names its
#: replica, so videos come first).
_BY_RANK: tuple[ResourceKind, ...] = tuple(sorted(KINDS, key=lambda kind: kind.callback_rank))
#: A conversation callback: any of these alone, or all of these together (with no video_id).
_CONVERSATION_ANY = ("conversation_id",)
_CONVERSATION_ALL = ("event_type", "message_type")
#: The statuses Tavus documents (training, then video), each one shared string: a stored
#: callback with one of them holds no copy of its own (about 55 bytes each).
_KNOWN_STATUSES = {
    status: status
    for status in ("started", "training", "ready", "error", "queued", "generating", "deleted")
}


class BadCallback(ValueError):
    """The body is not a callback the receiver takes (answered 400 with a short, generic reason)."""


class ResourceIds:
    """The id of a callback that holds ``kind`` and ``resource_id``, by its kind's name
    (slot-free, so the receiver's store keeps its small objects)."""

    __slots__ = ()
    kind: Kind | None
    resource_id: str | None

    def id_of(self, kind: str) -> str | None:
        """The id when this is a callback about a ``kind`` (``"replica"``), else None."""
        return self.resource_id if self.kind == kind else None

    @property
    def replica_id(self) -> str | None:
        """``id_of("replica")``, for callers that know they hold a training callback."""
        return self.id_of("replica")

    @property
    def video_id(self) -> str | None:
        """``id_of("video")``, for callers that know they hold a video callback."""
        return self.id_of("video")


@dataclass(frozen=True)
class ParsedCallback(ResourceIds):
    """What the receiver keeps from a callback: which ``kind`` of resource, its id, its
    status and the reason given (``reason``: a replica's ``error_message``, a video's
    ``status_details``). ``resource_id`` (and ``kind``) is None for one it ignores."""

    resource_id: str | None
    status: str | None = None
    reason: str | None = None
    kind: Kind | None = None

    @property
    def ignored(self) -> bool:
        """A callback that is answered and otherwise dropped (a conversation's)."""
        return self.resource_id is None


def parse_callback(body: bytes) -> ParsedCallback:
    """Parse a callback body.

    Raises:
        BadCallback: not a JSON object; a ``video_id`` that fails validation; or, in a body
            with no ``video_id`` that is not a conversation callback, no valid
            ``replica_id`` / ``face_id``.
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise BadCallback("body is not JSON") from None
    if not isinstance(data, dict):
        raise BadCallback("body is not a JSON object")
    holders = [data] + [nested for key in _NESTED if isinstance(nested := data.get(key), dict)]
    conversation = any(key in data for key in _CONVERSATION_ANY) or all(
        key in data for key in _CONVERSATION_ALL
    )
    for kind in _BY_RANK:
        if kind.named_by_conversations and conversation:
            return ParsedCallback(None)
        found = _id_and_holder(holders, kind.callback_id_keys)
        if found is None:
            continue
        raw_id, source = found
        try:
            resource_id = kind.validate_id(raw_id)  # type: ignore[arg-type]  # any JSON value: the rule refuses what is not an id
        except ValueError:  # each kind's invalid-id error is a ValueError
            raise BadCallback(f"invalid {kind.id_field}") from None
        reason = _reason(source, data, kind.callback_reason_keys)
        return ParsedCallback(resource_id, _status(data, source), reason, kind.kind)
    raise BadCallback(f"no {_BY_RANK[-1].id_field}")


def _id_and_holder(
    holders: list[dict[str, Any]], keys: tuple[str, ...]
) -> tuple[object, dict[str, Any]] | None:
    """The raw id and the object that carries it: the body itself, or its data/properties;
    ``keys`` in order at each level."""
    for holder in holders:
        for key in keys:
            if key in holder:
                return holder[key], holder
    return None


def _status(data: dict[str, Any], source: dict[str, Any]) -> str | None:
    """The status next to the id, else at the top level, else the ``event_type``."""
    status = _short_text(source.get("status", data.get("status")), _MAX_STATUS)
    if status is None:
        status = _short_text(data.get("event_type"), _MAX_STATUS)
    return None if status is None else _KNOWN_STATUSES.get(status, status)


def _reason(source: dict[str, Any], data: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    """The first reason given next to the id (else at the top level) under ``keys``, as text."""
    for holder in (source, data) if source is not data else (data,):
        for key in keys:
            text = _as_text(holder.get(key), _MAX_REASON)
            if text:
                return text
    return None


def _as_text(value: object, limit: int) -> str | None:
    """``value`` as text of at most ``limit`` characters: a string as it is, a number as
    written, a list or object as compact JSON; None for null, a boolean or an empty value."""
    if isinstance(value, bool) or (not value and not isinstance(value, (int, float))):
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, (int, float)):
        text = str(value)
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
        except (ValueError, TypeError, RecursionError):
            return None
    return text[:limit] or None


def _short_text(value: object, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    return value[:limit]
