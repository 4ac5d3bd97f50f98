"""Attempts: how one execution's attempts start, end, retry, and call back.

An attempt of an async agent is a task on its loop (`AgentTasks.run_async`), one of a sync
agent a call on a pool thread (`run_sync`); either reports its outcome by posting `AttemptDone`
to the actor's own mailbox, and `Attempts._settle` decides: success, failure, a retry after
the backoff delay, or (while stopping) a cancelled execution. Callbacks run the same way,
never on the thread that serves the mailbox.
"""

from __future__ import annotations

import inspect
import logging
from functools import partial
from collections.abc import Awaitable
from typing import Any

from actors._actor_state import CANCEL_GRACE_S, ActorState, Callback, Execution, inside_agent
from actors._clock import RunContext, Unit, current_run
from actors._timers import TimerKind
from actors._tracing import active as tracing_active
from actors._protocol import CALLBACK_DONE, AttemptDone, AttemptTimeout, Outcome, Retry
from actors.events import AttemptFailed, RunStarted
from actors.agent import Interrupted, _is_async, aconsume, consume
from actors.history import RunOutcome
from actors.options import Overlap
from bridge import CancelToken, run_to_completion, safe_call

__all__ = ["Attempts"]

log = logging.getLogger("actors")
_NO_KWARGS: dict[str, CancelToken] = {}


