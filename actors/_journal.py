"""A system's journal to its store: state written behind the runs, and the agents' leases.

Actors append what changed from the thread that serves them (deque appends: no lock, no I/O,
no dict built on a tick): themselves when their counters or next due time moved, a finished
run's history entry, a command's state. One thread per system (``actorsched-store``) turns
that into one `Batch` every `FLUSH_S` (flat rows, an `AgentUpdate` only for a command),
reading each touched agent's counters once (`actors._durable.snapshot`), and writes it as one
transaction; between batches its `Leases` renew what this node holds and try to take the
agents it spawned but another node runs (standby). A store that fails is retried at the next
flush with what piled up meanwhile; its errors are logged once per `WARN_EVERY_S`, so a
locked file or a server that is down costs a line a minute, never a delayed tick.
"""

from __future__ import annotations

import atexit
import json
import logging
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from actors._durable import snapshot
from actors._leases import LeaseHolder, Leases
from actors.store import AgentUpdate, Batch, DesiredState, Store

if TYPE_CHECKING:
    from actors._actor_state import ActorState

__all__ = ["FLUSH_S", "Journal", "WARN_EVERY_S"]

log = logging.getLogger("actors")

#: How long a write waits to join a batch; also what a kill -9 can lose (the runs since).
FLUSH_S = 0.1
# Snapshots read between two GIL hand-backs (see _collect).
_CHUNK = 100
#: An agent's counters are written at least this often while it runs (and at each command).
COUNTERS_EVERY_S = 5.0
#: How long a shutdown waits for a store call in progress before it gives up on the last writes.
CLOSE_WAIT_S = 10.0
#: The store's failures are logged at most once per this many seconds.
WARN_EVERY_S = 60.0


