"""Everything the simulator remembers: replicas, videos, fault scripts, keys and request counts.

All of it sits behind one lock, taken only for short, bounded work (a dictionary lookup, a
page of payloads), so the HTTP threads never wait on each other for long. Replica status is
not stored but derived from each replica's :class:`~prefect_tavus.simulator.timeline.Timeline` at the
moment it is read, which is what lets a thousand replicas "train" with no timers at all.
Videos work the same way: a video's :class:`~prefect_tavus.simulator.timeline.VideoTimeline` is
fixed when it is created (its replica's training timeline is known by then), so the video
waits ``queued`` for training, generates and ends without any timer either.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from prefect_tavus.simulator.callbacks import (
    CallbackDispatcher,
    CallbackKey,
    CallbackResult,
    is_loopback_url,
)
from prefect_tavus.simulator.faults import Fault
from prefect_tavus.simulator.spec import ReplicaSpec, VideoSpec
from prefect_tavus.simulator.timeline import (
    REPLICA_IN_ERROR_STATE,
    Timeline,
    VideoTimeline,
    iso_timestamp,
)
from prefect_tavus.simulator.vocabulary import Vocabulary, in_vocabulary

#: The orders a list can come in (Tavus documents none).
ListOrder = Literal["oldest_first", "newest_first"]
LIST_ORDERS: tuple[ListOrder, ...] = ("oldest_first", "newest_first")

#: Fault-script target that matches every API request.
ANY_REQUEST = "*"

#: Largest page a list request may ask for; larger limits are clamped to it.
MAX_PAGE_SIZE = 100

#: Page size of a video list request without ``limit`` (Tavus documents 10).
DEFAULT_VIDEO_PAGE_SIZE = 10

_THUMBNAIL_URL = "https://thumbnails.tavus-simulator.invalid/{replica_id}.mp4"

# Where a video can be watched and fetched. Tavus's own examples disagree on the hosted page's
# host (tavus.video/... and videos.tavus.io/video/...); the simulator's hosts never resolve.
_HOSTED_URL = "https://videos.tavus-simulator.invalid/video/{video_id}"
_DOWNLOAD_URL = "https://downloads.tavus-simulator.invalid/{video_id}.mp4"
_STREAM_URL = "https://stream.tavus-simulator.invalid/{video_id}.m3u8"
_STILL_THUMBNAIL_URL = "https://thumbnails.tavus-simulator.invalid/{video_id}.jpg"
_GIF_THUMBNAIL_URL = "https://thumbnails.tavus-simulator.invalid/{video_id}.gif"

#: ``status_details`` of a video in each status but ``error`` (which carries its reason).
VIDEO_STATUS_DETAILS = {
    "queued": "Your video is queued for generation.",
    "waiting": "Your video is queued until its replica finishes training.",
    "generating": "Your video is being generated.",
    "ready": "Your video has been generated successfully.",
    "deleted": "Your video has been deleted.",
}


def new_replica_id() -> str:
    """Return an id shaped like Tavus's: ``r`` and ten hex digits (``rf4e9d9790f0``)."""
    return "r" + secrets.token_hex(5)


def new_video_id() -> str:
    """Return a video id: ``v`` and ten hex digits (``v3b1f09a2c4``).

    Tavus documents no shape for video ids; this mirrors its replica ids (a letter, then
    lower-case hex), with another letter so the two are easy to tell apart in a test's
    output. Clients must treat ids as opaque: :class:`VideoSpec` takes any non-empty id.
    """
    return "v" + secrets.token_hex(5)


class UnknownReplicaError(ValueError):
    """A video names a replica that does not exist (or that its key cannot see)."""

    def __init__(self, replica_id: str) -> None:
        super().__init__(f"replica {replica_id!r} does not exist")
        self.replica_id = replica_id


