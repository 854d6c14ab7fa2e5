"""Benchmark: what one poll round over N pending videos costs, per strategy of ``read_videos``.

``python -m benchmarks.video_polling`` (``make bench-video-polling``) runs the Tavus simulator
in this process and, for every list order (oldest-first, newest-first), every count of
unrelated older videos in the account (0 and 10,000 by default) and every batch size
N (1, 10, 100, 1,000 by default), builds a fresh account (the older videos, then the N
pending ones, still generating), and measures per strategy (``get``, ``list``, ``auto``):

* requests per round, counted by the client (``count_requests``) and checked against the
  simulator's own count, split into list pages and single-video GETs;
* sequential round trips per round: list pages are read one after the other, GETs
  ``max_concurrency`` at a time, so on a real network (where a round trip is 100+ ms, not
  the ~1 ms of loopback) a round lasts about this many round trips;
* wall time per round: the median of ``--rounds`` rounds, on loopback. The simulator runs in
  this process and shares its interpreter lock, so concurrent GETs do not overlap here and
  a list page of 100 costs what a few GETs do: CPU, not latency;

and which strategy ``auto`` took. Every round must report all N videos found and none missing
or failed; a round that does not is an error in the table. It prints a Markdown table and
writes it with the raw figures to ``benchmarks/results/video-polling-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from benchmarks._infra import RESULTS_DIR, machine_summary

SIM_KEY = "bench-video-polling-key"
STRATEGIES = ("get", "list", "auto")
ORDERS = ("oldest_first", "newest_first")


def _ints(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values or any(value < 0 for value in values):
        raise argparse.ArgumentTypeError("expected at least one integer, each >= 0")
    return values


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.video_polling", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--sizes", type=_ints, default=[1, 10, 100, 1000], help="pending batch sizes N"
    )
    parser.add_argument(
        "--older", type=_ints, default=[0, 10_000], help="unrelated older videos in the account"
    )
    parser.add_argument(
        "--newer",
        type=_ints,
        default=[0],
        help="unrelated videos created AFTER the pending ones (pending no longer the newest)",
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="rounds per strategy and case (median reported)"
    )
    parser.add_argument(
        "--page-size",
        type=int,
        default=None,
        help="limit asked per list page (default: read_videos's)",
    )
    parser.add_argument(
        "--max-page", type=int, default=100, help="largest page the simulator answers"
    )
    parser.add_argument(
        "--no-json", action="store_true", help="do not write benchmarks/results/*.json"
    )
    return parser


async def _measure(
    client: Any, ids: list[str], strategy: str, rounds: int, kwargs: dict[str, Any], sim: Any
) -> dict[str, Any]:
    from prefect_tavus.core import count_requests
    from prefect_tavus.core.video_polling import DEFAULT_GET_CONCURRENCY, read_videos_with_report

    walls: list[float] = []
    reports = []
    errors: list[str] = []
    for _ in range(rounds):
        sim.reset_stats()
        with count_requests() as sent:
            started = time.perf_counter()
            read = await read_videos_with_report(client, ids, strategy=strategy, **kwargs)
            walls.append(time.perf_counter() - started)
        result = read.round
        if result.failed is not None or result.missing or len(result.found) != len(ids):
            errors.append(
                f"found {len(result.found)}/{len(ids)}, missing {len(result.missing)}, failed {result.failed!r}"
            )
        served = sim.stats()["requests"]
        if served != sent[0] or read.requests != sent[0]:
            errors.append(
                f"requests: client counted {sent[0]}, report says {read.requests}, simulator served {served}"
            )
        reports.append(read)
    last = reports[-1]
    concurrency = kwargs.get("max_concurrency", DEFAULT_GET_CONCURRENCY)
    return {
        "strategy": strategy,
        "took": last.strategy,
        "requests": last.requests,
        "pages": len(last.pages_read),
        "pages_read": list(last.pages_read)[:12],
        "gets": last.gets,
        "round_trips": len(last.pages_read) + math.ceil(last.gets / concurrency),
        "order_learnt": last.order,
        "page_size_learnt": last.page_size,
        "wall_ms_median": statistics.median(walls) * 1000,
        "wall_ms_all": [round(wall * 1000, 2) for wall in walls],
        "requests_all_rounds_equal": len({r.requests for r in reports}) == 1,
        "errors": sorted(set(errors)),
    }


async def _case(
    order: str, older: int, newer: int, n: int, args: argparse.Namespace
) -> list[dict[str, Any]]:
    from prefect_tavus.core import TavusClient
    from prefect_tavus.simulator import TavusSimulator

    with TavusSimulator(
        api_keys=(SIM_KEY,), video_list_order=order, video_max_page_size=args.max_page
    ) as sim:
        for _ in range(older):
            sim.add_video(script="older", generation_seconds=0)
        ids = [sim.add_video(script=f"pending {i}", generation_seconds=3600) for i in range(n)]
        for _ in range(newer):
            sim.add_video(script="newer", generation_seconds=0)
        kwargs: dict[str, Any] = {} if args.page_size is None else {"page_size": args.page_size}
        async with TavusClient(SIM_KEY, base_url=sim.url, timeout=30) as client:
            rows = []
            for strategy in STRATEGIES:
                row = await _measure(client, ids, strategy, args.rounds, kwargs, sim)
                rows.append({"order": order, "older": older, "newer": newer, "n": n, **row})
            return rows


def table(rows: list[dict[str, Any]]) -> str:
    with_newer = any(row["newer"] for row in rows)
    head = (
        "| list order | older videos |"
        + (" newer videos |" if with_newer else "")
        + " N | strategy "
        "| requests/round | list pages | GETs | sequential round trips | wall ms/round (median) | auto took |"
    )
    lines = [
        head,
        "|---|---:|" + ("---:|" if with_newer else "") + "---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        newer = f" {row['newer']:,} |" if with_newer else ""
        took = row["took"] if row["strategy"] == "auto" else ""
        note = f" ERROR: {'; '.join(row['errors'])}" if row["errors"] else ""
        lines.append(
            f"| {row['order']} | {row['older']:,} |{newer} {row['n']:,} | {row['strategy']} | {row['requests']:,} "
            f"| {row['pages']:,} | {row['gets']:,} | {row['round_trips']:,} | {row['wall_ms_median']:,.1f} "
            f"| {took}{note} |"
        )
    return "\n".join(lines)


def summary(rows: list[dict[str, Any]]) -> str:
    """Per case, whether auto sent no more requests than the cheaper of get and list."""
    lines = []
    cases: dict[tuple[str, int, int, int], dict[str, dict[str, Any]]] = {}
    for row in rows:
        cases.setdefault((row["order"], row["older"], row["newer"], row["n"]), {})[
            row["strategy"]
        ] = row
    worse = []
    for (order, older, newer, n), by in cases.items():
        best = min(by["get"]["requests"], by["list"]["requests"])
        if by["auto"]["requests"] > best:
            worse.append(
                f"{order}, {older:,} older, {newer:,} newer, N={n:,}: "
                f"auto {by['auto']['requests']} vs best {best}"
            )
    lines.append(
        "auto sent no more requests than the better of get and list in every case."
        if not worse
        else "auto sent more requests than the better fixed strategy in: " + "; ".join(worse)
    )
    return "\n".join(lines)


def run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from prefect_tavus.core.video_polling import DEFAULT_GET_CONCURRENCY, GET_EACH_MAX

    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for order in ORDERS:
        for older in args.older:
            for newer in args.newer:
                for n in args.sizes:
                    if n < 1:
                        continue
                    rows.extend(asyncio.run(_case(order, older, newer, n, args)))
                    print(
                        f"  {order}, {older:,} older, {newer:,} newer, N={n:,}: done "
                        f"({time.perf_counter() - started:.0f} s)",
                        file=sys.stderr,
                        flush=True,
                    )
    total = time.perf_counter() - started
    machine = machine_summary()
    markdown = "\n".join(
        [
            "## Video polling: one round over N pending videos",
            "",
            f"- Machine: {machine['cpu_count']} CPUs ({machine['cpu_model']}), Python {machine['python']}, "
            f"httpx {machine['httpx']}",
            f"- Command: `{' '.join(['python -m benchmarks.video_polling', *argv])}`",
            f"- Whole run: {total:.0f} s; {args.rounds} rounds per strategy and case; simulator in-process on loopback, "
            f"largest page {args.max_page}; GETs {DEFAULT_GET_CONCURRENCY} at a time; auto GETs N <= {GET_EACH_MAX}",
            "- Pending videos are created after the older ones"
            + (", before the newer ones" if any(args.newer) else ": the account's newest")
            + ". Requests are per round "
            "(identical in every round); sequential round trips = list pages + ceil(GETs / concurrency).",
            "",
            table(rows),
            "",
            summary(rows),
        ]
    )
    print(markdown)
    if not args.no_json:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"video-polling-{datetime.now():%Y%m%d-%H%M%S}.json"
        path.write_text(
            json.dumps(
                {"machine": machine, "argv": list(argv), "rows": rows, "markdown": markdown},
                indent=2,
                default=str,
            )
        )
        print(f"\n(written to {path})", file=sys.stderr)
    return 1 if any(row["errors"] for row in rows) else 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.rounds < 1:
        raise SystemExit("--rounds must be at least 1")
    return run(args, argv)


if __name__ == "__main__":
    sys.exit(main())