class Journal:
    """One system's write-behind journal and lease keeper (see the module docstring)."""

    def __init__(self, store: Store, node: str, lease_seconds: float) -> None:
        self.store, self.node = store, node  # the leases' clock: see actors._leases
        #: Agents whose counters, next due time or run in flight changed (repeats are fine).
        self.touched: deque[ActorState] = deque()
        #: Finished runs, in order: an agent then its history entry, two items per run (one
        #: ``extend``), so that no (agent, entry) pair is made to wait for the next batch.
        self.entries: deque[Any] = deque()
        # Counters to write by then: two deques, not one of (time, agent) pairs, so that 10,000
        # agents waiting add no GC-tracked tuple each to every full collection.
        self._deferred_at: deque[float] = deque()
        self._deferred: deque[ActorState] = deque()
        self._deferred_ids: set[int] = set()
        #: (name, state, start spec) of commands, in order.
        self.commands: deque[tuple[str, DesiredState | None, dict[str, Any] | None]] = deque()
        self._retry = Batch()  # a failed batch, written first next time (merged with the new one)
        self.leases = Leases(store, node, lease_seconds, self._warn)
        self._wake = threading.Event()
        self._closed = False
        self._warned_at = -WARN_EVERY_S
        self._failures = 0
        self._thread = threading.Thread(target=self._run, name="actorsched-store", daemon=True)
        self._thread.start()
        # An interpreter that exits without a shutdown (or a scheduler's stop) still writes what
        # is queued and hands its leases over, rather than make the next process wait them out.
        atexit.register(self.close)

    # -- from the system ---------------------------------------------------------------------
    def claim(self, name: str, holder: LeaseHolder) -> bool:
        """Try to take ``name``'s lease now (at spawn); True if this node runs it."""
        return self.leases.claim(name, holder)

    def wait_for(self, name: str, holder: LeaseHolder) -> None:
        """Take ``name``'s lease as soon as it is free, then call ``holder.taken_up(record)``
        (on the journal's thread); a later loss calls ``holder.lost()``."""
        self.leases.wait_for(name, holder)

    def close(self) -> None:
        """Write what is queued, give up this node's leases (so a survivor takes over at once),
        and end the thread."""
        if self._closed:
            return
        atexit.unregister(self.close)
        self._closed = True
        self._wake.set()
        self._thread.join(CLOSE_WAIT_S)
        if self._thread.is_alive():  # stuck in a call to a store that does not answer
            log.warning("store %s: no answer within %gs at shutdown; %d queued update(s) not written", self.store.url,
                        CLOSE_WAIT_S, len(self.touched) + len(self.entries) // 2 + self._retry.size())
            return
        self._flush(final=True)
        names = self.leases.release_all()
        try:
            self.store.release(names, self.node)
        except Exception as exc:  # noqa: BLE001
            self._warn("release the leases in", exc)

    # -- the journal's thread ----------------------------------------------------------------
    def _run(self) -> None:
        leases = self.leases
        while not self._closed:
            # Every FLUSH_S, or sooner when a standby's holder's lease ends.
            self._wake.wait(min(FLUSH_S, max(0.0, leases.next_due() - time.monotonic())))
            if self._closed:
                return
            self._flush()
            leases.keep()

    def _flush(self, final: bool = False) -> None:
        batch = self._collect(final)
        if self._retry:
            batch = _merge_batches(self._retry, batch, self.store.history_limit)
            self._retry = Batch()
        if not batch:
            return
        try:
            self.store.write(batch)
        except Exception as exc:  # noqa: BLE001 - kept for the next flush
            self._retry = batch
            self._warn("write to", exc)
            return
        if self._failures:
            log.warning("store %s: writing again after %d failed attempts", self.store.url, self._failures)
            self._failures = 0

    def _collect(self, final: bool = False) -> Batch:
        """One batch from what the actors queued since the last one.

        Every history entry and command goes into the batch. An agent's counters and next due
        time go in with a command, while one of its runs is in flight (so that a process dying
        in it leaves it interrupted), at a shutdown, or at most every `COUNTERS_EVERY_S`
        otherwise: at 10,000 runs a second, a snapshot and a row per run was a third of the
        GIL. What a crash leaves unwritten a resume reads back from the history entries newer
        than the counters (`actors._durable.resume_point`)."""
        now = time.monotonic()
        changes: dict[str, AgentUpdate] = {}
        history: list[tuple[Any, ...]] = []
        due: dict[int, ActorState] = {}
        # Only what this node holds the lease of is written: an agent in standby (or one
        # whose lease was just lost) must not overwrite the record its owner keeps.
        owned = self.leases.owned()
        commands = self.commands
        while commands:
            name, state, start = commands.popleft()
            if name not in owned:
                continue
            update = changes.setdefault(name, AgentUpdate(name))
            if state is not None:
                update.state = state
            if start is not None:
                update.start = start
        entries = self.entries
        while entries:
            actor = entries.popleft()
            entry = entries.popleft()  # the pair came in one extend: it is there
            if actor.name in owned:
                history.append((actor.name, *entry))
                self._defer(actor, now)
        touched = self.touched
        while touched:
            actor = touched.popleft()
            if actor.name not in owned:
                continue
            change = changes.get(actor.name)
            if (final or change is not None and change.state is not None
                    or actor._execution is not None or actor.store_hold is not None):
                due[id(actor)] = actor
            else:
                self._defer(actor, now)
        deferred, deferred_at = self._deferred, self._deferred_at
        while deferred and (final or deferred_at[0] <= now):
            deferred_at.popleft()
            actor = deferred.popleft()
            self._deferred_ids.discard(id(actor))
            if actor.name in owned:
                due[id(actor)] = actor
        progress: list[tuple[float | None, str, str]] = []
        for i, actor in enumerate(due.values(), 1):
            if i % _CHUNK == 0:
                time.sleep(0)  # let the ticks have the GIL between chunks of snapshots
            counters, next_due = snapshot(actor)
            change = changes.get(actor.name)
            if change is None:  # the JSON now: a string is nothing the GC tracks
                progress.append((next_due, json.dumps(counters, sort_keys=True), actor.name))
            else:
                change.counters, change.next_due, change.clear_next_due = counters, next_due, next_due is None
        return Batch(list(changes.values()), progress, history)

    def _defer(self, actor: ActorState, now: float) -> None:
        """Write ``actor``'s counters within `COUNTERS_EVERY_S` (once, however often it ran)."""
        if id(actor) not in self._deferred_ids:
            self._deferred_ids.add(id(actor))
            self._deferred_at.append(now + COUNTERS_EVERY_S)
            self._deferred.append(actor)

    def _warn(self, doing: str, exc: Exception) -> None:
        self._failures += 1
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            log.warning("store %s: could not %s it (%s: %s); schedules go on from memory and writes are retried "
                        "(logged once a minute)", self.store.url, doing, type(exc).__name__, exc)


def _merge_batches(first: Batch, later: Batch, history_limit: int) -> Batch:
    """One batch with the effect of ``first`` then ``later`` (a failed batch and the next)."""
    changes: dict[str, AgentUpdate] = {}
    for u in first.changes:
        changes[u.name] = u
    for u in later.changes:
        merged = changes.get(u.name)
        changes[u.name] = u if merged is None else _merge(merged, u, history_limit)
    # Progress is applied after the changes: an older row must not undo a newer change.
    renewed = {u.name for u in later.changes}
    progress = {row[2]: row for row in first.progress if row[2] not in renewed}
    progress.update((row[2], row) for row in later.progress)
    history = first.history + later.history
    if len(history) > history_limit:  # a long outage: keep each agent's newest entries only
        kept: dict[str, int] = {}
        newest = []
        for row in reversed(history):
            n = kept[row[0]] = kept.get(row[0], 0) + 1
            if n <= history_limit:
                newest.append(row)
        history = newest[::-1]
    return Batch(list(changes.values()), list(progress.values()), history)


def _merge(first: AgentUpdate, later: AgentUpdate, history_limit: int) -> AgentUpdate:
    """One update with the effect of ``first`` then ``later``."""
    history = first.history + later.history
    if len(history) > history_limit:
        history = history[-history_limit:]
    clear = later.clear_next_due or (first.clear_next_due and later.next_due is None)
    return AgentUpdate(
        first.name,
        start=later.start if later.start is not None else first.start,
        state=later.state if later.state is not None else first.state,
        next_due=None if clear else (later.next_due if later.next_due is not None else first.next_due),
        clear_next_due=clear,
        counters=later.counters if later.counters is not None else first.counters,
        history=history,
    )

