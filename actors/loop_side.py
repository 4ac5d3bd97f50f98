"""What runs on an event loop for the agents: ticks, backoff and timeout timers, async attempts
and async callbacks.

Each agent has an `AgentLoop` (its loop's `LoopDriver`, in `actors._loop_driver`, carries
the calls from thread-side actors) holding its timer handles and tasks; only the loop thread touches it, so it
needs no lock. Timers use ``loop.call_at``: the loop's own heap is the shared timer, 10,000
pending handles cost ~1.5 MB, and an idle loop wakes within ~0.1 ms of a deadline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable
from typing import Any

from actors._clock import REAL_CLOCK, Clock, Timer
from actors._protocol import Outcome
from actors.schedule import Schedule
from bridge import asafe_call

__all__ = ["AgentLoop", "Tick"]


log = logging.getLogger("actors")
Post = Callable[[Any], object]


class Tick:
    """A scheduled fire: ``due`` on the monotonic clock, the next fire in wall time, ticks missed."""

    __slots__ = ("epoch", "due", "next_wall", "missed")

    def __init__(self, epoch: int, due: float, next_wall: float, missed: int) -> None:
        self.epoch, self.due, self.next_wall, self.missed = epoch, due, next_wall, missed


class AgentLoop:
    """One agent's timers and tasks on a loop. Every method must run on that loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, post: Post, clock: Clock = REAL_CLOCK) -> None:
        self._loop = loop
        self._post = post
        self._clock = clock
        self._timers: dict[Hashable, Timer] = {}
        self._run: asyncio.Task[None] | None = None
        # Attempts that ignored their cancellation (timeout or stop) and were abandoned: close()
        # cancels them once more, so an agent that finally yields does not outlive its agent.
        self._abandoned: set[asyncio.Task[None]] | None = None
        self._callbacks: set[asyncio.Task[None]] | None = None  # made at the first async callback

    # -- timers ---------------------------------------------------------------------------
    def _call_at_mono(self, due_mono: float, key: Hashable, fn: Callable[..., None], *args: Any) -> None:
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        self._timers[key] = self._clock.call_at(self._loop, due_mono, fn, *args)

    def arm(self, key: Hashable, delay: float, message: Any) -> None:
        """Post ``message`` to the agent after ``delay`` seconds (replacing a timer of that key)."""
        self._call_at_mono(self._clock.monotonic() + delay, key, self._fire, key, message)

    def disarm(self, key: Hashable) -> None:
        """Cancel the timer of that key, if any."""
        handle = self._timers.pop(key, None)
        if handle is not None:
            handle.cancel()

    def disarm_all(self) -> None:
        """Cancel every timer of the agent (ticks, backoff, timeouts)."""
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

    def _fire(self, key: Hashable, message: Any) -> None:
        self._timers.pop(key, None)
        self._post(message)

    # -- ticks ----------------------------------------------------------------------------
    def start_ticks(self, epoch: int, schedule: Schedule, anchor: float) -> None:
        """Begin firing `Tick` messages for ``schedule`` (intervals counted from ``anchor``)."""
        self._arm_tick(epoch, schedule, anchor, self._clock.monotonic())

    def _arm_tick(self, epoch: int, schedule: Schedule, anchor: float, after_mono: float) -> tuple[float, float]:
        """Arm the first fire after ``after_mono``; return its (monotonic, wall-clock) time."""
        clock = self._clock
        now_mono, now_wall = clock.monotonic(), clock.now()
        if schedule.clock == "monotonic":
            due = schedule.next_fire(after_mono, anchor)
            wall = now_wall + (due - now_mono)
        else:
            wall = schedule.next_fire(now_wall + (after_mono - now_mono))
            due = now_mono + (wall - now_wall)
        self._call_at_mono(due, "tick", self._tick, epoch, schedule, anchor, due, wall)
        return due, wall

    def _tick(self, epoch: int, schedule: Schedule, anchor: float, due: float, wall: float) -> None:
        clock = self._clock
        if schedule.clock == "wall":
            early = wall - clock.now()
            if early > 0.001:  # the wall clock was set back or the machine slept: wait the rest
                self._call_at_mono(clock.monotonic() + early, "tick", self._tick, epoch, schedule, anchor, due, wall)
                return
            _, next_wall = self._arm_tick(epoch, schedule, anchor, clock.monotonic() + max(0.0, wall - clock.now()))
            if self._post(Tick(epoch, due, next_wall, 0)) is False:
                self.disarm("tick")  # the mailbox is closed: never tick into the void
            return
        next_due, next_wall = self._arm_tick(epoch, schedule, anchor, clock.monotonic())
        missed = max(0, round((next_due - due) / schedule.seconds) - 1)
        if self._post(Tick(epoch, due, next_wall, missed)) is False:
            self.disarm("tick")

    # -- async runs and callbacks ---------------------------------------------------------
    def run_async(self, func: Callable[[], Any], timeout: float | None, done: Callable[[Outcome, Any], Any]) -> None:
        """Start ``await func()`` as a task; report ``done(Outcome.OK, value)``,
        ``(Outcome.ERROR, exc)`` or ``(Outcome.CANCELLED, None)``.

        Every ``BaseException`` the agent raises is reported as an error: a ``KeyboardInterrupt``
        or ``SystemExit`` escaping a task would stop the whole loop (asyncio re-raises them out
        of ``run_forever``), and anything else would end the task without a report, leaving the
        attempt in flight forever.
        """
        previous = self._run
        if previous is not None and not previous.done():  # an abandoned attempt still unwinding
            if self._abandoned is None:
                self._abandoned = set()
            self._abandoned.add(previous)
            previous.add_done_callback(self._abandoned.discard)
        self._run = self._loop.create_task(self._attempt(func, timeout, done), name="actorsched-run")

    async def _attempt(self, func: Callable[[], Any], timeout: float | None, done: Callable[[Outcome, Any], Any]) -> None:
        me = asyncio.current_task()
        assert me is not None
        # The attempt's deadline is a timer of the clock (not asyncio.timeout, which reads the
        # loop's time), so a virtual clock fires it too. Without a timeout nothing is made:
        # a closure and a cell per tick are garbage the GC pays for at 10,000 agents.
        expired: list[bool] | None = None
        deadline = None
        if timeout is not None:
            expired = [False]
            deadline = self._clock.call_at(self._loop, self._clock.monotonic() + timeout, self._expire, me, expired)
        outcome, result = Outcome.OK, None
        try:
            try:
                result = await func()
            finally:
                if deadline is not None:
                    deadline.cancel()
            if expired and expired[0]:  # the agent swallowed the timeout's cancellation and returned
                raise TimeoutError(f"attempt exceeded the timeout of {timeout}s")
        except asyncio.CancelledError:
            if expired and expired[0] and me.cancelling() == 1:
                me.uncancel()
                outcome, result = Outcome.ERROR, TimeoutError(f"attempt exceeded the timeout of {timeout}s")
            elif me.cancelling():
                outcome = Outcome.CANCELLED
            else:  # the agent itself raised CancelledError: an agent failure like any other
                outcome, result = Outcome.ERROR, asyncio.CancelledError("agent raised CancelledError")
        except BaseException as exc:  # noqa: BLE001 - see run_async
            if not isinstance(exc, Exception):
                log.error("agent raised %r: counted as a failed attempt; the runtime keeps running", exc)
            outcome, result = Outcome.ERROR, exc
        # No longer this agent's run before the report: the actor may start the next attempt
        # (or close this loop side) while handling it, and this task must not be taken for
        # an attempt still in flight.
        if self._run is me:
            self._run = None
        done(outcome, result)

    def _expire(self, task: asyncio.Task[None], expired: list[bool]) -> None:
        """An attempt's timeout: mark it, then cancel its task."""
        expired[0] = True
        self._clock.interrupt(task)
        task.cancel()

    def cancel_run(self) -> None:
        """Cancel the in-flight async attempt, if any (it reports ``cancelled``)."""
        if self._run is not None:
            self._clock.interrupt(self._run)
            self._run.cancel()

    def run_callback(self, callback: Callable[..., Any], arg: Any, done: Callable[[], None]) -> None:
        """Run a (possibly async) callback via ``asafe_call`` as a task, then call ``done()``."""

        async def call() -> None:
            try:
                await asafe_call(callback, arg)  # never raises for the callback, a KeyboardInterrupt included
            finally:
                done()

        task = self._loop.create_task(call(), name="actorsched-callback")
        if self._callbacks is None:
            self._callbacks = set()
        self._callbacks.add(task)
        task.add_done_callback(self._callbacks.discard)

    def close(self) -> None:
        """Cancel every timer and anything still running (the agent is finished on this loop)."""
        self.disarm_all()
        for task in [*((self._run,) if self._run is not None else ()), *(self._abandoned or ()),
                     *(self._callbacks or ())]:
            self._clock.interrupt(task)
            task.cancel()
