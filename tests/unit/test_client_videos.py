"""TavusClient's video methods over respx, answers shaped as API-NOTES.md describes them.

(The simulator learns videos on another branch; these move onto it then.)
"""

from __future__ import annotations

import json
import pickle
import secrets
import traceback
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx

from prefect_tavus.core import (
    InvalidVideoIdError,
    TavusAuthenticationError,
    TavusClient,
    TavusConnectionError,
    TavusError,
    TavusMalformedResponseError,
    TavusNotFoundError,
    TavusRateLimitError,
    TavusRequestError,
    TavusServerError,
    TavusTransientError,
    Video,
    VideoCreateRequest,
)
from prefect_tavus.core.http_errors import Subject, error_from_response

BASE = "http://127.0.0.1:8912"
KEY = "tvs-unit-videos-key-5d1e"
REPLICA = "r783537ef5"


@pytest.fixture
def tavus():
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


def _client(tavus: respx.MockRouter) -> TavusClient:
    return TavusClient(KEY, base_url=BASE, timeout=5, transport=httpx.MockTransport(tavus.handler))


def _everything_said(error: BaseException) -> str:
    return "\n".join(
        [
            str(error),
            repr(error),
            repr(error.args),
            str(getattr(error, "api_message", "")),
            "".join(traceback.format_exception(error)),
            repr(pickle.loads(pickle.dumps(error)).args),
        ]
    )


def _query(call: respx.models.Call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(str(call.request.url)).query)


# --- create ----------------------------------------------------------------------------


async def test_create_sends_the_body_once_and_reads_the_documented_answer(tavus):
    route = tavus.post("/v2/videos").respond(
        200,
        json={
            "video_id": "abcd123",
            "video_name": "Welcome",
            "status": "queued",
            "hosted_url": "https://tavus.video/abcd123",
            "created_at": "Mon, 14 Jul 2025 09:14:24 GMT",
        },
    )
    async with _client(tavus) as client:
        video = await client.create_video(
            VideoCreateRequest(replica_id=REPLICA, script="Hello", video_name="Welcome")
        )
    assert isinstance(video, Video) and video.video_id == "abcd123" and video.status == "queued"
    assert video.replica_id == REPLICA  # the answer omits it; it is the request's
    assert video.created_at is not None and video.created_at.year == 2025
    assert route.call_count == 1
    sent = route.calls[0].request
    assert json.loads(sent.content) == {
        "replica_id": REPLICA,
        "script": "Hello",
        "video_name": "Welcome",
    }
    assert sent.headers["x-api-key"] == KEY and sent.headers["content-type"] == "application/json"


async def test_create_takes_the_fields_as_a_mapping_too(tavus):
    tavus.post("/v2/videos").respond(200, json={"video_id": "v1", "status": "queued"})
    async with _client(tavus) as client:
        video = await client.create_video(
            {"replica_id": REPLICA, "audio_url": "https://cdn.example/a.mp3"}
        )
    assert video.video_id == "v1"


@pytest.mark.parametrize(
    ("answer", "error", "may_have_taken_effect"),
    [
        (httpx.Response(503, json={"message": "busy"}), TavusServerError, True),
        (httpx.Response(200, text="<html>gateway</html>"), TavusMalformedResponseError, True),
        (httpx.ReadTimeout("lost"), TavusConnectionError, True),
        (httpx.RemoteProtocolError("closed"), TavusConnectionError, True),
        (httpx.ConnectError("refused"), TavusConnectionError, False),
        (httpx.Response(429, headers={"retry-after": "7"}), TavusRateLimitError, False),
    ],
)
async def test_create_is_never_retried_and_a_lost_answer_says_it_may_have_taken_effect(
    tavus, answer, error, may_have_taken_effect
):
    route = tavus.post("/v2/videos")
    if isinstance(answer, Exception):
        route.side_effect = answer
    else:
        route.return_value = answer
    async with _client(tavus) as client:
        with pytest.raises(error) as info:
            await client.create_video(VideoCreateRequest(replica_id=REPLICA, script="Hi"))
    assert isinstance(info.value, TavusTransientError)
    assert info.value.may_have_taken_effect is may_have_taken_effect
    assert (
        route.call_count == 1
    )  # exactly one POST: a second could render (and bill) a second video


