"""The contract between the wait flows, the sweep and the callback receiver, said once.

Flows write a record on their own flow run and Tavus's callbacks reach a receiver that
may run on another machine, under another version of this package: they agree only
through what is written here. It is free of Prefect (and of I/O), so the receiver, the
flows and their tests import the same names and the same codec:

* the callback route and the token rule (``CALLBACK_PATH``, ``validate_token``), and
  the environment variable both sides read the token from;
* the events: what a wait emits about a replica or a video (``event_name``) and what a
  receiver writes for each callback it takes (``CALLBACK_EVENTS``);
* the record a suspended wait leaves on its flow run (flow-run labels) and its codec,
  :class:`WaitRecord`; the labels a durable create leaves.

What is per kind (each kind's event prefix, record label and id rule) is data on the kind,
in the one registry :mod:`prefect_tavus.core.kinds`; the tables below are read from it.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from prefect_tavus.core.kinds import KINDS, REPLICAS, VIDEOS, Kind, kind_of
from prefect_tavus.core.text import printable

__all__ = [
    "CALLBACK_EVENTS",
    "CALLBACK_PATH",
    "CALLBACK_TOKEN_ENV_VAR",
    "EVENT_PREFIXES",
    "KIND_LABELS",
    "LABEL_CHECKED_AT",
    "LABEL_CREATED",
    "LABEL_CREATE_ATTEMPTED",
    "LABEL_DEADLINE",
    "LABEL_REPLICAS",
    "LABEL_ROW_ATTEMPTED",
    "LABEL_ROW_VIDEO",
    "LABEL_VIDEOS",
    "MIN_TOKEN_LENGTH",
    "SUSPENDED",
    "Kind",
    "UnreadableRecord",
    "WaitRecord",
    "callback_url",
    "epoch_seconds",
    "event_name",
    "row_digest",
    "row_labels",
    "validate_token",
]

# --- the callback route and its token -----------------------------------------------

#: The receiver's route; the token is the last path segment.
CALLBACK_PATH = "/tavus/callbacks/{token}"
#: Where the flows (when their block has no token) and the receiver read the token from.
CALLBACK_TOKEN_ENV_VAR = "TAVUS_CALLBACK_TOKEN"
#: Shortest accepted token. The token is the only thing that tells a callback from a
#: forgery; 16 URL-safe characters carry about 96 bits, out of reach of guessing, and the
#: minimum also catches placeholders such as "changeme".
MIN_TOKEN_LENGTH = 16
#: Characters a token may use: it is one URL path segment, pasted into Tavus's callback_url.
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9._~-]+")


def validate_token(token: object) -> str:
    """Return ``token`` if it is usable in the callback URL; else raise ValueError.

    The message never contains the token itself.
    """
    if not isinstance(token, str) or not token:
        raise ValueError("the callback token is empty")
    if len(token) < MIN_TOKEN_LENGTH:
        raise ValueError(
            f"the callback token is {len(token)} characters long; use at least {MIN_TOKEN_LENGTH} "
            'random ones, e.g. python -c "import secrets; print(secrets.token_urlsafe(32))"'
        )
    if not _TOKEN_CHARS.fullmatch(token):
        raise ValueError(
            "the callback token may only use letters, digits and . _ ~ - (it is part of a URL path)"
        )
    return token


def callback_url(base_url: str, token: str) -> str:
    """The URL Tavus is given as ``callback_url``: the receiver's public base URL and the
    route with ``token`` (checked by :func:`validate_token`)."""
    return base_url.rstrip("/") + CALLBACK_PATH.format(token=validate_token(token))


# --- events ------------------------------------------------------------------------------

#: The prefix of every event about a resource of each kind: ``tavus.replica.completed``,
#: ``tavus.video.failed``; the event's resource id is ``<prefix>.<id>``.
EVENT_PREFIXES: Mapping[Kind, str] = {kind.kind: kind.event_prefix for kind in KINDS}
#: What a receiver writes for every callback it takes, one event per callback.
CALLBACK_EVENTS: Mapping[Kind, str] = {kind.kind: kind.callback_event for kind in KINDS}


def event_name(kind: Kind, what: str) -> str:
    """``tavus.<kind>.<what>``, e.g. ``event_name("video", "completed")``."""
    return f"{EVENT_PREFIXES[kind]}.{what}"


# --- the record of a suspended wait ------------------------------------------------------

#: The label that holds the pending ids of each kind (comma-separated, those still going
#: when the run suspended).
KIND_LABELS: Mapping[Kind, str] = {kind.kind: kind.record_label for kind in KINDS}
#: The replicas' and the videos' record labels, by their old names.
LABEL_REPLICAS = REPLICAS.record_label
LABEL_VIDEOS = VIDEOS.record_label
#: When the wait gives up, in epoch seconds (the deadline counts from the run's first start).
LABEL_DEADLINE = "tavus.wait.deadline"
#: When the recorded statuses were read from Tavus, in epoch seconds.
LABEL_CHECKED_AT = "tavus.wait.checked_at"
#: The replica ``create_replica_and_wait`` created, written the moment Tavus answered.
LABEL_CREATED = "tavus.create.replica_id"
#: When a create was about to be sent (epoch seconds), written before the POST: a life
#: that finds this without ``LABEL_CREATED`` knows an answer may have been lost.
LABEL_CREATE_ATTEMPTED = "tavus.create.attempted_at"
#: Per row of ``generate_videos`` (``<digest>`` is :func:`row_digest` of the row's key):
#: the video created for it, written the moment Tavus answered, and when its create was
#: about to be sent (epoch seconds), written before the POST.
LABEL_ROW_VIDEO = "tavus.generate.video.{digest}"
LABEL_ROW_ATTEMPTED = "tavus.generate.attempted_at.{digest}"
#: Prefect's name for the paused state of a run that released its process.
SUSPENDED = "Suspended"


def row_digest(key: str) -> str:
    """A row key as a label part: its SHA-256, 16 hex digits (keys are the caller's text,
    of any length and alphabet; the digest keeps them out of label names)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def row_labels(key: str) -> tuple[str, str]:
    """The labels of one ``generate_videos`` row: (its video id, its create attempt)."""
    digest = row_digest(key)
    return LABEL_ROW_VIDEO.format(digest=digest), LABEL_ROW_ATTEMPTED.format(digest=digest)


