"""``read_videos``: one poll round over many videos, against the simulator over loopback HTTP,
and the pure decisions behind it (strategy, page size, page count, order, next page, when to
stop listing)."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from prefect_tavus.core import (
    InvalidVideoIdError,
    TavusAuthenticationError,
    TavusClient,
    TavusConnectionError,
    TavusMalformedResponseError,
    TavusNotFoundError,
    TavusServerError,
    Video,
    count_requests,
)
from prefect_tavus.core.video_polling import (
    GET_EACH_MAX,
    choose_strategy,
    detect_order,
    next_page,
    observed_page_size,
    page_count,
    read_videos,
    read_videos_with_report,
    should_switch_to_gets,
)
from prefect_tavus.core.waiting import PollRound
from prefect_tavus.simulator import Fault

LIST = "GET /v2/videos"
GET = "GET /v2/videos/{id}"
T0 = datetime(2025, 7, 14, 9, 0, tzinfo=timezone.utc)


def _at(*seconds: float) -> list[datetime | None]:
    return [T0 + timedelta(seconds=s) for s in seconds]


# --- pure decisions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pending", "expected"),
    [(0, "get"), (1, "get"), (GET_EACH_MAX, "get"), (GET_EACH_MAX + 1, "list"), (5000, "list")],
)
def test_auto_gets_only_batches_no_list_read_can_beat(pending, expected):
    assert choose_strategy(pending) == expected


def test_an_explicit_strategy_is_kept_and_a_bad_one_refused():
    assert choose_strategy(1, "list") == "list"
    assert choose_strategy(5000, "get") == "get"
    with pytest.raises(ValueError, match="strategy"):
        choose_strategy(3, "pages")  # type: ignore[arg-type]


def test_order_is_read_from_created_at_in_either_direction():
    assert detect_order({1: _at(0, 1, 1, 2)}) == "oldest_first"
    assert detect_order({1: _at(2, 1, 1, 0)}) == "newest_first"


@pytest.mark.parametrize("page", [_at(5, 5, 5), _at(5), [], [None, None], _at(0, 2, 1)])
def test_order_stays_unknown_on_ties_too_little_or_contradicting_evidence(page):
    assert detect_order({1: page}) == "unknown"


def test_ties_within_a_page_are_resolved_by_comparing_pages():
    tied = _at(3, 3, 3)
    assert detect_order({1: tied, 7: _at(9, 9)}) == "oldest_first"  # the last page is newer
    assert (
        detect_order({7: _at(9, 9), 1: _at(20, 20)}) == "newest_first"
    )  # pages taken by number, not insertion
    assert detect_order({1: tied, 7: _at(3)}) == "unknown"


def test_order_skips_missing_timestamps_and_compares_naive_as_utc():
    naive_later = (T0 + timedelta(seconds=1)).replace(tzinfo=None)
    assert detect_order({1: [T0, None, naive_later]}) == "oldest_first"


@pytest.mark.parametrize(
    ("asked", "answered", "total", "expected"),
    [
        (100, 100, 5000, 100),  # a full page: as asked
        (100, 50, 5000, 50),  # shorter while more remain: Tavus caps limit at 50
        (100, 30, 30, 100),  # the whole list on one page: nothing learnt, nothing needed
        (10, 25, 5000, 25),  # limit ignored, longer pages
        (100, 30, None, 100),  # no total: a cap cannot be told from the end
        (100, 0, 5000, 100),  # an empty page says nothing about the size
    ],
)
def test_the_real_page_size_is_learnt_from_page_one(asked, answered, total, expected):
    assert observed_page_size(asked, answered, total) == expected


@pytest.mark.parametrize(
    ("total", "size", "expected"),
    [(None, 100, None), (0, 100, 1), (100, 100, 1), (101, 100, 2), (10_050, 100, 101), (60, 7, 9)],
)
def test_page_count(total, size, expected):
    assert page_count(total, size) == expected


def test_next_page_walks_from_the_newest_end():
    assert next_page("oldest_first", 5, {1}) == 5
    assert next_page("oldest_first", 5, {1, 5, 4}) == 3
    assert next_page("newest_first", 5, {1}) == 2
    assert next_page("newest_first", 5, {1, 2, 3, 4, 5}) is None
    assert next_page("oldest_first", 1, {1}) is None


def test_next_page_with_an_unknown_order_reads_the_last_page_then_walks_forward():
    assert next_page("unknown", 9, {1}) == 9
    assert next_page("unknown", 9, {1, 9}) == 2
    assert next_page("unknown", 9, {1, 9, 2}) == 3


def test_next_page_without_a_total_walks_forward_until_the_list_ends():
    assert next_page("oldest_first", None, {1}) == 2  # no total: the last page cannot be found
    assert next_page("unknown", None, {1, 2}) == 3
    assert next_page("newest_first", None, {1, 2}, ended=True) is None


@pytest.mark.parametrize(
    ("unseen", "fruitless", "size", "expected"),
    [
        (0, 5, 100, False),  # nothing left to look for
        (1, 0, 100, True),  # one GET is never worse than one page
        (40, 1, 1, True),  # pages of one cannot beat GETs
        (40, 39, 100, False),  # pages may still pay
        (40, 40, 100, True),  # fruitless pages cost what the GETs would
        (3, 3, 100, True),
    ],
)
def test_auto_switches_to_gets_when_pages_stop_paying(unseen, fruitless, size, expected):
    assert should_switch_to_gets(unseen, fruitless, size) is expected


def test_the_module_imports_without_prefect():
    code = (
        "import sys, prefect_tavus.core.video_polling\n"
        "assert 'prefect' not in sys.modules, sorted(m for m in sys.modules if m.startswith('prefect.'))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --- against the simulator ---------------------------------------------------------------


@pytest.fixture
def sim(tavus_simulator):
    tavus_simulator.reset_stats()
    return tavus_simulator


@pytest.fixture
async def client(sim, tavus_simulator_key):
    async with TavusClient(tavus_simulator_key, base_url=sim.url, timeout=5) as tavus:
        yield tavus


def _account(
    sim, *, older: int, pending: int, order: str, max_page: int | None = None
) -> list[str]:
    """``older`` unrelated videos, then ``pending`` newer ones (returned); stats zeroed.

    Each is stamped a second after the one before: videos added in the same millisecond
    tie, and then the order is unknown (tested on its own below)."""
    sim.state.video_list_order = order
    if max_page is not None:
        sim.state.video_max_page_size = max_page

    def stamp(index: int) -> dict[str, str]:
        return {"created_at": (T0 + timedelta(seconds=index)).isoformat().replace("+00:00", "Z")}

    for i in range(older):
        sim.add_video(script="old", generation_seconds=0, extra_fields=stamp(i))
    ids = [
        sim.add_video(script=f"new {i}", generation_seconds=60, extra_fields=stamp(older + i))
        for i in range(pending)
    ]
    sim.reset_stats()
    return ids


def _lists_and_gets(sim) -> tuple[int, int]:
    routes = sim.stats()["by_route"]
    return routes.get(LIST, 0), routes.get(GET, 0)


@pytest.mark.parametrize(("order", "pages"), [("oldest_first", (1, 3)), ("newest_first", (1,))])
async def test_auto_lists_from_the_newest_end_in_either_order(sim, client, order, pages):
    ids = _account(sim, older=250, pending=30, order=order)
    before = time.time()
    read = await read_videos_with_report(client, ids)
    result = read.round
    assert result.failed is None and result.missing == {}
    assert set(result.found) == set(ids)
    assert all(
        isinstance(v, Video) and v.status == sim.video_payload(vid)["status"]
        for vid, v in result.found.items()
    )
    assert all(before <= result.received_at[vid] <= time.time() for vid in ids)
    # oldest-first: page 1 (the oldest) to learn the geometry, then straight to the last page
    assert read.order == order and read.pages_read == pages and read.gets == 0
    assert read.strategy == "list" and read.total_count == 280 and read.page_size == 100
    assert _lists_and_gets(sim) == (len(pages), 0)


@pytest.mark.parametrize(
    ("order", "pages"), [("oldest_first", (1, 9, 8, 7, 6)), ("newest_first", (1, 2, 3))]
)
@pytest.mark.parametrize("strategy", ["auto", "list"])
async def test_a_page_smaller_than_asked_is_learnt_and_pages_counted_with_it(
    sim, client, order, pages, strategy
):
    ids = _account(sim, older=40, pending=20, order=order, max_page=7)
    read = await read_videos_with_report(client, ids, page_size=100, strategy=strategy)
    assert set(read.round.found) == set(ids) and read.round.missing == {}
    assert read.page_size == 7 and read.total_count == 60
    assert (
        read.pages_read == pages
    )  # 9 pages of 7; the 20 newest are on 9..6 (oldest-first) or 1..3
    assert _lists_and_gets(sim) == (len(pages), 0)


async def test_ties_in_created_at_leave_the_order_unknown_and_the_last_page_is_read_next(
    sim, client
):
    sim.state.video_list_order = "oldest_first"
    same = {"created_at": "2025-07-14T09:00:00.000Z"}
    for _ in range(250):
        sim.add_video(script="old", extra_fields=same)
    ids = [sim.add_video(script="new", extra_fields=same) for _ in range(30)]
    sim.reset_stats()
    read = await read_videos_with_report(client, ids)
    assert read.order == "unknown"  # nothing in the answers tells
    assert read.pages_read == (1, 3) and set(read.round.found) == set(ids)


async def test_a_list_ordered_by_something_else_is_scanned_forward(sim, client):
    sim.state.video_list_order = "oldest_first"
    # created_at going back and forth: neither order holds.
    for i in range(250):
        sim.add_video(
            script="old", extra_fields={"created_at": f"2025-07-14T09:00:{(i * 7) % 60:02d}.000Z"}
        )
    ids = [sim.add_video(script="new") for _ in range(30)]
    sim.reset_stats()
    read = await read_videos_with_report(client, ids, strategy="list")
    assert read.order == "unknown" and set(read.round.found) == set(ids)
    assert read.pages_read == (1, 3)  # the last page first, and it held them all


async def test_a_soft_deleted_video_is_found_deleted_and_a_hard_deleted_one_is_not_found(
    sim, client
):
    ids = _account(sim, older=150, pending=10, order="oldest_first")
    soft, hard = ids[0], ids[1]
    sim.delete_video(soft)
    sim.delete_video(hard, hard=True)
    read = await read_videos_with_report(client, ids)
    assert read.round.found[soft].status == "deleted" and read.round.found[soft].is_deleted
    assert hard not in read.round.found
    assert isinstance(
        read.round.missing[hard], TavusNotFoundError
    )  # confirmed by a GET: definitive
    assert hard in read.round.received_at
    assert read.strategy == "list+get" and read.gets == 1
    assert sim.stats()["by_video"] == {hard: 1}


async def test_list_only_reports_an_unseen_video_as_missing_without_a_get(sim, client):
    ids = _account(sim, older=150, pending=10, order="newest_first")
    sim.delete_video(ids[3], hard=True)
    result = await read_videos(client, ids, strategy="list")
    assert result.missing == {ids[3]: None}
    assert set(result.found) == set(ids) - {ids[3]}
    assert _lists_and_gets(sim) == (2, 0)  # the whole list (160 videos) was read, no GET


@pytest.mark.parametrize("strategy", ["auto", "get"])
async def test_an_unknown_id_is_not_found(sim, client, strategy):
    ids = _account(sim, older=20, pending=4, order="oldest_first")
    result = await read_videos(client, [*ids, "vdoesnotexist"], strategy=strategy)
    assert set(result.found) == set(ids)
    assert list(result.missing) == ["vdoesnotexist"]
    assert isinstance(result.missing["vdoesnotexist"], TavusNotFoundError)


async def test_auto_bounds_what_unknown_ids_cost_in_a_large_account(sim, client):
    """Unknown ids are on no page: auto must not walk the account's 20 pages for them."""
    _account(sim, older=2000, pending=0, order="newest_first")
    unknown = ["vnope000001", "vnope000002", "vnope000003"]
    with count_requests() as sent:
        read = await read_videos_with_report(client, unknown)
    assert set(read.round.missing) == set(unknown)
    assert all(isinstance(error, TavusNotFoundError) for error in read.round.missing.values())
    assert (
        read.pages_read == (1, 2, 3) and read.gets == 3
    )  # 3 fruitless pages = the 3 GETs, then GETs
    assert sent[0] == 6 == sum(_lists_and_gets(sim))


