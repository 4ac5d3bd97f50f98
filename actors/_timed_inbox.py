"""A pykka inbox that also keeps timers, so a dispatcher worker's wait ends precisely at a deadline.

A sync agent's ticks, backoff waits and deadlines are timers of the worker that serves its
mailbox: the worker sleeps in a timed ``SimpleQueue.get`` (a futex with a deadline, to the
microsecond) until the next envelope or the earliest timer, fires the due timers itself, and
the tick's handler hands the run to a pool thread: one crossing per tick, the floor. A timer on
an event loop instead wakes through epoll, whose timeout asyncio rounds up to whole
milliseconds, and then still has to reach a thread.

It offers the part of an event loop's interface that the clock uses (``time``, ``call_at``,
``call_soon_threadsafe``, ``is_closed``), so the real clock and `actors.testing.VirtualClock`
arm timers here exactly as on a loop.
"""

from __future__ import annotations

import contextvars
import heapq
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

# pykka's hook for "implementors of new actor types" (Actor._create_actor_inbox) takes an inbox
# of its envelopes; pykka is pinned below 5.
from pykka._envelope import Envelope

from actors._tick_heap import TickHeap, TickTarget, fire_all

__all__ = ["TIMERS_DUE", "Envelope", "TimedInbox", "TimerHandle"]

log = logging.getLogger("actors")


class TimerHandle(list):  # type: ignore[type-arg]
    """A call due at ``when`` (monotonic seconds); ``cancel`` before it runs drops it.

    A list of ``[when, seq]`` so that the heap compares handles in C: a Python ``__lt__`` ran
    ~2 log2(n) times per heappop, ~10 % of a worker's time in a burst of 5,000 due ticks."""

    __slots__ = ("when", "fn", "args", "cancelled")

    def __init__(self, when: float, seq: int, fn: Callable[..., object], args: tuple[Any, ...]) -> None:
        list.__init__(self, (when, seq))
        self.when, self.fn, self.args = when, fn, args
        self.cancelled = False

    def cancel(self) -> None:
        """Drop the call if it has not run yet (it stays in the heap until its turn or a purge)."""
        self.cancelled = True
        self.fn = _nothing  # let go of what the call holds now, not when its turn comes
        self.args = ()


def _nothing(*args: Any) -> None:
    return None


class _TimersDue:
    __slots__ = ()


#: The message `TimedInbox.get` hands to the worker when timers are due: call `run_due`.
TIMERS_DUE = _TimersDue()
_DUE_ENVELOPE: Envelope[Any] = Envelope(TIMERS_DUE)
# Put by call_at from another thread when it arms a new earliest deadline; skipped by get().
_REARM_ENVELOPE: Envelope[Any] = Envelope(TIMERS_DUE)
# Rebuild the heap without cancelled timers once this many pushes went by (asyncio purges
# when over half of its heap is cancelled; per-tick timers cancelled by a stop pile up alike).
_PURGE_EVERY = 4096


class _WorkerTicks(TickHeap):
    """The ticks of the sync agents a worker serves: a `TickHeap` under the inbox's lock that
    wakes the worker when a tick armed from another thread is the new earliest deadline."""

    __slots__ = ("_inbox",)

    def __init__(self, inbox: TimedInbox) -> None:
        super().__init__()
        self._inbox = inbox

    def push(self, when: float, target: TickTarget) -> int:
        """`TickHeap.push` under the inbox's lock."""
        inbox = self._inbox
        with inbox._lock:
            seq = TickHeap.push(self, when, target)
            earliest = self._heap[0][1] == seq and not (inbox._heap and inbox._heap[0].when <= when)
        if earliest and threading.get_ident() != inbox._worker:
            inbox.queue.put(_REARM_ENVELOPE)
        return seq

    def cancel(self, seq: int) -> None:
        """`TickHeap.cancel` under the inbox's lock."""
        with self._inbox._lock:
            TickHeap.cancel(self, seq)


