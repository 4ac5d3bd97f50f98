"""The schedule grammar and next-fire computation: pure functions, no threads, no asyncio.

Two clocks, on purpose. Intervals run fixed-rate on the monotonic clock (tick k is due at
``anchor + k * seconds``, computed from k rather than accumulated, so a 20 ms interval does not
drift after 1,000 ticks). Cron expressions are wall-clock by definition and are evaluated by
cronsim in the configured time zone, which fires a daily ``30 2 * * *`` job once on both DST
change days (croniter fires it twice on Europe/Berlin's fall-back day; see the architecture doc).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from actors._validate import shown
from actors.errors import ArgumentTypeError

__all__ = ["CronSchedule", "IntervalSchedule", "Schedule", "parse_schedule", "ACCEPTED_FORMS"]

ACCEPTED_FORMS: Final = (
    "'hourly', 'daily', 'weekly' (fixed intervals from start); "
    "'@hourly', '@daily', '@weekly' (aligned to the wall clock); "
    "'*/N' with an optional unit s|m|h|d ('*/30m'; bare '*/N' is seconds); "
    "a positive number of seconds ('3600', '0.25'); "
    "'every N <unit>' ('every 5 minutes', 'every 90s'); "
    "'cron:M H DOM MON DOW' (5 fields, wall clock, in the configured timezone)"
)

_NAMED_INTERVALS: Final = {"hourly": 3600.0, "daily": 86400.0, "weekly": 604800.0}
_CRON_ALIASES: Final = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0"}
_UNIT_SECONDS: Final = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_UNIT_WORDS: Final = {
    "s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
    "m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
    "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "d": "d", "day": "d", "days": "d",
}
_NUMBER: Final = r"((?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)"
_STAR_RE: Final = re.compile(rf"\*/\s*{_NUMBER}\s*([smhd]?)")
_EVERY_RE: Final = re.compile(rf"every\s+(?:{_NUMBER}\s*)?([a-z]+)")
_PLAIN_RE: Final = re.compile(r"[+]?(\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?")


# Below this an interval is not a schedule but a busy loop: 1e-300 "ran" 3,405 times a second
# and counted a 300-digit number of skipped ticks. 1 ms is also asyncio's timer resolution.
MIN_INTERVAL_S: Final = 0.001


def _error(expr: object, reason: str) -> ValueError:
    return ValueError(f"invalid schedule {shown(expr)}: {reason}. Accepted forms: {ACCEPTED_FORMS}")


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


Schedule = IntervalSchedule | CronSchedule


def _positive_seconds(expr: object, value: float) -> float:
    if not math.isfinite(value):
        raise _error(expr, "the interval must be finite")
    if value <= 0:
        raise _error(expr, "the interval must be greater than zero")
    if value < MIN_INTERVAL_S:
        raise _error(expr, f"the interval must be at least {MIN_INTERVAL_S * 1000:g} ms")
    return value


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
        raise ArgumentTypeError(
            f"invalid schedule {shown(expr)}: must be a str (or a number of seconds), not {type(expr).__name__}. "
            f"Accepted forms: {ACCEPTED_FORMS}"
        )
    if not isinstance(expr, str):
        try:
            seconds = float(expr)
        except OverflowError:  # an int beyond float range
            raise _error(expr, "the interval must be finite") from None
        return IntervalSchedule(str(expr), _positive_seconds(expr, seconds))
    return _parse_text(expr, timezone)


# Schedules are frozen, so 100,000 agents told Start("hourly") share one: a parse and an
# object per agent saved (errors are not cached: they raise again each time).
@lru_cache(maxsize=512)
def _parse_text(expr: str, timezone: tzinfo | None) -> Schedule:
    text = expr.strip().lower()
    if not text:
        raise _error(expr, "it is empty")
    if text in _NAMED_INTERVALS:
        return IntervalSchedule(expr, _NAMED_INTERVALS[text])
    if text in _CRON_ALIASES:
        return CronSchedule(expr, _CRON_ALIASES[text], timezone)
    if text.startswith("cron:"):
        fields = " ".join(expr.strip()[5:].split())
        if len(fields.split()) != 5:
            raise _error(expr, f"cron needs exactly 5 fields (M H DOM MON DOW), got {len(fields.split())}")
        try:
            CronSim(fields, datetime(2000, 1, 1))
        except CronSimError as exc:
            raise _error(expr, f"bad cron expression ({exc})") from None
        return CronSchedule(expr, fields, timezone)
    if match := _STAR_RE.fullmatch(text):
        number, unit = match.groups()
        return IntervalSchedule(expr, _positive_seconds(expr, float(number) * _UNIT_SECONDS[unit or "s"]))
    if match := _EVERY_RE.fullmatch(text):
        number, word = match.groups()
        unit = _UNIT_WORDS.get(word)
        if unit is None:
            raise _error(expr, f"unknown unit {word!r} (use seconds, minutes, hours or days)")
        return IntervalSchedule(expr, _positive_seconds(expr, float(number or 1) * _UNIT_SECONDS[unit]))
    if text in {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}:
        raise _error(expr, "the interval must be finite")
    if _PLAIN_RE.fullmatch(text):
        return IntervalSchedule(expr, _positive_seconds(expr, float(text)))
    if text.startswith("-") and _PLAIN_RE.fullmatch(text[1:]):
        raise _error(expr, "the interval must be greater than zero")
    if len(text.split()) == 5:
        raise _error(expr, "cron expressions need the 'cron:' prefix, e.g. 'cron:" + expr.strip() + "'")
    raise _error(expr, "not a recognised form")
