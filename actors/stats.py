"""Execution statistics: a plain record owned by one agent actor, so it needs no lock.

Vocabulary (as in the docs' "How it works" page): an *execution* is one scheduled run with up
to ``max_retries`` attempts; it ends as a success or a failure. A run that a stop interrupts is
not an execution: it is *cancelled*; one its process died in (with a store) is *interrupted*.
Every transition goes through a method here, which keeps ``total_executions == successful +
failed`` and, with nothing in flight, ``retries == total_attempts - total_executions -
cancelled_executions - interrupted_executions``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["PERSISTED", "Stats"]

#: The fields a store keeps across processes (the rest belong to one process's run).
PERSISTED = ("successful_executions", "failed_executions", "cancelled_executions", "interrupted_executions",
             "total_attempts", "retries", "skipped_ticks", "missed_ticks", "consecutive_failures", "abandoned_runs",
             "restarts", "last_run_at", "last_error", "last_lateness_ms")


@dataclass(slots=True)
class Stats:
    """Counters and timestamps of one agent; wall times are ``time.time()`` epoch seconds."""

    successful_executions: int = 0
    failed_executions: int = 0
    cancelled_executions: int = 0
    interrupted_executions: int = 0
    total_attempts: int = 0
    retries: int = 0
    skipped_ticks: int = 0
    missed_ticks: int = 0
    consecutive_failures: int = 0
    abandoned_runs: int = 0
    restarts: int = 0
    last_run_at: float | None = None
    next_run_at: float | None = None
    last_error: str | None = None
    last_lateness_ms: float | None = None
    started_mono: float | None = None
    stopped_mono: float | None = None
    in_flight: bool = False

    @property
    def total_executions(self) -> int:
        """Executions that ended, as a success or a failure."""
        return self.successful_executions + self.failed_executions

    @property
    def success_rate(self) -> float:
        """Successful executions in percent of finished ones; 0.0 before any finished."""
        total = self.total_executions
        return 100.0 * self.successful_executions / total if total else 0.0

    def started(self, now_mono: float) -> None:
        """The schedule started (a restart keeps the counters and restarts the runtime clock)."""
        self.started_mono = now_mono
        self.stopped_mono = None

    def stopped(self, now_mono: float) -> None:
        """The schedule stopped: freeze ``runtime_seconds`` and forget the next run."""
        if self.started_mono is not None and self.stopped_mono is None:
            self.stopped_mono = now_mono
        self.next_run_at = None

    def attempt_started(self, first: bool, now_wall: float, lateness_s: float | None = None) -> None:
        """An attempt began; ``first`` marks the first attempt of a new execution."""
        self.total_attempts += 1
        if not first:
            self.retries += 1
        self.in_flight = True
        self.last_run_at = now_wall
        if lateness_s is not None:
            self.last_lateness_ms = lateness_s * 1000.0

    def attempt_failed(self, error: BaseException) -> None:
        """An attempt raised (or timed out); whether the execution fails is the caller's call."""
        self.last_error = repr(error)

    def succeeded(self) -> None:
        """The execution ended with a successful attempt."""
        self.successful_executions += 1
        self.consecutive_failures = 0
        self.in_flight = False

    def failed(self, error: BaseException) -> None:
        """The execution ended with every attempt failed; ``error`` is the last one."""
        self.failed_executions += 1
        self.consecutive_failures += 1
        self.last_error = repr(error)
        self.in_flight = False

    def cancelled(self) -> None:
        """A stop interrupted the execution (in flight or in backoff): no callback, not counted."""
        self.cancelled_executions += 1
        self.in_flight = False

    def skipped(self, n: int = 1) -> None:
        """``n`` ticks (or RunNow requests) fell while a run was in flight and did not start one
        (the overlap policy)."""
        self.skipped_ticks += n

    def missed(self, n: int = 1) -> None:
        """``n`` ticks fell while nothing could run them (paused, a stalled loop): never run."""
        self.missed_ticks += n

    def runtime_seconds(self, now_mono: float) -> float:
        """Seconds since the last start, frozen at stop; 0.0 if never started."""
        if self.started_mono is None:
            return 0.0
        end = self.stopped_mono if self.stopped_mono is not None else now_mono
        return max(0.0, end - self.started_mono)

    def counters(self) -> dict[str, Any]:
        """The `PERSISTED` fields, for a store (spelled out: a getattr per field was 4x slower,
        and a store reads this once per agent and run)."""
        return {"successful_executions": self.successful_executions, "failed_executions": self.failed_executions,
                "cancelled_executions": self.cancelled_executions,
                "interrupted_executions": self.interrupted_executions, "total_attempts": self.total_attempts,
                "retries": self.retries, "skipped_ticks": self.skipped_ticks, "missed_ticks": self.missed_ticks,
                "consecutive_failures": self.consecutive_failures, "abandoned_runs": self.abandoned_runs,
                "restarts": self.restarts, "last_run_at": self.last_run_at, "last_error": self.last_error,
                "last_lateness_ms": self.last_lateness_ms}

    def restore(self, counters: dict[str, Any]) -> None:
        """Take the `PERSISTED` fields a store kept (unknown keys are ignored: a newer writer)."""
        for name in PERSISTED:
            if name in counters:
                setattr(self, name, counters[name])

    def snapshot(self, now_mono: float, is_running: bool) -> dict[str, Any]:
        """Return the public stats dict (the keys are listed in the docs' "How it works" page).

        The actor adds ``name``, ``kind`` and ``state``.
        """
        return {
            "is_running": is_running,
            "total_executions": self.total_executions,
            "successful_executions": self.successful_executions,
            "failed_executions": self.failed_executions,
            "cancelled_executions": self.cancelled_executions,
            "interrupted_executions": self.interrupted_executions,
            "success_rate": self.success_rate,
            "total_attempts": self.total_attempts,
            "retries": self.retries,
            "skipped_ticks": self.skipped_ticks,
            "missed_ticks": self.missed_ticks,
            "consecutive_failures": self.consecutive_failures,
            "abandoned_runs": self.abandoned_runs,
            "restarts": self.restarts,
            "last_run_at": self.last_run_at,
            "next_run_at": self.next_run_at if is_running else None,
            "last_error": self.last_error,
            "last_lateness_ms": self.last_lateness_ms,
            "runtime_seconds": self.runtime_seconds(now_mono),
        }
