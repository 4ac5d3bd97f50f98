"""CancelToken: the one cancellation protocol, for threads and event loops alike.

A thread blocks in ``wait(timeout)``; a coroutine ``await``\\ s ``token.wait_async()`` (or the
token itself). ``cancel()`` may come from any thread or loop and wakes both at once: the thread
through a ``threading.Event``, each waiting loop through ``call_soon_threadsafe`` on its own
loop, so no asyncio primitive is bound to a loop other than the one awaiting.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Generator
from typing import Any

__all__ = ["CancelToken"]


class CancelToken:
    """A one-shot, thread-safe cancellation flag that threads and coroutines can wait on."""

    __slots__ = ("_event", "_lock", "_callbacks", "_reason")

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._reason: str | None = None

    def __repr__(self) -> str:
        state = f"cancelled ({self._reason})" if self.cancelled else "active"
        return f"<CancelToken {state}>"

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` has been called."""
        return self._event.is_set()

    @property
    def is_cancelled(self) -> bool:
        """Alias of :attr:`cancelled`."""
        return self._event.is_set()

    @property
    def reason(self) -> str | None:
        """The reason given to :meth:`cancel`, if any."""
        return self._reason

    def cancel(self, reason: str | None = None) -> bool:
        """Cancel the token from any thread or loop; return True if this call cancelled it."""
        with self._lock:
            if self._event.is_set():
                return False
            self._reason = reason
            self._event.set()
            callbacks = list(self._callbacks.values())
            self._callbacks.clear()
        for callback in callbacks:
            callback()
        return True

    def add_callback(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` on cancel (at once if already cancelled); return an unregister function.

        The callback runs in the cancelling thread, so it must be quick and must not raise.
        """
        with self._lock:
            if not self._event.is_set():
                key = id(callback)
                while key in self._callbacks:
                    key += 1
                self._callbacks[key] = callback
                return lambda: self._unregister(key)
        callback()
        return lambda: None

    def _unregister(self, key: int) -> None:
        with self._lock:
            self._callbacks.pop(key, None)

    def child(self) -> CancelToken:
        """Return a token cancelled with this one (it can also be cancelled on its own).

        Call ``detach()`` on the child when done with it, so a long-lived parent does not keep
        every child alive.
        """
        return _ChildToken(self)

    def detach(self) -> None:
        """Stop following a parent token (a no-op for a root token); see :meth:`child`."""

    def wait(self, timeout: float | None = None) -> bool:
        """Block the calling thread until cancelled or ``timeout`` passes; return ``cancelled``."""
        return self._event.wait(timeout)

    async def wait_async(self, timeout: float | None = None) -> bool:
        """Wait on the running loop until cancelled or ``timeout`` passes; return ``cancelled``."""
        if self._event.is_set():
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
        return self._event.is_set()

    async def sleep(self, seconds: float) -> bool:
        """Sleep ``seconds`` on the running loop unless cancelled first; return ``cancelled``."""
        return await self.wait_async(max(0.0, seconds))

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


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
