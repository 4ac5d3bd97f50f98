"""The stop protocol of an agent actor.

Stop rule: ``Stop`` cancels the run's CancelToken at once, ends tick and backoff waits, and
gives an in-flight attempt ``stop_timeout`` to finish. An attempt that finishes in time counts
normally, unless the agent took a ``cancel_token`` (it saw the stop, so its run was
interrupted). Past the deadline an async attempt is cancelled (and abandoned if it ignores that
for `CANCEL_GRACE_S`) and a sync one abandoned (``abandoned_runs``); either way the run is a
cancelled execution with no callback.

Messages take effect in the order they arrive, also while a stop is in progress: a ``Start``
that arrives then is held and applied once the stop has finished (answering ``True`` then); a
second ``Start`` behind it answers ``False`` (the first already restarts the schedule); a
``Stop`` behind it cancels it (its ``Start`` answers ``False``: it never started anything). A
*final* stop (shutdown, a scheduler's ``stop()``) ends the actor's service: every ``Start``
after it answers ``False``.
"""

from __future__ import annotations

import logging

from actors._durable import hold, write
from actors.store import DesiredState
from actors._actor_state import CANCEL_GRACE_S, ActorState, Execution
from actors._loop_driver import after_loop_calls
from actors._timers import TimerKind
from actors._protocol import StopDeadline, StopMsg, StopPhase

__all__ = ["StopProtocol"]

log = logging.getLogger("actors")


class StopProtocol(ActorState):
    """Stopping an agent actor (see the module docstring)."""

    __slots__ = ()

    def _drop_queued_start(self) -> None:
        self._queued_pause = None
        queued, self._queued_start = self._queued_start, None
        if queued is not None and queued.reply is not None:
            queued.reply(False)

    def _on_stop(self, msg: StopMsg) -> None:
        if msg.keep and self.journal is not None and self._running and self.store_hold is None:
            hold(self)  # before the stop changes what the store must keep (a shutdown keeps it started)
        self._finished = False  # a finished schedule reads "stopped" once stopped
        if self._paused:
            self._paused = False
            self.paused_reason = None
        if not self._running and not self._stopping and self._execution is None:
            self._final = self._final or msg.final
            if msg.reply is not None:
                msg.reply(self.snapshot())
            return
        if msg.reply is not None:
            if self._stop_replies is None:
                self._stop_replies = []
            self._stop_replies.append(msg.reply)
        self._final = self._final or msg.final
        self._drop_queued_start()  # in order: the Start before this Stop is stopped by it
        if self._stopping:
            self._tighten_stop_deadline(msg.timeout)
            return
        if self.journal is not None:
            if msg.keep:
                self.standby = True  # a shutdown or a lost lease: the store keeps it started
                self.journal.touched.append(self)
            else:
                self._next_tick_at = None
                write(self, state=DesiredState.STOPPED)
        timers = self._ports.timers
        self._stopping = True
        self._running = False
        self._epoch += 1
        self._stop_timeout = self.config.stop_timeout if msg.timeout is None else msg.timeout
        self._drop_waiting_runs()
        self._run_token.cancel("stop")
        timers.disarm_all()
        ex = self._execution
        if ex is not None and ex.waiting:
            self._end_cancelled()
        self._stop_deadline_at = None
        if self._execution is not None or self._pending_callbacks:
            self._stop_deadline_at = self.clock.monotonic() + self._stop_timeout
            timers.arm(TimerKind.STOP, self._stop_timeout, StopDeadline(self._epoch, StopPhase.GRACE))
        self._maybe_finish_stop()

    def _tighten_stop_deadline(self, timeout: float | None) -> None:
        """A second stop with a shorter timeout (a shutdown behind a Stop) moves the deadline in."""
        due = self._stop_deadline_at
        if timeout is None or due is None or not self._ports.bound:
            return
        now = self.clock.monotonic()
        if now + timeout < due:
            self._stop_deadline_at = now + timeout
            self._ports.timers.arm(TimerKind.STOP, timeout, StopDeadline(self._epoch, StopPhase.GRACE))

    def _on_stop_deadline(self, msg: StopDeadline) -> None:
        if not self._stopping or msg.epoch != self._epoch:
            return
        self._stop_deadline_at = None  # passed: a later, shorter stop has nothing to move in
        ex = self._execution
        if ex is not None and not self._cut_short(ex, msg.phase, StopDeadline(msg.epoch, StopPhase.CANCEL_GRACE)):
            return  # an async run was cancelled: it has CANCEL_GRACE_S to unwind
        if self._pending_callbacks:
            log.warning("agent %s: %d callback(s) still running at the stop deadline; not waiting",
                        self.name, self._pending_callbacks)
            self._pending_callbacks = 0
            for unit in self._callback_units or ():
                unit.release()
        self._callback_units = None
        self._maybe_finish_stop()

    def _cut_short(self, ex: Execution, phase: StopPhase, again: object) -> bool:
        """A deadline of the stop rules passed for ``ex``: at the grace deadline an async run is
        cancelled (and ``again`` is posted after `CANCEL_GRACE_S`); otherwise the run is
        abandoned and ends cancelled. True once it has ended."""
        if self.call.is_async and phase is StopPhase.GRACE:
            ex.deadline_passed = True
            self._ports.on_loop(self._ports.tasks().cancel_run)
            self._ports.timers.arm(TimerKind.STOP, CANCEL_GRACE_S, again)
            return False
        if ex.token is not None:
            ex.token.cancel("stop")
        if self.call.is_async:
            log.warning("agent %s ignored cancellation for %.1fs; abandoned", self.name, CANCEL_GRACE_S)
        self.stats.abandoned_runs += 1
        ex.abandon()
        self._end_cancelled()
        return True

    def _drop_waiting_runs(self) -> None:
        raise NotImplementedError  # ScheduleControl

    def _pause(self, reason: str) -> None:
        raise NotImplementedError  # ScheduleControl

    def _maybe_finish_stop(self) -> None:
        if not self._stopping or self._execution is not None or self._pending_callbacks:
            return
        self._stopping = False
        self.stats.stopped(self.clock.monotonic())
        self._ports.close()
        self._reply_stopped()
        queued, self._queued_start = self._queued_start, None
        pause, self._queued_pause = self._queued_pause, None
        if queued is not None:
            self._on_start(queued)
            if pause is not None and self._running:
                self._pause(pause)

    def _reply_stopped(self) -> None:
        # The stopper tears the loop side down as soon as it hears back: the task cancellations
        # a sync agent's actor buffered on its worker must be on their way to the loop first.
        replies, self._stop_replies = self._stop_replies, None
        if not replies:
            return
        final = self.snapshot()
        final["is_running"] = False  # a Start held behind this stop applies after the answer
        for reply in replies:
            after_loop_calls(reply, final)

    def abandon_runtime(self) -> None:
        """The runtime died under the agent (its loop closed without a stop): settle as stopped.

        Called after the mailbox is closed, so no handler runs concurrently.
        """
        self._run_token.cancel("abandoned")
        self._drop_queued_start()
        if self._execution is not None:
            self._end_cancelled()
        self._running = self._stopping = False
        self._pending_callbacks = 0
        self.stats.stopped(self.clock.monotonic())
        self._reply_stopped()
        self.unbind()
