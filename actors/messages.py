"""Public messages: frozen dataclasses that validate on construction, so a tell never
carries a bad schedule into an actor's mailbox."""

from __future__ import annotations

from dataclasses import dataclass, field

from actors._validate import shown
from actors.errors import ArgumentTypeError
from actors.schedule import Schedule, parse_schedule

__all__ = ["GetStats", "RunNow", "Start", "Stop", "check_max_retries"]


def check_max_retries(max_retries: object) -> int:
    """Validate ``max_retries`` (total attempts, 1 initial + retries)."""
    if isinstance(max_retries, bool) or not isinstance(max_retries, int):
        raise ArgumentTypeError(f"max_retries must be an int >= 1, not {type(max_retries).__name__}: {shown(max_retries)}")
    if max_retries < 1:
        raise ValueError(f"max_retries must be >= 1 (it counts the first attempt too), got {shown(max_retries)}")
    return max_retries


@dataclass(frozen=True, slots=True)
class Start:
    """Start the agent's schedule; ``ask`` answers True when started, False if already running.

    Attributes:
        expr: A [schedule expression](schedules.md), parsed here: a bad one raises ``ValueError``.
        max_retries: Attempts per execution, the first included (>= 1).
        run_immediately: Dispatch the first run at once (ticks still count from the start).
        schedule: The parsed ``expr`` (set from it, not an argument).
    """

    expr: str
    max_retries: int = 3
    run_immediately: bool = False
    schedule: Schedule = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "schedule", parse_schedule(self.expr))
        check_max_retries(self.max_retries)
        if not isinstance(self.run_immediately, bool):
            if type(self.run_immediately) is int and self.run_immediately in (0, 1):  # JSON/CLI callers
                object.__setattr__(self, "run_immediately", bool(self.run_immediately))
            else:
                raise ArgumentTypeError(f"run_immediately must be a bool, got {shown(self.run_immediately)}")


@dataclass(frozen=True, slots=True)
class Stop:
    """Stop the agent's schedule; ``ask`` answers the final stats once stopped. No fields.

    The agent stays in the system, answers [`GetStats`][actors.GetStats], and a later
    [`Start`][actors.Start] runs it again.
    """


@dataclass(frozen=True, slots=True)
class RunNow:
    """Run the agent once now; ``ask`` answers whether a run started. No fields.

    Skipped (and counted in ``skipped_ticks``) while a run is in flight; ignored while the
    schedule is not running.
    """


@dataclass(frozen=True, slots=True)
class GetStats:
    """Ask for the agent's stats dict, answered even while a run is in flight. No fields."""
