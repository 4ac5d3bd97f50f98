"""The argument-error type and the number check that bridge and actors share.

A value of the wrong type raises `ArgumentTypeError` (a ``TypeError`` and a ``ValueError``);
a value of the right type that is out of range raises ``ValueError``. Every message is one
line that names the parameter and repeats the value, cut to fit.
"""

from __future__ import annotations

import math

__all__ = ["ArgumentTypeError", "check_wait", "shown"]

_SHOWN_CHARS = 60  # keeps a message on one line even for 10**400 or a long string


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type (``parse_schedule(None)``, ``max_retries=0.5``).

    Both a ``TypeError`` and a ``ValueError``: the API promises ``ValueError`` for a bad
    schedule or ``max_retries``, and Python convention says ``TypeError`` for a wrong type, so
    either ``except`` clause catches it.
    """


def shown(value: object) -> str:
    """``repr(value)``, cut to a length that fits an error message."""
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else f"{text[:_SHOWN_CHARS - 3]}..."


def check_wait(name: str, value: object, *, allow_none: bool, allow_zero: bool = True) -> float | None:
    """Seconds: a finite number ``>= 0`` (``> 0`` without ``allow_zero``), or None ("no
    limit") where ``allow_none``."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        accepted = "a number of seconds or None" if allow_none else "a number of seconds"
        raise ArgumentTypeError(f"{name} must be {accepted}, not {type(value).__name__}: {shown(value)}")
    try:
        seconds = float(value)
    except OverflowError:
        seconds = math.inf
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number of seconds {bound}, got {shown(value)}")
    return seconds
