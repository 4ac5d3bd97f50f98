"""First rough figure: lateness of N ticks of a 20 ms interval, async and sync agent, side by
side with the raw ``loop.call_at`` floor. Run: ``python benchmarks/lateness.py [--ticks N]``.

Lateness = when the agent's call starts minus when its tick was due (start + k * interval).
Issue 5 grows this into the full suite (APScheduler peers, ratios, docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import threading
import time

from actors import AsyncAgentScheduler


def summary(lateness_s: list[float]) -> str:
    ms = sorted(x * 1000 for x in lateness_s)
    p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))]
    return f"median {statistics.median(ms):7.3f} ms   p99 {p99:7.3f} ms   max {ms[-1]:7.3f} ms   n={len(ms)}"


async def floor(ticks: int, interval: float) -> list[float]:
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    late: list[float] = []
    t0 = loop.time()

    def fire(k: int) -> None:
        late.append(loop.time() - (t0 + k * interval))
        if k == ticks:
            done.set_result(None)
        else:
            loop.call_at(t0 + (k + 1) * interval, fire, k + 1)

    loop.call_at(t0 + interval, fire, 1)
    await done
    return late


async def ours(ticks: int, interval: float, sync: bool) -> list[float]:
    starts: list[float] = []
    finished = asyncio.Event()
    loop = asyncio.get_running_loop()

    def record() -> None:
        starts.append(time.monotonic())
        if len(starts) == ticks:
            loop.call_soon_threadsafe(finished.set)

    async def async_agent(task: str) -> None:
        record()

    def sync_agent(task: str) -> None:
        assert threading.current_thread() is not threading.main_thread()
        record()

    scheduler = AsyncAgentScheduler(sync_agent if sync else async_agent, "bench")
    await scheduler.start(str(interval))
    await finished.wait()
    await scheduler.stop()
    t0 = scheduler._actor.stats.started_mono  # the anchor ticks are counted from (set by the actor)
    assert t0 is not None
    return [s - (t0 + (k + 1) * interval) for k, s in enumerate(starts[:ticks])]


async def main(ticks: int, interval: float) -> None:
    print(f"{ticks} ticks of {interval * 1000:.0f} ms on {os.cpu_count()} cores")
    print(f"  raw loop.call_at   {summary(await floor(ticks, interval))}")
    print(f"  async agent        {summary(await ours(ticks, interval, sync=False))}")
    print(f"  sync agent         {summary(await ours(ticks, interval, sync=True))}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.02)
    args = parser.parse_args()
    asyncio.run(main(args.ticks, args.interval))
