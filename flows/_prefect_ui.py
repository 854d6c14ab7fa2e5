"""What a wait shows in the Prefect UI and to automations: events and artifacts.

Written once for every kind: what varies (the event prefix, the extra labels, payload
fields, table columns and details rows, what its work is called) is data on the kind, in
the registry ``core/kinds.py``. Said below for replicas; a video wait has events
``tavus.video.*`` about ``tavus.video.<video_id>``, artifacts ``tavus-video-<video_id>``,
``tavus-batch-<n>-videos-<hash>``, and a batch table whose rows carry each video's
``hosted_url`` and ``download_url``.

Events (documented in the README), each about the replica as its resource, with the flow
run attached as a related resource by Prefect, and a payload of status, progress and
error message. The resource is ``tavus.replica.<replica_id>`` (what triggers match and
``for_each`` groups on); its ``prefect.resource.name`` is what the event feed shows as the
resource, so it reads ``<replica name> (<status>, <progress>)``, e.g. ``Sales presenter
(started, 40/100)``; the stable facts are labels of their own (``tavus.replica.id``,
``tavus.replica.name``, ``tavus.replica.status``, ``tavus.replica.progress``).

* ``tavus.replica.progress``: a replica entered a new 10% band of training progress or
  changed status (bands keep a thousand-replica batch from flooding the event feed);
* ``tavus.replica.completed``, ``tavus.replica.failed`` (training error, or the replica
  is gone), ``tavus.replica.timed-out``: once per replica, when the wait settles it.

Artifacts, every one with a key (so it is listed on the Artifacts page and its card has a
title) and a description:

* a progress artifact per wait, kept at what Tavus last reported (a batch: the mean over
  its replicas, completed ones counting 100) and written one last time when the wait ends,
  with the outcome in its description: ``tavus-progress-<replica_id>``, or
  ``tavus-progress-batch-<n>-replicas-<hash>`` for a batch;
* a markdown artifact per replica at the end, ``tavus-replica-<replica_id>``, so the UI
  keeps one history per replica across waits. Batches of up to
  ``PER_REPLICA_ARTIFACT_LIMIT`` replicas get one for every replica; larger batches only
  for the replicas that did not complete (the ones someone will look into), at most that
  many; the batch table lists them all;
* for a batch, a table with a row per replica: ``tavus-batch-<n>-replicas-<hash>``.

``<hash>`` is made from the set of replica ids, so waiting again on the same batch adds to
the same histories. Failing to write an artifact is logged once and never ends a wait.
"""

from __future__ import annotations

import hashlib
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

from prefect_tavus.core.kinds import SEEN_LABELS, ResourceKind, TavusResource
from prefect_tavus.core.text import format_duration, format_time, plural
from prefect_tavus.core.waiting import Outcome, SettledOutcome, WaitResult

__all__ = [
    "WaitUI",
    "batch_artifact_key",
    "details_artifact_key",
    "event_resource",
    "progress_artifact_key",
]

#: Batches up to this size get a markdown artifact per replica (or video); larger ones get
#: one only for those that did not complete, at most this many.
PER_REPLICA_ARTIFACT_LIMIT = 25


# --- keys --------------------------------------------------------------------------------


def artifact_key_part(resource_id: str) -> str:
    """Prefect keys allow only lowercase letters, digits and dashes."""
    return re.sub(r"[^a-z0-9-]", "-", resource_id.lower())


def _batch_part(resource_ids: list[str], kind: ResourceKind) -> str:
    ids = sorted(set(resource_ids))
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:8]
    return f"batch-{len(ids)}-{kind.plural_noun}-{digest}"


def details_artifact_key(resource_id: str, kind: ResourceKind) -> str:
    """``tavus-replica-<id>`` (``tavus-video-<id>``): its details, one history per resource."""
    return f"tavus-{kind.noun}-" + artifact_key_part(resource_id)


