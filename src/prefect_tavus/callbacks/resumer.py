"""The receiver's background half: record callbacks in Prefect, and resume the waits they
complete.

The HTTP handler only stores a callback and calls :meth:`Resumer.notify`; everything
that talks to Prefect happens here, after the answer was sent. One *pass*:

1. writes the callbacks not yet recorded as ``tavus.replica.callback`` and
   ``tavus.video.callback`` events, one request for up to 200 of them (:mod:`.events`);
   if Prefect does not take them they stay pending and are sent again, with backoff;
2. reads every suspended wait (``find_suspended_waits``) and, for the replicas and the
   videos they wait on, the recorded callbacks *from Prefect*, merged with this
   process's own callbacks that the server may not serve yet (its event persister
   flushes every few seconds);
3. resumes each wait for which every replica (or, for a video wait, every video) it
   waits on has a callback that is news to it, through ``resume_if_still_waiting``
   (under the resume lock: read, compare ``checked_at``, resume).

Kinds never mix: a wait of kind ``replica`` counts only training callbacks, one of kind
``video`` only video callbacks, matched on (kind, id), so a callback never wakes a wait
of the other kind even when the ids look alike. Everything below holds for both kinds;
it says "replica" for short.

Nothing that decides a resume lives only in this process: callbacks split over two
receivers, or over a restart, or hours apart, are all in Prefect, so whichever receiver
makes a pass after the last one resumes the wait, and two receivers agree without
talking to each other. A callback is news to a wait when the *earliest* receipt of that
replica's callback with that status (compared without regard to case), by any receiver,
came after the wait's ``checked_at``: a replay or a case-varied repeat never makes it news
again. "Every replica" because a wait resumed with replicas still training would only
re-check Tavus and suspend again: a batch wait costs one resume, when its last replica
reports. (One window stays open: a replay reaching another receiver within the server's
flush interval of the original's receipt, around a re-check, can count as news once; the
resumed wait re-checks Tavus and suspends again.) ``(flow_run_id, checked_at)`` pairs
already resumed are remembered, but only to
save requests: the re-read in ``resume_if_still_waiting`` and the server (which resumes
a suspended run once) are what make a resume happen once.

When passes run: at startup (a new or restarted receiver picks up what others recorded),
then after callbacks, debounced (a flood is one pass), and every ``interval`` for
``recheck_seconds`` after the newest callback (a callback may arrive before its run
suspends, or before another receiver's event is readable). A failed pass (Prefect API
down or slow) is retried with exponential backoff, logged once per outage, and never
ends the loop; the sweep flow is the backstop.

What a crash can lose: on SIGTERM the app makes one last attempt to write what is
pending (:meth:`Resumer.flush`), so nothing accepted is lost while Prefect is reachable.
A ``kill -9`` loses the callbacks received but not yet written: normally those of the
last debounce and pass (well under a second), during a Prefect outage all of them since
it began. Tavus does not retry; the sweep finds those waits.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx

from prefect_tavus.callbacks.events import WRITE_BATCH, read_first_receipts, write_events
from prefect_tavus.callbacks.store import CallbackStore, StoredCallback
from prefect_tavus.core.kinds import Kind, kind_of
from prefect_tavus.core.text import plural, printable

__all__ = ["Resumer", "ResumerSettings"]

logger = logging.getLogger("prefect_tavus.callbacks")

#: Opens a Prefect client (``prefect.get_client``); a parameter so tests can point it elsewhere.
ClientFactory = Callable[[], AbstractAsyncContextManager[Any]]

#: How many resumed (flow run, checked_at) pairs are remembered.
_RESUMED_MEMORY = 10_000


@dataclass(frozen=True)
class ResumerSettings:
    """Timing of the resumer.

    Attributes:
        debounce_seconds: after a callback wakes the resumer, wait this long for more
            before the pass, so a burst becomes one pass.
        interval_seconds: how often to repeat passes while callbacks are recent, and the
            first retry delay when the Prefect API fails.
        recheck_seconds: keep repeating passes this long after the newest callback (a run
            that was about to suspend when its callback came in, or another receiver's
            event the server did not serve yet).
        max_backoff_seconds: longest pause between retries while the Prefect API fails.
    """

    debounce_seconds: float = 0.3
    interval_seconds: float = 5.0
    recheck_seconds: float = 300.0
    max_backoff_seconds: float = 60.0


class Resumer:
    """Records callbacks in Prefect and resumes the waits they complete; see the module docstring."""

    def __init__(
        self,
        store: CallbackStore,
        client_factory: ClientFactory,
        settings: ResumerSettings | None = None,
        resume_lock: Any = None,
    ) -> None:
        """``resume_lock``: how resumes are serialised with other receivers and sweeps
        (``prefect_tavus.suspension.resume_lock``, a Prefect global concurrency limit, when None);
        a test against a stand-in for Prefect passes its own."""
        self.store = store
        self.settings = settings or ResumerSettings()
        self._client_factory = client_factory
        self._resume_lock = resume_lock
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._resumed: OrderedDict[tuple[UUID, float | None], None] = OrderedDict()
        self._unlogged: list[StoredCallback] = []
        self._unlogged_count = 0
        self._failures = 0
        self._write_failures = 0
        self._write_not_before = 0.0
        #: Resumes the server accepted, passes completed and failed, events written.
        self.resumes = 0
        self.passes = 0
        self.failed_passes = 0
        self.events_written = 0
        self.write_requests = 0

    @property
    def healthy(self) -> bool | None:
        """Whether the last pass reached Prefect (None before the first pass)."""
        if self._failures or self._write_failures:
            return False
        return True if self.passes else None

    def received(self, callback: StoredCallback) -> None:
        """A new callback was stored: log it at the next pass and run one soon. Cheap;
        called by the HTTP handler."""
        self._unlogged_count += 1
        if len(self._unlogged) < 5:
            self._unlogged.append(callback)
        self._wake.set()

    def notify(self) -> None:
        """Run a pass soon."""
        self._wake.set()

    def stop(self) -> None:
        """Ask :meth:`run_forever` to return after the pass under way, if any."""
        self._stopping.set()

    async def _wait_for(self, event: asyncio.Event, timeout: float | None) -> None:
        """Wait for ``event`` (or stop) up to ``timeout`` seconds (None: no limit)."""
        waiters = {
            asyncio.ensure_future(event.wait()),
            asyncio.ensure_future(self._stopping.wait()),
        }
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def run_forever(self) -> None:
        """Run passes until :meth:`stop` (or cancellation); no other exception escapes.

        The first pass runs at once. Stopping is cooperative because cancelling a pass in
        the middle of a Prefect client call was seen to leave the cancelled task's awaiters
        hanging; the app's shutdown stops, then waits a bounded time, then cancels as a
        last resort, then calls :meth:`flush`.
        """
        not_before = 0.0
        first = True
        while not self._stopping.is_set():
            if not first:
                await self._wait_for(self._wake, self._idle_timeout())
                if self._wake.is_set():
                    await self._wait_for(self._stopping, self.settings.debounce_seconds)
            first = False
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
            except Exception as exc:
                self._failures += 1
                self.failed_passes += 1
                not_before = time.monotonic() + self._backoff(self._failures)
                if self._failures == 1:
                    logger.warning(
                        "Could not resume waits through the Prefect API (%s: %s); retrying with backoff "
                        "(up to every %g s); the sweep flow covers waits meanwhile.",
                        type(exc).__name__,
                        printable(exc, 200),
                        self.settings.max_backoff_seconds,
                    )
            else:
                if self._failures:
                    logger.warning(
                        "Prefect API reachable again after %s.",
                        plural(self._failures, "failed pass", "failed passes"),
                    )
                self._failures = 0
                not_before = 0.0

    def _backoff(self, failures: int) -> float:
        return float(
            min(
                self.settings.interval_seconds * 2 ** (failures - 1),
                self.settings.max_backoff_seconds,
            )
        )

    def _idle_timeout(self) -> float | None:
        """Seconds until the next unprompted pass, or None to sleep until a callback."""
        if self._failures:
            return self.settings.interval_seconds  # backoff is applied after waking
        timeouts = []
        if self.store.pending_count:
            timeouts.append(max(0.0, self._write_not_before - time.monotonic()))
        newest = self.store.newest
        if newest is not None and time.time() - newest < self.settings.recheck_seconds:
            timeouts.append(self.settings.interval_seconds)
        return min(timeouts) if timeouts else None

    async def run_pass(self) -> int:
        """One pass: write pending callbacks, then resume every wait they complete.

        Returns how many runs were resumed. Raises what the Prefect client raises when it
        cannot read waits or callbacks; a failed write alone does not fail the pass (the
        local callbacks still count, and the write is retried with backoff).
        """
        # Imported here so that importing the app (and ``prefect-tavus --help``) stays light.
        from prefect_tavus.suspension import (
            find_suspended_waits,
            resume_if_still_waiting,
            resume_lock,
        )

        now = time.time()
        self.store.prune(now)
        self._log_received()
        resumed = 0
        async with self._client_factory() as client:
            await self._write_pending(client)
            waits = [
                wait
                for wait in await find_suspended_waits(client)
                if wait.ids and (wait.flow_run_id, wait.checked_at) not in self._resumed
            ]
            if waits:
                wanted: dict[Kind, set[str]] = {}
                for wait in waits:
                    wanted.setdefault(wait.kind, set()).update(wait.ids)
                latest = await self._latest_first_receipts(client, wanted, now)
                for wait in waits:
                    if not all(
                        (wait.kind, i) in latest
                        and wait.is_news(i, latest[(wait.kind, i)], wait.kind)
                        for i in wait.ids
                    ):
                        continue
                    accepted = await resume_if_still_waiting(
                        client, wait, lock=self._resume_lock or resume_lock
                    )
                    self._remember((wait.flow_run_id, wait.checked_at))
                    if accepted:
                        resumed += 1
                        self.resumes += 1
                        shown = ", ".join(sorted(wait.ids)[:5]) + (
                            " ..." if len(wait.ids) > 5 else ""
                        )
                        logger.info(
                            "Resumed flow run %s (%s): callbacks arrived for %s %s.",
                            printable(wait.flow_run_name, 100),
                            wait.flow_run_id,
                            kind_of(wait.kind).plural_noun,
                            printable(shown, 300),
                        )
        self.passes += 1
        return resumed

    async def _latest_first_receipts(
        self, client: Any, wanted: dict[Kind, set[str]], now: float
    ) -> dict[tuple[Kind, str], float]:
        """Per (kind, id), the latest of its callbacks' earliest receipts (one per status):
        the wait's ``checked_at`` must be before it for some status to be news."""
        first: dict[tuple[Kind, str, str], float] = {}
        for kind, ids in wanted.items():
            for (resource_id, status), received_at in (
                await read_first_receipts(client, ids, now, kind=kind)
            ).items():
                first[(kind, resource_id, status)] = received_at
        for callback in self.store.callbacks():
            if callback.resource_id in wanted.get(callback.kind, ()):
                key = callback.key
                first[key] = min(first.get(key, math.inf), callback.received_at)
        latest: dict[tuple[Kind, str], float] = {}
        for (kind, resource_id, _), received_at in first.items():
            latest[(kind, resource_id)] = max(
                latest.get((kind, resource_id), -math.inf), received_at
            )
        return latest

    async def _write_pending(self, client: Any, *, force: bool = False) -> None:
        """Write pending callbacks as events, in batches; never raises but cancellation.

        Not before the write backoff has passed, unless ``force``. A refusal that
        retrying cannot fix (a 4xx other than 408/429) is logged and the batch kept in
        memory only, so that one bad batch never blocks the ones after it.
        """
        if not self.store.pending_count or (
            not force and time.monotonic() < self._write_not_before
        ):
            return
        while batch := self.store.pending(WRITE_BATCH):
            try:
                self.write_requests += 1
                await write_events(client, batch)
            except httpx.HTTPStatusError as exc:
                status = exc.response.status_code
                if 400 <= status < 500 and status not in (408, 429):
                    logger.error(
                        "The Prefect API refused %s (HTTP %d: %s); kept in memory only.",
                        plural(len(batch), "callback event"),
                        status,
                        printable(exc.response.text, 200),
                    )
                    self.store.mark_written(batch)
                    continue
                self._write_failed(exc)
                return
            except httpx.HTTPError as exc:
                self._write_failed(exc)
                return
            self.store.mark_written(batch)
            self.events_written += len(batch)
        if self._write_failures:
            logger.warning(
                "Callbacks written to Prefect again after %s.",
                plural(self._write_failures, "failed attempt"),
            )
        self._write_failures = 0
        self._write_not_before = 0.0

    def _write_failed(self, exc: Exception) -> None:
        self._write_failures += 1
        self._write_not_before = time.monotonic() + self._backoff(self._write_failures)
        if self._write_failures == 1:
            logger.warning(
                "Could not write %s to the Prefect API (%s: %s); kept in memory and retried with backoff.",
                plural(self.store.pending_count, "callback"),
                type(exc).__name__,
                printable(exc, 200),
            )

    async def flush(self) -> int:
        """One last attempt to write what is pending (graceful shutdown); returns how many
        callbacks are still unwritten. Never raises but cancellation."""
        if self.store.pending_count:
            try:
                async with self._client_factory() as client:
                    await self._write_pending(client, force=True)
            except Exception as exc:
                logger.warning(
                    "Could not open a Prefect client to write pending callbacks: %s",
                    type(exc).__name__,
                )
        left = self.store.pending_count
        if left:
            logger.warning(
                "Stopping with %s not written to Prefect; the sweep will find the waits they concerned.",
                plural(left, "callback"),
            )
        return left

    def _log_received(self) -> None:
        fresh, count = self._unlogged, self._unlogged_count
        self._unlogged, self._unlogged_count = [], 0
        if not fresh:
            return
        shown = ", ".join(
            f"{callback.kind} {callback.resource_id} ({callback.status or '?'})"
            for callback in fresh
        )
        logger.info(
            "New callbacks: %s: %s%s",
            plural(count, "callback"),
            printable(shown, 400),
            " ..." if count > len(fresh) else "",
        )

    def _remember(self, key: tuple[UUID, float | None]) -> None:
        self._resumed[key] = None
        while len(self._resumed) > _RESUMED_MEMORY:
            self._resumed.popitem(last=False)
