"""Shared helpers: summaries (median, p99), a CPU-busy neighbour thread, RSS, machine facts,
and the child-process runner that gives every measurement a fresh interpreter.

Every measurement function returns a JSON-able dict; :func:`run_child` runs one in a new
process (``python -m benchmarks.child module:function '{kwargs}'``) so that the shared runtime
(dispatcher workers, thread pool, loop thread), garbage and heap of one measurement never
pollute the next.
"""

from __future__ import annotations

import datetime
import gc
import importlib.metadata
import json
import math
import os
import platform
import statistics
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("actorsched", "pykka", "janus", "cronsim", "apscheduler")
RESULT_MARK = "@@RESULT@@ "

Result = dict[str, Any]


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (p99 of 100 samples is the 99th)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize(samples_s: Sequence[float], **extra: Any) -> Result:
    """n, median, p99, max and mean in milliseconds of samples given in seconds."""
    ms = sorted(s * 1000 for s in samples_s)
    out: Result = {"n": len(ms)}
    if ms:
        out.update(median_ms=statistics.median(ms), p99_ms=percentile(ms, 99), max_ms=ms[-1],
                   mean_ms=statistics.fmean(ms))
    else:
        out.update(median_ms=None, p99_ms=None, max_ms=None, mean_ms=None)
    out.update(extra)
    return out


def _spin(stop: list[bool]) -> None:
    x = 0
    while not stop[0]:
        for i in range(1000):  # pure-Python bytecode: holds the GIL until the switch interval
            x += i * i


@contextmanager
def cpu_busy(enabled: bool = True) -> Iterator[None]:
    """Run a thread that spins pure-Python work for the duration (the CPU-busy sync agent)."""
    if not enabled:
        yield
        return
    stop = [False]
    thread = threading.Thread(target=_spin, args=(stop,), name="bench-busy", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop[0] = True
        thread.join()


class GcWatch:
    """Records every garbage collection (generation, pause) while installed, via gc.callbacks."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._t0 = 0.0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self._t0))

    def __enter__(self) -> GcWatch:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc_info: object) -> None:
        gc.callbacks.remove(self._callback)

    def summary(self) -> Result:
        """Collections, total and longest pause (ms), and the number of full (gen 2) ones."""
        return {"gc_collections": len(self.pauses), "gc_total_ms": sum(p for _, p in self.pauses) * 1000,
                "gc_max_ms": max((p for _, p in self.pauses), default=0.0) * 1000,
                "gc_gen2": sum(1 for g, _ in self.pauses if g == 2)}


def rss_bytes() -> int:
    """Resident set size of this process, from /proc/self/statm."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or platform.processor())."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> Result:
    """Machine, interpreter and package facts for the report header."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "actors", "bridge"], cwd=ROOT,
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", ""
    return {
        "cores": os.cpu_count(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "switch_interval_ms": sys.getswitchinterval() * 1000,
        "load_avg_1m": os.getloadavg()[0],
        "packages": versions,
        "commit": commit + (" (runtime has uncommitted changes)" if dirty else ""),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def netns_unavailable() -> str | None:
    """Why a child cannot run in a loopback-only network namespace here, or None if it can."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "a loopback-only network namespace needs root (unshare --net)"
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare or ip is not installed"
    probe = subprocess.run(["unshare", "--net", "--", "ip", "link", "set", "lo", "up"], capture_output=True, text=True)
    return None if probe.returncode == 0 else f"unshare --net failed: {probe.stderr.strip()[:200]}"


def run_child(target: str, timeout: float = 300.0, netns: bool = False, **kwargs: Any) -> Result:
    """Run ``benchmarks.<module>:<function>(**kwargs)`` in a fresh interpreter; return its dict.

    ``netns``: inside a new network namespace with nothing but loopback (Ray binds the
    machine's interface address otherwise); where that is impossible, the result is an error
    saying why (a missing measurement FAILs its goal). A crash or a timeout is returned as
    ``{"error": "..."}`` so one broken measurement does not lose the rest of the run.
    """
    cmd = [sys.executable, "-m", "benchmarks.child", target, json.dumps(kwargs)]
    if netns:
        reason = netns_unavailable()
        if reason is not None:
            return {"error": f"{target} not run: {reason}"}
        cmd = ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *cmd]
    steal0, t0 = steal_seconds(), time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"{target} did not finish within {timeout:.0f} s"}
    steal1, wall = steal_seconds(), time.monotonic() - t0
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            result: Result = json.loads(line[len(RESULT_MARK):])
            if isinstance(result, dict) and steal0 is not None and steal1 is not None and wall > 0:
                result["steal_pct"] = (steal1 - steal0) / wall * 100  # of one core, over the child's run
            return result
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"error": f"{target} exited {proc.returncode}: {tail}"}


def steal_seconds() -> float | None:
    """CPU time the hypervisor took from this virtual machine so far (all cores, /proc/stat's
    steal column), or None where it is not reported. A series measured while the host stole
    time is noisier than its neighbours; the report says how much."""
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None