@dataclass
class Replica:
    """One stored replica: the spec it was added with, plus the few things that change later.

    Status, progress and ``updated_at`` are computed from ``timeline`` on every read.
    ``replica_name`` starts as the spec's and is what a rename changes.
    """

    replica_id: str
    spec: ReplicaSpec
    timeline: Timeline
    sequence: int = 0  # creation order, for stable list ordering
    replica_name: str = field(init=False)
    renamed_at: float | None = None
    deleted: bool = False
    callback_sent: bool = False  # Tavus calls back once, whenever the end was moved to
    created_at_iso: str = field(init=False)
    thumbnail_video_url: str = field(init=False)

    def __post_init__(self) -> None:
        self.replica_name = self.spec.replica_name
        self.created_at_iso = iso_timestamp(self.timeline.started_at)
        self.thumbnail_video_url = _THUMBNAIL_URL.format(replica_id=self.replica_id)

    @property
    def owner_key(self) -> str | None:
        """The only key that may see this replica, or ``None`` for every key."""
        return self.spec.owner_key

    def visible_to(self, api_key: str | None) -> bool:
        """Whether ``api_key`` may see this replica (``None`` means the simulator's owner)."""
        if self.deleted:
            return False
        owner = self.spec.owner_key
        return api_key is None or owner is None or owner == api_key

    def status_at(self, now: float) -> str:
        """The ``status`` string reported at ``now``."""
        if not self.timeline.is_finished(now):
            return self.spec.initial_status
        return "error" if self.timeline.outcome == "error" else self.spec.final_status

    def payload(
        self,
        now: float,
        *,
        verbose: bool = False,
        list_item: bool = False,
        vocabulary: Vocabulary = "replicas",
    ) -> dict[str, Any]:
        """The JSON object Tavus would return for this replica at ``now``.

        Single-replica payloads carry ``updated_at`` and ``error_message`` (and
        ``replica_type`` only when verbose); list items carry ``replica_type`` but neither of
        the other two. Field names are in ``vocabulary``. ``extra_fields`` are merged last,
        as given, so they can also make a payload messy (or carry both vocabularies).
        """
        spec = self.spec
        timeline = self.timeline
        data: dict[str, Any] = {
            "replica_id": self.replica_id,
            "replica_name": self.replica_name,
            "thumbnail_video_url": self.thumbnail_video_url,
            "training_progress": f"{timeline.progress_at(now)}/100",
            "status": self.status_at(now),
            "created_at": self.created_at_iso,
        }
        if list_item:
            data["replica_type"] = spec.replica_type
            data["model_name"] = spec.model_name
        else:
            updated = timeline.last_change_at(now)
            if self.renamed_at is not None:
                updated = max(updated, self.renamed_at)
            data["updated_at"] = iso_timestamp(updated)
            failed = timeline.outcome == "error" and timeline.is_finished(now)
            data["error_message"] = spec.effective_error_message if failed else None
            data["model_name"] = spec.model_name
            if verbose:
                data["replica_type"] = spec.replica_type
        data = in_vocabulary(data, vocabulary)
        if spec.extra_fields:
            data.update(spec.extra_fields)
        return data


