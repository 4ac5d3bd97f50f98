"""Durable stores: what survives a process, and the leases that run each tick once among many.

A store keeps, per agent name, the last Start (its expression and options, as plain JSON), the
desired state, the next due time (wall clock), the stats counters, the lease (which node runs
the agent, until when) and the history. It never holds code: a process runs only the agents it
spawned. `open_store` turns what a user passes as ``ActorSystem(store=...)`` into a `Store`:

- ``"sqlite:///path/state.db"`` or a plain path: SQLite (stdlib ``sqlite3``, WAL mode);
- ``"postgresql://user@host/db"``: PostgreSQL (extra ``actorsched[postgres]``).

A store is plain blocking I/O with one transaction per call; the runtime calls it from its own
writer thread, never from a tick (see ``docs/architecture.md``, "Stores").
"""

from __future__ import annotations

import enum
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from actors._validate import check_int, shown
from actors.errors import ArgumentTypeError

__all__ = ["HISTORY_IN_STORE", "SCHEMA_VERSION", "AgentRecord", "AgentUpdate", "Batch", "DesiredState", "Store",
           "open_store"]

#: History entries kept per agent in a store (DESIGN.md: 1,000 by default).
HISTORY_IN_STORE: Final = 1000
#: The schema this code writes; a store with a newer one is refused (``ValueError``).
SCHEMA_VERSION: Final = 1


class DesiredState(enum.StrEnum):
    """What the last command said an agent should do, whichever process runs it."""

    STARTED = "started"
    PAUSED = "paused"
    STOPPED = "stopped"
    FINISHED = "finished"


@dataclass(frozen=True, slots=True)
class AgentRecord:
    """One agent as a store holds it.

    Attributes:
        name: The agent's name, the key.
        start: The last Start as JSON-able fields (``expr``, ``max_retries``, ``run_immediately``,
            the options and ``timezone``), or None before any.
        state: The desired state.
        next_due: The next tick's due time (epoch seconds), or None.
        counters: The stats counters (``successful_executions``, ``run_seq``, ...).
        owner: The node holding the lease, or None.
        lease_until: When that lease ends (epoch seconds), or None.
        version: Bumped by every change of ``start`` or ``state``.
    """

    name: str
    start: dict[str, Any] | None = None
    state: DesiredState = DesiredState.STOPPED
    next_due: float | None = None
    counters: dict[str, Any] = field(default_factory=dict)
    owner: str | None = None
    lease_until: float | None = None
    version: int = 0


@dataclass(slots=True)
class AgentUpdate:
    """What one batch writes for one agent; a field left None is left as it is.

    ``history`` holds entries as `actors.history` keeps them (tuples in its ``FIELDS`` order).
    """

    name: str
    start: dict[str, Any] | None = None
    state: DesiredState | None = None
    next_due: float | None = None
    clear_next_due: bool = False
    counters: dict[str, Any] | None = None
    history: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass(slots=True)
class Batch:
    """One transaction's writes. A run's progress and its history travel as flat rows of
    numbers and strings, which the garbage collector stops tracking: at 10,000 runs a second,
    an update object and a list per agent per batch, alive while the database works, were
    promoted to the oldest generation and set off a full collection every few seconds.

    Attributes:
        changes: Commands (a new Start, a desired state) and any other `AgentUpdate`, applied
            first, in order.
        progress: ``(next_due or None, counters as JSON, name)`` rows: the counters and next
            due time of an agent that only ran (a None next due time is cleared).
        history: ``(name, *FIELDS)`` rows of finished runs, oldest first.
    """

    changes: list[AgentUpdate] = field(default_factory=list)
    progress: list[tuple[float | None, str, str]] = field(default_factory=list)
    history: list[tuple[Any, ...]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.changes or self.progress or self.history)

    def size(self) -> int:
        """The rows and updates it holds."""
        return len(self.changes) + len(self.progress) + len(self.history)


class Store(ABC):
    """A durable store (see the module docstring). Every method is one transaction; none is
    called from a tick. ``now`` arguments are epoch seconds of the caller's clock."""

    #: The URL it was opened from, for messages (no password).
    url: str
    #: History entries kept per agent.
    history_limit: int

    @abstractmethod
    def load(self, name: str) -> AgentRecord | None:
        """The agent named ``name``, or None if the store never heard of it."""

    @abstractmethod
    def acquire(self, name: str, node: str, lease_seconds: float, now: float) -> bool:
        """Take (or keep) the lease of ``name`` for ``node`` until ``now + lease_seconds`` if
        nobody else holds a live one; True if ``node`` holds it now. Creates the record."""

    @abstractmethod
    def renew(self, names: Sequence[str], node: str, lease_seconds: float, now: float) -> set[str]:
        """Extend ``node``'s leases of ``names``; return the names it still holds."""

    @abstractmethod
    def release(self, names: Sequence[str], node: str) -> None:
        """Give up ``node``'s leases of ``names`` (a clean shutdown: another node may take them at once)."""

    @abstractmethod
    def write(self, batch: Batch) -> None:
        """Apply a batch in one transaction: its changes, then its progress rows, then its
        history rows (history trimmed to `history_limit` per agent)."""

    @abstractmethod
    def history(self, name: str, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` history entries of ``name``, newest first."""

    @abstractmethod
    def close(self) -> None:
        """Close the connection (the store object is unusable afterwards)."""


def open_store(store: str | os.PathLike[str] | Store, history: int = HISTORY_IN_STORE) -> Store:
    """The `Store` for ``store``: a `Store` as it is, a ``sqlite:///`` URL or a path, or a
    ``postgresql://`` URL. Raises ``ValueError`` naming the store when it cannot be opened,
    is not a store of this library, or has a newer schema than this code."""
    history = check_int("history", history, minimum=1)
    if isinstance(store, Store):
        return store
    if isinstance(store, os.PathLike):
        store = os.fspath(store)
    if not isinstance(store, str):
        raise ArgumentTypeError(f"store must be a URL, a path or a Store, not {type(store).__name__}: {shown(store)}")
    if not store.strip():
        raise ValueError("store must be a URL or a path, got an empty string")
    scheme, sep, rest = store.partition("://")
    if not sep:  # a plain path
        from actors._sqlite_store import SQLiteStore

        return SQLiteStore(store, history)
    scheme = scheme.lower()
    if scheme == "sqlite":
        from actors._sqlite_store import SQLiteStore

        path = rest[1:] if rest.startswith("/") else rest  # sqlite:///rel.db, sqlite:////abs.db
        if not path:
            raise ValueError(f"store {store!r} names no file: use sqlite:///path/to/state.db")
        return SQLiteStore(path, history)
    if scheme in ("postgresql", "postgres"):
        from actors._postgres_store import PostgresStore

        return PostgresStore(store, history)
    raise ValueError(f"store {shown(store)}: unknown scheme {scheme!r}; use sqlite:///path.db, a path, "
                     "or postgresql://user@host/db")
