"""A janus-backed channel from any thread to one event loop.

Thread-side actors put items with `Channel.put`; one consumer task on the loop hands
them, in order, to a handler. The janus queue is created lazily inside `Channel.open` on the
loop that will consume it, so constructing a Channel touches no loop at all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Generic, TypeVar

import janus

__all__ = ["Channel", "ChannelClosed"]

T = TypeVar("T")
log = logging.getLogger("bridge")


class ChannelClosed(RuntimeError):
    """Raised by `Channel.put` once the channel is closed."""


class Channel(Generic[T]):
    """Ordered hand-off of items from threads (or the loop itself) to a handler on one loop."""

    def __init__(self, handler: Callable[[T], None], name: str = "actorsched-channel") -> None:
        self._handler = handler
        self._name = name
        self._queue: janus.Queue[T] | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop the channel is bound to (None before `open` or after close)."""
        return self._loop

    def open(self) -> None:
        """Bind to the running loop (call it on that loop): create the queue, start the consumer."""
        if self._queue is not None:
            raise RuntimeError("channel is already open")
        self._loop = asyncio.get_running_loop()
        self._queue = janus.Queue()
        self._consumer = asyncio.create_task(self._consume(self._queue), name=self._name)

    def put(self, item: T) -> None:
        """Queue ``item`` for the handler; safe from any thread, never blocks (unbounded)."""
        queue = self._queue
        if queue is None:
            raise ChannelClosed("channel is not open")
        try:
            queue.sync_q.put_nowait(item)
        except janus.SyncQueueShutDown:
            raise ChannelClosed("channel is closed") from None

    async def aclose(self) -> None:
        """Close from the bound loop: items already queued are handled, then the consumer ends."""
        queue, consumer = self._queue, self._consumer
        if queue is None:
            return
        queue.shutdown()  # not immediate: the consumer drains what is queued, then sees ShutDown
        if consumer is not None:
            await consumer
        await queue.wait_closed()
        self._queue = self._consumer = self._loop = None

    async def _consume(self, queue: janus.Queue[T]) -> None:
        get, get_nowait, handler = queue.async_q.get, queue.async_q.get_nowait, self._handler
        while True:
            try:
                item = await get()
                while True:
                    try:
                        handler(item)
                    except asyncio.CancelledError:
                        raise
                    except BaseException:  # noqa: BLE001 - a KeyboardInterrupt here would stop the loop
                        log.exception("channel handler failed")
                    item = get_nowait()
            except janus.AsyncQueueEmpty:
                continue
            except janus.AsyncQueueShutDown:
                return