async def test_a_create_refused_for_its_replica_is_a_request_error_not_a_missing_video(tavus):
    tavus.post("/v2/videos").respond(400, json={"error": "replica_in_error_state"})
    async with _client(tavus) as client:
        with pytest.raises(TavusRequestError) as info:
            await client.create_video(VideoCreateRequest(replica_id=REPLICA, script="Hi"))
    assert not isinstance(info.value, TavusNotFoundError)
    assert info.value.api_message == "replica_in_error_state" and info.value.video_id is None


@pytest.mark.parametrize(
    "echo",
    [
        '{{"error": "Invalid callback_url: {url}"}}',
        '{{"message": "could not reach https:\\/\\/receiver.example\\/tavus\\/callbacks\\/{token}"}}',
        "bad request for {url} (token {token})",
    ],
)
async def test_the_callback_token_is_scrubbed_from_a_400_that_echoes_it(tavus, echo):
    token = secrets.token_urlsafe(32)
    url = f"https://receiver.example/tavus/callbacks/{token}"
    tavus.post("/v2/videos").respond(400, text=echo.format(url=url, token=token))
    async with _client(tavus) as client:
        with pytest.raises(TavusRequestError) as info:
            await client.create_video(
                VideoCreateRequest(replica_id=REPLICA, script="Hi", callback_url=url)
            )
    said = _everything_said(info.value)
    assert token not in said and url not in said and KEY not in said
    assert "***" in (info.value.api_message or "")


async def test_the_api_key_echoed_in_a_5xx_is_scrubbed(tavus):
    tavus.post("/v2/videos").respond(502, json={"error": f"upstream rejected key {KEY}"})
    async with _client(tavus) as client:
        with pytest.raises(TavusServerError) as info:
            await client.create_video(VideoCreateRequest(replica_id=REPLICA, script="Hi"))
    assert (
        KEY not in _everything_said(info.value)
        and info.value.api_message == "upstream rejected key ***"
    )


# --- get -------------------------------------------------------------------------------


async def test_get_reads_the_video_and_verbose_asks_for_thumbnails(tavus):
    route = tavus.get("/v2/videos/783537ef5").respond(
        200,
        json={
            "video_id": "783537ef5",
            "status": "generating",
            "data": {"script": "Hi"},
            "still_image_thumbnail_url": "https://cdn.example/t.png",
        },
    )
    async with _client(tavus) as client:
        plain = await client.get_video("783537ef5")
        verbose = await client.get_video("783537ef5", verbose=True)
    assert plain.status == "generating" and plain.script == "Hi" and not plain.is_terminal
    assert verbose.still_image_thumbnail_url == "https://cdn.example/t.png"
    assert "verbose" not in _query(route.calls[0]) and _query(route.calls[1])["verbose"] == ["true"]


async def test_an_answer_without_its_id_is_still_about_the_video_asked_for(tavus):
    tavus.get("/v2/videos/v1").respond(200, json={"status": "ready"})
    async with _client(tavus) as client:
        assert (await client.get_video("v1")).video_id == "v1"


@pytest.mark.parametrize(
    ("status", "body"),
    [(400, {"error": "Invalid video_id"}), (404, {"message": "Not found"}), (404, "")],
)
async def test_an_unknown_video_is_not_found_and_says_video(tavus, status, body):
    tavus.get("/v2/videos/nosuch1").respond(status, json=body) if body else tavus.get(
        "/v2/videos/nosuch1"
    ).respond(status)
    async with _client(tavus) as client:
        with pytest.raises(TavusNotFoundError) as info:
            await client.get_video("nosuch1")
    error = info.value
    assert str(error).startswith("Tavus has no video 'nosuch1' for this API key")
    assert error.video_id == "nosuch1" and error.replica_id is None and error.status_code == status


