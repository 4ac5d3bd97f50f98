"""Message latency: ``ref.tell`` until the actor handles it, and the ``ref.ask`` round trip,
against raw pykka on a bare ``pykka.ThreadingActor``, in one process, from the main thread.

- tell -> handled: ``perf_counter`` before ``tell`` to the first line of the handler, for a
  message that sets nothing else going. Raw: ``ref.tell(msg)`` -> ``on_receive`` entry. Ours:
  ``ref.tell(Resume())`` to a running agent (handled, answered False) -> entry of
  ``AgentActor.handle`` for it (the benchmark wraps the class's ``handle`` before spawning, in
  its own process only: one type-name check per message). The sender then blocks on an Event
  set by the handler, so it holds no GIL while it waits. ``send_*``: how long ``tell()``
  itself takes on the sender's thread.
- tell that starts a run, the same shape on both sides: ours ``ref.tell(RunNow())``, which
  hands the agent's run to a pool thread; raw, a tell whose handler hands a no-op "run" to a
  thread of its own (a ``SimpleQueue`` it waits on). ``*_run``: until handled; ``*_call``: until
  the run starts on its thread (the user-visible effect). Both sides wait (untimed) for the run
  before the next tell. Why two tell series: with a run on a third thread between two tells,
  where that thread ran last decides where the next wake-up lands on 2 cores, and the handled
  figure swings with it on both sides (ours RunNow against a bare raw tell measured 1.2-1.5x,
  raw with its hand-off against the bare raw tell ~2x; the whole process pinned to one core,
  9.6 µs each). So the goal compares like with like: two threads taking turns.
- ask round trip: ``ref.ask(GetStats())`` (the actor builds its stats snapshot, ~20 keys) vs
  raw ``ref.ask(msg).get()`` whose ``on_receive`` returns a copy of a 20-key dict.

``snapshot_us``: the cost of one stats snapshot (the actor's share of an ask), on the caller.
Every timed message goes to a quiescent actor: the sender first sleeps ``pause`` (0.5 ms), so the
receiving thread is asleep, as for an isolated message in a real program (back to back, the
figures swing 5x with who happens to hold the GIL). Ours and raw alternate in blocks of
``block`` so that machine noise hits both alike; between our RunNows the benchmark waits
(untimed) until the run finished, so no RunNow is skipped.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import pykka

from benchmarks.common import Result, summarize


class _Bare(pykka.ThreadingActor):
    use_daemon_thread = True

    def __init__(self, handled: list[float], event: threading.Event, runs: queue.SimpleQueue[bool]) -> None:
        super().__init__()
        self.handled, self.event, self.runs = handled, event, runs
        self.stats = {f"key_{i}": i for i in range(20)}

    def on_receive(self, message: Any) -> Any:
        if message == "tell" or message == "run":
            self.handled.append(time.perf_counter())
            self.event.set()
            if message == "run":
                self.runs.put(True)  # the run, handed to its thread (as our RunNow to the pool)
            return None
        return dict(self.stats)


def _run_thread(runs: queue.SimpleQueue[bool], called: list[float], event: threading.Event) -> threading.Thread:
    """The raw actor's run thread: takes each run and "calls the agent" (a no-op)."""
    def serve() -> None:
        while runs.get():
            called.append(time.perf_counter())
            event.set()
    thread = threading.Thread(target=serve, name="raw-run", daemon=True)
    thread.start()
    return thread


