"""What varies between the things a wait can wait for: replicas and videos.

One wait engine serves both (``flows/_engine.py``): the cadence, outage budget,
deadline, cancellation, reporting, suspension and sweep are written once, and a
:class:`ResourceKind` supplies the rest: the noun, the id rule, the record label and
event prefix (from :mod:`prefect_tavus.core.contract`), how a resource's name and
progress are read, and the words for what became of it. The shape follows botocore's
data-driven waiters and prefect-dbt's ``_wait_until_state(in_final_state_fn,
get_state_fn)``: the loop is code, the kind is data.

What an outcome is called is said here once, for logs, events and artifacts alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from prefect_tavus.core.contract import EVENT_PREFIXES, KIND_LABELS, Kind
from prefect_tavus.core.validation import validate_replica_id, validate_video_id
from prefect_tavus.core.waiting import (
    Outcome,
    ReplicaOutcome,
    SettledOutcome,
    VideoOutcome,
    VideoWaitResult,
    WaitResult,
)

__all__ = [
    "EVENT_SUFFIXES",
    "REPLICAS",
    "SEEN_LABELS",
    "VIDEOS",
    "ResourceKind",
    "TavusResource",
    "kind_of",
]

#: The last part of the terminal event of each outcome (``tavus.video.failed``): a deployment
#: trigger listens for these, so they are part of the contract with users' automations.
EVENT_SUFFIXES: Mapping[Outcome, str] = {
    Outcome.COMPLETED: "completed",
    Outcome.FAILED: "failed",
    Outcome.NOT_FOUND: "failed",  # gone is as final as failed, for whatever listens
    Outcome.TIMED_OUT: "timed-out",
}
#: What a details artifact calls the moment the wait saw the outcome.
SEEN_LABELS: Mapping[Outcome, str] = {
    Outcome.COMPLETED: "Seen completed",
    Outcome.FAILED: "Seen failed",
    Outcome.NOT_FOUND: "Seen missing",
    Outcome.TIMED_OUT: "Gave up",
}


class TavusResource(Protocol):
    """What the engine reads of a replica or a video (both models provide it)."""

    @property
    def resource_id(self) -> str: ...
    @property
    def display_name(self) -> str | None: ...
    @property
    def progress_text(self) -> str | None: ...
    @property
    def status(self) -> str | None: ...
    @property
    def normalized_status(self) -> str: ...
    @property
    def progress_percent(self) -> float | None: ...
    @property
    def is_completed(self) -> bool: ...
    @property
    def is_failed(self) -> bool: ...
    @property
    def is_gone(self) -> bool: ...
    @property
    def is_terminal(self) -> bool: ...
    @property
    def failure_reason(self) -> str | None: ...
    def describe(self) -> str: ...


@dataclass(frozen=True)
class ResourceKind:
    """One kind of Tavus resource a wait can wait for.

    Attributes:
        kind: ``"replica"`` or ``"video"``: the contract's name for it.
        noun / plural_noun: for sentences (``3 videos``).
        id_field: the id's field name in Tavus's answers and in results.
        validate_id: the id rule (raises the kind's typed error).
        doing: what it does until it ends (``training``, ``generating``), in sentences.
        progress_field: the field that reports progress (``training_progress``).
        outcome_words: what each outcome is called in sentences (``completed training``).
        headlines: the same, first in a description (cards cut long text short).
        outcome_model / result_model: what a wait returns for one, and for all.
    """

    kind: Kind
    noun: str
    plural_noun: str
    id_field: str
    validate_id: Callable[[str], str]
    doing: str
    progress_field: str
    outcome_words: Mapping[Outcome, str]
    headlines: Mapping[Outcome, str]
    outcome_model: type[SettledOutcome]
    result_model: type[WaitResult]

    @property
    def title(self) -> str:
        """``Replica``, ``Video``: the noun at the start of a sentence."""
        return self.noun.capitalize()

    @property
    def event_prefix(self) -> str:
        """``tavus.replica``: the prefix of this kind's events and event resource ids."""
        return EVENT_PREFIXES[self.kind]

    @property
    def record_label(self) -> str:
        """The flow-run label that holds the pending ids of a suspended wait."""
        return KIND_LABELS[self.kind]

    def outcome(self, resource_id: str, resource: Any, **fields: Any) -> SettledOutcome:
        """One resource's outcome, under the kind's own field names (``video_id``, ``video``)."""
        return self.outcome_model(**{self.id_field: resource_id, self.noun: resource}, **fields)

    def result(self, **fields: Any) -> WaitResult:
        """A whole wait's result (``WaitResult``, ``VideoWaitResult``)."""
        return self.result_model(**fields)

    def event_name(self, outcome: Outcome | str) -> str:
        """``tavus.replica.completed``: the terminal event of ``outcome``, or another of this
        kind's events by name (``"progress"``)."""
        what = EVENT_SUFFIXES[outcome] if isinstance(outcome, Outcome) else outcome
        return f"{self.event_prefix}.{what}"

    def count(self, n: int) -> str:
        """``1 video``, ``3 videos``."""
        return f"{n} {self.noun if n == 1 else self.plural_noun}"

    def verdict(self, outcome: Outcome, progress: str | None = None) -> str:
        """What became of one (``failed training at 40/100``), for sentences."""
        words = self.outcome_words[outcome]
        return words.format(progress=progress or "no progress reported")

    def headline(self, outcome: Outcome, progress: str | None = None) -> str:
        """The same, capitalised and short, first in a description."""
        return self.headlines[outcome].format(progress=progress or "no progress reported")

    def validate_ids(self, ids: Any) -> list[str]:
        """Every id checked by the kind's rule, duplicates kept once, order kept."""
        if isinstance(ids, (str, bytes)) or not hasattr(ids, "__iter__"):
            raise TypeError(f"{self.id_field}s must be a list of ids, got {type(ids).__name__}.")
        return list(dict.fromkeys(self.validate_id(item) for item in ids))


REPLICAS = ResourceKind(
    kind="replica",
    noun="replica",
    plural_noun="replicas",
    id_field="replica_id",
    validate_id=validate_replica_id,
    doing="training",
    progress_field="training_progress",
    outcome_words={
        Outcome.COMPLETED: "completed training",
        Outcome.FAILED: "failed training at {progress}",
        Outcome.NOT_FOUND: "was not found",
        Outcome.TIMED_OUT: "was still training at {progress} at the deadline",
    },
    headlines={
        Outcome.COMPLETED: "Completed",
        Outcome.FAILED: "Failed at {progress}",
        Outcome.NOT_FOUND: "Not found",
        Outcome.TIMED_OUT: "Timed out at {progress}",
    },
    outcome_model=ReplicaOutcome,
    result_model=WaitResult,
)

VIDEOS = ResourceKind(
    kind="video",
    noun="video",
    plural_noun="videos",
    id_field="video_id",
    validate_id=validate_video_id,
    doing="generating",
    progress_field="generation_progress",
    outcome_words={
        Outcome.COMPLETED: "is ready",
        Outcome.FAILED: "failed to generate",
        Outcome.NOT_FOUND: "was not found (or was deleted)",
        Outcome.TIMED_OUT: "was still generating at the deadline",
    },
    headlines={
        Outcome.COMPLETED: "Ready",
        Outcome.FAILED: "Failed",
        Outcome.NOT_FOUND: "Not found",
        Outcome.TIMED_OUT: "Timed out",
    },
    outcome_model=VideoOutcome,
    result_model=VideoWaitResult,
)

_KINDS: Mapping[Kind, ResourceKind] = {"replica": REPLICAS, "video": VIDEOS}


def kind_of(kind: Kind) -> ResourceKind:
    """The :class:`ResourceKind` named ``kind`` in the contract."""
    return _KINDS[kind]