def progress_artifact_key(resource_ids: list[str], kind: ResourceKind) -> str:
    """``tavus-progress-<id>`` for one, ``tavus-progress-batch-<n>-replicas-<hash>`` for a batch."""
    if len(set(resource_ids)) == 1:
        return "tavus-progress-" + artifact_key_part(resource_ids[0])
    return "tavus-progress-" + _batch_part(resource_ids, kind)


def batch_artifact_key(resource_ids: list[str], kind: ResourceKind) -> str:
    """``tavus-batch-<n>-replicas-<hash>``: the batch's table, stable for the same set of ids."""
    return "tavus-" + _batch_part(resource_ids, kind)


# --- events ------------------------------------------------------------------------------


def _state_words(resource: TavusResource | None, outcome: Outcome | None = None) -> str:
    """``started, 40/100``: the status and progress as Tavus reported them."""
    if outcome is Outcome.NOT_FOUND:
        return "not found"
    if resource is None:
        return "not seen yet"
    return ", ".join(
        part for part in (resource.status or "unknown status", resource.progress_text) if part
    )


def event_resource(
    resource_id: str,
    resource: TavusResource | None,
    kind: ResourceKind,
    outcome: Outcome | None = None,
) -> dict[str, str]:
    """The event resource for a replica (or video).

    ``prefect.resource.id`` is stable (triggers match it); ``prefect.resource.name`` is what
    the event feed shows, so it carries the name, status and progress of this event.
    """
    prefix = kind.event_prefix
    name = (resource.display_name if resource else None) or resource_id
    event = {
        "prefect.resource.id": f"{prefix}.{resource_id}",
        "prefect.resource.name": f"{name} ({_state_words(resource, outcome)})",
        f"{prefix}.id": resource_id,
    }
    labels = {
        f"{prefix}.name": resource.display_name if resource else None,
        f"{prefix}.status": resource.status if resource else None,
        f"{prefix}.progress": resource.progress_text if resource else None,
        **{
            f"{prefix}.{label}": getattr(resource, attribute, None)
            for label, attribute in kind.event_labels.items()
        },
    }
    event.update({label: value for label, value in labels.items() if value})  # strings only
    return event


def _payload(
    resource_id: str,
    resource: TavusResource | None,
    kind: ResourceKind,
    error_message: str | None = None,
) -> dict[str, Any]:
    payload = {
        kind.id_field: resource_id,
        "status": resource.status if resource else None,
        kind.progress_field: resource.progress_text if resource else None,
        "progress_percent": resource.progress_percent if resource else None,
        "error_message": error_message
        if error_message is not None
        else (resource.failure_reason if resource else None),
    }
    for field in kind.payload_fields:
        payload[field] = getattr(resource, field, None)
    return payload


