"""Callbacks as Prefect events: the record every receiver, restart and sweep shares.

A callback held in one process's memory is lost when that process restarts, and is
invisible to a second receiver behind the same load balancer; a batch wait whose
replicas report hours apart, to different processes, would then never be resumed. So
each callback is written to the Prefect server as an event ``tavus.replica.callback``
(resource ``tavus.replica.<id>``, ``occurred`` = when it was received), and every pass
reads them back for the replicas that suspended waits name.

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
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prefect_tavus.callbacks.store import StoredCallback, status_key
from prefect_tavus.core.contract import CALLBACK_EVENTS, EVENT_PREFIXES

__all__ = [
    "EVENT_NAME",
    "LOOKBACK",
    "RESOURCE_PREFIX",
    "FirstReceipts",
    "read_first_receipts",
    "to_event",
    "write_events",
]

logger = logging.getLogger("prefect_tavus.callbacks")

EVENT_NAME = CALLBACK_EVENTS["replica"]
RESOURCE_PREFIX = EVENT_PREFIXES["replica"] + "."
#: How far back callbacks are read: Prefect's default event retention (7 days).
LOOKBACK = timedelta(days=7)
#: Events accepted after ``now`` by this much still count (clocks of receivers and server differ).
_CLOCK_SKEW = timedelta(hours=1)
#: Resource ids per filter query, so that a long list stays a modest request body.
_IDS_PER_QUERY = 100
#: The largest page the server serves (its INTERACTIVE_PAGE_SIZE).
_PAGE_SIZE = 50
#: Pages read per chunk of ids in one pass. Each receiver writes one event per replica
#: and status, so real callbacks fill a fraction of a page; a token holder posting endless
#: invented statuses for a waited-on replica is cut off here (oldest events come first).
_MAX_PAGES = 40
#: Events per ``POST /api/events``.
WRITE_BATCH = 200

#: (replica id, status key) -> the earliest receipt of that callback, in epoch seconds.
FirstReceipts = dict[tuple[str, str], float]


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat()


def to_event(callback: StoredCallback) -> dict[str, Any]:
    """The Prefect event (JSON) that records ``callback``; the token is never in it."""
    return {
        "id": str(callback.event_id),
        "event": EVENT_NAME,
        "occurred": _iso(callback.received_at),
        "resource": {
            "prefect.resource.id": RESOURCE_PREFIX + callback.replica_id,
            "prefect.resource.name": callback.replica_id,
        },
        "related": [],
        "payload": {
            "replica_id": callback.replica_id,
            "status": callback.status,
            "error_message": callback.error_message,
        },
    }


async def write_events(client: Any, callbacks: Sequence[StoredCallback]) -> None:
    """Write ``callbacks`` as events in one request; raises what the client raises
    (``httpx.HTTPStatusError`` for an error answer, ``httpx.HTTPError`` for no answer)."""
    if callbacks:
        await client.request("POST", "/events", json=[to_event(callback) for callback in callbacks])


async def read_first_receipts(client: Any, replica_ids: Iterable[str], now: float) -> FirstReceipts:
    """The earliest recorded receipt of each (replica, status) among ``replica_ids``."""
    wanted = sorted(set(replica_ids))
    first: FirstReceipts = {}
    since, until = _iso(now - LOOKBACK.total_seconds()), _iso(now + _CLOCK_SKEW.total_seconds())
    for start in range(0, len(wanted), _IDS_PER_QUERY):
        chunk = wanted[start : start + _IDS_PER_QUERY]
        body = {
            "filter": {
                "occurred": {"since": since, "until": until},
                "event": {"name": [EVENT_NAME]},
                "resource": {"id": [RESOURCE_PREFIX + replica_id for replica_id in chunk]},
                "order": "ASC",
            },
            "limit": _PAGE_SIZE,
        }
        response = await client.request("POST", "/events/filter", json=body)
        for _ in range(_MAX_PAGES):
            page = response.json()
            _merge_page(first, page.get("events") or [], set(chunk))
            token = _page_token(page.get("next_page"))
            if token is None:
                break
            response = await client.request("GET", "/events/filter/next", params={"page-token": token})
        else:
            logger.warning(
                "More than %d tavus.replica.callback events for %d replicas; read the oldest only.",
                _MAX_PAGES * _PAGE_SIZE,
                len(chunk),
            )
    return first


def _merge_page(first: FirstReceipts, events: list[Any], wanted: set[str]) -> None:
    """Fold one page into ``first``; anything malformed (another writer's event) is skipped."""
    for event in events:
        if not isinstance(event, dict):
            continue
        resource = event.get("resource") or {}
        resource_id = resource.get("prefect.resource.id") if isinstance(resource, dict) else None
        if not isinstance(resource_id, str) or not resource_id.startswith(RESOURCE_PREFIX):
            continue
        replica_id = resource_id[len(RESOURCE_PREFIX) :]
        if replica_id not in wanted:
            continue
        payload = event.get("payload")
        status = payload.get("status") if isinstance(payload, dict) else None
        occurred = _epoch(event.get("occurred"))
        if occurred is None:
            continue
        key = (replica_id, status_key(status if isinstance(status, str) else None))
        if occurred < first.get(key, math.inf):
            first[key] = occurred


def _epoch(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _page_token(next_page: object) -> str | None:
    """The ``page-token`` of a ``next_page`` URL. Only the token is used: the URL's host is
    the server's idea of itself, which behind a proxy is not the address this client uses."""
    if not isinstance(next_page, str) or not next_page:
        return None
    tokens = parse_qs(urlsplit(next_page).query).get("page-token")
    return tokens[0] if tokens else None
