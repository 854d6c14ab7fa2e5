"""What one receiver process holds between a callback and Prefect's record of it.

The durable record of a callback is a Prefect event (:mod:`.events`), shared by every
receiver, restart and sweep. This store only bridges the two gaps before that record is
readable, and is therefore small and bounded:

* *pending*: received, not yet accepted by the Prefect API (written at the next pass;
  during an outage retried with backoff, and tried once more on SIGTERM). These are the
  only callbacks a ``kill -9`` can lose.
* *written*: accepted, but the server's event persister makes an event readable only
  after its flush interval (seconds), so written callbacks are kept ``hold_seconds`` more
  and merged with what is read back.

One entry per (kind, id, status compared without regard to case): a replica's and a
video's callbacks never share an entry, even for ids that look alike. A repeat keeps the
*first* receipt time and is neither stored nor written again, because what decides
whether a callback is news to a wait is its earliest receipt (a replay must never make
it news again). Each entry's event id is derived from it and a random value drawn once
per process, so it is the same every time this process sends the entry (a batch re-sent
after a lost answer is not recorded twice: the server ignores a known id) and differs
from every other receiver's; deriving it rather than storing it saves ~100 bytes each.
A written entry drops its reason (a replica's error message, a video's status details:
only the event needed it).

Bound: at most ``max_entries``; beyond it written entries (durable already) go first,
then the oldest pending ones, with a warning (the sweep covers what they concerned).
Memory, measured with tracemalloc over 10,000 callbacks parsed from JSON bodies
(``tests/callbacks/test_store.py``), ids of 11 characters: about 260 bytes per pending
``ready`` training callback, 350 per pending ``ready`` video callback (the whole video
object, of which its 45-character ``status_details`` is kept as the reason), 1.3 KiB per
pending error callback of either kind with a 1,000-character reason (the cap), and 290
bytes per written one; so the default bound (100,000) is at most about 130 MiB, and 35
MiB for ordinary callbacks. (Before videos were taken, the same measure gave 295 bytes,
1.34 KiB and 325 bytes: a documented status is now one shared string, which pays for the
callback's kind in its key.)
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from uuid import UUID

from prefect_tavus.callbacks.payload import ResourceIds
from prefect_tavus.core.kinds import Kind

__all__ = ["CallbackStore", "StoredCallback", "status_key"]

logger = logging.getLogger("prefect_tavus.callbacks")


def status_key(status: str | None) -> str:
    """A status as compared: without regard to case (``ready`` and ``Ready`` are one)."""
    if not status:
        return ""
    folded = status.casefold()
    return status if folded == status else folded


#: Drawn once per process: makes event ids differ between receivers and restarts.
_PROCESS_SALT = uuid.uuid4()


@dataclass(slots=True, eq=False)
class StoredCallback(ResourceIds):
    """One genuine-looking callback: which resource (``kind``: a replica or a video, and
    its id), what it said (its status and the reason given, if any), and when it arrived.
    ``written_at`` is set once Prefect took it."""

    resource_id: str
    status: str | None
    reason: str | None
    received_at: float
    kind: Kind
    written_at: float | None = None

    @property
    def key(self) -> tuple[Kind, str, str]:
        """What tells it from every other callback: (kind, id, status key)."""
        return (self.kind, self.resource_id, status_key(self.status))

    @property
    def event_id(self) -> UUID:
        """The id of the Prefect event that records this callback (stable in this process)."""
        kind, resource_id, status = self.key
        return uuid.uuid5(_PROCESS_SALT, f"{kind}\n{resource_id}\n{status}\n{self.received_at!r}")


_Key = tuple[Kind, str, str]


class CallbackStore:
    """Callbacks not yet readable from Prefect, keyed by (kind, id, status key).

    Not thread-safe: the app and the resumer share one event loop.
    """

    def __init__(self, *, hold_seconds: float = 600.0, max_entries: int = 100_000) -> None:
        if hold_seconds <= 0 or max_entries <= 0:
            raise ValueError("hold_seconds and max_entries must be positive")
        self.hold_seconds = hold_seconds
        self.max_entries = max_entries
        # Insertion-ordered: pending by receipt, written by the time Prefect took them.
        self._pending: dict[_Key, StoredCallback] = {}
        self._written: dict[_Key, StoredCallback] = {}
        self._overflowing = False
        self._newest: float | None = None
        #: Callbacks received in total, repeats included (for tests and logs).
        self.received = 0
        #: Pending callbacks dropped, unwritten, because the store was full.
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._pending) + len(self._written)

    @property
    def pending_count(self) -> int:
        """How many callbacks wait to be written to Prefect."""
        return len(self._pending)

    def record(
        self,
        resource_id: str,
        status: str | None,
        reason: str | None,
        received_at: float | None = None,
        *,
        kind: Kind,
    ) -> StoredCallback | None:
        """Store a callback about ``resource_id``, a resource of ``kind`` (``"replica"``,
        ``"video"``); returns it, or None for a repeat (same kind, id and status without
        regard to case), which leaves the first receipt as it was."""
        self.received += 1
        key = (kind, resource_id, status_key(status))
        if key in self._pending or key in self._written:
            return None
        now = time.time() if received_at is None else received_at
        entry = StoredCallback(resource_id, status, reason, now, kind)
        self._pending[key] = entry
        self._newest = now if self._newest is None else max(self._newest, now)
        self._enforce_bound()
        return entry

    def _enforce_bound(self) -> None:
        while len(self) > self.max_entries:
            if self._written:
                del self._written[next(iter(self._written))]
                continue
            del self._pending[next(iter(self._pending))]
            self.dropped += 1
            if not self._overflowing:
                self._overflowing = True
                logger.warning(
                    "Callback store full (%d callbacks not yet written to Prefect): dropping the oldest; "
                    "the sweep will find the waits they concerned.",
                    self.max_entries,
                )
        if len(self) < self.max_entries * 0.9:
            self._overflowing = False

    def get(self, resource_id: str, status: str | None, *, kind: Kind) -> StoredCallback | None:
        """The held callback of ``kind`` for ``resource_id`` with ``status`` (any case), if any."""
        key = (kind, resource_id, status_key(status))
        return self._pending.get(key) or self._written.get(key)

    def pending(self, limit: int | None = None) -> list[StoredCallback]:
        """Callbacks not yet written to Prefect, oldest first (at most ``limit``)."""
        entries = iter(self._pending.values())
        if limit is None:
            return list(entries)
        return [entry for _, entry in zip(range(limit), entries, strict=False)]

    def mark_written(self, entries: Iterable[StoredCallback], now: float | None = None) -> None:
        """Prefect accepted ``entries``: keep them ``hold_seconds`` more, then forget them."""
        written_at = time.time() if now is None else now
        for entry in entries:
            key = entry.key
            if self._pending.get(key) is entry:
                del self._pending[key]
                entry.written_at = written_at
                entry.reason = None
                self._written[key] = entry

    def prune(self, now: float | None = None) -> int:
        """Forget written callbacks held longer than ``hold_seconds``; returns how many."""
        cutoff = (time.time() if now is None else now) - self.hold_seconds
        removed = 0
        while self._written:
            key, entry = next(iter(self._written.items()))
            if entry.written_at is not None and entry.written_at > cutoff:
                break
            del self._written[key]
            removed += 1
        if len(self) < self.max_entries * 0.9:
            self._overflowing = False
        return removed

    def callbacks(self) -> Iterator[StoredCallback]:
        """Every held callback, written or not."""
        yield from self._written.values()
        yield from self._pending.values()

    @property
    def newest(self) -> float | None:
        """When the most recent new (not repeated) callback arrived, if any."""
        return self._newest
