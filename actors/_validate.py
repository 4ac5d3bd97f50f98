"""Argument checks shared by every public entry point, with one error-type rule.

A value of the wrong type raises `ArgumentTypeError` (a ``TypeError``
and a ``ValueError``); a value of the right type that is out of range raises ``ValueError``.
Every message is one line that names the parameter and repeats the value. The number check
and `shown` live in `bridge.errors`, which `CancelToken` uses too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.errors import ArgumentTypeError, check_wait, shown

__all__ = ["check_int", "check_mapping", "check_name", "check_optional_seconds", "check_seconds", "shown"]

def check_seconds(name: str, value: object, *, allow_zero: bool = True) -> float:
    """A finite number of seconds: ``>= 0``, or ``> 0`` without ``allow_zero``."""
    seconds = check_wait(name, value, allow_none=False, allow_zero=allow_zero)
    assert seconds is not None
    return seconds


def check_optional_seconds(name: str, value: object, *, allow_zero: bool = True) -> float | None:
    """`check_seconds`, or None (no limit)."""
    return check_wait(name, value, allow_none=True, allow_zero=allow_zero)


def check_int(name: str, value: object, *, minimum: int) -> int:
    """An ``int`` (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentTypeError(f"{name} must be an int >= {minimum}, not {type(value).__name__}: {shown(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {shown(value)}")
    return value


def check_mapping(name: str, value: object) -> Mapping[str, Any]:
    """A mapping (a dict of settings), or empty for None."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ArgumentTypeError(f"{name} must be a dict, not {type(value).__name__}: {shown(value)}")
    return value


# Names show up in logs, stats, URLs (/agents/{name}) and the CLI's status line.
_NAME_MAX = 200


def check_name(what: str, value: object) -> str:
    """An agent name: a non-empty printable str without surrounding whitespace, <= 200 chars."""
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{what} must be a str, not {type(value).__name__}: {shown(value)}")
    if not value or not value.strip():
        raise ValueError(f"{what} must not be empty or blank, got {shown(value)}")
    if value != value.strip() or not value.isprintable():
        raise ValueError(f"{what} must be printable, without surrounding whitespace, got {shown(value)}")
    if len(value) > _NAME_MAX:
        raise ValueError(f"{what} must be at most {_NAME_MAX} characters, got {len(value)}: {shown(value)}")
    return value
