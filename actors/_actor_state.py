"""The state of one agent actor, and what may read it from outside the actor.

`AgentActor` is assembled from this state and two concepts that act on it, each in its own
module: `actors._attempts` (attempts, retries, outcomes, callbacks) and `actors._stop_protocol`
(the stop rule, deadlines, held starts). `actors.agent_actor` adds the message dispatch, start,
ticks and supervision. Only the thread that serves the actor's mailbox writes this state; the
stats may be read from any thread.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from actors._clock import Unit
from actors._ports import DETACHED, Ports
from actors._protocol import Reply, RunNowMsg, StartMsg, StatsMsg, StopMsg
from actors.agent import AgentCall
from actors.backoff import RetryPolicy
from actors.config import SchedulerConfig
from actors.messages import Start
from actors.schedule import CronSchedule, Schedule
from actors.stats import Stats
from actors.supervision import RestartLimiter
from bridge import CancelToken

if TYPE_CHECKING:
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
    """One execution (a run): its attempts, and whether it waits in backoff between them."""

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


class DeathListener(Protocol):
    """Who is told when supervision gives up on an actor (an object, so that 100,000 agents
    do not each keep a bound method)."""

    def agent_died(self, actor: AgentActor) -> None:
        """``actor`` is stopped and dead."""


class ActorState:
    """The fields of one scheduled agent's actor, its wiring, and its public readings."""

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
        self._schedule: Schedule | None = None
        self._max_retries = 3
        self._run_token = CancelToken()
        self._execution: Execution | None = None
        self._pending_callbacks = 0
        self._callback_units: list[Unit] | None = None  # virtual clock only: callbacks still busy
        self._stop_replies: list[Reply] | None = None  # made by the first stop that waits for an answer
        self._stop_timeout = config.stop_timeout
        self._stop_deadline_at: float | None = None  # the stop's grace deadline, while one waits
        self._queued_start: StartMsg | None = None
        self._next_tick_at: float | None = None  # wall time of the next tick (next_run_at outside backoff)
        self._final = False  # a final stop arrived: the runtime goes away, nothing starts again
        self._ports: Ports = DETACHED  # the runtime serving the actor (see bind())

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

    # -- shared by the concepts -----------------------------------------------------------
    def _end_cancelled(self) -> None:
        self._execution = None
        self.stats.cancelled()

    def _on_start(self, msg: StartMsg) -> None:
        raise NotImplementedError  # AgentActor

    def _maybe_finish_stop(self) -> None:
        raise NotImplementedError  # StopProtocol
