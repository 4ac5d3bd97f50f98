"""One agent's tasks on its event loop: async attempts (with their timeout) and async callbacks.

Only the loop's thread touches an `AgentTasks`, so it needs no lock. An async agent's handlers
run on that loop and call it directly; a sync agent's actor (on a dispatcher worker) reaches it
through the loop driver, only for async callbacks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from actors._clock import REAL_CLOCK, Clock, RunContext
from actors._protocol import Outcome
from bridge import asafe_call

__all__ = ["AgentTasks", "AttemptOwner"]

log = logging.getLogger("actors")


class AttemptOwner(Protocol):
    """The actor whose async attempts an `AgentTasks` runs.

    An object rather than callables: a partial or bound method per attempt is garbage the GC
    pays for, and with 10,000 attempts in flight at once (a burst) each object per attempt is
    10,000 more that every collection of that burst scans."""

    def call_agent(self, kwargs: dict[str, Any], context: RunContext | None) -> Awaitable[Any]:
        """Inside the attempt's task: mark its context as the agent's, then call the agent."""

    def async_attempt_ended(self, run_id: int, attempt: int, context: RunContext | None,
                            outcome: Outcome, value: Any) -> None:
        """The attempt ``(run_id, attempt)`` ended with ``outcome`` (on the loop)."""


class AgentTasks:
    """One agent's tasks on a loop. Every method must run on that loop."""

    __slots__ = ("_loop", "_clock", "_run", "_abandoned", "_callbacks")

    def __init__(self, loop: asyncio.AbstractEventLoop, clock: Clock = REAL_CLOCK) -> None:
        self._loop = loop
        self._clock = clock
        self._run: asyncio.Task[None] | None = None
        # Attempts that ignored their cancellation (timeout or stop) and were abandoned: close()
        # cancels them once more, so an agent that finally yields does not outlive its agent.
        self._abandoned: set[asyncio.Task[None]] | None = None
        self._callbacks: set[asyncio.Task[None]] | None = None  # made at the first async callback

    # -- async runs and callbacks ---------------------------------------------------------
    def run_async(self, owner: AttemptOwner, kwargs: dict[str, Any], context: RunContext | None,
                  timeout: float | None, run_id: int, attempt: int) -> None:
        """Start ``await owner.call_agent(kwargs, context)`` as a task; report its end through
        ``owner.async_attempt_ended(run_id, attempt, context, outcome, value)``: `Outcome.OK`
        with the value, `Outcome.ERROR` with the exception, or `Outcome.CANCELLED`.

        Every ``BaseException`` the agent raises is reported as an error: a ``KeyboardInterrupt``
        or ``SystemExit`` escaping a task would stop the whole loop (asyncio re-raises them out
        of ``run_forever``), and anything else would end the task without a report, leaving the
        attempt in flight forever.
        """
        previous = self._run
        if previous is not None and not previous.done():  # an abandoned attempt still unwinding
            if self._abandoned is None:
                self._abandoned = set()
            self._abandoned.add(previous)
            previous.add_done_callback(self._abandoned.discard)
        self._run = self._loop.create_task(self._attempt(owner, kwargs, context, timeout, run_id, attempt),
                                           name="actorsched-run")

    async def _attempt(self, owner: AttemptOwner, kwargs: dict[str, Any], context: RunContext | None,
                       timeout: float | None, run_id: int, attempt: int) -> None:
        # The agent is called here, inside the task, not by the caller of run_async: a task
        # cancelled before its first step must not leave an agent coroutine never awaited.
        me = asyncio.current_task()
        assert me is not None
        # The attempt's deadline is a timer of the clock (not asyncio.timeout, which reads the
        # loop's time), so a virtual clock fires it too. Without a timeout nothing is made:
        # a closure and a cell per tick are garbage the GC pays for at 10,000 agents.
        expired: list[bool] | None = None
        deadline = None
        if timeout is not None:
            expired = [False]
            deadline = self._clock.call_at(self._loop, self._clock.monotonic() + timeout, self._expire, me, expired)
        outcome, result = Outcome.OK, None
        try:
            try:
                result = await owner.call_agent(kwargs, context)
            finally:
                if deadline is not None:
                    deadline.cancel()
            if expired and expired[0]:  # the agent swallowed the timeout's cancellation and returned
                raise TimeoutError(f"attempt exceeded the timeout of {timeout}s")
        except asyncio.CancelledError:
            if expired and expired[0] and me.cancelling() == 1:
                me.uncancel()
                outcome, result = Outcome.ERROR, TimeoutError(f"attempt exceeded the timeout of {timeout}s")
            elif me.cancelling():
                outcome = Outcome.CANCELLED
            else:  # the agent itself raised CancelledError: an agent failure like any other
                outcome, result = Outcome.ERROR, asyncio.CancelledError("agent raised CancelledError")
        except BaseException as exc:  # noqa: BLE001 - see run_async
            if not isinstance(exc, Exception):
                log.error("agent raised %r: counted as a failed attempt; the runtime keeps running", exc)
            outcome, result = Outcome.ERROR, exc
        # No longer this agent's run before the report: the actor may start the next attempt
        # (or close this loop side) while handling it, and this task must not be taken for
        # an attempt still in flight.
        if self._run is me:
            self._run = None
        owner.async_attempt_ended(run_id, attempt, context, outcome, result)

    def _expire(self, task: asyncio.Task[None], expired: list[bool]) -> None:
        """An attempt's timeout: mark it, then cancel its task."""
        expired[0] = True
        self._clock.interrupt(task)
        task.cancel()

    def cancel_run(self) -> None:
        """Cancel the in-flight async attempt, if any (it reports ``cancelled``)."""
        if self._run is not None:
            self._clock.interrupt(self._run)
            self._run.cancel()

    def run_callback(self, callback: Callable[..., Any], arg: Any, done: Callable[[], None]) -> None:
        """Run a (possibly async) callback via ``asafe_call`` as a task, then call ``done()``."""

        async def call() -> None:
            try:
                await asafe_call(callback, arg)  # never raises for the callback, a KeyboardInterrupt included
            finally:
                done()

        task = self._loop.create_task(call(), name="actorsched-callback")
        if self._callbacks is None:
            self._callbacks = set()
        self._callbacks.add(task)
        task.add_done_callback(self._callbacks.discard)

    def close(self) -> None:
        """Cancel anything still running (the agent is finished on this loop)."""
        for task in [*((self._run,) if self._run is not None else ()), *(self._abandoned or ()),
                     *(self._callbacks or ())]:
            self._clock.interrupt(task)
            task.cancel()