class UnreadableRecord(ValueError):
    """A flow run carries a wait record that does not parse (an id that fails validation,
    a deadline that is not a number). It is skipped, never acted on, and named in a
    WARNING so that a user can fix or cancel the run."""


def epoch_seconds(value: object) -> float | None:
    """A label value as epoch seconds, or None when it is missing or not a finite number."""
    try:
        number = float(value)  # type: ignore[arg-type]  # any object: what float() refuses is None
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class WaitRecord:
    """What a suspended wait waits for: ``ids`` of one ``kind``, its deadline, and when
    their statuses were last read from Tavus (``checked_at``; a callback received after
    it is news)."""

    kind: Kind
    ids: frozenset[str]
    deadline: float | None
    checked_at: float | None

    @classmethod
    def labels(
        cls, kind: Kind, ids: Iterable[str], deadline: float, checked_at: float
    ) -> dict[str, str | float]:
        """The labels of a record of ``ids`` (kept in the order given)."""
        return {
            KIND_LABELS[kind]: ",".join(ids),
            LABEL_DEADLINE: float(deadline),
            LABEL_CHECKED_AT: float(checked_at),
        }

    @classmethod
    def from_labels(
        cls, labels: Mapping[str, object] | None, *, run: str = "?"
    ) -> WaitRecord | None:
        """The record in ``labels`` (a flow run's), or None if there is none.

        Raises:
            UnreadableRecord: a record is there but does not parse; the message names the
                run (``run``) and what is wrong. A run is acted on only on a record that
                fully parses.
        """
        labels = labels or {}
        present = [kind for kind, label in KIND_LABELS.items() if labels.get(label) is not None]
        if not present:
            return None
        if len(present) > 1:
            raise UnreadableRecord(
                f"flow run {run}: it records both {' and '.join(KIND_LABELS[k] for k in present)}"
            )
        (kind,) = present
        label = KIND_LABELS[kind]
        raw_ids = labels[label]
        if not isinstance(raw_ids, str) or not raw_ids.strip():
            raise UnreadableRecord(f"flow run {run}: label {label} is empty or not text")
        rule = kind_of(kind).validate_id
        try:
            ids = frozenset(rule(part.strip()) for part in raw_ids.split(",") if part.strip())
        except ValueError as exc:  # each kind's invalid-id error is a ValueError
            raise UnreadableRecord(
                f"flow run {run}: label {label} holds an invalid id ({exc})"
            ) from None
        deadline, checked_at = labels.get(LABEL_DEADLINE), labels.get(LABEL_CHECKED_AT)
        for name, value in ((LABEL_DEADLINE, deadline), (LABEL_CHECKED_AT, checked_at)):
            if value is not None and epoch_seconds(value) is None:
                raise UnreadableRecord(
                    f"flow run {run}: label {name} is {printable(str(value), 40)!r}, not epoch seconds"
                )
        return cls(kind, ids, epoch_seconds(deadline), epoch_seconds(checked_at))
