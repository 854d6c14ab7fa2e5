"""Transport-neutral request and response values.

The route handlers (:mod:`prefect_tavus.simulator.api`, :mod:`prefect_tavus.simulator.control`) take a
:class:`Request` and return a :class:`Response`; only :mod:`prefect_tavus.simulator.server` touches
sockets. That keeps the API logic readable and lets it be exercised without a server.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_TRUE = frozenset({"true", "1", "yes", "on"})


class BadRequest(Exception):
    """The request cannot be served; ``message`` becomes the ``{"error": ...}`` of a 400."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Request:
    """One decoded HTTP request.

    Attributes:
        method: upper-case HTTP method.
        path: URL path, still percent-encoded (segments are decoded by the routers, so an
            encoded ``/`` inside an id cannot change the route).
        query: decoded query parameters, every value of repeated names kept.
        headers: request headers, names in lower case.
        body: raw request body.
    """

    method: str
    path: str
    query: Mapping[str, list[str]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def param(self, name: str) -> str | None:
        """Return the last value of query parameter ``name``, or ``None``."""
        values = self.query.get(name)
        return values[-1] if values else None

    def flag(self, name: str) -> bool:
        """Read a boolean query parameter leniently (``true``/``1``/``yes``; anything else is false)."""
        value = self.param(name)
        return value is not None and value.strip().lower() in _TRUE

    def header(self, name: str) -> str | None:
        """Return header ``name`` (case-insensitively), or ``None``."""
        return self.headers.get(name.lower())

    def json_object(self) -> dict[str, Any]:
        """Decode the body as a JSON object.

        Raises:
            BadRequest: empty body, invalid JSON, or not an object.
        """
        if not self.body.strip():
            raise BadRequest("Request body must be a JSON object")
        try:
            data = json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise BadRequest("Request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise BadRequest("Request body must be a JSON object")
        return data


@dataclass(frozen=True)
class Response:
    """One HTTP response to write.

    Attributes:
        status: HTTP status code.
        body: raw body (may be empty).
        content_type: ``Content-Type`` header, or ``None`` to send none.
        headers: additional headers, sent verbatim.
    """

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
        """A JSON response (compact encoding, as APIs usually send)."""
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        return cls(
            status=status, body=body, content_type="application/json", headers=dict(headers or {})
        )

    @classmethod
    def empty(cls, status: int = 200) -> Response:
        """A response with no body (``Content-Length: 0``)."""
        return cls(status=status)

    @classmethod
    def error(cls, status: int, message: str) -> Response:
        """A Tavus-shaped ``{"error": message}`` response."""
        return cls.json(status, {"error": message})
