"""The PostgreSQL store, for processes on several machines (extra ``actorsched[postgres]``).

The driver is psycopg 3: the maintained successor of psycopg2, with a binary wheel that needs
no libpq on the machine (``psycopg[binary]``), and plain blocking calls, which is all the
writer thread needs (an async driver would buy nothing off the tick path). A lease is a
conditional UPDATE of the agent's row: under READ COMMITTED two nodes racing for it queue on
the row lock and the second re-checks the condition, so exactly one wins. A lost connection is
made again at the next call: the store's outage is the journal's to log and ride out.
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from actors._sql_store import SqlStore, schema

__all__ = ["PostgresStore", "shown_url"]

# Any fixed key: it serialises the CREATE TABLE IF NOT EXISTS of processes starting together
# (PostgreSQL may otherwise fail one of them on a duplicate catalog row).
_SCHEMA_LOCK = 0x61637473


def shown_url(url: str) -> str:
    """``url`` without its password, for messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


class PostgresStore(SqlStore):
    """A `Store` in a PostgreSQL database (see the module docstring); ``ValueError`` naming the
    URL if psycopg is missing, the server cannot be reached, or the schema is newer."""

    _p = "%s"

    def __init__(self, url: str, history: int) -> None:
        self.url = shown_url(url)
        self.history_limit = history
        try:
            import psycopg
        except ImportError:
            raise ValueError(f"store {self.url} needs psycopg 3 (the postgres extra): pip install 'psycopg[binary]'") from None
        self._psycopg = psycopg
        self._dsn = url
        self._lock = threading.Lock()  # one connection, used by the writer thread and by spawn()
        self._conn: Any = None
        try:
            self._create(schema("DOUBLE PRECISION", "BIGSERIAL PRIMARY KEY"))
        except psycopg.Error as exc:
            self.close()
            raise ValueError(f"store {self.url}: {type(exc).__name__}: {str(exc).strip()}") from None

    def __repr__(self) -> str:
        return f"<PostgresStore {self.url!r}>"

    def _lock_schema(self, db: Any) -> None:
        db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._lock:
            if self._conn is None or self._conn.closed:
                self._conn = self._psycopg.connect(self._dsn, autocommit=True, connect_timeout=5)
            conn = self._conn
            try:
                with conn.transaction(), conn.cursor() as cursor:
                    yield cursor
            except self._psycopg.OperationalError:
                conn.close()  # broken: made again at the next call
                self._conn = None
                raise

    def close(self) -> None:
        """See `Store.close`."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
