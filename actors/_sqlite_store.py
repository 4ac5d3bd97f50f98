"""The SQLite store: stdlib ``sqlite3``, WAL mode, one file shared by every process on a machine.

WAL lets readers go on while one process writes; a lease is one conditional UPDATE, so two
processes racing for an agent serialise on SQLite's write lock and exactly one wins. A busy
timeout of 5 s rides out the short write locks of other processes: the store is called from
the runtime's writer thread only, never from a tick, so waiting there delays no run.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from actors.history import FIELDS
from actors.store import SCHEMA_VERSION, AgentRecord, AgentUpdate, DesiredState, Store

__all__ = ["SQLiteStore"]

_BUSY_TIMEOUT_S = 5.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS actorsched_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS actorsched_agents (
    name TEXT PRIMARY KEY,
    start TEXT,
    state TEXT NOT NULL DEFAULT 'stopped',
    next_due REAL,
    counters TEXT NOT NULL DEFAULT '{}',
    owner TEXT,
    lease_until REAL,
    version INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS actorsched_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    run_id INTEGER, scheduled_for REAL, started_at REAL, finished_at REAL, outcome TEXT,
    attempts INTEGER, error TEXT, result TEXT, lateness_ms REAL, node TEXT
);
CREATE INDEX IF NOT EXISTS actorsched_history_by_name ON actorsched_history (name, seq);
"""
_HISTORY_COLUMNS = ", ".join(FIELDS)
_INSERT_HISTORY = (f"INSERT INTO actorsched_history (name, {_HISTORY_COLUMNS}) "
                   f"VALUES (?, {', '.join('?' for _ in FIELDS)})")
# Keep the newest `limit` entries of one agent: the seq of the oldest one kept is the bound.
_TRIM_HISTORY = ("DELETE FROM actorsched_history WHERE name = ? AND seq < (SELECT seq FROM actorsched_history "
                 "WHERE name = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)")


class SQLiteStore(Store):
    """A `Store` in one SQLite file (see the module docstring); ``ValueError`` naming the file
    if it is a directory, not a database, read-only, or of a newer schema."""

    def __init__(self, path: str, history: int) -> None:
        self.url = f"sqlite:///{path}"
        self.history_limit = history
        self._path = path
        if os.path.isdir(path):
            raise ValueError(f"store {self.url}: {path!r} is a directory, not a database file")
        self._lock = threading.Lock()  # one connection, used by the writer thread and by spawn()
        try:
            self._db = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise ValueError(f"store {self.url}: cannot open {path!r}: {exc}") from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at each checkpoint, ~10x fewer fsyncs
            with self._transaction() as db:  # executescript() would commit: one statement at a time
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    db.execute(statement)
                row = db.execute("SELECT value FROM actorsched_meta WHERE key = 'schema_version'").fetchone()
                if row is None:
                    db.execute("INSERT INTO actorsched_meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                elif int(row[0]) > SCHEMA_VERSION:
                    raise ValueError(f"store {self.url} has schema version {row[0]}, newer than this actorsched's "
                                     f"{SCHEMA_VERSION}: upgrade actorsched")
        except sqlite3.DatabaseError as exc:
            self._db.close()
            if any(word in str(exc) for word in ("readonly", "read-only", "unable to open")):
                # WAL needs to write the file and its -wal/-shm neighbours beside it.
                raise ValueError(f"store {self.url}: {path!r} cannot be written (the file or its directory is "
                                 f"read-only: {exc})") from None
            raise ValueError(f"store {self.url}: {path!r} is not a usable SQLite database ({exc})") from None
        except BaseException:
            self._db.close()
            raise

    def __repr__(self) -> str:
        return f"<SQLiteStore {self._path!r}>"

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: the write lock up front, so a lease check
        and its update are atomic against other processes)."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # -- Store ----------------------------------------------------------------------------
    def load(self, name: str) -> AgentRecord | None:
        """See `Store.load`."""
        with self._lock:
            row = self._db.execute("SELECT name, start, state, next_due, counters, owner, lease_until, version "
                                   "FROM actorsched_agents WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        return AgentRecord(row[0], None if row[1] is None else json.loads(row[1]), DesiredState(row[2]), row[3],
                           json.loads(row[4]), row[5], row[6], row[7])

    def acquire(self, name: str, node: str, lease_seconds: float, now: float) -> bool:
        """See `Store.acquire`."""
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO actorsched_agents (name) VALUES (?)", (name,))
            taken = db.execute("UPDATE actorsched_agents SET owner = ?, lease_until = ? WHERE name = ? AND "
                               "(owner IS NULL OR owner = ? OR lease_until IS NULL OR lease_until < ?)",
                               (node, now + lease_seconds, name, node, now)).rowcount
        return taken == 1

    def renew(self, names: Sequence[str], node: str, lease_seconds: float, now: float) -> set[str]:
        """See `Store.renew`."""
        held: set[str] = set()
        if not names:
            return held
        with self._transaction() as db:
            for name in names:
                if db.execute("UPDATE actorsched_agents SET lease_until = ? WHERE name = ? AND owner = ?",
                              (now + lease_seconds, name, node)).rowcount == 1:
                    held.add(name)
        return held

    def release(self, names: Sequence[str], node: str) -> None:
        """See `Store.release`."""
        if not names:
            return
        with self._transaction() as db:
            db.executemany("UPDATE actorsched_agents SET owner = NULL, lease_until = NULL WHERE name = ? AND owner = ?",
                           [(name, node) for name in names])

    def write(self, updates: Sequence[AgentUpdate]) -> None:
        """See `Store.write`."""
        if not updates:
            return
        with self._transaction() as db:
            for u in updates:
                db.execute("INSERT OR IGNORE INTO actorsched_agents (name) VALUES (?)", (u.name,))
                sets: list[str] = []
                args: list[Any] = []
                if u.start is not None:
                    sets.append("start = ?")
                    args.append(json.dumps(u.start, sort_keys=True))
                if u.state is not None:
                    sets.append("state = ?")
                    args.append(u.state.value)
                if u.start is not None or u.state is not None:
                    sets.append("version = version + 1")
                if u.clear_next_due:
                    sets.append("next_due = NULL")
                elif u.next_due is not None:
                    sets.append("next_due = ?")
                    args.append(u.next_due)
                if u.counters is not None:
                    sets.append("counters = ?")
                    args.append(json.dumps(u.counters, sort_keys=True))
                if sets:
                    db.execute(f"UPDATE actorsched_agents SET {', '.join(sets)} WHERE name = ?", (*args, u.name))
                if u.history:
                    db.executemany(_INSERT_HISTORY, [(u.name, *entry) for entry in u.history])
                    db.execute(_TRIM_HISTORY, (u.name, u.name, self.history_limit - 1))

    def history(self, name: str, limit: int) -> list[dict[str, Any]]:
        """See `Store.history`."""
        with self._lock:
            rows = self._db.execute(f"SELECT {_HISTORY_COLUMNS} FROM actorsched_history WHERE name = ? "
                                    "ORDER BY seq DESC LIMIT ?", (name, limit)).fetchall()
        return [dict(zip(FIELDS, row)) for row in rows]

    def close(self) -> None:
        """See `Store.close`."""
        with self._lock:
            self._db.close()