class TimedInbox:
    """FIFO envelopes plus a heap of timers, for one pykka worker thread.

    ``get`` returns the due-timers message first when a timer is due (ticks are the
    latency-critical work), else the oldest envelope, else waits for whichever comes first.
    Envelopes travel through a ``queue.SimpleQueue``, whose put and timed get are C code over
    a futex: a ``threading.Condition`` costs a Python-level notify and a new waiter lock per
    wait, which was a third of the extra CPU per sync run against its floor.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the heap
        #: The envelopes (``put`` from any thread; the worker's doorbell puts here directly).
        self.queue: queue.SimpleQueue[Envelope[Any]] = queue.SimpleQueue()
        self._heap: list[TimerHandle] = []
        #: The agents' ticks, kept apart from the other timers (see `actors._tick_heap`).
        self.ticks = _WorkerTicks(self)
        self._seq = itertools.count()
        self._pushes = 0
        #: True once the worker stopped (see `is_closed`).
        self.closed = False
        self._worker = -1  # the worker thread's ident, known at its first get()

    # -- pykka's inbox interface ----------------------------------------------------------
    def put(self, envelope: Envelope[Any]) -> None:
        """Queue an envelope (any thread)."""
        self.queue.put(envelope)

    def get(self) -> Envelope[Any]:
        """The next envelope: due timers first, then the queue; waits until one is there."""
        self._worker = threading.get_ident()
        lock, get = self._lock, self.queue.get
        while True:
            with lock:
                when = self._earliest()
                delay = when - time.monotonic() if when is not None else None
            if delay is not None and delay <= 0:
                return _DUE_ENVELOPE
            try:
                envelope = get() if delay is None else get(timeout=delay)
            except queue.Empty:
                continue  # the earliest timer is due
            if envelope is _REARM_ENVELOPE and not self.closed:
                continue  # an earlier deadline was armed from another thread: wait again
            return envelope

    def empty(self) -> bool:
        """True if no envelope is queued (pykka drains the rest at teardown)."""
        return self.queue.empty()

    # -- the loop-like interface the clock arms timers through ----------------------------
    def time(self) -> float:
        """This host's time: ``time.monotonic``."""
        return time.monotonic()

    def call_at(self, when: float, fn: Callable[..., object], *args: Any,
                context: contextvars.Context | None = None) -> TimerHandle:
        """Call ``fn(*args)`` on the worker thread at ``when`` (``time.monotonic`` seconds).
        ``context`` is ignored: the worker runs its timers in its own context."""
        timer = TimerHandle(when, next(self._seq), fn, args)
        heap = self._heap
        with self._lock:
            heapq.heappush(heap, timer)
            self._pushes += 1
            if self._pushes >= _PURGE_EVERY:
                self._pushes = 0
                heap[:] = [t for t in heap if not t.cancelled]  # in place: get() holds this list
                heapq.heapify(heap)
            earliest = heap[0] is timer
        if earliest and threading.get_ident() != self._worker:
            self.queue.put(_REARM_ENVELOPE)  # the worker may be waiting for a later deadline
        return timer

    def wakes_within(self, seconds: float) -> bool:
        """True if a live timer is due within ``seconds``: the worker wakes by then anyway."""
        with self._lock:
            when = self._earliest()
        return when is not None and when - time.monotonic() <= seconds

    def _earliest(self) -> float | None:
        """(Lock held.) The time of the next live timer or tick, or None."""
        heap = self._heap
        while heap and heap[0].cancelled:
            heapq.heappop(heap)
        when = self.ticks.earliest()
        if heap and (when is None or heap[0].when < when):
            when = heap[0].when
        return when

    def call_soon_threadsafe(self, fn: Callable[..., object], *args: Any) -> TimerHandle:
        """Call ``fn(*args)`` on the worker thread as soon as it is free; ``RuntimeError``
        once the inbox is closed (as a closed event loop raises)."""
        if self.closed:
            raise RuntimeError("the worker is closed")
        return self.call_at(float("-inf"), fn, *args)

    def is_closed(self) -> bool:
        """True once the worker has stopped: nothing armed here will run."""
        return self.closed

    def close(self) -> None:
        """Mark the inbox closed and drop every timer (the worker is stopping)."""
        with self._lock:
            self.closed = True
            timers = self._heap[:]
            self._heap.clear()
            self.ticks.clear()
        for timer in timers:
            timer.cancel()

    # -- on the worker --------------------------------------------------------------------
    def run_due(self) -> None:
        """Run every timer due now, earliest first (on the worker thread only).

        They are taken off the heap under one lock hold (10,000 ticks due in one instant cost
        one acquisition, not 10,000); a timer one of them arms for now runs at the next turn.
        The other timers (cross-thread calls, deadlines) run before the ticks due with them.
        """
        now, due = time.monotonic(), []
        with self._lock:
            heap = self._heap
            while heap and heap[0].when <= now:
                due.append(heapq.heappop(heap))
            ticks = self.ticks.pop_due(now)
        for timer in due:
            if timer.cancelled:
                continue
            try:
                timer.fn(*timer.args)
            except Exception:  # one bad call must not cost the other due timers
                log.exception("timer call %r failed", timer.fn)
        fire_all(ticks)
