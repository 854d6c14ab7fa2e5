"""What the receiver remembers between a callback and the pass that acts on it.

The HTTP handler must answer at once and must not talk to Prefect, so it only writes
``(replica_id, received_at)`` here and wakes the resumer. Everything is in memory and
bounded: a restart forgets callbacks (the sweep covers them), and a flood of distinct ids
cannot grow the process past ``max_entries``.

Callbacks are kept for ``ttl_seconds`` rather than dropped after the first pass, because a
callback can arrive *before* the run it concerns suspends (the run polled Tavus, the
replica finished, Tavus called back, and only then did the run record its wait and
suspend). ``SuspendedWait.is_news`` decides whether a stored callback still tells a wait
anything, so keeping it is safe.

A repeat of the same callback (same id, same status) keeps the *first* receipt time: a
replayed or retried callback must not become news again after the wait re-checked Tavus,
or a steady replay would wake the same run over and over.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["CallbackStore", "StoredCallback"]

logger = logging.getLogger("prefect_tavus.callbacks")


@dataclass(frozen=True, slots=True)
class StoredCallback:
    """One genuine-looking callback: which replica, when it arrived, and what it said."""

    replica_id: str
    received_at: float
    status: str | None
    error_message: str | None


class CallbackStore:
    """Replica id -> the callback received for it, oldest first, bounded in size and age.

    Not thread-safe: the app and the resumer share one event loop.
    """

    def __init__(self, *, ttl_seconds: float = 3600.0, max_entries: int = 100_000) -> None:
        if ttl_seconds <= 0 or max_entries <= 0:
            raise ValueError("ttl_seconds and max_entries must be positive")
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._entries: OrderedDict[str, StoredCallback] = OrderedDict()
        self._unannounced: OrderedDict[str, None] = OrderedDict()
        self._overflowing = False
        #: Callbacks received in total, duplicates included (for /healthz and tests).
        self.received = 0
        #: Callbacks dropped because the store was full.
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._entries)

    def record(
        self, replica_id: str, status: str | None, error_message: str | None, received_at: float | None = None
    ) -> bool:
        """Store a callback; True if it is new (not a repeat of the stored one).

        A repeat (same id and status) leaves the stored receipt time as it was.
        """
        self.received += 1
        now = time.time() if received_at is None else received_at
        previous = self._entries.get(replica_id)
        if previous is not None and previous.status == status and now - previous.received_at < self.ttl_seconds:
            return False
        if previous is not None:
            del self._entries[replica_id]
        self._entries[replica_id] = StoredCallback(replica_id, now, status, error_message)
        self._unannounced[replica_id] = None
        self._unannounced.move_to_end(replica_id)
        while len(self._entries) > self.max_entries:
            oldest, _ = self._entries.popitem(last=False)
            self._unannounced.pop(oldest, None)
            self.dropped += 1
            if not self._overflowing:
                self._overflowing = True
                logger.warning(
                    "Callback store full (%d replicas): dropping the oldest callbacks; "
                    "the sweep will find the waits they concerned.",
                    self.max_entries,
                )
        if len(self._entries) < self.max_entries * 0.9:
            self._overflowing = False
        return True

    def get(self, replica_id: str, now: float | None = None) -> StoredCallback | None:
        """The stored callback for ``replica_id`` if it has not expired."""
        entry = self._entries.get(replica_id)
        if entry is None:
            return None
        if (time.time() if now is None else now) - entry.received_at >= self.ttl_seconds:
            return None
        return entry

    def prune(self, now: float | None = None) -> int:
        """Forget callbacks older than the TTL; returns how many were removed."""
        cutoff = (time.time() if now is None else now) - self.ttl_seconds
        removed = 0
        # Entries are in receipt order (a changed callback is moved to the end), so stop
        # at the first one still alive.
        while self._entries:
            replica_id, entry = next(iter(self._entries.items()))
            if entry.received_at > cutoff:
                break
            del self._entries[replica_id]
            self._unannounced.pop(replica_id, None)
            removed += 1
        if len(self._entries) < self.max_entries * 0.9:
            self._overflowing = False
        return removed

    def take_unannounced(self) -> list[StoredCallback]:
        """Callbacks stored since the last call (for events), oldest first."""
        taken = [self._entries[replica_id] for replica_id in self._unannounced if replica_id in self._entries]
        self._unannounced.clear()
        return taken

    @property
    def newest(self) -> float | None:
        """When the most recent stored callback arrived, if any."""
        if not self._entries:
            return None
        return next(reversed(self._entries.values())).received_at
