"""Supervision policy: how many actor crashes to forgive per time window. Pure, no threads.

A crash is a bug in an actor's own code (a handler raised), not an agent failure: agent
failures are normal, counted and retried. Restarting keeps the agent's schedule and stats;
after ``max_restarts`` crashes within ``window`` seconds the supervisor gives up and the agent
is stopped and dead, as in Erlang/Akka's "intensity / period" rule.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

__all__ = ["RestartLimiter"]


@dataclass(slots=True)
class RestartLimiter:
    """Allow at most ``max_restarts`` restarts in any ``window`` seconds."""

    max_restarts: int = 3
    window: float = 60.0
    _times: deque[float] | None = field(default=None, repr=False)  # made at the first crash

    def __post_init__(self) -> None:
        if isinstance(self.max_restarts, bool) or not isinstance(self.max_restarts, int) or self.max_restarts < 0:
            raise ValueError(f"max_restarts must be an int >= 0, got {self.max_restarts!r}")
        if isinstance(self.window, bool) or not isinstance(self.window, (int, float)) \
                or not math.isfinite(self.window) or self.window <= 0:
            raise ValueError(f"restart_window must be a finite number of seconds > 0, got {self.window!r}")

    def allow(self, now: float) -> bool:
        """Record a crash at ``now`` (monotonic seconds); True if it may be restarted."""
        if self._times is None:
            self._times = deque()
        while self._times and now - self._times[0] >= self.window:
            self._times.popleft()
        if len(self._times) >= self.max_restarts:
            return False
        self._times.append(now)
        return True
