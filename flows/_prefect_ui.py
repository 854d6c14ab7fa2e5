"""What a wait shows in the Prefect UI and to automations: events and artifacts.

Events (documented in the README), each about the replica as its resource
(``tavus.replica.<replica_id>``, named after the replica), with the flow run attached
as a related resource by Prefect, and a payload of status, progress and error message:

* ``tavus.replica.progress``: a replica entered a new 10% band of training progress or
  changed status (bands keep a thousand-replica batch from flooding the event feed);
* ``tavus.replica.completed``, ``tavus.replica.failed`` (training error, or the replica
  is gone), ``tavus.replica.timed-out``: once per replica, when the wait settles it.

Artifacts: one progress artifact per wait (the replica's progress, or the batch's mean),
and at the end a markdown artifact per replica, keyed ``tavus-replica-<replica_id>`` so
the UI shows one history per replica, plus a table for batches. Failing to write an
artifact is logged once and never ends a wait.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from uuid import UUID

from prefect.artifacts import (
    acreate_markdown_artifact,
    acreate_progress_artifact,
    acreate_table_artifact,
    aupdate_progress_artifact,
)
from prefect.events import emit_event

from prefect_tavus.core import Replica
from prefect_tavus.core.waiting import Outcome, ReplicaOutcome, WaitResult

__all__ = ["EVENT_PREFIX", "WaitUI", "replica_artifact_key", "replica_resource"]

EVENT_PREFIX = "tavus.replica"
#: Up to this many replicas, each gets its own markdown artifact at the end.
PER_REPLICA_ARTIFACT_LIMIT = 25

_EVENT_FOR_OUTCOME = {
    Outcome.COMPLETED: "completed",
    Outcome.FAILED: "failed",
    Outcome.NOT_FOUND: "failed",
    Outcome.TIMED_OUT: "timed-out",
}


def replica_artifact_key(replica_id: str) -> str:
    """``tavus-replica-<id>``: Prefect keys allow only lowercase letters, digits and dashes."""
    return "tavus-replica-" + re.sub(r"[^a-z0-9-]", "-", replica_id.lower())


def replica_resource(replica_id: str, replica: Replica | None) -> dict[str, str]:
    name = (replica.replica_name if replica else None) or replica_id
    return {
        "prefect.resource.id": f"{EVENT_PREFIX}.{replica_id}",
        "prefect.resource.name": name,
        "tavus.replica.id": replica_id,
    }


def _payload(replica_id: str, replica: Replica | None, error_message: str | None = None) -> dict[str, Any]:
    return {
        "replica_id": replica_id,
        "status": replica.status if replica else None,
        "training_progress": replica.training_progress if replica else None,
        "progress_percent": replica.progress_percent if replica else None,
        "error_message": error_message if error_message is not None else (replica.failure_reason if replica else None),
    }


def _band(replica: Replica) -> tuple[str, int]:
    percent = replica.progress_percent
    return (replica.normalized_status, -1 if percent is None else int(percent // 10))


class WaitUI:
    """Events and artifacts for one wait."""

    def __init__(self, replica_ids: list[str], logger: logging.LoggerAdapter | logging.Logger) -> None:
        self.replica_ids = replica_ids
        self.logger = logger
        self._bands: dict[str, tuple[str, int]] = {}
        self._progress_artifact: UUID | None = None
        self._last_progress: float | None = None
        self._artifact_warned = False

    # --- events ----------------------------------------------------------------------

    def observed(self, replica: Replica) -> None:
        """Emit ``tavus.replica.progress`` when a replica enters a new band or status."""
        band = _band(replica)
        if self._bands.get(replica.replica_id) == band or replica.is_terminal:
            self._bands[replica.replica_id] = band
            return
        self._bands[replica.replica_id] = band
        emit_event(
            f"{EVENT_PREFIX}.progress",
            resource=replica_resource(replica.replica_id, replica),
            payload=_payload(replica.replica_id, replica),
        )

    def settled(self, outcome: ReplicaOutcome) -> None:
        """Emit the replica's terminal event."""
        emit_event(
            f"{EVENT_PREFIX}.{_EVENT_FOR_OUTCOME[outcome.outcome]}",
            resource=replica_resource(outcome.replica_id, outcome.replica),
            payload={**_payload(outcome.replica_id, outcome.replica, outcome.error_message),
                     "outcome": outcome.outcome.value},
        )

    # --- artifacts -------------------------------------------------------------------

    def _artifact_failed(self, exc: Exception) -> None:
        if not self._artifact_warned:
            self._artifact_warned = True
            self.logger.warning("Could not write a Prefect artifact (the wait goes on): %s", exc)

    async def progress(self, percent: float) -> None:
        """Keep the wait's progress artifact at ``percent`` (0-100)."""
        percent = round(max(0.0, min(100.0, percent)), 1)
        if percent == self._last_progress:
            return
        self._last_progress = percent
        try:
            if self._progress_artifact is None:
                single = len(self.replica_ids) == 1
                self._progress_artifact = await acreate_progress_artifact(
                    percent,
                    key=f"tavus-progress-{replica_artifact_key(self.replica_ids[0])[14:]}" if single else None,
                    description=(f"Training progress of replica {self.replica_ids[0]}" if single
                                 else f"Mean training progress of {len(self.replica_ids)} replicas"),
                )
            else:
                await aupdate_progress_artifact(self._progress_artifact, percent)
        except Exception as exc:  # noqa: BLE001
            self._artifact_failed(exc)

    async def summary(self, result: WaitResult) -> None:
        """Markdown artifact per replica (stable key), and a table for a batch."""
        try:
            if len(result.results) <= PER_REPLICA_ARTIFACT_LIMIT:
                for outcome in result.results:
                    await acreate_markdown_artifact(
                        markdown=_replica_markdown(outcome, result),
                        key=replica_artifact_key(outcome.replica_id),
                        description=f"Tavus replica {outcome.replica_id}: {outcome.outcome.value}",
                    )
            if len(result.results) > 1:
                await acreate_table_artifact(
                    table=[_row(outcome) for outcome in result.results],
                    description=f"Tavus batch wait: {result.summary()}",
                )
        except Exception as exc:  # noqa: BLE001
            self._artifact_failed(exc)


