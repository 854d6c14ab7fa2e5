"""Keeping idle connections from locking real callbacks out.

uvicorn closes an idle keep-alive connection only *after* a first response: a connection
that opens and never sends a request, or sends its headers a byte at a time, stays open
for ever. With ``limit_concurrency`` every such connection counts against the limit (past
it, uvicorn answers 503), and without one each still holds a file descriptor; so about
a thousand idle sockets from anywhere on the internet would keep Tavus's one callback
out (Tavus does not retry).

:func:`protocol_class` returns a subclass of the HTTP protocol uvicorn would pick by
itself (``httptools`` when it is installed, else ``h11``: Prefect's environment decides,
and Prefect does not require ``httptools``) that closes a connection when a request head
has not arrived ``timeout`` seconds after the connection opened, or after the previous
response. The request body has its own limit in the app (408). :func:`raise_open_files_limit`
lifts the soft file-descriptor limit to the hard one, so the limit is the timeout, not
the descriptor table.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

__all__ = ["protocol_class", "raise_open_files_limit"]

logger = logging.getLogger("prefect_tavus.callbacks")

#: Soft limit set when the hard one is unlimited.
_UNLIMITED_SOFT = 1 << 16


def protocol_class(
    timeout: float, base: type[asyncio.Protocol] | None = None
) -> type[asyncio.Protocol]:
    """uvicorn's own HTTP protocol class (or ``base``, for tests), closing connections that
    send no request head within ``timeout`` seconds (pass it as ``uvicorn.Config(http=...)``)."""
    if base is None:
        from uvicorn.protocols.http.auto import AutoHTTPProtocol

        base = AutoHTTPProtocol
    parent: Any = base  # H11Protocol or HttpToolsProtocol: both have what is used here

    class RequestStartTimeout(parent):
        """Both of uvicorn's implementations keep the request being served in
        ``self.cycle`` (replaced when a new request head is parsed), call
        ``on_response_complete`` after each response and ``connection_lost`` at the end."""

        request_start_timeout = timeout
        _request_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            self._arm_request_timer()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._serving():
                self._cancel_request_timer()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and not self._serving():
                self._arm_request_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_request_timer()
            super().connection_lost(exc)

        def _serving(self) -> bool:
            """A request head was parsed and its response is not complete."""
            return self.cycle is not None and not self.cycle.response_complete

        def _arm_request_timer(self) -> None:
            self._cancel_request_timer()
            self._request_timer = self.loop.call_later(
                self.request_start_timeout, self._request_start_timed_out
            )

        def _cancel_request_timer(self) -> None:
            if self._request_timer is not None:
                self._request_timer.cancel()
                self._request_timer = None

        def _request_start_timed_out(self) -> None:
            self._request_timer = None
            if not self._serving() and not self.transport.is_closing():
                self.transport.close()

    RequestStartTimeout.__name__ = RequestStartTimeout.__qualname__ = (
        f"RequestStartTimeout{parent.__name__}"
    )
    return RequestStartTimeout


def raise_open_files_limit() -> tuple[int, int] | None:
    """Raise the soft RLIMIT_NOFILE to the hard limit; returns (old, new) soft limits, or
    None where there is no such limit (Windows) or it cannot be changed."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = _UNLIMITED_SOFT if hard == resource.RLIM_INFINITY else hard
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft, soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as exc:
        logger.warning("Could not raise the open-files limit from %d: %s", soft, exc)
        return None
    return soft, target
