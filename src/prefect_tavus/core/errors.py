"""The typed errors of prefect-tavus, and nothing else.

Every failure a caller can meet is a subclass of :class:`TavusError`, split by what the
caller should do about it:

* :class:`TavusTransientError` (429, 5xx, timeouts, dropped connections, a garbled 200
  body): try again later. It carries ``retry_after`` when the server said how long.
* :class:`TavusAuthenticationError` (401/403), :class:`TavusNotFoundError` (400/404 for a
  request naming a replica or a video), :class:`TavusRequestError` (any other 4xx,
  redirects): permanent. Retrying cannot help, so waits end at once and tasks fail after
  one request.
* bad input, refused before any request: :class:`TavusArgumentError` and the invalid id
  and request errors, which are also ``ValueError`` (so ``except ValueError`` still
  catches them).
* what a wait ends with, one kind-neutral base per outcome so that a caller can catch any
  kind's: :class:`JobFailedError` (training or rendering failed), :class:`WaitTimeoutError`,
  :class:`NotFoundDuringWaitError`, :class:`WaitFailedError` (a batch with some not done);
  each kind narrows them (``ReplicaWaitTimeoutError``, ``VideoWaitTimeoutError``...).

Messages say what to fix. Turning HTTP answers into these errors, with the scrubbing of
every secret a request carried from what the server wrote back, is
:mod:`prefect_tavus.core.http_errors`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prefect_tavus.core._time import require_utc
from prefect_tavus.core.text import format_time, printable

if TYPE_CHECKING:
    from prefect_tavus.core.replicas import Replica
    from prefect_tavus.core.videos import Video

__all__ = [
    "InsecureTransportError",
    "InvalidCreateRequestError",
    "InvalidReplicaIdError",
    "InvalidReplicaRequestError",
    "InvalidVideoIdError",
    "InvalidVideoRequestError",
    "JobFailedError",
    "NotFoundDuringWaitError",
    "PrefectAPITransientError",
    "ReplicaCreateOutcomeUnknownError",
    "ReplicaNotFoundDuringWaitError",
    "ReplicaNotReadyError",
    "ReplicaSearchIncompleteError",
    "ReplicaTrainingFailedError",
    "ReplicaWaitTimeoutError",
    "ReplicasWaitFailedError",
    "TavusAPIUnavailableError",
    "TavusArgumentError",
    "TavusArgumentTypeError",
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
    "WaitFailedError",
    "WaitTimeoutError",
]

#: Longest text from the server (its message, a failure reason) put into an error message.
MAX_SERVER_TEXT = 300


def _bounded(text: str | None) -> str | None:
    """Text Tavus wrote, fit for one line of an error message (None when empty)."""
    if text is None or not text.strip():
        return None
    return printable(text.strip(), max_length=MAX_SERVER_TEXT)


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


# --- bad input / configuration (raised before any request) ---------------------------


class TavusConfigurationError(TavusError, ValueError):
    """The integration is configured so that no request can be sent (e.g. no API key)."""


class TavusArgumentError(TavusError, ValueError):
    """A bad argument to a client call (a page number, a limit, an empty name, a naive
    datetime); raised before any request. A ``ValueError``, as it was before it was typed."""


class TavusArgumentTypeError(TavusArgumentError, TypeError):
    """An argument of the wrong type (a create given both a request and fields); also a
    ``TypeError``."""


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
        when = require_utc(attempted_at)
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


# --- outcomes of waiting: one base per outcome, one subclass per kind -------------------


class JobFailedError(TavusError):
    """What was waited for reached status ``error`` (training or rendering failed).

    Attributes:
        resource: the replica or video, as Tavus last reported it.
        reason: Tavus's reason (a replica's ``error_message``, a video's ``status_details``).
    """

    def __init__(self, message: str, *, resource: Any, reason: str | None, **kwargs: Any) -> None:
        super().__init__(message, api_message=reason, **kwargs)
        self.resource = resource
        self.reason = reason


class NotFoundDuringWaitError(TavusNotFoundError):
    """What was waited for vanished (deleted, or never existed for this key).

    Raised ``from`` the :class:`TavusNotFoundError` that said so, when Tavus said so: its
    status code and the API's own message are carried over, not made up.
    """

    def __init__(self, message: str, cause: TavusError | None = None, **kwargs: Any) -> None:
        super().__init__(
            message,
            status_code=cause.status_code if cause is not None else None,
            api_message=cause.api_message if cause is not None else None,
            **kwargs,
        )
        self.__cause__ = cause


class WaitTimeoutError(TavusError, TimeoutError):
    """The deadline passed before what was waited for finished. Nothing was cancelled.

    Attributes:
        waited_seconds: how long the wait had waited, from its run's first start.
        last_status: the status Tavus last reported (None if never seen).
    """

    def __init__(
        self, message: str, *, waited_seconds: float, last_status: str | None, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.waited_seconds = waited_seconds
        self.last_status = last_status


class WaitFailedError(TavusError):
    """A batch wait ended with at least one not completed. ``results`` has them all (the
    wait's result, or ``generate_videos``' table)."""

    def __init__(self, message: str, results: Any) -> None:
        super().__init__(message)
        self.results = results


class ReplicaTrainingFailedError(JobFailedError):
    """The replica reached status ``error``. ``replica`` holds it, ``error_message`` why."""

    def __init__(self, replica: Replica) -> None:
        # The message is bounded and on one line; ``error_message`` keeps Tavus's text as given.
        reason = _bounded(replica.error_message) or "Tavus gave no error_message"
        super().__init__(
            f"Replica {printable(replica.replica_id, 128)!r} failed training: {reason}. "
            "Fix the training video (see Tavus's training guidelines) and create a new replica.",
            resource=replica,
            reason=replica.error_message,
            replica_id=replica.replica_id,
        )
        self.replica = replica
        self.error_message = replica.error_message


class VideoGenerationFailedError(JobFailedError):
    """The video reached status ``error``. ``video`` holds it, ``reason`` Tavus's why
    (``status_details``, e.g. ``replica_in_error_state``)."""

    def __init__(self, video: Video) -> None:
        reason = video.failure_reason
        super().__init__(
            f"Video {printable(video.video_id, 128)!r} failed to generate: "
            f"{_bounded(reason) or 'Tavus gave no status_details'}. Fix what it says (the script, "
            "the audio, the replica) and request a new video.",
            resource=video,
            reason=reason,
            video_id=video.video_id,
        )
        self.video = video


class ReplicaNotFoundDuringWaitError(NotFoundDuringWaitError):
    """The replica vanished (deleted, or never existed for this key) while being waited on."""

    def __init__(self, replica_id: str, cause: TavusError | None = None) -> None:
        said = f" Tavus answered: {cause.api_message or cause}." if cause is not None else ""
        super().__init__(
            f"Replica {replica_id!r} does not exist for this API key (mistyped, deleted, or created "
            f"with another account's key); nothing to wait for.{said}",
            cause,
            replica_id=replica_id,
        )


class VideoNotFoundDuringWaitError(NotFoundDuringWaitError):
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
            f"Video {video_id!r} {gone}; nothing to wait for.{said}", cause, video_id=video_id
        )


class ReplicaWaitTimeoutError(WaitTimeoutError):
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
            waited_seconds=waited_seconds,
            last_status=last_status,
            replica_id=replica_id,
        )
        self.last_progress = last_progress


class VideoWaitTimeoutError(WaitTimeoutError):
    """The deadline passed before the video was ready. Nothing was cancelled."""

    def __init__(self, video_id: str, *, waited_seconds: float, last_status: str | None) -> None:
        super().__init__(
            f"Gave up waiting for video {video_id!r} after {waited_seconds:.0f}s: last status "
            f"{last_status or 'unknown'!s}. The video keeps generating at Tavus; wait again with a "
            "larger timeout_seconds.",
            waited_seconds=waited_seconds,
            last_status=last_status,
            video_id=video_id,
        )


class ReplicasWaitFailedError(WaitFailedError):
    """A batch wait ended with at least one replica not completed. ``results`` has them all."""


class VideosWaitFailedError(WaitFailedError):
    """A batch wait ended with at least one video not ready. ``results`` has them all."""


class ReplicaNotReadyError(TavusError):
    """The replica is not completed (still training), so nothing may be generated with it
    yet where the caller asked for a completed one (a step triggered by its completion:
    the event was stale, replayed or forged)."""


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
