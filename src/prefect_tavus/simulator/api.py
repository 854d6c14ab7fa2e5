"""The Tavus ``/v2`` replica and video routes: routing, authentication and the route handlers.

Routing is separate from handling because the server needs to know which route (and which
replica or video ids) a request concerns *before* serving it: to count it, and to pick the scripted
fault it consumes, which happens ahead of the key check so a 503 is a 503 whatever the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from prefect_tavus.simulator.spec import ReplicaSpec, VideoSpec
from prefect_tavus.simulator.state import (
    ANY_REQUEST,
    DEFAULT_VIDEO_PAGE_SIZE,
    SimulatorState,
    UnknownReplicaError,
)
from prefect_tavus.simulator.vocabulary import in_vocabulary
from prefect_tavus.simulator.wire import BadRequest, Request, Response

API_PREFIX = "/v2"

ROUTE_LIST = "GET /v2/replicas"
ROUTE_CREATE = "POST /v2/replicas"
ROUTE_GET = "GET /v2/replicas/{id}"
ROUTE_DELETE = "DELETE /v2/replicas/{id}"
ROUTE_RENAME = "PATCH /v2/replicas/{id}/name"
ROUTE_VIDEO_LIST = "GET /v2/videos"
ROUTE_VIDEO_CREATE = "POST /v2/videos"
ROUTE_VIDEO_GET = "GET /v2/videos/{id}"
ROUTE_VIDEO_DELETE = "DELETE /v2/videos/{id}"
ROUTE_VIDEO_RENAME = "PATCH /v2/videos/{id}/name"
ROUTE_UNMATCHED = "UNMATCHED /v2"

#: The replica API's routes, as fault targets and :meth:`TavusSimulator.stats` name them.
ROUTES: tuple[str, ...] = (ROUTE_LIST, ROUTE_CREATE, ROUTE_GET, ROUTE_DELETE, ROUTE_RENAME)

#: The video API's routes, named the same way.
VIDEO_ROUTES: tuple[str, ...] = (
    ROUTE_VIDEO_LIST,
    ROUTE_VIDEO_CREATE,
    ROUTE_VIDEO_GET,
    ROUTE_VIDEO_DELETE,
    ROUTE_VIDEO_RENAME,
)

INVALID_REPLICA_ID = "Invalid replica_id"
INVALID_VIDEO_ID = "Invalid video_id"

#: Error message given to replicas created with a training URL containing "fail".
SIMULATED_TRAINING_ERROR = "The training video could not be processed: no face was detected."

# Where a create request leaves a parameter out, the replica gets the spec's default.
_DEFAULT_SPEC = ReplicaSpec()


@dataclass(frozen=True)
class Route:
    """Which API operation a request is, and the replica or video id in its path (if any)."""

    name: str
    replica_id: str | None = None
    video_id: str | None = None


def is_api_path(path: str) -> bool:
    """Whether ``path`` belongs to the simulated Tavus API (and so needs a key)."""
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def match_route(method: str, path: str) -> Route:
    """Map a method and (percent-encoded) path under ``/v2`` to a :class:`Route`."""
    segments = path.rstrip("/").split("/")[2:] if path.rstrip("/") != API_PREFIX else []
    if segments and segments[0] == "videos":
        return _match_video_route(method, segments)
    if not segments or segments[0] != "replicas":
        return Route(ROUTE_UNMATCHED)
    if len(segments) == 1:
        if method == "GET":
            return Route(ROUTE_LIST)
        if method == "POST":
            return Route(ROUTE_CREATE)
        return Route(ROUTE_UNMATCHED)
    replica_id = unquote(segments[1])
    if len(segments) == 2:
        if method == "GET":
            return Route(ROUTE_GET, replica_id)
        if method == "DELETE":
            return Route(ROUTE_DELETE, replica_id)
    if len(segments) == 3 and segments[2] == "name" and method == "PATCH":
        return Route(ROUTE_RENAME, replica_id)
    return Route(ROUTE_UNMATCHED)


def _match_video_route(method: str, segments: list[str]) -> Route:
    if len(segments) == 1:
        if method == "GET":
            return Route(ROUTE_VIDEO_LIST)
        if method == "POST":
            return Route(ROUTE_VIDEO_CREATE)
        return Route(ROUTE_UNMATCHED)
    video_id = unquote(segments[1])
    if len(segments) == 2:
        if method == "GET":
            return Route(ROUTE_VIDEO_GET, video_id=video_id)
        if method == "DELETE":
            return Route(ROUTE_VIDEO_DELETE, video_id=video_id)
    if len(segments) == 3 and segments[2] == "name" and method == "PATCH":
        return Route(ROUTE_VIDEO_RENAME, video_id=video_id)
    return Route(ROUTE_UNMATCHED)


def requested_replica_ids(request: Request) -> list[str] | None:
    """The ``replica_ids`` filter of a list request (comma-separated, may repeat).

    ``None`` when absent or blank (like the other filters, an empty value means no filter).
    """
    ids: list[str] = []
    for value in request.query.get("replica_ids", []):
        ids.extend(part.strip() for part in value.split(",") if part.strip())
    return ids or None


def fault_targets(route: Route, request: Request) -> list[str]:
    """Fault scripts a request may consume from, most specific first: the replica (a GET,
    or a list filtered by ``replica_ids``) or the video (a GET), then the route (e.g.
    ``"POST /v2/replicas"``, ``"GET /v2/videos"``), then ``"*"``."""
    if route.name == ROUTE_GET and route.replica_id is not None:
        return [route.replica_id, route.name, ANY_REQUEST]
    if route.name == ROUTE_VIDEO_GET and route.video_id is not None:
        return [route.video_id, route.name, ANY_REQUEST]
    if route.name == ROUTE_LIST:
        return [*(requested_replica_ids(request) or []), route.name, ANY_REQUEST]
    return [route.name, ANY_REQUEST]


def unauthorized() -> Response:
    """Tavus's answer to a missing, unknown or revoked key."""
    return Response.json(401, {"message": "Invalid access token"})