@dataclass
class Video:
    """One stored video: its spec and timeline, plus what a rename or a delete changes.

    Status is computed from ``timeline`` on every read, except once soft-deleted
    (``deleted_at``): then it is ``deleted``. A hard delete sets ``removed``: the video is gone.
    """

    video_id: str
    spec: VideoSpec
    timeline: VideoTimeline
    sequence: int = 0
    request: dict[str, Any] | None = None  # the POST /v2/videos body, as received
    callback_sent: bool = False  # called back once, whenever its replica's training ended
    video_name: str = field(init=False)
    renamed_at: float | None = None
    deleted_at: float | None = None
    removed: bool = False
    created_at_iso: str = field(init=False)

    def __post_init__(self) -> None:
        self.video_name = self.spec.video_name
        self.created_at_iso = iso_timestamp(self.timeline.created_at)

    def visible_to(self, api_key: str | None) -> bool:
        """Whether ``api_key`` may see this video (``None`` means the simulator's owner)."""
        if self.removed:
            return False
        owner = self.spec.owner_key
        return api_key is None or owner is None or owner == api_key

    def status_at(self, now: float) -> str:
        """``queued``, ``generating``, ``ready``, ``error`` or ``deleted`` at ``now``."""
        if self.deleted_at is not None:
            return "deleted"
        return self.timeline.status_at(now)

    def finished_at(self) -> float | None:
        """When it became ``ready`` or ``error``; ``None`` if deleted before that."""
        finished = self.timeline.finished_at
        if self.deleted_at is not None and self.deleted_at < finished:
            return None
        return finished

    def payload(
        self, now: float, *, verbose: bool = False, list_item: bool = False
    ) -> dict[str, Any]:
        """The JSON object Tavus would return for this video at ``now``.

        ``download_url`` and ``stream_url`` are null until ``ready``; ``hosted_url`` (a page
        that shows the video once ready) is given from the create on, and null once
        deleted. Verbose payloads add the thumbnails (null until ready); list items add
        ``error_details`` (the reason of an ``error``, else null). ``extra_fields`` are
        merged last, as given.
        """
        status = self.status_at(now)
        ready = status == "ready"
        ids = {"video_id": self.video_id}
        if status == "error":
            details: str = self.error_reason
        elif (
            status == "queued"
            and self.timeline.replica_ready_at is not None
            and now < self.timeline.replica_ready_at
        ):
            details = VIDEO_STATUS_DETAILS["waiting"]
        else:
            details = VIDEO_STATUS_DETAILS[status]
        # A deleted video's timeline stops at the deletion.
        updated = self.timeline.last_change_at(
            now if self.deleted_at is None else min(now, self.deleted_at)
        )
        for moment in (self.renamed_at, self.deleted_at):
            if moment is not None:
                updated = max(updated, moment)
        data: dict[str, Any] = {
            "video_id": self.video_id,
            "video_name": self.video_name,
            "status": status,
            "data": {"script": self.spec.script},
            "download_url": _DOWNLOAD_URL.format(**ids) if ready else None,
            "stream_url": _STREAM_URL.format(**ids) if ready else None,
            "hosted_url": None if status == "deleted" else _HOSTED_URL.format(**ids),
            "status_details": details,
            "created_at": self.created_at_iso,
            "updated_at": iso_timestamp(updated),
            "replica_id": self.spec.replica_id,
        }
        if verbose:
            data["still_image_thumbnail_url"] = (
                _STILL_THUMBNAIL_URL.format(**ids) if ready else None
            )
            data["gif_thumbnail_url"] = _GIF_THUMBNAIL_URL.format(**ids) if ready else None
        if list_item:
            data["error_details"] = self.error_reason if status == "error" else None
        if self.spec.extra_fields:
            data.update(self.spec.extra_fields)
        return data

    @property
    def error_reason(self) -> str:
        """``status_details`` once failed: the replica's failure or the scripted reason."""
        if self.timeline.replica_failed:
            return REPLICA_IN_ERROR_STATE
        return self.spec.effective_error_reason


