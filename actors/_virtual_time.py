"""The timer heap and the bookkeeping of busy units behind `actors.testing.VirtualClock`.

`VirtualTimers` is the runtime-facing half of the virtual clock: the calls the runtime makes
on any clock (``call_at``, ``enter``/``exit``, ``interrupt``) and the machinery of a run asleep
in virtual time. `VirtualClock` adds what a test calls: reading time, sleeping, advancing.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
from collections.abc import Callable
from typing import Any

from actors._clock import Clock, RunContext, TimerHost, Unit
from actors._tick_heap import TickHeap, TickTarget

__all__ = ["VirtualTimer", "VirtualTimers", "nothing"]

# Rebuild the heap without cancelled timers once this many pushes went by.
_PURGE_EVERY = 1024


def nothing() -> None:
    return None


_ARMING: Any = object()


def _fire_tick(pending: dict[int, VirtualTimer], seq: int, target: TickTarget) -> None:
    if pending.pop(seq, None) is not None:
        target.fire_tick()


class VirtualTimer:
    """A pending call. A sleeper's timer carries the sleeping run's unit, resumed when it fires."""

    __slots__ = ("due", "seq", "loop", "fn", "args", "cancelled", "unit", "resumed")

    def __init__(self, due: float, seq: int, loop: TimerHost | None,
                 fn: Callable[..., None], args: tuple[Any, ...], unit: Unit | None = None) -> None:
        self.due, self.seq, self.loop, self.fn, self.args = due, seq, loop, fn, args
        self.cancelled = False
        self.unit = unit
        self.resumed = False  # a sleeper's unit is resumed once, whatever wakes it first

    def __lt__(self, other: VirtualTimer) -> bool:
        return (self.due, self.seq) < (other.due, other.seq)

    def cancel(self) -> None:
        self.cancelled = True


class VirtualTimers(Clock):
    """Virtual time's timers and busy units (see the module docstring)."""

    virtual = True

    def __init__(self) -> None:
        self._mono = 0.0
        self._timers: list[VirtualTimer] = []
        self._seq = itertools.count()
        self._busy = 0
        self._cond = threading.Condition()
        self._sleeping: dict[asyncio.Task[Any], VirtualTimer] = {}  # tasks in asleep(), on their loops
        self._on_loops: dict[TimerHost, int] = {}  # calls waiting for each loop
        self._pushes = 0  # timers pushed since the heap was last purged of cancelled ones
        self._ticks: dict[int, VirtualTimer] = {}  # the agents' pending ticks by number

    # -- timers (called by the runtime) ---------------------------------------------------
    def call_at(self, loop: TimerHost, due: float, fn: Callable[..., None], *args: Any) -> VirtualTimer:
        """Run ``fn(*args)`` on ``loop`` once the clock reaches ``due`` (at once if it has)."""
        timer = VirtualTimer(due, next(self._seq), loop, fn, args)
        with self._cond:
            due_now = due <= self._mono
            if not due_now:
                self._push(timer)
        if due_now:
            self._dispatch(timer)
        return timer

    def arm_tick(self, loop: TimerHost, ticks: TickHeap, due: float, target: TickTarget) -> int:
        """An agent's next tick as a virtual timer (the host's ``ticks`` are the real clock's)."""
        seq, pending = next(self._seq), self._ticks
        pending[seq] = _ARMING  # a tick due now may fire on its loop before call_at returns
        timer = self.call_at(loop, due, _fire_tick, pending, seq, target)
        if seq in pending:
            pending[seq] = timer
        return seq

    def cancel_tick(self, ticks: TickHeap, seq: int) -> None:
        """Cancel the tick numbered ``seq``."""
        timer = self._ticks.pop(seq, None)
        if timer is not None and timer is not _ARMING:
            timer.cancel()

    def _dispatch(self, timer: VirtualTimer) -> None:
        """Run a due timer's call on its loop, counted busy until it has run (no lock held)."""
        if timer.cancelled:
            return
        if timer.unit is not None:  # a sleeper: its run is busy again before it wakes
            self._resume(timer)
            self._deliver(timer.loop, timer.fn, *timer.args)
            return
        self.enter()

        def fire() -> None:
            try:
                if not timer.cancelled:
                    timer.fn(*timer.args)
            finally:
                self.exit()

        if not self._deliver(timer.loop, fire):
            self.exit()

    @staticmethod
    def _deliver(loop: TimerHost | None, fn: Callable[..., None], *args: Any) -> bool:
        if loop is None:
            fn(*args)
            return True
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop closed: nothing on it will run again
            return False
        return True

    def enter(self, loop: TimerHost | None = None) -> None:
        """The runtime began a unit of work (a message, a run, a callback, a call for ``loop``)."""
        with self._cond:
            self._busy += 1
            if loop is not None:
                self._on_loops[loop] = self._on_loops.get(loop, 0) + 1

    def exit(self, loop: TimerHost | None = None) -> None:
        """A unit of work ended (after posting whatever it caused)."""
        with self._cond:
            self._busy -= 1
            if loop is not None:
                left = self._on_loops.get(loop, 0) - 1
                if left > 0:
                    self._on_loops[loop] = left
                else:
                    self._on_loops.pop(loop, None)
            if self._busy <= 0:
                self._busy = 0
                self._cond.notify_all()

    def _locked_busy(self) -> int:
        with self._cond:
            return self._busy_now()

    def _busy_now(self) -> int:
        """Busy units, less the calls waiting for a loop that has closed: they never run."""
        dead = [loop for loop in self._on_loops if loop.is_closed()]
        for loop in dead:  # lock held
            self._busy -= self._on_loops.pop(loop)
        return self._busy

    def _sleep_timer(self, seconds: float, loop: asyncio.AbstractEventLoop | None, wake: Callable[[], None],
                     run: RunContext | None) -> VirtualTimer:
        unit = None if run is None else run.unit
        timer = VirtualTimer(self._mono + seconds, next(self._seq), loop, wake, (), unit)
        with self._cond:
            self._push(timer)
        if unit is not None:
            unit.suspend()
        return timer

    def _push(self, timer: VirtualTimer) -> None:
        """Add a timer (lock held); now and then drop cancelled ones, which a start/stop cycle
        without an advance leaves behind (3,000 cycles kept 24 MB)."""
        heapq.heappush(self._timers, timer)
        self._pushes += 1
        if self._pushes >= _PURGE_EVERY:
            self._pushes = 0
            self._timers = [t for t in self._timers if not t.cancelled]
            heapq.heapify(self._timers)

    def _resume(self, timer: VirtualTimer) -> None:
        """Resume a sleeper's unit once, whichever of its timer, a stop or a cancel comes first."""
        with self._cond:
            if timer.resumed or timer.unit is None:
                return
            timer.resumed = True
        timer.unit.resume()

    def _wake_on_stop(self, run: RunContext | None, timer: VirtualTimer, wake: Callable[[], None]) -> Callable[[], None]:
        if run is None:
            return nothing
        run.unit.on_release(wake)  # abandoned while asleep: nobody will move time for it
        if run.token.cancelled:
            return nothing

        def early() -> None:
            timer.cancel()
            self._resume(timer)
            wake()

        return run.token.add_callback(early)

    def _woke(self, timer: VirtualTimer, forget: Callable[[], None]) -> None:
        forget()
        timer.cancel()
        self._resume(timer)  # whatever woke it (a cancel included) counts it busy again

    def interrupt(self, task: asyncio.Task[Any]) -> None:
        """The runtime is about to cancel ``task``: if it sleeps on this clock, it is busy again."""
        timer = self._sleeping.get(task)
        if timer is not None:
            timer.cancel()
            self._resume(timer)
