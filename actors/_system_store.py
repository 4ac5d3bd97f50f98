"""An `ActorSystem`'s store: opening it, taking up its agents at spawn, and letting them go.

At ``spawn(name=...)`` the system takes the agent's lease if no other live node holds it, and
if the store holds the name as started (or paused) posts the resume of that schedule before the
caller can tell anything. Without the lease the agent waits in standby: it runs none of its
ticks, and the journal takes it up the moment its lease is free (its owner stopped cleanly, or
died and the lease ran out). A node that loses a lease (it stalled past ``lease_seconds``)
stops the agent's ticks, keeping it started in the store, and goes back to standby.
"""

from __future__ import annotations

import itertools
import logging
import os
from typing import Any

from actors._durable import caught_up, entries_of, resume_point, start_of
from actors._journal import Journal
from actors._protocol import StopMsg
from actors._validate import check_name, check_seconds
from actors.history import HISTORY_IN_MEMORY, node_name
from actors.runtime import Binding
from actors.store import AgentRecord, Store, open_store

__all__ = ["StoreHolder"]

log = logging.getLogger("actors")
_HOLDERS = itertools.count(1)


class StoreHolder:
    """The store of one system and, while it has agents, its journal."""

    def __init__(self, store: str | os.PathLike[str] | Store, lease_seconds: float, node: str | None) -> None:
        self.lease_seconds = check_seconds("lease_seconds", lease_seconds, allow_zero=False)
        self.node = node_name() if node is None else check_name("node", node)
        # The lease holder: the node plus this holder's number, so that two systems (or
        # schedulers) of one process never both think they hold the same agent.
        self._holder = f"{self.node}#{next(_HOLDERS)}"
        self._given = store
        self._store: Store | None = open_store(store)  # a bad store raises here, at construction
        self.journal: Journal | None = None

    def adopt(self, binding: Binding) -> None:
        """Attach a new agent to the store (see the module docstring); call before returning its ref."""
        journal = self.journal
        if journal is None:
            store = self._store if self._store is not None else open_store(self._given)
            self._store = store
            journal = self.journal = Journal(store, self._holder, self.lease_seconds)
        actor = binding.actor
        actor.journal, actor.node = journal, self.node
        name = actor.name

        lease = _Lease(binding, journal)
        if journal.claim(name, lease):
            record = _load(journal, name)
            if record is not None and resume_point(record) is None:
                # Stopped or finished: it does not run, but keeps its counters and history.
                # Safe from this thread: nothing has been posted to the new actor yet.
                history = _history(journal, name)
                actor.restore_stored(caught_up(record.counters, history)[0], entries_of(history))
            elif record is not None:
                lease.taken_up(record)
            return
        actor.standby = True
        log.info("agent %s: another node holds its lease in %s; this one takes over if that node goes away",
                 name, journal.store.url)
        journal.wait_for(name, lease)

    def close(self) -> None:
        """After a shutdown: write what is queued, release the leases, close the store (a
        later spawn opens it again)."""
        journal, self.journal = self.journal, None
        if journal is not None:
            journal.close()
        if not isinstance(self._given, Store) and self._store is not None:
            self._store.close()
            self._store = None


class _Lease:
    """One agent's side of its lease: one object, where two closures were ten GC-tracked
    objects per agent (their cells and tuples) for every full collection to scan."""

    __slots__ = ("binding", "journal")

    def __init__(self, binding: Binding, journal: Journal) -> None:
        self.binding, self.journal = binding, journal

    def taken_up(self, record: AgentRecord) -> None:
        """Resume the stored schedule, or let this node start the agent if it is not started."""
        actor = self.binding.actor
        name = actor.name
        point = resume_point(record, _history(self.journal, name))
        if point is None:  # stopped, finished or never started: this node may start it now
            actor.standby = False
            return
        try:
            message = actor.start_message(start_of(record.start or {}))
        except (KeyError, TypeError, ValueError) as exc:
            log.error("agent %s: the stored schedule %r cannot be resumed (%s); start it again", name,
                      record.start, exc)
            actor.standby = False
            return
        message.resume = point
        self.binding.post(message, urgent=True)

    def lost(self) -> None:
        """Stop the agent here, keeping it started in the store; wait for the lease again."""
        self.binding.post(StopMsg(None, None, keep=True), urgent=True)
        self.journal.wait_for(self.binding.actor.name, self)


def _history(journal: Journal, name: str) -> list[dict[str, Any]]:
    try:
        return journal.store.history(name, HISTORY_IN_MEMORY)
    except Exception:  # noqa: BLE001 - _load has logged the outage
        return []


def _load(journal: Journal, name: str) -> AgentRecord | None:
    try:
        return journal.store.load(name)
    except Exception as exc:  # noqa: BLE001 - an outage: the agent starts from memory
        log.warning("agent %s: store %s could not be read (%s: %s); it starts from memory", name,
                    journal.store.url, type(exc).__name__, exc)
        return None

