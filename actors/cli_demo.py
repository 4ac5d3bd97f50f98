"""The README's main job: a mixed pool of sync and async agents on short schedules.

An ActorSystem holds one async agent (awaited on the loop), one PraisonAI-style sync agent (run
in a thread) and one flaky sync API call that needs retries with backoff, each on its own
schedule, printed as they run; after a few seconds the pool is stopped and its stats printed.
Ctrl-C stops it early (a second one forces the exit); a closed stdout (``| head``) ends it
quietly.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from actors._cli_exit import ExitCode, Interrupts, exit_now, silence
from actors.messages import GetStats, Start, Stop
from actors.ref import AgentPool
from actors.system import ActorSystem

__all__ = ["run_demo"]


class _Clock:
    """Prints timestamped lines from any thread; notices when the reader of ``out`` left."""

    def __init__(self, out: TextIO) -> None:
        self.t0 = time.monotonic()
        self.out = out
        self.closed = False  # the reader left (`| head`): nothing more is shown
        self.on_closed: Callable[[], Any] = lambda: None
        self._lock = threading.Lock()  # agents and callbacks print from several threads

    def say(self, who: str, text: str) -> None:
        self.print(f"[{time.monotonic() - self.t0:5.2f}s] {who:<11} {text}")

    def print(self, line: str) -> None:
        """Print one line; after a broken pipe, drop it and stop the demo."""
        with self._lock:
            if self.closed:
                return
            try:
                print(line, file=self.out, flush=True)
            except BrokenPipeError:
                self.closed = True
                silence(self.out)
            else:
                return
        self.on_closed()


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


_SCHEDULES = {"researcher": "every 0.6s", "summariser": "*/1s", "flaky-api": "1.5"}


async def _demo(seconds: float, clock: _Clock, gate: Interrupts) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    finish = asyncio.Event()  # time is up, a signal came, or stdout closed

    def finish_soon() -> None:  # from a signal handler or any thread
        loop.call_soon_threadsafe(finish.set)

    gate.on_first = clock.on_closed = finish_soon
    stops: dict[str, asyncio.Future[Any]] = {}

    def force() -> None:
        if not stops:
            exit_now("forced exit: abandoned every agent before its stop", gate.exit_code)
        pending = ", ".join(name for name, stop in stops.items() if not stop.done())
        exit_now(f"forced exit: abandoned the run in flight of {pending or 'no agent'}", gate.exit_code)

    gate.on_force = force

    def report(name: str) -> dict[str, Any]:
        return {"on_success": lambda result: clock.say(name, f"ok    -> {result}"),
                "on_failure": lambda error: clock.say(name, f"FAILED -> {error!r}")}

    clock.print(f"An ActorSystem with three agents on their own schedules, stopped after {seconds:g}s:")
    clock.print("  an async researcher (on the loop), a sync summariser (in a thread), a flaky API call that retries.")
    backoff = {"initial": 0.2, "factor": 2.0, "cap": 1.0, "jitter": 0.1}
    async with ActorSystem() as system:  # async agents on this loop, sync agents in threads
        refs = [
            system.spawn(Researcher(clock), "AI news", name="researcher", **report("researcher")),
            system.spawn(Summariser(clock), "the notes", name="summariser", **report("summariser")),
            system.spawn(FlakyAPI(clock), "prices", name="flaky-api", config={"backoff": backoff},
                         **report("flaky-api")),
        ]
        for ref in refs:  # the "started" line first: run_immediately makes the first run at once
            kind = (await ref.ask_async(GetStats()))["kind"]
            clock.say(ref.name, f"started: {_SCHEDULES[ref.name]!r} ({kind} agent)")
            await ref.ask_async(Start(_SCHEDULES[ref.name], max_retries=3, run_immediately=True))
        if gate.signum is None and not clock.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(finish.wait(), seconds)
        clock.say("demo", "stopping every agent" if gate.signum is None else
                  "interrupted: stopping every agent (Ctrl-C again to force)")
        stops.update((ref.name, asyncio.ensure_future(ref.ask_async(Stop(), timeout=10.0))) for ref in refs)
        await asyncio.gather(*stops.values())
        return await AgentPool(refs).astats()


def run_demo(seconds: float = 4.0, out: TextIO = sys.stdout) -> int:
    """Run the demo for ``seconds``, print every run and the final stats; return an exit code.

    0, or 130 / 143 after Ctrl-C / SIGTERM, or 141 if ``out`` was a pipe that closed.
    """
    clock = _Clock(out)
    with Interrupts() as gate:
        report = asyncio.run(_demo(seconds, clock, gate))
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
    out.flush()
    if gate.signum is not None:
        return gate.exit_code
    return ExitCode.SIGPIPE if clock.closed else ExitCode.OK
