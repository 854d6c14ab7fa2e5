"""Typed errors for the Tavus API, and the one place that turns HTTP outcomes into them.

Every failure a caller can meet is a subclass of :class:`TavusError`, split by what the
caller should do about it:

* :class:`TavusTransientError` (429, 5xx, timeouts, dropped connections, a garbled 200
  body): try again later. It carries ``retry_after`` when the server said how long.
* :class:`TavusAuthenticationError` (401/403), :class:`TavusNotFoundError` (400/404 for a
  request naming a replica or a video), :class:`TavusRequestError` (any other 4xx,
  redirects): permanent. Retrying cannot help, so waits end at once and tasks fail after
  one request.

Messages say what to fix. They are built from the status, the API's own message and the
replica or video id (:class:`Subject`): never from request headers or bodies, so no secret
is put in them by us. What the server writes back can echo a request, though (a 400 quoting an invalid
``callback_url``, which carries the callback receiver's token), so everything it wrote is
scrubbed of every secret the request carried (:func:`request_secrets` decides which) and
cut to a bounded, single-line length before it goes into an error.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from prefect_tavus.core.text import format_time, printable

if TYPE_CHECKING:
    import httpx

    from prefect_tavus.core.models import Replica
    from prefect_tavus.core.videos import Video

__all__ = [
    "InsecureTransportError",
    "InvalidCreateRequestError",
    "InvalidReplicaIdError",
    "InvalidReplicaRequestError",
    "InvalidVideoIdError",
    "InvalidVideoRequestError",
    "PrefectAPITransientError",
    "ReplicaCreateOutcomeUnknownError",
    "ReplicaNotFoundDuringWaitError",
    "ReplicaNotReadyError",
    "ReplicaSearchIncompleteError",
    "ReplicaTrainingFailedError",
    "ReplicaWaitTimeoutError",
    "ReplicasWaitFailedError",
    "Subject",
    "TavusAPIUnavailableError",
    "TavusAuthenticationError",
    "TavusConfigurationError",
    "TavusConnectionError",
    "TavusError",
    "TavusMalformedResponseError",
    "TavusNotFoundError",
    "TavusRateLimitError",
    "TavusRequestError",
    "TavusServerError",
    "TavusTransientError",
    "VideoGenerationFailedError",
    "VideoNotFoundDuringWaitError",
    "VideoWaitTimeoutError",
    "VideosWaitFailedError",
    "error_from_response",
    "error_from_transport",
    "parse_retry_after",
    "request_secrets",
    "scrub",
    "url_secrets",
]

#: Longest text from the server (its message, a redirect's Location) put into an error.
_MAX_SERVER_TEXT = 300

#: Shortest part of a URL (path segment, query value, password) scrubbed as a secret of its
#: own. Tokens are long (the callback receiver insists on at least 16 characters), the words
#: of a path are short, so ``/tavus/callbacks/<token>`` loses the token and keeps the words.
MIN_SECRET_PART_LENGTH = 16


class TavusError(Exception):
    """Base class of every error raised by prefect-tavus.

    Attributes:
        status_code: HTTP status of the answer that caused it, if there was one.
        replica_id: the replica the request was about, if any.
        video_id: the video the request was about, if any.
        api_message: the API's own message (``error``, else ``message``, else raw text).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        replica_id: str | None = None,
        video_id: str | None = None,
        api_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.replica_id = replica_id
        self.video_id = video_id
        self.api_message = api_message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep attributes through pickling (Prefect persists exceptions in failed states).
        return (_rebuild_error, (type(self), self.message, dict(self.__dict__)))


def _rebuild_error(cls: type[TavusError], message: str, state: dict[str, Any]) -> TavusError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.video_id = None  # errors pickled before videos existed lack it
    error.__dict__.update(state)
    return error


@dataclass(frozen=True)
class Subject:
    """What a request is about, as errors name it: ``Subject("video", "abcd123")``.

    One type for every kind of thing an endpoint addresses by id, so the mapping of
    answers to errors says "Tavus has no video 'abcd123'" or "no replica 'r1'" from the
    same code, and sets the matching attribute (``video_id``, ``replica_id``) on the error.
    """

    kind: Literal["replica", "video"]
    id: str

    def error_ids(self) -> dict[str, str]:
        """The keyword naming this subject on a :class:`TavusError` (``{"video_id": ...}``)."""
        return {f"{self.kind}_id": self.id}


