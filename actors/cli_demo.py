"""The README's main job: a mixed pool of sync and async agents on short schedules.

An ActorSystem holds one async agent (awaited on the loop), one PraisonAI-style sync agent (run
in a thread) and one flaky sync API call that needs retries with backoff, each on its own
schedule, printed as they run; after a few seconds the pool is stopped and its stats printed.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from typing import Any, TextIO

from actors.messages import GetStats, Start, Stop
from actors.ref import AgentPool
from actors.system import ActorSystem

__all__ = ["run_demo"]


class _Clock:
    def __init__(self, out: TextIO) -> None:
        self.t0 = time.monotonic()
        self.out = out

    def say(self, who: str, text: str) -> None:
        print(f"[{time.monotonic() - self.t0:5.2f}s] {who:<11} {text}", file=self.out, flush=True)


class Researcher:
    """An async agent in the PraisonAI shape: ``astart(task)``."""

    def __init__(self, clock: _Clock) -> None:
        self.clock, self.runs = clock, 0

    async def astart(self, task: str) -> str:
        self.runs += 1
        await asyncio.sleep(random.uniform(0.05, 0.15))  # an awaited model call
        return f"notes #{self.runs} on {task}"


class Summariser:
    """A sync agent in the PraisonAI shape: ``start(task)``, run in a thread, never on the loop."""

    def __init__(self, clock: _Clock) -> None:
        self.clock, self.runs = clock, 0

    def start(self, task: str) -> str:
        self.runs += 1
        time.sleep(0.1)  # a blocking SDK call
        return f"summary #{self.runs} of {task}"


class FlakyAPI:
    """A sync callable that fails its first two attempts of every run."""

    def __init__(self, clock: _Clock) -> None:
        self.clock, self.calls = clock, 0

    def __call__(self, task: str) -> str:
        self.calls += 1
        if self.calls % 3:
            self.clock.say("flaky-api", "attempt failed (HTTP 503), backing off")
            raise ConnectionError("HTTP 503 from the model API")
        return f"fetched {task}"


async def _demo(seconds: float, out: TextIO) -> dict[str, Any]:
    clock = _Clock(out)

    def report(name: str) -> dict[str, Any]:
        return {"on_success": lambda result: clock.say(name, f"ok    -> {result}"),
                "on_failure": lambda error: clock.say(name, f"FAILED -> {error!r}")}

    backoff = {"initial": 0.2, "factor": 2.0, "cap": 1.0, "jitter": 0.1}
    async with ActorSystem() as system:  # async agents on this loop, sync agents in threads
        members = [
            (system.spawn(Researcher(clock), "AI news", name="researcher", **report("researcher")), "every 0.6s"),
            (system.spawn(Summariser(clock), "the notes", name="summariser", **report("summariser")), "*/1s"),
            (system.spawn(FlakyAPI(clock), "prices", name="flaky-api", config={"backoff": backoff},
                          **report("flaky-api")), "1.5"),
        ]
        pool = AgentPool([ref for ref, _ in members])
        for ref, schedule in members:
            await ref.ask_async(Start(schedule, max_retries=3, run_immediately=True))
            stats = await ref.ask_async(GetStats())
            clock.say(ref.name, f"started: {schedule!r} ({stats['kind']} agent)")
        await asyncio.sleep(seconds)
        clock.say("demo", "stopping every agent")
        await pool.ask_async(Stop(), timeout=10.0)
        return await pool.astats()


def run_demo(seconds: float = 4.0, out: TextIO = sys.stdout) -> int:
    """Run the demo for ``seconds``, print every run and the final stats; return an exit code."""
    report = asyncio.run(_demo(seconds, out))
    stats = list(report["agents"].values())
    print("\nfinal stats", file=out)
    header = f"{'agent':<11} {'kind':<5} {'runs':>4} {'ok':>3} {'fail':>4} {'attempts':>8} {'retries':>7} " \
             f"{'skipped':>7} {'success':>7}"
    print(header, file=out)
    print("-" * len(header), file=out)
    for s in stats:
        print(f"{s['name']:<11} {s['kind']:<5} {s['total_executions']:>4} {s['successful_executions']:>3} "
              f"{s['failed_executions']:>4} {s['total_attempts']:>8} {s['retries']:>7} {s['skipped_ticks']:>7} "
              f"{s['success_rate']:>6.1f}%", file=out)
    total = report["total"]
    print(f"{'pool':<11} {'':<5} {total['total_executions']:>4} {total['successful_executions']:>3} "
          f"{total['failed_executions']:>4} {total['total_attempts']:>8} {total['retries']:>7} "
          f"{total['skipped_ticks']:>7} {total['success_rate']:>6.1f}%", file=out)
    return 0
