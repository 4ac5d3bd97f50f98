"""How a thread that asks an agent waits for the answer: one C queue, no Condition.

``concurrent.futures.Future`` wakes its waiter through a ``threading.Condition``: a Python-level
notify and a new waiter lock per wait. A blocking ``ref.ask`` waits on an `Answer` instead, a
``queue.SimpleQueue`` whose put and timed get are C code over a futex: the GetStats round trip
of ``benchmarks/messages.py`` went from a median of 30-34 µs to 21-22 µs, raw pykka's being
22-25 µs in the same runs. Futures stay for ``ask_future``, ``ask_async`` and the pools, which
need ``wait`` or ``wrap_future``.
"""

from __future__ import annotations

import queue
from typing import Any

__all__ = ["Answer"]


class Answer:
    """One answer from an actor to one waiting thread.

    The actor calls it with the value; `fail` delivers an exception instead (the agent died);
    whichever comes first wins, and a late one is dropped with the Answer."""

    __slots__ = ("_box",)

    def __init__(self) -> None:
        self._box: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()

    def __call__(self, value: Any) -> None:
        """Deliver the actor's answer (any thread)."""
        self._box.put((True, value))

    def fail(self, error: BaseException) -> None:
        """Deliver ``error`` to be raised by `wait` (any thread)."""
        self._box.put((False, error))

    def done(self) -> bool:
        """True once an answer or an error has been delivered."""
        return not self._box.empty()

    def wait(self, timeout: float | None) -> Any:
        """The answer, or raise the error; ``queue.Empty`` when ``timeout`` passes first."""
        ok, value = self._box.get(timeout=timeout)
        if ok:
            return value
        raise value
