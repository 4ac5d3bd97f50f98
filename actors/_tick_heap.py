"""The pending ticks of every agent on one host, kept so that a waiting tick costs the garbage
collector nothing.

Every agent always has one tick pending, re-armed at each run. As a timer object (an asyncio
``TimerHandle``, its argument tuple, a `TimedInbox` handle) it lives for the whole interval,
survives two young collections and is promoted to the oldest generation, and CPython runs a
full collection once promotions reach a quarter of that generation: 10,000 agents at 1 s
promoted ~3,000 objects a second, a full pass every ~10 s, 120-180 ms each (a memory-bound
walk of the agents' ~180,000 objects). Here a pending tick is a ``(when, seq)`` tuple of two
numbers, which the collector stops tracking at its first pass, plus one entry in a dict that
already exists: no promotion, so no full pass, however many agents tick.

A tuple heap also compares in C, where asyncio's ``TimerHandle.__lt__`` is a Python call made
~2 log2(n) times per push and pop.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import itertools
import logging
import time
from typing import Protocol

__all__ = ["LoopTicks", "TickHeap", "TickTarget", "fire_all"]

log = logging.getLogger("actors")

# Rebuild the heap without cancelled entries once they outnumber the live ones and this many
# (a bulk stop of 10,000 agents leaves 10,000 stale entries until their time would come).
_PURGE_AT = 4096


class TickTarget(Protocol):
    """What a tick heap calls when a tick is due (an agent's timers)."""

    def fire_tick(self) -> None:
        """The tick armed last is due: post it."""


class TickHeap:
    """Pending ticks by time: ``push`` returns a number that ``cancel`` takes. Not thread-safe:
    its host serialises the calls (a worker's lock, a loop's thread)."""

    __slots__ = ("_heap", "_waiting", "_seq", "_stale")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int]] = []
        self._waiting: dict[int, TickTarget] = {}
        self._seq = itertools.count()
        self._stale = 0  # heap entries whose tick was cancelled

    def push(self, when: float, target: TickTarget) -> int:
        """Call ``target.fire_tick()`` at ``when`` (the host's time); return the tick's number."""
        seq = next(self._seq)
        heapq.heappush(self._heap, (when, seq))
        self._waiting[seq] = target
        return seq

    def cancel(self, seq: int) -> None:
        """Drop a pending tick (a number already fired or cancelled is ignored)."""
        if self._waiting.pop(seq, None) is None:
            return
        self._stale += 1
        if self._stale >= _PURGE_AT and self._stale > len(self._waiting):
            waiting = self._waiting
            self._heap[:] = [entry for entry in self._heap if entry[1] in waiting]
            heapq.heapify(self._heap)
            self._stale = 0

    def earliest(self) -> float | None:
        """The time of the next live tick, or None."""
        heap, waiting = self._heap, self._waiting
        while heap and heap[0][1] not in waiting:
            heapq.heappop(heap)
            self._stale -= 1
        return heap[0][0] if heap else None

    def pop_due(self, now: float, limit: int | None = None) -> list[TickTarget]:
        """Take the ticks due at ``now``, earliest first: all of them, or the first ``limit``."""
        heap, waiting = self._heap, self._waiting
        due: list[TickTarget] = []
        while heap and heap[0][0] <= now and (limit is None or len(due) < limit):
            target = waiting.pop(heapq.heappop(heap)[1], None)
            if target is None:
                self._stale -= 1
            else:
                due.append(target)
        return due

    def clear(self) -> None:
        """Drop every pending tick (the host is closing)."""
        self._heap.clear()
        self._waiting.clear()
        self._stale = 0

    def __len__(self) -> int:
        return len(self._waiting)


def fire_all(due: list[TickTarget]) -> None:
    """Fire due ticks; one that raises is logged and costs the others nothing."""
    for target in due:
        try:
            target.fire_tick()
        except Exception:  # noqa: BLE001
            log.exception("tick of %r failed", target)


