"""What runs on an event loop for the agents: ticks, backoff and timeout timers, async attempts
and async callbacks.

One `LoopDriver` per event loop (shared by every agent on it, reference counted) owns
the janus channel through which thread-side actors send it work. Each agent has an
`AgentLoop` holding its timer handles and tasks; only the loop thread touches it, so it
needs no lock. Timers use ``loop.call_at``: the loop's own heap is the shared timer, 10,000
pending handles cost ~1.5 MB, and an idle loop wakes within ~0.1 ms of a deadline.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Hashable
from functools import partial
from typing import Any

from actors._clock import REAL_CLOCK, Clock, Timer
from actors.schedule import Schedule
from bridge import Channel, ChannelClosed, asafe_call

__all__ = [
    "AgentLoop", "LoopDriver", "Tick", "after_loop_calls", "begin_loop_call_batching", "flush_loop_calls",
    "running_loop",
]


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, or None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None

log = logging.getLogger("actors")
Post = Callable[[Any], object]


class Tick:
    """A scheduled fire: ``due`` on the monotonic clock, the next fire in wall time, ticks missed."""

    __slots__ = ("epoch", "due", "next_wall", "missed")

    def __init__(self, epoch: int, due: float, next_wall: float, missed: int) -> None:
        self.epoch, self.due, self.next_wall, self.missed = epoch, due, next_wall, missed


def _run_item(item: Callable[[], None] | list[Callable[[], None]]) -> None:
    if type(item) is not list:
        item()  # type: ignore[operator]
        return
    for call in item:
        try:
            call()
        except BaseException:  # noqa: BLE001 - one bad call must not cost the rest of the batch
            log.exception("loop call %r failed", call)


# Loop calls made on a dispatcher worker are buffered and sent as one channel item: a janus
# put plus (when the consumer sleeps) a loop wake-up per drain cycle instead of per call.
# _FLUSH_EVERY bounds the delay a long burst adds to the first call (~32 x 10 us).
_batch = threading.local()
_FLUSH_EVERY = 32


def begin_loop_call_batching() -> None:
    """Buffer `LoopDriver.call` on this thread until `flush_loop_calls`."""
    _batch.pending = {}
    _batch.after = []
    _batch.count = 0


def after_loop_calls(fn: Callable[[Any], None], arg: Any) -> None:
    """Call ``fn(arg)`` once this thread's buffered loop calls are on their way (at once if
    this thread does not buffer). A stop's answer must not overtake the timer and task
    cancellations it implies; deferring it, rather than flushing per stop, keeps a bulk stop
    of 1,000 agents at a few channel items instead of one each."""
    after: list[tuple[Callable[[Any], None], Any]] | None = getattr(_batch, "after", None)
    if after is None:
        fn(arg)
    else:
        after.append((fn, arg))


def flush_loop_calls() -> None:
    """Send what this thread buffered, one channel item per loop, then run what waited on it."""
    pending: dict[LoopDriver, list[Callable[[], None]]] | None = getattr(_batch, "pending", None)
    if pending is None:
        return
    batches = list(pending.items())
    pending.clear()
    _batch.count = 0
    for driver, calls in batches:
        try:
            driver._channel.put(calls)
        except ChannelClosed:
            log.debug("loop of %d buffered call(s) is closed; dropped", len(calls))
    after: list[tuple[Callable[[Any], None], Any]] = _batch.after
    if after:
        _batch.after = []
        for fn, arg in after:
            fn(arg)


class LoopDriver:
    """Per-loop: the janus channel consumer that runs thread-side requests on the loop."""

    _registry: dict[asyncio.AbstractEventLoop, LoopDriver] = {}
    _registry_lock = threading.Lock()

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._channel: Channel[Callable[[], None] | list[Callable[[], None]]] = Channel(
            _run_item, name="actorsched-loop-driver"
        )
        self._refs = 0

    @classmethod
    def acquire(cls) -> LoopDriver:
        """Take a reference to the running loop's driver, creating it (call on that loop)."""
        loop = asyncio.get_running_loop()
        with cls._registry_lock:
            driver = cls._registry.get(loop)
            if driver is None:
                driver = cls._registry[loop] = cls(loop)
                driver._channel.open()
            driver._refs += 1
            return driver

    @classmethod
    def acquire_for(cls, loop: asyncio.AbstractEventLoop, timeout: float = 5.0) -> LoopDriver:
        """`acquire` for ``loop`` from any thread: directly on the loop's own thread,
        otherwise through the loop (which must be running)."""
        if running_loop() is loop:
            return cls.acquire()
        return asyncio.run_coroutine_threadsafe(_acquire(), loop).result(timeout)

    def retain(self) -> LoopDriver:
        """Take one more reference from any thread (the caller already holds one)."""
        with self._registry_lock:
            if self._refs <= 0:
                raise RuntimeError("LoopDriver.retain() needs a live reference")
            self._refs += 1
        return self

    def release(self, count: int = 1) -> bool:
        """Drop ``count`` references (any thread); True if it was the last and the driver must be closed."""
        with self._registry_lock:
            self._refs -= count
            if self._refs > 0:
                return False
            if self._registry.get(self.loop) is self:
                del self._registry[self.loop]
            return True

    async def aclose(self) -> None:
        """Close the channel and wait for the consumer task to end (run on the driver's loop)."""
        await self._channel.aclose()

    def call(self, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop, in order with every other call from this thread."""
        item = partial(fn, *args) if args else fn
        pending: dict[LoopDriver, list[Callable[[], None]]] | None = getattr(_batch, "pending", None)
        if pending is None:
            self._channel.put(item)
            return
        calls = pending.get(self)
        if calls is None:
            pending[self] = [item]
        else:
            calls.append(item)
        _batch.count += 1
        if _batch.count >= _FLUSH_EVERY:
            flush_loop_calls()


async def _acquire() -> LoopDriver:
    return LoopDriver.acquire()


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
    def run_async(self, func: Callable[[], Any], timeout: float | None, done: Callable[[str, Any], Any]) -> None:
        """Start ``await func()`` as a task; report ``done("ok", value)``, ``("error", exc)`` or
        ``("cancelled", None)``.

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

    async def _attempt(self, func: Callable[[], Any], timeout: float | None, done: Callable[[str, Any], Any]) -> None:
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
        try:
            try:
                value = await func()
            finally:
                if deadline is not None:
                    deadline.cancel()
            if expired and expired[0]:  # the agent swallowed the timeout's cancellation and returned
                raise TimeoutError(f"attempt exceeded the timeout of {timeout}s")
        except asyncio.CancelledError:
            if expired and expired[0] and me.cancelling() == 1:
                me.uncancel()
                done("error", TimeoutError(f"attempt exceeded the timeout of {timeout}s"))
            elif me.cancelling():
                done("cancelled", None)
            else:  # the agent itself raised CancelledError: an agent failure like any other
                done("error", asyncio.CancelledError("agent raised CancelledError"))
        except BaseException as exc:  # noqa: BLE001 - see run_async
            if not isinstance(exc, Exception):
                log.error("agent raised %r: counted as a failed attempt; the runtime keeps running", exc)
            done("error", exc)
        else:
            done("ok", value)
        finally:
            if self._run is me:
                self._run = None

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
                await asafe_call(callback, arg)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # noqa: BLE001 - KeyboardInterrupt would stop the loop
                log.error("callback %r raised %r; the runtime keeps running", callback, exc)
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
