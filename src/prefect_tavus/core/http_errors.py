"""The one place HTTP outcomes become typed errors, and what keeps secrets out of them.

Used by :class:`~prefect_tavus.core.client.TavusClient` (beside it, Prefect-free): it maps
a non-2xx answer (:func:`error_from_response`) or a transport failure
(:func:`error_from_transport`) to the matching error of :mod:`prefect_tavus.core.errors`,
and reads ``Retry-After`` (:func:`parse_retry_after`).

Messages are built from the status, the API's own message and the replica or video id
(:class:`Subject`): never from request headers or bodies, so no secret is put in them by
us. What the server writes back can echo a request, though (a 400 quoting an invalid
``callback_url``, which carries the callback receiver's token), so everything it wrote is
scrubbed of every secret the request carried (:func:`request_secrets` decides which) and
cut to a bounded, single-line length before it goes into an error.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from prefect_tavus.core._time import assume_utc
from prefect_tavus.core.errors import (
    MAX_SERVER_TEXT,
    TavusAuthenticationError,
    TavusConnectionError,
    TavusError,
    TavusNotFoundError,
    TavusRateLimitError,
    TavusRequestError,
    TavusServerError,
)
from prefect_tavus.core.text import printable

if TYPE_CHECKING:
    import httpx

__all__ = [
    "MIN_SECRET_PART_LENGTH",
    "Subject",
    "api_message_of",
    "error_from_response",
    "error_from_transport",
    "parse_retry_after",
    "request_secrets",
    "scrub",
    "server_text",
    "url_secrets",
]

#: Shortest part of a URL (path segment, query value, password) scrubbed as a secret of its
#: own. Tokens are long (the callback receiver insists on at least 16 characters), the words
#: of a path are short, so ``/tavus/callbacks/<token>`` loses the token and keeps the words.
MIN_SECRET_PART_LENGTH = 16


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


# --- scrubbing -------------------------------------------------------------------------


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
    (control characters escaped) of at most ``MAX_SERVER_TEXT`` characters."""
    if text is None:
        return None
    text = scrub(text, secrets).strip()
    if not text:
        return None
    return printable(text, max_length=MAX_SERVER_TEXT)


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
        seconds = assume_utc(when).timestamp() - (time.time() if now is None else now)
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
