"""Command line entry point: run a simulator until interrupted.

``python -m prefect_tavus.simulator`` (or ``prefect-tavus simulator``, which takes the same
options) gives the demo, a developer or a benchmark in another process a Tavus API to talk
to at a fixed address. It prints one line saying where it listens (and the
ids of any seeded replicas), serves until Ctrl-C or SIGTERM, and exits cleanly. It refuses
non-loopback addresses unless asked, because the simulator has no real security.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from prefect_tavus.simulator.simulator import TavusSimulator
from prefect_tavus.simulator.spec import MAX_SECONDS
from prefect_tavus.simulator.state import LIST_ORDERS
from prefect_tavus.simulator.vocabulary import VOCABULARIES

DEFAULT_PORT = 8765
DEFAULT_API_KEY = "sim-key"

#: What the simulator command does, for ``--help``.
DESCRIPTION = (
    "Serve a local fake of the Tavus Replicas API (and of its Videos API) until interrupted."
)


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback IP address."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the simulator's options to ``parser``.

    Shared by ``python -m prefect_tavus.simulator`` and ``prefect-tavus simulator``, so the
    two spellings take exactly the same options.
    """
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port to bind, 0 for any free one (default: {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help=f"accepted x-api-key value; repeatable (default: {DEFAULT_API_KEY})",
    )
    parser.add_argument(
        "--training-seconds",
        type=float,
        default=20.0,
        help="seconds a replica takes to train (default: 20)",
    )
    parser.add_argument(
        "--generation-seconds",
        type=float,
        default=10.0,
        help="seconds a video takes to generate once its replica is trained (default: 10)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="N", help="start with N replicas training"
    )
    parser.add_argument(
        "--allow-external", action="store_true", help="allow binding an address other than loopback"
    )
    parser.add_argument(
        "--drop-callbacks",
        action="store_true",
        help="lose every training-finished callback (never POST them)",
    )
    parser.add_argument(
        "--vocabulary",
        choices=VOCABULARIES,
        default="replicas",
        help="field names of answers: replica_id/replica_name/replica_type, or face_id/face_name/face_type "
        "as Tavus's newest docs (default: replicas)",
    )
    parser.add_argument(
        "--list-order",
        choices=LIST_ORDERS,
        default="oldest_first",
        help="order of list pages (Tavus documents none; default: oldest_first)",
    )
    parser.add_argument(
        "--video-list-order",
        choices=LIST_ORDERS,
        default="oldest_first",
        help="order of video list pages (Tavus documents none; default: oldest_first)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")


def build_parser(prog: str = "python -m prefect_tavus.simulator") -> argparse.ArgumentParser:
    """The argument parser of ``python -m prefect_tavus.simulator``."""
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_arguments(parser)
    return parser


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Serve until SIGINT or SIGTERM; returns the process exit status.

    Args:
        args: parsed by a parser that :func:`add_arguments` populated.
        parser: that parser; invalid combinations exit through ``parser.error`` (status 2).
    """
    if not is_loopback_host(args.host) and not args.allow_external:
        parser.error(
            f"refusing to bind non-loopback host {args.host!r}; pass --allow-external to do it anyway"
        )
    if not math.isfinite(args.training_seconds) or not 0 <= args.training_seconds <= MAX_SECONDS:
        parser.error(f"--training-seconds must be in 0..{MAX_SECONDS:.0f}")
    if (
        not math.isfinite(args.generation_seconds)
        or not 0 <= args.generation_seconds <= MAX_SECONDS
    ):
        parser.error(f"--generation-seconds must be in 0..{MAX_SECONDS:.0f}")
    if args.seed < 0:
        parser.error("--seed must be >= 0")
    if not 0 <= args.port <= 65535:
        parser.error("--port must be in 0..65535")
    api_keys: list[str] = args.api_keys or [DEFAULT_API_KEY]
    if not all(key.strip() for key in api_keys):
        parser.error("--api-key must not be empty")

    simulator = TavusSimulator(
        host=args.host,
        port=args.port,
        api_keys=api_keys,
        default_training_seconds=args.training_seconds,
        drop_callbacks=args.drop_callbacks,
        vocabulary=args.vocabulary,
        list_order=args.list_order,
        default_generation_seconds=args.generation_seconds,
        video_list_order=args.video_list_order,
        verbose=args.verbose,
    )
    try:
        simulator.start()
    except OSError as exc:
        print(
            f"prefect_tavus.simulator: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {
        signum: signal.signal(signum, request_stop) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        label = "api key" if len(api_keys) == 1 else "api keys"
        print(
            f"Tavus simulator listening on {simulator.url} ({label}: {', '.join(api_keys)})",
            flush=True,
        )
        for index in range(1, args.seed + 1):
            replica_id = simulator.add_replica(replica_name=f"Seeded replica {index}")
            print(f"seeded replica {replica_id}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        simulator.stop()
        for signum, handler in previous.items():  # leave the caller's handlers as they were
            signal.signal(signum, handler)
    print("Tavus simulator stopped", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``python -m prefect_tavus.simulator``; returns the process exit status."""
    parser = build_parser()
    return run(parser.parse_args(argv), parser)
