"""One clock for every deadline of the runtime: ticks, backoff waits, attempt timeouts, stop
deadlines, the fixed-rate base and wall-clock cron.

The runtime never reads ``time.*`` or ``loop.time()`` for scheduling: it asks its clock, so a
virtual clock (``actors.testing.VirtualClock``) can drive all of it. A clock also arms timers
on an event loop (``call_at``) and is told when the runtime starts and finishes a unit of work
(``enter``/``exit``), which the real clock ignores and a virtual one counts to know when
everything a timer started has settled.
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import threading
import time
from random import random as _random
from dataclasses import dataclass
from collections.abc import Callable
from typing import Any, Protocol

from actors._tick_heap import TickHeap, TickTarget
from actors.errors import ArgumentTypeError
from bridge import CancelToken

__all__ = ["Clock", "REAL_CLOCK", "RunContext", "Timer", "TimerHost", "Unit", "check_clock", "current_run", "tracked"]


class Timer(Protocol):
    """What ``Clock.call_at`` returns: a pending call that can be cancelled."""

    def cancel(self) -> None:
        """Cancel the call if it has not run yet."""


class TimerHost(Protocol):
    """Where timers run: an event loop, or a dispatcher worker's `TimedInbox` (the part of a
    loop's interface a clock needs)."""

    def time(self) -> float:
        """The host's own monotonic time."""

    def call_at(self, when: float, callback: Callable[..., object], *args: Any,
                context: contextvars.Context | None = None) -> Timer:
        """Call ``callback(*args)`` on the host at ``when`` (the host's time), in ``context``."""

    def call_soon_threadsafe(self, callback: Callable[..., object], *args: Any) -> object:
        """Call ``callback(*args)`` on the host soon, from any thread (``RuntimeError`` once closed)."""

    def is_closed(self) -> bool:
        """True once nothing scheduled on the host will run."""


_timer_contexts = threading.local()


def _timer_context() -> contextvars.Context:
    """This thread's one context for the runtime's timers. Their callbacks only post to a
    mailbox and set no variable, and an event loop copies the current context for every timer
    it arms unless given one: a Context per pending tick is one long-lived object more per
    agent that every full GC pass scans (100,000 agents: 100,000)."""
    try:
        context: contextvars.Context = _timer_contexts.context
    except AttributeError:
        context = _timer_contexts.context = contextvars.Context()
    return context


