"""What an agent actor tells its system's store, and how a stored schedule is taken up again.

With a store, the actor (the only writer of its state) tells its system's `Journal` of each
change that a later process needs, with deque appends only (`write`): a command (Start with
its spec, pause, resume, stop, the end of the schedule), a run that begins (so that a process
dying in it leaves an ``interrupted`` run), a run's history entry. The journal's thread reads
the counters, the grid and the next due time itself (`snapshot`). Without a store none of this
runs: ``actor.journal`` is None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from actors._protocol import ResumePoint
from actors.history import FIELDS
from actors.messages import Start
from actors.store import AgentRecord, DesiredState

if TYPE_CHECKING:
    from actors._actor_state import ActorState

__all__ = ["caught_up", "entries_of", "hold", "resume_point", "snapshot", "spec_of", "start_of", "write"]

_SPEC_OPTIONS = ("overlap", "catch_up", "jitter", "max_runs", "pause_after_failures")


def zone_name(zone: tzinfo | None) -> str | None:
    """An IANA name (or the zone's own name) for the store; None: the local zone."""
    return None if zone is None else str(getattr(zone, "key", None) or zone)


def spec_of(start: Start, zone: tzinfo | None) -> dict[str, Any]:
    """A validated Start as a store keeps it (JSON-able; compared to tell a replacement)."""
    options = start.options
    return {"expr": start.expr, "max_retries": start.max_retries, "run_immediately": start.run_immediately,
            "overlap": options.overlap.value, "catch_up": options.catch_up.value, "jitter": options.jitter,
            "max_runs": options.max_runs, "pause_after_failures": options.pause_after_failures,
            "timezone": zone_name(zone)}


def start_of(spec: dict[str, Any]) -> Start:
    """The Start a stored spec describes (``ValueError`` if a newer writer stored one this code
    cannot read)."""
    return Start(spec["expr"], spec.get("max_retries", 3), spec.get("run_immediately", False),
                 **{key: spec[key] for key in _SPEC_OPTIONS if key in spec})


def resume_point(record: AgentRecord, history: Sequence[Mapping[str, Any]] = ()) -> ResumePoint | None:
    """Where ``record``'s schedule stands, or None if it is not to run (stopped, finished, or
    never started); ``history``: its newest stored entries, newest first."""
    if record.start is None or record.state not in (DesiredState.STARTED, DesiredState.PAUSED):
        return None
    counters, last_due = caught_up(record.counters, history)
    anchor = counters.get("anchor_wall")
    if anchor is None:
        return None
    running = counters.get("running")
    paused = (counters.get("paused_reason") or "paused") if record.state is DesiredState.PAUSED else None
    entries = entries_of(history)
    if running is not None and any(e["run_id"] == running[0] for e in history):
        running = None  # that run ended: its entry is in the history
    next_due = record.next_due
    if last_due is not None and (next_due is None or last_due >= next_due):
        next_due = None  # behind the history: _take_up finds the tick after last_due
    return ResumePoint(float(anchor), next_due, counters, paused,
                       None if running is None else (int(running[0]), float(running[1]), float(running[2])), entries,
                       last_due)


def entries_of(history: Sequence[Mapping[str, Any]]) -> tuple[tuple[Any, ...], ...]:
    """Stored history entries (newest first, as dicts) as `actors.history` keeps them: tuples
    in `FIELDS` order, oldest first."""
    return tuple(tuple(entry[f] for f in FIELDS) for entry in reversed(history))


def caught_up(counters: Mapping[str, Any], history: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], float | None]:
    """``counters`` as a store last wrote them, plus the runs of ``history`` (newest first)
    that ended after that write (the counters are written every few seconds, each entry at
    once); and the newest of those runs' due time (wall), or None."""
    counters = dict(counters)
    seq = int(counters.get("ended_seq", 0))  # the runs whose ends these counters include
    newer = sorted((e for e in history if e["run_id"] > seq), key=lambda e: e["run_id"])
    outcomes = {"succeeded": "successful_executions", "failed": "failed_executions",
                "cancelled": "cancelled_executions", "interrupted": "interrupted_executions"}
    for e in newer:
        key = outcomes.get(e["outcome"])
        if key is not None:
            counters[key] = counters.get(key, 0) + 1
        attempts = int(e["attempts"] or 0)
        counters["total_attempts"] = counters.get("total_attempts", 0) + attempts
        counters["retries"] = counters.get("retries", 0) + max(0, attempts - 1)
        if e["outcome"] == "succeeded":
            counters["consecutive_failures"] = 0
        elif e["outcome"] == "failed":
            counters["consecutive_failures"] = counters.get("consecutive_failures", 0) + 1
            counters["last_error"] = e["error"]
        counters["last_run_at"], counters["last_lateness_ms"] = e["started_at"], e["lateness_ms"]
        counters["ended_seq"] = e["run_id"]
        counters["run_seq"] = max(int(counters.get("run_seq", 0)), e["run_id"])
    return counters, (float(newer[-1]["scheduled_for"]) if newer else None)


def write(actor: ActorState, state: DesiredState | None = None, start: dict[str, Any] | None = None,
          history: tuple[Any, ...] | None = None) -> None:
    """Tell the actor's journal what changed: a command's ``state`` (and ``start`` spec), a
    finished run's ``history`` entry; the counters, the next due time and a run in flight are
    read by the journal itself when it writes (`snapshot`), once per agent per batch. Call
    only when ``actor.journal`` is set, on the actor's thread: a few deque appends, no I/O."""
    journal = actor.journal
    assert journal is not None  # the caller checked: this module runs only with a store
    if history is not None:
        journal.entries.extend((actor, history))  # one call: the journal never sees half a pair
    if state is not None or start is not None:
        journal.commands.append((actor.name, state, start))
        journal.touched.append(actor)


def hold(actor: ActorState) -> None:
    """A shutdown (or a lost lease) is about to stop the actor here while the store keeps it
    started: remember where its schedule stands (grid, next due time, pause) for `snapshot`."""
    actor.store_hold = None
    counters, next_due = snapshot(actor)
    actor.store_hold = (counters["anchor_wall"], next_due, counters["paused_reason"])


def snapshot(actor: ActorState) -> tuple[dict[str, Any], float | None]:
    """The counters (with the grid anchor, the run in flight and the pause reason) and the next
    due time (wall) of ``actor``, read from the journal's thread. Each field is one atomic read,
    and the batch after a change reads them again, so the store catches up with the actor."""
    clock = actor.clock
    offset = clock.now() - clock.monotonic()
    counters = actor.stats.counters()
    counters["run_seq"] = actor._run_seq
    counters["ended_seq"] = actor._ended_seq
    ex = actor._execution
    counters["running"] = None if ex is None or not ex.started_at else [
        ex.run_id, ex.started_at - (ex.lateness_ms or 0.0) / 1000.0, ex.started_at]
    held = actor.store_hold
    if held is not None:  # a shutdown stopped it here: the store keeps where its schedule stood
        counters["anchor_wall"], counters["paused_reason"] = held[0], held[2]
        return counters, held[1]
    counters["anchor_wall"] = actor._anchor + offset
    counters["paused_reason"] = actor.paused_reason
    next_due = actor._next_tick_at
    resume_from = actor._resume_from
    if next_due is None and actor._paused and resume_from is not None:
        next_due = resume_from + offset  # the first tick the pause holds back
    return counters, next_due