def _row(outcome: ReplicaOutcome) -> dict[str, Any]:
    replica = outcome.replica
    return {
        "replica_id": outcome.replica_id,
        "name": replica.replica_name if replica else None,
        "outcome": outcome.outcome.value,
        "status": replica.status if replica else None,
        "progress": replica.training_progress if replica else None,
        "error_message": outcome.error_message,
        "seen_finished_after_s": round(outcome.seen_finished_after_seconds or 0, 1),
    }


def _md(value: object) -> str:
    """A value from Tavus made safe for one markdown table cell."""
    text = " ".join(str(value).split())
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`")


def _replica_markdown(outcome: ReplicaOutcome, result: WaitResult) -> str:
    replica = outcome.replica
    verdict = {
        Outcome.COMPLETED: "completed training",
        Outcome.FAILED: "failed",
        Outcome.NOT_FOUND: "was not found",
        Outcome.TIMED_OUT: "was still training at the deadline",
    }[outcome.outcome]
    lines = [f"# Tavus replica `{outcome.replica_id}` {verdict}", ""]
    if outcome.error_message and outcome.outcome is not Outcome.COMPLETED:
        lines += [f"> **Error:** {_md(outcome.error_message)}", ""]
    thumbnail = replica.thumbnail_video_url if replica else None
    rows = [
        ("Replica id", outcome.replica_id),
        ("Name", replica.replica_name if replica else None),
        ("Status", replica.status if replica else None),
        ("Training progress", replica.training_progress if replica else None),
        ("Type", replica.replica_type if replica else None),
        ("Model", replica.model_name if replica else None),
        ("Created", replica.created_at.isoformat() if replica and replica.created_at else None),
        ("Thumbnail", thumbnail),
        ("Time waited", f"{outcome.seen_finished_after_seconds or result.elapsed_seconds:.0f} s"),
        ("Requests made by this wait", str(result.requests)),
    ]
    lines += ["| | |", "|---|---|"]
    lines += [f"| {label} | {_md(value) if value not in (None, '') else '-'} |" for label, value in rows]
    return "\n".join(lines) + "\n"