class Clock:
    """The real clock: ``time.monotonic`` for deadlines, ``time.time`` for wall times."""

    #: True for a clock whose time moves only when a test advances it.
    virtual = False

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (deadlines and intervals)."""
        return time.monotonic()

    def now(self) -> float:
        """Wall-clock time, epoch seconds as ``time.time()`` (stats and cron)."""
        return time.time()

    def call_at(self, loop: TimerHost, due: float, fn: Callable[..., None], *args: Any) -> Timer:
        """Call ``fn(*args)`` on ``loop`` at ``due`` (this clock's monotonic seconds); call on
        the thread that runs ``loop``."""
        delay = due - time.monotonic()  # read before the host's time: a deadline may come late, never early
        return loop.call_at(loop.time() + delay, fn, *args, context=_timer_context())

    def arm_tick(self, loop: TimerHost, ticks: TickHeap, due: float, target: TickTarget) -> int:
        """Call ``target.fire_tick()`` on ``loop`` at ``due``: an agent's next tick, kept in
        its host's ``ticks`` (no timer object per pending tick); the number returned cancels it."""
        delay = due - time.monotonic()  # as in call_at: late, never early
        return ticks.push(loop.time() + delay, target)

    def cancel_tick(self, ticks: TickHeap, seq: int) -> None:
        """Cancel the tick that `arm_tick` numbered ``seq`` (on the host's thread)."""
        ticks.cancel(seq)

    def random(self) -> float:
        """A random float in ``[0, 1)`` for jitter (a virtual clock's are seeded: the same test
        draws the same delays)."""
        return _random()

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds`` of this clock's time."""
        time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time on the running loop."""
        await asyncio.sleep(seconds)

    def run_until(self, done: Callable[[], bool], seconds: float) -> None:
        """Let time pass until ``done()`` (a virtual clock moves; the real one passes anyway)."""

    async def arun_until(self, done: Callable[[], bool], seconds: float) -> None:
        """[`run_until`][actors._clock.Clock.run_until] from a coroutine."""

    def interrupt(self, task: asyncio.Task[Any]) -> None:
        """The runtime is about to cancel ``task`` (the real clock: nothing to do)."""

    def enter(self, loop: TimerHost | None = None) -> None:
        """The runtime started a unit of work a timer or a message caused (real clock: nothing);
        ``loop``: the work is a call waiting to run on that loop (void if the loop closes)."""

    def exit(self, loop: TimerHost | None = None) -> None:
        """That unit of work has ended, after handing on whatever it caused."""


#: The process's real clock, the default everywhere.
REAL_CLOCK = Clock()


def check_clock(clock: object) -> Clock:
    """The clock to use: ``None`` is the real one; anything but a ``Clock`` is a ``TypeError``."""
    if clock is None:
        return REAL_CLOCK
    if not isinstance(clock, Clock):
        raise ArgumentTypeError(f"clock must be an actors.testing.VirtualClock or None, not {type(clock).__name__}")
    return clock


class _UnitState(enum.Enum):
    HELD = "held"            # counted busy
    SUSPENDED = "suspended"  # asleep on the virtual clock: not counted
    RELEASED = "released"    # the run ended or was abandoned: never counted again


class Unit:
    """One busy unit of work on a virtual clock (a run, a callback).

    Held while the work runs; suspended while a run sleeps on the clock (so time may move on)
    and resumed by whatever wakes it, *before* the sleeper runs again; released exactly once,
    by the run when it reports or by the runtime when it abandons the run. A released unit
    never counts again, so an abandoned run that keeps sleeping cannot hold the clock.
    """

    __slots__ = ("_clock", "_state", "_lock", "_on_release", "_sleeps")

    def __init__(self, clock: Clock) -> None:
        clock.enter()
        self._clock = clock
        self._state = _UnitState.HELD
        self._lock = threading.Lock()
        self._on_release: list[Callable[[], None]] | None = None
        self._sleeps = 0  # sleeps in progress: a run may await several at once (gather)

    @property
    def released(self) -> bool:
        """True once the run ended or was abandoned."""
        return self._state is _UnitState.RELEASED

    def on_release(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` when the unit is released (at once if it is): wakes an abandoned sleeper."""
        with self._lock:
            if self._state is not _UnitState.RELEASED:
                if self._on_release is None:
                    self._on_release = []
                self._on_release.append(fn)
                return
        fn()

    def release(self) -> None:
        """End the unit; later calls do nothing."""
        with self._lock:
            held, self._state = self._state is _UnitState.HELD, _UnitState.RELEASED
            waiters, self._on_release = self._on_release, None
        if held:
            self._clock.exit()
        for fn in waiters or ():
            fn()

    def suspend(self) -> None:
        """One more sleep of the run began: it no longer holds time back."""
        with self._lock:
            if self._state is _UnitState.RELEASED:
                return
            self._sleeps += 1
            if self._state is not _UnitState.HELD:
                return
            self._state = _UnitState.SUSPENDED
        self._clock.exit()

    def resume(self) -> None:
        """One sleep ended; once none is left, the run is busy again (call once per suspend)."""
        with self._lock:
            if self._state is _UnitState.RELEASED or self._sleeps == 0:
                return
            self._sleeps -= 1
            if self._sleeps or self._state is not _UnitState.SUSPENDED:
                return
            self._state = _UnitState.HELD
            self._clock.enter()  # under the lock: a release racing this sees HELD and exits it


@dataclass(frozen=True, slots=True)
class RunContext:
    """What a run's own code can reach on the clock: its unit and the token a stop cancels."""

    unit: Unit
    token: CancelToken


#: Set inside each attempt on a virtual clock (the thread's or the task's context).
current_run: contextvars.ContextVar[RunContext | None] = contextvars.ContextVar("actorsched_run", default=None)


def tracked(clock: Clock, loop: TimerHost, fn: Callable[..., None], args: tuple[Any, ...]) -> None:
    """Run ``fn(*args)`` on ``loop`` as a unit the caller entered on ``clock``, then exit it."""
    try:
        fn(*args)
    finally:
        clock.exit(loop)
