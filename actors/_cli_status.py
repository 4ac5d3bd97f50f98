"""The live status of ``python -m actors run`` on a terminal.

[`StatusBoard`][actors._cli_status.StatusBoard] turns successive polls of the public stats
dict and the ``on_success`` / ``on_failure`` callbacks into one status line and a line per
failed attempt; [`Screen`][actors._cli_status.Screen] draws them. The stats dict says *that*
an attempt failed (``retries`` grows when the next attempt starts, ``state`` is
``backing_off`` in between) but not when the retry is due, so that time is the backoff
policy's nominal delay counted from the poll that saw the failure (hence the ``~``).
"""

from __future__ import annotations

import reprlib
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TextIO

from actors.backoff import RetryPolicy

__all__ = ["POLL_S", "Screen", "State", "StatusBoard", "clock", "short", "short_repr"]

# Five polls a second: a countdown in tenths reads smoothly, and a GetStats costs the agent's
# mailbox microseconds.
POLL_S = 0.2
_SHORT = 48  # characters of a result or error on the status line


class State(StrEnum):
    """The ``state`` key of the stats dict."""

    IDLE = "idle"
    RUNNING = "running"
    BACKING_OFF = "backing_off"
    PAUSED = "paused"
    FINISHED = "finished"
    STOPPED = "stopped"


_repr = reprlib.Repr()  # bounded work for a huge result: a 10 MB string is not copied whole
_repr.maxstring = _repr.maxother = 200


def short_repr(value: object, width: int = _SHORT) -> str:
    """A bounded ``repr`` of ``value``, cut to ``width`` characters."""
    return short(_repr.repr(value), width)


