"""The schedule grammar and next-fire computation: pure functions, no threads, no asyncio.

Two clocks, on purpose. Intervals run fixed-rate on the monotonic clock (tick k is due at
``anchor + k * seconds``, computed from k rather than accumulated, so a 20 ms interval does not
drift after 1,000 ticks). Cron expressions are wall-clock by definition and are evaluated by
cronsim in the configured time zone, which fires a daily ``30 2 * * *`` job once on both DST
change days (croniter fires it twice on Europe/Berlin's fall-back day; see the architecture doc).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim

from actors._validate import shown
from actors.errors import ArgumentTypeError

__all__ = ["ACCEPTED_FORMS", "AtSchedule", "CronSchedule", "DelaySchedule", "IntervalSchedule", "OneShot", "Schedule",
           "fires_after", "fires_between",
           "parse_schedule"]

ACCEPTED_FORMS: Final = (
    "'every 5m', '90s', 'every 5 minutes', '*/30m' or a number of seconds (fixed intervals from start); "
    "'hourly', 'daily', 'weekly' (the same); '@hourly', '@daily', '@weekly' (aligned to the wall clock); "
    "'every day at 09:00', 'every weekday at 9:30', 'every weekend at 10am', 'every monday at 08:00' and "
    "'cron:M H DOM MON DOW' (wall clock, in the configured timezone); 'at:2026-12-24 09:00' and "
    "'in 20 minutes' (one run)"
)
"""Every form of the grammar in one paragraph (the docs' Schedules page has it in full)."""

@dataclass(frozen=True, slots=True)
class IntervalSchedule:
    """A fixed-rate interval on the monotonic clock, counted from ``anchor`` (the start time).

    Attributes:
        expr: The expression it was parsed from.
        seconds: The interval.
        clock: Always ``"monotonic"``: due times are ``time.monotonic()`` values.
    """

    expr: str
    seconds: float
    clock: Literal["monotonic"] = "monotonic"

    def next_fire(self, now: float, anchor: float | None = None) -> float:
        """Return the first due time ``anchor + k * seconds`` (k >= 1) strictly after ``now``.

        ``anchor`` is the start the grid counts from; by default ``now`` (so ``now + seconds``).
        """
        if anchor is None:
            anchor = now
        k = max(1, math.floor((now - anchor) / self.seconds) + 1)
        due = anchor + k * self.seconds
        if due <= now:  # floor() landed one step short: now sits exactly on a grid point
            due = anchor + (k + 1) * self.seconds
        if due <= now:  # an interval below float resolution at this distance from anchor
            due = math.nextafter(now, math.inf)
        return due

    def index_of(self, due: float, anchor: float) -> int:
        """Return k for a due time produced by [`next_fire`][actors.IntervalSchedule.next_fire].

        Used to count the ticks missed between two due times.
        """
        return round((due - anchor) / self.seconds)


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A 5-field cron expression evaluated on the wall clock in ``tz`` (DST-correct).

    Attributes:
        expr: The expression it was parsed from (``"cron:30 2 * * *"``, ``"@daily"``).
        fields: The five cron fields (``"30 2 * * *"``).
        tz: The time zone; None means the local zone at each evaluation.
        clock: Always ``"wall"``: due times are ``time.time()`` values.
    """

    expr: str
    fields: str
    tz: tzinfo | None = None
    clock: Literal["wall"] = "wall"

    def with_timezone(self, tz: tzinfo) -> CronSchedule:
        """Return the same expression evaluated in ``tz``."""
        return CronSchedule(self.expr, self.fields, tz)

    def next_fire(self, now: float, anchor: float = 0.0) -> float:
        """Return the epoch time (``time.time()`` scale) of the first fire strictly after ``now``.

        ``anchor`` is unused (cron is aligned to the clock, not to the start); it keeps one
        signature for both kinds of schedule.
        """
        tz = self.tz
        if tz is None:
            from actors.config import local_timezone

            tz = local_timezone()
        start = datetime.fromtimestamp(math.floor(now), tz)
        for fire in CronSim(self.fields, start):
            ts = fire.timestamp()
            if ts > now:
                return ts
        raise ValueError(f"cron expression {self.expr!r} never fires")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class DelaySchedule:
    """One run ``seconds`` after the start (``in 20 minutes``), on the monotonic clock.

    Attributes:
        expr: The expression it was parsed from.
        seconds: The delay.
        clock: Always ``"monotonic"``.
    """

    expr: str
    seconds: float
    clock: Literal["monotonic"] = "monotonic"

    def next_fire(self, now: float, anchor: float | None = None) -> float | None:
        """Return ``anchor + seconds`` if that is after ``now``, else None (it has fired)."""
        due = (now if anchor is None else anchor) + self.seconds
        return due if due > now else None


@dataclass(frozen=True, slots=True)
class AtSchedule:
    """One run at a wall-clock time (``at:2026-12-24 09:00``); a naive time is in ``tz``.

    Attributes:
        expr: The expression it was parsed from.
        when: The time; naive means "in ``tz``".
        tz: The zone of a naive ``when``; None means the local zone.
        clock: Always ``"wall"``.
    """

    expr: str
    when: datetime
    tz: tzinfo | None = None
    clock: Literal["wall"] = "wall"

    def with_timezone(self, tz: tzinfo) -> AtSchedule:
        """Return the same time with a naive ``when`` read in ``tz``."""
        return AtSchedule(self.expr, self.when, tz)

    def timestamp(self) -> float:
        """The epoch time (``time.time()`` scale) of the run."""
        if self.when.tzinfo is not None:
            return self.when.timestamp()
        tz = self.tz
        if tz is None:
            from actors.config import local_timezone

            tz = local_timezone()
        return self.when.replace(tzinfo=tz).timestamp()

    def next_fire(self, now: float, anchor: float = 0.0) -> float | None:
        """Return the run's epoch time if it is after ``now``, else None (it has fired)."""
        ts = self.timestamp()
        return ts if ts > now else None

    def check_future(self, now: float) -> None:
        """Raise ``ValueError`` if the time is not after ``now`` (a ``Start`` of a past time)."""
        if self.timestamp() <= now:
            raise ValueError(f"invalid schedule {self.expr!r}: that time has passed (it is "
                             f"{datetime.fromtimestamp(now, self.when.tzinfo or self.tz).isoformat(' ', 'seconds')} now)")


Schedule = IntervalSchedule | CronSchedule | DelaySchedule | AtSchedule
OneShot = (DelaySchedule, AtSchedule)
"""The kinds of schedule that fire once (then the schedule is ``finished``)."""


def fires_between(schedule: Schedule, after: float, until: float, anchor: float, limit: int = 100_000) -> int:
    """Count the fires in ``(after, until]`` (on the schedule's own clock), at most ``limit``.

    ``limit`` bounds the walk of a cron schedule (an interval's count is arithmetic): a year of
    a minutely cron job paused is 525,600 fires, ~10 s of cronsim. Used for the ticks a
    pause or a stalled loop missed.
    """
    if until <= after:
        return 0
    if isinstance(schedule, IntervalSchedule):
        first, last = math.floor((after - anchor) / schedule.seconds), math.floor((until - anchor) / schedule.seconds)
        return min(limit, max(0, last - max(first, 0)))
    if not isinstance(schedule, CronSchedule):  # a one-shot fires at most once
        fire = schedule.next_fire(after, anchor)
        return int(fire is not None and fire <= until)
    count, fire = 0, schedule.next_fire(after)
    while fire <= until and count < limit:
        count += 1
        fire = schedule.next_fire(fire)
    return count


def fires_after(schedule: Schedule, after: float, n: int, anchor: float) -> list[float]:
    """The next ``n`` fire times strictly after ``after`` (fewer for a one-shot)."""
    fires: list[float] = []
    t: float | None = after
    while len(fires) < n and t is not None:
        t = schedule.next_fire(t, anchor)
        if t is not None:
            fires.append(t)
    return fires


def parse_schedule(expr: str | int | float, timezone: tzinfo | str | None = None) -> Schedule:
    """Parse a schedule expression (the grammar is in the docs' Schedules page).

    Args:
        expr: ``"hourly"``, ``"@daily"``, ``"*/30m"``, ``"every 90s"``, ``"cron:30 2 * * *"``,
            or a number of seconds (``3600``, ``"0.25"``).
        timezone: For cron forms only: a tzinfo or an IANA name; None means the local zone.

    Returns:
        An [`IntervalSchedule`][actors.IntervalSchedule] or a
        [`CronSchedule`][actors.CronSchedule].

    Raises:
        ValueError: Anything outside the grammar; a zero, negative, ``nan`` or ``inf``
            interval, or one below 1 ms; an unknown time zone; a cron expression cronsim rejects. The message names the expression
            and lists the accepted forms.
        ArgumentTypeError: A value that is neither a string nor a number. It is both a
            ``TypeError`` and a ``ValueError``.
    """
    if isinstance(timezone, str):
        try:
            timezone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {shown(timezone)} (use an IANA name such as 'Europe/Berlin')") from None
    elif timezone is not None and not isinstance(timezone, tzinfo):
        raise ArgumentTypeError(f"timezone must be an IANA name, a tzinfo or None, not {type(timezone).__name__}: "
                                f"{shown(timezone)}")
    if isinstance(expr, bool) or not isinstance(expr, (str, int, float)):
        raise ArgumentTypeError(f"invalid schedule {shown(expr)}: must be a str (or a number of seconds), "
                                f"not {type(expr).__name__} (all forms: docs/schedules.md)")
    from actors._grammar import parse_number, parse_text  # the grammar builds the schedules defined here

    return parse_text(expr, timezone) if isinstance(expr, str) else parse_number(expr)


