"""What happens to a system's agents, as events: `ActorSystem.subscribe(fn)` receives them.

Each event is a frozen dataclass naming its ``agent`` and the wall time ``at`` (epoch seconds,
from the system's clock: a virtual one in tests). An agent's events arrive in the order they
happened; they are delivered off the agent's own thread, so a slow subscriber delays other
subscribers, never an agent. With no subscriber nothing is built at all.

| event | when |
|---|---|
| `RunStarted` | an execution's first attempt starts (a tick, a catch-up or a RunNow) |
| `AttemptFailed` | an attempt raised or timed out (``will_retry``: a retry follows) |
| `RunFinished` | an execution ended: succeeded, failed or cancelled (its history entry) |
| `TickSkipped` | ticks fell while a run was in flight, and the overlap policy dropped them |
| `TickMissed` | ticks nobody could run (paused, a stalled process, catch-up) |
| `AgentPaused` / `AgentResumed` | the schedule was paused (by a Pause or by ``pause_after_failures``) / resumed |
| `AgentCrashed` | the actor itself raised (a bug, not an agent failure); ``gave_up``: it is dead now |
| `AgentRestarted` | supervision restarted the actor after a crash |
| `DeadLetter` | a message was told to a dead agent |
"""

from __future__ import annotations

from dataclasses import dataclass

from actors.history import RunOutcome

__all__ = ["AgentCrashed", "AgentPaused", "AgentRestarted", "AgentResumed", "AttemptFailed", "DeadLetter", "Event",
           "RunFinished", "RunStarted", "TickMissed", "TickSkipped"]


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every event: which agent, and when (wall clock, epoch seconds)."""

    agent: str
    """The agent's name in its system."""
    at: float
    """When it happened: the system clock's wall time, epoch seconds."""


@dataclass(frozen=True, slots=True)
class RunStarted(Event):
    """An execution's first attempt started."""

    run_id: int
    """The execution's number for this agent (its history entry has the same ``run_id``)."""
    lateness_ms: float | None
    """Due time -> start, in ms; None for a RunNow (due when asked for)."""


@dataclass(frozen=True, slots=True)
class AttemptFailed(Event):
    """An attempt raised or timed out."""

    run_id: int
    """The execution it belongs to."""
    attempt: int
    """1 for the first attempt of the execution."""
    error: str
    """``repr`` of the error."""
    will_retry: bool
    """True when another attempt follows after the backoff delay."""


@dataclass(frozen=True, slots=True)
class RunFinished(Event):
    """An execution ended; the fields are those of its history entry."""

    run_id: int
    """The execution's number."""
    outcome: RunOutcome
    """Succeeded, failed, cancelled (a stop or pause cut it short) or interrupted."""
    attempts: int
    """Attempts it made."""
    duration_s: float
    """First attempt's start -> end."""
    lateness_ms: float | None
    """Due time -> start, in ms; None for a RunNow."""
    error: str | None
    """``repr`` of the last error, if any."""
    result: str | None
    """A short ``repr`` of the result of a successful execution."""


@dataclass(frozen=True, slots=True)
class TickSkipped(Event):
    """Ticks fell while a run was in flight and did not start one (the overlap policy)."""

    count: int
    """How many."""


@dataclass(frozen=True, slots=True)
class TickMissed(Event):
    """Ticks nobody ran: they fell while paused or while the process stalled or was down."""

    count: int
    """How many."""


@dataclass(frozen=True, slots=True)
class AgentPaused(Event):
    """The schedule was paused: no tick starts a run until it is resumed."""

    reason: str
    """The Pause's reason, or why the agent paused itself."""


@dataclass(frozen=True, slots=True)
class AgentResumed(Event):
    """A paused schedule was resumed."""


@dataclass(frozen=True, slots=True)
class AgentCrashed(Event):
    """The agent's actor raised while handling a message (a bug, not an agent failure)."""

    error: str
    """``repr`` of what it raised."""
    gave_up: bool
    """True when supervision gave up: the agent is stopped and dead."""


@dataclass(frozen=True, slots=True)
class AgentRestarted(Event):
    """Supervision restarted the agent's actor after a crash, with its schedule and stats."""

    restarts: int
    """Restarts so far (the ``restarts`` stat)."""


@dataclass(frozen=True, slots=True)
class DeadLetter(Event):
    """A message was told to a dead agent (also counted in ``ActorSystem.dead_letters``)."""

    message: str
    """``repr`` of the message."""
