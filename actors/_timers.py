"""One agent's timers: ticks, backoff waits, attempt timeouts and stop deadlines.

They run on the host that serves the agent's mailbox, so a timer that fires posts to a mailbox
drained on that same thread: an async agent's on its event loop (``loop.call_at``: 10,000
pending handles cost ~1.5 MB), a sync agent's on its dispatcher worker (`TimedInbox`, a futex
wait precise to the microsecond where epoll rounds up to whole milliseconds). Every deadline is
read from the agent's clock, so a virtual clock fires them too.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

from actors._clock import REAL_CLOCK, Clock, Timer, TimerHost
from actors._tick_heap import TickHeap
from actors.schedule import IntervalSchedule, Schedule, fires_between

__all__ = ["AgentTimers", "Tick", "TimerKind"]

Post = Callable[[Any], object]


class Tick:
    """A scheduled fire: ``due`` (monotonic; jitter included), the next fire in wall time (None:
    a one-shot's last), and the ticks a stalled loop missed just before it."""

    __slots__ = ("epoch", "due", "next_wall", "missed")

    def __init__(self, epoch: int, due: float, next_wall: float | None, missed: int) -> None:
        self.epoch, self.due, self.next_wall, self.missed = epoch, due, next_wall, missed


class TimerKind(enum.Enum):
    """The timers an agent may have pending, at most one of each."""

    TICK = "_tick_seq"       # the next tick of the schedule (the value: its slot)
    RETRY = "_on_retry"      # the end of a backoff wait
    TIMEOUT = "_on_timeout"  # an attempt's deadline
    STOP = "_on_stop"        # a stop's deadline


_KINDS = tuple(TimerKind)


class AgentTimers:
    """One agent's timers on its host. Every method must run on the host's thread, which is
    also the thread its mailbox is served on (so handlers arm and cancel with plain calls).

    One slot per `TimerKind` rather than a dict: one long-lived object fewer per agent. The
    pending tick is no timer object but a number in the host's `TickHeap`, its arguments in
    slots here (see `actors._tick_heap`: a tick waiting its interval costs the GC nothing)."""

    __slots__ = ("_host", "_ticks", "_post", "_clock", "_tick_seq", "_on_retry", "_on_timeout", "_on_stop",
                 "_tick_due", "_jitter", "_t_epoch", "_t_schedule", "_t_anchor", "_t_wall", "_t_fire")

    def __init__(self, host: TimerHost, ticks: TickHeap, post: Post, clock: Clock = REAL_CLOCK) -> None:
        self._host = host
        self._ticks = ticks
        self._post = post
        self._clock = clock
        self._tick_seq = -1  # the pending tick's number in the host's heap; -1: none
        self._t_epoch = 0
        self._t_schedule: Schedule | None = None
        self._t_anchor = self._t_wall = self._t_fire = 0.0
        self._on_retry: Timer | None = None
        self._on_timeout: Timer | None = None
        self._on_stop: Timer | None = None
        self._tick_due: float | None = None  # the pending tick's due time on its grid (no jitter)
        self._jitter = 0.0

    # -- timers ---------------------------------------------------------------------------
    def _call_at_mono(self, due_mono: float, kind: TimerKind, fn: Callable[..., None], *args: Any) -> None:
        old: Timer | None = getattr(self, kind.value)
        if old is not None:
            old.cancel()
        setattr(self, kind.value, self._clock.call_at(self._host, due_mono, fn, *args))

    def arm(self, kind: TimerKind, delay: float, message: Any) -> None:
        """Post ``message`` to the agent after ``delay`` seconds (replacing a timer of that kind)."""
        self._call_at_mono(self._clock.monotonic() + delay, kind, _fire, self, kind, message)

    def disarm(self, kind: TimerKind) -> None:
        """Cancel the timer of that kind, if any."""
        if kind is TimerKind.TICK:
            seq = self._tick_seq
            if seq >= 0:
                self._tick_seq = -1
                self._t_schedule = None
                self._clock.cancel_tick(self._ticks, seq)
            return
        timer: Timer | None = getattr(self, kind.value)
        if timer is not None:
            setattr(self, kind.value, None)
            timer.cancel()

    def disarm_all(self) -> None:
        """Cancel every timer of the agent (ticks, backoff, timeouts)."""
        for kind in _KINDS:
            self.disarm(kind)

    def _fire(self, kind: TimerKind, message: Any) -> None:
        setattr(self, kind.value, None)
        self._post(message)

    # -- ticks ----------------------------------------------------------------------------
    def start_ticks(self, epoch: int, schedule: Schedule, anchor: float, jitter: float = 0.0) -> float | None:
        """Begin firing `Tick` messages for ``schedule`` (intervals counted from ``anchor``),
        each delayed by a random share of ``jitter`` seconds; return the first one's wall time
        (None: a one-shot whose time has passed)."""
        self._jitter = jitter
        return self._arm_tick(epoch, schedule, anchor, self._clock.monotonic())[1]

    def next_tick_due(self) -> float | None:
        """The grid time (monotonic, before jitter) of the pending tick, if one is armed."""
        return self._tick_due if self._tick_seq >= 0 else None

    def _arm_tick(self, epoch: int, schedule: Schedule, anchor: float, after_mono: float) -> tuple[float | None, float | None]:
        """Arm the first fire after ``after_mono``; return its (monotonic, wall-clock) time on
        the grid, or (None, None) when the schedule fires no more."""
        clock = self._clock
        now_mono, now_wall = clock.monotonic(), clock.now()
        if schedule.clock == "monotonic":
            due = schedule.next_fire(after_mono, anchor)
            if due is None:
                return None, None
            wall = now_wall + (due - now_mono)
        else:
            fire_wall = schedule.next_fire(now_wall + (after_mono - now_mono))
            if fire_wall is None:
                return None, None
            wall = fire_wall
            due = now_mono + (wall - now_wall)
        self._tick_due = due
        # Jitter moves the fire, not the grid: the next tick is still counted from ``due``.
        fire = due + self._jitter * clock.random() if self._jitter else due
        self._t_epoch, self._t_schedule, self._t_anchor, self._t_wall, self._t_fire = epoch, schedule, anchor, wall, fire
        self._arm_tick_at(fire)
        return due, wall

    def _arm_tick_at(self, when: float) -> None:
        """Arm the tick whose arguments are in the slots at ``when`` (monotonic)."""
        clock, old = self._clock, self._tick_seq
        if old >= 0:
            clock.cancel_tick(self._ticks, old)
        self._tick_seq = clock.arm_tick(self._host, self._ticks, when, self)

    def fire_tick(self) -> None:
        """The host's tick heap says the pending tick is due (on the host's thread)."""
        self._tick_seq = -1
        schedule = self._t_schedule
        if schedule is not None:
            self._tick(self._t_epoch, schedule, self._t_anchor, self._tick_due or 0.0, self._t_wall, self._t_fire)

    def _tick(self, epoch: int, schedule: Schedule, anchor: float, due: float, wall: float, fire: float) -> None:
        clock = self._clock
        if schedule.clock == "wall":
            early = (wall + (fire - due)) - clock.now()
            if early > 0.001:  # the wall clock was set back or the machine slept: wait the rest
                self._arm_tick_at(clock.monotonic() + early)  # the slots still hold this tick
                return
            now_wall = clock.now()
            # A cron job fires at most once a minute: only a tick handled a minute late can
            # have missed one (a cronsim walk costs ~23 µs a fire).
            missed = fires_between(schedule, wall, now_wall, anchor) if now_wall - wall >= 59.0 else 0
            _, next_wall = self._arm_tick(epoch, schedule, anchor, clock.monotonic() + max(0.0, wall - now_wall))
            if self._post(Tick(epoch, fire, next_wall, missed)) is False:
                self.disarm(TimerKind.TICK)  # the mailbox is closed: never tick into the void
            return
        # The next tick after this one's due time, however early the host woke for it: the
        # heap's deadline is converted from this clock, and a wake a hair before ``due`` must
        # not arm ``due`` again (two runs of one tick under load, seen on the 4-process store
        # benchmark).
        next_due, next_wall = self._arm_tick(epoch, schedule, anchor, max(clock.monotonic(), due))
        missed = 0
        if next_due is not None and isinstance(schedule, IntervalSchedule):
            missed = max(0, round((next_due - due) / schedule.seconds) - 1)
        if self._post(Tick(epoch, fire, next_wall, missed)) is False:
            self.disarm(TimerKind.TICK)


def _fire(timers: AgentTimers, kind: TimerKind, message: Any) -> None:
    timers._fire(kind, message)