class TavusApi:
    """Serves the ``/v2`` replica and video routes from a :class:`SimulatorState`.

    Args:
        state: the store to read and change.
        delete_status: status of a successful DELETE (Tavus documents 200; 204 has been seen).
    """

    def __init__(self, state: SimulatorState, delete_status: int = 200) -> None:
        self.state = state
        self.delete_status = delete_status

    def handle(self, route: Route, request: Request) -> Response:
        """Authenticate and serve one request already matched to ``route``."""
        api_key = request.header("x-api-key")
        if not self.state.is_authorized(api_key):
            self.state.record_unauthorized()
            return unauthorized()
        try:
            if route.name == ROUTE_GET:
                return self._get(route, request, api_key)
            if route.name == ROUTE_LIST:
                return self._list(request, api_key)
            if route.name == ROUTE_CREATE:
                return self._create(request, api_key)
            if route.name == ROUTE_DELETE:
                return self._delete(route, request, api_key)
            if route.name == ROUTE_RENAME:
                return self._rename(route, request, api_key)
            if route.name == ROUTE_VIDEO_GET:
                return self._get_video(route, request, api_key)
            if route.name == ROUTE_VIDEO_LIST:
                return self._list_videos(request, api_key)
            if route.name == ROUTE_VIDEO_CREATE:
                return self._create_video(request, api_key)
            if route.name == ROUTE_VIDEO_DELETE:
                return self._delete_video(route, request, api_key)
            if route.name == ROUTE_VIDEO_RENAME:
                return self._rename_video(route, request, api_key)
        except BadRequest as exc:
            return Response.error(400, exc.message)
        return Response.error(404, "Not found")

    def _get(self, route: Route, request: Request, api_key: str | None) -> Response:
        payload = self.state.payload(
            route.replica_id or "", verbose=request.flag("verbose"), api_key=api_key
        )
        if payload is None:
            return Response.error(400, INVALID_REPLICA_ID)
        return Response.json(200, payload)

    def _list(self, request: Request, api_key: str | None) -> Response:
        limit = _positive_int(request.param("limit"), "limit", default=self.state.max_page_size)
        page = _positive_int(request.param("page"), "page", default=1)
        items, total = self.state.list_page(
            api_key=api_key,
            limit=limit,
            page=page,
            replica_type=request.param("replica_type") or None,
            model_name=request.param("model_name") or None,
            replica_ids=requested_replica_ids(request),
        )
        return Response.json(200, {"data": items, "total_count": total})

    def _create(self, request: Request, api_key: str | None) -> Response:
        body = request.json_object()
        video = _optional_str(body, "train_video_url")
        image = _optional_str(body, "train_image_url")
        voice = _optional_str(body, "voice_name")
        if not video and not image:
            raise BadRequest("train_video_url is required (or train_image_url with voice_name)")
        if not video and not voice:
            raise BadRequest("voice_name is required when training from train_image_url")
        for name in ("consent_video_url", "callback_url", "replica_name", "model_name"):
            _optional_str(body, name)
        callback_url = _optional_str(body, "callback_url")
        if callback_url and not _is_http_url(callback_url):
            # Quoted back, as APIs do: a client must keep the token in it out of its errors.
            raise BadRequest(f"Invalid callback_url: {callback_url!r} is not a valid http(s) URL")
        if (
            "properties" in body
            and body["properties"] is not None
            and not isinstance(body["properties"], dict)
        ):
            raise BadRequest("properties must be an object")
        fails = "fail" in (video or image or "").lower()
        try:
            spec = ReplicaSpec(
                replica_name=_optional_str(body, "replica_name") or _DEFAULT_SPEC.replica_name,
                model_name=_optional_str(body, "model_name") or _DEFAULT_SPEC.model_name,
                outcome="error" if fails else "completed",
                error_message=SIMULATED_TRAINING_ERROR if fails else None,
                owner_key=api_key,
                callback_url=callback_url or None,
            )
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        replica_id = self.state.add_replica(spec)
        answer = {"replica_id": replica_id, "status": "started"}
        return Response.json(200, in_vocabulary(answer, self.state.vocabulary))

    def _delete(self, route: Route, request: Request, api_key: str | None) -> Response:
        request.flag("hard")  # accepted; soft and hard deletes look the same from the API
        if not self.state.delete(route.replica_id or "", api_key=api_key):
            return Response.error(400, INVALID_REPLICA_ID)
        return Response.empty(self.delete_status)

    def _rename(self, route: Route, request: Request, api_key: str | None) -> Response:
        replica_id = route.replica_id or ""
        if self.state.payload(replica_id, api_key=api_key) is None:
            return Response.error(400, INVALID_REPLICA_ID)
        body = request.json_object()
        name = body.get("replica_name")
        if not isinstance(name, str) or not name.strip():
            raise BadRequest("replica_name is required")
        if not self.state.rename(replica_id, name, api_key=api_key):
            return Response.error(400, INVALID_REPLICA_ID)
        return Response.empty(200)

    # -- videos -----------------------------------------------------------------------------

    def _get_video(self, route: Route, request: Request, api_key: str | None) -> Response:
        payload = self.state.video_payload(
            route.video_id or "", verbose=request.flag("verbose"), api_key=api_key
        )
        if payload is None:
            return Response.error(400, INVALID_VIDEO_ID)
        return Response.json(200, payload)

    def _list_videos(self, request: Request, api_key: str | None) -> Response:
        # Only limit and page: Tavus's video list has no id (or any other) filter.
        limit = _positive_int(request.param("limit"), "limit", default=DEFAULT_VIDEO_PAGE_SIZE)
        page = _positive_int(request.param("page"), "page", default=1)
        items, total = self.state.video_list_page(api_key=api_key, limit=limit, page=page)
        return Response.json(200, {"data": items, "total_count": total})

    def _create_video(self, request: Request, api_key: str | None) -> Response:
        body = request.json_object()
        spec = video_spec_from_create_body(body, api_key)
        try:
            answer = self.state.create_video(spec, request=body, scripted=True)
        except UnknownReplicaError:
            return Response.error(400, INVALID_REPLICA_ID)
        except ValueError as exc:  # a scripted video_id already in use
            raise BadRequest(str(exc)) from None
        return Response.json(200, answer)

    def _delete_video(self, route: Route, request: Request, api_key: str | None) -> Response:
        if not self.state.delete_video(
            route.video_id or "", hard=request.flag("hard"), api_key=api_key
        ):
            return Response.error(400, INVALID_VIDEO_ID)
        return Response.empty(self.delete_status)

    def _rename_video(self, route: Route, request: Request, api_key: str | None) -> Response:
        video_id = route.video_id or ""
        if self.state.video_payload(video_id, api_key=api_key) is None:
            return Response.error(400, INVALID_VIDEO_ID)
        body = request.json_object()
        name = body.get("video_name")
        if not isinstance(name, str) or not name.strip():
            raise BadRequest("video_name is required")
        if not self.state.rename_video(video_id, name, api_key=api_key):
            return Response.error(400, INVALID_VIDEO_ID)
        return Response.empty(200)


