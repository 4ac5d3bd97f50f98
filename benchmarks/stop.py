"""Stop latency: how long ``stop()`` / ``shutdown()`` take, timed with ``perf_counter`` around
the call (until it returns, i.e. until the contract says nothing of the agent is left).

- ``backoff_stop``: an agent that always fails, ``backoff`` initial 300 s (jitter 0), started
  with ``run_immediately``; once its stats say ``state == "backing_off"`` (polled, untimed),
  ``stop()`` is timed. ``AsyncAgentScheduler`` with an async agent (awaited on the loop that
  started it) and ``AgentScheduler`` with a sync agent. ``alone=True``: it is the only agent, so
  the stop also tears down the shared runtime (joins the dispatcher workers, the pool's idle
  threads and, for the sync scheduler, the loop thread); ``alone=False``: another agent keeps
  the runtime up, so only this agent's stop is timed.
  Floors: cancel a task in ``asyncio.sleep(300)`` and await it; set an Event a thread waits on
  (300 s timeout) and join it. Peers: APScheduler 3 ``shutdown(wait=True)`` with one interval
  job whose next run is 300 s away (APScheduler has no retries, so no backoff wait to cut).
- ``shutdown_agents``: ``ActorSystem.shutdown()`` of ``n`` running no-op agents (half sync,
  half async, 1 s interval, after ``warm_s`` of running), and the garbage collector's share of it. Floor: cancel ``n`` raw asyncio tasks
  looping on ``asyncio.sleep(1)`` and await them. Peer: ``BackgroundScheduler.shutdown()`` with
  ``n`` interval jobs.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from benchmarks.common import GcWatch, Result, summarize

_BACKOFF = {"backoff": {"initial": 300, "factor": 2, "cap": 300, "jitter": 0}}


async def _fail_async(task: str) -> None:
    raise RuntimeError("always fails")


def _fail_sync(task: str) -> None:
    raise RuntimeError("always fails")


async def _noop_async(task: str) -> None:
    return None


def _noop_sync(task: str = "") -> None:
    return None


async def backoff_stop(repeats: int = 20) -> Result:
    """Timed stop() during a pending 300 s backoff wait, with floors and APScheduler peers."""
    from actors import AgentScheduler, AsyncAgentScheduler

    samples: dict[str, list[float]] = {k: [] for k in (
        "floor_async", "floor_sync", "ours_async_alone", "ours_async", "ours_sync_alone", "ours_sync",
        "aps_asyncio", "aps_background")}
    cancelled: list[int] = []
    keeper = AsyncAgentScheduler(_noop_async, "keep")
    sync_keeper = AgentScheduler(_noop_sync, "keep")
    for _ in range(repeats):
        # Floors.
        task = asyncio.create_task(asyncio.sleep(300))
        await asyncio.sleep(0.001)
        t0 = time.perf_counter()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        samples["floor_async"].append(time.perf_counter() - t0)
        event = threading.Event()
        thread = threading.Thread(target=event.wait, args=(300,))
        thread.start()
        time.sleep(0.001)
        t0 = time.perf_counter()
        event.set()
        thread.join()
        samples["floor_sync"].append(time.perf_counter() - t0)
        # Ours, alone and next to a running agent.
        for alone in (True, False):
            if not alone:
                await keeper.start("3600")
                sync_keeper.start("3600")
            a = AsyncAgentScheduler(_fail_async, "t", config=_BACKOFF)
            await a.start("3600", max_retries=3, run_immediately=True)
            deadline = time.monotonic() + 5
            while not _backing_off(await a.get_stats(), deadline):
                await asyncio.sleep(0.001)
            t0 = time.perf_counter()
            await a.stop()
            samples["ours_async_alone" if alone else "ours_async"].append(time.perf_counter() - t0)
            cancelled.append((await a.get_stats())["cancelled_executions"])
            s = AgentScheduler(_fail_sync, "t", config=_BACKOFF)
            s.start("3600", max_retries=3, run_immediately=True)
            deadline = time.monotonic() + 5
            while not _backing_off(s.get_stats(), deadline):
                time.sleep(0.001)
            t0 = time.perf_counter()
            await asyncio.to_thread(_timed_sync_stop, s, samples["ours_sync_alone" if alone else "ours_sync"])
            cancelled.append(s.get_stats()["cancelled_executions"])
            if not alone:
                await keeper.stop()
                sync_keeper.stop()
        # APScheduler peers.
        samples["aps_asyncio"].append(await _aps_asyncio_shutdown())
        samples["aps_background"].append(_aps_background_shutdown(1, 300))
    out: Result = {name: summarize(values) for name, values in samples.items()}
    out["cancelled_ok"] = all(c == 1 for c in cancelled)
    return out


def _backing_off(stats: dict[str, Any], deadline: float) -> bool:
    """The first attempt failed and the 300 s backoff wait is armed (same handler)."""
    if time.monotonic() > deadline:
        raise RuntimeError(f"the failing agent never reached its backoff wait: {stats}")
    if "state" in stats:
        return bool(stats["state"] == "backing_off")
    return stats["last_error"] is not None


def _timed_sync_stop(scheduler: Any, into: list[float]) -> None:
    t0 = time.perf_counter()
    scheduler.stop()
    into.append(time.perf_counter() - t0)


async def _aps_asyncio_shutdown() -> float:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]

    scheduler = AsyncIOScheduler()
    scheduler.add_job(_noop_async, "interval", seconds=300, args=["t"])
    scheduler.start()
    await asyncio.sleep(0.005)
    t0 = time.perf_counter()
    scheduler.shutdown(wait=True)  # posted to the loop: done once the scheduler reports stopped
    while scheduler.running:
        await asyncio.sleep(0)
    return time.perf_counter() - t0


def _aps_background_shutdown(jobs: int, interval: float, warm_s: float = 0.005) -> float:
    from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]

    scheduler = BackgroundScheduler()
    for _ in range(jobs):
        scheduler.add_job(_noop_sync, "interval", seconds=interval)
    scheduler.start()
    time.sleep(warm_s)
    t0 = time.perf_counter()
    scheduler.shutdown(wait=True)
    return time.perf_counter() - t0


def shutdown_agents(n: int = 1000, warm_s: float = 2.0, repeats: int = 1) -> Result:
    """Timed ``ActorSystem.shutdown()`` of ``n`` running agents, with a floor and a peer."""
    from actors import ActorSystem, Start

    ours: list[float] = []
    floor: list[float] = []
    peer: list[float] = []
    stopped_ok = True
    gc_ms: list[float] = []
    for _ in range(repeats):
        system = ActorSystem()
        for i in range(n):
            system.spawn(_noop_sync if i % 2 else _noop_async, task="t", name=f"a{i}").tell(Start("1"))
        time.sleep(warm_s)
        with GcWatch() as watch:
            t0 = time.perf_counter()
            final = system.shutdown()
            ours.append(time.perf_counter() - t0)
        gc_ms.append(watch.summary()["gc_total_ms"])
        stopped_ok &= len(final) == n and not any(s["is_running"] for s in final.values())
        floor.append(asyncio.run(_floor_cancel(n, warm_s)))
        peer.append(_aps_background_shutdown(n, 1, warm_s))
    return {"ours": summarize(ours, agents=n, stopped_ok=stopped_ok, gc_ms_median=sorted(gc_ms)[len(gc_ms) // 2]), "floor": summarize(floor, agents=n),
            "aps_background": summarize(peer, agents=n)}


async def _floor_cancel(n: int, warm_s: float) -> float:
    async def ticker() -> None:
        while True:
            await asyncio.sleep(1)

    tasks = [asyncio.create_task(ticker()) for _ in range(n)]
    await asyncio.sleep(warm_s)
    t0 = time.perf_counter()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return time.perf_counter() - t0


if __name__ == "__main__":
    import json

    print(json.dumps({"backoff": asyncio.run(backoff_stop(5)), "shutdown": shutdown_agents(1000, 1.0)}, indent=1))
