"""The agent actor's internal protocol: the messages its mailbox carries, besides `Tick`.

Public messages (`Start`, `Stop`, ...) are translated into these by `AgentRef` and the
schedulers; the runtime's own reports (an attempt ended, a backoff or deadline timer fired)
are posted back as these. Outcomes and stop phases are enums, never strings or ints.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from actors.options import StartOptions
from actors.schedule import Schedule

__all__ = [
    "CALLBACK_DONE", "AttemptDone", "ResumePoint", "AttemptTimeout", "CallbackDone", "HistoryMsg", "InjectFault", "Outcome", "PauseMsg",
    "Reply", "ResumeMsg", "Retry", "RunDeadline", "RunNowMsg", "StartMsg", "StatsMsg", "StopDeadline", "StopMsg",
    "StopPhase",
]

Reply = Callable[[Any], None]


class Outcome(enum.Enum):
    """How one attempt ended."""

    OK = "ok"
    ERROR = "error"
    CANCELLED = "cancelled"  # a stop (or a restart) cut it short


class StopPhase(enum.Enum):
    """Where a stop waiting for a run in flight stands when its deadline timer fires."""

    GRACE = "grace"  # stop_timeout passed: cancel an async run (a sync one is abandoned)
    CANCEL_GRACE = "cancel grace"  # the cancelled async run did not unwind: abandon it


@dataclass(frozen=True, slots=True)
class ResumePoint:
    """Where a stored schedule stands when a process takes it up (with a store).

    ``anchor_wall``: the wall time its grid counts from; ``next_due``: the wall time of the
    tick that was next when its last owner wrote; ``counters``: the stats it kept;
    ``paused``: the pause reason if it was paused (None: running); ``interrupted``: the
    (run_id, scheduled_for, started_at) of a run its last owner died in, if any; ``history``:
    the newest stored entries, oldest first, as `actors.history` keeps them."""

    anchor_wall: float
    next_due: float | None
    counters: dict[str, Any]
    paused: str | None = None
    interrupted: tuple[int, float, float] | None = None
    history: tuple[tuple[Any, ...], ...] = ()
    last_due: float | None = None  # the due time (wall) of the newest run in the history


@dataclass(slots=True)
class StartMsg:
    """Start the schedule (a validated ``Start``; cron already in the agent's zone).

    ``spec``: the Start as a store keeps it (JSON-able); ``resume``: take up a stored schedule
    where it stands instead of starting afresh."""

    schedule: Schedule
    max_retries: int
    run_immediately: bool
    options: StartOptions
    reply: Reply | None = None
    spec: dict[str, Any] | None = None
    resume: ResumePoint | None = None


@dataclass(slots=True)
class StopMsg:
    """Stop the schedule; the reply gets the final stats once stopped."""

    timeout: float | None = None
    reply: Reply | None = None
    final: bool = False  # the runtime is torn down after it: no Start may follow
    keep: bool = False  # a shutdown (or a lost lease): a store keeps the agent started for the next process


@dataclass(slots=True)
class RunNowMsg:
    """Run once now; the reply gets whether a run started."""

    reply: Reply | None = None


@dataclass(slots=True)
class PauseMsg:
    """Pause the schedule; the reply gets whether the state changed."""

    reason: str
    reply: Reply | None = None


@dataclass(slots=True)
class ResumeMsg:
    """Resume a paused schedule; the reply gets whether the state changed."""

    reply: Reply | None = None


@dataclass(slots=True)
class HistoryMsg:
    """Answer the newest ``limit`` history entries."""

    limit: int
    reply: Reply


@dataclass(slots=True)
class RunDeadline:
    """A deadline of run ``run_id`` being cut short without a stop (a pause, ``cancel_previous``)."""

    run_id: int
    phase: StopPhase


@dataclass(slots=True)
class StatsMsg:
    """Answer the stats dict."""

    reply: Reply


@dataclass(slots=True)
class AttemptDone:
    """Attempt ``attempt`` of run ``run_id`` ended (late reports of abandoned ones are stale)."""

    run_id: int
    attempt: int
    outcome: Outcome
    value: Any


@dataclass(slots=True)
class Retry:
    """The backoff wait of run ``run_id`` ended."""

    run_id: int


@dataclass(slots=True)
class AttemptTimeout:
    """The attempt's ``timeout`` (for an async one: plus the cancel grace) passed."""

    run_id: int
    attempt: int


@dataclass(slots=True)
class StopDeadline:
    """A deadline of the stop of start ``epoch``."""

    epoch: int
    phase: StopPhase


@dataclass(slots=True)
class InjectFault:
    """Make the actor's own code raise ``error`` (to exercise supervision in tests and drills)."""

    error: BaseException


class CallbackDone:
    """A callback (on_success / on_failure) finished."""

    __slots__ = ()


CALLBACK_DONE = CallbackDone()
