"""Call user callbacks that may be sync or async, without letting them break the caller."""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["asafe_call", "safe_call"]

log = logging.getLogger("actors")


def _name(cb: object) -> str:
    return getattr(cb, "__qualname__", None) or repr(cb)


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _run_to_completion(awaitable: Awaitable[Any]) -> None:
    """Run an awaitable from sync code, leaving no loop (and no thread) behind."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_await(awaitable))
        return
    # This thread already runs a loop we must not re-enter: use a short-lived thread.
    error: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(_await(awaitable))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=run, name="actorsched-safe-call")
    thread.start()
    thread.join()
    if error:
        raise error[0]


# What a callback raises is logged and swallowed, except these, which keep their meaning for
# the calling program (Ctrl-C, sys.exit); the runtime catches them itself around its callbacks.
_PASS_THROUGH = (KeyboardInterrupt, SystemExit)


def safe_call(cb: Callable[..., Any] | None, *args: Any) -> bool:
    """Call ``cb(*args)`` from sync code; never raise.

    A coroutine result runs to completion before this returns, leaving no loop or thread
    behind. For a call from a coroutine use [`asafe_call`][actors.asafe_call].

    Args:
        cb: A sync or async callable, or None (a no-op).
        *args: Passed to ``cb``.

    Returns:
        False if ``cb`` raised (the exception is logged with its traceback under the
        ``actors`` logger), True otherwise. ``KeyboardInterrupt`` and ``SystemExit``
        propagate: they belong to the calling program.
    """
    if cb is None:
        return True
    try:
        result = cb(*args)
        if inspect.isawaitable(result):
            _run_to_completion(result)
        return True
    except _PASS_THROUGH:
        raise
    except BaseException:  # noqa: BLE001 - a custom BaseException is still the callback's error
        log.exception("callback %s raised", _name(cb))
        return False


async def asafe_call(cb: Callable[..., Any] | None, *args: Any) -> bool:
    """Call ``cb(*args)`` from a coroutine; a coroutine result is awaited on the caller's loop.

    Never raises for an error in the callback; cancellation of the calling task still
    propagates. For a call from sync code use [`safe_call`][bridge.safe_call.safe_call].

    Args:
        cb: A sync or async callable, or None (a no-op).
        *args: Passed to ``cb``.

    Returns:
        False if ``cb`` raised (the exception is logged with its traceback under the
        ``actors`` logger), True otherwise.
    """
    if cb is None:
        return True
    try:
        result = cb(*args)
        if inspect.isawaitable(result):
            await result
        return True
    except (*_PASS_THROUGH, asyncio.CancelledError):
        raise
    except BaseException:  # noqa: BLE001 - see safe_call
        log.exception("callback %s raised", _name(cb))
        return False
