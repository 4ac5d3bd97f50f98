"""Shared fixtures: every test must leave no library thread and no task behind."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

# How long a test's stray threads may take to finish after it returned (an abandoned sync
# agent ends when its call returns; tests keep such calls well under this).
THREAD_GRACE_S = 5.0


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Fail the test if a thread it started is still alive shortly after it finished."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + THREAD_GRACE_S
    while True:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert not leaked, f"threads left behind: {[t.name for t in leaked]}"


def run(main: Callable[[], Awaitable[T]]) -> T:
    """``asyncio.run(main())``, failing if ``main`` left any other task pending when it returned."""

    async def checked() -> T:
        result = await main()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
        assert not others, f"tasks left behind: {others}"
        return result

    return asyncio.run(checked())


async def wait_for(predicate: Callable[[], Any], timeout: float = 5.0) -> None:
    """Poll ``predicate`` on the loop until true (for state we cannot await directly)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.005)


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0) -> None:
    """Thread-side twin of :func:`wait_for`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.005)
