"""Start options: what a tick does while a run is in flight (`Overlap`), what happens to ticks
nobody could run (`CatchUp`), jitter, a limit of runs, and pausing after failures in a row.

Pure policy, validated on construction and free of threads and time: the actor asks
[`catch_up_plan`][actors.options.catch_up_plan] how many of a stalled loop's overdue ticks to
run, and reads the rest off `StartOptions`.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Final

from actors._validate import check_int, shown
from actors.errors import ArgumentTypeError

__all__ = ["CATCH_UP_LIMIT", "CatchUp", "Overlap", "StartOptions", "catch_up_plan"]

#: ``catch_up="all"`` runs at most this many missed ticks, one after the other (DESIGN.md).
CATCH_UP_LIMIT: Final = 100


class Overlap(enum.StrEnum):
    """What a tick does while the previous run of the same agent is still in flight."""

    SKIP = "skip"                         #: the tick is skipped (``skipped_ticks``)
    QUEUE_ONE = "queue_one"               #: one run starts right after the current one; more ticks are skipped
    CANCEL_PREVIOUS = "cancel_previous"   #: the running one is cancelled (stop rules), then the new one starts


class CatchUp(enum.StrEnum):
    """What happens to ticks that fell while nothing could run them (a loop stalled past whole
    intervals; with a store, downtime). Ticks that fell while paused never run."""

    SKIP = "skip"  #: none run (``missed_ticks``)
    ONCE = "once"  #: one run stands for all of them, the rest are ``missed_ticks``
    ALL = "all"    #: each runs, one after the other, at most `CATCH_UP_LIMIT`


def _choice(name: str, kind: type[enum.StrEnum], value: object) -> enum.StrEnum:
    accepted = ", ".join(repr(member.value) for member in kind)
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{name} must be one of {accepted}, not {type(value).__name__}: {shown(value)}")
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"{name} must be one of {accepted}, got {shown(value)}") from None


def _optional_count(name: str, value: object) -> int | None:
    return None if value is None else check_int(name, value, minimum=1)


@dataclass(frozen=True, slots=True)
class StartOptions:
    """The options of one ``Start`` (every field as the ``Start`` message documents it).

    Raises ``ValueError`` (``TypeError`` too for a wrong type) naming a bad value and the
    accepted forms.
    """

    overlap: Overlap = Overlap.SKIP
    catch_up: CatchUp = CatchUp.ONCE
    jitter: float = 0.0
    max_runs: int | None = None
    pause_after_failures: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "overlap", _choice("overlap", Overlap, self.overlap))
        object.__setattr__(self, "catch_up", _choice("catch_up", CatchUp, self.catch_up))
        jitter = self.jitter
        if isinstance(jitter, bool) or not isinstance(jitter, (int, float)):
            raise ArgumentTypeError(f"jitter must be a number of seconds >= 0, not {type(jitter).__name__}: {shown(jitter)}")
        if not math.isfinite(jitter) or jitter < 0:
            raise ValueError(f"jitter must be a finite number of seconds >= 0, got {shown(jitter)}")
        object.__setattr__(self, "jitter", float(jitter))
        _optional_count("max_runs", self.max_runs)
        _optional_count("pause_after_failures", self.pause_after_failures)


#: The options of a plain ``Start``: shared, so 100,000 agents hold one object, not 100,000.
DEFAULT_OPTIONS: Final = StartOptions()


def catch_up_plan(policy: CatchUp, overdue: int, downtime: bool = False) -> tuple[int, int]:
    """Return (ticks to run, ticks missed) for ``overdue`` ticks due at once.

    For a running process one overdue tick is a tick on time (perhaps late, never missed): it
    runs. More than one means the loop stalled past whole intervals, and ``policy`` decides.
    With ``downtime`` the ticks fell while no process ran the agent (a store resumes it): then
    even one of them is a missed tick, and ``policy`` decides about all of them.
    """
    if overdue <= 0:
        return 0, 0
    if overdue == 1 and not downtime:
        return 1, 0
    if policy is CatchUp.SKIP:
        return 0, overdue
    if policy is CatchUp.ONCE:
        return 1, overdue - 1
    runs = min(overdue, CATCH_UP_LIMIT)
    return runs, overdue - runs