class SimulatorState:
    """The simulator's store, guarded by one lock.

    Holds the replicas and the videos (in creation order), the specs scripted for videos
    created through the API, per-target fault scripts, accepted and revoked API keys,
    request statistics, and the dispatcher of training-finished and video callbacks.
    """

    def __init__(
        self,
        api_keys: Iterable[str],
        default_training_seconds: float,
        clock: Callable[[], float] = time.time,
        default_generation_seconds: float = 10.0,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.default_training_seconds = float(default_training_seconds)
        #: Generation time of videos whose spec leaves ``generation_seconds`` out.
        self.default_generation_seconds = float(default_generation_seconds)
        self._videos: dict[str, Video] = {}
        self._video_order: list[str] = []  # ids of videos not hard-deleted, creation order
        self._owned_videos = 0  # of those, videos restricted to one key
        self._video_sequence = 0
        self._next_videos: deque[VideoSpec] = deque()
        self._named_videos: dict[str, VideoSpec] = {}
        self._api_keys = frozenset(api_keys)
        self._revoked: set[str] = set()
        self._replicas: dict[str, Replica] = {}
        self._active: list[str] = []  # ids of live replicas, creation order
        self._owned_count = 0  # live replicas restricted to one key
        self._sequence = 0
        self._faults: dict[str, deque[Fault]] = {}
        self._callbacks = CallbackDispatcher(self._callback_due, self._record_callback)
        #: Lose every callback (as well as those of replicas whose spec says so).
        self.drop_callbacks = False
        #: The field names of every answer and callback: ``replicas`` or ``faces``.
        self.vocabulary: Vocabulary = "replicas"
        #: Largest page a list answers with; a larger ``limit`` is clamped to it.
        self.max_page_size = MAX_PAGE_SIZE
        #: The order of list pages: ``oldest_first`` (creation order) or ``newest_first``.
        #: Tavus documents none, so clients must work with either.
        self.list_order: ListOrder = "oldest_first"
        #: The order of video list pages (its own, so either list can be tested in either).
        self.video_list_order: ListOrder = "oldest_first"
        #: Largest page a video list answers with; a larger ``limit`` is clamped to it.
        self.video_max_page_size = MAX_PAGE_SIZE
        self._reset_stats_locked()

    # -- replicas -----------------------------------------------------------------------

    def add_replica(self, spec: ReplicaSpec) -> str:
        """Store a replica made from ``spec`` that starts training now; return its id.

        Raises:
            TypeError: ``spec`` is not a :class:`ReplicaSpec`.
            ValueError: ``spec.replica_id`` already names a live replica.
        """
        if not isinstance(spec, ReplicaSpec):
            raise TypeError(f"add_replica takes a ReplicaSpec, got {type(spec).__name__}")
        timeline = spec.timeline(self._clock(), self.default_training_seconds)
        with self._lock:
            replica_id = spec.replica_id
            if replica_id is None:
                replica_id = new_replica_id()
                while replica_id in self._replicas:
                    replica_id = new_replica_id()
            else:
                existing = self._replicas.get(replica_id)
                if existing is not None and not existing.deleted:
                    raise ValueError(f"replica {replica_id!r} already exists")
            self._replicas[replica_id] = Replica(
                replica_id=replica_id, spec=spec, timeline=timeline, sequence=self._sequence
            )
            self._sequence += 1
            self._active.append(replica_id)
            if spec.owner_key is not None:
                self._owned_count += 1
        if spec.callback_url:
            if is_loopback_url(spec.callback_url):
                self._callbacks.schedule(replica_id, timeline.finished_at)
            else:
                self._record_callback("skipped")
        return replica_id

    def _get(self, replica_id: str, api_key: str | None) -> Replica | None:
        replica = self._replicas.get(replica_id)
        if replica is None or not replica.visible_to(api_key):
            return None
        return replica

    def payload(
        self, replica_id: str, *, verbose: bool = False, api_key: str | None = None
    ) -> dict[str, Any] | None:
        """GET payload of ``replica_id`` as ``api_key`` sees it, or ``None`` if it cannot see it."""
        with self._lock:
            replica = self._get(replica_id, api_key)
            if replica is None:
                return None
            return replica.payload(self._clock(), verbose=verbose, vocabulary=self.vocabulary)

    def finished_at(self, replica_id: str) -> float | None:
        """``time.time()`` at which the replica reached its final status, ``None`` before that.

        Raises:
            KeyError: unknown (or deleted) replica.
        """
        with self._lock:
            replica = self._get(replica_id, None)
            if replica is None:
                raise KeyError(replica_id)
            timeline = replica.timeline
            return timeline.finished_at if timeline.is_finished(self._clock()) else None

    def end_training(self, replica_id: str, at: float | None = None) -> None:
        """Make a replica's training end at ``at`` (now by default), with its scripted outcome:
        a test controls the moment instead of guessing how long a busy machine takes to
        reach it. Its callback (if it has a URL) is sent at the new end, once: the one
        scheduled for the old end is then skipped. Its videos, which wait ``queued`` for the
        training, start (or fail with ``replica_in_error_state``) at the new end too, and
        their callbacks follow, once each.

        Raises:
            KeyError: unknown (or deleted) replica.
            ValueError: it has finished already, or ``at`` is before it started.
        """
        with self._lock:
            replica = self._get(replica_id, None)
            if replica is None:
                raise KeyError(replica_id)
            now = self._clock()
            end = now if at is None else at
            timeline = replica.timeline
            if timeline.is_finished(now):
                raise ValueError(f"replica {replica_id} finished training already")
            if end < timeline.started_at:
                raise ValueError("training cannot end before it started")
            replica.timeline = dataclasses.replace(timeline, duration=end - timeline.started_at)
            if replica.spec.callback_url and is_loopback_url(replica.spec.callback_url):
                self._callbacks.schedule(replica_id, end)
            # Its videos took the old end when they were created; none has started yet (the
            # training had not ended), so each now waits for the new one.
            old_end, new_end = timeline.finished_at, replica.timeline.finished_at
            for video in self._videos.values():
                if (
                    video.spec.replica_id != replica_id
                    or video.timeline.replica_ready_at != old_end
                ):
                    continue
                video.timeline = dataclasses.replace(video.timeline, replica_ready_at=new_end)
                if (
                    video.deleted_at is None
                    and video.spec.callback_url
                    and is_loopback_url(video.spec.callback_url)
                ):
                    self._callbacks.schedule(("video", video.video_id), video.timeline.finished_at)

    def list_page(
        self,
        *,
        api_key: str | None,
        limit: int,
        page: int,
        replica_type: str | None = None,
        model_name: str | None = None,
        replica_ids: Sequence[str] | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of list items (in ``list_order``) and the count of all matching replicas.

        Without filters this costs O(page); ``replica_ids`` costs O(len(replica_ids)); a
        ``replica_type`` or ``model_name`` filter alone scans the store once.
        """
        limit = max(1, min(limit, self.max_page_size))
        start = (max(page, 1) - 1) * limit
        with self._lock:
            now = self._clock()
            if replica_ids is not None:
                wanted = {rid for rid in replica_ids if rid in self._replicas}
                found = (self._replicas[rid] for rid in wanted)
                candidates: list[Replica] | None = sorted(
                    (r for r in found if r.visible_to(api_key)), key=lambda r: r.sequence
                )
            elif replica_type is None and model_name is None and self._all_visible(api_key):
                candidates = None
            else:
                candidates = [
                    r
                    for r in (self._replicas[rid] for rid in self._active)
                    if r.visible_to(api_key)
                ]
            newest_first = self.list_order == "newest_first"
            if candidates is None:
                total = len(self._active)
                if newest_first:
                    window = self._active[max(0, total - start - limit) : max(0, total - start)][
                        ::-1
                    ]
                else:
                    window = self._active[start : start + limit]
                chosen = [self._replicas[rid] for rid in window]
            else:
                if newest_first:
                    candidates.reverse()
                matching = [
                    r
                    for r in candidates
                    if (replica_type is None or r.spec.replica_type == replica_type)
                    and (model_name is None or r.spec.model_name == model_name)
                ]
                total = len(matching)
                chosen = matching[start : start + limit]
            return [
                r.payload(now, list_item=True, vocabulary=self.vocabulary) for r in chosen
            ], total

    def _all_visible(self, api_key: str | None) -> bool:
        # Fast path for the common case: no replica is restricted to a particular key.
        return api_key is None or not self._owned_count

    def rename(self, replica_id: str, replica_name: str, *, api_key: str | None = None) -> bool:
        """Rename a replica; ``False`` if ``api_key`` cannot see it."""
        with self._lock:
            replica = self._get(replica_id, api_key)
            if replica is None:
                return False
            replica.replica_name = replica_name
            replica.renamed_at = self._clock()
            return True

    def delete(self, replica_id: str, *, api_key: str | None = None) -> bool:
        """Delete a replica (it disappears from GET and lists); ``False`` if not visible."""
        with self._lock:
            replica = self._get(replica_id, api_key)
            if replica is None:
                return False
            replica.deleted = True
            self._active.remove(replica_id)
            if replica.owner_key is not None:
                self._owned_count -= 1
            return True

    # -- videos -----------------------------------------------------------------------------

    def add_video(
        self, spec: VideoSpec, *, request: dict[str, Any] | None = None, scripted: bool = False
    ) -> str:
        """Store a video made from ``spec``, created now; return its id.

        See :meth:`create_video`, which this is but for what it returns.
        """
        return self.create_video(spec, request=request, scripted=scripted)["video_id"]

    def create_video(
        self, spec: VideoSpec, *, request: dict[str, Any] | None = None, scripted: bool = False
    ) -> dict[str, Any]:
        """Store a video made from ``spec``, created now; return Tavus's create answer
        (``video_id``, ``video_name``, ``status: "queued"``, ``hosted_url``, ``created_at``).

        Its replica (``spec.replica_id``, as ``spec.owner_key`` sees it) fixes when it may
        start and whether it fails. With ``scripted`` (the simulated ``POST /v2/videos``),
        the first spec queued by :meth:`script_created_videos` is taken as the base and
        ``spec``'s request fields override it; it is consumed only if the video is stored.

        Raises:
            TypeError: ``spec`` is not a :class:`VideoSpec`.
            UnknownReplicaError: ``spec.replica_id`` names no replica that key can see.
            ValueError: the video id is already in use.
        """
        if not isinstance(spec, VideoSpec):
            raise TypeError(f"add_video takes a VideoSpec, got {type(spec).__name__}")
        with self._lock:
            now = self._clock()
            given_name = (request or {}).get("video_name")
            named = given_name if isinstance(given_name, str) else ""
            by_name = scripted and named in self._named_videos
            from_script = scripted and not by_name and bool(self._next_videos)
            if by_name:
                spec = _merge_scripted(self._named_videos[named], spec, request or {})
            elif from_script:
                spec = _merge_scripted(self._next_videos[0], spec, request or {})
            ready_at: float | None = None
            failed = False
            if spec.replica_id is not None:
                replica = self._get(spec.replica_id, spec.owner_key)
                if replica is None:
                    raise UnknownReplicaError(spec.replica_id)
                ready_at = replica.timeline.finished_at
                failed = replica.timeline.outcome == "error"
            timeline = spec.timeline(
                now,
                self.default_generation_seconds,
                replica_ready_at=ready_at,
                replica_failed=failed,
            )
            video_id = spec.video_id
            if video_id is None:
                video_id = new_video_id()
                while video_id in self._videos:
                    video_id = new_video_id()
            else:
                existing = self._videos.get(video_id)
                if existing is not None and not existing.removed:
                    raise ValueError(f"video {video_id!r} already exists")
            if by_name:
                del self._named_videos[named]
            elif from_script:
                self._next_videos.popleft()
            video = Video(
                video_id=video_id,
                spec=spec,
                timeline=timeline,
                sequence=self._video_sequence,
                request=None if request is None else dict(request),
            )
            self._videos[video_id] = video
            self._video_sequence += 1
            self._video_order.append(video_id)
            if spec.owner_key is not None:
                self._owned_videos += 1
        if spec.callback_url:
            if is_loopback_url(spec.callback_url):
                self._callbacks.schedule(("video", video_id), timeline.finished_at)
            else:
                self._record_callback("skipped")
        # The create answers "queued" whatever the video's state (even if its replica had failed).
        return {
            "video_id": video_id,
            "video_name": video.video_name,
            "status": "queued",
            "hosted_url": _HOSTED_URL.format(video_id=video_id),
            "created_at": video.created_at_iso,
        }

    def script_video_named(self, video_name: str, spec: VideoSpec) -> None:
        """Script the next video created through ``POST /v2/videos`` with this
        ``video_name``, whatever order creates arrive in (a batch sends several at once);
        it goes before the queue of :meth:`script_created_videos`."""
        if not isinstance(spec, VideoSpec):
            raise TypeError(f"expected a VideoSpec, got {spec!r}")
        with self._lock:
            self._named_videos[video_name] = spec

    def script_created_videos(self, specs: Iterable[VideoSpec]) -> int:
        """Queue specs for the next videos created through ``POST /v2/videos``, one each, in
        order; return how many are queued. What the request says (``replica_id``, ``script``,
        ``audio_url``, ``video_name``, ``callback_url``, the key) overrides the spec; the
        rest (``video_id``, ``outcome``, ``error_reason``, ``generation_seconds``,
        ``queued_seconds``, ``extra_fields``, ``drop_callback``) comes from it.
        """
        items = list(specs)
        for item in items:
            if not isinstance(item, VideoSpec):
                raise TypeError(f"expected VideoSpec values, got {item!r}")
        with self._lock:
            self._next_videos.extend(items)
            return len(self._next_videos)

    def scripted_videos_pending(self) -> int:
        """How many scripted specs wait for a ``POST /v2/videos``."""
        with self._lock:
            return len(self._next_videos)

    def _get_video(self, video_id: str, api_key: str | None) -> Video | None:
        video = self._videos.get(video_id)
        if video is None or not video.visible_to(api_key):
            return None
        return video

    def video_payload(
        self, video_id: str, *, verbose: bool = False, api_key: str | None = None
    ) -> dict[str, Any] | None:
        """GET payload of ``video_id`` as ``api_key`` sees it, or ``None`` if it cannot see it."""
        with self._lock:
            video = self._get_video(video_id, api_key)
            if video is None:
                return None
            return video.payload(self._clock(), verbose=verbose)

    def video_times(self, video_id: str) -> dict[str, Any]:
        """``started_at`` / ``finished_at`` (``time.time()``, ``None`` until reached) and the
        create ``request`` body (``None`` for a video added from Python) of a video.

        ``finished_at`` is when it became ``ready`` or ``error``; a video deleted before
        that never finishes. ``started_at`` is when generation started; never, for a video
        whose replica failed.

        Raises:
            KeyError: unknown or hard-deleted video.
        """
        with self._lock:
            video = self._get_video(video_id, None)
            if video is None:
                raise KeyError(video_id)
            now = self._clock()
            started = video.timeline.started_at
            if started is not None and (
                now < started or (video.deleted_at is not None and video.deleted_at < started)
            ):
                started = None
            finished = video.finished_at()
            if finished is not None and now < finished:
                finished = None
            return {
                "started_at": started,
                "finished_at": finished,
                "request": None if video.request is None else dict(video.request),
            }

    def video_list_page(
        self, *, api_key: str | None, limit: int, page: int
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of video list items (in ``video_list_order``) and the count of all.

        Soft-deleted videos are listed (status ``deleted``); hard-deleted ones are not.
        """
        limit = max(1, min(limit, self.video_max_page_size))
        start = (max(page, 1) - 1) * limit
        with self._lock:
            now = self._clock()
            if api_key is None or not self._owned_videos:
                ids = self._video_order
            else:
                ids = [vid for vid in self._video_order if self._videos[vid].visible_to(api_key)]
            total = len(ids)
            if self.video_list_order == "newest_first":
                window = ids[max(0, total - start - limit) : max(0, total - start)][::-1]
            else:
                window = ids[start : start + limit]
            return [self._videos[vid].payload(now, list_item=True) for vid in window], total

    def rename_video(self, video_id: str, video_name: str, *, api_key: str | None = None) -> bool:
        """Rename a video; ``False`` if ``api_key`` cannot see it."""
        with self._lock:
            video = self._get_video(video_id, api_key)
            if video is None:
                return False
            video.video_name = video_name
            video.renamed_at = self._clock()
            return True

    def delete_video(
        self, video_id: str, *, hard: bool = False, api_key: str | None = None
    ) -> bool:
        """Delete a video; ``False`` if ``api_key`` cannot see it.

        Soft: it stays readable and listed with status ``deleted`` (a second soft delete
        changes nothing). Hard: it is gone (GET answers 400, lists omit it). Either way no
        callback is sent for it any more.
        """
        with self._lock:
            video = self._get_video(video_id, api_key)
            if video is None:
                return False
            if video.deleted_at is None:
                video.deleted_at = self._clock()
            if hard:
                video.removed = True
                self._video_order.remove(video_id)
                if video.spec.owner_key is not None:
                    self._owned_videos -= 1
            return True

    # -- faults ---------------------------------------------------------------------------

    def inject_faults(self, target: str, faults: Iterable[Fault]) -> int:
        """Append ``faults`` to the script of ``target`` (a replica or video id, a route or
        ``"*"``); return its length."""
        items = list(faults)
        for item in items:
            if not isinstance(item, Fault):
                raise TypeError(f"expected Fault values, got {item!r}")
        with self._lock:
            script = self._faults.setdefault(target, deque())
            script.extend(items)
            return len(script)

    def take_fault(self, targets: Sequence[str]) -> Fault | None:
        """Consume the next fault of the first target (in order) whose script is not empty."""
        with self._lock:
            for target in targets:
                script = self._faults.get(target)
                if script:
                    fault = script.popleft()
                    if not script:
                        del self._faults[target]
                    self._stats_faults += 1
                    return fault
            return None

    def pending_faults(self) -> dict[str, int]:
        """How many faults each target still has queued."""
        with self._lock:
            return {target: len(script) for target, script in self._faults.items()}

    # -- keys -----------------------------------------------------------------------------

    def is_authorized(self, api_key: str | None) -> bool:
        """Whether ``api_key`` is accepted (configured and not revoked)."""
        if api_key is None:
            return False
        with self._lock:
            return api_key in self._api_keys and api_key not in self._revoked

    def revoke_key(self, api_key: str) -> None:
        """Make ``api_key`` get 401 from now on."""
        with self._lock:
            self._revoked.add(api_key)

    @property
    def api_keys(self) -> tuple[str, ...]:
        """The configured API keys (revoked ones included), sorted."""
        return tuple(sorted(self._api_keys))

    # -- statistics -----------------------------------------------------------------------

    def _reset_stats_locked(self) -> None:
        self._stats_requests = 0
        self._stats_by_route: Counter[str] = Counter()
        self._stats_by_replica: Counter[str] = Counter()
        self._stats_by_video: Counter[str] = Counter()
        self._stats_unauthorized = 0
        self._stats_faults = 0
        self._stats_connections = 0
        self._stats_callbacks: Counter[str] = Counter()

    def record_request(
        self, route: str, replica_id: str | None = None, video_id: str | None = None
    ) -> None:
        """Count one API request on ``route`` (and on ``replica_id`` for single-replica GETs,
        ``video_id`` for single-video GETs)."""
        with self._lock:
            self._stats_requests += 1
            self._stats_by_route[route] += 1
            if replica_id is not None:
                self._stats_by_replica[replica_id] += 1
            if video_id is not None:
                self._stats_by_video[video_id] += 1

    def record_unauthorized(self) -> None:
        """Count one request refused with 401 by the key check."""
        with self._lock:
            self._stats_unauthorized += 1

    def record_connection(self) -> None:
        """Count one accepted TCP connection (shows whether clients reuse keep-alive)."""
        with self._lock:
            self._stats_connections += 1

    def _record_callback(self, result: CallbackResult) -> None:
        with self._lock:
            self._stats_callbacks[result] += 1

    def stats(self) -> dict[str, Any]:
        """Request counts since the last reset (a fresh, JSON-serialisable copy)."""
        with self._lock:
            return {
                "requests": self._stats_requests,
                "by_route": dict(self._stats_by_route),
                "by_replica": dict(self._stats_by_replica),
                "by_video": dict(self._stats_by_video),
                "unauthorized": self._stats_unauthorized,
                "faults_served": self._stats_faults,
                "connections": self._stats_connections,
                "callbacks": {
                    "delivered": self._stats_callbacks["delivered"],
                    "failed": self._stats_callbacks["failed"],
                    "skipped": self._stats_callbacks["skipped"],
                    "dropped": self._stats_callbacks["dropped"],
                },
            }

    def reset_stats(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._reset_stats_locked()

    # -- lifecycle --------------------------------------------------------------------------

    def reset(self) -> None:
        """Drop all replicas, videos, scripted videos, fault scripts, revocations, pending
        callbacks and statistics."""
        self._callbacks.clear()
        with self._lock:
            self._replicas.clear()
            self._active.clear()
            self._owned_count = 0
            self._videos.clear()
            self._video_order.clear()
            self._owned_videos = 0
            self._next_videos.clear()
            self._named_videos.clear()
            self._faults.clear()
            self._revoked.clear()
            self._reset_stats_locked()

    def close(self) -> None:
        """Stop the callback thread (pending callbacks are dropped)."""
        self._callbacks.stop()

    def _callback_due(self, key: CallbackKey) -> tuple[str, dict[str, Any]] | None:
        if isinstance(key, tuple):
            return self._video_callback_due(key[1])
        replica_id = key
        with self._lock:
            replica = self._replicas.get(replica_id)
            if replica is None or replica.deleted or not replica.spec.callback_url:
                return None
            if replica.callback_sent or not replica.timeline.is_finished(self._clock()):
                return None  # an entry for an end that end_training has moved
            replica.callback_sent = True
            if self.drop_callbacks or replica.spec.drop_callback:
                self._stats_callbacks["dropped"] += 1
                return None
            if replica.timeline.outcome == "error":
                body: dict[str, Any] = {
                    "replica_id": replica_id,
                    "status": "error",
                    "error_message": replica.spec.effective_error_message,
                }
            else:
                body = {"replica_id": replica_id, "status": "ready"}
            return replica.spec.callback_url, in_vocabulary(body, self.vocabulary)

    def _video_callback_due(self, video_id: str) -> tuple[str, dict[str, Any]] | None:
        # The whole video object, as a GET would answer it now (ready or error), plus the
        # generation_progress that only callbacks carry.
        with self._lock:
            video = self._videos.get(video_id)
            if video is None or video.deleted_at is not None or not video.spec.callback_url:
                return None
            if video.callback_sent or not video.timeline.is_finished(self._clock()):
                return None  # an entry for an end that end_training has moved
            video.callback_sent = True
            if self.drop_callbacks or video.spec.drop_callback:
                self._stats_callbacks["dropped"] += 1
                return None
            body = video.payload(max(self._clock(), video.timeline.finished_at))
            body["generation_progress"] = "100/100"
            return video.spec.callback_url, body


def _merge_scripted(scripted: VideoSpec, spec: VideoSpec, request: dict[str, Any]) -> VideoSpec:
    """``scripted`` with what the request chose: its replica, script or audio, key and, when
    given, name and callback URL."""
    changes: dict[str, Any] = {
        "replica_id": spec.replica_id,
        "script": spec.script,
        "audio_url": spec.audio_url,
        "owner_key": spec.owner_key,
    }
    if request.get("video_name") is not None:
        changes["video_name"] = spec.video_name
    if request.get("callback_url") is not None:
        changes["callback_url"] = spec.callback_url
    return dataclasses.replace(scripted, **changes)