async def test_get_maps_the_other_errors_as_for_replicas(tavus):
    route = tavus.get("/v2/videos/v1")
    route.side_effect = [
        httpx.Response(401, json={"message": "Invalid access token"}),
        httpx.Response(500, text="oops"),
        httpx.Response(429, headers={"retry-after": "3"}),
    ]
    async with _client(tavus) as client:
        with pytest.raises(TavusAuthenticationError, match="while trying to get video 'v1'"):
            await client.get_video("v1")
        with pytest.raises(TavusServerError) as server:
            await client.get_video("v1")
        with pytest.raises(TavusRateLimitError) as limited:
            await client.get_video("v1")
    assert server.value.video_id == "v1" and limited.value.retry_after == 3.0


async def test_a_redirect_is_not_followed(tavus):
    tavus.get("/v2/videos/v1").respond(302, headers={"location": "https://elsewhere.example/v1"})
    async with _client(tavus) as client:
        with pytest.raises(TavusRequestError, match="redirect"):
            await client.get_video("v1")
    assert tavus.calls.call_count == 1


@pytest.mark.parametrize(
    "video_id", ["", " v1", "v1/../../replicas", "..", "v 1", "v1\x00", "v1?x", "v1#", "v%2F1", 12]
)
async def test_a_bad_video_id_is_refused_before_any_request(tavus, video_id):
    async with _client(tavus) as client:
        for call in (
            client.get_video(video_id),
            client.rename_video(video_id, "n"),
            client.delete_video(video_id),
        ):
            with pytest.raises(InvalidVideoIdError, match="video_id"):
                await call
    assert tavus.calls.call_count == 0


async def test_the_video_id_is_url_encoded_in_the_path(tavus):
    route = tavus.get(url__regex=r".*/v2/videos/.*").respond(200, json={"video_id": "v:1"})
    async with _client(tavus) as client:
        await client.get_video("v:1")
    assert route.calls[0].request.url.raw_path.decode() == "/v2/videos/v%3A1"


# --- list and iterate --------------------------------------------------------------------


def _page(ids: list[str], total: int | None) -> httpx.Response:
    body: dict[str, object] = {
        "data": [{"video_id": i, "status": "ready", "error_details": []} for i in ids]
    }
    if total is not None:
        body["total_count"] = total
    return httpx.Response(200, json=body)


async def test_list_sends_page_and_limit_only_when_asked(tavus):
    route = tavus.get("/v2/videos").mock(side_effect=[_page(["a"], 1), _page(["a"], 1)])
    async with _client(tavus) as client:
        first = await client.list_videos()
        second = await client.list_videos(page=3, limit=25)
    assert [v.video_id for v in first.data] == ["a"] and first.total_count == 1
    assert _query(route.calls[0]) == {"page": ["1"]}  # Tavus's own default page size
    assert _query(route.calls[1]) == {"page": ["3"], "limit": ["25"]}
    assert second.total_count == 1


@pytest.mark.parametrize(
    ("page", "limit"), [(0, None), (-1, None), (1, 0), (1, -5), (True, None), (1, 2.5)]
)
async def test_list_refuses_bad_paging_before_any_request(tavus, page, limit):
    async with _client(tavus) as client:
        with pytest.raises(ValueError):
            await client.list_videos(page=page, limit=limit)
    assert tavus.calls.call_count == 0


