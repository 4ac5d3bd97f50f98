"""Run history: one entry per execution (cancelled ones included), newest first, the last 100
of each agent in memory.

An entry is kept as a plain tuple of numbers and strings: the garbage collector stops tracking
such tuples, so 100,000 agents' histories add nothing to each full collection's scan, where a
dict or an object per entry would add up to 10,000,000 objects.
"""

from __future__ import annotations

import enum
import os
import socket
from collections import deque
from typing import Any, Final

__all__ = ["FIELDS", "HISTORY_IN_MEMORY", "RESULT_MAX_CHARS", "RunOutcome", "newest", "node_name", "record", "record_entry",
           "shown_result"]

#: Entries kept per agent in memory (DESIGN.md: the last 100).
HISTORY_IN_MEMORY: Final = 100
#: ``result`` is the ``repr()`` of the value, cut to this many characters.
RESULT_MAX_CHARS: Final = 1000

FIELDS: Final = ("run_id", "scheduled_for", "started_at", "finished_at", "outcome", "attempts", "error", "result",
                 "lateness_ms", "node")


class RunOutcome(enum.StrEnum):
    """How an execution ended, as its history entry says."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"      #: a stop, a pause or ``cancel_previous`` cut it short
    INTERRUPTED = "interrupted"  #: its process died (with a store)


_node: str | None = None


def node_name() -> str:
    """This process as stats and history name it: ``hostname:pid`` (made once, again in a
    forked child: it is read on every run)."""
    global _node
    if _node is None:
        _node = f"{socket.gethostname()}:{os.getpid()}"
    return _node


def _forget_node() -> None:
    global _node
    _node = None


os.register_at_fork(after_in_child=_forget_node)


def shown_result(value: Any) -> str | None:
    """``repr(value)`` cut to `RESULT_MAX_CHARS`; None for None."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) and len(value) > RESULT_MAX_CHARS:
        value = value[:RESULT_MAX_CHARS]  # a 10 MB reply is not copied whole to be cut
    try:
        text = repr(value)
    except Exception as exc:  # noqa: BLE001 - a broken __repr__ must not lose the run
        text = f"<unrepresentable {type(value).__name__}: {exc!r}>"
    return text[:RESULT_MAX_CHARS]


def record_entry(entries: deque[tuple[Any, ...]] | None, entry: tuple[Any, ...]) -> deque[tuple[Any, ...]]:
    """Add an entry already in `FIELDS` order (one a store kept)."""
    if entries is None:
        entries = deque(maxlen=HISTORY_IN_MEMORY)
    entries.append(entry)
    return entries


def record(entries: deque[tuple[Any, ...]] | None, run_id: int, scheduled_for: float, started_at: float,
           finished_at: float, outcome: RunOutcome, attempts: int, error: str | None, result: str | None,
           lateness_ms: float | None, node: str | None = None) -> deque[tuple[Any, ...]]:
    """Add one execution's entry to an agent's ``entries`` (made here at the first: agents that
    never ran hold none); the oldest beyond `HISTORY_IN_MEMORY` is dropped. ``node``: the
    process's name when its system names it (None: `node_name`)."""
    if entries is None:
        entries = deque(maxlen=HISTORY_IN_MEMORY)
    entries.append((run_id, scheduled_for, started_at, finished_at, outcome.value, attempts, error, result,
                    lateness_ms, node or node_name()))
    return entries


def newest(entries: deque[tuple[Any, ...]] | None, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` entries first, each a dict with the keys of `FIELDS`."""
    if not entries:
        return []
    return [dict(zip(FIELDS, entries[-i])) for i in range(1, min(limit, len(entries)) + 1)]
