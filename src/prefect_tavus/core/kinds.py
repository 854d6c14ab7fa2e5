"""The one registry of what a wait can wait for: replicas and videos.

One wait engine serves every kind (``flows/_engine.py``): the cadence, outage budget,
deadline, cancellation, reporting, suspension and sweep are written once, and a
:class:`ResourceKind` supplies everything that varies: the noun, the id rule, the record
label and event prefix (the contract: :mod:`prefect_tavus.core.contract` reads them from
here), how a callback names one and gives its reason, how Tavus is asked about many at
once, the words for what became of it, and what the UI shows of it. The shape follows
botocore's data-driven waiters and prefect-dbt's ``_wait_until_state(in_final_state_fn,
get_state_fn)``: the loop is code, the kind is data.

Everything that loops over kinds (the contract, the receiver, the sweep, the events and
artifacts) loops over :data:`KINDS`; nothing else names a kind. A new kind is one more
entry here (with its model, its id rule and its read functions, Prefect-free), and its
flows. What an outcome is called is said here once, for logs, events and artifacts alike.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, Protocol, TypeVar

from prefect_tavus.core.client import TavusClient
from prefect_tavus.core.replica_polling import read_replica, read_replicas
from prefect_tavus.core.replicas import FAILURE_STATUSES, SUCCESS_STATUSES
from prefect_tavus.core.text import format_time
from prefect_tavus.core.validation import validate_replica_id, validate_video_id
from prefect_tavus.core.video_polling import read_videos
from prefect_tavus.core.videos import VIDEO_FAILURE_STATUSES, VIDEO_SUCCESS_STATUSES
from prefect_tavus.core.waiting import (
    Outcome,
    PollRound,
    ReplicaOutcome,
    ReplicaWaitResult,
    SettledOutcome,
    VideoOutcome,
    VideoWaitResult,
    WaitResult,
)

__all__ = [
    "EVENT_SUFFIXES",
    "KINDS",
    "REPLICAS",
    "SEEN_LABELS",
    "VIDEOS",
    "Kind",
    "ResourceKind",
    "ResultT",
    "TavusResource",
    "kind_of",
]

#: The names of the kinds (each one's ``kind``), as records and callbacks carry them.
Kind = Literal["replica", "video"]

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


#: Reads many of a kind in one poll round: (client, validated ids, page size) -> the round.
ReadMany = Callable[[TavusClient, Sequence[str], int], Awaitable[PollRound]]
#: Reads one of a kind (a confirming GET): (client, id) -> the resource; raises Tavus's errors.
ReadOne = Callable[[TavusClient, str], Awaitable[Any]]


#: What a wait on one kind returns (``ReplicaWaitResult``, ``VideoWaitResult``).
ResultT = TypeVar("ResultT", bound=WaitResult[Any])


@dataclass(frozen=True)
class ResourceKind(Generic[ResultT]):
    """One kind of Tavus resource a wait can wait for: everything that varies by kind.

    Attributes:
        kind: ``"replica"`` or ``"video"``: the name records and callbacks carry.
        noun / plural_noun: for sentences (``3 videos``).
        id_field: the id's field name in Tavus's answers, results and event payloads.
        validate_id: the id rule (raises the kind's typed error, a ``ValueError``).
        doing: what it does until it ends (``training``, ``generating``), in sentences.
        work: what the UI calls that work (``Training``, ``Generation``).
        progress_field: the field that reports progress (``training_progress``).
        outcome_words: what each outcome is called in sentences (``completed training``).
        headlines: the same, first in a description (cards cut long text short).
        outcome_model / result_model: what a wait returns for one, and for all.
        event_prefix: ``tavus.replica``: the prefix of its events and event resource ids
            (part of the contract with users' automations: never change a deployed one).
        record_label: the flow-run label holding the pending ids of a suspended wait
            (part of the contract with receivers of other releases).
        terminal_statuses: the statuses after which nothing changes.
        read_many: how one poll round asks Tavus about many (Prefect-free).
        read_one: how one confirming GET asks about one (Prefect-free).
        callback_id_keys: the names a callback may give its id, in order of preference.
        callback_reason_keys: where a callback gives its reason, in order.
        callback_reason_field: the reason's name in the receiver's callback event.
        callback_rank: callbacks are matched against kinds in this order (lower first):
            a video callback also names its replica, so videos come first.
        named_by_conversations: conversation callbacks name one of these too (and are
            ignored, not taken for this kind's).
        event_labels: extra event resource labels (label suffix -> attribute).
        payload_fields: extra event payload fields (attributes of the resource).
        table_columns: extra batch-table columns after ``status`` (column -> attribute).
        table_links: extra batch-table columns at the end (long URLs last).
        detail_rows: the rows of its details artifact beyond name and status.
    """

    kind: Kind
    noun: str
    plural_noun: str
    id_field: str
    validate_id: Callable[[str], str]
    doing: str
    work: str
    progress_field: str
    outcome_words: Mapping[Outcome, str]
    headlines: Mapping[Outcome, str]
    outcome_model: type[SettledOutcome]
    result_model: type[ResultT]
    event_prefix: str
    record_label: str
    terminal_statuses: frozenset[str]
    read_many: ReadMany
    read_one: ReadOne
    callback_id_keys: tuple[str, ...]
    callback_reason_keys: tuple[str, ...]
    callback_reason_field: str
    callback_rank: int
    named_by_conversations: bool
    event_labels: Mapping[str, str]
    payload_fields: tuple[str, ...]
    table_columns: tuple[tuple[str, str], ...]
    table_links: tuple[tuple[str, str], ...]
    detail_rows: Callable[[Any], list[tuple[str, Any]]]

    @property
    def title(self) -> str:
        """``Replica``, ``Video``: the noun at the start of a sentence."""
        return self.noun.capitalize()

    @property
    def callback_event(self) -> str:
        """``tavus.replica.callback``: what a receiver writes for each callback it takes."""
        return f"{self.event_prefix}.callback"

    @property
    def resource_prefix(self) -> str:
        """``tavus.replica.``: an event resource id is this and the id."""
        return self.event_prefix + "."

    def outcome(self, resource_id: str, resource: Any, **fields: Any) -> SettledOutcome:
        """One resource's outcome, under the kind's own field names (``video_id``, ``video``)."""
        return self.outcome_model(**{self.id_field: resource_id, self.noun: resource}, **fields)

    def result(self, **fields: Any) -> ResultT:
        """A whole wait's result (``ReplicaWaitResult``, ``VideoWaitResult``)."""
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


def _replica_rows(replica: Any) -> list[tuple[str, Any]]:
    return [
        ("Training progress", replica.training_progress),
        ("Type", replica.replica_type),
        ("Model", replica.model_name),
        ("Created", format_time(replica.created_at)),
        ("Last updated by Tavus", format_time(replica.updated_at)),
        ("Thumbnail", replica.thumbnail_video_url),
    ]


def _video_rows(video: Any) -> list[tuple[str, Any]]:
    return [
        ("Replica", video.replica_id),
        ("Hosted URL", video.hosted_url),
        ("Download URL", video.download_url),
        ("Stream URL", video.stream_url),
        ("Created", format_time(video.created_at)),
        ("Last updated by Tavus", format_time(video.updated_at)),
    ]


async def _read_videos(client: TavusClient, ids: Sequence[str], page_size: int) -> PollRound:
    return await read_videos(client, ids, page_size=page_size)


async def _read_replicas(client: TavusClient, ids: Sequence[str], page_size: int) -> PollRound:
    return await read_replicas(client, ids, page_size=page_size)


async def _read_video(client: TavusClient, video_id: str) -> Any:
    return await client.get_video(video_id)


REPLICAS: ResourceKind[ReplicaWaitResult] = ResourceKind(
    kind="replica",
    noun="replica",
    plural_noun="replicas",
    id_field="replica_id",
    validate_id=validate_replica_id,
    doing="training",
    work="Training",
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
    result_model=ReplicaWaitResult,
    event_prefix="tavus.replica",
    record_label="tavus.wait.replicas",
    terminal_statuses=SUCCESS_STATUSES | FAILURE_STATUSES,
    read_many=_read_replicas,
    read_one=read_replica,
    # Tavus's documented name, then its newest docs' one (a replica is now a "face").
    callback_id_keys=("replica_id", "face_id"),
    callback_reason_keys=("error_message",),
    callback_reason_field="error_message",
    callback_rank=1,
    named_by_conversations=True,
    event_labels={},
    payload_fields=(),
    table_columns=(("progress", "progress_text"),),
    table_links=(),
    detail_rows=_replica_rows,
)

VIDEOS: ResourceKind[VideoWaitResult] = ResourceKind(
    kind="video",
    noun="video",
    plural_noun="videos",
    id_field="video_id",
    validate_id=validate_video_id,
    doing="generating",
    work="Generation",
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
    event_prefix="tavus.video",
    record_label="tavus.wait.videos",
    terminal_statuses=VIDEO_SUCCESS_STATUSES | VIDEO_FAILURE_STATUSES | {"deleted"},
    read_many=_read_videos,
    read_one=_read_video,
    # A video's own field, then the list items' one, then a replica's.
    callback_id_keys=("video_id",),
    callback_reason_keys=("status_details", "error_details", "error_message"),
    callback_reason_field="reason",
    callback_rank=0,
    named_by_conversations=False,
    # What the next step needs: where the video is, and whose it is.
    event_labels={"replica-id": "replica_id", "hosted-url": "hosted_url"},
    payload_fields=("replica_id", "video_name", "hosted_url", "download_url", "stream_url"),
    table_columns=(),
    table_links=(("hosted_url", "hosted_url"), ("download_url", "download_url")),
    detail_rows=_video_rows,
)

#: Every kind, in the order they are reported (the registry everything loops over).
KINDS: tuple[ResourceKind[Any], ...] = (REPLICAS, VIDEOS)
_BY_NAME: Mapping[str, ResourceKind[Any]] = {kind.kind: kind for kind in KINDS}


def kind_of(kind: str) -> ResourceKind[Any]:
    """The :class:`ResourceKind` named ``kind`` (``"replica"``, ``"video"``).

    Raises:
        KeyError: no such kind.
    """
    return _BY_NAME[kind]
