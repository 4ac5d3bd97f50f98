"""The SQL behind both stores: one schema and one set of statements over a DB-API connection.

A lease is one conditional UPDATE: two processes racing for an agent serialise on the row (or,
in SQLite, the file's write lock) and exactly one wins. Each method is one transaction; the
two dialects (`actors._sqlite_store`, `actors._postgres_store`) differ only in how they
connect, open a transaction, spell a placeholder, and type a few columns.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from actors.history import FIELDS
from actors.store import SCHEMA_VERSION, AgentRecord, AgentUpdate, Batch, DesiredState, Store

__all__ = ["SqlStore"]

_HISTORY_COLUMNS = ", ".join(FIELDS)


def schema(real: str, serial: str) -> list[str]:
    """The tables, with the dialect's 8-byte float type and auto-increment key."""
    return [
        "CREATE TABLE IF NOT EXISTS actorsched_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        f"""CREATE TABLE IF NOT EXISTS actorsched_agents (
            name TEXT PRIMARY KEY, start TEXT, state TEXT NOT NULL DEFAULT 'stopped', next_due {real},
            counters TEXT NOT NULL DEFAULT '{{}}', owner TEXT, lease_until {real},
            version INTEGER NOT NULL DEFAULT 0)""",
        f"""CREATE TABLE IF NOT EXISTS actorsched_history (
            seq {serial}, name TEXT NOT NULL, run_id INTEGER, scheduled_for {real}, started_at {real},
            finished_at {real}, outcome TEXT, attempts INTEGER, error TEXT, result TEXT, lateness_ms {real},
            node TEXT)""",
        "CREATE INDEX IF NOT EXISTS actorsched_history_by_name ON actorsched_history (name, seq)",
    ]


class SqlStore(Store):
    """A `Store` over SQL (see the module docstring); subclasses connect and set ``_p``."""

    #: The dialect's placeholder.
    _p = "?"

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[Any]:
        """One transaction that takes the write lock up front; yields a cursor-like object
        with ``execute(sql, args)`` returning something with ``fetchone``/``fetchall``/``rowcount``."""

    def _sql(self, statement: str) -> str:
        return statement.replace("?", self._p)

    def _create(self, statements: list[str]) -> None:
        """Create the tables and check the schema version (``ValueError`` if newer)."""
        self._known, self._since_trim = set(), {}
        self._progress_sql = self._sql("UPDATE actorsched_agents SET next_due = ?, counters = ? WHERE name = ?")
        self._insert_sql = self._sql(f"INSERT INTO actorsched_history (name, {_HISTORY_COLUMNS}) "
                                     f"VALUES (?, {', '.join('?' for _ in FIELDS)})")
        # Keep the newest `history_limit` entries: the seq of the oldest one kept is the bound.
        self._trim_sql = self._sql("DELETE FROM actorsched_history WHERE name = ? AND seq < (SELECT seq FROM "
                                   "actorsched_history WHERE name = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)")
        with self._transaction() as db:
            self._lock_schema(db)
            for statement in statements:
                db.execute(statement)
            row = db.execute("SELECT value FROM actorsched_meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                db.execute(self._sql("INSERT INTO actorsched_meta VALUES ('schema_version', ?)"), (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise ValueError(f"store {self.url} has schema version {row[0]}, newer than this actorsched's "
                                 f"{SCHEMA_VERSION}: upgrade actorsched")

    def _lock_schema(self, db: Any) -> None:
        """Serialise schema creation among processes starting together (SQLite: the write lock does)."""

    #: Names this connection has seen in the agents table (each needs its row before an UPDATE).
    _known: set[str]
    _since_trim: dict[str, int]
    _progress_sql: str
    _insert_sql: str
    _trim_sql: str

    def _ensure(self, db: Any, name: str) -> None:
        db.execute(self._sql("INSERT INTO actorsched_agents (name) VALUES (?) ON CONFLICT (name) DO NOTHING"), (name,))

    # -- Store ----------------------------------------------------------------------------
    def load(self, name: str) -> AgentRecord | None:
        """See `Store.load`."""
        with self._transaction() as db:
            row = db.execute(self._sql("SELECT name, start, state, next_due, counters, owner, lease_until, version "
                                       "FROM actorsched_agents WHERE name = ?"), (name,)).fetchone()
        if row is None:
            return None
        return AgentRecord(row[0], None if row[1] is None else json.loads(row[1]), DesiredState(row[2]), row[3],
                           json.loads(row[4]), row[5], row[6], row[7])

    def acquire(self, name: str, node: str, lease_seconds: float, now: float) -> bool:
        """See `Store.acquire`."""
        with self._transaction() as db:
            self._ensure(db, name)
            taken = db.execute(self._sql(
                "UPDATE actorsched_agents SET owner = ?, lease_until = ? WHERE name = ? AND "
                "(owner IS NULL OR owner = ? OR lease_until IS NULL OR lease_until < ?)"),
                (node, now + lease_seconds, name, node, now)).rowcount
        return bool(taken == 1)

    def renew(self, names: Sequence[str], node: str, lease_seconds: float, now: float) -> set[str]:
        """See `Store.renew`."""
        held: set[str] = set()
        if not names:
            return held
        with self._transaction() as db:
            for name in names:
                if db.execute(self._sql("UPDATE actorsched_agents SET lease_until = ? WHERE name = ? AND owner = ?"),
                              (now + lease_seconds, name, node)).rowcount == 1:
                    held.add(name)
        return held

    def release(self, names: Sequence[str], node: str) -> None:
        """See `Store.release`."""
        if not names:
            return
        with self._transaction() as db:
            for name in names:
                db.execute(self._sql("UPDATE actorsched_agents SET owner = NULL, lease_until = NULL "
                                     "WHERE name = ? AND owner = ?"), (name, node))

    def write(self, batch: Batch) -> None:
        """See `Store.write`. The common rows, a run's progress and its history entry, go in two
        ``executemany`` for the whole batch: at 10,000 runs a second, a statement per agent was
        most of the writer's time. The history is trimmed once an agent has added a tenth of
        its limit since the last trim."""
        if not batch:
            return
        rows = batch.history
        extra = [(u.name, *entry) for u in batch.changes for entry in u.history]
        if extra:
            rows = rows + extra
        every, since, trims = max(1, self.history_limit // 10), self._since_trim, []
        for row in rows:
            name = row[0]
            added = since.get(name, 0) + 1
            if added >= every:
                trims.append(name)
                added = 0
            since[name] = added
        names = {row[0] for row in rows}
        names.update(row[2] for row in batch.progress)
        names.update(u.name for u in batch.changes)
        names -= self._known
        with self._transaction() as db:
            for name in names:
                self._ensure(db, name)
            for u in batch.changes:
                sets, args = _assignments(u)
                if sets:
                    db.execute(self._sql(f"UPDATE actorsched_agents SET {', '.join(sets)} WHERE name = ?"),
                               (*args, u.name))
            if batch.progress:
                db.executemany(self._progress_sql, batch.progress)
            if rows:
                db.executemany(self._insert_sql, rows)
            for name in dict.fromkeys(trims):
                db.execute(self._trim_sql, (name, name, self.history_limit - 1))
        self._known |= names

    def history(self, name: str, limit: int) -> list[dict[str, Any]]:
        """See `Store.history`."""
        with self._transaction() as db:
            rows = db.execute(self._sql(f"SELECT {_HISTORY_COLUMNS} FROM actorsched_history WHERE name = ? "
                                        "ORDER BY seq DESC LIMIT ?"), (name, limit)).fetchall()
        return [dict(zip(FIELDS, row)) for row in rows]


def _assignments(u: AgentUpdate) -> tuple[list[str], list[Any]]:
    """The SET clauses (with ``?``) and their values for one update."""
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
    return sets, args

