"""The event bus of one system: who subscribed, and the thread that delivers to them.

Agents emit from the thread that serves their mailbox; delivery happens on one thread of the
bus (so a slow subscriber never holds an agent, and one agent's events keep their order). A
sync subscriber is called there; an async one runs on the loop that was running where it
subscribed (a FastAPI app's, an ``async with`` system's), or to completion on the delivery
thread when there was none. Both are never fatal, like `bridge.safe_call`. With no subscriber
``active`` is False and agents build no event at all; on a virtual clock an event counts as
busy work until delivered, so ``advance()`` returns with its events seen.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from actors._clock import Clock
from actors._loop_driver import running_loop
from actors.events import Event
from bridge import asafe_call, safe_call

__all__ = ["EventBus", "Subscriber"]

log = logging.getLogger("actors")

Subscriber = Callable[[Event], Any]
_CLOSE = object()


class EventBus:
    """Subscribers of one system and the delivery of its events (see the module docstring)."""

    __slots__ = ("active", "_clock", "_lock", "_subscribers", "_queue", "_thread")

    def __init__(self, clock: Clock) -> None:
        """``clock``: the system's; a virtual one waits for deliveries in ``advance()``."""
        #: Read by agents on every emission point without the lock: True once anyone listens.
        self.active = False
        self._clock = clock
        self._lock = threading.Lock()
        # Replaced, never mutated: the delivery thread iterates a snapshot without the lock.
        self._subscribers: tuple[tuple[Subscriber, asyncio.AbstractEventLoop | None], ...] = ()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Deliver every later event to ``fn``; returns the function that unsubscribes it."""
        if not callable(fn):
            raise TypeError(f"subscriber must be callable, not {type(fn).__name__}: {fn!r}")
        loop = running_loop() if _is_async(fn) else None
        entry = (fn, loop)
        with self._lock:
            self._subscribers = (*self._subscribers, entry)
            self.active = True

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = tuple(s for s in self._subscribers if s is not entry)
                self.active = bool(self._subscribers)

        return unsubscribe

    def now(self) -> float:
        """The system clock's wall time, for an event's ``at``."""
        return self._clock.now()

    def emit(self, event: Event) -> None:
        """Queue ``event`` for delivery (any thread; never blocks, never raises)."""
        self._clock.enter()
        self._queue.put(event)
        if self._thread is None:
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                thread = self._thread = threading.Thread(target=self._deliver, name="actorsched-events", daemon=True)
                thread.start()

    @property
    def delivering(self) -> bool:
        """True while the delivery thread runs (``close`` would join it)."""
        return self._thread is not None

    def close(self) -> None:
        """Deliver what is queued, then end the delivery thread (a later event starts it again)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_CLOSE)
            thread.join()

    def _deliver(self) -> None:
        get = self._queue.get
        while True:
            event = get()
            if event is _CLOSE:
                return
            for fn, loop in self._subscribers:
                if loop is None:
                    safe_call(fn, event)
                    continue
                self._clock.enter()  # ended when the coroutine has run on its loop
                try:
                    future = asyncio.run_coroutine_threadsafe(asafe_call(fn, event), loop)
                except RuntimeError:  # that loop has closed: nothing runs there any more
                    self._clock.exit()
                    continue
                future.add_done_callback(self._delivered)
            self._clock.exit()

    def _delivered(self, future: Future[bool]) -> None:
        self._clock.exit()


def _is_async(fn: Subscriber) -> bool:
    call = getattr(fn, "__call__", None)
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call)
