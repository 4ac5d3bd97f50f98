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
import time
from collections.abc import Callable
from typing import Any, Protocol

from actors.errors import ArgumentTypeError

__all__ = ["Clock", "REAL_CLOCK", "Timer", "Unit", "check_clock", "tracked"]


class Timer(Protocol):
    """What ``Clock.call_at`` returns: a pending call that can be cancelled."""

    def cancel(self) -> None:
        """Cancel the call if it has not run yet."""


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

    def call_at(self, loop: asyncio.AbstractEventLoop, due: float, fn: Callable[..., None], *args: Any) -> Timer:
        """Call ``fn(*args)`` on ``loop`` at ``due`` (this clock's monotonic seconds); call on the loop."""
        return loop.call_at(loop.time() + (due - time.monotonic()), fn, *args)

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

    def enter(self) -> None:
        """The runtime started a unit of work a timer or a message caused (real clock: nothing)."""

    def exit(self) -> None:
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


class Unit:
    """One busy unit of work on a virtual clock (a run, a callback), given back exactly once:
    by the run when it reports, or by the runtime when it abandons the run."""

    __slots__ = ("_clock", "_held")

    def __init__(self, clock: Clock) -> None:
        clock.enter()
        self._clock = clock
        self._held = [True]

    def release(self) -> None:
        """End the unit; later calls do nothing (list.pop is atomic, so two threads can race)."""
        try:
            self._held.pop()
        except IndexError:
            return
        self._clock.exit()


def tracked(clock: Clock, fn: Callable[..., None], args: tuple[Any, ...]) -> None:
    """Run ``fn(*args)`` as a unit the caller entered on ``clock``, then exit it."""
    try:
        fn(*args)
    finally:
        clock.exit()
