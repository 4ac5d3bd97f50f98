"""Stopping many agents at once (a system's shutdown): one latch for every final answer, one
reference drop per shared resource.

A Future per agent (its Condition and two locks) for the stop answer and another for the
teardown cost the shutdown of 100,000 agents ~10 s on this 2-core machine, most of it in the
garbage collector that those 200,000 allocations kept triggering over the millions of objects
alive; `StopLatch` and a batch teardown future make it a counter, an event and a dict.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from actors._loop_driver import LoopDriver
from actors.runtime import Binding
from bridge import CancelToken

__all__ = ["StopLatch", "release_many"]


class StopLatch:
    """Collects the final stats of the agents a shutdown stops; done once all have answered.

    Its done flag is a `CancelToken` (cancelled when the last answer is in): the flag threads
    wait on and coroutines on any loop await, so the latch needs no wake-up code of its own.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting = 0
        self._sealed = False
        self._done = CancelToken()
        #: ``{name: final stats}`` of the agents that have answered.
        self.final: dict[str, dict[str, Any]] = {}

    def reply_for(self, name: str) -> Callable[[dict[str, Any]], None]:
        """The reply slot of agent ``name`` (call before `seal`)."""
        with self._lock:
            self._waiting += 1
        return partial(self._answer, name)

    def _answer(self, name: str, stats: dict[str, Any]) -> None:
        with self._lock:
            if name in self.final:
                return
            self.final[name] = stats
            self._waiting -= 1
            finished = self._sealed and self._waiting == 0
        if finished:
            self._done.cancel("all answered")

    def seal(self) -> None:
        """No more agents will be added: done as soon as the last one has answered."""
        with self._lock:
            self._sealed = True
            finished = self._waiting == 0
        if finished:
            self._done.cancel("all answered")

    def done(self) -> bool:
        """True once every agent has answered."""
        return self._done.cancelled

    def wait(self, timeout: float) -> bool:
        """Block until done or ``timeout`` seconds passed; True if done."""
        return self._done.wait(timeout)

    async def await_done(self, timeout: float) -> bool:
        """`wait` for a coroutine, on any loop."""
        return await self._done.wait_async(timeout)


def release_many(bindings: list[Binding]) -> LoopDriver | None:
    """Detach ``bindings`` and give back their shared references at once.

    Every binding of one ActorSystem shares its driver, dispatcher, pool and loop thread, so
    the references are dropped with one lock round each instead of one per agent (per-agent
    teardown made shutdown() of 1,000 agents cost 75 ms), and one future completes the
    teardown of all of them. Returns the driver if its channel must now be closed on its loop.
    """
    batch: concurrent.futures.Future[None] = concurrent.futures.Future()
    detached = [binding for binding in bindings if binding.detach(batch)]
    if not detached:
        return None
    first = detached[0]
    count = len(detached)
    closing = first.driver.release(count) and not first.driver.loop.is_closed()
    first.dispatcher.release(count=count)
    first.pool.release(count=count)
    threads = [b.loop_thread for b in detached if b.loop_thread is not None]
    if threads:
        threads[0].release(count=len(threads))
    batch.set_result(None)
    for binding in detached:
        binding.mark_released()  # those a start() was already waiting on have a future of their own
    return first.driver if closing else None