# --- bad input / configuration (raised before any request) ---------------------------


class TavusConfigurationError(TavusError, ValueError):
    """The integration is configured so that no request can be sent (e.g. no API key)."""


class InvalidReplicaIdError(TavusError, ValueError):
    """A ``replica_id`` that cannot be a Tavus replica id; raised before any request."""


class InvalidVideoIdError(TavusError, ValueError):
    """A ``video_id`` that cannot be a Tavus video id; raised before any request."""


class InvalidCreateRequestError(TavusConfigurationError):
    """A create request refused before it is sent: a create bills, so bad input must never
    reach Tavus, where it could be refused (a wasted round trip) or, worse, carried out as
    something the caller did not mean.

    The message names every offending field and never quotes a URL's value (a
    ``callback_url`` carries the receiver's token, a presigned ``audio_url`` its signature).

    Attributes:
        fields: the offending fields, in the order found.
        field: the first of them.
    """

    def __init__(self, message: str, *, fields: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.fields = tuple(fields)
        self.field = self.fields[0] if self.fields else None


class InvalidReplicaRequestError(InvalidCreateRequestError):
    """A replica create request (``ReplicaCreateRequest``) with a bad field."""


class InvalidVideoRequestError(InvalidCreateRequestError):
    """A video create request (``VideoCreateRequest``) with a bad field."""


class InsecureTransportError(TavusConfigurationError):
    """A ``base_url`` over which the API key would travel in clear text, or not http(s)."""


# --- permanent API answers -----------------------------------------------------------


class TavusAuthenticationError(TavusError):
    """401/403: the API key is missing, wrong, revoked, or not allowed from this IP."""


class TavusNotFoundError(TavusError):
    """400/404 for a request naming a replica or video: the id does not exist for this key
    (mistyped or deleted). Tavus answers an unknown id with 400, not 404."""


class TavusRequestError(TavusError):
    """Any other permanent refusal (400 on create, 405, 409, 422, a redirect...)."""


# --- transient faults ----------------------------------------------------------------


class TavusTransientError(TavusError):
    """A fault that may pass: try again later, if trying again is harmless.

    It is for reads, renames and deletes, which are idempotent. A create is not: before
    sending one again, ask :attr:`may_have_taken_effect` (see
    :class:`ReplicaCreateOutcomeUnknownError`).

    Attributes:
        retry_after: seconds the server asked us to wait (``Retry-After``), if it said.
        request_sent: whether the request reached Tavus. True when Tavus answered (429,
            5xx, a garbled 2xx), False when it provably never left this machine (no
            connection could be made), None when nobody can tell (the connection broke
            or timed out after the request was written).
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        request_sent: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        self.request_sent = request_sent

    @property
    def may_have_taken_effect(self) -> bool:
        """Whether the request may have been carried out despite the error: False only
        when it provably was not (never sent, or refused with a 429)."""
        return self.request_sent is not False


class TavusRateLimitError(TavusTransientError):
    """429: too many requests for this key. The request was refused, not carried out."""

    @property
    def may_have_taken_effect(self) -> bool:
        return False


class TavusServerError(TavusTransientError):
    """5xx: Tavus had a problem answering. Whether it carried the request out is unknown."""


class TavusConnectionError(TavusTransientError):
    """No answer: connection refused or reset, DNS failure, or a timeout.

    ``request_sent`` says whether the request may have reached Tavus: False for a failure
    to connect (refused, DNS, connect or pool timeout), None once it may have been written
    (a read timeout, a reset, a connection closed without an answer).
    """


class TavusMalformedResponseError(TavusTransientError):
    """A 2xx whose body is not the JSON we expect (truncated, HTML from a proxy...).

    Tavus did carry the request out: for a create, a replica is training, and its id is lost.
    """


class PrefectAPITransientError(TavusTransientError):
    """The Prefect API (not Tavus) refused a connection, timed out or answered 5xx.

    A wait needs Prefect as much as Tavus: it records its state on its flow run, takes
    ``tavus-api`` concurrency slots and writes artifacts there. Such a fault is counted
    against the same ``max_outage_seconds`` as a Tavus outage, so it never ends a wait by
    itself; it is a :class:`TavusTransientError` so the one outage budget applies.
    """


# --- creating: never train twice -----------------------------------------------------


class ReplicaCreateOutcomeUnknownError(TavusError):
    """A create was sent and its answer lost: whether Tavus is training a replica is unknown.

    Not transient on purpose: a create is not idempotent, so sending it again could train
    (and bill) a second replica. What to do is look first: the replicas named
    ``replica_name`` created since ``attempted_at`` (``TavusClient.find_replicas``, the
    ``list_replicas`` task, or the Tavus dashboard).

    Attributes:
        replica_name: the name the create asked for (None if it gave none).
        attempted_at: when the create was sent (UTC).
        cause: the error that lost the answer (also ``__cause__``).
        found: the ids of the matching replicas, when more than one matched.
    """

    def __init__(
        self,
        *,
        replica_name: str | None,
        attempted_at: datetime | float,
        cause: BaseException | None = None,
        found: Sequence[str] = (),
    ) -> None:
        when = _utc(attempted_at)
        shown = format_time(when)
        if replica_name:
            what, which = (
                f"replica {printable(replica_name, 100)!r}",
                f"the replicas named {printable(replica_name, 100)!r}",
            )
        else:
            what, which = "a replica (no replica_name given)", "the replicas"
        said = f" Cause: {cause}" if cause is not None else ""
        if len(found) > 1:
            said = (
                f" {len(found)} replicas match ({', '.join(found[:10])}), so which one this run made "
                f"cannot be told.{said}"
            )
        super().__init__(
            f"The outcome of creating {what} is unknown: the request was sent at {shown} but its answer "
            "was lost. Tavus may be training it now, so sending the create again could train and bill a "
            f"second replica. Check first: list {which} created since {shown} in the Tavus dashboard "
            "(https://platform.tavus.io) or with the list_replicas task (TavusClient.find_replicas does "
            f"exactly this search), and create again only if there is none.{said}",
            status_code=getattr(cause, "status_code", None),
            api_message=getattr(cause, "api_message", None),
        )
        self.replica_name = replica_name
        self.attempted_at = when
        self.cause = cause
        self.found = list(found)
        self.__cause__ = cause


class ReplicaSearchIncompleteError(TavusError):
    """``find_replicas`` stopped after its page limit with more of the account unread.

    Attributes:
        replica_name: the name searched for.
        pages_read: pages read before stopping.
        total_count: how many replicas Tavus said the list holds (None if it did not say).
        found: the matching replicas among those read (there may be more).
    """

    def __init__(
        self, *, replica_name: str, pages_read: int, total_count: int | None, found: list[Replica]
    ) -> None:
        total = "an unknown number of" if total_count is None else str(total_count)
        ids = ", ".join(r.replica_id for r in found) or "none"
        super().__init__(
            f"Searched {pages_read} pages of the account's {total} replicas for replicas named "
            f"{printable(replica_name, 100)!r} and stopped with more left unread (matches so far: {ids}). "
            "Raise max_pages, or look in the Tavus dashboard (https://platform.tavus.io).",
        )
        self.replica_name = replica_name
        self.pages_read = pages_read
        self.total_count = total_count
        self.found = list(found)


def _utc(moment: datetime | float) -> datetime:
    """``moment`` (aware datetime, or epoch seconds) as an aware UTC datetime.

    A naive datetime is refused: read as UTC or as local time, it is wrong on some machines,
    and here a wrong time can hide the replica a lost create made.
    """
    if isinstance(moment, datetime):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(
                "a naive datetime is ambiguous: pass an aware one (e.g. datetime.now(timezone.utc)) "
                "or epoch seconds (time.time())"
            )
        return moment.astimezone(timezone.utc)
    if isinstance(moment, (int, float)) and not isinstance(moment, bool) and math.isfinite(moment):
        return datetime.fromtimestamp(moment, tz=timezone.utc)
    raise TypeError(f"expected an aware datetime or epoch seconds, got {type(moment).__name__}")


# --- outcomes of waiting -------------------------------------------------------------


class ReplicaTrainingFailedError(TavusError):
    """The replica reached status ``error``. ``replica`` holds it, ``error_message`` why."""

    def __init__(self, replica: Replica) -> None:
        # The message is bounded and on one line; ``error_message`` keeps Tavus's text as given.
        reason = server_text(replica.error_message) or "Tavus gave no error_message"
        super().__init__(
            f"Replica {printable(replica.replica_id, 128)!r} failed training: {reason}. "
            "Fix the training video (see Tavus's training guidelines) and create a new replica.",
            replica_id=replica.replica_id,
            api_message=replica.error_message,
        )
        self.replica = replica
        self.error_message = replica.error_message


class ReplicaNotFoundDuringWaitError(TavusNotFoundError):
    """The replica vanished (deleted, or never existed for this key) while being waited on.

    Raised ``from`` the :class:`TavusNotFoundError` that said so: its status code and the
    API's own message are carried over, not made up.
    """

    def __init__(self, replica_id: str, cause: TavusError | None = None) -> None:
        said = f" Tavus answered: {cause.api_message or cause}." if cause is not None else ""
        super().__init__(
            f"Replica {replica_id!r} does not exist for this API key (mistyped, deleted, or created "
            f"with another account's key); nothing to wait for.{said}",
            replica_id=replica_id,
            status_code=cause.status_code if cause is not None else None,
            api_message=cause.api_message if cause is not None else None,
        )
        self.__cause__ = cause


class ReplicaWaitTimeoutError(TavusError, TimeoutError):
    """The deadline passed before the replica finished training. Nothing was cancelled."""

    def __init__(
        self,
        replica_id: str,
        *,
        waited_seconds: float,
        last_status: str | None,
        last_progress: str | None,
    ) -> None:
        super().__init__(
            f"Gave up waiting for replica {replica_id!r} after {waited_seconds:.0f}s: "
            f"last status {last_status or 'unknown'!s}, progress {last_progress or 'unknown'!s}. "
            "The replica keeps training at Tavus; wait again with a larger timeout_seconds.",
            replica_id=replica_id,
        )
        self.waited_seconds = waited_seconds
        self.last_status = last_status
        self.last_progress = last_progress


class TavusAPIUnavailableError(TavusError):
    """Transient faults lasted longer than the wait's outage budget."""

    def __init__(
        self, *, outage_seconds: float, budget_seconds: float, last_error: TavusError
    ) -> None:
        super().__init__(
            f"The Tavus API was unreachable for {outage_seconds:.0f}s (budget {budget_seconds:.0f}s); "
            f"it last answered: {last_error}. Check https://status.tavus.io or raise max_outage_seconds.",
            status_code=last_error.status_code,
        )
        self.outage_seconds = outage_seconds
        self.budget_seconds = budget_seconds
        self.last_error = last_error


class ReplicasWaitFailedError(TavusError):
    """A batch wait ended with at least one replica not completed. ``results`` has them all."""

    def __init__(self, message: str, results: Any) -> None:
        super().__init__(message)
        self.results = results


class ReplicaNotReadyError(TavusError):
    """The replica is not completed (still training), so nothing may be generated with it
    yet where the caller asked for a completed one (a step triggered by its completion:
    the event was stale, replayed or forged)."""


class VideoGenerationFailedError(TavusError):
    """The video reached status ``error``. ``video`` holds it, ``reason`` Tavus's why
    (``status_details``, e.g. ``replica_in_error_state``)."""

    def __init__(self, video: Video) -> None:
        reason = video.failure_reason
        super().__init__(
            f"Video {printable(video.video_id, 128)!r} failed to generate: "
            f"{server_text(reason) or 'Tavus gave no status_details'}. Fix what it says (the script, "
            "the audio, the replica) and request a new video.",
            video_id=video.video_id,
            api_message=reason,
        )
        self.video = video
        self.reason = reason


class VideoNotFoundDuringWaitError(TavusNotFoundError):
    """The video vanished (deleted, or never existed for this key) while being waited on."""

    def __init__(
        self, video_id: str, cause: TavusError | None = None, *, status: str | None = None
    ) -> None:
        said = f" Tavus answered: {cause.api_message or cause}." if cause is not None else ""
        gone = (
            f"was {printable(status, 40)}"
            if status
            else "does not exist for this API key (mistyped, deleted, or made with another account's key)"
        )
        super().__init__(
            f"Video {video_id!r} {gone}; nothing to wait for.{said}",
            video_id=video_id,
            status_code=cause.status_code if cause is not None else None,
            api_message=cause.api_message if cause is not None else None,
        )
        self.__cause__ = cause


class VideoWaitTimeoutError(TavusError, TimeoutError):
    """The deadline passed before the video was ready. Nothing was cancelled."""

    def __init__(self, video_id: str, *, waited_seconds: float, last_status: str | None) -> None:
        super().__init__(
            f"Gave up waiting for video {video_id!r} after {waited_seconds:.0f}s: last status "
            f"{last_status or 'unknown'!s}. The video keeps generating at Tavus; wait again with a "
            "larger timeout_seconds.",
            video_id=video_id,
        )
        self.waited_seconds = waited_seconds
        self.last_status = last_status


class VideosWaitFailedError(TavusError):
    """A batch wait ended with at least one video not ready. ``results`` has them all."""

    def __init__(self, message: str, results: Any) -> None:
        super().__init__(message)
        self.results = results


# --- the one place HTTP outcomes become errors ---------------------------------------


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove every secret from ``text`` (defence in depth for server-echoed text).

    Longest first, so a URL is replaced whole before a token inside it is looked for.
    """
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def url_secrets(url: str) -> tuple[str, ...]:
    """The secrets a URL carries: the URL itself, and each path segment, query value or
    password of at least :data:`MIN_SECRET_PART_LENGTH` characters (as written and
    percent-decoded).

    The parts matter as much as the whole: a server may echo the URL JSON-escaped
    (``https:\\/\\/host\\/...``), re-encoded or cut short, and then only the token, which
    has no ``/`` in it, is still found as written.
    """
    if not isinstance(url, str) or not url.strip():
        return ()
    found = {url, url.strip()}
    try:
        parts = urlsplit(url.strip())
        candidates = [
            *parts.path.split("/"),
            *(value for _, value in parse_qsl(parts.query)),
            parts.password or "",
        ]
    except ValueError:  # e.g. an invalid IPv6 host: fall back to cutting the text at slashes
        candidates = url.replace("?", "/").replace("&", "/").replace("=", "/").split("/")
    for part in candidates:
        for form in (part, unquote(part)):
            if len(form) >= MIN_SECRET_PART_LENGTH:
                found.add(form)
    return tuple(sorted(found, key=len, reverse=True))


def request_secrets(request: httpx.Request | None, *, api_key: str) -> tuple[str, ...]:
    """Every secret ``request`` carries: the one place that decides what is scrubbed.

    The API key (always), and the ``callback_url`` of a JSON body (a create), which holds
    the callback receiver's token (see :func:`url_secrets`). Read from the request as it
    was sent, so a new endpoint that sends a ``callback_url`` is covered without a change.
    """
    found: list[str] = [api_key] if api_key else []
    content = b""
    if request is not None:
        try:
            content = request.content
        except Exception:
            content = b""
    if content:
        try:
            body = json.loads(content)
        except (ValueError, UnicodeDecodeError):
            body = None
        if isinstance(body, dict) and isinstance(body.get("callback_url"), str):
            found.extend(url_secrets(body["callback_url"]))
    return tuple(found)


def server_text(text: str | None, secrets: Iterable[str] = ()) -> str | None:
    """Text the server wrote, made fit for an error message and a log line: scrubbed of
    ``secrets`` first (so a cut cannot leave half a secret behind), then one line
    (control characters escaped) of at most ``_MAX_SERVER_TEXT`` characters."""
    if text is None:
        return None
    text = scrub(text, secrets).strip()
    if not text:
        return None
    return printable(text, max_length=_MAX_SERVER_TEXT)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date.

    An HTTP-date is always UTC (RFC 9110). ``email.utils`` returns a naive datetime for a
    date without a usable zone (``-0000``, or none at all), which ``timestamp()`` would read
    as local time, off by the machine's UTC offset; such a date is taken as UTC here.

    Returns None when the header is absent or unreadable, and never a negative number.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def api_message_of(response: httpx.Response, secrets: Iterable[str] = ()) -> str | None:
    """The API's message: ``error``, else ``message``, else the raw text; scrubbed of
    ``secrets`` and bounded (see :func:`server_text`)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for field in ("error", "message", "detail"):
            value = body.get(field)
            if isinstance(value, str) and value.strip():
                return server_text(value, secrets)
    return server_text(response.text, secrets)


def _subject_of(subject: Subject | None, replica_id: str | None) -> Subject | None:
    """``subject``, or the replica that the older ``replica_id=`` keyword names."""
    if subject is not None:
        return subject
    return Subject("replica", replica_id) if replica_id else None


def error_from_response(
    response: httpx.Response,
    *,
    operation: str,
    subject: Subject | None = None,
    replica_id: str | None = None,
    secrets: Iterable[str] = (),
) -> TavusError:
    """Map a non-2xx answer to the matching typed error.

    Args:
        response: the answer.
        operation: what was attempted, for the message ("get replica", "list videos").
        subject: what the request named by id (a replica, a video), if anything: a 400 or
            404 then means that id is unknown (:class:`TavusNotFoundError`).
        replica_id: shorthand for ``subject=Subject("replica", replica_id)``.
        secrets: strings to scrub from anything the server wrote.
    """
    about = _subject_of(subject, replica_id)
    status = response.status_code
    secrets = tuple(secrets)
    api_message = api_message_of(response, secrets)
    said = f": {api_message}" if api_message else ""
    subject_text = f" {about.id!r}" if about else ""
    common: dict[str, Any] = {
        "status_code": status,
        **(about.error_ids() if about else {}),
        "api_message": api_message,
    }
    answered: dict[str, Any] = {**common, "request_sent": True}  # for the transient errors

    if status in (401, 403):
        return TavusAuthenticationError(
            f"Tavus refused the API key ({status}{said}) while trying to {operation}{subject_text}. "
            "Check the key on the TavusCredentials block or TAVUS_API_KEY, that it is not revoked, "
            "and, if the key is IP-restricted, that this machine's address is allowed.",
            **common,
        )
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return TavusRateLimitError(
            f"Tavus rate-limited the request to {operation}{subject_text} (429{said}).",
            retry_after=retry_after,
            **answered,
        )
    if status >= 500:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return TavusServerError(
            f"Tavus answered {status} to {operation}{subject_text}{said}.",
            retry_after=retry_after,
            **answered,
        )
    if about and status in (400, 404):
        return TavusNotFoundError(
            f"Tavus has no {about.kind} {about.id!r} for this API key ({status}{said}). "
            "Check the id for typos, that it was not deleted, and that the key belongs to the "
            "account that created it.",
            **common,
        )
    if 300 <= status < 400:
        location = response.headers.get("location", "?")
        return TavusRequestError(
            f"Tavus redirected the request to {operation} ({status} to {server_text(location, secrets) or '?'}); "
            "redirects are not followed so the API key never leaves for another URL. "
            "Check base_url on the TavusCredentials block.",
            **common,
        )
    return TavusRequestError(
        f"Tavus refused the request to {operation}{subject_text} ({status}{said}).",
        **common,
    )


def error_from_transport(
    exc: Exception, *, operation: str, subject: Subject | None = None, replica_id: str | None = None
) -> TavusConnectionError:
    """Map an httpx transport failure (no usable answer) to a transient error.

    Sets ``request_sent``: False only for failures that happen before a byte of the
    request is written (no connection, or no free connection in the pool); None for the
    rest, which may strike after Tavus has read the request and acted on it. ``subject``
    and ``replica_id`` are as for :func:`error_from_response`.
    """
    import httpx

    about = _subject_of(subject, replica_id)
    subject_text = f" {about.id!r}" if about else ""
    request_sent: bool | None = None
    if isinstance(exc, httpx.PoolTimeout):
        kind, request_sent = "timed out waiting for a free connection", False
    elif isinstance(exc, httpx.ConnectTimeout):
        kind, request_sent = "timed out connecting", False
    elif isinstance(exc, httpx.TimeoutException):
        kind = "timed out"
    elif isinstance(exc, httpx.ConnectError):
        kind, request_sent = "could not connect", False
    elif isinstance(exc, httpx.UnsupportedProtocol):
        kind, request_sent = "could not be sent (unsupported protocol)", False
    else:
        kind = f"lost the connection ({type(exc).__name__})"
    sent = " (it was not sent)" if request_sent is False else " (it may have reached Tavus)"
    ids: dict[str, Any] = about.error_ids() if about else {}
    return TavusConnectionError(
        f"Request to {operation}{subject_text} {kind}{sent}.", request_sent=request_sent, **ids
    )