async def test_small_batches_are_gets_and_duplicates_asked_once(sim, client):
    ids = _account(sim, older=300, pending=2, order="oldest_first")
    read = await read_videos_with_report(client, [ids[0], ids[1], ids[0]])
    assert read.strategy == "get" and read.pages_read == () and read.gets == 2
    assert set(read.round.found) == set(ids)
    assert sim.stats()["by_video"] == {ids[0]: 1, ids[1]: 1}


async def test_no_ids_send_nothing_and_a_bare_string_is_refused(sim, client):
    assert await read_videos(client, []) == PollRound()
    with pytest.raises(InvalidVideoIdError, match="not one string"):
        await read_videos(client, "vabc")
    with pytest.raises(InvalidVideoIdError):
        await read_videos(client, ["ok1", "bad/id"])
    with pytest.raises(ValueError, match="page_size"):
        await read_videos(client, ["ok1"], page_size=0)
    assert sim.stats()["requests"] == 0


@pytest.mark.parametrize("fault", [Fault.status(503), Fault.drop(), Fault.garbage()])
async def test_a_transient_fault_mid_scan_fails_the_round_without_raising(sim, client, fault):
    ids = _account(sim, older=250, pending=30, order="oldest_first")
    sim.inject_faults(LIST, [Fault.delay(0), fault])  # page 1 is served, the next page fails
    read = await read_videos_with_report(client, ids)
    result = read.round
    assert isinstance(
        result.failed, (TavusServerError, TavusConnectionError, TavusMalformedResponseError)
    )
    assert result.found == {} and result.missing == {} and result.received_at == {}
    assert read.pages_read == (1, 3)  # it stopped at the failed page
    assert _lists_and_gets(sim) == (2, 0)


async def test_a_transient_fault_on_a_get_fails_the_round(sim, client):
    ids = _account(sim, older=0, pending=2, order="oldest_first")
    sim.inject_faults(ids[1], [Fault.status(429, retry_after=3)])
    result = await read_videos(client, ids, strategy="get")
    assert result.failed is not None and result.failed.retry_after == 3
    assert result.found == {} and result.missing == {}


@pytest.mark.parametrize("strategy", ["auto", "get", "list"])
async def test_a_refused_key_raises(sim, client, tavus_simulator_key, strategy):
    ids = _account(sim, older=10, pending=5, order="newest_first")
    sim.revoke_key(tavus_simulator_key)
    with pytest.raises(TavusAuthenticationError):
        await read_videos(client, ids, strategy=strategy)
