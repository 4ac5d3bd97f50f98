"""One node's leases in a store: the agents it runs, and those it waits to take over.

A node runs an agent only while it holds the agent's lease, renewed every third of
``lease_seconds``; an agent whose lease another node holds waits in standby. A standby tries
again every third of the lease, and exactly when the holder's lease ends by the record if that
comes sooner (a live holder has renewed it by then, a dead one has not): a clean release is
taken up within a third of the lease, and a survivor takes over within ``lease_seconds`` and
one pass of the journal's thread of its owner's last renewal, where polling alone let that
reach ``lease_seconds`` x 4/3.

Leases are read in real wall time whatever clock the agents run on: they are about whether a
process is alive, and a virtual clock's hours must not expire them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from actors.store import AgentRecord, Store

__all__ = ["LeaseHolder", "Leases"]

log = logging.getLogger("actors")

# A standby's next try comes this long after the holder's lease ends by the record: the
# record's time is the holder's clock, and a try a hair early fails for a whole lease more.
_MARGIN_S = 0.01


class LeaseHolder(Protocol):
    """An agent's side of its lease (called on the journal's thread)."""

    def taken_up(self, record: AgentRecord) -> None:
        """The lease is ours now; ``record`` is the agent as the store holds it."""

    def lost(self) -> None:
        """The lease went to another node (this one stalled past it): stop the agent here."""


class Leases:
    """The leases of one node (see the module docstring). ``claim``, ``wait_for``, ``owned``
    and ``release_all`` may be called from any thread; `keep` from the journal's only."""

    def __init__(self, store: Store, node: str, lease_seconds: float, warn: Callable[[str, Exception], None]) -> None:
        self.store, self.node, self.lease_seconds = store, node, lease_seconds
        self._warn = warn
        self._owned: dict[str, LeaseHolder] = {}
        self._standby: dict[str, LeaseHolder] = {}
        self._try_at: dict[str, float] = {}  # standby name -> next try (monotonic)
        self._lock = threading.Lock()
        self._renew_at = time.monotonic() + lease_seconds / 3

    def claim(self, name: str, holder: LeaseHolder) -> bool:
        """Try to take ``name``'s lease now (at spawn); True if this node runs it."""
        try:
            taken = self.store.acquire(name, self.node, self.lease_seconds, time.time())
        except Exception as exc:  # noqa: BLE001 - a store outage must not fail the spawn
            self._warn("take the lease of", exc)
            taken = False
        if taken:
            with self._lock:
                self._owned[name] = holder
        return taken

    def wait_for(self, name: str, holder: LeaseHolder) -> None:
        """Take ``name``'s lease as soon as it is free, then call ``holder.taken_up``."""
        with self._lock:
            self._standby[name] = holder
            self._try_at[name] = 0.0  # at the journal's next pass

    def owned(self) -> set[str]:
        """The names this node holds the lease of."""
        with self._lock:
            return set(self._owned)

    def release_all(self) -> list[str]:
        """Forget every lease and standby; return the names held (to release in the store)."""
        with self._lock:
            names = list(self._owned)
            self._owned.clear()
            self._standby.clear()
            self._try_at.clear()
        return names

    def next_due(self) -> float:
        """When `keep` has work next (monotonic)."""
        with self._lock:
            tries = min(self._try_at.values(), default=self._renew_at)
        return min(tries, self._renew_at)

    def keep(self) -> None:
        """Renew what is held when it is time; try the standbys whose holder's lease has ended."""
        now = time.monotonic()
        if now >= self._renew_at:
            self._renew_at = now + self.lease_seconds / 3
            self._renew()
        with self._lock:
            due = [(name, self._standby[name]) for name, at in self._try_at.items() if at <= now]
        for name, holder in due:
            wall = time.time()
            try:
                taken = self.store.acquire(name, self.node, self.lease_seconds, wall)
                record = self.store.load(name)
            except Exception as exc:  # noqa: BLE001 - down: every standby tries again later
                self._warn("take a lease in", exc)
                with self._lock:
                    for other, _ in due:
                        if other in self._try_at:
                            self._try_at[other] = now + self.lease_seconds / 3
                return
            if taken and record is not None:
                with self._lock:
                    if self._standby.pop(name, None) is None:
                        continue  # released meanwhile (a shutdown)
                    del self._try_at[name]
                    self._owned[name] = holder
                log.info("agent %s: node %s takes it over", name, self.node)
                holder.taken_up(record)
                continue
            # Every third of the lease (a clean release is taken up within it), and exactly at the
            # end of the holder's lease when that comes sooner (a dead holder's runs out then).
            until = None if record is None else record.lease_until
            wait = self.lease_seconds / 3
            if until is not None:
                wait = min(max(0.0, until - wall), wait)
            with self._lock:
                if name in self._try_at:
                    self._try_at[name] = time.monotonic() + wait + _MARGIN_S

    def _renew(self) -> None:
        with self._lock:
            owned = list(self._owned)
        try:
            held = self.store.renew(owned, self.node, self.lease_seconds, time.time())
        except Exception as exc:  # noqa: BLE001 - keep running from memory while it is down
            self._warn("renew the leases in", exc)
            return
        for name in owned:
            if name not in held:
                with self._lock:
                    holder = self._owned.pop(name, None)
                if holder is not None:
                    log.warning("agent %s: node %s lost its lease in %s; another node runs it now", name,
                                self.node, self.store.url)
                    holder.lost()
