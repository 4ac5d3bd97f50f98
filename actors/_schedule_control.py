"""Schedule control: what a tick does while a run is in flight (overlap), what happens to ticks
nobody could run (catch-up), pause and resume, the end of a schedule (``max_runs``, one-shots)
and pausing after failures in a row.

The policies themselves are pure (`actors.options`); this module applies them on the actor's
state. Cutting a run short (a pause, ``cancel_previous``) follows the stop rules: the run's
token is cancelled at once, the run gets ``stop_timeout``, then an async one is cancelled and a
sync one abandoned (`StopProtocol._cut_short`).
"""

from __future__ import annotations

import logging

from actors._durable import write
from actors.store import DesiredState
from actors._protocol import HistoryMsg, PauseMsg, ResumeMsg, RunDeadline, StopPhase
from actors._stop_protocol import StopProtocol
from actors._timers import Tick, TimerKind
from actors.events import AgentPaused, AgentResumed
from actors.options import CATCH_UP_LIMIT, CatchUp, Overlap, catch_up_plan
from actors.schedule import OneShot, fires_after, fires_between
from bridge import CancelToken

__all__ = ["ScheduleControl"]

log = logging.getLogger("actors")


class ScheduleControl(StopProtocol):
    """The schedule-control handlers of an agent actor (see the module docstring)."""

    __slots__ = ()

    # -- ticks ----------------------------------------------------------------------------
    def _take_tick(self, tick: Tick) -> None:
        """A tick of the running schedule arrived (its epoch checked by the caller)."""
        self._next_tick_at = self.stats.next_run_at = tick.next_wall
        if tick.next_wall is None:
            self._exhausted = True
        overdue = 1 + tick.missed
        if self._paused:  # fired just before the pause was handled: held back, never run
            self._missed(overdue)
            return
        if self._execution is not None:
            self._overlap(tick.due)
            self._missed_behind_a_run(tick)
            return
        if overdue == 1:  # on time (perhaps late): the one tick runs, and nothing was missed
            self._begin_execution(tick.due)
            return
        runs, missed = catch_up_plan(self._options.catch_up, overdue)
        self._missed(missed)
        if runs == 0:
            self._after_execution()  # a one-shot that nobody could run ends here
            return
        if runs > 1:  # catch_up "all": the missed ticks after this one, in order
            self._backlog = self._grid_after(tick.due, runs - 1)
        self._begin_execution(tick.due)

    def _grid_after(self, due: float, n: int) -> list[float]:
        """The next ``n`` due times (monotonic) after ``due`` on the schedule's grid."""
        schedule = self._schedule
        if schedule is None:
            return []
        if schedule.clock == "monotonic":
            return fires_after(schedule, due, n, self._anchor)
        offset = self.clock.now() - self.clock.monotonic()
        return [wall - offset for wall in fires_after(schedule, due + offset, n, self._anchor)]

    def _overlap(self, due: float) -> None:
        policy = self._options.overlap
        if policy is Overlap.SKIP or self._queued_due is not None:
            self._skipped()
            return
        self._queued_due = due
        ex = self._execution
        if policy is Overlap.CANCEL_PREVIOUS and ex is not None and not ex.superseded:
            ex.superseded = True
            self._wind_down()

    def _missed_behind_a_run(self, tick: Tick) -> None:
        """Ticks a stalled loop missed while a run was in flight: ``all`` runs them later."""
        if not tick.missed:
            return
        if self._options.catch_up is CatchUp.ALL:
            backlog = self._backlog if self._backlog is not None else []
            room = max(0, CATCH_UP_LIMIT - len(backlog))
            backlog.extend(self._grid_after(tick.due, min(room, tick.missed)))
            self._backlog = backlog
            self._missed(tick.missed - min(room, tick.missed))
        else:
            self._missed(tick.missed)

    # -- cutting a run short without a stop -----------------------------------------------
    def _wind_down(self) -> None:
        """Cut the run in flight short by the stop rules (a pause, or cancel_previous)."""
        execution = self._execution
        if execution is None:
            return
        if execution.waiting:  # a backoff wait ends at once
            self._ports.timers.disarm(TimerKind.RETRY)
            self._end_cancelled()
            self._after_execution()
            return
        if execution.token is not None:
            execution.token.cancel("pause" if self._paused else "cancel_previous")
        self._ports.timers.arm(TimerKind.STOP, self.config.stop_timeout, RunDeadline(execution.run_id, StopPhase.GRACE))

    def _on_run_deadline(self, msg: RunDeadline) -> None:
        ex = self._execution
        if ex is None or ex.run_id != msg.run_id or self._stopping:
            return  # it ended in time, or a stop has taken over
        if self._cut_short(ex, msg.phase, RunDeadline(msg.run_id, StopPhase.CANCEL_GRACE)):
            self._after_execution()

    # -- after an execution ---------------------------------------------------------------
    def _after_execution(self) -> None:
        """Nothing is in flight any more: finish, pause after failures, or start what waits."""
        if not self._running or self._execution is not None:
            return
        options = self._options
        if options.max_runs is not None and self._runs_done >= options.max_runs:
            self._finish()
            return
        limit = options.pause_after_failures
        failures = self.stats.consecutive_failures - self._fail_base
        if limit is not None and not self._paused and failures >= limit:
            reason = f"paused after {failures} failed executions in a row; last error: {self.stats.last_error}"
            log.warning("agent %s: %s", self.name, reason)
            self._pause(reason)
            return
        if self._paused:
            return
        if self._queued_due is not None:
            due, self._queued_due = self._queued_due, None
            self._begin_execution(due)
        elif self._backlog:
            self._begin_execution(self._backlog.pop(0))
        elif self._exhausted:
            self._finish()

    def _finish(self) -> None:
        """The schedule ended by itself: ``finished`` until a Start or a Stop."""
        self._drop_waiting_runs()
        self._ports.timers.disarm_all()
        self._running = False
        self._finished = True
        self._next_tick_at = None
        self.stats.stopped(self.clock.monotonic())
        if self.journal is not None:
            write(self, state=DesiredState.FINISHED)

    def _drop_waiting_runs(self, paused: bool = False) -> None:
        """A queued run and a catch-up backlog that will never start: counted, not lost (a
        queued run is a skipped tick, or a missed one when a pause holds it back)."""
        if self._queued_due is not None:
            self._queued_due = None
            if paused:
                self._missed()
            else:
                self._skipped()
        if self._backlog:
            self._missed(len(self._backlog))
        self._backlog = None

    # -- pause / resume / history ---------------------------------------------------------
    def _on_pause(self, msg: PauseMsg) -> None:
        held = self._queued_start is not None  # a Start told after the stop in progress: pause it
        changed = (self._running and not self._paused and not self._stopping) or (held and self._queued_pause is None)
        if changed and held:
            self._queued_pause = msg.reason
        elif changed:
            self._pause(msg.reason)
        if msg.reply is not None:
            msg.reply(changed)

    def _pause(self, reason: str) -> None:
        self._paused = True
        self.paused_reason = reason
        timers = self._ports.timers
        self._resume_from = timers.next_tick_due()
        timers.disarm(TimerKind.TICK)
        self._next_tick_at = self.stats.next_run_at = None
        self._drop_waiting_runs(paused=True)
        self._run_token.cancel("pause")
        self._run_token = CancelToken()
        self._wind_down()
        if self.journal is not None:
            write(self, state=DesiredState.PAUSED)
        bus = self.events
        if bus is not None and bus.active:
            bus.emit(AgentPaused(self.name, self.clock.now(), reason))

    def _on_resume(self, msg: ResumeMsg) -> None:
        changed = (self._paused and self._running) or self._queued_pause is not None
        if self._queued_pause is not None:
            self._queued_pause = None
        elif changed:
            self._resume()
        if msg.reply is not None:
            msg.reply(changed)

    def _resume(self) -> None:
        missed = self.held_back()
        self._paused = False
        self.paused_reason = None
        self._fail_base = self.stats.consecutive_failures
        schedule = self._schedule
        self._resume_from = None
        self._missed(missed)
        if missed and isinstance(schedule, OneShot):
            self._exhausted = True
        if not self._exhausted and schedule is not None:
            self._next_tick_at = self.stats.next_run_at = self._ports.timers.start_ticks(
                self._epoch, schedule, self._anchor, self._options.jitter)
            self._exhausted = self._next_tick_at is None
        if self.journal is not None:
            write(self, state=DesiredState.STARTED)
        bus = self.events
        if bus is not None and bus.active:
            bus.emit(AgentResumed(self.name, self.clock.now()))
        if self._execution is None:
            self._after_execution()

    def held_back(self) -> int:
        """Ticks that have fallen while paused so far (counted in ``missed_ticks`` at resume;
        the stats show them meanwhile)."""
        schedule, start = self._schedule, self._resume_from
        if not self._paused or schedule is None or start is None:
            return 0
        now = self.clock.monotonic()
        if start > now:
            return 0
        offset = self.clock.now() - now if schedule.clock == "wall" else 0.0
        # The held-back tick itself (due at ``start``), and every fire after it until now.
        return 1 + fires_between(schedule, start + offset, now + offset, self._anchor)

    def _on_history(self, msg: HistoryMsg) -> None:
        msg.reply(self.history(msg.limit))
