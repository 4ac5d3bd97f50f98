"""Test your schedules without waiting: a virtual clock that drives every timer of the runtime.

```python
from actors import ActorSystem, Start
from actors.testing import VirtualClock

clock = VirtualClock()
with ActorSystem(clock=clock) as system:
    ref = system.spawn(lambda task: task, task="t", name="hourly")
    ref.tell(Start("hourly"))
    clock.advance(7 * 24 * 3600)          # a week, in milliseconds of real time
    assert ref.stats()["successful_executions"] == 168
```

Time moves only when the test calls [`advance`][actors.testing.VirtualClock.advance] (or
``await clock.aadvance(...)`` from a coroutine): every tick, backoff wait, attempt timeout and
stop deadline that falls in the span runs in due order, and ``advance`` moves from one due event
to the next only once every run it started has finished, or is waiting in
[`sleep`][actors.testing.VirtualClock.sleep] / [`asleep`][actors.testing.VirtualClock.asleep].
"""

from __future__ import annotations

import asyncio
import heapq
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

from actors._clock import current_run
from actors._virtual_time import VirtualTimers
from actors._loop_driver import running_loop
from actors._validate import check_seconds

__all__ = ["VirtualClock"]

# How long, in real time, advance() waits for runs to settle before it says which are stuck:
# an agent that waits on real time (time.sleep, a socket) takes real time, and a test must
# fail with a message rather than hang.
_SETTLE_LIMIT_S = 30.0
# A run the runtime abandoned (past its stop deadline or timeout) keeps running on its own
# thread; its sleeps then pass in real time, capped so that it neither spins nor lingers.
_ABANDONED_SLEEP_S = 0.05
# A loop closing wakes no one: a settle that waits looks again this often.
_RECHECK_S = 0.05


def _never() -> bool:
    return False


def _inside_a_run() -> bool:
    from actors.agent_actor import inside_agent  # the runtime imports only this module's base

    return current_run.get() is not None or inside_agent.get() is not None


