"""Command line entry point: run a simulator until interrupted.

``python -m prefect_tavus.simulator`` gives the demo, a developer or a benchmark in another process a
Tavus API to talk to at a fixed address. It prints one line saying where it listens (and the
ids of any seeded replicas), serves until Ctrl-C or SIGTERM, and exits cleanly. It refuses
non-loopback addresses unless asked, because the simulator has no real security.
"""

from __future__ import annotations

import argparse
import ipaddress
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from prefect_tavus.simulator.simulator import TavusSimulator

DEFAULT_PORT = 8765
DEFAULT_API_KEY = "sim-key"


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback IP address."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m prefect_tavus.simulator``."""
    parser = argparse.ArgumentParser(
        prog="python -m prefect_tavus.simulator",
        description="Serve a local fake of the Tavus Replicas API until interrupted.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port to bind, 0 for any free one (default: {DEFAULT_PORT})"
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
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="start with N replicas training")
    parser.add_argument(
        "--allow-external", action="store_true", help="allow binding an address other than loopback"
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not is_loopback_host(args.host) and not args.allow_external:
        parser.error(f"refusing to bind non-loopback host {args.host!r}; pass --allow-external to do it anyway")
    if args.training_seconds < 0:
        parser.error("--training-seconds must be >= 0")
    if args.seed < 0:
        parser.error("--seed must be >= 0")
    api_keys: list[str] = args.api_keys or [DEFAULT_API_KEY]

    simulator = TavusSimulator(
        host=args.host,
        port=args.port,
        api_keys=api_keys,
        default_training_seconds=args.training_seconds,
        verbose=args.verbose,
    )
    try:
        simulator.start()
    except OSError as exc:
        print(f"prefect_tavus.simulator: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        label = "api key" if len(api_keys) == 1 else "api keys"
        print(f"Tavus simulator listening on {simulator.url} ({label}: {', '.join(api_keys)})", flush=True)
        for index in range(1, args.seed + 1):
            replica_id = simulator.add_replica(replica_name=f"Seeded replica {index}")
            print(f"seeded replica {replica_id}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        simulator.stop()
    print("Tavus simulator stopped", flush=True)
    return 0
