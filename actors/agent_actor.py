"""The agent actor: one agent's state machine, driven only by messages from its mailbox.

Every handler runs on the thread that serves the mailbox (an async agent's loop, a sync agent's
dispatcher worker), one message at a time, so the stats and state need no lock. Handlers never
wait: they decide and act through the actor's `Ports` (timers, the thread pool, the loop's
tasks). Ticks, backoff and deadlines are timers on that same thread; sync attempts run on
`bridge.ThreadPool`, async attempts are tasks on the loop, and each reports back by posting a
message here.

The concepts live in their own modules: the state and its readings (`actors._actor_state`),
attempts and callbacks (`actors._attempts`), the stop protocol and its rules
(`actors._stop_protocol`); this one dispatches messages, starts the schedule, takes its ticks
and supervises.
"""

from __future__ import annotations

import logging
from typing import Any

from actors._actor_state import CANCEL_GRACE_S, Callback, inside_agent
from actors._attempts import Attempts
from actors._protocol import (
    AttemptDone, AttemptTimeout, CallbackDone, HistoryMsg, InjectFault, PauseMsg, ResumeMsg, Retry, RunDeadline,
    RunNowMsg, StartMsg, StatsMsg, StopDeadline, StopMsg,
)
from actors._durable import write
from actors._protocol import ResumePoint
from actors._schedule_control import ScheduleControl
from actors._timers import Tick, TimerKind
from actors.events import AgentCrashed, AgentRestarted, RunFinished
from actors.history import RunOutcome, record
from actors.options import CATCH_UP_LIMIT, CatchUp, catch_up_plan
from actors.schedule import fires_after, fires_between
from actors.store import DesiredState
from bridge import CancelToken

__all__ = ["CANCEL_GRACE_S", "AgentActor", "Callback", "InjectFault", "RunNowMsg", "StartMsg", "StatsMsg", "StopMsg",
           "inside_agent"]

log = logging.getLogger("actors")


