"""The one backoff policy: pure, used by both schedulers and by the actor system.

Exponential from ``initial`` by ``factor``, multiplicative jitter of ±``jitter``, never above
``cap``. PraisonAI's ``min(max(30, 2**n), 300)`` waits a flat 30 s for the first four retries;
this grows from the first retry, and the default (5 s, x2, cap 300 s, ±10 %) still spreads a burst
of agents hitting one rate-limited model API.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from actors._validate import shown
from actors.errors import ArgumentTypeError

__all__ = ["RetryPolicy", "backoff_delay"]


def _check(name: str, value: object, *, allow_inf: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentTypeError(f"{name} must be a number, not {type(value).__name__}: {shown(value)}")
    try:
        value = float(value)
    except OverflowError:  # an int beyond float range
        if not allow_inf:
            raise ValueError(f"{name} must be finite, got {shown(value)}") from None
        value = math.inf
    if math.isnan(value) or (math.isinf(value) and not allow_inf):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return value


def _base(attempt: int, initial: float, factor: float, cap: float) -> float:
    """``min(cap, initial * factor ** (attempt - 1))`` without overflow for any attempt."""
    if initial == 0.0 or cap == 0.0:
        return 0.0
    try:
        return min(cap, initial * factor ** (attempt - 1))
    except OverflowError:  # the power, or the attempt as a float, is beyond float range
        pass
    if factor <= 1.0:  # only the attempt overflowed: the power is 1 or vanishes
        return min(cap, initial) if factor == 1.0 else 0.0
    try:
        log_base = math.log(initial) + (attempt - 1) * math.log(factor)
    except OverflowError:
        return cap
    if log_base >= math.log(cap):
        return cap
    try:
        return math.exp(log_base)
    except OverflowError:  # beyond float range and cap is inf: no cap, so the delay is inf
        return cap


def backoff_delay(
    attempt: int,
    *,
    initial: float,
    factor: float,
    cap: float,
    jitter: float,
    rand: Callable[[], float] = random.random,
) -> float:
    """Return the delay in seconds before retry number ``attempt``.

    The base is ``min(cap, initial * factor ** (attempt - 1))``; jitter multiplies it by a
    uniform factor in ``[1 - jitter, 1 + jitter]`` and the result is clamped to ``[0, cap]``.

    Args:
        attempt: The retry number, 1-based (1 is the wait after the first failed attempt).
        initial: Seconds before the first retry.
        factor: Growth per retry.
        cap: The longest delay; ``inf`` for no cap.
        jitter: Relative spread, between 0 and 1 (0.1 is ±10 %).
        rand: Returns a float in ``[0, 1)``; inject it to make the jitter deterministic.

    Returns:
        The delay in seconds, between 0 and ``cap``.

    Raises:
        ValueError: ``attempt < 1``, a negative or non-finite parameter (``cap`` may be
            ``inf``), or ``jitter > 1``. A wrong type raises
            [`ArgumentTypeError`][actors.ArgumentTypeError], which is a ``ValueError`` too.
    """
    if isinstance(attempt, bool) or not isinstance(attempt, int):
        raise ArgumentTypeError(f"attempt must be an int >= 1, not {type(attempt).__name__}: {attempt!r}")
    if attempt < 1:
        raise ValueError(f"attempt must be >= 1, got {attempt!r}")
    initial = _check("initial", initial)
    factor = _check("factor", factor)
    cap = _check("cap", cap, allow_inf=True)
    jitter = _check("jitter", jitter)
    if jitter > 1:
        raise ValueError(f"jitter must be between 0 and 1, got {jitter!r}")
    base = _base(attempt, initial, factor, cap)
    delay = base * (1.0 + jitter * (2.0 * rand() - 1.0)) if jitter else base
    return min(cap, max(0.0, delay))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff parameters, validated on construction; what ``config["backoff"]`` builds.

    Attributes:
        initial: Seconds before the first retry.
        factor: Growth per retry.
        cap: The longest delay in seconds (``inf`` for no cap).
        jitter: Relative spread, between 0 and 1.

    The rule is [`backoff_delay`][actors.backoff_delay]'s; a bad value raises ``ValueError``.
    """

    initial: float = 5.0
    factor: float = 2.0
    cap: float = 300.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        backoff_delay(1, initial=self.initial, factor=self.factor, cap=self.cap, jitter=self.jitter)
        for name in ("initial", "factor", "cap", "jitter"):  # 60 -> 60.0, so equal policies compare equal
            object.__setattr__(self, name, float(getattr(self, name)))

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Return the delay in seconds before retry number ``attempt`` (1-based) under this policy.

        ``rand`` is [`backoff_delay`][actors.backoff_delay]'s.
        """
        return backoff_delay(
            attempt, initial=self.initial, factor=self.factor, cap=self.cap, jitter=self.jitter, rand=rand
        )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | RetryPolicy | None) -> RetryPolicy:
        """Build a policy from a ``backoff`` config dict; missing keys keep their defaults.

        Args:
            values: A dict with any of ``initial``, ``factor``, ``cap``, ``jitter``; a policy
                (returned as is); or None (the defaults).

        Raises:
            ValueError: An unknown key (named in the message) or a bad value.
        """
        if values is None:
            return cls()
        if isinstance(values, RetryPolicy):
            return values
        if not isinstance(values, Mapping):
            raise ArgumentTypeError(f"config 'backoff' must be a dict with keys initial, factor, cap, jitter, "
                                    f"not {type(values).__name__}: {shown(values)}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known, key=str)
        if unknown:
            raise ValueError(f"unknown backoff key(s) {unknown}; accepted: {sorted(known)}")
        return cls(**values)  # each value is checked there: ArgumentTypeError or ValueError
