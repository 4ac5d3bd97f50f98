"""Call user callbacks that may be sync or async, without letting them break the caller, and run
an awaitable to completion from sync code."""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

__all__ = ["asafe_call", "run_to_completion", "safe_call"]

T = TypeVar("T")

log = logging.getLogger("actors")


def _name(cb: object) -> str:
    return getattr(cb, "__qualname__", None) or repr(cb)


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable


def run_to_completion(awaitable: Awaitable[T]) -> T:
    """Run an awaitable from sync code and return its result, leaving no loop (and no thread)
    behind; from a thread that already runs a loop (which must not be re-entered), on a
    short-lived thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_await(awaitable))
    outcome: list[Any] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(asyncio.run(_await(awaitable)))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            error.append(exc)

    thread = threading.Thread(target=run, name="actorsched-safe-call")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return outcome[0]  # type: ignore[no-any-return]


def safe_call(cb: Callable[..., Any] | None, *args: Any) -> bool:
    """Call ``cb(*args)`` from sync code; never raise.

    A coroutine result runs to completion before this returns, leaving no loop or thread
    behind. For a call from a coroutine use [`asafe_call`][actors.asafe_call].

    Args:
        cb: A sync or async callable, or None (a no-op).
        *args: Passed to ``cb``.

    Returns:
        False if ``cb`` raised anything, ``BaseException``s included (logged with its
        traceback under the ``actors`` logger), True otherwise.
    """
    if cb is None:
        return True
    try:
        result = cb(*args)
        if inspect.isawaitable(result):
            run_to_completion(result)
        return True
    except BaseException:  # noqa: BLE001 - "never raises": even a KeyboardInterrupt from the callback
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
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # the caller is being cancelled: that must get through
        log.exception("callback %s raised CancelledError", _name(cb))
        return False
    except BaseException:  # noqa: BLE001 - see safe_call
        log.exception("callback %s raised", _name(cb))
        return False
