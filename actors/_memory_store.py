"""A `Store` in one process's memory, with the SQL stores' semantics.

It keeps nothing across that process's death, so on its own it makes no schedule durable: it
is the store of `actors.ray`'s registry actor (one Ray worker process that outlives the hosts it
serves, so a host killed and restarted by Ray takes its agents up from it), and a store for
tests that need one without a file. Leases, batches and history trimming behave as in
`actors._sql_store`; records and counters are copied in and out, as a database would.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from actors.history import FIELDS
from actors.store import HISTORY_IN_STORE, AgentRecord, AgentUpdate, Batch, DesiredState, Store

__all__ = ["MemoryStore"]


@dataclass(slots=True)
class _Row:
    start: str | None = None  # JSON, as the SQL stores keep it (so a load returns a fresh copy)
    state: DesiredState = DesiredState.STOPPED
    next_due: float | None = None
    counters: str = "{}"
    owner: str | None = None
    lease_until: float | None = None
    version: int = 0
    history: deque[tuple[Any, ...]] = field(default_factory=deque)


class MemoryStore(Store):
    """A `Store` held in memory (see the module docstring); thread-safe, one lock per call."""

    def __init__(self, name: str = "memory", history: int = HISTORY_IN_STORE) -> None:
        """``name`` shows in messages as the store's URL ``memory://<name>``."""
        self.url = f"memory://{name}"
        self.history_limit = history
        self._lock = threading.Lock()
        self._rows: dict[str, _Row] = {}

    def _row(self, name: str) -> _Row:
        row = self._rows.get(name)
        if row is None:
            row = self._rows[name] = _Row(history=deque(maxlen=self.history_limit))
        return row

    def names(self) -> list[str]:
        """The names it has a record of."""
        with self._lock:
            return list(self._rows)

    def load(self, name: str) -> AgentRecord | None:
        """See `Store.load`."""
        with self._lock:
            row = self._rows.get(name)
            if row is None:
                return None
            return AgentRecord(name, None if row.start is None else json.loads(row.start), row.state, row.next_due,
                               json.loads(row.counters), row.owner, row.lease_until, row.version)

    def acquire(self, name: str, node: str, lease_seconds: float, now: float) -> bool:
        """See `Store.acquire`."""
        with self._lock:
            row = self._row(name)
            if row.owner is None or row.owner == node or row.lease_until is None or row.lease_until < now:
                row.owner, row.lease_until = node, now + lease_seconds
                return True
            return False

    def renew(self, names: Sequence[str], node: str, lease_seconds: float, now: float) -> set[str]:
        """See `Store.renew`."""
        held: set[str] = set()
        with self._lock:
            for name in names:
                row = self._rows.get(name)
                if row is not None and row.owner == node:
                    row.lease_until = now + lease_seconds
                    held.add(name)
        return held

    def release(self, names: Sequence[str], node: str) -> None:
        """See `Store.release`."""
        with self._lock:
            for name in names:
                row = self._rows.get(name)
                if row is not None and row.owner == node:
                    row.owner = row.lease_until = None

    def write(self, batch: Batch) -> None:
        """See `Store.write`: changes, then progress rows, then history rows, at once."""
        with self._lock:
            for update in batch.changes:
                _apply(self._row(update.name), update)
            for next_due, counters, name in batch.progress:
                row = self._row(name)
                row.next_due, row.counters = next_due, counters
            for entry in batch.history:
                self._row(entry[0]).history.append(tuple(entry[1:]))

    def history(self, name: str, limit: int) -> list[dict[str, Any]]:
        """See `Store.history`."""
        with self._lock:
            row = self._rows.get(name)
            entries = [] if row is None else list(row.history)[-limit:] if limit > 0 else []
        return [dict(zip(FIELDS, entry)) for entry in reversed(entries)]

    def close(self) -> None:
        """Nothing to close: the records stay for as long as the object does."""


def _apply(row: _Row, u: AgentUpdate) -> None:
    """One update, as `actors._sql_store` applies it."""
    if u.start is not None:
        row.start = json.dumps(u.start, sort_keys=True)
    if u.state is not None:
        row.state = u.state
    if u.start is not None or u.state is not None:
        row.version += 1
    if u.clear_next_due:
        row.next_due = None
    elif u.next_due is not None:
        row.next_due = u.next_due
    if u.counters is not None:
        row.counters = json.dumps(u.counters, sort_keys=True)
    for entry in u.history:
        row.history.append(tuple(entry))
