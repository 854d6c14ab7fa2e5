"""The receiver's background half: turn stored callbacks into resumed runs.

The HTTP handler only stores a callback and calls :meth:`Resumer.notify`; everything
that talks to Prefect happens here, after the answer was sent. One *pass* reads every
suspended wait once (``find_suspended_waits``) and resumes each wait for which every
replica it waits on has a stored callback that is news to it (``SuspendedWait.is_news``).
"Every" because a wait resumed with replicas still training would only re-check Tavus
and suspend again: a batch wait costs one resume when its last replica reports, and a
single-replica wait one resume when its replica does.

Why passes and not one resume per request:

* a flood (the same callback 1,000 times, or 1,000 ids) is debounced into one pass, so
  it costs one Prefect query, not 1,000;
* a wait is resumed at most once per suspension: ``(flow_run_id, checked_at)`` pairs
  already resumed are remembered, and the server refuses to resume a run that is not
  suspended any more;
* a callback can arrive before its run suspends, so passes repeat every ``interval``
  seconds for ``recheck_seconds`` after the newest callback;
* a failed pass (Prefect API down or slow) is retried with exponential backoff, logged
  once per outage, and never ends the loop; the sweep flow is the backstop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from prefect_tavus.callbacks.store import CallbackStore, StoredCallback

__all__ = ["Resumer", "ResumerSettings"]

logger = logging.getLogger("prefect_tavus.callbacks")

#: Opens a Prefect client (``prefect.get_client``); a parameter so tests can point it elsewhere.
ClientFactory = Callable[[], AbstractAsyncContextManager[Any]]
#: Announces one stored callback (a Prefect event); must not block or raise.
Announcer = Callable[[StoredCallback], None]

#: How many resumed (flow run, checked_at) pairs are remembered.
_RESUMED_MEMORY = 10_000


@dataclass(frozen=True)
class ResumerSettings:
    """Timing of the resumer.

    Attributes:
        debounce_seconds: after a callback wakes the resumer, wait this long for more
            before the pass, so a burst becomes one pass.
        interval_seconds: how often to repeat passes while callbacks are recent.
        recheck_seconds: keep repeating passes this long after the newest callback (a run
            that was about to suspend when its callback came in).
        max_backoff_seconds: longest pause between retries while the Prefect API fails.
        events_per_second: sustained rate of ``tavus.replica.callback`` events (bursts up
            to ten times that); beyond it events are dropped, resumes are not.
    """

    debounce_seconds: float = 0.3
    interval_seconds: float = 5.0
    recheck_seconds: float = 300.0
    max_backoff_seconds: float = 60.0
    events_per_second: float = 10.0


class Resumer:
    """Resumes suspended waits that stored callbacks make news; see the module docstring."""

    def __init__(
        self,
        store: CallbackStore,
        client_factory: ClientFactory,
        settings: ResumerSettings | None = None,
        announce: Announcer | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or ResumerSettings()
        self._client_factory = client_factory
        self._announce = announce
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._resumed: OrderedDict[tuple[UUID, float | None], None] = OrderedDict()
        self._failures = 0
        self._event_tokens = self._event_capacity
        self._event_refilled = time.monotonic()
        self._events_dropping = False
        #: Resumes the server accepted, passes completed and failed (for logs and /healthz).
        self.resumes = 0
        self.passes = 0
        self.failed_passes = 0

    @property
    def healthy(self) -> bool | None:
        """Whether the last pass reached Prefect (None before the first pass)."""
        if self._failures:
            return False
        return True if self.passes else None

    def notify(self) -> None:
        """A new callback was stored: run a pass soon. Cheap; called by the HTTP handler."""
        self._wake.set()

    def stop(self) -> None:
        """Ask :meth:`run_forever` to return after the pass under way, if any."""
        self._stopping.set()

    async def _wait_for(self, event: asyncio.Event, timeout: float | None) -> None:
        """Wait for ``event`` (or stop) up to ``timeout`` seconds (None: no limit)."""
        waiters = {asyncio.ensure_future(event.wait()), asyncio.ensure_future(self._stopping.wait())}
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def run_forever(self) -> None:
        """Run passes until :meth:`stop` (or cancellation); no other exception escapes.

        Stopping is cooperative because cancelling a pass in the middle of a Prefect
        client call was seen to leave the cancelled task's awaiters hanging; the app's
        shutdown stops, then waits a bounded time, then cancels as a last resort.
        """
        not_before = 0.0
        while not self._stopping.is_set():
            await self._wait_for(self._wake, self._idle_timeout())
            if self._wake.is_set():
                await self._wait_for(self._stopping, self.settings.debounce_seconds)
            # During an outage, new callbacks wait for the backoff like everything else.
            delay = not_before - time.monotonic()
            if delay > 0:
                await self._wait_for(self._stopping, delay)
            if self._stopping.is_set():
                return
            self._wake.clear()
            try:
                await self.run_pass()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the loop must outlive any failure
                self._failures += 1
                self.failed_passes += 1
                backoff = min(self.settings.interval_seconds * 2 ** (self._failures - 1), self.settings.max_backoff_seconds)
                not_before = time.monotonic() + backoff
                if self._failures == 1:
                    logger.warning(
                        "Could not resume waits through the Prefect API (%s: %s); retrying with backoff "
                        "(up to every %g s); the sweep flow covers waits meanwhile.",
                        type(exc).__name__,
                        str(exc)[:200],
                        self.settings.max_backoff_seconds,
                    )
            else:
                if self._failures:
                    logger.warning("Prefect API reachable again after %d failed passes.", self._failures)
                self._failures = 0
                not_before = 0.0

    def _idle_timeout(self) -> float | None:
        """Seconds until the next unprompted pass, or None to sleep until a callback."""
        if self._failures:
            return self.settings.interval_seconds  # backoff is applied after waking
        newest = self.store.newest
        if newest is not None and time.time() - newest < self.settings.recheck_seconds:
            return self.settings.interval_seconds
        return None

    async def run_pass(self) -> int:
        """One pass: announce new callbacks, then resume every wait they complete.

        Returns how many runs were resumed. Raises what the Prefect client raises; waits
        resumed before the failure stay remembered, the rest are retried next pass.
        """
        # Imported here so that importing the app (and ``prefect-tavus --help``) stays light.
        from prefect_tavus.flows._suspension import find_suspended_waits, resume_wait

        now = time.time()
        self.store.prune(now)
        self._announce_new()
        if not len(self.store):
            self.passes += 1
            return 0
        resumed = 0
        async with self._client_factory() as client:
            waits = await find_suspended_waits(client)
            for wait in waits:
                key = (wait.flow_run_id, wait.checked_at)
                if key in self._resumed or not wait.replica_ids:
                    continue
                if not all(self._is_news(wait, replica_id, now) for replica_id in wait.replica_ids):
                    continue
                accepted = await resume_wait(client, wait.flow_run_id)
                self._remember(key)
                if accepted:
                    resumed += 1
                    self.resumes += 1
                    logger.info(
                        "Resumed flow run %s (%s): callbacks arrived for %s.",
                        wait.flow_run_name,
                        wait.flow_run_id,
                        ", ".join(sorted(wait.replica_ids)[:5]) + (" ..." if len(wait.replica_ids) > 5 else ""),
                    )
        self.passes += 1
        return resumed

    def _is_news(self, wait: Any, replica_id: str, now: float) -> bool:
        stored = self.store.get(replica_id, now)
        return stored is not None and bool(wait.is_news(replica_id, stored.received_at))

    def _remember(self, key: tuple[UUID, float | None]) -> None:
        self._resumed[key] = None
        while len(self._resumed) > _RESUMED_MEMORY:
            self._resumed.popitem(last=False)

    @property
    def _event_capacity(self) -> float:
        return max(self.settings.events_per_second * 10, 1.0)

    def _announce_new(self) -> None:
        """Emit one event per new callback, within the event budget; never raises."""
        fresh = self.store.take_unannounced()
        if not fresh:
            return
        shown = ", ".join(f"{callback.replica_id} ({callback.status or '?'})" for callback in fresh[:5])
        logger.info("Callbacks for %d replica(s): %s%s", len(fresh), shown, " ..." if len(fresh) > 5 else "")
        if self._announce is None:
            return
        now = time.monotonic()
        self._event_tokens = min(
            self._event_capacity, self._event_tokens + (now - self._event_refilled) * self.settings.events_per_second
        )
        self._event_refilled = now
        for callback in fresh:
            if self._event_tokens < 1:
                if not self._events_dropping:
                    self._events_dropping = True
                    logger.warning(
                        "More callbacks than %.0f events/s: not emitting tavus.replica.callback events "
                        "for some of them (their waits are still resumed).",
                        self.settings.events_per_second,
                    )
                return
            self._event_tokens -= 1
            try:
                self._announce(callback)
            except Exception as exc:  # noqa: BLE001 - an event is a nicety, resuming is the job
                logger.warning("Could not emit a tavus.replica.callback event: %s", type(exc).__name__)
        self._events_dropping = False