def run(n: int = 2000, block: int = 100, pause: float = 0.0005) -> Result:
    """``n`` tells and ``n`` asks each way; returns one summary per series."""
    from actors import ActorSystem, GetStats, Resume, RunNow, Start
    from actors.agent_actor import AgentActor

    handled: list[float] = []
    handled_event = threading.Event()
    original = AgentActor.handle

    def handle(self: AgentActor, message: Any) -> None:
        if type(message).__name__ in ("RunNowMsg", "ResumeMsg"):
            handled.append(time.perf_counter())
            handled_event.set()
        original(self, message)

    AgentActor.handle = handle  # type: ignore[method-assign]
    called: list[float] = []
    called_event = threading.Event()

    def agent(task: str) -> None:
        called.append(time.perf_counter())
        called_event.set()

    system = ActorSystem()
    ref = system.spawn(agent, task="bench", name="bench")
    ref.tell(Start("3600"))
    runs_raw: queue.SimpleQueue[bool] = queue.SimpleQueue()
    called_raw: list[float] = []
    called_raw_event = threading.Event()
    run_thread = _run_thread(runs_raw, called_raw, called_raw_event)
    raw = _Bare.start(handled, handled_event, runs_raw)
    samples: dict[str, list[float]] = {k: [] for k in (
        "tell_raw", "tell_ours", "tell_raw_run", "tell_ours_run", "tell_raw_call", "tell_ours_call",
        "ask_raw", "ask_ours", "send_raw", "send_ours")}
    runs = [0]

    def wait(event: threading.Event, what: str) -> None:
        if not event.wait(1.0):
            raise RuntimeError(f"never saw {what}: did AgentActor.handle or the agent call path change?")

    def tell_raw() -> None:
        time.sleep(pause)
        handled_event.clear()
        t0 = time.perf_counter()
        raw.tell("tell")
        samples["send_raw"].append(time.perf_counter() - t0)
        wait(handled_event, "the raw actor handle the tell")
        samples["tell_raw"].append(handled[-1] - t0)

    def tell_ours() -> None:
        time.sleep(pause)
        handled_event.clear()
        t0 = time.perf_counter()
        ref.tell(Resume())
        samples["send_ours"].append(time.perf_counter() - t0)
        wait(handled_event, "AgentActor.handle receive the Resume")
        samples["tell_ours"].append(handled[-1] - t0)

    def run_raw() -> None:
        time.sleep(pause)
        handled_event.clear()
        called_raw_event.clear()
        t0 = time.perf_counter()
        raw.tell("run")
        wait(handled_event, "the raw actor handle the tell")
        samples["tell_raw_run"].append(handled[-1] - t0)
        wait(called_raw_event, "the raw run start")
        samples["tell_raw_call"].append(called_raw[-1] - t0)

    def run_ours() -> None:
        time.sleep(pause)
        handled_event.clear()
        called_event.clear()
        t0 = time.perf_counter()
        ref.tell(RunNow())
        wait(handled_event, "AgentActor.handle receive the RunNow")
        samples["tell_ours_run"].append(handled[-1] - t0)
        wait(called_event, "the agent's call start")
        samples["tell_ours_call"].append(called[-1] - t0)
        runs[0] += 1
        while ref.ask(GetStats(), 1.0)["total_executions"] < runs[0]:  # untimed: let the run finish
            pass

    def ask_raw() -> None:
        time.sleep(pause)
        t0 = time.perf_counter()
        raw.ask("ask")
        samples["ask_raw"].append(time.perf_counter() - t0)

    def ask_ours() -> None:
        time.sleep(pause)
        t0 = time.perf_counter()
        ref.ask(GetStats(), 1.0)
        samples["ask_ours"].append(time.perf_counter() - t0)

    order: list[Callable[[], None]] = [tell_raw, tell_ours, run_raw, run_ours, ask_raw, ask_ours]
    actor = ref._binding.actor  # type: ignore[union-attr]
    t0 = time.perf_counter()
    for _ in range(1000):
        actor.snapshot()
    snapshot_us = (time.perf_counter() - t0) * 1000
    try:
        for fn in order:  # warm-up, discarded
            for _ in range(50):
                fn()
        for values in samples.values():
            values.clear()
        for _ in range(max(1, n // block)):
            for fn in order:
                for _ in range(block):
                    fn()
    finally:
        raw.stop()
        runs_raw.put(False)
        run_thread.join(1.0)
        final = system.shutdown()
        AgentActor.handle = original  # type: ignore[method-assign]
    skipped = final["bench"]["skipped_ticks"]
    out: Result = {name: summarize(values, skipped=skipped if "ours" in name else 0) for name, values in samples.items()}
    out["snapshot_us"] = snapshot_us
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(500), indent=1))
