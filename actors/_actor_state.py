"""The state of one agent actor, and what may read it from outside the actor.

`AgentActor` is assembled from this state and two concepts that act on it, each in its own
module: `actors._attempts` (attempts, retries, outcomes, callbacks) and `actors._stop_protocol`
(the stop rule, deadlines, held starts). `actors.agent_actor` adds the message dispatch, start,
ticks and supervision. Only the thread that serves the actor's mailbox writes this state; the
stats may be read from any thread.
"""

from __future__ import annotations

import contextvars
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from actors._clock import Unit
from actors._durable import spec_of, write
from actors._ports import DETACHED, Ports
from actors._protocol import HistoryMsg, PauseMsg, Reply, ResumeMsg, RunNowMsg, StartMsg, StatsMsg, StopMsg
from actors.agent import AgentCall
from actors.backoff import RetryPolicy
from actors.config import SchedulerConfig
from actors.events import RunFinished, TickMissed, TickSkipped
from actors._tracing import AttemptSpan
from actors._tracing import record as record_spans
from actors.history import RunOutcome, newest, node_name, record, record_entry, shown_result
from actors.messages import Start
from actors.options import DEFAULT_OPTIONS, StartOptions
from actors.schedule import AtSchedule, CronSchedule, Schedule
from actors.stats import Stats
from actors.supervision import RestartLimiter
from bridge import CancelToken

if TYPE_CHECKING:
    from actors._event_bus import EventBus
    from actors._journal import Journal
    from actors.agent_actor import AgentActor

__all__ = ["CANCEL_GRACE_S", "ActorState", "Callback", "DeathListener", "Execution", "inside_agent"]

Callback = Callable[..., Any] | None

#: Set while an agent's own run or callback executes: a stop() from there must not wait for
#: itself (it would wait out stop_timeout), so it tears down in the background instead.
inside_agent: contextvars.ContextVar[ActorState | None] = contextvars.ContextVar("actorsched_inside", default=None)

# How long a cancelled async attempt may take to unwind before it is abandoned too.
CANCEL_GRACE_S = 1.0


@dataclass(slots=True)
class Execution:
    """One execution (a run): its attempts, whether it waits in backoff between them, and what
    its history entry will say."""

    run_id: int
    lateness_ms: float | None = None  # past its due time (None: a RunNow, due when asked for)
    started_at: float = 0.0  # wall time of its first attempt (set when it starts)
    error: str | None = None  # repr of its last failed attempt's error
    attempt: int = 0
    waiting: bool = False  # in backoff between attempts
    deadline_passed: bool = False
    superseded: bool = False  # cancel_previous cut it short: cancelled, however it ends
    # Only for agents that take `cancel_token`: nobody else could observe it, and an Event plus
    # a Lock per attempt was ~5 % of the tick path at 10,000 agents.
    token: CancelToken | None = None
    unit: Unit | None = None  # the attempt's busy unit on a virtual clock
    attempt_at: float = 0.0  # wall time the current attempt started
    spans: list[AttemptSpan] | None = None  # its attempts, kept only while a tracer provider is set

    def abandon(self) -> None:
        """The attempt is given up on (its late result will be discarded): no longer busy."""
        if self.unit is not None:
            self.unit.release()


class DeathListener(Protocol):
    """Who is told when supervision gives up on an actor (an object, so that 100,000 agents
    do not each keep a bound method)."""

    def agent_died(self, actor: AgentActor) -> None:
        """``actor`` is stopped and dead."""