class AgentActor(Attempts, ScheduleControl):
    """State and message handlers of one scheduled agent (see the module docstring)."""

    __slots__ = ()

    def handle(self, message: Any) -> None:
        """Handle one message (the mailbox calls this; never concurrently for one agent)."""
        kind = type(message)
        if kind is Tick:
            self._on_tick(message)
        elif kind is AttemptDone:
            self._on_attempt_done(message)
        elif kind is StatsMsg:
            message.reply(self.snapshot())
        elif kind is Retry:
            self._on_retry(message)
        elif kind is CallbackDone:
            self._pending_callbacks -= 1
            if self._callback_units and not self._pending_callbacks:
                self._callback_units = None
            self._maybe_finish_stop()
        elif kind is StartMsg:
            self._on_start(message)
        elif kind is StopMsg:
            self._on_stop(message)
        elif kind is RunNowMsg:
            self._on_run_now(message)
        elif kind is AttemptTimeout:
            self._on_attempt_timeout(message)
        elif kind is StopDeadline:
            self._on_stop_deadline(message)
        elif kind is RunDeadline:
            self._on_run_deadline(message)
        elif kind is PauseMsg:
            self._on_pause(message)
        elif kind is ResumeMsg:
            self._on_resume(message)
        elif kind is HistoryMsg:
            self._on_history(message)
        elif kind is InjectFault:
            raise message.error
        else:
            raise TypeError(f"agent {self.name!r} got an unknown message {message!r}")

    # -- start / ticks / run-now ----------------------------------------------------------
    def _on_start(self, msg: StartMsg) -> None:
        if self._stopping and not self._final and self._queued_start is None:
            self._queued_start = msg  # applied once the stop in progress has finished
            return
        replace = (self._running and not self._stopping and msg.spec is not None and msg.resume is None
                   and msg.spec != self._spec)  # with a store, other options replace the schedule
        if (self._running and not replace) or self._stopping or self._final or (self.standby and msg.resume is None):
            if self.standby and msg.reply is not None:
                log.info("agent %s: Start not applied here, another node holds its lease", self.name)
            if msg.reply is not None:
                msg.reply(False)
            return
        self.standby = False
        self.store_hold = None
        timers = self._ports.timers
        still_paused = None  # a replaced schedule stays paused: the pause was an operator's call
        if replace:
            timers.disarm(TimerKind.TICK)
            self._drop_waiting_runs()
            if self._paused:
                still_paused = self.paused_reason or ""
                self._missed(self.held_back())  # the old schedule's ticks the pause held back
        self._running = True
        self._epoch += 1
        self._schedule, self._max_retries, self._options = msg.schedule, msg.max_retries, msg.options
        if replace or self._run_token.cancelled:
            # A fresh token only when needed: the first Start of a spawned agent keeps the one
            # it was made with, so starting 10,000 agents allocates no long-lived object each.
            self._run_token = CancelToken()
        self._finished = self._exhausted = self._paused = False
        self.paused_reason = None
        self._runs_done = self._fail_base = 0
        self._queued_due = self._backlog = None
        self._spec = msg.spec
        if msg.resume is not None:
            self._take_up(msg, msg.resume)
            return
        anchor = self._anchor = self.clock.monotonic()
        self.stats.started(anchor)
        self._next_tick_at = self.stats.next_run_at = timers.start_ticks(self._epoch, msg.schedule, anchor,
                                                                          msg.options.jitter)
        self._exhausted = self._next_tick_at is None
        if self.journal is not None:
            write(self, state=DesiredState.STARTED, start=msg.spec)
        if still_paused is not None:
            self._pause(still_paused)
        elif msg.run_immediately:
            self._begin_execution(anchor)
        elif self._exhausted:
            self._finish()  # a one-shot due at this very instant: nothing left to tick
        if msg.reply is not None:
            msg.reply(True)

    def _take_up(self, msg: StartMsg, point: ResumePoint) -> None:
        """Resume a stored schedule on its own grid: restore the counters, record a run its last
        process died in as interrupted, and let ``catch_up`` decide about the ticks that fell
        meanwhile (that run's tick among them)."""
        clock, schedule = self.clock, msg.schedule
        now_wall, now_mono = clock.now(), clock.monotonic()
        offset = now_wall - now_mono
        self.restore_stored(point.counters, point.history)
        anchor = self._anchor = point.anchor_wall - offset
        self.stats.started(now_mono)
        catch_up = msg.options.catch_up
        overdue: list[float] = []  # due times (monotonic) a catch-up may run, oldest first
        count = 0  # ticks that fell while no process ran the agent
        if point.interrupted is not None:
            run_id, due, started = point.interrupted
            self.stats.interrupted_executions += 1
            self._ended_seq = max(self._ended_seq, run_id)
            self._history = record(self._history, run_id, due, started, now_wall, RunOutcome.INTERRUPTED, 1,
                                   "its process died during the run", None, (started - due) * 1000.0, self.node)
            if self.journal is not None:
                write(self, history=self._history[-1])
            bus = self.events
            if bus is not None and bus.active:
                bus.emit(RunFinished(self.name, now_wall, run_id, RunOutcome.INTERRUPTED, 1, now_wall - started,
                                     (started - due) * 1000.0, "its process died during the run", None))
            overdue.append(due - offset)
            count += 1
        mono = schedule.clock == "monotonic"  # an interval's grid; cron counts in wall time
        next_due = point.next_due
        if next_due is None and point.last_due is not None:  # the counters were behind the history
            after = fires_after(schedule, point.last_due - offset if mono else point.last_due, 1, anchor)
            next_due = None if not after else (after[0] + offset if mono else after[0])
        if next_due is not None and next_due <= now_wall:
            first, until = (next_due - offset, now_mono) if mono else (next_due, now_wall)
            late = fires_between(schedule, first, until, anchor)
            count += 1 + late
            # Only "all" runs each of them: the others need no walk over a long downtime.
            later = fires_after(schedule, first, min(late, CATCH_UP_LIMIT), anchor) if catch_up is CatchUp.ALL else []
            overdue += [t if mono else t - offset for t in (first, *later)]
        self._next_tick_at = self.stats.next_run_at = self._ports.timers.start_ticks(
            self._epoch, schedule, anchor, msg.options.jitter)
        self._exhausted = self._next_tick_at is None
        runs, missed = (0, count) if point.paused is not None else catch_up_plan(catch_up, count, downtime=True)
        self._missed(missed)
        if point.paused is not None:
            self._pause(point.paused)
        elif runs:  # "once": one run, standing for the oldest of them
            todo = overdue[:runs]
            self._backlog = todo[1:] or None
            self._begin_execution(todo[0])
        elif self._exhausted:
            self._finish()
        if self.journal is not None and point.paused is None:
            write(self, state=DesiredState.STARTED, start=msg.spec)
        if msg.reply is not None:
            msg.reply(True)

    def _on_tick(self, tick: Tick) -> None:
        if tick.epoch != self._epoch or not self._running:
            return  # a tick of a previous start that was already in flight
        if not self.call.is_async and self._loop_lost():  # an async agent's timers die with its loop
            return
        self._take_tick(tick)

    def _on_run_now(self, msg: RunNowMsg) -> None:
        # Only a running schedule runs now: a RunNow that a Stop overtook in the mailbox must
        # not start a run after stop() has returned.
        started = False
        if not self._running:
            log.debug("agent %s: RunNow ignored, the schedule is not running", self.name)
        elif self._execution is not None:
            self._skipped()  # a manual run never queues or cancels: the overlap policy is for ticks
        else:
            self._begin_execution(None)
            started = True
        if msg.reply is not None:
            msg.reply(started)

    # -- supervision ----------------------------------------------------------------------
    def crashed(self, message: Any, error: BaseException) -> None:
        """A handler raised (a bug in the actor, not an agent failure): restart or give up.

        Runs on the serving thread, in the mailbox's order, like any handler. A restart settles
        what was in flight as cancelled (its late result is discarded as stale) and starts the
        same schedule again with the same stats; past the limiter's budget the agent is stopped
        and dead.
        """
        log.error("agent %s: actor crashed handling %s", self.name, type(message).__name__, exc_info=error)
        self.stats.last_error = repr(error)
        allowed = self.limiter.allow(self.clock.monotonic())
        schedule, max_retries, was_running = self._schedule, self._max_retries, self._running
        options, runs_done, paused, reason = self._options, self._runs_done, self._paused, self.paused_reason
        self._reset_transient()
        bus = self.events
        if bus is not None and bus.active:
            bus.emit(AgentCrashed(self.name, self.clock.now(), repr(error), not allowed))
        if not allowed:
            log.error("agent %s: %d crashes within %.0fs, giving up: the agent is stopped and dead",
                      self.name, self.limiter.max_restarts + 1, self.limiter.window)
            self._stopping = False
            self._drop_queued_start()
            self.stats.stopped(self.clock.monotonic())
            self.dead = True
            self._reply_stopped()
            if self.on_dead is not None:
                self.on_dead.agent_died(self)
            return
        self.stats.restarts += 1
        if bus is not None and bus.active:
            bus.emit(AgentRestarted(self.name, self.clock.now(), self.stats.restarts))
        try:
            if self._stopping:
                self._maybe_finish_stop()
            elif was_running and schedule is not None:
                self._on_start(StartMsg(schedule, max_retries, False, options))
                self._runs_done = runs_done  # max_runs counts across a restart
                if paused:
                    self._pause(reason or "")
        except Exception as again:  # the restart itself crashed: one more crash, within the same limit
            self.crashed(message, again)

    def _reset_transient(self) -> None:
        """Forget everything in flight: timers, the attempt (counted cancelled), the token."""
        self._run_token.cancel("restart")
        self._ports.close()
        ex = self._execution
        if ex is not None:
            if not ex.waiting and not self.call.is_async:
                self.stats.abandoned_runs += 1
            ex.abandon()
            self._end_cancelled()
        self._running = False
        self._epoch += 1
