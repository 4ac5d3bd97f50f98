"""The schedule grammar: the text of an expression into one of the schedules of
`actors.schedule` (which calls `parse_text` from `actors.parse_schedule`). Durations (``5m``,
``90 seconds``), calendar forms (``every weekday at 9:30`` as cron fields), one-shot times
(``at:2026-12-24 09:00``), and the closest forms a bad expression's error suggests.

Pure functions over strings: no clock.
"""

from __future__ import annotations

import difflib
import math
import re
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Final

from cronsim import CronSim, CronSimError

from actors._validate import shown
from actors.schedule import AtSchedule, CronSchedule, DelaySchedule, IntervalSchedule, Schedule

__all__ = ["EXAMPLES", "MIN_INTERVAL_S", "calendar_fields", "closest_forms", "duration_seconds", "parse_instant",
           "parse_number", "parse_text", "positive_seconds", "schedule_error"]

_DECIMAL: Final = r"(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?"
UNIT_SECONDS: Final = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
UNIT_WORDS: Final = {
    "s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
    "m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
    "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "d": "d", "day": "d", "days": "d",
}
_DURATION_RE: Final = re.compile(rf"({_DECIMAL})\s*([a-z]+)")

# Cron's day-of-week numbers (0 = Sunday), by the words users write after "every".
_DAYS: Final = {
    "day": "*", "weekday": "1-5", "weekend": "0,6",
    "sunday": "0", "monday": "1", "tuesday": "2", "wednesday": "3", "thursday": "4", "friday": "5", "saturday": "6",
    "sun": "0", "mon": "1", "tue": "2", "tues": "2", "wed": "3", "thu": "4", "thur": "4", "thurs": "4",
    "fri": "5", "sat": "6",
}
_CALENDAR_RE: Final = re.compile(r"every\s+([a-z]+?)s?\s+at\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm)?")

#: One expression of each form, in the order the docs list them: the candidates a bad
#: expression's error message picks its closest matches from.
EXAMPLES: Final = (
    "every 5m", "every 90s", "every 5 minutes", "every hour", "30s", "5m", "2h", "3600", "*/30m",
    "hourly", "daily", "weekly", "@hourly", "@daily", "@weekly",
    "every day at 09:00", "every weekday at 9:30", "every weekend at 10:00", "every monday at 08:00",
    "cron:0 9 * * 1-5", "at:2026-12-24 09:00", "in 20 minutes", "in 90s",
)


def duration_seconds(text: str) -> float | None:
    """Seconds of ``"90s"``, ``"5 minutes"``, ``"1.5h"``; None if ``text`` is not a duration
    (a number with no unit is not one here: the caller decides what a bare number means)."""
    match = _DURATION_RE.fullmatch(text)
    if match is None:
        return None
    number, word = match.groups()
    unit = UNIT_WORDS.get(word)
    if unit is None:
        return None
    return float(number) * UNIT_SECONDS[unit]


def calendar_fields(text: str) -> str | None:
    """The cron fields of ``"every weekday at 9:30"`` (``"30 9 * * 1-5"``), ``"every day at
    9am"``, ``"every monday at 08:00"``; None if ``text`` is not of that form.

    Raises:
        ValueError: The form matches but the time does not exist (``25:00``, ``13pm``), or the
            day is unknown; the message says which part.
    """
    match = _CALENDAR_RE.fullmatch(text)
    if match is None:
        return None
    day, hour_text, minute_text, half = match.groups()
    dow = _DAYS.get(day)  # the pattern took a plural's "s" off: "every mondays" is "monday"
    if dow is None:
        raise ValueError(f"unknown day {day!r} (use day, weekday, weekend or a day name such as monday)")
    hour, minute = int(hour_text), int(minute_text or 0)
    if half is not None:
        if not 1 <= hour <= 12:
            raise ValueError(f"hour {hour} is not a 12-hour clock hour (1-12 with am/pm)")
        hour = hour % 12 + (12 if half == "pm" else 0)
    if hour > 23 or minute > 59:
        raise ValueError(f"{hour_text}:{minute_text or '00'} is not a time of day (00:00-23:59)")
    return f"{minute} {hour} * * {dow}"


def parse_instant(text: str) -> datetime:
    """The datetime of ISO 8601 ``text`` (``2026-12-24 09:00``, ``2026-12-24T09:00:00+01:00``,
    ``...Z``); naive when it has no offset (the caller applies the zone).

    Raises:
        ValueError: Not an ISO 8601 date and time.
    """
    try:
        return datetime.fromisoformat(text.strip().upper())  # only digits, signs, T and Z are letters
    except ValueError:
        raise ValueError("not an ISO 8601 time (e.g. 'at:2026-12-24 09:00' or 'at:2026-12-24T09:00:00+01:00')") from None


def closest_forms(text: str, n: int = 3) -> list[str]:
    """The ``n`` accepted forms most like ``text`` (for an error message), those that begin
    with the same word first (a bad ``at:`` time is shown ``at:`` forms)."""
    word = re.split(r"[\s:/]", text.strip(), maxsplit=1)[0]
    same = [form for form in EXAMPLES if word and form.startswith(word)]
    rest = [form for form in EXAMPLES if form not in same]
    ranked = difflib.get_close_matches(text, same, n=n, cutoff=0.0) + difflib.get_close_matches(text, rest, n=n, cutoff=0.0)
    return ranked[:n]


