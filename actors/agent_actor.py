"""The agent actor: one agent's state machine, driven only by messages from its mailbox.

Every handler runs on a dispatcher worker, one message at a time, so the stats and state here
need no lock. Handlers never wait: they decide and dispatch. Waiting happens elsewhere: ticks,
backoff and deadlines are timers on the agent's loop (`AgentLoop`), sync attempts run
on `bridge.ThreadPool`, async attempts are tasks on the loop. Each of those reports back
by posting a message here.

Stop rule: ``Stop`` cancels the run's CancelToken at once, ends tick and backoff
waits, and gives an in-flight attempt ``stop_timeout`` to finish. An attempt that finishes in
time counts normally, unless the agent took a ``cancel_token`` (it saw the stop, so its run was
interrupted). Past the deadline an async attempt is cancelled and a sync one abandoned
(``abandoned_runs``); either way the run is a cancelled execution with no callback.

Messages take effect in the order they arrive, also while a stop is in progress: a ``Start``
that arrives then is held and applied once the stop has finished (answering ``True`` then); a
second ``Start`` behind it answers ``False`` (the first already restarts the schedule); a
``Stop`` behind it cancels it (its ``Start`` answers ``False``: it never started anything). A
*final* stop (shutdown, a scheduler's ``stop()``) ends the actor's service: every ``Start``
after it answers ``False``.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from actors._clock import RunContext, Unit, current_run, tracked
from actors.agent import AgentCall, Interrupted, _is_async, aconsume, consume
from actors.backoff import RetryPolicy
from actors.config import SchedulerConfig
from actors._protocol import (
    CALLBACK_DONE, AttemptDone, AttemptTimeout, CallbackDone, InjectFault, Outcome, Reply, Retry, RunNowMsg, StartMsg,
    StatsMsg, StopDeadline, StopMsg, StopPhase,
)
from actors._loop_driver import LoopDriver, after_loop_calls
from actors._loop_tasks import AgentTasks
from actors._timers import AgentTimers, Tick
from actors.messages import Start
from actors.schedule import CronSchedule, Schedule
from actors.stats import Stats
from actors.supervision import RestartLimiter
from bridge import CancelToken, ThreadPool, safe_call

__all__ = ["AgentActor", "InjectFault", "RunNowMsg", "StartMsg", "StatsMsg", "StopMsg", "inside_agent"]

log = logging.getLogger("actors")
Callback = Callable[..., Any] | None

#: Set while an agent's own run or callback executes: a stop() from there must not wait for
#: itself (it would wait out stop_timeout), so it tears down in the background instead.
inside_agent: contextvars.ContextVar[AgentActor | None] = contextvars.ContextVar("actorsched_inside", default=None)

# How long a cancelled async attempt may take to unwind before it is abandoned too.
CANCEL_GRACE_S = 1.0


@dataclass(slots=True)
class _Execution:
    run_id: int
    attempt: int = 0
    waiting: bool = False  # in backoff between attempts
    deadline_passed: bool = False
    # Only for agents that take `cancel_token`: nobody else could observe it, and an Event plus
    # a Lock per attempt was ~5 % of the tick path at 10,000 agents.
    token: CancelToken | None = None
    unit: Unit | None = None  # the attempt's busy unit on a virtual clock

    def abandon(self) -> None:
        """The attempt is given up on (its late result will be discarded): no longer busy."""
        if self.unit is not None:
            self.unit.release()


class AgentActor:
    """State and message handlers of one scheduled agent (see the module docstring)."""

    def __init__(
        self,
        call: AgentCall,
        task: Any,
        config: SchedulerConfig,
        name: str,
        on_success: Callback = None,
        on_failure: Callback = None,
        limiter: RestartLimiter | None = None,
    ) -> None:
        self.call = call
        self.task = task
        self.config = config
        self.name = name
        self.policy: RetryPolicy = config.backoff
        self.clock = config.clock
        self.on_success = on_success
        self.on_failure = on_failure
        self.stats = Stats()
        self.limiter = limiter if limiter is not None else RestartLimiter()
        #: Called (on the worker) once supervision gives up on the actor.
        self.on_dead: Callable[[AgentActor], None] | None = None
        self.dead = False
        self._running = False
        self._stopping = False
        self._epoch = 0
        self._run_seq = 0
        self._schedule: Schedule | None = None
        self._max_retries = 3
        self._run_token = CancelToken()
        self._execution: _Execution | None = None
        self._pending_callbacks = 0
        self._callback_units: list[Unit] | None = None  # virtual clock only: callbacks still busy
        self._stop_replies: list[Reply] = []
        self._stop_timeout = config.stop_timeout
        self._stop_deadline_at: float | None = None  # the stop's grace deadline, while one waits
        self._queued_start: StartMsg | None = None
        self._next_tick_at: float | None = None  # wall time of the next tick (next_run_at outside backoff)
        self._final = False  # a final stop arrived: the runtime goes away, nothing starts again
        # Bound while a runtime serves the agent (see bind()).
        self._post: Callable[[Any], bool] | None = None
        self._driver: LoopDriver | None = None
        self._timers: AgentTimers | None = None
        self._tasks: AgentTasks | None = None  # a sync agent's: made at its first async callback
        self._pool: ThreadPool | None = None
        self._direct = False  # handlers run on the agent's loop: loop-side calls are plain calls

    # -- wiring ---------------------------------------------------------------------------
    def bind(self, post: Callable[[Any], bool], driver: LoopDriver, timers: AgentTimers, pool: ThreadPool,
             on_loop: bool) -> None:
        """Attach the runtime: how to post to our mailbox, our timers (on the thread that
        serves the mailbox), our loop, and the thread pool; ``on_loop`` if the mailbox is
        served on that loop (its handlers call the loop side directly)."""
        self._post, self._driver, self._timers, self._pool = post, driver, timers, pool
        self._direct = on_loop
        self._tasks = AgentTasks(driver.loop, self.clock) if on_loop else None
        self._final = False  # a new runtime: a final stop of the previous one no longer applies

    def unbind(self) -> None:
        """Detach the runtime after a stop; the stats stay readable from any thread."""
        self._post = self._driver = self._timers = self._tasks = self._pool = None

    @property
    def run_token(self) -> CancelToken:
        """The token a stop cancels: every run of the current start is a child of it."""
        return self._run_token

    @property
    def is_running(self) -> bool:
        """True while the schedule is active (Start handled, Stop not yet)."""
        return self._running

    def start_message(self, start: Start, reply: Reply | None = None) -> StartMsg:
        """The internal form of a validated ``Start``; cron runs in the configured zone."""
        schedule = start.schedule
        zone = self.config.timezone
        if isinstance(schedule, CronSchedule) and zone is not None:
            schedule = schedule.with_timezone(zone)
        return StartMsg(schedule, start.max_retries, start.run_immediately, reply)

    def snapshot(self) -> dict[str, Any]:
        """The public stats dict, with ``name``, ``kind`` and ``state``."""
        # A Start held behind a stop in progress has been told, in order: the schedule runs.
        stats = self.stats.snapshot(self.clock.monotonic(), self._running or self._queued_start is not None)
        stats["name"] = self.name
        stats["kind"] = self.call.kind
        stats["state"] = self._state()
        return stats

    def _state(self) -> str:
        if self._execution is not None:
            return "backing_off" if self._execution.waiting else "running"
        return "idle" if self._running else "stopped"

    def dropped(self, message: Any) -> None:
        """Answer a message that a closed mailbox will never deliver, so no asker waits in vain.

        Called from the thread that closed the mailbox (the runtime is gone by then).
        """
        reply = getattr(message, "reply", None)
        if reply is None:
            return
        kind = type(message)
        if kind is StatsMsg or kind is StopMsg:
            reply(self.snapshot())
        elif kind is StartMsg or kind is RunNowMsg:
            reply(False)

    def _on_loop(self, fn: Callable[..., None], *args: Any) -> None:
        if self._direct:
            fn(*args)
            return
        assert self._driver is not None
        if self.clock.virtual:  # a unit of work until it has run on the loop
            loop = self._driver.loop
            self.clock.enter(loop)
            self._driver.call(tracked, self.clock, loop, fn, args)
        else:
            self._driver.call(fn, *args)

    def _timers_(self) -> AgentTimers:
        timers = self._timers
        if timers is None:
            raise RuntimeError(f"agent {self.name!r} has no runtime")  # a handler ran after unbind: a bug
        return timers

    def _tasks_(self) -> AgentTasks:
        """The loop side of tasks; a sync agent's is made at its first async callback."""
        tasks = self._tasks
        if tasks is None:
            if self._driver is None:
                raise RuntimeError(f"agent {self.name!r} has no runtime")
            tasks = self._tasks = AgentTasks(self._driver.loop, self.clock)
        return tasks

    def _close_runtime_side(self) -> None:
        """Cancel every timer, and every task on the loop (the agent's runs end here)."""
        if self._timers is not None:
            self._timers.disarm_all()
        if self._tasks is not None:
            self._on_loop(self._tasks.close)

    def _loop_lost(self) -> bool:
        """A sync agent's timers outlive its loop (they run on a dispatcher worker): once that
        loop has closed without a stop (``asyncio.run`` returned), it runs no more, as an
        async agent's timers die with the loop; the next call on its scheduler settles it."""
        driver = self._driver
        if self._direct or driver is None or not driver.loop.is_closed():
            return False
        self._timers_().disarm_all()
        return True

    def _send(self, message: Any) -> None:
        post = self._post
        if post is not None:
            post(message)

    # -- dispatch -------------------------------------------------------------------------
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
        elif kind is InjectFault:
            raise message.error
        else:
            raise TypeError(f"agent {self.name!r} got an unknown message {message!r}")

    # -- start / ticks / run-now ----------------------------------------------------------
    def _on_start(self, msg: StartMsg) -> None:
        if self._stopping and not self._final and self._queued_start is None:
            self._queued_start = msg  # applied once the stop in progress has finished
            return
        if self._running or self._stopping or self._final:
            if msg.reply is not None:
                msg.reply(False)
            return
        self._running = True
        self._epoch += 1
        self._schedule, self._max_retries = msg.schedule, msg.max_retries
        self._run_token = CancelToken()
        anchor = self.clock.monotonic()
        self.stats.started(anchor)
        self._next_tick_at = self.clock.now() + (msg.schedule.next_fire(anchor, anchor) - anchor) \
            if msg.schedule.clock == "monotonic" else msg.schedule.next_fire(self.clock.now())
        self.stats.next_run_at = self._next_tick_at
        self._timers_().start_ticks(self._epoch, msg.schedule, anchor)
        if msg.run_immediately:
            self._begin_execution(anchor)
        if msg.reply is not None:
            msg.reply(True)

    def _on_tick(self, tick: Tick) -> None:
        if tick.epoch != self._epoch or not self._running:
            return  # a tick of a previous start that was already in flight
        if self._loop_lost():
            return
        self._next_tick_at = self.stats.next_run_at = tick.next_wall
        if tick.missed:
            self.stats.skipped(tick.missed)
        if self._execution is not None:
            self.stats.skipped()
            return
        self._begin_execution(tick.due)

    def _on_run_now(self, msg: RunNowMsg) -> None:
        # Only a running schedule runs now: a RunNow that a Stop overtook in the mailbox must
        # not start a run after stop() has returned.
        started = False
        if not self._running:
            log.debug("agent %s: RunNow ignored, the schedule is not running", self.name)
        elif self._execution is not None:
            self.stats.skipped()
        else:
            self._begin_execution(None)
            started = True
        if msg.reply is not None:
            msg.reply(started)

    # -- attempts -------------------------------------------------------------------------
    def _begin_execution(self, due: float | None) -> None:
        self._run_seq += 1
        execution = self._execution = _Execution(self._run_seq)
        self._start_attempt(execution, None if due is None else self.clock.monotonic() - due)

    def _start_attempt(self, ex: _Execution, lateness: float | None) -> None:
        assert self._pool is not None
        ex.attempt += 1
        ex.waiting = False
        call, run_id, attempt = self.call, ex.run_id, ex.attempt
        kwargs: dict[str, CancelToken] = {}
        if call.takes_token:
            ex.token = kwargs["cancel_token"] = self._run_token.child()
        self.stats.attempt_started(attempt == 1, self.clock.now(), lateness)
        unit = ex.unit = Unit(self.clock) if self.clock.virtual else None
        context = None if unit is None else RunContext(unit, self._run_token)  # for clock.sleep() in the run
        # Bound methods in partials rather than closures: a closure over these 8 names is 10
        # GC-tracked objects per attempt, a partial 3, and at 10,000 agents the garbage per
        # tick sets how often the GC stops everything.
        if call.is_async:
            done = partial(self._async_done, run_id, attempt, unit)
            self._on_loop(self._tasks_().run_async, partial(self._attempt_async, kwargs, context),
                          self.config.timeout, done)
            if self.config.timeout is not None:
                # The clock's timer cancels the task at the deadline; this one abandons an
                # attempt that swallows that cancellation, as a stop does after its grace.
                self._timers_().arm("timeout", self.config.timeout + CANCEL_GRACE_S, AttemptTimeout(run_id, attempt))
            log.debug("agent %s: attempt %d of run %d dispatched to the loop", self.name, attempt, run_id)
            return
        self._pool.submit(partial(self._run_sync, run_id, attempt, kwargs, self._run_token, context))
        if self.config.timeout is not None:
            self._timers_().arm("timeout", self.config.timeout, AttemptTimeout(run_id, attempt))
        log.debug("agent %s: attempt %d of run %d dispatched to a thread", self.name, attempt, run_id)

    def _async_done(self, run_id: int, attempt: int, unit: Unit | None, outcome: Outcome, value: Any) -> None:
        self._send(AttemptDone(run_id, attempt, outcome, value))
        if unit is not None:
            unit.release()

    async def _attempt_async(self, kwargs: dict[str, CancelToken], context: RunContext | None) -> Any:
        inside_agent.set(self)  # the task runs in its own copy of the context
        if context is not None:
            current_run.set(context)
        value = self.call.func(self.task, **kwargs)
        if inspect.isasyncgen(value):
            return await aconsume(value)
        return await value

    def _run_sync(self, run_id: int, attempt: int, kwargs: dict[str, CancelToken], run_token: CancelToken,
                  context: RunContext | None) -> None:
        """One sync attempt, on a pool thread; its outcome is posted back to the mailbox."""
        marker = inside_agent.set(self)
        run_marker = None if context is None else current_run.set(context)
        try:
            value = self.call.func(self.task, **kwargs)
            if inspect.isgenerator(value):  # a stop ends it between two items
                value = consume(value, run_token)
            elif inspect.isasyncgen(value):
                value = asyncio.run(aconsume(value))
            elif inspect.isawaitable(value):  # a sync callable that returned a coroutine
                value = asyncio.run(_await(value))
        except Interrupted:
            self._send(AttemptDone(run_id, attempt, Outcome.CANCELLED, None))
        except BaseException as exc:  # noqa: BLE001 - reported to the actor, never lost
            self._send(AttemptDone(run_id, attempt, Outcome.ERROR, exc))
        else:
            self._send(AttemptDone(run_id, attempt, Outcome.OK, value))
        finally:
            inside_agent.reset(marker)
            if run_marker is not None:
                current_run.reset(run_marker)
            if context is not None:
                context.unit.release()

    def _current(self, run_id: int, attempt: int) -> _Execution | None:
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
            self._on_loop(self._tasks_().cancel_run)
        self.stats.abandoned_runs += 1
        ex.abandon()
        self._settle(ex, Outcome.ERROR, TimeoutError(f"attempt exceeded the timeout of {self.config.timeout}s"))

    def _settle(self, ex: _Execution, outcome: Outcome, value: Any) -> None:
        """An attempt ended: count it, then succeed, fail, retry, or (while stopping) cancel."""
        cancelled_token = ex.token is not None and ex.token.cancelled
        if ex.token is not None:
            ex.token.detach()
        if self.config.timeout is not None:
            self._timers_().disarm("timeout")
        if outcome is Outcome.ERROR:
            self.stats.attempt_failed(value)
            log.warning("agent %s: attempt %d failed: %r", self.name, ex.attempt, value)
        last = ex.attempt >= self._max_retries
        if outcome is Outcome.CANCELLED or (self._stopping and (ex.deadline_passed or cancelled_token)):
            self._end_cancelled()
        elif outcome is Outcome.OK:
            self._execution = None
            self.stats.next_run_at = self._next_tick_at  # a backoff had put the retry there
            self.stats.succeeded()
            self._callback(self.on_success, value)
        elif last:
            self._execution = None
            self.stats.next_run_at = self._next_tick_at
            self.stats.failed(value)
            self._callback(self.on_failure, value)
        elif self._stopping:
            self._end_cancelled()  # a retry was due, but the stop wins
        else:
            ex.waiting = True
            delay = self.policy.delay(ex.attempt)
            self.stats.next_run_at = self.clock.now() + delay
            self._timers_().arm("retry", delay, Retry(ex.run_id))
        self._maybe_finish_stop()

    def _end_cancelled(self) -> None:
        self._execution = None
        self.stats.cancelled()

    def _on_retry(self, msg: Retry) -> None:
        ex = self._execution
        if ex is None or ex.run_id != msg.run_id or not ex.waiting or self._stopping or self._loop_lost():
            return
        self._start_attempt(ex, None)

    def _callback(self, callback: Callback, arg: Any) -> None:
        if callback is None:
            return
        assert self._pool is not None
        self._pending_callbacks += 1
        unit = None
        if self.clock.virtual:
            unit = Unit(self.clock)
            if self._callback_units is None:
                self._callback_units = []
            self._callback_units.append(unit)

        def done() -> None:
            self._send(CALLBACK_DONE)
            if unit is not None:
                unit.release()

        if _is_async(callback):

            async def call_async(value: Any) -> Any:
                inside_agent.set(self)
                return await callback(value)

            self._on_loop(self._tasks_().run_callback, call_async, arg, done)
            return

        def run() -> None:
            marker = inside_agent.set(self)
            try:
                safe_call(callback, arg)  # never raises for the callback, a KeyboardInterrupt included
            finally:
                inside_agent.reset(marker)
                done()

        self._pool.submit(run)

    # -- stop -----------------------------------------------------------------------------
    def _drop_queued_start(self) -> None:
        queued, self._queued_start = self._queued_start, None
        if queued is not None and queued.reply is not None:
            queued.reply(False)

    def _on_stop(self, msg: StopMsg) -> None:
        if not self._running and not self._stopping and self._execution is None:
            self._final = self._final or msg.final
            if msg.reply is not None:
                msg.reply(self.snapshot())
            return
        if msg.reply is not None:
            self._stop_replies.append(msg.reply)
        self._final = self._final or msg.final
        self._drop_queued_start()  # in order: the Start before this Stop is stopped by it
        if self._stopping:
            self._tighten_stop_deadline(msg.timeout)
            return
        self._stopping = True
        self._running = False
        self._epoch += 1
        self._stop_timeout = self.config.stop_timeout if msg.timeout is None else msg.timeout
        self._run_token.cancel("stop")
        self._timers_().disarm_all()
        ex = self._execution
        if ex is not None and ex.waiting:
            self._end_cancelled()
        self._stop_deadline_at = None
        if self._execution is not None or self._pending_callbacks:
            self._stop_deadline_at = self.clock.monotonic() + self._stop_timeout
            self._timers_().arm("stop", self._stop_timeout, StopDeadline(self._epoch, StopPhase.GRACE))
        self._maybe_finish_stop()

    def _tighten_stop_deadline(self, timeout: float | None) -> None:
        """A second stop with a shorter timeout (a shutdown behind a Stop) moves the deadline in."""
        due = self._stop_deadline_at
        if timeout is None or due is None or self._timers is None:
            return
        now = self.clock.monotonic()
        if now + timeout < due:
            self._stop_deadline_at = now + timeout
            self._timers_().arm("stop", timeout, StopDeadline(self._epoch, StopPhase.GRACE))

    def _on_stop_deadline(self, msg: StopDeadline) -> None:
        if not self._stopping or msg.epoch != self._epoch:
            return
        self._stop_deadline_at = None  # passed: a later, shorter stop has nothing to move in
        ex = self._execution
        if ex is not None and self.call.is_async and msg.phase is StopPhase.GRACE:
            ex.deadline_passed = True
            self._on_loop(self._tasks_().cancel_run)
            self._timers_().arm("stop", CANCEL_GRACE_S, StopDeadline(msg.epoch, StopPhase.CANCEL_GRACE))
            return
        if ex is not None:
            if ex.token is not None:
                ex.token.cancel("stop")
            if self.call.is_async:
                log.warning("agent %s ignored cancellation for %.1fs; abandoned", self.name, CANCEL_GRACE_S)
            self.stats.abandoned_runs += 1
            ex.abandon()
            self._end_cancelled()
        if self._pending_callbacks:
            log.warning("agent %s: %d callback(s) still running at the stop deadline; not waiting",
                        self.name, self._pending_callbacks)
            self._pending_callbacks = 0
            for unit in self._callback_units or ():
                unit.release()
        self._callback_units = None
        self._maybe_finish_stop()

    # -- supervision ----------------------------------------------------------------------
    def crashed(self, message: Any, error: BaseException) -> None:
        """A handler raised (a bug in the actor, not an agent failure): restart or give up.

        Runs on the worker, in the mailbox's order, like any handler. A restart settles what
        was in flight as cancelled (its late result is discarded as stale) and starts the same
        schedule again with the same stats; past the limiter's budget the agent is stopped and
        dead.
        """
        log.error("agent %s: actor crashed handling %s", self.name, type(message).__name__, exc_info=error)
        self.stats.last_error = repr(error)
        allowed = self.limiter.allow(self.clock.monotonic())
        schedule, max_retries, was_running = self._schedule, self._max_retries, self._running
        self._reset_transient()
        if not allowed:
            log.error("agent %s: %d crashes within %.0fs, giving up: the agent is stopped and dead",
                      self.name, self.limiter.max_restarts + 1, self.limiter.window)
            self._stopping = False
            self._drop_queued_start()
            self.stats.stopped(self.clock.monotonic())
            self.dead = True
            self._reply_stopped()
            if self.on_dead is not None:
                self.on_dead(self)
            return
        self.stats.restarts += 1
        try:
            if self._stopping:
                self._maybe_finish_stop()
            elif was_running and schedule is not None:
                self._on_start(StartMsg(schedule, max_retries, False))
        except Exception as again:  # the restart itself crashed: one more crash, within the same limit
            self.crashed(message, again)

    def _reset_transient(self) -> None:
        """Forget everything in flight: timers, the attempt (counted cancelled), the token."""
        self._run_token.cancel("restart")
        self._close_runtime_side()
        ex = self._execution
        if ex is not None:
            if not ex.waiting and not self.call.is_async:
                self.stats.abandoned_runs += 1
            ex.abandon()
            self._end_cancelled()
        self._running = False
        self._epoch += 1

    def _reply_stopped(self) -> None:
        # The stopper tears the loop side down as soon as it hears back: the timer and task
        # cancellations buffered on this worker must be on their way to the loop first.
        replies, self._stop_replies = self._stop_replies, []
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

    def _maybe_finish_stop(self) -> None:
        if not self._stopping or self._execution is not None or self._pending_callbacks:
            return
        self._stopping = False
        self.stats.stopped(self.clock.monotonic())
        self._close_runtime_side()
        self._reply_stopped()
        queued, self._queued_start = self._queued_start, None
        if queued is not None:
            self._on_start(queued)


async def _await(awaitable: Any) -> Any:
    return await awaitable