async def test_iter_follows_total_count_when_tavus_answers_shorter_pages_than_asked(tavus):
    # Asked for 10 a page, Tavus caps at 3 (undocumented maximum): every page is short,
    # and only total_count says there is more.
    pages = {1: ["a", "b", "c"], 2: ["d", "e", "f"], 3: ["g"]}

    def answer(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        assert request.url.params["limit"] == "10"
        return _page(pages.get(page, []), 7)

    route = tavus.get("/v2/videos").mock(side_effect=answer)
    async with _client(tavus) as client:
        ids = [video.video_id async for video in client.iter_videos(page_size=10)]
    assert ids == ["a", "b", "c", "d", "e", "f", "g"]
    assert [int(call.request.url.params["page"]) for call in route.calls] == [1, 2, 3]


async def test_iter_stops_at_an_empty_page_even_below_total_count(tavus):
    # A video deleted while paging (or a total that overcounts) must not loop forever.
    route = tavus.get("/v2/videos").mock(side_effect=[_page(["a", "b"], 5), _page([], 5)])
    async with _client(tavus) as client:
        ids = [video.video_id async for video in client.iter_videos(page_size=2)]
    assert ids == ["a", "b"] and route.call_count == 2


async def test_iter_without_a_total_ends_at_a_short_page(tavus):
    route = tavus.get("/v2/videos").mock(side_effect=[_page(["a", "b"], None), _page(["c"], None)])
    async with _client(tavus) as client:
        ids = [video.video_id async for video in client.iter_videos(page_size=2)]
    assert ids == ["a", "b", "c"] and route.call_count == 2


async def test_iter_keeps_what_tavus_sends_in_its_order(tavus):
    # No order is assumed: newest first, oldest first or shuffled, all are yielded as given.
    tavus.get("/v2/videos").mock(side_effect=[_page(["z", "a"], 3), _page(["m"], 3)])
    async with _client(tavus) as client:
        assert [video.video_id async for video in client.iter_videos(page_size=2)] == [
            "z",
            "a",
            "m",
        ]


async def test_a_list_error_mid_way_is_typed(tavus):
    tavus.get("/v2/videos").mock(side_effect=[_page(["a"], 3), httpx.Response(503)])
    async with _client(tavus) as client:
        with pytest.raises(TavusServerError, match="list videos"):
            _ = [video async for video in client.iter_videos(page_size=1)]


# --- rename and delete ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200),
        httpx.Response(204),
        httpx.Response(200, json={"ok": 1}),
        httpx.Response(202, text="accepted"),
    ],
)
async def test_rename_and_delete_accept_any_2xx_empty_body_included(tavus, answer):
    rename = tavus.patch("/v2/videos/v1/name").mock(return_value=answer)
    delete = tavus.delete("/v2/videos/v1").mock(return_value=answer)
    async with _client(tavus) as client:
        assert await client.rename_video("v1", "New name") is None
        assert await client.delete_video("v1") is None
        assert await client.delete_video("v1", hard=True) is None
    assert json.loads(rename.calls[0].request.content) == {"video_name": "New name"}
    assert [_query(call)["hard"] for call in delete.calls] == [["false"], ["true"]]


async def test_rename_refuses_an_empty_name_and_maps_a_missing_video(tavus):
    tavus.patch("/v2/videos/gone1/name").respond(400, json={"error": "Invalid video_id"})
    async with _client(tavus) as client:
        with pytest.raises(ValueError, match="video_name"):
            await client.rename_video("v1", "  ")
        with pytest.raises(TavusNotFoundError, match="no video 'gone1'"):
            await client.rename_video("gone1", "x")
    assert tavus.calls.call_count == 1


# --- one mapping for every subject -----------------------------------------------------------


def test_error_from_response_names_the_subject_it_is_given():
    request = httpx.Request("GET", f"{BASE}/v2/x")
    missing = httpx.Response(400, json={"error": "Invalid id"}, request=request)
    video = error_from_response(missing, operation="get video", subject=Subject("video", "v1"))
    replica = error_from_response(
        missing, operation="get replica", replica_id="r1"
    )  # the older keyword
    same = error_from_response(missing, operation="get replica", subject=Subject("replica", "r1"))
    assert (
        isinstance(video, TavusNotFoundError)
        and video.video_id == "v1"
        and "no video 'v1'" in str(video)
    )
    assert (
        isinstance(replica, TavusNotFoundError)
        and replica.replica_id == "r1"
        and "no replica 'r1'" in str(replica)
    )
    assert str(same) == str(replica)
    assert (
        type(error_from_response(missing, operation="list videos")) is TavusRequestError
    )  # no subject


def test_an_error_about_a_video_survives_pickling():
    error = TavusNotFoundError("gone", video_id="v1", status_code=400)
    again = pickle.loads(pickle.dumps(error))
    assert isinstance(again, TavusError) and again.video_id == "v1" and again.status_code == 400
