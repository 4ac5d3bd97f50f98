"""Scale: N no-op agents (half sync, half async) in one plain ``ActorSystem()`` on a 1 s interval.

One scale point per process (the suite runs each in a fresh interpreter). Steps, timed with
``perf_counter``: spawn N agents (``system.spawn``); tell each ``Start("1")``, either all at
once (``burst``) or agent i at i/N of the interval (``spread``: a steady load instead of one
burst), or tell all at once ``Start("1", jitter=0.9)`` (``jitter``: one schedule whose ticks each
agent delays by a random share of 0.9 s, drawn anew each tick); let them run ``ticks``
ticks; ``system.shutdown()``.

- lateness = agent call start - (anchor + k * interval), anchor = the actor's
  ``stats.started_mono`` (private, read through ``ref._binding.actor`` before the shutdown) and k
  = the call's tick, unfolded (:func:`benchmarks.dispatch.grid_pairs`: the i-th call plus the
  ticks that agent reported skipped before it). For ``jitter`` the due time is the jittered
  one (:func:`jitter_pairs`). Reported over ticks 2..ticks (steady state) and over all
  ticks (tick 1 includes the start-up of every agent at once). ``missing`` = expected
  (agent, tick) runs with no call (skipped, or later than the measurement window).
- skipped ticks: the sum of the agents' ``skipped_ticks`` in the final stats.
- threads: ``threading.active_count()``, the most seen while running (sampled every 0.25 s).
- RSS: /proc/self/statm before spawning and at the end of the run; per agent = delta / N. It
  includes the benchmark's own closure and start list per agent (~0.5 KB).
- CPU: process CPU time while the agents run, per run; gc: collections while they run, their
  total and longest pause (``gc.callbacks``), which stop every thread of the process.

``floor_burst`` is the raw-asyncio floor of the same burst: N ``loop.call_at`` timers due at the
same instant, each re-arming itself one interval later as the library's per-agent tick does;
half of them (the sync half of ours) hand the call to one waiting thread through a
``queue.SimpleQueue``, the other half create a trivial task. Each call records its start.

Run one point: ``python benchmarks/scale.py --agents 10000 --ticks 10 [--spread | --jitter]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import queue
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

if __package__ in (None, ""):  # run as a script: python benchmarks/scale.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import GcWatch, Result, rss_bytes, summarize  # noqa: E402
from benchmarks.dispatch import grid_pairs  # noqa: E402

INTERVAL = 1.0
#: burst: all told Start at once; spread: agent i told at i/N of the interval; jitter: all told
#: Start(jitter=JITTER) at once, so each tick is delayed by a random share of 0.9 interval.
SHAPES = ("burst", "spread", "jitter")
JITTER = 0.9 * INTERVAL  # it must be shorter than the interval


def _make_agent(record: list[float], sync: bool, now: Callable[[], float] = time.monotonic) -> Callable[[str], Any]:
    if sync:
        def agent(task: str) -> None:
            record.append(now())
        return agent

    async def aagent(task: str) -> None:
        record.append(now())
    return aagent


def jitter_pairs(starts: list[float], history: list[dict[str, Any]]) -> list[tuple[int, float]]:
    """(tick, lateness) of each call of a jittered agent: its k-th call start (wall) against the
    k-th execution's jittered due time, which the runtime's history gives as ``started_at -
    lateness_ms`` (measured when the execution began, before the hand-off to the call)."""
    runs = sorted((e for e in history if e["lateness_ms"] is not None), key=lambda e: e["run_id"])
    return [(k, start - (e["started_at"] - e["lateness_ms"] / 1000.0))
            for k, (start, e) in enumerate(zip(starts, runs), 1)]


def lateness_stats(per_agent: list[tuple[float, list[float], int]], ticks: int,
                   pairs: list[list[tuple[int, float]]] | None = None) -> Result:
    """Lateness over ticks 2..ticks and over all ticks, per-tick p99, and missing runs, from
    (anchor, call starts, skipped ticks) per agent, or from each agent's (tick, lateness)
    ``pairs`` when given (the jitter shape)."""
    steady: list[float] = []
    every: list[float] = []
    by_tick: dict[int, list[float]] = {k: [] for k in range(1, ticks + 1)}
    for i, (anchor, starts, skipped) in enumerate(per_agent):
        for k, lateness in (grid_pairs(starts, anchor, INTERVAL, skipped) if pairs is None else pairs[i]):
            if 1 <= k <= ticks:
                every.append(lateness)
                by_tick[k].append(lateness)
                if k >= 2:
                    steady.append(lateness)
    per_tick = {k: summarize(v) for k, v in by_tick.items()}
    return {
        "steady": summarize(steady),
        "all": summarize(every),
        "per_tick_p99_ms": [per_tick[k]["p99_ms"] for k in sorted(per_tick)],
        "missing": len(per_agent) * ticks - len(every),
    }


def run(agents: int, ticks: int = 10, shape: str = "burst", gc_freeze: bool = False, store: bool = False) -> Result:
    """One scale point; see the module docstring for what is measured. ``gc_freeze``: call
    ``gc.freeze()`` once every agent has started (what an application can do today), so the
    collector stops re-scanning the agents' long-lived objects. ``store``: the system keeps its
    agents in a SQLite file (a fresh one in a temporary directory)."""
    from actors import ActorSystem, Start

    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}, got {shape!r}")
    threads0, rss0 = threading.active_count(), rss_bytes()
    records: list[list[float]] = [[] for _ in range(agents)]
    folder = tempfile.TemporaryDirectory() if store else None
    system = ActorSystem(store=None if folder is None else os.path.join(folder.name, "state.db"))
    now = time.time if shape == "jitter" else time.monotonic  # history's times are wall-clock
    start = Start("1", jitter=JITTER) if shape == "jitter" else Start("1")
    t0 = time.perf_counter()
    refs = [system.spawn(_make_agent(records[i], i % 2 == 0, now), task="t", name=f"a{i}") for i in range(agents)]
    spawn_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i, ref in enumerate(refs):
        if shape == "spread":
            wait = t0 + i / agents * INTERVAL - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        ref.tell(start)
    start_s = time.perf_counter() - t0
    actors = [ref._binding.actor for ref in refs]  # type: ignore[union-attr]
    while any(a.stats.started_mono is None for a in actors):
        time.sleep(0.01)
    anchors: list[float] = [a.stats.started_mono for a in actors]  # type: ignore[misc]
    all_started_s = time.perf_counter() - t0
    if gc_freeze:
        gc.freeze()
    end = max(anchors) + ticks * INTERVAL + 0.5 + (JITTER if shape == "jitter" else 0.0)  # the last jittered tick
    cpu0, window0, threads_max = time.process_time(), time.monotonic(), threading.active_count()
    with GcWatch() as watch:
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(0.25, left))
            threads_max = max(threads_max, threading.active_count())
    cpu = time.process_time() - cpu0
    rss = rss_bytes()
    starts = [list(r) for r in records]
    t0 = time.perf_counter()
    final = system.shutdown()
    shutdown_s = time.perf_counter() - t0
    time.sleep(0.2)
    if folder is not None:
        folder.cleanup()
    skips = [final[f"a{i}"]["skipped_ticks"] if f"a{i}" in final else 0 for i in range(agents)]
    pairs = None
    if shape == "jitter":  # the agents are stopped: their history is read without an ask
        pairs = [jitter_pairs(s, ref.history(limit=100)) for s, ref in zip(starts, refs)]
        window0, end = window0 - time.monotonic() + time.time(), end - time.monotonic() + time.time()
    late = lateness_stats(list(zip(anchors, starts, skips)), ticks, pairs)
    runs = sum(1 for s in starts for t in s if window0 <= t <= end)  # the runs the CPU time paid for
    return {
        "agents": agents, "ticks": ticks, "shape": shape, "gc_freeze": gc_freeze, "store": store, **late,
        "skipped": sum(s["skipped_ticks"] for s in final.values()),
        "spawn_s": spawn_s, "start_s": start_s, "all_started_s": all_started_s, "shutdown_s": shutdown_s,
        "threads_max": threads_max, "threads_before": threads0, "threads_after": threading.active_count(),
        "rss_total_mb": rss / 2**20, "rss_delta_mb": (rss - rss0) / 2**20,
        "rss_per_agent_kb": (rss - rss0) / agents / 1024,
        "cpu_us_per_run": cpu / max(1, runs) * 1e6, "runs": runs, **watch.summary(),
    }


async def floor_burst(agents: int, ticks: int = 10) -> Result:
    """Raw asyncio, the same burst as ours: N timers due at the same instant, re-armed one
    interval later; half of them (even i, as ours: sync agents) hand the call to one waiting
    thread through a ``queue.SimpleQueue``, the other half create a trivial task."""
    loop = asyncio.get_running_loop()
    per_agent: list[tuple[float, list[float], int]] = []
    anchor = loop.time() + 0.2
    handoff: queue.SimpleQueue[list[float] | None] = queue.SimpleQueue()

    def caller() -> None:  # the sync half's one thread: each item is one call
        while (record := handoff.get()) is not None:
            record.append(time.monotonic())

    async def trivial(record: list[float]) -> None:
        record.append(time.monotonic())

    def fire_async(record: list[float], due: float) -> None:
        loop.create_task(trivial(record))
        loop.call_at(due + INTERVAL, fire_async, record, due + INTERVAL)

    def fire_sync(record: list[float], due: float) -> None:
        handoff.put(record)
        loop.call_at(due + INTERVAL, fire_sync, record, due + INTERVAL)

    thread = threading.Thread(target=caller, name="floor-caller")
    thread.start()
    for i in range(agents):
        record: list[float] = []
        per_agent.append((anchor, record, 0))  # raw timers never skip
        loop.call_at(anchor + INTERVAL, fire_sync if i % 2 == 0 else fire_async, record, anchor + INTERVAL)
    try:
        with GcWatch() as watch:
            await asyncio.sleep(anchor + ticks * INTERVAL + 0.5 - loop.time())
    finally:
        handoff.put(None)
        thread.join()
    return {"agents": agents, "ticks": ticks, **lateness_stats(per_agent, ticks), **watch.summary()}


def _fmt(s: Result) -> str:
    return f"median {s['median_ms']:.2f} ms  p99 {s['p99_ms']:.2f} ms  max {s['max_ms']:.2f} ms"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--ticks", "--seconds", type=int, default=5, help="ticks of the 1 s interval to run")
    parser.add_argument("--spread", "--stagger", action="store_true", help="spread the starts over one interval")
    parser.add_argument("--jitter", action="store_true", help="start all at once with a jitter of 0.9 interval")
    parser.add_argument("--floor", action="store_true", help="also run the raw-asyncio burst floor")
    parser.add_argument("--gc-freeze", action="store_true", help="gc.freeze() once all agents have started")
    parser.add_argument("--store", action="store_true", help="keep the agents in a SQLite store")
    args = parser.parse_args()
    r = run(args.agents, args.ticks, "jitter" if args.jitter else "spread" if args.spread else "burst", args.gc_freeze,
            args.store)
    print(f"{r['agents']} agents ({r['shape']}{', gc.freeze()' if r['gc_freeze'] else ''}), {os.cpu_count()} cores, "
          f"{r['ticks']} ticks of 1 s")
    print(f"  lateness ticks 2..{r['ticks']}: {_fmt(r['steady'])}")
    print(f"  lateness all ticks:   {_fmt(r['all'])}")
    print(f"  per-tick p99 (ms):    {', '.join(f'{v:.1f}' for v in r['per_tick_p99_ms'])}")
    print(f"  skipped {r['skipped']}, missing {r['missing']}, runs {r['runs']}, CPU {r['cpu_us_per_run']:.0f} us/run")
    print(f"  spawn {r['spawn_s']:.2f} s, start {r['start_s']:.2f} s, shutdown {r['shutdown_s']:.2f} s")
    print(f"  gc: {r['gc_collections']} collections ({r['gc_gen2']} full), {r['gc_total_ms']:.0f} ms in total, "
          f"longest {r['gc_max_ms']:.1f} ms")
    print(f"  threads {r['threads_max']} (before {r['threads_before']}, after {r['threads_after']}), "
          f"RSS {r['rss_total_mb']:.0f} MB total, +{r['rss_delta_mb']:.0f} MB, {r['rss_per_agent_kb']:.1f} KB/agent")
    if args.floor:
        f = asyncio.run(floor_burst(args.agents, args.ticks))
        print(f"  raw-asyncio floor: ticks 2..: {_fmt(f['steady'])}; all: {_fmt(f['all'])}")
