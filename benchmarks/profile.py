"""Profile of the hot path (tick -> mailbox -> agent call -> stats) under load, with py-spy.

A child process runs ``agents`` no-op agents (half sync, half async) in a plain ActorSystem on a
1 s interval, started spread over one interval (a steady 2,000 runs/s for 2,000 agents); after
1.5 s of warm-up, ``py-spy record --gil --nonblocking -F --format raw`` samples it for
``seconds``. ``--gil`` keeps only the stack of the thread holding the GIL, so idle threads
(blocked in a queue get, a select or a lock) never appear and the samples add up to the GIL
time, the resource every thread of the library competes for on CPython. Per function (py-spy's
``-F``: by the function's first line), inclusive = samples with the function anywhere on the
stack, self = samples with it as the leaf; both in percent of the samples taken, so 100 % would
be a GIL busy all the time.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, Result

# What each function found near the top does, for the report (keys: "file:qualname").
NOTES = {
    "_mailbox.py:Mailbox.post": "append to the agent's deque; schedule the mailbox on its worker if idle",
    "_mailbox.py:Mailbox.drain": "pop up to 64 messages and call the actor's handler",
    "dispatcher.py:_WorkerQueue.schedule": "put the mailbox on the worker's ready deque; ring the doorbell if it sleeps",
    "dispatcher.py:_WorkerQueue.run": "worker: drain the ready mailboxes in turn, then flush the buffered loop calls",
    "dispatcher.py:_Worker.on_receive": "pykka worker actor: due timers or a doorbell -> drain the ready queue",
    "_timed_inbox.py:TimedInbox.get": "worker: wait for an envelope or the earliest timer (a timed SimpleQueue.get)",
    "_timed_inbox.py:TimedInbox.run_due": "worker: run the due timers (sync agents' ticks)",
    "_timed_inbox.py:TimedInbox.call_at": "push a sync agent's timer on its worker's heap",
    "_loop_driver.py:LoopDriver.schedule": "put an async agent's mailbox on its loop's ready deque (call_soon or janus)",
    "_loop_driver.py:LoopDriver._serve": "loop: drain the ready mailboxes of the async agents",
    "_loop_driver.py:_run_item": "loop: run one item that came over the janus channel",
    "_loop_driver.py:LoopDriver.call": "worker: buffer a loop call for this worker turn",
    "_loop_driver.py:flush_loop_calls": "worker: send the buffered loop calls as one janus item",
    "agent_actor.py:AgentActor.handle": "actor: type switch on the message, then its handler",
    "agent_actor.py:AgentActor._on_tick": "actor: epoch and in-flight checks, then begin an execution",
    "_attempts.py:Attempts._begin_execution": "actor: a new execution record and its lateness",
    "_attempts.py:Attempts._start_attempt": "actor: count the attempt, build the call partials, submit to the pool or the loop",
    "_attempts.py:Attempts._run_sync": "pool thread: call the sync agent, post AttemptDone",
    "_attempts.py:Attempts._attempt_async": "loop task: await the async agent",
    "_attempts.py:Attempts._async_done": "loop: post the async attempt's AttemptDone",
    "_attempts.py:Attempts._on_attempt_done": "actor: an attempt's result comes back through the mailbox",
    "_attempts.py:Attempts._settle": "actor: count success/failure, callbacks, stop bookkeeping",
    "_ports.py:Ports.send": "post a message to the actor's own mailbox",
    "_ports.py:Ports.on_loop": "a call on the agent's loop (direct for async agents, buffered for sync ones)",
    "stats.py:Stats.attempt_started": "stats: counters, last_run_at, lateness",
    "schedule.py:IntervalSchedule.next_fire": "the next grid point of a fixed-rate interval",
    "_timers.py:AgentTimers._tick": "a tick timer fired; re-arm the next one, post Tick to the mailbox",
    "_timers.py:AgentTimers._arm_tick": "next fire (monotonic and wall), then call_at",
    "_timers.py:AgentTimers._call_at_mono": "cancel the old handle, convert the clock, call_at on the host",
    "_loop_tasks.py:AgentTasks._attempt": "loop task around an async attempt (timeout timer, report the outcome)",
    "_loop_tasks.py:AgentTasks.run_async": "loop: create the task of an async attempt",
    "channel.py:Channel._consume": "loop: the janus consumer task (await get, then run the items)",
    "channel.py:Channel.put": "thread -> loop hand-off: janus sync put",
    "threads.py:ThreadPool.submit": "hand a sync attempt to a pool thread: lock, reserve an idle thread, queue put",
    "threads.py:ThreadPool._work": "pool thread loop: run a task, bookkeeping under the pool lock, wait for the next",
    "base_events.py:BaseEventLoop._run_once": "asyncio: one loop iteration (select, pop due timers, run ready callbacks)",
    "base_events.py:BaseEventLoop.call_at": "asyncio: push a TimerHandle on the heap",
    "base_events.py:BaseEventLoop.create_task": "asyncio: one Task per async attempt (and per janus getter wake-up)",
    "base_events.py:BaseEventLoop.call_soon_threadsafe": "asyncio: wake the loop from another thread (self-pipe write)",
    "base_events.py:BaseEventLoop.time": "asyncio: loop.time() (time.monotonic)",
    "events.py:Handle._run": "asyncio: run one ready callback (the frame above every loop callback)",
    "events.py:TimerHandle.__lt__": "asyncio: timer-heap comparisons (heappush/heappop of tick handles)",
    "selector_events.py:BaseSelectorEventLoop._write_to_self": "asyncio: self-pipe write that wakes a sleeping loop",
    "selector_events.py:BaseSelectorEventLoop._read_from_self": "asyncio: drain the self-pipe after a cross-thread wake-up",
    "selectors.py:EpollSelector.select": "asyncio: the Python side of epoll_wait (GIL re-acquire, event list)",
    "tasks.py:Task.__step": "asyncio: advance a task one step",
    "tasks.py:Task.__wakeup": "asyncio: resume a task whose future finished",
    "locks.py:Condition.wait": "asyncio.Condition in janus's async get",
    "threading.py:Condition.wait": "a thread waking from a Condition: lock bookkeeping around the futex wait",
    "threading.py:Condition.notify": "wake a thread waiting on a Condition (queue.Queue put, janus put)",
    "threading.py:Condition.__exit__": "release a Condition's lock",
    "threading.py:Condition._is_owned": "Condition ownership check (every wait/notify)",
    "_actor.py:Actor._handle_receive": "pykka: unwrap one envelope and call on_receive",
    "_ref.py:ActorRef.tell": "pykka: an envelope into an actor's inbox",
    "queue.py:Queue.put": "queue.Queue.put: lock and condition notify (pykka inbox)",
    "queue.py:Queue.get": "queue.Queue.get: lock and condition wait (pykka inbox)",
    "janus/__init__.py:_SyncQueueProxy.put_nowait": "janus sync put_nowait (thread side)",
    "janus/__init__.py:_SyncQueueProxy.put": "janus sync put: lock, notify, schedule the loop-side wake-up",
    "janus/__init__.py:_AsyncQueueProxy.get": "janus async get (loop side)",
    "janus/__init__.py:Queue._get_loop": "janus: look up the loop for a wake-up",
    "scale.py:_make_agent.<locals>.agent": "the benchmark's no-op sync agent",
    "scale.py:_make_agent.<locals>.aagent": "the benchmark's no-op async agent",
}
# Thread roots and drivers: 100 % of a thread's samples, so they say which thread, not what costs.
ROOTS = {
    "threading.py:Thread._bootstrap": None, "threading.py:Thread._bootstrap_inner": None,
    "threading.py:Thread.run": None, "loop_thread.py:LoopThread._run": "loop thread",
    "base_events.py:BaseEventLoop.run_forever": None, "base_events.py:BaseEventLoop._run_once": None,
    "_actor.py:Actor._actor_loop": "dispatcher workers (pykka)", "_actor.py:Actor._actor_loop_running": None,
    "threads.py:ThreadPool._work": "pool threads (sync agents)",
}


# Leaf frames that are a thread hand-off: waking, or being woken by, another thread.
HANDOFF_MODULES = {"threading", "queue", "selectors", "pykka", "janus"}
HANDOFF_FUNCTIONS = {"selector_events.py:BaseSelectorEventLoop._read_from_self",
                     "selector_events.py:BaseSelectorEventLoop._write_to_self",
                     "base_events.py:BaseEventLoop.call_soon_threadsafe"}


def category(leaf_key: str, module: str) -> str:
    """Which kind of work a leaf frame is: thread hand-off, actorsched, asyncio, or other."""
    if module in HANDOFF_MODULES or leaf_key in HANDOFF_FUNCTIONS:
        return "thread hand-offs (locks, conditions, queues, self-pipe, epoll, pykka, janus)"
    if module.startswith(("actors.", "bridge.")):
        return "actorsched's own code"
    if module == "asyncio":
        return "asyncio loop, timers and tasks"
    return "other"


def workload(agents: int, seconds: float) -> None:
    """The profiled process: agents started spread over 1 s, warm-up, then ``seconds`` of load."""
    from actors import ActorSystem, Start
    from benchmarks.scale import _make_agent

    system = ActorSystem()
    records: list[list[float]] = [[] for _ in range(agents)]
    refs = [system.spawn(_make_agent(records[i], i % 2 == 0), task="t", name=f"a{i}") for i in range(agents)]
    t0 = time.perf_counter()
    for i, ref in enumerate(refs):
        time.sleep(max(0.0, t0 + i / agents - time.perf_counter()))
        ref.tell(Start("1"))
    time.sleep(1.5)
    runs0, cpu0 = sum(map(len, records)), time.process_time()
    print("ready", flush=True)
    time.sleep(seconds + 0.5)
    runs, cpu = sum(map(len, records)) - runs0, time.process_time() - cpu0
    system.shutdown()
    print(json.dumps({"runs": runs, "cpu_us_per_run": cpu / max(1, runs) * 1e6}), flush=True)


def parse_raw(text: str, top: int = 10) -> Result:
    """Inclusive and self shares per function (and per module and thread role) from py-spy's
    raw (collapsed-stack) output; thread roots are left out of the inclusive ranking."""
    inclusive: collections.Counter[str] = collections.Counter()
    self_: collections.Counter[str] = collections.Counter()
    by_module: collections.Counter[str] = collections.Counter()
    by_thread: collections.Counter[str] = collections.Counter()
    by_kind: collections.Counter[str] = collections.Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        raw_frames = stack.split(";")
        frames = [_frame_key(f) for f in raw_frames]
        for key in set(frames) - ROOTS.keys():
            inclusive[key] += count
        self_[frames[-1]] += count
        module = _module(raw_frames[-1])
        by_module[module] += count
        by_kind[category(frames[-1], module)] += count
        by_thread[_thread_role(frames)] += count

    def rows(counter: collections.Counter[str]) -> list[dict[str, Any]]:
        return [{"function": key, "pct": 100 * n / max(1, total), "note": NOTES.get(key, "")}
                for key, n in counter.most_common(top)]

    def shares(counter: collections.Counter[str]) -> list[dict[str, Any]]:
        return [{"name": k, "pct": 100 * n / max(1, total)} for k, n in counter.most_common(8)]

    return {"samples": total, "inclusive": rows(inclusive), "self": rows(self_),
            "by_module": shares(by_module), "by_thread": shares(by_thread), "by_kind": shares(by_kind)}


def _thread_role(frames: list[str]) -> str:
    role = next((ROOTS[f] for f in frames if ROOTS.get(f)), None)
    if role is not None:
        return role
    if frames[0] == "threading.py:Thread._bootstrap":
        return "other threads"
    # py-spy reports a coroutine's frames without the loop frames below them.
    return "main thread" if frames[0].endswith(":<module>") else "loop thread"


def _frame_key(frame: str) -> str:
    """``"Mailbox.drain (actors/dispatcher.py:83)"`` -> ``"dispatcher.py:Mailbox.drain"``."""
    name, _, where = frame.partition(" (")
    path = Path(where.rstrip(")").rsplit(":", 1)[0])
    return f"{path.parent.name + '/' if path.name == '__init__.py' else ''}{path.name}:{name}"


def _module(frame: str) -> str:
    where = frame.partition(" (")[2].rstrip(")").rsplit(":", 1)[0]
    if where.startswith(("actors/", "bridge/")):
        return where.removesuffix(".py").replace("/", ".")
    return where.split("/")[0].removesuffix(".py") or "?"


def run(agents: int = 2000, seconds: float = 6.0, rate: int = 1000) -> Result:
    """Profile the workload with py-spy; returns the top functions or ``{"error": ...}``."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not os.access(spy, os.X_OK):
        return {"error": "py-spy not found (pip install py-spy)"}
    child = subprocess.Popen([sys.executable, "-c", f"from benchmarks.profile import workload; "
                              f"workload({agents}, {seconds})"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    try:
        if child.stdout.readline().strip() != "ready":
            return {"error": "the profiled workload did not start"}
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "profile.txt"
            spy_run = subprocess.run([spy, "record", "--pid", str(child.pid), "--duration", str(int(seconds)),
                                      "--rate", str(rate), "--gil", "--nonblocking", "-F", "--format", "raw",
                                      "-o", str(out)], capture_output=True, text=True, timeout=seconds + 30)
            if spy_run.returncode != 0 or not out.exists():
                return {"error": f"py-spy failed: {(spy_run.stderr.strip().splitlines() or ['?'])[-1]}"}
            result = parse_raw(out.read_text())
        workload_stats = json.loads(child.stdout.readline())
    finally:
        child.wait(timeout=60)
    expected = rate * int(seconds)
    return {"agents": agents, "seconds": int(seconds), "rate": rate, "gil_busy_pct": 100 * result["samples"] / expected,
            **workload_stats, **result, "expected_samples": expected}


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
