"""Noticing, within a second, that the user cancelled the flow run.

A worker or runner cancels a deployment's run by stopping its process, but a run started
from a script or a notebook has no one to do that: without this, it would sleep out its
poll interval (up to minutes) and poll on. The wait listens for its own flow run's
``prefect.flow-run.Cancelling`` event (falling back to reading the run's state every
second where events can't be subscribed to) and wakes up from any sleep when it comes.
Cancelling only stops the waiting: polling is read-only, and the replica is left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.events.clients import get_events_subscriber
from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

__all__ = ["CancellationWatch", "WaitCancelled"]


class WaitCancelled(Exception):
    """The flow run was cancelled while waiting."""


class CancellationWatch:
    """Watches one flow run for cancellation; ``sleep()`` wakes early when it comes."""

    def __init__(self, flow_run_id: UUID | None, *, fallback_poll_seconds: float = 1.0) -> None:
        self.flow_run_id = flow_run_id
        self.fallback_poll_seconds = fallback_poll_seconds
        self.cancelled = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> CancellationWatch:
        if self.flow_run_id is not None:
            self._task = asyncio.create_task(self._watch(), name="tavus-wait-cancellation-watch")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, or raise :class:`WaitCancelled` as soon as the run is cancelled."""
        if self.cancelled.is_set():
            raise WaitCancelled
        if seconds <= 0:
            return
        try:
            await asyncio.wait_for(self.cancelled.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            return
        raise WaitCancelled

    async def _watch(self) -> None:
        resource = f"prefect.flow-run.{self.flow_run_id}"
        event_filter = EventFilter(
            event=EventNameFilter(
                name=["prefect.flow-run.Cancelling", "prefect.flow-run.Cancelled"]
            ),
            resource=EventResourceFilter(id=[resource]),
        )
        try:
            async with get_events_subscriber(filter=event_filter) as subscriber:
                async for _event in subscriber:
                    self.cancelled.set()
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            await self._poll_state()

    async def _poll_state(self) -> None:
        async with get_client() as client:
            while True:
                with contextlib.suppress(Exception):
                    flow_run = await client.read_flow_run(self.flow_run_id)  # type: ignore[arg-type]  # only started with a run id
                    if flow_run.state is not None and (
                        flow_run.state.is_cancelling() or flow_run.state.is_cancelled()
                    ):
                        self.cancelled.set()
                        return
                await asyncio.sleep(self.fallback_poll_seconds)
