"""CancelToken: the one cancellation protocol, for threads and event loops alike.

A thread blocks in ``wait(timeout)``; a coroutine ``await``\\ s ``token.wait_async()`` (or the
token itself). ``cancel()`` may come from any thread or loop and wakes both at once: the thread
through a ``threading.Event``, each waiting loop through ``call_soon_threadsafe`` on its own
loop, so no asyncio primitive is bound to a loop other than the one awaiting.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Generator
from typing import Any

from bridge.errors import ArgumentTypeError, check_wait

__all__ = ["CancelToken"]

log = logging.getLogger("bridge")

_LOCK = threading.Lock()


class CancelToken:
    """A one-shot, thread-safe cancellation flag that threads and coroutines can wait on.

    A thread calls [`wait`][bridge.CancelToken.wait]; a coroutine awaits
    [`wait_async`][bridge.CancelToken.wait_async] or the token itself (`await token`).
    [`cancel`][bridge.CancelToken.cancel] may come from any thread or loop and wakes them all.
    A sync agent that takes a `cancel_token` keyword receives its run's token: it is cancelled
    when the scheduler stops or the attempt times out.
    """

    # A token is a flag until someone waits on it: the Event (a Condition, a Lock and a deque)
    # and the callback dict are made on first use, and all tokens share one lock (it guards
    # microsecond sections, rarely contended). Each running agent holds a token, and at 10,000
    # agents the eager version was ~50,000 long-lived objects for every full GC pass to scan.
    __slots__ = ("_cancelled", "_event", "_callbacks", "_reason")

    def __init__(self) -> None:
        self._cancelled = False
        self._event: threading.Event | None = None
        self._callbacks: dict[int, Callable[[], None]] | None = None
        self._reason: str | None = None

    def __repr__(self) -> str:
        state = f"cancelled ({self._reason})" if self.cancelled else "active"
        return f"<CancelToken {state}>"

    @property
    def cancelled(self) -> bool:
        """True once [`cancel`][bridge.CancelToken.cancel] has been called."""
        return self._cancelled

    @property
    def is_cancelled(self) -> bool:
        """Alias of [`cancelled`][bridge.CancelToken.cancelled]."""
        return self._cancelled

    @property
    def reason(self) -> str | None:
        """The reason given to [`cancel`][bridge.CancelToken.cancel], if any."""
        return self._reason

    def cancel(self, reason: str | None = None) -> bool:
        """Cancel the token from any thread or loop.

        Args:
            reason: Kept in [`reason`][bridge.CancelToken.reason] for whoever wakes up.

        Returns:
            True if this call cancelled the token, False if it was already cancelled. Every
            callback runs; one that raises is logged and does not stop the others.
        """
        if reason is not None and not isinstance(reason, str):
            raise ArgumentTypeError(f"reason must be a str or None, not {type(reason).__name__}: {reason!r}")
        with _LOCK:
            if self._cancelled:
                return False
            self._reason = reason
            self._cancelled = True
            if self._event is not None:
                self._event.set()
            callbacks = list(self._callbacks.values()) if self._callbacks else []
            self._callbacks = None
        for callback in callbacks:
            _run(callback)
        return True

    def add_callback(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` on cancel, or at once if already cancelled.

        Args:
            callback: Runs in the cancelling thread, so it must be quick and must not raise.

        Returns:
            A function that unregisters the callback (a no-op once it ran).
        """
        if not callable(callback):
            raise ArgumentTypeError(f"callback must be callable, not {type(callback).__name__}: {callback!r}")
        with _LOCK:
            if not self._cancelled:
                if self._callbacks is None:
                    self._callbacks = {}
                key = id(callback)
                while key in self._callbacks:
                    key += 1
                self._callbacks[key] = callback
                return lambda: self._unregister(key)
        _run(callback)
        return lambda: None

    def _unregister(self, key: int) -> None:
        with _LOCK:
            if self._callbacks is not None:
                self._callbacks.pop(key, None)

    def child(self) -> CancelToken:
        """Return a token cancelled with this one (it can also be cancelled on its own).

        Call ``detach()`` on the child when done with it, so a long-lived parent does not keep
        every child alive.
        """
        return _ChildToken(self)

    def detach(self) -> None:
        """Stop following the parent (a no-op for a root token); see [`child`][bridge.CancelToken.child]."""

    def wait(self, timeout: float | None = None) -> bool:
        """Block the calling thread until cancelled or ``timeout`` seconds pass.

        Args:
            timeout: Seconds to wait at most; None waits until cancelled.

        Returns:
            True if cancelled, so ``if token.wait(5): return`` doubles as an interruptible sleep.
        """
        timeout = check_wait("timeout", timeout, allow_none=True)
        if self._cancelled:
            return True
        with _LOCK:
            if self._cancelled:
                return True
            if self._event is None:
                self._event = threading.Event()
            event = self._event
        return event.wait(timeout)

    async def wait_async(self, timeout: float | None = None) -> bool:
        """Wait on the running loop until cancelled or ``timeout`` seconds pass.

        Args:
            timeout: Seconds to wait at most; None waits until cancelled.

        Returns:
            True if cancelled.
        """
        timeout = check_wait("timeout", timeout, allow_none=True)
        if self._cancelled:
            return True
        loop = asyncio.get_running_loop()
        woken = loop.create_future()

        def wake() -> None:
            try:
                loop.call_soon_threadsafe(_resolve, woken)
            except RuntimeError:  # the waiting loop is closed: nobody left to wake
                pass

        unregister = self.add_callback(wake)
        try:
            await asyncio.wait_for(woken, timeout)
        except TimeoutError:
            pass
        finally:
            unregister()
        return self._cancelled

    async def sleep(self, seconds: float) -> bool:
        """Sleep ``seconds`` on the running loop unless cancelled first.

        Returns:
            True if cancelled (the sleep ended early or never began).
        """
        return await self.wait_async(check_wait("seconds", seconds, allow_none=False))

    def __await__(self) -> Generator[Any, None, bool]:
        return self.wait_async().__await__()


class _ChildToken(CancelToken):
    __slots__ = ("_detach",)

    def __init__(self, parent: CancelToken) -> None:
        super().__init__()
        self._detach = parent.add_callback(lambda: self._follow(parent))

    def _follow(self, parent: CancelToken) -> None:
        self.cancel(parent.reason)

    def detach(self) -> None:
        """Stop following the parent (the child keeps its own state)."""
        self._detach()


def _run(callback: Callable[[], None]) -> None:
    """Run a cancel callback; its error is logged, never raised into the canceller (a stop)."""
    try:
        callback()
    except BaseException:  # noqa: BLE001 - a user's clean-up hook must not crash the runtime
        log.exception("cancel callback %r raised", callback)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
