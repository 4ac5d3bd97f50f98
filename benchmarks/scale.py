"""Scale probe: N no-op agents (half sync, half async) on one loop at a 1 s interval.

Reports time to start them all, threads, RSS, lateness (median/p99 over every run) and time to
stop them all. Run: ``python benchmarks/scale.py [--agents N] [--seconds S]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import threading
import time

from actors import AsyncAgentScheduler


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def main(agents: int, seconds: float, stagger: bool) -> None:
    starts: dict[int, list[float]] = {i: [] for i in range(agents)}

    def make(i: int, sync: bool):  # type: ignore[no-untyped-def]
        if sync:
            def agent(task: str) -> None:
                starts[i].append(time.monotonic())
            return agent

        async def aagent(task: str) -> None:
            starts[i].append(time.monotonic())
        return aagent

    rss0 = rss_mb()
    schedulers = [AsyncAgentScheduler(make(i, i % 2 == 0), "t") for i in range(agents)]
    t0 = time.perf_counter()
    for i, s in enumerate(schedulers):
        if stagger:  # start agent i at i/N of the interval: a steady load instead of one burst
            await asyncio.sleep(max(0.0, t0 + i / agents - time.perf_counter()))
        await s.start("1")
    spawn = time.perf_counter() - t0
    cpu0 = time.process_time()
    await asyncio.sleep(seconds)
    cpu = time.process_time() - cpu0
    threads = threading.active_count()
    rss = rss_mb() - rss0
    t0 = time.perf_counter()
    await asyncio.gather(*(s.stop() for s in schedulers))
    shutdown = time.perf_counter() - t0
    late: list[float] = []
    skipped = 0
    for i, s in enumerate(schedulers):
        anchor = s._actor.stats.started_mono
        assert anchor is not None
        late += [(t - (anchor + (k + 1) * 1.0)) * 1000 for k, t in enumerate(starts[i])]
        skipped += s._actor.stats.skipped_ticks
    by_tick: dict[int, list[float]] = {}
    for i, s in enumerate(schedulers):
        anchor = s._actor.stats.started_mono
        assert anchor is not None
        for k, t in enumerate(starts[i]):
            by_tick.setdefault(k, []).append((t - (anchor + (k + 1) * 1.0)) * 1000)
    for k in sorted(by_tick):
        v = sorted(by_tick[k])
        print(f"  tick {k + 1:2d}: n={len(v):5d} median {statistics.median(v):6.1f} ms p99 {v[int(0.99 * len(v))]:7.1f} ms max {v[-1]:7.1f} ms")
    late.sort()
    print(f"{agents} agents{' staggered' if stagger else ''}, {os.cpu_count()} cores: start {spawn:.2f} s, stop {shutdown:.2f} s, "
          f"threads {threads}, +RSS {rss:.0f} MB, runs {len(late)}, skipped {skipped}, "
          f"lateness median {statistics.median(late):.1f} ms p99 {late[int(0.99 * len(late))]:.1f} ms "
          f"max {late[-1]:.1f} ms; CPU {cpu / max(1, len(late)) * 1e6:.0f} us/run; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--stagger", action="store_true", help="spread the starts over one interval")
    args = parser.parse_args()
    asyncio.run(main(args.agents, args.seconds, args.stagger))
