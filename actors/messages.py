"""Public messages: frozen dataclasses that validate on construction, so a tell never
carries a bad schedule into an actor's mailbox."""

from __future__ import annotations

from dataclasses import dataclass, field

from actors._validate import check_int, shown
from actors.errors import ArgumentTypeError
from actors.options import DEFAULT_OPTIONS, CatchUp, Overlap, StartOptions
from actors.schedule import DelaySchedule, IntervalSchedule, Schedule, parse_schedule

__all__ = ["GetHistory", "GetStats", "Pause", "Resume", "RunNow", "Start", "Stop", "check_max_retries"]


def check_max_retries(max_retries: object) -> int:
    """Validate ``max_retries`` (total attempts, 1 initial + retries)."""
    if isinstance(max_retries, bool) or not isinstance(max_retries, int):
        raise ArgumentTypeError(f"max_retries must be an int >= 1, not {type(max_retries).__name__}: {shown(max_retries)}")
    if max_retries < 1:
        raise ValueError(f"max_retries must be >= 1 (it counts the first attempt too), got {shown(max_retries)}")
    return max_retries


# _FIELDLESS: the messages without fields keep object's own __init__ (C) instead of the
# generated empty Python one: ``ref.tell(RunNow())`` is a few µs, one Python call ~0.3 µs of it.

@dataclass(frozen=True, slots=True)
class Start:
    """Start the agent's schedule; ``ask`` answers True when started, False if already running.

    Attributes:
        expr: A [schedule expression](schedules.md), parsed here: a bad one raises ``ValueError``.
        max_retries: Attempts per execution, the first included (>= 1).
        run_immediately: Dispatch the first run at once (ticks still count from the start).
        overlap: A tick while the previous run is in flight: ``"skip"``, ``"queue_one"`` or
            ``"cancel_previous"`` (see [schedule control](schedule-control.md)).
        catch_up: Ticks nobody could run (a stalled loop; downtime, with a store):
            ``"skip"``, ``"once"`` or ``"all"``.
        jitter: Seconds; each tick is delayed by a random amount in ``[0, jitter)``.
        max_runs: After that many executions the schedule ends (state ``"finished"``).
        pause_after_failures: After that many failed executions in a row the agent pauses.
        schedule: The parsed ``expr`` (set from it, not an argument).
        options: The validated options (set from them, not an argument).
    """

    expr: str
    max_retries: int = 3
    run_immediately: bool = False
    overlap: Overlap | str = field(default=Overlap.SKIP, kw_only=True)
    catch_up: CatchUp | str = field(default=CatchUp.ONCE, kw_only=True)
    jitter: float = field(default=0.0, kw_only=True)
    max_runs: int | None = field(default=None, kw_only=True)
    pause_after_failures: int | None = field(default=None, kw_only=True)
    schedule: Schedule = field(init=False, repr=False, compare=False)
    options: StartOptions = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "schedule", parse_schedule(self.expr))
        check_max_retries(self.max_retries)
        options = StartOptions(self.overlap, self.catch_up, self.jitter, self.max_runs,  # type: ignore[arg-type]
                               self.pause_after_failures)
        object.__setattr__(self, "options", DEFAULT_OPTIONS if options == DEFAULT_OPTIONS else options)
        object.__setattr__(self, "overlap", options.overlap)
        object.__setattr__(self, "catch_up", options.catch_up)
        object.__setattr__(self, "jitter", options.jitter)
        schedule = self.schedule
        if options.jitter and isinstance(schedule, (IntervalSchedule, DelaySchedule)) and options.jitter >= schedule.seconds:
            raise ValueError(f"jitter must be shorter than the interval of {self.expr!r} ({schedule.seconds:g}s), "
                             f"got {shown(self.jitter)}")
        if not isinstance(self.run_immediately, bool):
            if type(self.run_immediately) is int and self.run_immediately in (0, 1):  # JSON/CLI callers
                object.__setattr__(self, "run_immediately", bool(self.run_immediately))
            else:
                raise ArgumentTypeError(f"run_immediately must be a bool, got {shown(self.run_immediately)}")


@dataclass(frozen=True, slots=True, init=False)  # see _FIELDLESS
class Stop:
    """Stop the agent's schedule; ``ask`` answers the final stats once stopped. No fields.

    The agent stays in the system, answers [`GetStats`][actors.GetStats], and a later
    [`Start`][actors.Start] runs it again.
    """


@dataclass(frozen=True, slots=True, init=False)  # see _FIELDLESS
class RunNow:
    """Run the agent once now; ``ask`` answers whether a run started. No fields.

    Skipped (and counted in ``skipped_ticks``) while a run is in flight; ignored while the
    schedule is not running.
    """


@dataclass(frozen=True, slots=True, init=False)  # see _FIELDLESS
class GetStats:
    """Ask for the agent's stats dict, answered even while a run is in flight. No fields."""


@dataclass(frozen=True, slots=True)
class Pause:
    """Stop ticking but keep the schedule; ``ask`` answers True if the agent was running.

    Waits end and an in-flight run may finish, by the stop rules. Ticks that fall while
    paused are counted in ``missed_ticks`` and never run. Pausing a paused or stopped agent
    answers False.

    Attributes:
        reason: Shown in the stats as ``paused_reason``.
    """

    reason: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.reason, str):
            raise ArgumentTypeError(f"reason must be a str, not {type(self.reason).__name__}: {shown(self.reason)}")


@dataclass(frozen=True, slots=True, init=False)  # see _FIELDLESS
class Resume:
    """Continue a paused schedule from its next due tick; ``ask`` answers True if it was paused.
    No fields."""


@dataclass(frozen=True, slots=True)
class GetHistory:
    """Ask for the newest executions first, each a dict (see [schedule control](schedule-control.md)).

    Attributes:
        limit: At most this many entries (>= 1); the last 100 are kept in memory.
    """

    limit: int = 20

    def __post_init__(self) -> None:
        check_int("limit", self.limit, minimum=1)
