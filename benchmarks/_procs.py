"""Peak memory and CPU of whole process trees, sampled from Linux ``/proc`` (no psutil).

:class:`TreeSampler` runs a daemon thread that, every ``interval`` seconds, walks each
registered root's descendants and records the tree's summed resident memory (``VmRSS``) and proportional set size (``Pss``, shared pages split),
its peak, the largest single-process high-water mark (``VmHWM``) seen, and the tree's CPU
seconds (``utime + stime`` of live members plus ``cutime + cstime``, i.e. children they
have already reaped: a flow-run process that ended counts in its worker's ``cutime``).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    return text[text.rfind(")") + 2 :].split()


def _parents() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields and len(fields) > 1:
                tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def tree_pids(root: int, tree: dict[int, list[int]] | None = None) -> list[int]:
    """``root`` and all its live descendants."""
    tree = tree if tree is not None else _parents()
    found, todo = [root], [root]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.append(child)
                todo.append(child)
    return found


def _memory_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in kB; (0, 0) for a gone process or a kernel thread."""
    rss = hwm = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return rss, hwm


def _pss_kb(pid: int) -> int:
    """Proportional set size in kB (shared pages divided among their sharers): a tree's
    sum does not count PostgreSQL's shared buffers once per backend, as VmRSS does."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    fields = _stat_fields(pid)
    if not fields or len(fields) < 15:
        return 0.0
    # Fields 14-17 of stat (utime, stime, cutime, cstime) are indices 11-14 after the comm.
    return sum(int(value) for value in fields[11:15]) / _TICKS


@dataclass
class TreeStats:
    root: int
    rss_kb: int = 0
    peak_rss_kb: int = 0
    peak_pss_kb: int = 0
    peak_processes: int = 0
    max_single_hwm_kb: int = 0
    cpu_seconds: float = 0.0
    samples: int = 0
    marks: dict[str, float] = field(default_factory=dict)


class TreeSampler:
    """Samples registered process trees every ``interval`` seconds on a daemon thread."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.trees: dict[str, TreeStats] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tree-sampler", daemon=True)

    def add(self, name: str, root_pid: int) -> None:
        with self._lock:
            self.trees[name] = TreeStats(root_pid)
        self.sample()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        tree = _parents()
        with self._lock:
            for stats in self.trees.values():
                pids = tree_pids(stats.root, tree)
                rss = hwm = pss = 0
                cpu = 0.0
                for pid in pids:
                    r, h = _memory_kb(pid)
                    rss += r
                    pss += _pss_kb(pid)
                    hwm = max(hwm, h)
                    cpu += _cpu_seconds(pid)
                if rss == 0:  # the tree is gone: keep what was last seen
                    continue
                stats.rss_kb = rss
                stats.peak_rss_kb = max(stats.peak_rss_kb, rss)
                stats.peak_pss_kb = max(stats.peak_pss_kb, pss)
                stats.peak_processes = max(stats.peak_processes, len(pids))
                stats.max_single_hwm_kb = max(stats.max_single_hwm_kb, hwm)
                stats.cpu_seconds = max(stats.cpu_seconds, cpu)
                stats.samples += 1

    def mark(self, label: str) -> None:
        """Remember every tree's CPU seconds now, under ``label`` (for deltas between marks)."""
        self.sample()
        with self._lock:
            for stats in self.trees.values():
                stats.marks[label] = stats.cpu_seconds

    def cpu_between(self, name: str, start: str, end: str) -> float | None:
        marks = self.trees[name].marks
        if start not in marks or end not in marks:
            return None
        return marks[end] - marks[start]

    def reset_peaks(self) -> None:
        with self._lock:
            for stats in self.trees.values():
                stats.peak_rss_kb = stats.rss_kb
                stats.peak_pss_kb = 0
                stats.peak_processes = 0
                stats.max_single_hwm_kb = 0
