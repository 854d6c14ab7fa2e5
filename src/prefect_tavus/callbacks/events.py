"""Callbacks as Prefect events: the record every receiver, restart and sweep shares.

A callback held in one process's memory is lost when that process restarts, and is
invisible to a second receiver behind the same load balancer; a batch wait whose
replicas report hours apart, to different processes, would then never be resumed. So
each callback is written to the Prefect server as an event, ``occurred`` = when it was
received (names from :mod:`prefect_tavus.core.contract`):

* a training callback as ``tavus.replica.callback`` on resource ``tavus.replica.<id>``,
  payload ``replica_id``, ``status``, ``error_message``;
* a video callback as ``tavus.video.callback`` on resource ``tavus.video.<id>``, payload
  ``video_id``, ``status``, ``reason`` (Tavus's ``status_details``);

(each kind's names are data on it, :mod:`prefect_tavus.core.kinds`), and every pass reads them back for the replicas and videos that suspended waits name,
one kind at a time (a video's events never count for a replica with a same-looking id).

Writing goes through ``POST /api/events`` and waits for the answer, unlike
``prefect.events.emit_event`` (a websocket that drops events while the server is away):
an event not accepted stays pending in the store and is sent again. Each event's ``id``
is fixed when the callback arrives; the server inserts events with ``ON CONFLICT DO
NOTHING`` on it, so re-sending a batch whose answer was lost does not duplicate it.

Reading asks ``POST /api/events/filter`` for these events on the wanted resources, in
chunks of ids, page by page (``next_page`` carries a ``page-token``), since
:data:`LOOKBACK` (Prefect's default event retention: an older event is gone anyway;
the filter's own default window differs between Prefect versions, so it is always given).
A Prefect Cloud webhook writing the same event name and resource (see the README) is read
the same way.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prefect_tavus.callbacks.store import StoredCallback, status_key
from prefect_tavus.core._time import assume_utc
from prefect_tavus.core.kinds import KINDS, Kind, kind_of

__all__ = [
    "LOOKBACK",
    "RESOURCE_PREFIXES",
    "FirstReceipts",
    "read_first_receipts",
    "to_event",
    "write_events",
]

logger = logging.getLogger("prefect_tavus.callbacks")

#: The resource id of a callback's event is this prefix (per kind) and the id.
RESOURCE_PREFIXES: Mapping[Kind, str] = {kind.kind: kind.resource_prefix for kind in KINDS}
#: How far back callbacks are read: Prefect's default event retention (7 days).
LOOKBACK = timedelta(days=7)
#: Events accepted after ``now`` by this much still count (clocks of receivers and server differ).
_CLOCK_SKEW = timedelta(hours=1)
#: Resource ids per filter query, so that a long list stays a modest request body.
_IDS_PER_QUERY = 100
#: The largest page the server serves (its INTERACTIVE_PAGE_SIZE).
_PAGE_SIZE = 50
#: Pages read per chunk of ids in one pass. Each receiver writes one event per resource
#: and status, so real callbacks fill a fraction of a page; a token holder posting endless
#: invented statuses for a waited-on replica is cut off here (oldest events come first).
_MAX_PAGES = 40
#: Events per ``POST /api/events``.
WRITE_BATCH = 200

#: (id, status key) -> the earliest receipt of that callback, in epoch seconds (one kind).
FirstReceipts = dict[tuple[str, str], float]


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat()


def to_event(callback: StoredCallback) -> dict[str, Any]:
    """The Prefect event (JSON) that records ``callback``; the token is never in it."""
    kind = kind_of(callback.kind)
    return {
        "id": str(callback.event_id),
        "event": kind.callback_event,
        "occurred": _iso(callback.received_at),
        "resource": {
            "prefect.resource.id": kind.resource_prefix + callback.resource_id,
            "prefect.resource.name": callback.resource_id,
        },
        "related": [],
        "payload": {
            kind.id_field: callback.resource_id,
            "status": callback.status,
            kind.callback_reason_field: callback.reason,
        },
    }


async def write_events(client: Any, callbacks: Sequence[StoredCallback]) -> None:
    """Write ``callbacks`` as events in one request; raises what the client raises
    (``httpx.HTTPStatusError`` for an error answer, ``httpx.HTTPError`` for no answer)."""
    if callbacks:
        await client.request("POST", "/events", json=[to_event(callback) for callback in callbacks])


async def read_first_receipts(
    client: Any, resource_ids: Iterable[str], now: float, *, kind: Kind
) -> FirstReceipts:
    """The earliest recorded receipt of each (id, status) among ``resource_ids``, all of
    ``kind`` (``"replica"``, ``"video"``): only that kind's events are read."""
    event_name, prefix = kind_of(kind).callback_event, kind_of(kind).resource_prefix
    wanted = sorted(set(resource_ids))
    first: FirstReceipts = {}
    since, until = _iso(now - LOOKBACK.total_seconds()), _iso(now + _CLOCK_SKEW.total_seconds())
    for start in range(0, len(wanted), _IDS_PER_QUERY):
        chunk = wanted[start : start + _IDS_PER_QUERY]
        body = {
            "filter": {
                "occurred": {"since": since, "until": until},
                "event": {"name": [event_name]},
                "resource": {"id": [prefix + resource_id for resource_id in chunk]},
                "order": "ASC",
            },
            "limit": _PAGE_SIZE,
        }
        response = await client.request("POST", "/events/filter", json=body)
        for _ in range(_MAX_PAGES):
            page = response.json()
            _merge_page(first, page.get("events") or [], set(chunk), kind)
            token = _page_token(page.get("next_page"))
            if token is None:
                break
            response = await client.request(
                "GET", "/events/filter/next", params={"page-token": token}
            )
        else:
            logger.warning(
                "More than %d %s events for %d %ss; read the oldest only.",
                _MAX_PAGES * _PAGE_SIZE,
                event_name,
                len(chunk),
                kind,
            )
    return first


def _merge_page(first: FirstReceipts, events: list[Any], wanted: set[str], kind: Kind) -> None:
    """Fold one page of ``kind``'s callback events into ``first``; anything malformed, or
    of another kind or name (another writer's event), is skipped."""
    prefix = kind_of(kind).resource_prefix
    for event in events:
        if not isinstance(event, dict):
            continue
        name = event.get("event")
        if name is not None and name != kind_of(kind).callback_event:
            continue
        resource = event.get("resource") or {}
        full_id = resource.get("prefect.resource.id") if isinstance(resource, dict) else None
        if not isinstance(full_id, str) or not full_id.startswith(prefix):
            continue
        resource_id = full_id[len(prefix) :]
        if resource_id not in wanted:
            continue
        payload = event.get("payload")
        status = payload.get("status") if isinstance(payload, dict) else None
        occurred = _epoch(event.get("occurred"))
        if occurred is None:
            continue
        key = (resource_id, status_key(status if isinstance(status, str) else None))
        if occurred < first.get(key, math.inf):
            first[key] = occurred


def _epoch(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return assume_utc(moment).timestamp()


def _page_token(next_page: object) -> str | None:
    """The ``page-token`` of a ``next_page`` URL. Only the token is used: the URL's host is
    the server's idea of itself, which behind a proxy is not the address this client uses."""
    if not isinstance(next_page, str) or not next_page:
        return None
    tokens = parse_qs(urlsplit(next_page).query).get("page-token")
    return tokens[0] if tokens else None