def _band(replica: TavusResource) -> tuple[str, int]:
    percent = replica.progress_percent
    return (replica.normalized_status, -1 if percent is None else int(percent // 10))


# --- words for artifacts -----------------------------------------------------------------


def _md(value: object) -> str:
    """A value from Tavus made safe for one markdown table cell or line."""
    text = " ".join(str(value).split())
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`")


def _who(outcome: SettledOutcome) -> str:
    """``'Sales presenter' (rcc42d8eedf)``, or the id alone when the name is unknown."""
    name = outcome.resource.display_name if outcome.resource else None
    return f"'{_md(name)}' ({outcome.resource_id})" if name else outcome.resource_id


def _progress(outcome: SettledOutcome) -> str | None:
    return outcome.resource.progress_text if outcome.resource else None


def _verdict(outcome: SettledOutcome, kind: ResourceKind) -> str:
    """What became of it, with the progress Tavus last reported (for sentences)."""
    said = kind.verdict(outcome.outcome, _progress(outcome))
    if outcome.outcome is Outcome.NOT_FOUND and outcome.resource and _progress(outcome):
        said += f" (last seen at {_progress(outcome)})"
    return said


def _headline(outcome: SettledOutcome, kind: ResourceKind) -> str:
    """The same, first in a description, where the UI's cards cut long text short."""
    return kind.headline(outcome.outcome, _progress(outcome))


def _counts(result: WaitResult) -> str:
    """``1 completed, 1 failed``."""
    return ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in result.counts().items() if n)


class WaitUI:
    """Events and artifacts for one wait."""

    def __init__(
        self,
        ids: list[str],
        kind: ResourceKind,
        logger: logging.LoggerAdapter | logging.Logger | None = None,
    ) -> None:
        self.ids = ids
        self.kind = kind
        self.logger = logger
        self.single = len(set(ids)) == 1
        self._bands: dict[str, tuple[str, int]] = {}
        self._settled: set[str] = set()
        self._progress_artifact: UUID | None = None
        self._last_progress: float | None = None
        self._artifact_warned = False

    # --- events ----------------------------------------------------------------------

    def observed(self, replica: TavusResource) -> None:
        """Emit ``tavus.replica.progress`` when a replica enters a new band or status."""
        band = _band(replica)
        if self._bands.get(replica.resource_id) == band or replica.is_terminal:
            self._bands[replica.resource_id] = band
            return
        self._bands[replica.resource_id] = band
        emit_event(
            self.kind.event_name("progress"),
            resource=event_resource(replica.resource_id, replica, self.kind),
            payload=_payload(replica.resource_id, replica, self.kind),
        )

    def settled(self, outcome: SettledOutcome) -> None:
        """Emit the terminal event (``tavus.replica.completed``, ``tavus.video.failed``...)."""
        self._settled.add(outcome.resource_id)
        emit_event(
            self.kind.event_name(outcome.outcome),
            resource=event_resource(
                outcome.resource_id, outcome.resource, self.kind, outcome.outcome
            ),
            payload={
                **_payload(outcome.resource_id, outcome.resource, self.kind, outcome.error_message),
                "outcome": outcome.outcome.value,
            },
        )

    # --- artifacts -------------------------------------------------------------------

    def _artifact_failed(self, exc: Exception) -> None:
        if not self._artifact_warned:
            self._artifact_warned = True
            if self.logger is not None:
                self.logger.warning(
                    "Could not write a Prefect artifact (the wait goes on): %s", exc
                )

    def _progress_description(self) -> str:
        kind = self.kind
        what = kind.work
        if self.single:
            return f"{what} progress of {kind.noun} {self.ids[0]}, as Tavus reports it"
        return (
            f"Mean {what.lower()} progress of {kind.count(len(self.ids))}, each as Tavus "
            f"reports it (a completed {kind.noun} counts 100)"
        )

    async def progress(
        self, percent: float, *, description: str | None = None, final: bool = False
    ) -> None:
        """Keep the wait's progress artifact at ``percent`` (0-100).

        Unchanged values are skipped while waiting, and so is the round that settles the last
        replica: the ``final`` write at the end of the wait follows it and always goes out,
        with the outcome in its ``description``.
        """
        percent = round(max(0.0, min(100.0, percent)), 1)
        if not final and (percent == self._last_progress or self._settled >= set(self.ids)):
            return
        try:
            if self._progress_artifact is None:
                self._progress_artifact = await acreate_progress_artifact(
                    percent,
                    key=progress_artifact_key(self.ids, self.kind),
                    description=description or self._progress_description(),
                )
            else:
                await aupdate_progress_artifact(
                    self._progress_artifact, percent, description=description
                )
            self._last_progress = percent
        except Exception as exc:
            self._artifact_failed(exc)

    async def summary(self, result: WaitResult) -> None:
        """At the end of a wait: the progress artifact's last word, then the details
        artifacts (per replica, stable keys) and, for a batch, its table."""
        kind = self.kind
        await self.progress(
            result.progress_percent,
            description=_final_progress_description(result, kind),
            final=True,
        )
        try:
            for outcome in _worth_a_details_artifact(result):
                await acreate_markdown_artifact(
                    markdown=_details_markdown(outcome, result, kind),
                    key=details_artifact_key(outcome.resource_id, kind),
                    description=f"{_headline(outcome, kind)}: Tavus {kind.noun} {_who(outcome)}",
                )
            if not self.single:
                await acreate_table_artifact(
                    table=[_row(outcome, kind) for outcome in result.results],
                    key=batch_artifact_key(self.ids, kind),
                    description=_table_description(result, kind),
                )
        except Exception as exc:
            self._artifact_failed(exc)


def _worth_a_details_artifact(result: WaitResult) -> list[SettledOutcome]:
    """Every replica of a small batch; in a large one, the first replicas that did not complete."""
    if len(result.results) <= PER_REPLICA_ARTIFACT_LIMIT:
        return list(result.results)
    return result.not_completed[:PER_REPLICA_ARTIFACT_LIMIT]


def _final_progress_description(result: WaitResult, kind: ResourceKind) -> str:
    """Verdict first (cards show one line): ``Failed at 40/100: replica 'Broken take' (r…), ...``."""
    if len(result.results) == 1:
        (outcome,) = result.results
        return f"{_headline(outcome, kind)}: {kind.noun} {_who(outcome)}, progress as Tavus last reported it"
    return (
        f"{_counts(result)} ({kind.count(len(result.results))}): mean of the progress Tavus "
        f"last reported for each, a completed {kind.noun} counting 100"
    )


def _table_description(result: WaitResult, kind: ResourceKind) -> str:
    text = (
        f"{_counts(result)}: Tavus batch of {kind.count(len(result.results))}, waited "
        f"{format_duration(result.elapsed_seconds)}, {plural(result.requests, 'request')}."
    )
    if len(result.results) > PER_REPLICA_ARTIFACT_LIMIT:
        shown = len(_worth_a_details_artifact(result))
        first = (
            f" (the first {shown} of {len(result.not_completed)})"
            if len(result.not_completed) > shown
            else ""
        )
        text += (
            f" Details artifacts (tavus-{kind.noun}-<id>) only for the {kind.plural_noun} that did not "
            f"complete{first}."
        )
    return text


def _row(outcome: SettledOutcome, kind: ResourceKind) -> dict[str, Any]:
    resource = outcome.resource
    row: dict[str, Any] = {
        kind.id_field: outcome.resource_id,
        "name": resource.display_name if resource else None,
        "outcome": outcome.outcome.value,
        "status": resource.status if resource else None,
    }
    for column, attribute in kind.table_columns:
        row[column] = getattr(resource, attribute, None)
    row["error_message"] = outcome.error_message
    row["seen_finished_after_s"] = round(outcome.seen_finished_after_seconds or 0, 1)
    for column, attribute in kind.table_links:  # long URLs last: what a pipeline writes back
        row[column] = getattr(resource, attribute, None)
    return row


def _details_markdown(outcome: SettledOutcome, result: WaitResult, kind: ResourceKind) -> str:
    """Its details: what Tavus said about it and what the wait saw.

    A two-column table headed by its id; rows Tavus left empty are left out.
    """
    resource = outcome.resource
    name = resource.display_name if resource else None
    who = f"'{_md(name)}'" if name else outcome.resource_id
    lines = [f"# {kind.title} {who} {_verdict(outcome, kind)}", ""]
    if outcome.error_message and outcome.outcome is not Outcome.COMPLETED:
        lines += [f"> **Error:** {_md(outcome.error_message)}", ""]
    waited = outcome.seen_finished_after_seconds
    batch = len(result.results) > 1
    rows = [("Name", name), ("Status", resource.status if resource else None)]
    rows += kind.detail_rows(resource) if resource is not None else []
    rows += [
        (SEEN_LABELS[outcome.outcome], format_time(outcome.seen_finished_at)),
        ("Time waited", format_duration(waited if waited is not None else result.elapsed_seconds)),
        (
            "Requests made by this wait" + (f" (batch of {len(result.results)})" if batch else ""),
            str(result.requests),
        ),
    ]
    lines += [f"| {kind.title} id | `{_md(outcome.resource_id)}` |", "|---|---|"]
    lines += [
        f"| {_md(label)} | {_md(value)} |" for label, value in rows if value not in (None, "")
    ]
    return "\n".join(lines) + "\n"
