"""The receiver's HTTP side: a Starlette app that stores callbacks and answers at once.

Routes: ``POST /tavus/callbacks/{token}`` and ``GET /healthz``. Anything else is a plain
404 (or 405 for a known path with another method), with no detail.

The order of checks is the contract:

1. the token (compared in constant time, on digests so not even its length leaks); a
   wrong or missing token is the same bare 404 as an unknown path, and nothing else is
   looked at, so a scanner learns nothing;
2. the size: a ``Content-Length`` over 64 KiB is refused before reading, and a body sent
   without one (chunked) is read only up to the cap: 413; a body not complete within
   ``body_timeout`` seconds: 408 (a slow sender must not hold a connection for long);
3. the content: not a JSON object, an id that fails validation, or no id at all (neither
   a ``video_id`` nor a ``replica_id`` / ``face_id``, and not a conversation callback):
   400 with a short generic reason that never echoes the input. A video callback (it has
   a ``video_id``) and a training callback are taken; a conversation callback is answered
   202 and ignored (see :mod:`.payload`);
4. store it, wake the resumer, answer 202. No Prefect call happens before the answer,
   so the answer is fast even when the Prefect API is slow or down; the resumer writes
   it to Prefect in its next pass (and on SIGTERM, see :func:`stop_resumer`).

The token is never logged, echoed or put in an exception: handler errors are answered
with a bare 500 and logged by type only.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from prefect_tavus.callbacks.payload import BadCallback, parse_callback
from prefect_tavus.callbacks.resumer import Resumer
from prefect_tavus.core.contract import CALLBACK_PATH, MIN_TOKEN_LENGTH, validate_token

__all__ = ["CALLBACK_PATH", "MAX_BODY_BYTES", "MIN_TOKEN_LENGTH", "create_app", "validate_token"]

logger = logging.getLogger("prefect_tavus.callbacks")

#: Largest callback body accepted. A training callback is well under 1 KiB, a video's
#: (the whole video object) a few KiB.
MAX_BODY_BYTES = 64 * 1024


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).digest()


def _not_found() -> Response:
    return PlainTextResponse("Not Found", status_code=404)


def _error(status: int, reason: str) -> Response:
    return JSONResponse({"error": reason}, status_code=status)


class _CallbackEndpoint:
    """``POST /tavus/callbacks/{token}``."""

    def __init__(self, token: str, resumer: Resumer, body_timeout: float) -> None:
        self._token_digest = _digest(token)
        self._resumer = resumer
        self._body_timeout = body_timeout

    async def endpoint(self, request: Request) -> Response:
        """The route's endpoint (a bound method: Starlette treats a callable object as raw ASGI)."""
        try:
            return await self._handle(request)
        except ClientDisconnect:
            return _error(400, "incomplete body")
        except asyncio.TimeoutError:  # not the builtin TimeoutError on Python 3.10
            return _error(408, "body too slow")
        except Exception as exc:
            logger.error("Internal error handling a callback: %s", type(exc).__name__)
            return PlainTextResponse("Internal Server Error", status_code=500)

    async def _handle(self, request: Request) -> Response:
        given = request.path_params.get("token", "")
        if not hmac.compare_digest(_digest(given), self._token_digest):
            return _not_found()
        declared = request.headers.get("content-length")
        if declared is not None:
            try:
                if int(declared) > MAX_BODY_BYTES:
                    return _error(413, "body too large")
            except ValueError:
                return _error(400, "bad content-length")
        body = await asyncio.wait_for(_read_capped(request), self._body_timeout)
        if body is None:
            return _error(413, "body too large")
        try:
            callback = parse_callback(body)
        except BadCallback as exc:
            return _error(400, str(exc))
        if callback.resource_id is None or callback.kind is None:
            return JSONResponse({"status": "ignored"}, status_code=202)
        stored = self._resumer.store.record(
            callback.resource_id, callback.status, callback.reason, kind=callback.kind
        )
        if stored is not None:
            self._resumer.received(stored)
        return JSONResponse({"status": "accepted"}, status_code=202)


async def _read_capped(request: Request) -> bytes | None:
    """The body, or None as soon as it exceeds :data:`MAX_BODY_BYTES` (the rest is not read)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)


async def stop_resumer(resumer: Resumer, task: asyncio.Task[None], timeout: float = 5.0) -> None:
    """Stop the resumer's loop: ask it, give a pass under way ``timeout`` seconds, then
    cancel; then make one last attempt (``timeout`` seconds at most) to write the
    callbacks not yet in Prefect, so a graceful stop loses none while Prefect answers.

    Never waits unboundedly, so SIGTERM always ends the process promptly.
    """
    resumer.stop()
    _, pending = await asyncio.wait({task}, timeout=timeout)
    if pending:
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
    flush = asyncio.ensure_future(resumer.flush())
    _, flush_pending = await asyncio.wait({flush}, timeout=timeout)
    if flush_pending:
        flush.cancel()
        logger.warning(
            "Gave up writing %d callbacks to Prefect at shutdown after %g s.",
            resumer.store.pending_count,
            timeout,
        )


def create_app(
    token: str, resumer: Resumer, *, run_resumer: bool = True, body_timeout: float = 10.0
) -> Starlette:
    """The receiver app.

    Args:
        token: the secret path segment callbacks must carry (see :func:`validate_token`).
        resumer: holds the callback store and resumes waits in the background.
        run_resumer: start ``resumer.run_forever`` for the app's lifetime (its lifespan).
            Tests of the HTTP contract alone may turn it off.
        body_timeout: seconds a sender has to deliver the whole body (then 408).
    """
    validate_token(token)

    async def healthz(request: Request) -> Response:
        state = {None: "unknown", True: "ok", False: "failing"}[resumer.healthy]
        return JSONResponse({"status": "ok", "prefect_api": state})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = (
            asyncio.create_task(resumer.run_forever(), name="tavus-callback-resumer")
            if run_resumer
            else None
        )
        try:
            yield
        finally:
            if task is not None:
                await stop_resumer(resumer, task)

    async def not_found(request: Request, exc: Exception) -> Response:
        return _not_found()

    app = Starlette(
        routes=[
            Route(
                CALLBACK_PATH,
                _CallbackEndpoint(token, resumer, body_timeout).endpoint,
                methods=["POST"],
            ),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        exception_handlers={404: not_found},
        lifespan=lifespan,
    )
    # A trailing-slash redirect would echo the path (and so the token) in a Location header.
    app.router.redirect_slashes = False
    return app
