"""A background event loop in a thread, for async work started from sync code.

One shared loop serves every sync scheduler in the process (reference counted): a thread per
scheduler would cost ~60 µs and ~8 MB of reserved stack each, and nothing gains from two loops.
The thread starts with the first ``acquire()`` and is joined when the last user ``release()``\\ s,
so a stopped program leaves no thread behind.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Coroutine

from bridge.shared import ProcessWide, RefCounted
from typing import Any, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")
log = logging.getLogger("bridge")

# How long cancelled leftovers may take to unwind (an HTTP client closing its connections)
# before the loop closes under them. A task that already ignored a cancellation gets no
# grace at all: waiting for it cost every sync stop of such an agent the full 5 s join.
_CANCEL_WAIT_S = 0.5


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what the loop's owners abandoned, so nothing outlives the thread, without hanging
    on a task that swallows its cancellation."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    stubborn = {t for t in pending if t.cancelling()}
    for task in pending:
        task.cancel()
    polite = [t for t in pending if t not in stubborn]
    if polite:
        loop.run_until_complete(asyncio.wait(polite, timeout=_CANCEL_WAIT_S))
    left = [t for t in pending if not t.done()]
    if left:
        log.warning("loop thread: %d task(s) ignored cancellation and are dropped with the loop: %s",
                    len(left), ", ".join(t.get_name() for t in left))
        for task in left:
            # Already reported just above; asyncio would report each again when it is collected.
            task._log_destroy_pending = False  # type: ignore[attr-defined]


class LoopThread(ProcessWide, RefCounted):
    """A reference-counted event loop running in a daemon thread."""


    def __init__(self, name: str = "actorsched-loop") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None


    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The running loop, or None while no one holds a reference."""
        return self._loop

    @property
    def thread(self) -> threading.Thread | None:
        """The loop's thread, or None while stopped."""
        return self._thread

    def acquire(self) -> asyncio.AbstractEventLoop:
        """Take a reference, starting the loop thread if it is not running; return its loop."""
        with self._lock:
            self._add_refs()
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()
                thread = threading.Thread(target=self._run, args=(loop, ready), name=self._name, daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    def release(self, timeout: float = 5.0, count: int = 1) -> None:
        """Drop ``count`` references; the last one stops the loop, cancels leftovers, joins the thread."""
        with self._lock:
            if not self._drop_refs(count) or self._loop is None:
                return
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("loop thread %s did not stop within %.1fs", thread.name, timeout)

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop from any other thread."""
        loop = self._loop
        if loop is None:
            coro.close()
            raise RuntimeError("LoopThread is not running; call acquire() first")
        return asyncio.run_coroutine_threadsafe(coro, loop)

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
            _cancel_leftovers(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())  # to_thread()'s threads
        finally:
            asyncio.set_event_loop(None)
            loop.close()