_NAMED_INTERVALS: Final = {"hourly": 3600.0, "daily": 86400.0, "weekly": 604800.0}
_CRON_ALIASES: Final = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0"}
_NUMBER: Final = rf"({_DECIMAL})"
_STAR_RE: Final = re.compile(rf"\*/\s*{_NUMBER}\s*([smhd]?)")
_EVERY_RE: Final = re.compile(rf"every\s+(?:{_NUMBER}\s*)?([a-z]+)")
_PLAIN_RE: Final = re.compile(rf"[+]?{_DECIMAL}")


# Below this an interval is not a schedule but a busy loop: 1e-300 "ran" 3,405 times a second
# and counted a 300-digit number of skipped ticks. 1 ms is also asyncio's timer resolution.
MIN_INTERVAL_S: Final = 0.001


def schedule_error(expr: object, reason: str) -> ValueError:
    """The one-line error for a bad ``expr``: the reason and the closest accepted forms."""
    # One short line: the reason and the three closest forms (the full list was ~600 characters).
    closest = ", ".join(repr(form) for form in closest_forms(str(expr).strip().lower()))
    return ValueError(f"invalid schedule {shown(expr)}: {reason}; closest forms: {closest} (all: docs/schedules.md)")


def positive_seconds(expr: object, value: float) -> float:
    """``value`` if it is a finite interval of at least 1 ms; else the ValueError naming ``expr``."""
    if not math.isfinite(value):
        raise schedule_error(expr, "the interval must be finite")
    if value <= 0:
        raise schedule_error(expr, "the interval must be greater than zero")
    if value < MIN_INTERVAL_S:
        raise schedule_error(expr, f"the interval must be at least {MIN_INTERVAL_S * 1000:g} ms")
    return value


def _number_or_duration(text: str) -> float | None:
    if _PLAIN_RE.fullmatch(text):
        return float(text)
    return duration_seconds(text)


def parse_number(expr: int | float) -> IntervalSchedule:
    """The interval of a number of seconds (``3600``, ``0.25``)."""
    try:
        seconds = float(expr)
    except OverflowError:  # an int beyond float range
        raise schedule_error(expr, "the interval must be finite") from None
    return IntervalSchedule(str(expr), positive_seconds(expr, seconds))


# Schedules are frozen, so 100,000 agents told Start("hourly") share one: a parse and an
# object per agent saved (errors are not cached: they raise again each time).
@lru_cache(maxsize=512)
def parse_text(expr: str, timezone: tzinfo | None) -> Schedule:
    """The schedule of a text expression (`actors.parse_schedule` checked its type)."""
    text = expr.strip().lower()
    if not text:
        raise schedule_error(expr, "it is empty")
    if text in _NAMED_INTERVALS:
        return IntervalSchedule(expr, _NAMED_INTERVALS[text])
    if text in _CRON_ALIASES:
        return CronSchedule(expr, _CRON_ALIASES[text], timezone)
    if text.startswith("at:"):
        try:
            return AtSchedule(expr, parse_instant(expr.strip()[3:]), timezone)
        except ValueError as exc:
            raise schedule_error(expr, str(exc)) from None
    if text.startswith("in "):
        seconds = _number_or_duration(text[3:].strip())
        if seconds is None:
            raise schedule_error(expr, "'in' takes a duration such as '20 minutes' or '90s'")
        return DelaySchedule(expr, positive_seconds(expr, seconds))
    if text.startswith("every ") and " at " in text:
        try:
            fields = calendar_fields(" ".join(text.split()))
        except ValueError as exc:
            raise schedule_error(expr, str(exc)) from None
        if fields is None:
            raise schedule_error(expr, "use 'every day|weekday|weekend|<day name> at HH:MM'")
        return CronSchedule(expr, fields, timezone)
    if text.startswith("cron:"):
        fields = " ".join(expr.strip()[5:].split())
        if len(fields.split()) != 5:
            raise schedule_error(expr, f"cron needs exactly 5 fields (M H DOM MON DOW), got {len(fields.split())}")
        try:
            CronSim(fields, datetime(2000, 1, 1))
        except CronSimError as exc:
            raise schedule_error(expr, f"bad cron expression ({exc})") from None
        return CronSchedule(expr, fields, timezone)
    if match := _STAR_RE.fullmatch(text):
        number, unit = match.groups()
        return IntervalSchedule(expr, positive_seconds(expr, float(number) * UNIT_SECONDS[unit or "s"]))
    if match := _EVERY_RE.fullmatch(text):
        number, word = match.groups()
        unit = UNIT_WORDS.get(word)
        if unit is None:
            raise schedule_error(expr, f"unknown unit {word!r} (use seconds, minutes, hours or days)")
        return IntervalSchedule(expr, positive_seconds(expr, float(number or 1) * UNIT_SECONDS[unit]))
    if text in {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}:
        raise schedule_error(expr, "the interval must be finite")
    if _PLAIN_RE.fullmatch(text):
        return IntervalSchedule(expr, positive_seconds(expr, float(text)))
    if (seconds := duration_seconds(text)) is not None:  # '90s', '5m', '2 hours'
        return IntervalSchedule(expr, positive_seconds(expr, seconds))
    if text.startswith("-") and _PLAIN_RE.fullmatch(text[1:]):
        raise schedule_error(expr, "the interval must be greater than zero")
    if len(text.split()) == 5:
        raise schedule_error(expr, "cron expressions need the 'cron:' prefix, e.g. 'cron:" + expr.strip() + "'")
    raise schedule_error(expr, "not a recognised form")