#: Kept for code written before the API served videos.
ReplicaApi = TavusApi


def video_spec_from_create_body(body: dict[str, Any], api_key: str | None) -> VideoSpec:
    """Check a ``POST /v2/videos`` body as Tavus would and turn it into a :class:`VideoSpec`.

    ``replica_id`` and exactly one of ``script`` (not blank) or ``audio_url`` (an http(s)
    URL); the optional fields must have the right types, URLs must be http(s), and
    ``transparent_background`` needs ``fast``. Both spellings the docs use are taken: the
    watermark as ``watermark_image_url`` or ``watermark_url``, ``transparent_background``
    (and ``fast``) top-level or under ``properties``. Unknown fields are ignored.

    Raises:
        BadRequest: what is wrong, as the ``error`` of a 400.
    """
    replica_id = body.get("replica_id")
    if replica_id is None or (isinstance(replica_id, str) and not replica_id.strip()):
        raise BadRequest("replica_id is required")
    if not isinstance(replica_id, str):
        raise BadRequest("replica_id must be a string")
    script = _optional_str(body, "script")
    audio_url = _optional_str(body, "audio_url")
    if script is not None and audio_url is not None:
        raise BadRequest("Provide either script or audio_url, not both")
    if script is None and audio_url is None:
        raise BadRequest("script or audio_url is required")
    if script is not None and not script.strip():
        raise BadRequest("script must not be empty")
    video_name = _optional_str(body, "video_name")
    for name in (
        "audio_url",
        "background_url",
        "background_source_url",
        "watermark_image_url",
        "watermark_url",
        "callback_url",
    ):
        url = _optional_str(body, name)
        if url is not None and not _is_http_url(url):
            raise BadRequest(f"Invalid {name}: {url!r} is not a valid http(s) URL")
    properties = body.get("properties")
    if properties is not None and not isinstance(properties, dict):
        raise BadRequest("properties must be an object")
    properties = properties or {}
    fast = _optional_bool(body, "fast") or _optional_bool(properties, "properties.fast")
    transparent = _optional_bool(body, "transparent_background") or _optional_bool(
        properties, "properties.transparent_background"
    )
    if transparent and not fast:
        raise BadRequest("transparent_background requires fast to be true")
    try:
        return VideoSpec(
            replica_id=replica_id,
            video_name=video_name if video_name else VideoSpec().video_name,
            script=script,
            audio_url=audio_url,
            owner_key=api_key,
            callback_url=_optional_str(body, "callback_url") or None,
        )
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


def _positive_int(raw: str | None, name: str, *, default: int) -> int:
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a positive integer") from None
    if value < 1:
        raise BadRequest(f"{name} must be a positive integer")
    return value


def _is_http_url(url: str) -> bool:
    """An absolute http(s) URL with a host and, if any, a valid port: what Tavus can call."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not any(ch.isspace() for ch in url)
    )


def _optional_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string")
    return value


def _optional_bool(body: dict[str, Any], name: str) -> bool:
    # ``name`` is how the error names it (``properties.fast``); the key is its last part.
    value = body.get(name.rsplit(".", 1)[-1])
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadRequest(f"{name} must be true or false")
    return value
