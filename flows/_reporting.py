"""What a wait tells people in its logs (events and artifacts: ``flows/_prefect_ui.py``).

The rules for hours-long waits: INFO when something changes, a heartbeat when nothing
has for a while, WARNING once when an outage starts and INFO once when it ends, never a
line per poll. Large batches are summarised instead of logged replica by replica.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable

from prefect.logging import get_run_logger

from prefect_tavus.core import PrefectAPITransientError, TavusError
from prefect_tavus.core.kinds import ResourceKind, TavusResource
from prefect_tavus.core.text import format_duration as _fmt_seconds
from prefect_tavus.core.text import plural, printable
from prefect_tavus.core.waiting import Outcome, SettledOutcome, WaitResult

__all__ = ["WaitReporter"]

#: Up to this many replicas (or videos), each change is logged on its own line.
PER_REPLICA_LOG_LIMIT = 10


class WaitReporter:
    """The log lines of one wait."""

    def __init__(self, ids: list[str], kind: ResourceKind, *, heartbeat_seconds: float) -> None:
        self.logger = get_run_logger()
        self.kind = kind
        self.ids = ids
        self.heartbeat_seconds = heartbeat_seconds
        self.per_resource = len(ids) <= PER_REPLICA_LOG_LIMIT
        self._last_info = time.monotonic()
        self._last_summary: tuple[int, ...] | None = None

    def _info(self, message: str, *args: object) -> None:
        self._last_info = time.monotonic()
        self.logger.info(message, *args)

    # --- lifecycle -------------------------------------------------------------------

    def started(self, *, deadline_in: float, resumed_after: float) -> None:
        kind = self.kind
        what = f"{kind.noun} {self.ids[0]}" if len(self.ids) == 1 else kind.count(len(self.ids))
        resumed = (
            f" (resuming a wait started {_fmt_seconds(resumed_after)} ago)"
            if resumed_after > 1
            else ""
        )
        self._info(
            "Waiting for %s to finish %s; giving up in %s%s.",
            what,
            kind.doing,
            _fmt_seconds(deadline_in),
            resumed,
        )

    def changed(self, resource: TavusResource, previous: TavusResource | None) -> None:
        """A replica's (or video's) status or progress moved."""
        if not self.per_resource:
            return
        if previous is None:
            self._info("%s %s", self.kind.title, resource.describe())
            return
        parts = []
        if previous.status != resource.status:
            parts.append(
                f"status {printable(previous.status, 40)} -> {printable(resource.status, 40)}"
            )
        if previous.progress_text != resource.progress_text:
            parts.append(
                f"progress {printable(previous.progress_text, 20)} -> "
                f"{printable(resource.progress_text, 20)}"
            )
        self._info("%s %s: %s", self.kind.title, resource.resource_id, ", ".join(parts))

    def round_summary(
        self, pending: Iterable[TavusResource | None], finished: list[SettledOutcome]
    ) -> None:
        """For large batches: one line when the counts or the median progress move."""
        if self.per_resource:
            return
        progress = [
            r.progress_percent for r in pending if r is not None and r.progress_percent is not None
        ]
        counts = {outcome: sum(1 for f in finished if f.outcome is outcome) for outcome in Outcome}
        median = statistics.median(progress) if progress else None
        key = (*counts.values(), int(median or -1) // 5)
        if key == self._last_summary:
            return
        self._last_summary = key
        self._info(
            "%d/%d finished (%d completed, %d failed, %d not found); %d %s%s.",
            len(finished),
            len(self.ids),
            counts[Outcome.COMPLETED],
            counts[Outcome.FAILED],
            counts[Outcome.NOT_FOUND],
            len(self.ids) - len(finished),
            self.kind.doing,
            f", median progress {median:.0f}%" if median is not None else "",
        )

    def finished(self, outcome: SettledOutcome) -> None:
        if not self.per_resource:
            return
        kind, resource = self.kind, outcome.resource
        progress = resource.progress_text if resource is not None else None
        said = f"{kind.title} {outcome.resource_id} {kind.verdict(outcome.outcome, progress)}"
        if outcome.outcome is Outcome.COMPLETED:
            self._info("%s.", said)
        elif outcome.outcome in (Outcome.FAILED, Outcome.NOT_FOUND):
            self.logger.error("%s: %s", said, printable(outcome.error_message, 500))
        else:
            self.logger.warning(
                "%s (%s).", said, resource.describe() if resource is not None else "never seen"
            )

    def heartbeat(self, pending: int, elapsed: float, next_poll_in: float) -> None:
        """An INFO line if nothing has been logged for ``heartbeat_seconds``."""
        if time.monotonic() - self._last_info < self.heartbeat_seconds:
            return
        self._info(
            "Still waiting: %s %s after %s; next check in %s.",
            self.kind.count(pending),
            self.kind.doing,
            _fmt_seconds(elapsed),
            _fmt_seconds(next_poll_in),
        )

    # --- outages ---------------------------------------------------------------------

    def outage_started(self, error: TavusError, retry_in: float, budget: float) -> None:
        where = "Prefect API" if isinstance(error, PrefectAPITransientError) else "Tavus API"
        self.logger.warning(
            "%s unavailable: %s Retrying in %s; the wait survives up to %s of this.",
            where,
            printable(error, 500),
            _fmt_seconds(retry_in),
            _fmt_seconds(budget),
        )

    def outage_ended(self, duration: float, failures: int) -> None:
        self._info(
            "API reachable again after %s (%s).",
            _fmt_seconds(duration),
            plural(failures, "failed poll"),
        )

    def done(self, result: WaitResult) -> None:
        self._info("Wait finished: %s.", result.summary())