def short(text: str, width: int = _SHORT) -> str:
    """``text`` on one line, cut to ``width`` characters with a trailing ``...``."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def clock() -> str:
    """The wall time that prefixes a line above the status line."""
    return time.strftime("%H:%M:%S")


@dataclass(frozen=True, slots=True)
class _Outcome:
    ok: bool
    text: str


class StatusBoard:
    """What the status line says about one agent; the callbacks may run on any thread."""

    def __init__(self, name: str, max_retries: int, policy: RetryPolicy | None = None) -> None:
        self.name, self.max_retries = name, max_retries
        self.policy = policy or RetryPolicy()
        self.stats: dict[str, Any] = {}  # the latest poll
        self.stopping = False
        self.wake: Callable[[], Any] = lambda: None  # called when a callback has news
        self._lock = threading.Lock()
        self._lines: list[str] = []
        self._last: _Outcome | None = None
        self._retries = 0  # `retries` at the previous poll
        self._finished = 0  # finished + cancelled executions at the previous poll
        self._base = 0  # `retries` when the current execution began
        self._backoff_shown = False  # the failure before the current backoff has its line
        self._retry_at: float | None = None

    # -- callbacks (library threads) ------------------------------------------------------
    def on_success(self, result: Any) -> None:
        """The ``on_success`` callback: remember the result for the status line."""
        with self._lock:
            self._last = _Outcome(True, short_repr(result))
        self.wake()

    def on_failure(self, error: BaseException) -> None:
        """The ``on_failure`` callback: the run's last attempt failed; print a line for it."""
        with self._lock:
            self._last = _Outcome(False, short_repr(error))
            self._lines.append(f"{clock()} {self.name}: run failed, no attempts left: {short_repr(error, 200)}")
        self.wake()

    # -- polls (main thread) --------------------------------------------------------------
    def observe(self, stats: dict[str, Any], now: float) -> list[str]:
        """Take one stats poll; return the lines to print above the status line."""
        retries = stats["retries"]
        finished = stats["total_executions"] + stats["cancelled_executions"]
        state = stats["state"]
        same_run = finished == self._finished
        started = retries - self._retries  # each retry that started follows a failed attempt
        unseen = started - 1 if self._backoff_shown and started else started
        backing_off = state == State.BACKING_OFF
        new_backoff = backing_off and not (self._backoff_shown and started == 0 and same_run)
        if not same_run or state in (State.IDLE, State.STOPPED):
            self._base = retries  # a new execution: assume none of its retries was missed
        attempt = retries - self._base + 1  # the attempt in flight, or the one that just failed
        error = short(stats.get("last_error") or "an error", 200)
        with self._lock:
            if unseen > 0:
                self._lines.append(f"{clock()} {self.name}: {self._which(unseen, attempt, same_run)} failed: {error}")
            if new_backoff:
                delay = self.policy.delay(attempt, rand=lambda: 0.5)  # 0.5: the jitter's midpoint
                self._retry_at = now + delay
                self._lines.append(f"{clock()} {self.name}: attempt {attempt} of {self.max_retries} failed: "
                                   f"{error}; retrying in ~{delay:.1f}s")
            if unseen > 0 or new_backoff:
                self._last = _Outcome(False, short(stats.get("last_error") or "an error"))
            lines, self._lines = self._lines, []
        self._retries, self._finished, self._backoff_shown = retries, finished, backing_off
        self.stats = stats
        return lines

    def _which(self, unseen: int, attempt: int, same_run: bool) -> str:
        """Name the ``unseen`` attempts that failed and were retried between two polls."""
        first = attempt - unseen
        if not same_run or first < 1:  # an execution ended in between: the numbers are unknown
            return "an attempt" if unseen == 1 else f"{unseen} attempts"
        if unseen == 1:
            return f"attempt {first} of {self.max_retries}"
        return f"attempts {first}-{attempt - 1} of {self.max_retries}"

    def note(self, text: str) -> None:
        """Queue a line of the caller's for the next draw (any thread)."""
        with self._lock:
            self._lines.append(f"{clock()} {text}")
        self.wake()

    def drain(self) -> list[str]:
        """The lines the callbacks queued since the last poll."""
        with self._lock:
            lines, self._lines = self._lines, []
        return lines

    def line(self, now: float) -> str:
        """The status line: name, counts, last result or error, what happens next."""
        s = self.stats
        # What happens next comes first: a narrow terminal cuts the end, and the last error
        # also has a line of its own above.
        parts = [self.name, self._doing(now), f"runs {s.get('total_executions', 0)}",
                 f"failed {s.get('failed_executions', 0)}"]
        with self._lock:
            last = self._last
        if last is not None:
            parts.append(f"last {'ok' if last.ok else 'error'}: {last.text}")
        return "  ".join(parts)

    def _doing(self, now: float) -> str:
        state = self.stats.get("state")
        attempt = self.stats.get("retries", 0) - self._base + 1
        if self.stopping and state != State.STOPPED:
            return "stopping: a run in flight (Ctrl-C again to force)" if state == State.RUNNING else "stopping"
        if state == State.BACKING_OFF and self._retry_at is not None:
            return f"retrying in ~{max(0.0, self._retry_at - now):.1f}s " \
                   f"(attempt {attempt + 1} of {self.max_retries})"
        if state == State.RUNNING:
            since = self.stats.get("last_run_at")
            took = f" for {max(0.0, now - since):.1f}s" if since else ""
            return f"running attempt {attempt} of {self.max_retries}{took}"
        next_run_at = self.stats.get("next_run_at")
        if state == State.IDLE and next_run_at:
            return f"next in {max(0.0, next_run_at - now):.1f}s"
        if state == State.PAUSED:
            return f"paused: {self.stats.get('paused_reason') or 'no reason given'}"
        return str(state or "starting")

    def in_flight(self) -> str:
        """What a forced exit abandons, from the latest poll: "1 run in flight of agent X (...)"."""
        state = self.stats.get("state")
        if state == State.RUNNING:
            attempt = self.stats.get("retries", 0) - self._base + 1
            since = self.stats.get("last_run_at")
            took = f", running for {max(0.0, time.time() - since):.1f}s" if since else ""
            return f"1 run in flight of agent {self.name} (attempt {attempt} of {self.max_retries}{took})"
        return f"the stop of agent {self.name} ({state or 'unknown state'})"


class Screen:
    """A terminal: lines scroll above a status line that is redrawn in place."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def show(self, lines: list[str], status: str) -> None:
        """Print ``lines``, then redraw the status line, cut to the terminal's width."""
        width = max(20, shutil.get_terminal_size().columns - 1)  # the last column would wrap
        clear = "\r\x1b[K"  # carriage return, erase to the end of the line
        text = "".join(f"{clear}{line}\n" for line in lines) + f"{clear}{status[:width]}"
        self.out.write(text)
        self.out.flush()

    def close(self) -> None:
        """End the status line, so what follows starts on a line of its own."""
        self.out.write("\n")
        self.out.flush()