class Attempts(ActorState):
    """The attempts of an agent actor's executions (see the module docstring)."""

    __slots__ = ()

    def _begin_execution(self, due: float | None) -> None:
        """Start an execution for the tick ``due`` (monotonic), or now for a RunNow (None)."""
        self._run_seq += 1
        lateness = None if due is None else self.clock.monotonic() - due
        execution = self._execution = Execution(self._run_seq, None if lateness is None else lateness * 1000.0)
        if tracing_active():
            execution.spans = []
        self._start_attempt(execution, lateness)
        if self.journal is not None:  # a process dying in this run leaves it "interrupted"
            self.journal.touched.append(self)
        bus = self.events
        if bus is not None and bus.active:
            bus.emit(RunStarted(self.name, execution.started_at, execution.run_id, execution.lateness_ms))

    def _start_attempt(self, ex: Execution, lateness: float | None) -> None:
        ex.attempt += 1
        ex.waiting = False
        call, run_id, attempt, ports = self.call, ex.run_id, ex.attempt, self._ports
        kwargs = _NO_KWARGS  # read only: a dict per attempt only for agents that take a token
        run_token = self._run_token
        if call.takes_token or self._options.overlap is Overlap.CANCEL_PREVIOUS:
            # Its own token, so that cancel_previous ends this run and not the next one.
            ex.token = run_token = self._run_token.child()
            if call.takes_token:
                kwargs = {"cancel_token": run_token}
        now_wall = ex.attempt_at = self.clock.now()
        if attempt == 1:
            ex.started_at = now_wall
        self.stats.attempt_started(attempt == 1, now_wall, lateness)
        unit = ex.unit = Unit(self.clock) if self.clock.virtual else None
        context = None if unit is None else RunContext(unit, self._run_token)  # for clock.sleep() in the run
        if call.is_async:  # an async agent's actor runs on its loop: a plain call
            ports.tasks().run_async(self, kwargs, context, self.config.timeout, run_id, attempt)
            if self.config.timeout is not None:
                # The clock's timer cancels the task at the deadline; this one abandons an
                # attempt that swallows that cancellation, as a stop does after its grace.
                ports.timers.arm(TimerKind.TIMEOUT, self.config.timeout + CANCEL_GRACE_S, AttemptTimeout(run_id, attempt))
            return
        # A partial of a bound method rather than a closure: a closure over these names is 10
        # GC-tracked objects per attempt, a partial 3.
        ports.submit(partial(self._run_sync, run_id, attempt, kwargs, run_token, context))
        if self.config.timeout is not None:
            ports.timers.arm(TimerKind.TIMEOUT, self.config.timeout, AttemptTimeout(run_id, attempt))

    # -- AttemptOwner (see actors._loop_tasks): an async attempt, on the agent's loop ----------
    def call_agent(self, kwargs: dict[str, CancelToken], context: RunContext | None) -> Awaitable[Any]:
        """Mark the attempt's task as this agent's (it runs in its own copy of the context),
        then call the agent; an async generator is consumed into the list of its items."""
        inside_agent.set(self)
        if context is not None:
            current_run.set(context)
        value = self.call.func(self.task, **kwargs)
        return aconsume(value) if inspect.isasyncgen(value) else value

    def async_attempt_ended(self, run_id: int, attempt: int, context: RunContext | None, outcome: Outcome,
                            value: Any) -> None:
        """Post the attempt's outcome to this actor's mailbox (drained in place: same loop)."""
        self._ports.send(AttemptDone(run_id, attempt, outcome, value))
        if context is not None:
            context.unit.release()

    def _run_sync(self, run_id: int, attempt: int, kwargs: dict[str, CancelToken], run_token: CancelToken,
                  context: RunContext | None) -> None:
        """One sync attempt, on a pool thread; its outcome is posted back to the mailbox."""
        marker = inside_agent.set(self)
        run_marker = None if context is None else current_run.set(context)
        try:
            value = self.call.func(self.task, **kwargs)
            if value is not None:  # None, the common result, needs none of these checks (an ABC check among them)
                if inspect.isgenerator(value):  # a stop ends it between two items
                    value = consume(value, run_token)
                elif inspect.isasyncgen(value):
                    value = run_to_completion(aconsume(value))
                elif inspect.isawaitable(value):  # a sync callable that returned a coroutine
                    value = run_to_completion(value)
        except Interrupted:
            self._ports.send(AttemptDone(run_id, attempt, Outcome.CANCELLED, None))
        except BaseException as exc:  # noqa: BLE001 - reported to the actor, never lost
            self._ports.send(AttemptDone(run_id, attempt, Outcome.ERROR, exc))
        else:
            self._ports.send(AttemptDone(run_id, attempt, Outcome.OK, value))
        finally:
            inside_agent.reset(marker)
            if run_marker is not None:
                current_run.reset(run_marker)
            if context is not None:
                context.unit.release()

    def _current(self, run_id: int, attempt: int) -> Execution | None:
        ex = self._execution
        if ex is None or ex.run_id != run_id or ex.attempt != attempt or ex.waiting:
            return None
        return ex

    def _on_attempt_done(self, msg: AttemptDone) -> None:
        ex = self._current(msg.run_id, msg.attempt)
        if ex is None:
            return  # the late result of an abandoned attempt: discarded
        self._settle(ex, msg.outcome, msg.value)

    def _on_attempt_timeout(self, msg: AttemptTimeout) -> None:
        ex = self._current(msg.run_id, msg.attempt)
        if ex is None:
            return
        if ex.token is not None:
            ex.token.cancel("timeout")
        if self.call.is_async:
            log.warning("agent %s ignored the cancellation at its timeout for %.1fs; abandoned",
                        self.name, CANCEL_GRACE_S)
            self._ports.on_loop(self._ports.tasks().cancel_run)
        self.stats.abandoned_runs += 1
        ex.abandon()
        self._settle(ex, Outcome.ERROR, TimeoutError(f"attempt exceeded the timeout of {self.config.timeout}s"))

    def _settle(self, ex: Execution, outcome: Outcome, value: Any) -> None:
        """An attempt ended: count it, then succeed, fail, retry, or (while stopping) cancel."""
        cancelled_token = ex.token is not None and ex.token.cancelled
        if ex.token is not None:
            ex.token.detach()
        if self.config.timeout is not None:
            self._ports.timers.disarm(TimerKind.TIMEOUT)
        if outcome is Outcome.ERROR:
            self.stats.attempt_failed(value)
            ex.error = repr(value)
            log.warning("agent %s: attempt %d failed: %r", self.name, ex.attempt, value)
        if ex.spans is not None:
            ex.spans.append((ex.attempt_at, self.clock.now(),
                             None if outcome is Outcome.OK else ex.error if outcome is Outcome.ERROR
                             else "the attempt was cancelled"))
        last = ex.attempt >= self._max_retries
        interrupted = self._stopping or self._paused  # by the stop rules
        bus = self.events
        if outcome is Outcome.ERROR and bus is not None and bus.active:  # before the RunFinished it may cause
            bus.emit(AttemptFailed(self.name, self.clock.now(), ex.run_id, ex.attempt, ex.error or "",
                                   not (last or interrupted or ex.superseded)))
        if outcome is Outcome.CANCELLED or ex.superseded or (interrupted and (ex.deadline_passed or cancelled_token)):
            self._end_cancelled()
        elif outcome is Outcome.OK:
            self.stats.next_run_at = self._next_tick_at  # a backoff had put the retry there
            self._end_execution(RunOutcome.SUCCEEDED, value)
            self._callback(self.on_success, value)
        elif last:
            self.stats.next_run_at = self._next_tick_at
            self._end_execution(RunOutcome.FAILED, value)
            self._callback(self.on_failure, value)
        elif interrupted:
            self._end_cancelled()  # a retry was due, but the stop (or pause) wins
        else:
            ex.waiting = True
            delay = self.policy.delay(ex.attempt, self.clock.random)
            self.stats.next_run_at = self.clock.now() + delay
            self._ports.timers.arm(TimerKind.RETRY, delay, Retry(ex.run_id))
        if self._stopping:
            self._maybe_finish_stop()
        elif self._execution is None:
            self._after_execution()

    def _on_retry(self, msg: Retry) -> None:
        ex = self._execution
        if ex is None or ex.run_id != msg.run_id or not ex.waiting or self._stopping or self._paused or self._loop_lost():
            return
        self._start_attempt(ex, None)

    def _loop_lost(self) -> bool:
        """A sync agent's timers outlive its loop (they run on a dispatcher worker): once that
        loop has closed without a stop (``asyncio.run`` returned), it runs no more, as an
        async agent's timers die with the loop; the next call on its scheduler settles it."""
        if not self._ports.loop_lost():
            return False
        self._ports.timers.disarm_all()
        return True

    # -- callbacks ------------------------------------------------------------------------
    def _callback(self, callback: Callback, arg: Any) -> None:
        if callback is None:
            return
        self._pending_callbacks += 1
        unit = None
        if self.clock.virtual:
            unit = Unit(self.clock)
            if self._callback_units is None:
                self._callback_units = []
            self._callback_units.append(unit)
        ports = self._ports

        def done() -> None:
            ports.send(CALLBACK_DONE)
            if unit is not None:
                unit.release()

        if _is_async(callback):

            async def call_async(value: Any) -> Any:
                inside_agent.set(self)
                return await callback(value)

            ports.on_loop(ports.tasks().run_callback, call_async, arg, done)
            return

        def run() -> None:
            marker = inside_agent.set(self)
            try:
                safe_call(callback, arg)  # never raises for the callback, a KeyboardInterrupt included
            finally:
                inside_agent.reset(marker)
                done()

        ports.submit(run)
