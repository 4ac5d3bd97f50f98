"""The argument-error type shared by bridge and actors, and the one check bridge needs."""

from __future__ import annotations

import math

__all__ = ["ArgumentTypeError", "check_wait"]


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type (``parse_schedule(None)``, ``max_retries=0.5``).

    Both a ``TypeError`` and a ``ValueError``: the API promises ``ValueError`` for a bad
    schedule or ``max_retries``, and Python convention says ``TypeError`` for a wrong type, so
    either ``except`` clause catches it.
    """


def check_wait(name: str, value: object, *, allow_none: bool) -> float | None:
    """Seconds to wait: a finite number >= 0 (or None, "no limit", where allowed)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        accepted = "a number of seconds or None" if allow_none else "a number of seconds"
        raise ArgumentTypeError(f"{name} must be {accepted}, not {type(value).__name__}: {repr(value)[:60]}")
    try:
        seconds = float(value)
    except OverflowError:
        seconds = math.inf
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {repr(value)[:60]}")
    return seconds
