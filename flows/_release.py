"""Releasing the worker during a wait: whether this run may, and how it suspends.

With ``release_worker=True`` a wait checks Tavus once; if replicas are still training,
it writes what it waits for on its own flow run (``src/prefect_tavus/suspension.py``) and suspends
with Prefect's ``suspend_flow_run``: the process exits, the worker is free, and nothing
polls while Tavus trains. The callback receiver or the sweep resumes the run, and a
worker runs it again from the top, where it checks again.

Prefect can do this only for a top-level deployment run: resuming reschedules the run,
which needs a deployment for a worker to start it from, and the server refuses to
suspend a subflow. Anywhere else the wait logs one WARNING saying why and polls as
before, so ``release_worker=True`` never breaks a flow that was working.

No Prefect pause timeout is set: Prefect enforces one only when something tries to
resume the run, and then replaces the wait's own ``ReplicaWaitTimeoutError`` (which
states the last status seen) with a generic "never resumed" failure. The recorded
deadline does the job instead: the sweep resumes runs whose deadline passed, and the
resumed wait raises the timeout itself.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from logging import Logger, LoggerAdapter
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client as get_prefect_client
from prefect.context import FlowRunContext
from prefect.exceptions import Pause
from prefect.flow_runs import asuspend_flow_run

from prefect_tavus.core.kinds import ResourceKind
from prefect_tavus.core.text import printable
from prefect_tavus.suspension import SuspendedWait, record_waiting

__all__ = ["WorkerRelease", "already_reported", "release_blocker"]


def release_blocker() -> str | None:
    """Why this flow run cannot release its worker, or None when it can."""
    context = FlowRunContext.get()
    flow_run = context.flow_run if context is not None else None
    if flow_run is None:
        return "it is not running inside a Prefect flow run"
    if flow_run.parent_task_run_id is not None:
        return "it runs as a subflow, and Prefect suspends only top-level flow runs"
    if flow_run.deployment_id is None:
        return (
            "it is not a deployment run, and Prefect can resume only deployment runs "
            "(a worker starts them again)"
        )
    return None


def already_reported(flow_run: Any, ids: Sequence[str], kind: ResourceKind) -> frozenset[str]:
    """Replicas (or videos) that an earlier life of this run saw finish and reported
    (events, logs).

    A suspending wait records the ids still pending; every other id it waits for had
    finished by then and was reported in that life. A run never suspended has no record.
    """
    record = SuspendedWait.from_flow_run(flow_run) if flow_run is not None else None
    if record is None or record.kind != kind.kind:
        return frozenset()
    return frozenset(resource_id for resource_id in ids if resource_id not in record.ids)


class WorkerRelease:
    """Suspends one wait's flow run, trying again at every check until Prefect takes it.

    Releasing needs the Prefect API twice: to record what the run waits for, then to set
    the run Suspended. Either can fail while the API is down or answers 5xx. A failure is
    never the end of the wait: the wait polls Tavus on, and the next successful check
    tries again, so the worker is released as soon as the API is back. One WARNING per
    spell of failures, one INFO when it finally releases.
    """

    def __init__(
        self, flow_run_id: UUID, logger: Logger | LoggerAdapter, kind: ResourceKind
    ) -> None:
        self.flow_run_id = flow_run_id
        self.logger = logger
        self.kind = kind
        self._failing_since: float | None = None
        self._failures = 0

    @classmethod
    def for_this_run(
        cls,
        wanted: bool,
        flow_run_id: UUID | None,
        logger: Logger | LoggerAdapter,
        kind: ResourceKind,
    ) -> WorkerRelease | None:
        """A releaser when ``wanted`` and possible; else None, with one WARNING if wanted."""
        if not wanted:
            return None
        blocker = release_blocker()
        if blocker is None and flow_run_id is not None:
            return cls(flow_run_id, logger, kind)
        logger.warning(
            "release_worker=True, but this wait cannot release its worker: %s. It polls "
            "instead, holding its worker until the %s finish.",
            blocker or "its flow run is unknown",
            kind.plural_noun,
        )
        return None

    async def suspend(self, pending: Sequence[str], deadline: float, checked_at: float) -> None:
        """Record what the run waits for, then suspend it: on success this never returns
        (Prefect ends the process with its ``Pause`` signal). Returns when Prefect could
        not be reached or refused; the caller polls on and calls again at its next check.
        """
        try:
            async with get_prefect_client() as prefect:
                await record_waiting(
                    prefect,
                    self.flow_run_id,
                    list(pending),
                    deadline,
                    checked_at,
                    kind=self.kind.kind,
                )
        except Exception as exc:
            self._failed("record the wait on its flow run", exc)
            return
        count = len(pending)
        self.logger.info(
            "Releasing the worker: %s still %s. The run is suspended until "
            "Tavus's callback or the resume-waits sweep resumes it (at the latest "
            "when its deadline passes, in %.0f min).",
            self.kind.count(count),
            self.kind.doing,
            max(0.0, deadline - time.time()) / 60,
        )
        try:
            # A fresh key per suspension: Prefect remembers fired keys across resumes, and
            # its default key is a counter that restarts with every life of the run.
            await asuspend_flow_run(key=f"tavus-wait-{uuid.uuid4().hex}", timeout=None)
        except RuntimeError as exc:  # the server refused (e.g. the run is being cancelled)
            self._failed("suspend the run", exc)
        except Exception as exc:
            # The server may have set the run Suspended and the answer been lost. Then
            # this life must end as a suspended one would, or a resume would start a
            # second life beside it.
            state = await self._state_on_server()
            if state is not None and state.is_paused():
                self.logger.info(
                    "Prefect suspended the run, though its answer was lost; releasing the worker."
                )
                raise Pause(state=state) from None
            self._failed("suspend the run", exc)

    async def _state_on_server(self) -> Any:
        try:
            async with get_prefect_client() as prefect:
                return (await prefect.read_flow_run(self.flow_run_id)).state
        except Exception:
            return None

    def _failed(self, step: str, exc: BaseException) -> None:
        self._failures += 1
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            self.logger.warning(
                "Could not release the worker: Prefect did not %s (%s). Polling meanwhile; "
                "trying again at every check until the Prefect API takes it.",
                step,
                printable(f"{type(exc).__name__}: {exc}", 300),
            )