class VirtualClock(VirtualTimers):
    """A clock whose time moves only when advanced; pass it as ``ActorSystem(clock=...)`` or a
    scheduler's ``config={"clock": ...}``.

    Args:
        start: the wall time it starts at, as epoch seconds or an aware ``datetime``; default
            now. Its monotonic time starts at 0.
        settle_timeout: real seconds ``advance`` waits for the runs it started before it
            raises ``TimeoutError`` naming the cause (an agent waiting on real time).
        seed: seeds the random draws of tick jitter and backoff jitter, so a test that uses
            them gives the same history every time.
    """

    def __init__(self, start: float | datetime | None = None, *, settle_timeout: float = _SETTLE_LIMIT_S,
                 seed: int = 0) -> None:
        if start is None:
            wall = time.time()
        elif isinstance(start, datetime):
            if start.tzinfo is None:
                raise ValueError(f"start must be an aware datetime (with a tzinfo), got {start!r}")
            wall = start.timestamp()
        else:
            wall = check_seconds("start", start)
        try:
            datetime.fromtimestamp(wall, timezone.utc)  # cron and repr() need a real date
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"start must be a date between the years 1 and 9999, got {start!r}") from None
        self._wall0 = wall
        self._settle_timeout = check_seconds("settle_timeout", settle_timeout, allow_zero=False)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, not {type(seed).__name__}: {seed!r}")
        self._random = random.Random(seed)
        super().__init__()
        self._advancing = threading.Lock()

    def __repr__(self) -> str:
        return f"<VirtualClock t={self._mono:.3f}s now={datetime.fromtimestamp(self.now()).isoformat()}>"

    # -- reading time ---------------------------------------------------------------------
    def random(self) -> float:
        """A float in ``[0, 1)`` from this clock's own generator (``seed``): jitter and backoff
        draw the same delays each time a test runs."""
        return self._random.random()

    def monotonic(self) -> float:
        """Virtual seconds since the clock was made."""
        return self._mono

    def now(self) -> float:
        """Virtual wall time, epoch seconds (as ``time.time()``)."""
        return self._wall0 + self._mono

    # -- agents taking virtual time -------------------------------------------------------
    def sleep(self, seconds: float) -> None:
        """Block the calling thread (a sync agent) until the clock has moved ``seconds``.

        Inside a run, the run stops counting as busy while it sleeps, so ``advance`` can move
        on to the next due event (a run that lasts 2.5 intervals, in a test of overlap). A stop
        ends the sleep in progress at once, as it ends the runtime's own waits; a sleep begun
        after the stop waits for virtual time like any other, so the stop's deadline can pass.
        """
        seconds = check_seconds("seconds", seconds)
        if seconds == 0:
            return
        run = current_run.get()
        if run is not None and run.unit.released:  # abandoned: its time is no longer virtual
            time.sleep(min(seconds, _ABANDONED_SLEEP_S))
            return
        woken = threading.Event()
        timer = self._sleep_timer(seconds, None, woken.set, run)
        forget = self._wake_on_stop(run, timer, woken.set)
        try:
            woken.wait()
        finally:
            self._woke(timer, forget)

    async def asleep(self, seconds: float) -> None:
        """Wait on the running loop (an async agent) until the clock has moved ``seconds``."""
        seconds = check_seconds("seconds", seconds)
        run = current_run.get()
        if seconds == 0 or (run is not None and run.unit.released):
            await asyncio.sleep(min(seconds, _ABANDONED_SLEEP_S))  # sleep(0): just yield
            return
        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not woken.done():
                woken.set_result(None)

        def wake_soon() -> None:
            loop.call_soon_threadsafe(wake)

        timer = self._sleep_timer(seconds, loop, wake, run)
        forget = self._wake_on_stop(run, timer, wake_soon)
        task = asyncio.current_task()
        if task is not None and run is not None:
            self._sleeping[task] = timer
        try:
            await woken
        finally:
            if task is not None:
                self._sleeping.pop(task, None)
            self._woke(timer, forget)

    # -- moving time ----------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Move time forward ``seconds``, running everything due on the way, in due order, and
        waiting for the runs it starts. Call it from a thread that runs no agent (the test's);
        from a coroutine use [`aadvance`][actors.testing.VirtualClock.aadvance]."""
        seconds = check_seconds("seconds", seconds)
        if running_loop() is not None:
            raise RuntimeError("advance() would block this event loop, which may run the agents: "
                               "use await clock.aadvance()")
        if _inside_a_run():
            raise RuntimeError("advance() from inside an agent's run would wait for that run: "
                               "move time from the test")
        with self._advancing:  # advances from several threads add up, one at a time
            target = self._mono + seconds
            self._run_to(target, _never)
            with self._cond:
                self._mono = max(self._mono, target)

    async def aadvance(self, seconds: float) -> None:
        """[`advance`][actors.testing.VirtualClock.advance] from a coroutine: the loop keeps
        running the agents on it while the runs settle."""
        target = self._mono + check_seconds("seconds", seconds)
        await self._arun_to(target, _never)
        with self._cond:
            self._mono = max(self._mono, target)

    def stall(self, seconds: float) -> None:
        """Let ``seconds`` pass as if the process were frozen (a blocked event loop, a
        suspended machine): nothing due in the span runs on time; then everything due runs at
        once, late, in due order, as after a real stall. Tests ``catch_up`` and missed ticks."""
        seconds = check_seconds("seconds", seconds)
        if running_loop() is not None:
            raise RuntimeError("stall() would block this event loop, which may run the agents: use await clock.astall()")
        with self._advancing:
            with self._cond:
                self._mono += seconds
            self._run_to(self._mono, _never)

    async def astall(self, seconds: float) -> None:
        """[`stall`][actors.testing.VirtualClock.stall] from a coroutine."""
        seconds = check_seconds("seconds", seconds)
        with self._cond:
            self._mono += seconds
        await self._arun_to(self._mono, _never)

    def run_until(self, done: Callable[[], bool], seconds: float) -> None:
        """Let up to ``seconds`` of virtual time pass until ``done()``: the runtime's waits (a
        stop that gives a run ``stop_timeout``) take virtual time under a virtual clock."""
        try:
            self._run_to(self._mono + seconds, done)
        except TimeoutError:  # a run waits on real time: the caller waits for it in real time
            return

    async def arun_until(self, done: Callable[[], bool], seconds: float) -> None:
        """[`run_until`][actors.testing.VirtualClock.run_until] from a coroutine."""
        try:
            await self._arun_to(self._mono + seconds, done)
        except TimeoutError:
            return

    def _run_to(self, target: float, done: Callable[[], bool]) -> None:
        """Fire due timers one instant at a time, settling after each, until ``target`` or ``done()``."""
        self._settle()
        while not done() and self._step(target):
            self._settle()

    async def _arun_to(self, target: float, done: Callable[[], bool]) -> None:
        await self._asettle()
        while not done() and self._step(target):
            await self._asettle()

    def _step(self, target: float) -> bool:
        """Fire the next due timer at or before ``target``; False when there is none."""
        with self._cond:
            while self._timers and self._timers[0].cancelled:
                heapq.heappop(self._timers)
            if not self._timers or self._timers[0].due > target:
                return False
            timer = heapq.heappop(self._timers)
            self._mono = max(self._mono, timer.due)
        self._dispatch(timer)
        return True

    def _settle(self) -> None:
        deadline = time.monotonic() + self._settle_timeout
        with self._cond:
            while self._busy_now() > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(self._stuck())
                self._cond.wait(min(left, _RECHECK_S))

    async def _asettle(self) -> None:
        deadline = time.monotonic() + self._settle_timeout
        await asyncio.sleep(0)  # let what is ready on this loop run first
        while self._locked_busy() > 0:
            if time.monotonic() > deadline:
                raise TimeoutError(self._stuck())
            await asyncio.sleep(0.0002)  # the runs may be on this very loop: yield to them

    def _stuck(self) -> str:
        return (f"VirtualClock: {self._busy} unit(s) of work still busy after {self._settle_timeout:g}s of real "
                f"time; an agent waiting on real time (time.sleep, I/O) takes real time: use clock.sleep()")
