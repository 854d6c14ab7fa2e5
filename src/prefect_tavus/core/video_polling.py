"""One poll round over many videos: learn each pending video's status as cheaply as Tavus allows.

Replicas can be asked about many at a time (``GET /v2/replicas?replica_ids=...``); videos
cannot: ``GET /v2/videos`` takes only ``page`` and ``limit`` (documented default 10), documents
no order and no largest ``limit``, and has no id filter. So a round has two ways to learn a
video's status, with opposite costs:

* ``get``: one ``GET /v2/videos/{id}`` per pending video. N requests, whatever the account
  holds; a 400/404 is a definitive "no such video".
* ``list``: read list pages until every pending id has been seen. About N / page-size
  requests when the pending videos are the account's newest (the usual case: a pipeline
  waits on the videos it just created), but up to every page of the account when they are
  not, and an id the list leaves out is only *not seen* (deleted, mistyped, or shifted
  between two pages while the list changed), never a definitive answer.

``auto`` (the default) takes the best of both: GETs for a batch too small for a page to pay,
else list pages from the newest end, and GETs for whatever the pages did not show once
reading more pages stops paying (see :func:`should_switch_to_gets`).

Nothing about the list is assumed that Tavus does not document; it is learnt from the
answers of the round itself:

* the real page size: a page shorter than asked while ``total_count`` says more remain
  means Tavus caps ``limit`` (:func:`observed_page_size`);
* the number of pages, from ``total_count`` and that page size (:func:`page_count`);
* the order, from the ``created_at`` of the items read so far (:func:`detect_order`): with
  oldest-first pages the newest videos are on the *last* pages, so the scan jumps there
  instead of walking the whole account (:func:`next_page`).

Every decision is a small pure function here, tested without a server; :func:`read_videos`
only does the requests. The module imports no Prefect (``tasks/`` wraps it in a task run).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Literal

from prefect_tavus.core._time import assume_utc
from prefect_tavus.core.client import DEFAULT_VIDEO_PAGE_SIZE, TavusClient
from prefect_tavus.core.errors import InvalidVideoIdError, TavusNotFoundError, TavusTransientError
from prefect_tavus.core.validation import validate_video_id
from prefect_tavus.core.videos import Video
from prefect_tavus.core.waiting import PollRound

__all__ = [
    "DEFAULT_GET_CONCURRENCY",
    "GET_EACH_MAX",
    "ListOrder",
    "ReadStrategy",
    "VideoRead",
    "choose_strategy",
    "detect_order",
    "next_page",
    "observed_page_size",
    "page_count",
    "read_videos",
    "read_videos_with_report",
    "should_switch_to_gets",
]

#: What ``strategy`` may ask for: ``auto`` decides per round (see :func:`choose_strategy`).
ReadStrategy = Literal["auto", "get", "list"]
#: The order of ``GET /v2/videos`` as learnt from ``created_at``; ``unknown`` until the
#: answers show one (ties, missing timestamps, or an order by something else).
ListOrder = Literal["oldest_first", "newest_first", "unknown"]

#: With this many pending videos or fewer, ``auto`` GETs each without looking at the list.
#: Before any answer nothing is known of the order, so the cheapest list read is one page
#: (newest-first, all of them on page 1) or two (oldest-first: page 1 to learn
#: ``total_count``, then the last page). Two GETs are never worse than that, and they answer
#: an unknown id definitively.
GET_EACH_MAX = 2
#: GETs in flight at once. Tavus documents no rate limit; four keep a round of GETs from
#: taking N round trips on a real network without bursting at it. The client's
#: ``request_slot`` (the Prefect layer's global concurrency limit) still applies to each.
DEFAULT_GET_CONCURRENCY = 4


# --- the decisions (pure) ----------------------------------------------------------------


def choose_strategy(pending: int, strategy: ReadStrategy = "auto") -> Literal["get", "list"]:
    """How a round starts: ``get`` or ``list``. An explicit strategy is kept; ``auto`` GETs
    batches of at most :data:`GET_EACH_MAX` (no list read can beat that, whatever the order)
    and lists for anything larger (one page can report up to page-size videos at once;
    :func:`should_switch_to_gets` bounds what the list may cost if they are not there)."""
    if strategy not in ("auto", "get", "list"):
        raise ValueError(f"strategy must be 'auto', 'get' or 'list', got {strategy!r}.")
    if strategy != "auto":
        return strategy
    return "get" if pending <= GET_EACH_MAX else "list"


def detect_order(created_at_by_page: Mapping[int, Sequence[datetime | None]]) -> ListOrder:
    """The list's order as the pages read so far show it.

    ``created_at_by_page`` maps each page number read to its items' ``created_at`` in the
    order answered. They are read as one sequence, pages in ascending number: oldest-first
    if no timestamp is earlier than one before it and at least one is later, newest-first
    the other way round, else ``unknown`` (all equal, fewer than two known, or both
    directions seen, i.e. an order by something other than creation). Comparing across
    pages is what resolves a page whose videos were all created in the same millisecond:
    page 1 against the last page tells the order even then. Timestamps without a zone are
    taken as UTC (as :class:`~prefect_tavus.core.videos.Video` does), so they compare.
    """
    moments: list[datetime] = []
    for page in sorted(created_at_by_page):
        moments.extend(
            assume_utc(moment) for moment in created_at_by_page[page] if moment is not None
        )
    rises = falls = False
    for earlier, later in pairwise(moments):
        if later > earlier:
            rises = True
        elif later < earlier:
            falls = True
    if rises and not falls:
        return "oldest_first"
    if falls and not rises:
        return "newest_first"
    return "unknown"


def observed_page_size(asked: int, answered: int, total_count: int | None) -> int:
    """The page size Tavus really uses, from page 1's answer to ``limit=asked``.

    More items than asked: Tavus ignored ``limit``, and pages are that long. Fewer than
    asked while ``total_count`` says more exist: Tavus caps ``limit`` there (it documents
    no maximum). Otherwise (a full page, the whole list on one page, or no
    ``total_count`` to tell a cap from the end) pages are taken as ``asked`` long; without
    a total a short page then ends the list, as :meth:`TavusClient.iter_videos` does.
    """
    if answered > asked:
        return answered
    if 0 < answered < asked and total_count is not None and answered < total_count:
        return answered
    return asked


def page_count(total_count: int | None, page_size: int) -> int | None:
    """Pages the list spans (``None`` without a ``total_count``: then it is read until a
    short or empty page). At least 1, since page 1 is always read."""
    if total_count is None:
        return None
    return max(1, math.ceil(total_count / page_size))


def next_page(
    order: ListOrder, pages: int | None, read: Collection[int], *, ended: bool = False
) -> int | None:
    """The next page to read, the most recent videos first; ``None`` when none is left.

    * oldest-first: the highest page not read yet (the newest videos are at the end, so a
      wait on recent videos reads the last pages and never the account's old ones);
    * newest-first: the lowest page not read yet;
    * unknown, with the page count known: the last page first (compared with page 1 it
      reveals the order, and it is where recent videos are if the list is oldest-first),
      then the lowest page not read yet;
    * without a page count (no ``total_count``): the page after the highest read, until a
      short or empty page has ``ended`` the list.
    """
    if pages is None:
        return None if ended else max(read, default=0) + 1
    unread = [page for page in range(1, pages + 1) if page not in read]
    if not unread:
        return None
    if order == "oldest_first":
        return unread[-1]
    if order == "unknown" and pages in unread:
        return pages
    return unread[0]


def should_switch_to_gets(unseen: int, fruitless_pages: int, page_size: int) -> bool:
    """Whether ``auto`` stops reading pages and GETs the ``unseen`` ids instead.

    Yes when a page cannot beat the GETs even at best (``ceil(unseen / page_size) >=
    unseen``: one id left, or pages of one), and when the pages that showed no pending id
    (``fruitless_pages``, page 1 included) have cost as many requests as GETting the unseen
    ids would. The second rule is the ski-rental bound: the list is where recent videos
    are cheapest to find, but nothing says the pending ones are recent, deleted ones are
    on no page at all, and without it an unknown id would cost a walk of the whole account
    (10,000 videos = 100 pages) every round. With it a round costs at most about twice the
    GETs it replaces, and usually a handful of pages.
    """
    if unseen <= 0:
        return False
    return math.ceil(unseen / max(1, page_size)) >= unseen or fruitless_pages >= unseen


# --- the round (I/O) ---------------------------------------------------------------------


@dataclass(frozen=True)
class VideoRead:
    """A round's :class:`~prefect_tavus.core.waiting.PollRound` and how it was obtained,
    for logs and benchmarks: the engine can say why a round cost what it did.

    Attributes:
        round: what the round learnt (found / received_at / missing / failed).
        strategy: ``get`` (GETs only), ``list`` (pages only) or ``list+get`` (pages, then
            GETs for the ids they did not show); ``none`` for no ids.
        pages_read: list pages read, in the order read.
        gets: ``GET /v2/videos/{id}`` requests sent.
        order: the list order learnt (``unknown`` if no page was read or none was shown).
        page_size: the page size learnt from page 1 (``None`` if no page was read).
        total_count: page 1's ``total_count`` (``None`` if absent or no page was read).
    """

    round: PollRound
    strategy: Literal["none", "get", "list", "list+get"]
    pages_read: tuple[int, ...] = ()
    gets: int = 0
    order: ListOrder = "unknown"
    page_size: int | None = None
    total_count: int | None = None

    @property
    def requests(self) -> int:
        """Requests this round sent (those of a failed round included)."""
        return len(self.pages_read) + self.gets


@dataclass
class _Scan:
    """What a list scan learnt; mutable while it runs, so that a failure keeps the counts."""

    found: dict[str, Video] = field(default_factory=dict)
    received_at: dict[str, float] = field(default_factory=dict)
    pages_read: list[int] = field(default_factory=list)
    order: ListOrder = "unknown"
    page_size: int | None = None
    total_count: int | None = None


@dataclass
class _Gets:
    found: dict[str, Video] = field(default_factory=dict)
    received_at: dict[str, float] = field(default_factory=dict)
    missing: dict[str, TavusNotFoundError] = field(default_factory=dict)
    sent: int = 0


def _pending_ids(video_ids: Sequence[str]) -> list[str]:
    """Validated ids, duplicates dropped, first occurrence's order kept. A bare string is
    refused: iterating it would poll one video per character."""
    if isinstance(video_ids, str):
        raise InvalidVideoIdError(
            f"video_ids must be a list of ids, not one string; for one video pass [{video_ids!r}]."
        )
    return list(
        dict.fromkeys(
            validate_video_id(vid, name=f"video_ids[{i}]") for i, vid in enumerate(video_ids)
        )
    )


async def _scan_list(
    client: TavusClient, pending: Sequence[str], *, page_size: int, stop_early: bool, scan: _Scan
) -> None:
    """Read list pages, most recent first, until every pending id has been seen, the list
    is exhausted, or (``stop_early``) :func:`should_switch_to_gets` says GETs are cheaper.
    Page 1 is always read first: its ``total_count`` and length give the geometry, and
    nothing else can be asked for before them."""
    wanted = frozenset(pending)
    unseen = set(pending)
    created: dict[int, list[datetime | None]] = {}
    fruitless = 0
    pages: int | None = None
    size = page_size
    ended = False
    page = 1
    while True:
        scan.pages_read.append(page)  # before the request: a failed round still says what it sent
        result = await client.list_videos(page=page, limit=page_size)
        arrived = time.time()
        created[page] = [video.created_at for video in result.data]
        hits = 0
        for video in result.data:
            if video.video_id in wanted:
                hits += video.video_id in unseen
                unseen.discard(video.video_id)
                scan.found[video.video_id] = video  # seen twice (the list moved): keep the later
                scan.received_at[video.video_id] = arrived
        fruitless += hits == 0
        if page == 1:
            scan.total_count = result.total_count
            size = scan.page_size = observed_page_size(
                page_size, len(result.data), result.total_count
            )
            pages = page_count(result.total_count, size)
        if pages is None and len(result.data) < size:
            ended = True  # no total to go by: a short or empty page is the end
        scan.order = detect_order(created)
        if not unseen:
            return
        if stop_early and should_switch_to_gets(len(unseen), fruitless, size):
            return
        following = next_page(scan.order, pages, scan.pages_read, ended=ended)
        if following is None:
            return
        page = following


async def _get_each(
    client: TavusClient, ids: Sequence[str], *, concurrency: int, gets: _Gets
) -> None:
    """One GET per id, at most ``concurrency`` at a time. The first error (transient or
    not) cancels the GETs still running and is raised: the round has failed either way,
    and sending more requests into an outage only lengthens it."""
    queue = iter(ids)

    async def worker() -> None:
        for video_id in queue:  # shared: each id is taken by exactly one worker
            gets.sent += 1
            try:
                video = await client.get_video(video_id)
            except TavusNotFoundError as error:
                gets.missing[video_id] = error
                gets.received_at[video_id] = time.time()
                continue
            gets.found[video_id] = video
            gets.received_at[video_id] = time.time()

    workers = [asyncio.ensure_future(worker()) for _ in range(max(1, min(concurrency, len(ids))))]
    try:
        await asyncio.gather(*workers)
    except BaseException:
        for running in workers:
            running.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        raise


async def read_videos_with_report(
    client: TavusClient,
    video_ids: Sequence[str],
    *,
    page_size: int = DEFAULT_VIDEO_PAGE_SIZE,
    strategy: ReadStrategy = "auto",
    max_concurrency: int = DEFAULT_GET_CONCURRENCY,
) -> VideoRead:
    """:func:`read_videos`, with how the round went (strategy, pages, GETs, what it learnt
    of the list). Same arguments, same errors."""
    pending = _pending_ids(video_ids)
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise ValueError(f"page_size must be a positive integer, got {page_size!r}.")
    if (
        isinstance(max_concurrency, bool)
        or not isinstance(max_concurrency, int)
        or max_concurrency < 1
    ):
        raise ValueError(f"max_concurrency must be a positive integer, got {max_concurrency!r}.")
    start = choose_strategy(len(pending), strategy)
    if not pending:
        return VideoRead(round=PollRound(), strategy="none")
    scan, gets = _Scan(), _Gets()
    used: Literal["get", "list", "list+get"] = start

    def report(poll_round: PollRound) -> VideoRead:
        return VideoRead(
            round=poll_round,
            strategy=used,
            pages_read=tuple(scan.pages_read),
            gets=gets.sent,
            order=scan.order,
            page_size=scan.page_size,
            total_count=scan.total_count,
        )

    try:
        if start == "get":
            await _get_each(client, pending, concurrency=max_concurrency, gets=gets)
            return report(
                PollRound(
                    found=dict(gets.found),  # PollRound.found is typed for replicas
                    received_at=dict(gets.received_at),
                    missing=dict(gets.missing),
                )
            )
        await _scan_list(
            client, pending, page_size=page_size, stop_early=strategy == "auto", scan=scan
        )
        unseen = [video_id for video_id in pending if video_id not in scan.found]
        if strategy == "list" or not unseen:
            return report(
                PollRound(
                    found=dict(scan.found),
                    received_at=dict(scan.received_at),
                    missing=dict.fromkeys(unseen),
                )
            )
        used = "list+get"
        await _get_each(client, unseen, concurrency=max_concurrency, gets=gets)
        return report(
            PollRound(
                found={**scan.found, **gets.found},
                received_at={**scan.received_at, **gets.received_at},
                missing=dict(gets.missing),
            )
        )
    except TavusTransientError as error:
        return report(PollRound.failure(error))


async def read_videos(
    client: TavusClient,
    video_ids: Sequence[str],
    *,
    page_size: int = DEFAULT_VIDEO_PAGE_SIZE,
    strategy: ReadStrategy = "auto",
    max_concurrency: int = DEFAULT_GET_CONCURRENCY,
) -> PollRound:
    """Learn the status of every video in ``video_ids``: one poll round of a wait on videos.

    Args:
        client: an open :class:`~prefect_tavus.core.client.TavusClient`.
        video_ids: the pending videos (validated; duplicates are asked about once). Empty
            sends nothing.
        page_size: ``limit`` of each list request. Tavus may answer fewer (then the real
            page size is learnt from page 1 and pages are counted with it).
        strategy: ``get`` (one GET per video), ``list`` (list pages only, until all are
            seen or the list ends; ids not seen are reported missing with None) or
            ``auto`` (GETs for up to :data:`GET_EACH_MAX` videos, else list pages from the
            newest end and GETs for the ids they do not show once more pages stop paying;
            see :func:`should_switch_to_gets`).
        max_concurrency: GETs in flight at once.

    Returns:
        A :class:`~prefect_tavus.core.waiting.PollRound`: ``found`` id -> :class:`Video`,
        ``received_at`` id -> ``time.time()`` of the answer that reported it, ``missing``
        id -> the :class:`~prefect_tavus.core.errors.TavusNotFoundError` of a GET that
        answered 400/404 (definitive), or None when a list scan did not show it and no GET
        was made (only with ``strategy="list"``: the caller confirms). A soft-deleted video
        is *found*, with status ``deleted``. A transient fault (429, 5xx, timeout, dropped
        connection, garbled answer) stops the round and comes back as ``failed``, with
        nothing else set, so that a wait can count an outage in time instead of raising.

    Raises:
        TavusAuthenticationError: the key was refused (and any other permanent refusal:
            retrying cannot help, so the wait should end).
        InvalidVideoIdError: an id that cannot be a video id, before anything is sent.
        ValueError: a bad ``strategy``, ``page_size`` or ``max_concurrency``.
    """
    read = await read_videos_with_report(
        client, video_ids, page_size=page_size, strategy=strategy, max_concurrency=max_concurrency
    )
    return read.round
