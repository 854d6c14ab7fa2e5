"""Numbers and Markdown of the batch-wait benchmark: lag statistics, the tables, the checks."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

LABELS = {
    "a": "(a) wait_for_replicas",
    "b": "(b) dbt-style: task run per poll per replica",
    "c": "(c) plain loop, no Prefect",
}


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100), linear interpolation between closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def lag_stats(lags: Sequence[float], ratios: Sequence[float]) -> dict[str, Any]:
    return {
        "lag_count": len(lags),
        "lag_min": min(lags) if lags else None,
        "lag_median": percentile(lags, 50),
        "lag_p95": percentile(lags, 95),
        "lag_max": max(lags) if lags else None,
        "lag_p95_over_cap": percentile(ratios, 95),
        "lag_max_over_cap": max(ratios) if ratios else None,
    }


def _num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def _int(value: int | None) -> str:
    return "n/a" if value is None else f"{value:,}"


def _resolved(row: dict[str, Any]) -> str:
    text = f"{row['resolved']:,}/{row['n']:,}"
    if row.get("bounded"):
        text += f" (bounded at {row['bound_seconds']:.0f} s)"
    if row.get("error"):
        text += " (ERROR)"
    return text


def _task_runs(row: dict[str, Any]) -> str:
    if row["approach"] == "c":
        return "0"
    text = _int(row.get("task_runs"))
    if row.get("task_runs") is not None and not row.get("task_runs_settled", True):
        text += " (server still recording)"
    return text


def _cap_text(row: dict[str, Any]) -> str:
    return _num(row.get("lag_p95_over_cap"), 2)


def results_table(rows: list[dict[str, Any]]) -> str:
    header = (
        "| N | approach | replicas seen finished | HTTP requests | poll rounds | requests / round "
        "| s between polls of a replica | Prefect task runs | lag median (s) | lag p95 (s) | lag max (s) "
        "| lag p95 / poll cap | wall (s) | CPU (s) process / wait | peak RSS (MB) |"
    )
    lines = [header, "|" + "---|" * 15]
    for row in rows:
        rounds = row.get("rounds")
        per_round = row.get("requests_per_round")
        lines.append(
            "| "
            + " | ".join(
                [
                    _int(row["n"]),
                    LABELS[row["approach"]],
                    _resolved(row),
                    _int(row.get("http_requests")),
                    _int(rounds) + (" (max per replica)" if row["approach"] == "b" else ""),
                    _num(per_round, 1),
                    _num(row.get("poll_spacing_seconds"), 1),
                    _task_runs(row),
                    _num(row.get("lag_median"), 2),
                    _num(row.get("lag_p95"), 2),
                    _num(row.get("lag_max"), 2),
                    _cap_text(row),
                    _num(row.get("wall_seconds"), 1),
                    f"{_num(row.get('cpu_seconds'), 1)} / {_num(row.get('cpu_wait_seconds'), 1)}",
                    _num(row.get("peak_rss_mb"), 0),
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def ratios_table(rows: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    by_key = {(row["n"], row["approach"]): row for row in rows}
    sizes = sorted({row["n"] for row in rows})
    lines = [
        "| N | requests (b)/(a) | requests (c)/(a) | nominal fixed-interval requests / (a) | task runs (b)/(a) "
        "| CPU (b)/(a) | CPU (c)/(a) | RSS (b)/(a) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    out: list[dict[str, Any]] = []
    for n in sizes:
        a, b, c = by_key.get((n, "a")), by_key.get((n, "b")), by_key.get((n, "c"))
        if a is None:
            continue
        entry = {
            "n": n,
            "requests_b_over_a": _ratio(b and b.get("http_requests"), a.get("http_requests")),
            "requests_c_over_a": _ratio(c and c.get("http_requests"), a.get("http_requests")),
            "nominal_over_a": _ratio(
                a.get("nominal_fixed_interval_requests"), a.get("http_requests")
            ),
            "nominal_requests": a.get("nominal_fixed_interval_requests"),
            "task_runs_b_over_a": _ratio(b and b.get("task_runs"), a.get("task_runs")),
            "cpu_b_over_a": _ratio(b and b.get("cpu_seconds"), a.get("cpu_seconds")),
            "cpu_c_over_a": _ratio(c and c.get("cpu_seconds"), a.get("cpu_seconds")),
            "rss_b_over_a": _ratio(b and b.get("peak_rss_mb"), a.get("peak_rss_mb")),
            "b_bounded": bool(b and b.get("bounded")),
        }
        out.append(entry)
        mark = " (b bounded: at least)" if entry["b_bounded"] else ""
        nominal = entry["nominal_requests"]
        nominal_note = f" ({nominal:,} requests)" if nominal is not None else ""

        def fmt(value: float | None, suffix: str = "") -> str:
            return "n/a" if value is None else f"{value:,.1f}x{suffix}"

        lines.append(
            f"| {n:,} | {fmt(entry['requests_b_over_a'], mark)} | {fmt(entry['requests_c_over_a'])} "
            f"| {fmt(entry['nominal_over_a'], nominal_note)} "
            f"| {fmt(entry['task_runs_b_over_a'], mark)} | {fmt(entry['cpu_b_over_a'])} "
            f"| {fmt(entry['cpu_c_over_a'])} | {fmt(entry['rss_b_over_a'])} |"
        )
    return "\n".join(lines), out


def checks(rows: list[dict[str, Any]], page_size: int) -> list[dict[str, Any]]:
    """The targets for approach (a), each PASS / FAIL (or n/a) with the numbers behind it."""
    results: list[dict[str, Any]] = []
    by_key = {(row["n"], row["approach"]): row for row in rows}

    def add(n: int, name: str, ok: bool | None, detail: str) -> None:
        results.append({"n": n, "check": name, "ok": ok, "detail": detail})

    for row in rows:
        if row["approach"] != "a":
            continue
        n = row["n"]
        if row.get("error"):
            add(n, "run completed", False, row["error"])
            continue
        rounds = row.get("rounds") or 0
        failed = row.get("failed_seen", 0)
        pages = math.ceil(n / page_size)
        budget = rounds * pages + failed
        requests = row.get("http_requests")
        add(
            n,
            f"requests <= rounds x ceil(N/{page_size}) + failed",
            requests is not None and requests <= budget,
            f"{requests} requests, {rounds} rounds x {pages} + {failed} failed = {budget}",
        )
        task_runs = row.get("task_runs")
        add(
            n,
            "task runs <= rounds + failed",
            None if task_runs is None else task_runs <= rounds + failed,
            f"{task_runs} task runs, {rounds} rounds + {failed} failed = {rounds + failed}",
        )
        p95 = row.get("lag_p95_over_cap")
        add(
            n,
            "detection lag p95 <= poll cap",
            None if p95 is None else p95 <= 1.0,
            f"p95 lag / cap = {_num(p95, 2)} (p95 lag {_num(row.get('lag_p95'), 2)} s)",
        )
        add(n, "every replica seen finished", row["resolved"] == n, f"{row['resolved']}/{n}")
        if n >= 1000:
            rss = row.get("peak_rss_mb")
            add(n, "peak RSS <= 300 MB", None if rss is None else rss <= 300, f"{_num(rss, 0)} MB")
            b = by_key.get((n, "b"))
            if b is not None and b.get("http_requests") and requests:
                ratio = b["http_requests"] / requests
                ok: bool | None = ratio >= 50
                note = ""
                if not ok and b.get("bounded"):
                    ok, note = None, " (b was bounded, so this undercounts b)"
                nominal = row.get("nominal_fixed_interval_requests")
                if nominal:
                    note += f"; never late, at its fixed interval, (b) would make {nominal / requests:,.1f}x"
                add(n, "requests (b) >= 50 x (a)", ok, f"{ratio:,.1f}x measured{note}")
    return results


def checks_markdown(items: list[dict[str, Any]]) -> str:
    lines = ["| N | target for (a) | result | numbers |", "|---|---|---|---|"]
    for item in items:
        verdict = {True: "PASS", False: "FAIL", None: "n/a"}[item["ok"]]
        lines.append(f"| {item['n']:,} | {item['check']} | {verdict} | {item['detail']} |")
    return "\n".join(lines)