# A loop fires at most this many due ticks before the runs they started get their turn. The
# runs of 10,000 async agents due at once, all started before the first of them ran, kept
# their tasks, coroutines and executions alive across the whole burst: promoted to the oldest
# generation, they set off a full collection at nearly every burst. In turns of 64 they die
# young (10,000 async no-op agents told Start("1") at once, as benchmarks/scale.py does: GC
# 223 -> 54 ms over 5 ticks, p99 150 -> 85 ms against a raw-asyncio floor of 70 ms; turns of
# 256: 61 and 92 ms; of 1,024: 109 and 99 ms). The last run of a burst still waits for all
# the others, now in turns, and no longer for the collections.
_TURN = 64

# asyncio runs a timer once its time is within the monotonic clock's resolution of now; so do
# we, or a fire a hair early would find nothing due and spin one loop iteration.
_RESOLUTION = time.get_clock_info("monotonic").resolution

# asyncio's epoll selector rounds its timeout up to whole milliseconds, so a loop timer fires
# 0-1 ms late (the raw call_at floor's median was ~0.7 ms at a 20 ms interval). The tick timer
# is armed this much early instead, and a loop that has nothing else ready sleeps the rest
# precisely (time.sleep, a nanosleep, releases the GIL): async agent at 20 ms, idle, median
# 0.77 -> 0.14 ms, p99 1.4-1.5 -> 0.44-0.51 ms (python -m benchmarks.dispatch ours_async
# --ticks 300; BackgroundScheduler 0.76 ms, raw call_at 1.24 ms in the same session). The
# loop thread is blocked for that rest only when no callback is ready, at most 1 ms per fire;
# a fire that finds other work waiting re-arms at the due time and lets the loop round it.
_EARLY_WAKE = 0.001


def _nothing_ready(loop: asyncio.AbstractEventLoop) -> bool:
    """True if ``loop`` has no callback ready to run: CPython's loops keep them in the deque
    ``_ready`` (3.4 to 3.13); a loop without it (uvloop) counts as busy, so it is never
    slept on."""
    ready = getattr(loop, "_ready", None)
    return ready is not None and not ready


class LoopTicks(TickHeap):
    """The ticks of the async agents on one event loop, behind a single loop timer armed for
    the earliest (call on the loop's thread only)."""

    __slots__ = ("_loop", "_handle", "_armed", "_firing", "_context")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._loop = loop
        self._handle: asyncio.Handle | None = None
        self._armed = float("inf")  # the tick the loop timer is armed for (-inf: the next turn is queued)
        self._firing = False
        self._context = contextvars.Context()  # the fire posts to mailboxes and sets nothing

    def push(self, when: float, target: TickTarget) -> int:
        """`TickHeap.push`, moving the loop timer earlier when this tick is the first."""
        seq = TickHeap.push(self, when, target)
        if when < self._armed and not self._firing:
            self._arm(when)
        return seq

    def _arm(self, when: float, early: float = _EARLY_WAKE) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._armed = when
        self._handle = self._loop.call_at(when - early, self._fire, context=self._context)

    def _fire(self) -> None:
        # A cancelled tick leaves the timer armed: it fires, finds nothing due, re-arms.
        self._handle, self._armed = None, float("inf")
        first = self.earliest()
        if first is not None and (wait := first - self._loop.time()) > _RESOLUTION:  # armed early
            if wait > _EARLY_WAKE:  # its tick was cancelled: arm for the new earliest
                self._arm(first)
                return
            if not _nothing_ready(self._loop):
                self._arm(first, early=0.0)
                return
            time.sleep(wait)
        self._firing = True
        now = self._loop.time() + _RESOLUTION
        try:
            fire_all(self.pop_due(now, _TURN))
        finally:
            self._firing = False
        when = self.earliest()
        if when is None:
            return
        if when <= now:  # more are due: after the runs just started (call_soon queues behind them)
            self._armed = float("-inf")
            self._handle = self._loop.call_soon(self._fire, context=self._context)
        else:
            self._arm(when)

    def close(self) -> None:
        """Drop every tick and the loop timer (the loop's driver is closing)."""
        self.clear()
        if self._handle is not None:
            self._handle.cancel()
            self._handle, self._armed = None, float("inf")
