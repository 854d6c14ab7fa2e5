"""Scripted misbehaviour for the simulated Tavus API.

A real integration has to survive rate limits, gateway errors, dropped connections, slow
answers and bodies that are not what the headers promise, and answers lost after the request
took effect (a create that trains a replica the client never hears of). None of that can be
provoked on demand against the real service, so tests and benchmarks queue :class:`Fault`
values on the simulator, for a replica id, a route (``"POST /v2/replicas"``) or every
request (``"*"``), and each matching request consumes one of them (first in, first out)
before normal service resumes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal

FaultKind = Literal["status", "drop", "delay", "garbage", "truncated", "lost_answer", "late_answer"]

#: Every kind a :class:`Fault` can have, in the spelling the control API uses.
FAULT_KINDS: tuple[FaultKind, ...] = (
    "status",
    "drop",
    "delay",
    "garbage",
    "truncated",
    "lost_answer",
    "late_answer",
)

#: Longest ``delay`` fault: far beyond any client timeout, and a valid timer timeout.
MAX_DELAY_SECONDS = 24 * 3600.0

#: The body a ``garbage`` fault answers with: what a misconfigured proxy might send.
GARBAGE_BODY = b"<html>oops</html>"


def default_error_body(code: int) -> dict[str, str]:
    """Return the Tavus-shaped error body for ``code``.

    Tavus answers 401 with ``{"message": "Invalid access token"}`` and other client errors with
    ``{"error": ...}``; server errors from its gateway carry a ``message``. Clients are expected
    to read ``error``, then ``message``, so the simulator produces both shapes.
    """
    try:
        phrase = HTTPStatus(code).phrase
    except ValueError:
        phrase = "Error"
    if code == 401:
        return {"message": "Invalid access token"}
    if 400 <= code < 500:
        return {"error": phrase}
    return {"message": phrase}


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour, consumed by one matching request.

    Build them with the constructors (:meth:`status`, :meth:`drop`, :meth:`delay`,
    :meth:`garbage`, :meth:`truncated`, :meth:`lost_answer`, :meth:`late_answer`) rather than by hand: they validate their arguments and
    fill in Tavus-shaped defaults. The class is frozen (and hashable) so a script can be shared
    between tests without one of them mutating it.

    Attributes:
        kind: what happens to the request.
        code: HTTP status of a ``status`` fault.
        retry_after: verbatim ``Retry-After`` header of a ``status`` fault (seconds or an
            HTTP-date), or ``None`` for no header.
        body: response body of a ``status`` fault (JSON text).
        seconds: how long a ``delay`` or ``late_answer`` fault holds the answer back.
    """

    kind: FaultKind
    code: int | None = None
    retry_after: str | None = None
    body: str | None = None
    seconds: float = 0.0

    @classmethod
    def status(
        cls,
        code: int,
        retry_after: str | int | float | None = None,
        body: str | bytes | Mapping[str, Any] | None = None,
    ) -> Fault:
        """Answer with HTTP ``code`` instead of serving the request (the request has no effect).

        Args:
            code: any HTTP status, typically 429 or a 5xx.
            retry_after: put verbatim (``str()``-ed) in a ``Retry-After`` header: ``"2"`` or an
                HTTP-date such as ``"Wed, 21 Oct 2015 07:28:00 GMT"``.
            body: JSON text, bytes (UTF-8) or a mapping (serialised). Defaults to the
                Tavus-shaped body for ``code`` (see :func:`default_error_body`).
        """
        if not isinstance(code, int) or isinstance(code, bool) or not 100 <= code <= 599:
            raise ValueError(f"HTTP status code must be an int in 100..599, got {code!r}")
        if body is None:
            text = json.dumps(default_error_body(code))
        elif isinstance(body, bytes):
            text = body.decode("utf-8")  # UnicodeDecodeError is a ValueError
        elif isinstance(body, str):
            text = body
        elif isinstance(body, Mapping):
            text = json.dumps(dict(body))
        else:
            raise ValueError(
                f"a status fault's body must be JSON text or an object, got {type(body).__name__}"
            )
        header = None if retry_after is None else str(retry_after)
        return cls(kind="status", code=code, retry_after=header, body=text)

    @classmethod
    def drop(cls) -> Fault:
        """Close the TCP connection without writing any response (the request has no effect)."""
        return cls(kind="drop")

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Wait ``seconds`` (real time), then serve the request normally."""
        return cls(kind="delay", seconds=_delay_seconds(seconds))

    @classmethod
    def lost_answer(cls) -> Fault:
        """Serve the request (it takes effect: a create trains a replica), then close the
        connection without answering: the client cannot tell what happened."""
        return cls(kind="lost_answer")

    @classmethod
    def late_answer(cls, seconds: float) -> Fault:
        """Serve the request at once (it takes effect), and hold the answer back ``seconds``
        (real time): past a shorter client timeout, the answer is lost. Unlike :meth:`delay`,
        which waits before serving, the effect is visible during the wait."""
        return cls(kind="late_answer", seconds=_delay_seconds(seconds))

    @classmethod
    def garbage(cls) -> Fault:
        """Serve the request, but answer 200 ``application/json`` with an HTML body."""
        return cls(kind="garbage")

    @classmethod
    def truncated(cls) -> Fault:
        """Serve the request, but answer 200 with the first half of its JSON body only."""
        return cls(kind="truncated")

    def to_dict(self) -> dict[str, Any]:
        """Return the control-API spelling of this fault (inverse of :meth:`from_dict`)."""
        data: dict[str, Any] = {"kind": self.kind}
        if self.kind == "status":
            data.update(code=self.code, retry_after=self.retry_after, body=self.body)
        elif self.kind in ("delay", "late_answer"):
            data["seconds"] = self.seconds
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        """Build a fault from its control-API spelling, e.g. ``{"kind": "status", "code": 503}``.

        Raises:
            ValueError: unknown kind or invalid arguments.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"a fault must be a JSON object, got {data!r}")
        kind = data.get("kind")
        if kind == "status":
            if "code" not in data:
                raise ValueError("a status fault needs a 'code'")
            return cls.status(data["code"], data.get("retry_after"), data.get("body"))
        if kind == "delay":
            return cls.delay(data.get("seconds", 0.0))
        if kind == "late_answer":
            return cls.late_answer(data.get("seconds", 0.0))
        if kind == "lost_answer":
            return cls.lost_answer()
        if kind == "drop":
            return cls.drop()
        if kind == "garbage":
            return cls.garbage()
        if kind == "truncated":
            return cls.truncated()
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")


def _delay_seconds(seconds: Any) -> float:
    """``seconds`` as a float in 0..MAX_DELAY_SECONDS, or ValueError naming what was given."""
    number = None
    if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
        try:
            number = float(seconds)
        except OverflowError:  # an integer too large for a float
            number = None
    if number is None or not math.isfinite(number) or not 0 <= number <= MAX_DELAY_SECONDS:
        raise ValueError(
            f"delay seconds must be a number in 0..{MAX_DELAY_SECONDS:.0f}, got {seconds!r}"
        )
    return number
