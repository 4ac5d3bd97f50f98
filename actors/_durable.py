"""What an agent actor tells its system's store, and how a stored schedule is taken up again.

With a store, the actor (the only writer of its state) appends an `AgentUpdate` to its
system's `Journal` at each change that a later process needs: a Start (its spec and grid), a
run that begins (so that a process dying in it leaves an ``interrupted`` run), a run that
ends (its history entry, the counters, the next due time), a pause, a resume, a stop, the end
of the schedule. Without a store none of this runs: ``actor.journal`` is None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from actors._protocol import ResumePoint
from actors.history import FIELDS
from actors.messages import Start
from actors.options import CATCH_UP_LIMIT, CatchUp
from actors.store import AgentRecord, AgentUpdate, DesiredState

if TYPE_CHECKING:
    from actors._actor_state import ActorState

__all__ = ["downtime_plan", "resume_point", "spec_of", "start_of", "write"]

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
    counters = record.counters
    anchor = counters.get("anchor_wall")
    if anchor is None:
        return None
    running = counters.get("running")
    paused = (counters.get("paused_reason") or "paused") if record.state is DesiredState.PAUSED else None
    entries = tuple(tuple(entry[f] for f in FIELDS) for entry in reversed(history))
    return ResumePoint(float(anchor), record.next_due, counters, paused,
                       None if running is None else (int(running[0]), float(running[1]), float(running[2])), entries)


def downtime_plan(policy: CatchUp, overdue: int) -> tuple[int, int]:
    """(ticks to run, ticks missed) for ``overdue`` ticks that fell while no process ran the
    agent: unlike a stalled loop's late tick, even one of them is a missed tick."""
    if overdue <= 0 or policy is CatchUp.SKIP:
        return 0, max(0, overdue)
    if policy is CatchUp.ONCE:
        return 1, overdue - 1
    runs = min(overdue, CATCH_UP_LIMIT)
    return runs, overdue - runs


def write(actor: ActorState, state: DesiredState | None = None, start: dict[str, Any] | None = None,
          history: tuple[Any, ...] | None = None, running: list[Any] | None = None) -> None:
    """Queue the actor's current counters and next due time (plus what is given) for its
    store. Call only when ``actor.journal`` is set, on the actor's thread."""
    journal = actor.journal
    assert journal is not None  # the caller checked: this module runs only with a store
    clock = actor.clock
    counters = actor.stats.counters()
    counters["run_seq"] = actor._run_seq
    counters["anchor_wall"] = actor._anchor + (clock.now() - clock.monotonic())
    counters["running"] = running
    counters["paused_reason"] = actor.paused_reason
    next_due = actor._next_tick_at
    if next_due is None and actor._paused and actor._resume_from is not None:
        next_due = actor._resume_from + (clock.now() - clock.monotonic())  # the first tick the pause holds back
    journal.record(AgentUpdate(actor.name, start=start, state=state, next_due=next_due,
                               clear_next_due=next_due is None, counters=counters,
                               history=[] if history is None else [history]))
