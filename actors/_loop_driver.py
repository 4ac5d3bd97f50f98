"""The per-loop driver: the janus channel into a loop, and the worker that serves its mailboxes.

One `LoopDriver` per event loop, shared by every agent on it and reference counted. It is the
worker of the mailboxes of the async agents on its loop: a post from the loop itself (a timer,
a finished attempt) drains the mailbox there and then, a post from another thread wakes the
loop through the janus channel, so a steady tick of an async agent crosses no thread.
Calls made on a dispatcher worker (sync agents' actors) are buffered per thread and sent as
one channel item per drain cycle.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from bridge import Channel, ChannelClosed
from bridge.shared import RefCounted

from actors._mailbox import Mailbox, ReadyQueue
from actors._tick_heap import LoopTicks


__all__ = ["LoopDriver", "after_loop_calls", "begin_loop_call_batching", "flush_loop_calls", "running_loop"]

log = logging.getLogger("actors")


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, or None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None

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


class LoopDriver(ReadyQueue, RefCounted):
    """Per-loop: the janus channel consumer that runs thread-side requests on the loop."""

    _registry: dict[asyncio.AbstractEventLoop, LoopDriver] = {}
    _registry_lock = threading.Lock()

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._channel: Channel[Callable[[], None] | list[Callable[[], None]]] = Channel(
            _run_item, name="actorsched-loop-driver"
        )
        ReadyQueue.__init__(self)  # the mailbox worker (see the module docstring)
        self._loop_thread = -1  # the loop's thread ident, known once the channel opens on it
        # Handlers run in a context of their own, never in the one of whoever posted (an
        # agent's run telling another agent must not lend it its context variables).
        self._context = contextvars.Context()
        #: The ticks of the async agents on this loop, behind one loop timer.
        self.ticks = LoopTicks(loop)

    # -- the mailbox worker ---------------------------------------------------------------
    def nudge(self) -> None:
        """Nothing to do: the loop never defers a wake-up."""

    def schedule(self, mailbox: Mailbox, lazy: bool = False) -> bool:
        """Queue a mailbox with work, to be drained on the loop; False if the loop is gone
        (``lazy`` makes no difference here)."""
        self.ready.append(mailbox)  # published before the awake check: see ReadyQueue
        if self.awake:
            return True
        self.awake = True
        if threading.get_ident() == self._loop_thread:
            # On the loop (a timer, a finished attempt, a coroutine's tell): drain now, in the
            # handlers' own context. A call_soon hop here was one more loop iteration per tick
            # and per report, and next to a CPU-busy thread each iteration's select() can
            # hand the GIL away for a whole 5 ms switch interval.
            self._context.run(self.serve_ready)
            return True
        try:
            self._channel.put(self._serve_from_channel)
        except ChannelClosed:
            return False
        return True

    def _serve_from_channel(self) -> None:
        self._context.run(self.serve_ready)

    @classmethod
    def acquire(cls) -> LoopDriver:
        """Take a reference to the running loop's driver, creating it (call on that loop)."""
        loop = asyncio.get_running_loop()
        with cls._registry_lock:
            driver = cls._registry.get(loop)
            if driver is None:
                driver = cls._registry[loop] = cls(loop)
                driver._channel.open()
                driver._loop_thread = threading.get_ident()
            driver._add_refs()
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
            self._add_refs()
        return self

    def release(self, count: int = 1) -> bool:
        """Drop ``count`` references (any thread); True if it was the last and the driver must be closed."""
        with self._registry_lock:
            if not self._drop_refs(count):
                return False
            if self._registry.get(self.loop) is self:
                del self._registry[self.loop]
            return True

    async def aclose(self) -> None:
        """Close the channel and wait for the consumer task to end (run on the driver's loop)."""
        self.ticks.close()
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
