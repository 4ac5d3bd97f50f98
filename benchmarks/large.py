"""Many agents at a long interval in one process: 100,000 no-op agents (half sync, half async)
in one plain ``ActorSystem()`` on a 60 s interval.

One process, timed with ``perf_counter``:

- spawn: the ``agents`` ``system.spawn()`` calls, plus the time spent inside the ``agents``
  ``tell(Start)`` calls (summed call by call; the waits between them are not counted).
- start: agent i is told ``Start`` at t0 + i / agents × interval, so its ticks are due at a
  steady rate of agents / interval per second (1,667/s for 100,000 at 60 s), never in one burst.
- lateness: agent call start - (anchor + k × interval), anchor = the actor's
  ``stats.started_mono`` (private, read through ``ref._binding.actor``), k unfolded
  (:func:`benchmarks.dispatch.grid_pairs`), over ticks 1..``ticks`` of every agent: the
  measured window runs from the first start to the last agent's tick ``ticks`` + 0.5 s, so one
  interval of ticks with ``ticks=1``. ``missing`` = expected runs with no call in the window.
- RSS (/proc/self/statm) at the end of the window, total and per agent from before the first
  spawn. It includes the benchmark's own record of the call starts (one tuple per run, ~80 B).
- CPU and gc while the ticks of the window ran; threads: the most seen (sampled every 0.25 s).
- shutdown: ``system.shutdown()`` with its default timeout, and whether every agent ended
  stopped. The garbage collector's share of spawn and of shutdown is recorded too.

Every agent shares one function (a real application runs many agents of one kind); the task
is the agent's index, which its call records. ``--quick`` runs 10,000 agents at 6 s: the same
1,667 ticks per second in a tenth of the time.
Run it: ``python benchmarks/large.py [--agents 100000 --interval 60]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import threading
import time

if __package__ in (None, ""):  # run as a script: python benchmarks/large.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import GcWatch, Result, rss_bytes, summarize  # noqa: E402
from benchmarks.dispatch import grid_pairs  # noqa: E402

_CALLS: list[tuple[str, float]] = []  # (task = agent index, call start); one append is atomic


def _noop_sync(task: str) -> None:
    _CALLS.append((task, time.monotonic()))


async def _noop_async(task: str) -> None:
    _CALLS.append((task, time.monotonic()))


def lateness(anchors: list[float], skipped: list[int], calls: list[tuple[str, float]], interval: float,
             ticks: int) -> Result:
    """Lateness of ticks 1..ticks of every agent, and the expected runs with no call."""
    starts: list[list[float]] = [[] for _ in anchors]
    for task, t in calls:
        starts[int(task)].append(t)
    late = [lat for i, anchor in enumerate(anchors)
            for k, lat in grid_pairs(starts[i], anchor, interval, skipped[i]) if 1 <= k <= ticks]
    return {"lateness": summarize(late), "missing": len(anchors) * ticks - len(late)}


def run(agents: int = 100000, interval: float = 60.0, ticks: int = 1) -> Result:
    """One large point; see the module docstring for what is measured."""
    from actors import ActorSystem, Start

    threads0, rss0 = threading.active_count(), rss_bytes()
    system = ActorSystem()
    t0 = time.perf_counter()
    with GcWatch() as spawn_gc:
        refs = [system.spawn(_noop_sync if i % 2 == 0 else _noop_async, task=str(i), name=f"a{i}")
                for i in range(agents)]
    spawn_s = time.perf_counter() - t0
    start = Start(f"{interval:g}")
    tell_s, lag_s, t0 = 0.0, 0.0, time.monotonic()
    for i, ref in enumerate(refs):
        wait = t0 + i / agents * interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        lag_s = max(lag_s, -wait)
        c = time.perf_counter()
        ref.tell(start)
        tell_s += time.perf_counter() - c
    actors = [ref._binding.actor for ref in refs]  # type: ignore[union-attr]
    while any(a.stats.started_mono is None for a in actors):
        time.sleep(0.01)
    anchors: list[float] = [a.stats.started_mono for a in actors]  # type: ignore[misc]
    del actors
    end = max(anchors) + ticks * interval + 0.5
    first_due = min(anchors) + interval
    time.sleep(max(0.0, first_due - 0.5 - time.monotonic()))
    cpu0, threads_max = time.process_time(), threading.active_count()
    with GcWatch() as watch:
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(0.25, left))
            threads_max = max(threads_max, threading.active_count())
    cpu_s = time.process_time() - cpu0
    rss = rss_bytes()
    calls = list(_CALLS)
    t0 = time.perf_counter()
    with GcWatch() as shutdown_gc:
        final = system.shutdown()
    shutdown_s = time.perf_counter() - t0
    stopped_ok = len(final) == agents and not any(s["is_running"] for s in final.values())
    skipped = [final[f"a{i}"]["skipped_ticks"] if f"a{i}" in final else 0 for i in range(agents)]
    late = lateness(anchors, skipped, calls, interval, ticks)
    runs = len(calls) - sum(1 for _, t in calls if t > end)
    gc.collect()
    return {
        "agents": agents, "interval_s": interval, "ticks": ticks, **late, "skipped": sum(skipped),
        "spawn_s": spawn_s, "tell_s": tell_s, "start_lag_s": lag_s, "shutdown_s": shutdown_s,
        "stopped_ok": stopped_ok, "threads_max": threads_max, "threads_before": threads0,
        "rss_total_mb": rss / 2**20, "rss_per_agent_kb": (rss - rss0) / agents / 1024,
        "spawn_gc_ms": spawn_gc.summary()["gc_total_ms"], "spawn_gc_full": spawn_gc.summary()["gc_gen2"],
        "shutdown_gc_ms": shutdown_gc.summary()["gc_total_ms"],
        "runs": runs, "cpu_s": cpu_s, "cpu_us_per_run": cpu_s / runs * 1e6 if runs else None, **watch.summary(),
    }


def _show(r: Result) -> str:
    lat = r["lateness"]
    return "\n".join([
        f"{r['agents']:,} agents, {r['interval_s']:g} s interval, {r['ticks']} tick(s) each, {os.cpu_count()} cores",
        f"  spawn {r['spawn_s']:.2f} s + tell(Start) {r['tell_s']:.2f} s, "
        f"start lag at most {r['start_lag_s'] * 1000:.0f} ms",
        f"  lateness: median {lat['median_ms']:.2f} ms, p99 {lat['p99_ms']:.2f} ms, max {lat['max_ms']:.2f} ms "
        f"(n {lat['n']}), skipped {r['skipped']}, missing {r['missing']}",
        f"  RSS {r['rss_total_mb']:.0f} MB ({r['rss_per_agent_kb']:.1f} KB/agent), threads {r['threads_max']}",
        f"  CPU {r['cpu_us_per_run']:.0f} µs/run; gc {r['gc_collections']} ({r['gc_gen2']} full), "
        f"{r['gc_total_ms']:.0f} ms, longest {r['gc_max_ms']:.1f} ms",
        f"  shutdown {r['shutdown_s']:.2f} s, every agent stopped: {r['stopped_ok']}"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=100000)
    parser.add_argument("--interval", type=float, default=60.0)
    parser.add_argument("--ticks", type=int, default=1)
    args = parser.parse_args()
    print(_show(run(args.agents, args.interval, args.ticks)))
