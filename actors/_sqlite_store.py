"""The SQLite store: stdlib ``sqlite3``, WAL mode, one file shared by every process on a machine.

WAL lets readers go on while one process writes. A busy timeout of 5 s rides out the short
write locks of other processes: the store is called from the runtime's writer thread and from
``spawn()``, never from a tick, so waiting there delays no run.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from actors._sql_store import SqlStore, schema

__all__ = ["SQLiteStore"]

_BUSY_TIMEOUT_S = 5.0


class SQLiteStore(SqlStore):
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
            self._create(schema("REAL", "INTEGER PRIMARY KEY AUTOINCREMENT"))
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
        """BEGIN IMMEDIATE: the write lock up front, so a lease check and its update are atomic
        against other processes."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def close(self) -> None:
        """See `Store.close`."""
        with self._lock:
            self._db.close()
