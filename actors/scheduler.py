"""AgentScheduler and AsyncAgentScheduler: thin facades over one agent actor.

Both validate everything at construction or at ``start()`` (so a bad config or expression
raises at the call site, never later in a thread), then post messages to the actor; the timer,
retry and stop logic lives once, in the actor and its loop side.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from actors._loop_driver import LoopDriver
from actors._scheduler_base import _STATS_WAIT_S, SchedulerBase
from actors._validate import check_optional_seconds
from actors.agent_actor import inside_agent
from actors.options import CatchUp, Overlap
from actors.runtime import Binding
from bridge import LoopThread

__all__ = ["AgentScheduler", "AsyncAgentScheduler"]


class AsyncAgentScheduler(SchedulerBase):
    """Run an agent on a schedule from asyncio code.

    Construct it anywhere (nothing is created before the first ``start()``); it binds to the
    loop that calls ``start()`` and can be started again under a new loop after ``stop()``.
    Async agents are awaited on that loop; sync agents run in threads, never on the loop.
    """

    _prefer_async = True

    def __init__(
        self,
        agent: Any,
        task: Any,
        config: Mapping[str, Any] | None = None,
        on_success: Callable[..., Any] | None = None,
        on_failure: Callable[..., Any] | None = None,
    ) -> None:
        """Validate everything now; nothing (no loop primitive, thread or queue) is created yet.

        Args:
            agent: an object with ``astart``/``arun``/``start``/``run``, or a sync or async
                callable ``f(task)``; a generator is consumed and its items are the result.
            task: passed to every run.
            config: ``timeout``, ``backoff``, ``stop_timeout``, ``name``, ``timezone`` (see
                the configuration page); an unknown key or a bad value raises ``ValueError``.
            on_success: called once with the result of each successful execution.
            on_failure: called once with the last error of each failed execution.
        """
        self._setup(agent, task, config, on_success, on_failure)

    async def start(self, schedule_expr: str, max_retries: int = 3, run_immediately: bool = False, *,
                    overlap: Overlap | str = Overlap.SKIP, catch_up: CatchUp | str = CatchUp.ONCE, jitter: float = 0.0,
                    max_runs: int | None = None, pause_after_failures: int | None = None) -> bool:
        """Start the schedule; ``False`` if already running. Never waits for the agent.

        If another caller's ``stop()`` is still in progress, this waits for it to finish and
        then starts (calls take effect in order); from the agent's own run it answers ``False``.
        A schedule that finished by itself (``max_runs``, a one-shot) starts again.

        The keyword options are [`Start`][actors.Start]'s (see
        [schedule control](schedule-control.md)). Raises ``ValueError`` for a bad expression,
        ``max_retries < 1`` or a bad option, naming the value.
        """
        message = self._start_message(schedule_expr, max_retries, run_immediately, dict(
            overlap=overlap, catch_up=catch_up, jitter=jitter, max_runs=max_runs, pause_after_failures=pause_after_failures))
        restarted = self._restart_finished(message)
        if restarted is not None:
            return bool(await asyncio.wrap_future(restarted))
        while True:
            with self._lock:
                old = self._binding
                if old is not None and old.loop_closed and not old.is_finished:
                    old.abandon()  # its loop ended without a stop: start afresh on this one
                if old is None or old.is_finished:
                    binding = self._binding = Binding(self._actor, LoopDriver.acquire(), None)
                    break
                if not old.stop_requested or inside_agent.get() is self._actor:
                    return False
            await asyncio.wrap_future(old.finished())  # a stop in progress: start after it, in order
        self._bound(binding, message)
        return True

    async def stop(self) -> bool:
        """Stop cooperatively; idempotent; callable from any loop or thread; returns True.

        Interval and backoff waits end at once; an in-flight run gets ``stop_timeout``
        seconds, then is cancelled (async) or abandoned (sync): see the
        [cancellation rules](how-it-works.md#4-cancellation).
        """
        binding = self._binding
        if binding is None:
            return True
        if not self._stopping_from_inside(binding, None):
            await binding.stop_async(None)
            self._forget(binding)
        return True

    async def run_now(self) -> bool:
        """Dispatch one run now, without waiting for it; ``False`` if the scheduler is not running.

        A run already in flight is not stacked on: the request is counted in ``skipped_ticks``.
        """
        return self._run_now()

    async def pause(self, reason: str = "") -> bool:
        """Stop ticking but keep the schedule; ``False`` if not running or already paused.

        Waits end and an in-flight run may finish, by the stop rules; ticks that fall while
        paused are counted in ``missed_ticks`` and never run.
        """
        future = self._ask_pause(reason)
        return False if future is None else bool(await asyncio.wrap_future(future))

    async def resume(self) -> bool:
        """Continue a paused schedule from its next due tick; ``False`` if it was not paused."""
        future = self._ask_resume()
        return False if future is None else bool(await asyncio.wrap_future(future))

    async def get_history(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest ``limit`` executions first (the last 100 are kept), each a dict."""
        future = self._ask_history(limit)
        if future is None:
            return self._actor.history(limit)
        return list(await asyncio.wrap_future(future))

    async def get_stats(self) -> dict[str, Any]:
        """Return the stats dict (answered even while a run is in flight)."""
        binding = self._binding
        if binding is not None and binding.loop_closed and not binding.is_finished:
            binding.request_stop(None)  # its loop is gone: settle it as stopped now (logged once)
            self._forget(binding)
            return self._actor.snapshot()
        future = binding.ask_stats() if binding is not None else None
        if future is None:
            return self._actor.snapshot()
        return await asyncio.wrap_future(future)


class AgentScheduler(SchedulerBase):
    """Run an agent on a schedule from plain sync code.

    ``start()`` returns at once and the agent runs in the background: sync agents in threads,
    async agents and async callbacks on a shared background loop thread. ``stop()`` blocks
    until stopped. Usable as a context manager (``with`` stops on exit).
    """

    _prefer_async = False

    def __init__(
        self,
        agent: Any,
        task: Any,
        config: Mapping[str, Any] | None = None,
        on_success: Callable[..., Any] | None = None,
        on_failure: Callable[..., Any] | None = None,
    ) -> None:
        """Validate everything now; nothing starts before ``start()``.

        Args:
            agent: as for [`AsyncAgentScheduler`][actors.AsyncAgentScheduler]; one with both
                kinds of entry point runs through its sync one (``start``/``run``) here.
            task: passed to every run.
            config: the same keys (see the configuration page).
            on_success: called once with each successful execution's result (sync or async).
            on_failure: called once with each failed execution's last error (sync or async).
        """
        self._setup(agent, task, config, on_success, on_failure)

    def start(self, schedule_expr: str, max_retries: int = 3, run_immediately: bool = False, *,
              overlap: Overlap | str = Overlap.SKIP, catch_up: CatchUp | str = CatchUp.ONCE, jitter: float = 0.0,
              max_runs: int | None = None, pause_after_failures: int | None = None) -> bool:
        """Start the schedule; ``False`` if already running. Never waits for the agent.

        If another caller's ``stop()`` is still in progress, this waits for it to finish and
        then starts (calls take effect in order); from the agent's own run it answers ``False``.
        A schedule that finished by itself (``max_runs``, a one-shot) starts again.

        The keyword options are [`Start`][actors.Start]'s (see
        [schedule control](schedule-control.md)). Raises ``ValueError`` for a bad expression,
        ``max_retries < 1`` or a bad option, naming the value.
        """
        message = self._start_message(schedule_expr, max_retries, run_immediately, dict(
            overlap=overlap, catch_up=catch_up, jitter=jitter, max_runs=max_runs, pause_after_failures=pause_after_failures))
        restarted = self._restart_finished(message)
        if restarted is not None:
            return bool(self._wait(restarted, "start()"))
        while True:
            with self._lock:
                old = self._binding
                if old is None or old.is_finished:
                    break
                if not old.stop_requested or inside_agent.get() is self._actor:
                    return False
            # A stop in progress (another thread's stop()): start after it, in order.
            try:
                old.finished().result(old.stop_wait_budget(None) + _STATS_WAIT_S)
            except TimeoutError:
                raise TimeoutError(f"agent {self.name!r}: the stop in progress did not finish; not started") from None
        with self._lock:
            if self._binding is not None and not self._binding.is_finished:
                return False  # another thread started it meanwhile
            loop_thread = LoopThread.shared()
            loop = loop_thread.acquire()
            try:
                driver = LoopDriver.acquire_for(loop)
            except BaseException:
                loop_thread.release()
                raise
            binding = self._binding = Binding(self._actor, driver, loop_thread)
        self._bound(binding, message)
        return True

    def stop(self, timeout: float | None = None) -> bool:
        """Stop and block until stopped; ``timeout`` replaces ``stop_timeout`` for this call."""
        timeout = check_optional_seconds("timeout", timeout)
        binding = self._binding
        if binding is None:
            return True
        if not self._stopping_from_inside(binding, timeout):
            binding.stop_sync(timeout)
            self._forget(binding)
        return True

    def run_now(self) -> bool:
        """Dispatch one run now, without waiting for it; ``False`` if the scheduler is not running.

        A run already in flight is not stacked on: the request is counted in ``skipped_ticks``.
        """
        return self._run_now()

    def pause(self, reason: str = "") -> bool:
        """Stop ticking but keep the schedule; ``False`` if not running or already paused.

        Waits end and an in-flight run may finish, by the stop rules; ticks that fall while
        paused are counted in ``missed_ticks`` and never run.
        """
        future = self._ask_pause(reason)
        return False if future is None else bool(self._wait(future, "pause()"))

    def resume(self) -> bool:
        """Continue a paused schedule from its next due tick; ``False`` if it was not paused."""
        future = self._ask_resume()
        return False if future is None else bool(self._wait(future, "resume()"))

    def get_history(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest ``limit`` executions first (the last 100 are kept), each a dict."""
        future = self._ask_history(limit)
        return self._actor.history(limit) if future is None else list(self._wait(future, "get_history()"))

    def _wait(self, future: Any, what: str) -> Any:
        binding = self._binding
        if binding is not None and binding.served_here():
            return self._answer_here(future, what)
        try:
            return future.result(_STATS_WAIT_S)
        except TimeoutError:
            raise TimeoutError(f"agent {self.name!r} did not answer {what} within {_STATS_WAIT_S}s") from None

    def get_stats(self) -> dict[str, Any]:
        """Return the stats dict (answered even while a run is in flight)."""
        binding = self._binding
        if binding is not None and binding.served_here():
            return self._actor.snapshot()  # from its own loop (a callback): no handler runs now
        future = binding.ask_stats() if binding is not None else None
        if future is None:
            return self._actor.snapshot()
        try:
            return future.result(_STATS_WAIT_S)
        except TimeoutError:
            raise TimeoutError(f"agent {self.name!r} did not answer get_stats() within {_STATS_WAIT_S}s") from None

    def __enter__(self) -> AgentScheduler:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
