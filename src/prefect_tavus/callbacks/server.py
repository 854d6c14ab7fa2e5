"""``prefect-tavus callbacks``: serve the receiver with uvicorn until interrupted.

The receiver is meant to be reachable from the internet (behind a TLS reverse proxy), so
it is given as little as possible: the callback token and a Prefect API URL (and, for
Prefect Cloud, a Prefect API key). It never needs the Tavus API key; if
``TAVUS_API_KEY`` is in its environment it is removed from the process at startup with a
warning, so nothing in the process can read it later.

It refuses to start without a usable token (``TAVUS_CALLBACK_TOKEN`` or
``--token-secret-block``) and without ``PREFECT_API_URL``: without it Prefect would start
a private, in-process server, and resuming runs there would wake nothing.

uvicorn's access log is off: it prints request paths, and the path holds the token.

Facing the internet, it closes connections that send no request head within
``--request-timeout-seconds`` (uvicorn itself would keep them for ever, see
:mod:`.connections`), serves without uvicorn's connection limit (idle connections there
would get a real callback a 503), and raises its open-files limit to the hard limit.
SIGTERM and SIGINT stop it gracefully: connections are closed, then the callbacks not yet
written to Prefect are written (one attempt, at most 5 s).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import socket
import sys
from types import FrameType
from typing import Any

from prefect_tavus.core.validation import is_loopback_host

__all__ = ["TOKEN_ENV_VAR", "add_arguments", "run"]

from prefect_tavus.core.contract import CALLBACK_TOKEN_ENV_VAR as TOKEN_ENV_VAR

TAVUS_KEY_ENV_VAR = "TAVUS_API_KEY"
DEFAULT_PORT = 8790

logger = logging.getLogger("prefect_tavus.callbacks")


def _positive(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the receiver's options to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port to bind, 0 for any free one (default: {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--token-secret-block",
        metavar="NAME",
        help=f"read the token from this Prefect Secret block instead of {TOKEN_ENV_VAR}",
    )
    parser.add_argument(
        "--ttl-seconds",
        type=_positive,
        default=600.0,
        help="how long a callback already written to Prefect is also kept in memory, to bridge the "
        "server's delay in serving new events (default: 600)",
    )
    parser.add_argument(
        "--interval-seconds",
        type=_positive,
        default=5.0,
        help="seconds between passes over suspended runs while callbacks are recent, and the "
        "first retry delay when the Prefect API fails (default: 5)",
    )
    parser.add_argument(
        "--recheck-seconds",
        type=_positive,
        default=300.0,
        help="keep making passes this long after the newest callback (default: 300)",
    )
    parser.add_argument(
        "--debounce-seconds",
        type=_positive,
        default=0.3,
        help="gather callbacks this long before a pass (default: 0.3)",
    )
    parser.add_argument(
        "--max-callbacks",
        type=int,
        default=100_000,
        help="most callbacks held in memory (written ones are dropped first, then the oldest "
        "unwritten; default: 100000)",
    )
    parser.add_argument(
        "--request-timeout-seconds",
        type=_positive,
        default=10.0,
        help="close a connection that sends no request head within this many seconds of opening "
        "(or of the previous response), and answer 408 to a body not complete within it (default: 10)",
    )
    parser.add_argument(
        "--no-events",
        action="store_true",
        help="ignored: tavus.replica.callback and tavus.video.callback events are the receiver's record "
        "of callbacks now",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="default: info",
    )


def _configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    receiver_logger = logging.getLogger("prefect_tavus.callbacks")
    receiver_logger.handlers[:] = [handler]
    receiver_logger.setLevel(level.upper())
    receiver_logger.propagate = False


def _load_token(block_name: str | None) -> str:
    """The token from the Secret block named ``block_name``, else the environment."""
    if block_name:
        from prefect.blocks.system import Secret

        try:
            secret: Any = Secret.load(block_name)  # sync_compatible: a Secret in sync code
            value = secret.get()
        except Exception as exc:
            raise ValueError(
                f"cannot load Secret block {block_name!r}: {type(exc).__name__}"
            ) from None
        if not isinstance(value, str):
            raise ValueError(f"Secret block {block_name!r} does not hold a string")
        return value
    return os.environ.get(TOKEN_ENV_VAR, "")


def _ignore_signal(signum: int, frame: FrameType | None) -> None:
    """Installed around uvicorn's run: the stop it asked for has already happened."""


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio turns Nagle's algorithm off only on sockets that
    # say they are TCP, and with it on, each keep-alive response waits ~40 ms for an ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(4096)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Serve until SIGINT or SIGTERM; returns the process exit status."""
    if not 0 <= args.port <= 65535:
        parser.error("--port must be in 0..65535")
    if args.max_callbacks <= 0:
        parser.error("--max-callbacks must be positive")
    _configure_logging(args.log_level)
    if os.environ.pop(TAVUS_KEY_ENV_VAR, None) is not None:
        logger.warning(
            "%s is set in the receiver's environment; the receiver never uses it and has removed it "
            "from this process. Do not give the Tavus API key to an internet-facing service.",
            TAVUS_KEY_ENV_VAR,
        )

    # Prefect is imported only now: the CLI stays fast, and the environment is already clean.
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        print(
            "prefect-tavus callbacks: PREFECT_API_URL is not set; point it at the Prefect server "
            "(or Cloud workspace) where the waits run.",
            file=sys.stderr,
        )
        return 2
    try:
        token = _load_token(args.token_secret_block)
        if not token:
            raise ValueError(
                f"no callback token: set {TOKEN_ENV_VAR} or pass --token-secret-block NAME"
            )
        from prefect_tavus.callbacks.app import create_app
        from prefect_tavus.core.contract import validate_token

        validate_token(token)
    except ValueError as exc:
        print(f"prefect-tavus callbacks: {exc}", file=sys.stderr)
        return 2

    import uvicorn

    from prefect_tavus.callbacks.connections import protocol_class, raise_open_files_limit
    from prefect_tavus.callbacks.resumer import Resumer, ResumerSettings
    from prefect_tavus.callbacks.store import CallbackStore

    if args.no_events:
        logger.warning("--no-events is ignored: the receiver records callbacks as Prefect events.")
    limits = raise_open_files_limit()
    if limits is not None and limits[0] != limits[1]:
        logger.info("Raised the open-files limit from %d to %d.", *limits)
    store = CallbackStore(hold_seconds=args.ttl_seconds, max_entries=args.max_callbacks)
    settings = ResumerSettings(
        debounce_seconds=args.debounce_seconds,
        interval_seconds=args.interval_seconds,
        recheck_seconds=args.recheck_seconds,
    )
    resumer = Resumer(store, get_client, settings)
    app = create_app(token, resumer, body_timeout=args.request_timeout_seconds)
    del token

    try:
        sock = _bind(args.host, args.port)
    except OSError as exc:
        print(
            f"prefect-tavus callbacks: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    if not is_loopback_host(host):
        logger.warning(
            "Listening on %s, which other machines can reach: put a TLS reverse proxy in front of it.",
            shown,
        )
    print(
        f"Tavus callback receiver listening on http://{shown}:{port} "
        "(POST /tavus/callbacks/<token>, GET /healthz)",
        flush=True,
    )
    http = protocol_class(args.request_timeout_seconds)
    logger.info(
        "HTTP protocol %s; connections that send no request within %g s are closed.",
        http.__mro__[1].__name__,
        args.request_timeout_seconds,
    )
    config = uvicorn.Config(
        app,
        access_log=False,  # it would print the path, and the path holds the token
        log_level=args.log_level,
        lifespan="on",
        server_header=False,
        timeout_keep_alive=5,
        # No limit_concurrency: it counts idle connections too, so a thousand of them would get a
        # real callback a 503. Idle ones are closed after request_timeout_seconds instead.
        limit_concurrency=None,
        http=http,
    )
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the
    # handlers it found installed; make those no-ops so a requested stop exits with 0.
    previous = {
        signum: signal.signal(signum, _ignore_signal) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    print("Tavus callback receiver stopped", flush=True)
    return 0