class ActorState:
    """The fields of one scheduled agent's actor, its wiring, and its public readings."""

    # Slots, not a __dict__: with ~50 fields the instance dict was one more GC-tracked object
    # per agent and ~1.2 KB of it (100,000 agents: RSS 585 -> 463 MB in benchmarks/large.py);
    # the mixins add no fields of their own.
    __slots__ = (
        "call", "clock", "config", "dead", "events", "journal", "name", "node", "on_dead", "on_failure", "on_success",
        "paused_reason", "policy", "standby", "stats", "store_hold", "task",
        "_anchor", "_backlog", "_callback_units", "_ended_seq", "_epoch", "_execution", "_exhausted", "_fail_base",
        "_final", "_finished", "_history", "_limiter", "_limits", "_max_retries", "_next_tick_at", "_options",
        "_paused", "_pending_callbacks", "_ports", "_queued_due", "_queued_pause", "_queued_start", "_resume_from",
        "_run_seq", "_run_token", "_running", "_runs_done", "_schedule", "_spec", "_stop_deadline_at",
        "_stop_replies", "_stop_timeout", "_stopping",
    )

    def __init__(self, call: AgentCall, task: Any, config: SchedulerConfig, name: str, on_success: Callback = None,
                 on_failure: Callback = None, limits: tuple[int, float] | None = None) -> None:
        """``limits``: (max_restarts, window seconds) of supervision; None: the defaults."""
        self.call = call
        self.task = task
        self.config = config
        self.name = name
        self.policy: RetryPolicy = config.backoff
        self.clock = config.clock
        self.on_success = on_success
        self.on_failure = on_failure
        self.stats = Stats()
        self._limits = limits
        self._limiter: RestartLimiter | None = None  # made at the first crash
        #: Told (on the serving thread) once supervision gives up on the actor.
        self.on_dead: DeathListener | None = None
        self.dead = False
        self._running = False
        self._stopping = False
        self._epoch = 0
        self._run_seq = 0
        self._ended_seq = 0  # the run id of the last execution that ended (its history entry is written)
        self._schedule: Schedule | None = None
        self._max_retries = 3
        self._options: StartOptions = DEFAULT_OPTIONS
        self._anchor = 0.0  # the monotonic time the schedule's grid counts from
        self._runs_done = 0  # executions (succeeded or failed) since the last Start: max_runs
        self._fail_base = 0  # consecutive failures already counted at the last resume
        self._paused = False
        self.paused_reason: str | None = None
        self._resume_from: float | None = None  # grid time of the first tick a pause held back
        self._finished = False  # max_runs reached, or a one-shot's run ended
        self._exhausted = False  # the schedule fires no more (a one-shot has fired)
        self._queued_due: float | None = None  # overlap queue_one / cancel_previous: the run to start next
        self._backlog: list[float] | None = None  # catch_up "all": due times still to run
        self._history: deque[tuple[Any, ...]] | None = None  # made at the first execution's end
        self._run_token = CancelToken()
        self._execution: Execution | None = None
        self._pending_callbacks = 0
        self._callback_units: list[Unit] | None = None  # virtual clock only: callbacks still busy
        self._stop_replies: list[Reply] | None = None  # made by the first stop that waits for an answer
        self._stop_timeout = config.stop_timeout
        self._stop_deadline_at: float | None = None  # the stop's grace deadline, while one waits
        self._queued_start: StartMsg | None = None
        self._queued_pause: str | None = None  # a Pause told after that held Start: applied with it
        self._next_tick_at: float | None = None  # wall time of the next tick (next_run_at outside backoff)
        self._final = False  # a final stop arrived: the runtime goes away, nothing starts again
        self._ports: Ports = DETACHED  # the runtime serving the actor (see bind())
        #: The system's journal to its store, or None (no store: nothing of `_durable` runs).
        self.journal: Journal | None = None
        #: The system's event bus, or None (a scheduler's agent: nobody can subscribe).
        self.events: EventBus | None = None
        #: With a store: another node holds this agent's lease, so this one runs none of its
        #: ticks (set by the system before any message, cleared by the resume it posts).
        self.standby = False
        self._spec: dict[str, Any] | None = None  # the running Start as a store keeps it
        #: Set by a shutdown's stop: (anchor, next due, pause reason) the store keeps (`actors._durable.hold`).
        self.store_hold: tuple[float, float | None, str | None] | None = None
        #: This process's name in stats and history when its system names one (None: hostname:pid).
        self.node: str | None = None

    # -- wiring ---------------------------------------------------------------------------
    def bind(self, ports: Ports) -> None:
        """Attach the runtime that serves the actor from now on."""
        self._ports = ports
        self._final = False  # a new runtime: a final stop of the previous one no longer applies

    def unbind(self) -> None:
        """Detach the runtime after a stop; the stats stay readable from any thread."""
        self._ports = DETACHED

    @property
    def limiter(self) -> RestartLimiter:
        """Supervision's budget of restarts (made at the first crash: one object fewer per agent)."""
        limiter = self._limiter
        if limiter is None:
            limiter = self._limiter = RestartLimiter() if self._limits is None else RestartLimiter(*self._limits)
        return limiter

    # -- readings -------------------------------------------------------------------------
    @property
    def run_token(self) -> CancelToken:
        """The token a stop cancels: every run of the current start is a child of it."""
        return self._run_token

    @property
    def is_running(self) -> bool:
        """True while the schedule is active (Start handled, Stop not yet; paused included)."""
        return self._running

    @property
    def finished(self) -> bool:
        """True once the schedule ended by itself (``max_runs``, a one-shot): a Start may follow."""
        return self._finished

    def start_message(self, start: Start, reply: Reply | None = None) -> StartMsg:
        """The internal form of a validated ``Start``; cron runs in the configured zone."""
        schedule = start.schedule
        zone = self.config.timezone
        if isinstance(schedule, (CronSchedule, AtSchedule)) and zone is not None:
            schedule = schedule.with_timezone(zone)
        if isinstance(schedule, AtSchedule):
            schedule.check_future(self.clock.now())  # ValueError in the caller, not in the actor
        durable = self.journal is not None or self.config.store is not None  # a scheduler's store: not adopted yet
        spec = spec_of(start, zone) if durable else None
        return StartMsg(schedule, start.max_retries, start.run_immediately, start.options, reply, spec)

    def restore_stored(self, counters: dict[str, Any], entries: tuple[tuple[Any, ...], ...]) -> None:
        """Take up the counters and history entries (oldest first) a store kept, as if those
        runs had run here. Call on the actor's thread, or before anything is posted to it."""
        self.stats.restore(counters)
        self._run_seq = int(counters.get("run_seq", 0))
        self._ended_seq = int(counters.get("ended_seq", 0))
        for entry in entries:
            self._history = record_entry(self._history, entry)

    def snapshot(self) -> dict[str, Any]:
        """The public stats dict, with ``name``, ``kind`` and ``state``."""
        # A Start held behind a stop in progress has been told, in order: the schedule runs.
        stats = self.stats.snapshot(self.clock.monotonic(), self._running or self._queued_start is not None)
        stats["name"] = self.name
        stats["kind"] = self.call.kind
        stats["state"] = self._state()
        stats["paused_reason"] = self.paused_reason
        stats["schedule"] = None if self._schedule is None else self._schedule.expr
        if self._paused:
            stats["missed_ticks"] += self.held_back()
        stats["node"] = self.node or node_name()
        return stats

    def history(self, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` executions first (see `actors.history`)."""
        return newest(self._history, limit)

    def _state(self) -> str:
        if self._paused:
            return "paused"
        if self._execution is not None:
            return "backing_off" if self._execution.waiting else "running"
        if self._finished:
            return "finished"
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
        elif kind is HistoryMsg:
            reply(self.history(message.limit))
        elif kind is StartMsg or kind is RunNowMsg or kind is PauseMsg or kind is ResumeMsg:
            reply(False)

    # -- shared by the concepts -----------------------------------------------------------
    def _end_execution(self, outcome: RunOutcome, value: Any = None) -> None:
        """The execution in flight ended: count it and write its history entry."""
        ex, self._execution = self._execution, None
        result = error = None
        if outcome is RunOutcome.SUCCEEDED:
            self.stats.succeeded()
            self._runs_done += 1
            self._fail_base = 0
            result = shown_result(value)
        elif outcome is RunOutcome.FAILED:
            self.stats.failed(value)
            self._runs_done += 1
            error = repr(value)
        else:
            self.stats.cancelled()
            error = None if ex is None else ex.error
        if ex is not None:
            self._ended_seq = ex.run_id
            due = ex.started_at if ex.lateness_ms is None else ex.started_at - ex.lateness_ms / 1000.0
            now = self.clock.now()
            self._history = record(self._history, ex.run_id, due, ex.started_at, now, outcome,
                                   ex.attempt, error, result, ex.lateness_ms, self.node)
            if self.journal is not None:
                write(self, history=self._history[-1])
            bus = self.events
            if bus is not None and bus.active:
                bus.emit(RunFinished(self.name, now, ex.run_id, outcome, ex.attempt, now - ex.started_at,
                                     ex.lateness_ms, error, result))
            if ex.spans is not None:
                record_spans(self.name, ex.run_id, outcome, ex.started_at, now, ex.lateness_ms, ex.spans)

    def _skipped(self, n: int = 1) -> None:
        """Count ``n`` ticks the overlap policy dropped (and tell the subscribers)."""
        self.stats.skipped(n)
        bus = self.events
        if n and bus is not None and bus.active:
            bus.emit(TickSkipped(self.name, self.clock.now(), n))

    def _missed(self, n: int = 1) -> None:
        """Count ``n`` ticks nobody could run (and tell the subscribers)."""
        self.stats.missed(n)
        bus = self.events
        if n and bus is not None and bus.active:
            bus.emit(TickMissed(self.name, self.clock.now(), n))

    def _end_cancelled(self) -> None:
        self._end_execution(RunOutcome.CANCELLED)

    def _on_start(self, msg: StartMsg) -> None:
        raise NotImplementedError  # AgentActor

    def _maybe_finish_stop(self) -> None:
        raise NotImplementedError  # StopProtocol

    def _begin_execution(self, due: float | None) -> None:
        raise NotImplementedError  # Attempts

    def _after_execution(self) -> None:
        raise NotImplementedError  # ScheduleControl

    def held_back(self) -> int:
        """Ticks held back by a pause so far (`ScheduleControl`)."""
        raise NotImplementedError
