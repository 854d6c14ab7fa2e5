"""The one HTTP client for the Tavus Replicas and Videos APIs.

One :class:`TavusClient` wraps one configured ``httpx.AsyncClient`` (keep-alive pool,
``x-api-key`` and user-agent headers, timeouts) and does one request per call: retrying
is the caller's decision (see :mod:`prefect_tavus.core.retry`), so a wait can count an outage in
time while a one-off task counts attempts. Every non-2xx answer and every transport
failure leaves this module as a typed :class:`~prefect_tavus.core.errors.TavusError`.

Safety: redirects are never followed (the key would go wherever a ``Location`` points),
plain http is refused except to loopback, ids are validated and URL-encoded, and the key
is held as a ``SecretStr`` that no repr, message or log line prints. Whatever Tavus writes
back is scrubbed of every secret the request carried, the key and a create's
``callback_url`` (its token; replica and video creates alike) before it goes into an error
(:func:`~prefect_tavus.core.http_errors.request_secrets`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from prefect_tavus._version import __version__
from prefect_tavus.core._time import assume_utc, require_utc
from prefect_tavus.core.errors import (
    ReplicaSearchIncompleteError,
    TavusArgumentError,
    TavusArgumentTypeError,
    TavusConfigurationError,
    TavusMalformedResponseError,
)
from prefect_tavus.core.http_errors import (
    Subject,
    error_from_response,
    error_from_transport,
    request_secrets,
    server_text,
)
from prefect_tavus.core.replicas import CreatedReplica, Replica, ReplicaPage
from prefect_tavus.core.requests import ReplicaCreateRequest, VideoCreateRequest
from prefect_tavus.core.validation import (
    DEFAULT_BASE_URL,
    validate_base_url,
    validate_replica_id,
    validate_replica_ids,
    validate_video_id,
)
from prefect_tavus.core.videos import Video, VideoPage

__all__ = [
    "DEFAULT_CLOCK_SKEW_SECONDS",
    "DEFAULT_FIND_MAX_PAGES",
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_VIDEO_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "USER_AGENT",
    "TavusClient",
    "count_requests",
]

USER_AGENT = f"prefect-tavus/{__version__} python-httpx/{httpx.__version__}"
#: Replicas asked for per list request. Tavus documents no maximum; 100 keeps URLs short
#: (``replica_ids`` of 100 ids is ~1.3 kB) and answers small.
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 100
#: Videos asked for per list request by ``iter_videos``. Tavus documents a default of 10 and
#: no maximum; asking for more costs nothing when it caps lower (pages are followed by
#: ``total_count``), and saves requests when it does not.
DEFAULT_VIDEO_PAGE_SIZE = 100
#: How far Tavus's clock may run behind this machine's before ``find_replicas`` misses a
#: replica: its ``created_at`` is Tavus's time, ``created_since`` ours. NTP keeps clocks within
#: a second; two minutes also covers a badly kept one, at the price of also reporting a
#: same-named replica created up to two minutes before the lost create.
DEFAULT_CLOCK_SKEW_SECONDS = 120.0
#: Pages ``find_replicas`` reads before giving up (5,000 replicas at the default page size).
DEFAULT_FIND_MAX_PAGES = 50

_ModelT = TypeVar("_ModelT", bound=BaseModel)

# Requests counted for whoever opened ``count_requests()`` in this asyncio task: exact
# per-wait figures even when concurrent waits share one client.
_request_counters: ContextVar[tuple[list[int], ...]] = ContextVar("_request_counters", default=())


@contextmanager
def count_requests() -> Iterator[list[int]]:
    """Count the requests sent inside the block (by any client): ``counter[0]``."""
    counter = [0]
    token = _request_counters.set((*_request_counters.get(), counter))
    try:
        yield counter
    finally:
        _request_counters.reset(token)


class TavusClient:
    """Async client for ``/v2/replicas`` and ``/v2/videos``. Use as ``async with TavusClient(key) as client``.

    Args:
        api_key: the Tavus API key (``x-api-key``).
        base_url: API root; https, or http to a loopback host only.
        timeout: seconds for connecting and for each read.
        transport: an httpx transport to use instead of the network (tests).
        max_connections: size of the keep-alive pool.
        request_slot: called around every request; an async context manager that may
            wait for capacity (the Prefect layer uses it for the ``tavus-api`` global
            concurrency limit). None sends at once.
    """

    def __init__(
        self,
        api_key: str | SecretStr,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 10,
        request_slot: Callable[[], AbstractAsyncContextManager[None]] | None = None,
    ) -> None:
        secret = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key or "")
        if not secret.get_secret_value().strip():
            raise TavusConfigurationError(
                "No Tavus API key: set api_key on the TavusCredentials block or the "
                "TAVUS_API_KEY environment variable (keys are made at https://platform.tavus.io)."
            )
        if timeout <= 0:
            raise TavusConfigurationError(f"timeout must be positive, got {timeout!r}.")
        self._api_key = secret
        self._base_url = validate_base_url(base_url)
        self._request_slot = request_slot
        self._http = httpx.AsyncClient(
            base_url=self._base_url,
            headers={
                "x-api-key": secret.get_secret_value(),
                "user-agent": USER_AGENT,
                "accept": "application/json",
            },
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"TavusClient(base_url={self._base_url!r}, api_key=SecretStr('**********'))"

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def is_closed(self) -> bool:
        return self._http.is_closed

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> TavusClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- endpoints -------------------------------------------------------------------

    async def get_replica(self, replica_id: str, *, verbose: bool = False) -> Replica:
        """``GET /v2/replicas/{replica_id}``: one replica, with ``error_message``."""
        replica_id = validate_replica_id(replica_id)
        params = {"verbose": "true"} if verbose else None
        response = await self._send(
            "GET",
            f"/v2/replicas/{quote(replica_id, safe='')}",
            operation="get replica",
            subject=Subject("replica", replica_id),
            params=params,
        )
        payload = self._json(response, "get replica")
        if (
            isinstance(payload, dict)
            and payload.get("replica_id") is None
            and payload.get("face_id") is None
        ):
            payload["replica_id"] = replica_id  # an answer without its id is still about it
        return self._parse(Replica, payload, "get replica")

    async def list_replicas(
        self,
        *,
        replica_ids: Sequence[str] | None = None,
        page: int = 1,
        limit: int = DEFAULT_PAGE_SIZE,
        verbose: bool = False,
        replica_type: str | None = None,
        model_name: str | None = None,
    ) -> ReplicaPage:
        """``GET /v2/replicas``: one page. ``replica_ids`` filters to those ids."""
        if page < 1:
            raise TavusArgumentError(f"page is 1-based, got {page}.")
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise TavusArgumentError(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}.")
        if replica_type is not None and replica_type not in ("user", "system"):
            raise TavusArgumentError(
                f"replica_type must be 'user' or 'system', got {replica_type!r}."
            )
        params: dict[str, str] = {"page": str(page), "limit": str(limit)}
        if replica_ids is not None:
            params["replica_ids"] = ",".join(validate_replica_ids(replica_ids))
        if verbose:
            params["verbose"] = "true"
        if replica_type:
            params["replica_type"] = replica_type
        if model_name:
            params["model_name"] = model_name
        response = await self._send("GET", "/v2/replicas", operation="list replicas", params=params)
        return self._parse(ReplicaPage, self._json(response, "list replicas"), "list replicas")

    async def iter_replicas(
        self,
        *,
        replica_ids: Sequence[str] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        verbose: bool = False,
        replica_type: str | None = None,
        model_name: str | None = None,
    ) -> AsyncIterator[Replica]:
        """Every replica matching the filters, following pages until ``total_count``
        (or, without one, a short or empty page).

        With ``replica_ids``, the ids are asked for in chunks of ``page_size`` so that
        no URL grows past what servers and proxies accept.
        """
        chunks: list[list[str] | None]
        if replica_ids is None:
            chunks = [None]
        else:
            ids = validate_replica_ids(replica_ids)
            chunks = [ids[i : i + page_size] for i in range(0, len(ids), page_size)]
        for chunk in chunks:
            page = 1
            seen = 0
            while True:
                result = await self.list_replicas(
                    replica_ids=chunk,
                    page=page,
                    limit=page_size,
                    verbose=verbose,
                    replica_type=replica_type,
                    model_name=model_name,
                )
                for replica in result.data:
                    yield replica
                seen += len(result.data)
                total = result.total_count
                # A short page ends the list only when Tavus gives no total: it may cap
                # ``limit`` below page_size (it documents no maximum), and then every page
                # is short while more follow.
                if not result.data or (total is not None and seen >= total):
                    break
                if total is None and len(result.data) < page_size:
                    break
                page += 1

    @staticmethod
    def replica_create_body(**fields: Any) -> dict[str, Any]:
        """The JSON body of ``POST /v2/replicas``, checked: ``ReplicaCreateRequest(**fields).body()``.

        Kept for callers that hold the fields rather than the request (``create_replica_and_wait``
        checks its body with it before it records the attempt on its flow run).

        Raises:
            InvalidReplicaRequestError: a bad field (a ``ValueError``), e.g. neither or both of
                ``train_video_url`` and ``train_image_url``, or an image without ``voice_name``.
        """
        return ReplicaCreateRequest(**fields).body()

    async def create_replica(
        self, request: ReplicaCreateRequest | None = None, /, **fields: Any
    ) -> CreatedReplica:
        """``POST /v2/replicas``: start training. NOT idempotent: each call trains (and
        bills) a new replica, so this sends exactly one request and never retries.

        Pass a :class:`~prefect_tavus.core.requests.ReplicaCreateRequest`, or its fields as
        keywords (``create_replica(train_video_url=..., replica_name=...)``); bad input
        raises :class:`~prefect_tavus.core.errors.InvalidReplicaRequestError` before anything
        is sent.

        When the answer is lost the replica may be training anyway: a
        :class:`~prefect_tavus.core.errors.TavusTransientError` whose
        ``may_have_taken_effect`` is True (a read timeout or reset, ``request_sent`` None; a
        5xx; a garbled 2xx). Do not send the create again then: look with
        :meth:`find_replicas`, or raise
        :class:`~prefect_tavus.core.errors.ReplicaCreateOutcomeUnknownError`.
        """
        body = _create_request(ReplicaCreateRequest, request, fields).body()
        response = await self._send("POST", "/v2/replicas", operation="create replica", json=body)
        return self._parse(CreatedReplica, self._json(response, "create replica"), "create replica")

    async def find_replicas(
        self,
        *,
        replica_name: str,
        created_since: datetime | float,
        clock_skew_seconds: float = DEFAULT_CLOCK_SKEW_SECONDS,
        max_pages: int = DEFAULT_FIND_MAX_PAGES,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> list[Replica]:
        """The replicas a create whose answer was lost may have made: those named exactly
        ``replica_name`` and created at or after ``created_since`` (less
        ``clock_skew_seconds``, see :data:`DEFAULT_CLOCK_SKEW_SECONDS`), oldest first.

        Walks every page of ``GET /v2/replicas`` (``verbose``) and assumes no order: Tavus
        documents none. No server-side filter is used (a ``replica_type`` filter would save
        pages, but each assumption about the API is one more way to miss the replica and
        train it twice). A replica whose ``created_at`` is missing or unreadable is
        included, since it cannot be ruled out. A replica deleted while the pages are read
        can shift the pages under the walk; no client can rule that out without an ordered
        list.

        Args:
            replica_name: the name the create sent, compared exactly (case and spaces count).
            created_since: when the create was sent: an aware datetime or epoch seconds
                (``time.time()``); a naive datetime is refused as ambiguous.
            clock_skew_seconds: allowance for Tavus's clock running behind this machine's.
            max_pages: pages to read at most.
            page_size: replicas per page.

        Raises:
            ReplicaSearchIncompleteError: ``max_pages`` pages read and more remain; it
                carries the matches found so far.
            TavusArgumentError: a naive ``created_since`` or a bad argument (a ``ValueError``).
        """
        if not isinstance(replica_name, str) or not replica_name:
            raise TavusArgumentError("replica_name must be a non-empty string.")
        if max_pages < 1:
            raise TavusArgumentError(f"max_pages must be at least 1, got {max_pages}.")
        if not clock_skew_seconds >= 0:
            raise TavusArgumentError(
                f"clock_skew_seconds must be >= 0, got {clock_skew_seconds!r}."
            )
        since = require_utc(created_since) - timedelta(seconds=clock_skew_seconds)
        found: dict[str, Replica] = {}
        read = 0
        for page in range(1, max_pages + 1):
            result = await self.list_replicas(page=page, limit=page_size, verbose=True)
            for replica in result.data:
                if replica.replica_name == replica_name and _created_at_or_after(replica, since):
                    found.setdefault(replica.replica_id, replica)
            read += len(result.data)
            # A short page does not end the list: Tavus may cap ``limit`` below page_size.
            if not result.data or (result.total_count is not None and read >= result.total_count):
                return sorted(found.values(), key=_creation_order)
        raise ReplicaSearchIncompleteError(
            replica_name=replica_name,
            pages_read=max_pages,
            total_count=result.total_count,
            found=sorted(found.values(), key=_creation_order),
        )

    async def rename_replica(self, replica_id: str, replica_name: str) -> None:
        """``PATCH /v2/replicas/{replica_id}/name``. Any 2xx, empty body included, is success."""
        replica_id = validate_replica_id(replica_id)
        if not isinstance(replica_name, str) or not replica_name.strip():
            raise TavusArgumentError("replica_name must be a non-empty string.")
        await self._send(
            "PATCH",
            f"/v2/replicas/{quote(replica_id, safe='')}/name",
            operation="rename replica",
            subject=Subject("replica", replica_id),
            json={"replica_name": replica_name},
        )

    async def delete_replica(self, replica_id: str, *, hard: bool = False) -> None:
        """``DELETE /v2/replicas/{replica_id}``. ``hard=True`` is irrevocable and also
        removes the training footage. Any 2xx, empty body included, is success."""
        replica_id = validate_replica_id(replica_id)
        await self._send(
            "DELETE",
            f"/v2/replicas/{quote(replica_id, safe='')}",
            operation="delete replica",
            subject=Subject("replica", replica_id),
            params={"hard": "true" if hard else "false"},
        )

    # --- videos ----------------------------------------------------------------------

    async def create_video(self, request: VideoCreateRequest | Mapping[str, Any]) -> Video:
        """``POST /v2/videos``: start rendering a video; returns it ``queued``.

        NOT idempotent, like a replica create: each call renders (and bills) a new video, so
        this sends exactly one request and never retries. When the answer is lost, the
        :class:`~prefect_tavus.core.errors.TavusTransientError` says so with
        ``may_have_taken_effect`` True: the video may be rendering. Tavus offers no filter
        to find it by (list pages carry names and times), so look before creating again.

        Args:
            request: the checked request, or its fields as a mapping (validated here, so bad
                input raises :class:`~prefect_tavus.core.errors.InvalidVideoRequestError`
                before anything is sent).
        """
        checked = VideoCreateRequest.model_validate(request)
        response = await self._send(
            "POST", "/v2/videos", operation="create video", json=checked.body()
        )
        payload = self._json(response, "create video")
        if (
            isinstance(payload, dict)
            and payload.get("replica_id") is None
            and payload.get("face_id") is None
        ):
            payload["replica_id"] = checked.replica_id  # the answer omits it; it is the request's
        return self._parse(Video, payload, "create video")

    async def get_video(self, video_id: str, *, verbose: bool = False) -> Video:
        """``GET /v2/videos/{video_id}``: one video; ``verbose`` adds thumbnails.

        An unknown id is a :class:`~prefect_tavus.core.errors.TavusNotFoundError` (Tavus
        answers 400 for it; 404 is handled the same way).
        """
        video_id = validate_video_id(video_id)
        params = {"verbose": "true"} if verbose else None
        response = await self._send(
            "GET",
            f"/v2/videos/{quote(video_id, safe='')}",
            operation="get video",
            subject=Subject("video", video_id),
            params=params,
        )
        payload = self._json(response, "get video")
        if isinstance(payload, dict) and payload.get("video_id") is None:
            payload["video_id"] = video_id  # an answer without its id is still about it
        return self._parse(Video, payload, "get video")

    async def list_videos(self, *, page: int = 1, limit: int | None = None) -> VideoPage:
        """``GET /v2/videos``: one page. ``limit`` None leaves the page size to Tavus
        (documented default 10). There is no id filter: to follow many videos, get each,
        or let their callbacks say when they are done."""
        if isinstance(page, bool) or not isinstance(page, int) or page < 1:
            raise TavusArgumentError(f"page is a 1-based integer, got {page!r}.")
        params: dict[str, str] = {"page": str(page)}
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise TavusArgumentError(f"limit must be a positive integer, got {limit!r}.")
            params["limit"] = str(limit)
        response = await self._send("GET", "/v2/videos", operation="list videos", params=params)
        return self._parse(VideoPage, self._json(response, "list videos"), "list videos")

    async def iter_videos(
        self, *, page_size: int = DEFAULT_VIDEO_PAGE_SIZE
    ) -> AsyncIterator[Video]:
        """Every video of the account, following pages until ``total_count`` is covered.

        Assumes neither an order nor a largest page: Tavus documents neither, and may answer
        fewer than ``page_size`` items on every page, so a short page ends the list only
        when Tavus gives no ``total_count``. An empty page always ends it.
        """
        page, seen = 1, 0
        while True:
            result = await self.list_videos(page=page, limit=page_size)
            for video in result.data:
                yield video
            seen += len(result.data)
            total = result.total_count
            if not result.data or (total is not None and seen >= total):
                return
            if total is None and len(result.data) < page_size:
                return
            page += 1

    async def rename_video(self, video_id: str, video_name: str) -> None:
        """``PATCH /v2/videos/{video_id}/name``. Any 2xx, empty body included, is success."""
        video_id = validate_video_id(video_id)
        if not isinstance(video_name, str) or not video_name.strip():
            raise TavusArgumentError("video_name must be a non-empty string.")
        await self._send(
            "PATCH",
            f"/v2/videos/{quote(video_id, safe='')}/name",
            operation="rename video",
            subject=Subject("video", video_id),
            json={"video_name": video_name},
        )

    async def delete_video(self, video_id: str, *, hard: bool = False) -> None:
        """``DELETE /v2/videos/{video_id}``. ``hard=True`` is irrevocable. Any 2xx, empty
        body included, is success. Deleting a replica does not delete its videos."""
        video_id = validate_video_id(video_id)
        await self._send(
            "DELETE",
            f"/v2/videos/{quote(video_id, safe='')}",
            operation="delete video",
            subject=Subject("video", video_id),
            params={"hard": "true" if hard else "false"},
        )

    # --- plumbing --------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        subject: Subject | None = None,
        params: dict[str, str] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        """One request; ``subject`` is what it names by id (a 400/404 then means "no such
        replica/video"). Every failure leaves as a typed error, scrubbed of secrets."""
        if self._request_slot is not None:
            async with self._request_slot():
                return await self._send_now(
                    method, path, operation=operation, subject=subject, params=params, json=json
                )
        return await self._send_now(
            method, path, operation=operation, subject=subject, params=params, json=json
        )

    async def _send_now(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        subject: Subject | None,
        params: dict[str, str] | None,
        json: Any,
    ) -> httpx.Response:
        for counter in _request_counters.get():
            counter[0] += 1
        try:
            response = await self._http.request(method, path, params=params, json=json)
        except httpx.TransportError as exc:
            raise error_from_transport(exc, operation=operation, subject=subject) from None
        if response.is_success:
            return response
        raise error_from_response(
            response,
            operation=operation,
            subject=subject,
            secrets=self._secrets(response.request),
        )

    def _secrets(self, request: httpx.Request) -> tuple[str, ...]:
        """What must never appear in an error about ``request`` (see ``request_secrets``)."""
        return request_secrets(request, api_key=self._api_key.get_secret_value())

    def _json(self, response: httpx.Response, operation: str) -> Any:
        try:
            return response.json()
        except ValueError:
            snippet = server_text(response.text, self._secrets(response.request))
            snippet = None if snippet is None else snippet[:80]
            raise TavusMalformedResponseError(
                f"Tavus answered {response.status_code} to {operation} with a body that is not JSON "
                f"({len(response.content)} bytes, starting {snippet!r}).",
                status_code=response.status_code,
                request_sent=True,
            ) from None

    @staticmethod
    def _parse(model: type[_ModelT], payload: Any, operation: str) -> _ModelT:
        if not isinstance(payload, dict):
            raise TavusMalformedResponseError(
                f"Tavus answered {operation} with JSON of type {type(payload).__name__}, not an object.",
                request_sent=True,
            )
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            fields = ", ".join(".".join(str(p) for p in err["loc"]) for err in exc.errors()[:5])
            raise TavusMalformedResponseError(
                f"Tavus answered {operation} with an object missing or mistyping: {fields}.",
                request_sent=True,
            ) from None


_RequestT = TypeVar("_RequestT", ReplicaCreateRequest, VideoCreateRequest)


def _create_request(
    model: type[_RequestT], request: _RequestT | None, fields: Mapping[str, Any]
) -> _RequestT:
    """``request``, or one built from ``fields``; not both (which would win is a guess)."""
    if request is not None and fields:
        raise TavusArgumentTypeError(
            f"Pass a {model.__name__} or its fields as keywords, not both."
        )
    return model.model_validate(request if request is not None else dict(fields))


def _created_at_or_after(replica: Replica, since: datetime) -> bool:
    """Whether ``replica`` may have been created at or after ``since`` (unknown counts as yes)."""
    return replica.created_at is None or assume_utc(replica.created_at) >= since


def _creation_order(replica: Replica) -> tuple[bool, datetime, str]:
    """Oldest first; replicas without a ``created_at`` last; ties broken by id."""
    created = replica.created_at
    return (
        created is None,
        assume_utc(created) if created else datetime.min.replace(tzinfo=timezone.utc),
        replica.replica_id,
    )
