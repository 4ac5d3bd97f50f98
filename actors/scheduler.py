"""AgentScheduler and AsyncAgentScheduler: thin facades over one agent actor.

Both validate everything at construction or at ``start()`` (so a bad config or expression
raises at the call site, never later in a thread), then post messages to the actor; the timer,
retry and stop logic lives once, in the actor and its loop side.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from actors._validate import check_optional_seconds
from actors.agent import check_callbacks, resolve_agent
from actors.agent_actor import AgentActor, RunNowMsg, StartMsg, inside_agent
from actors.config import SchedulerConfig
from actors._loop_driver import LoopDriver
from actors.messages import Start
from actors.runtime import Binding
from bridge import LoopThread

__all__ = ["AgentScheduler", "AsyncAgentScheduler"]

Callback = Callable[..., Any] | None
# An actor answers in microseconds; this only bounds a wait on a wedged worker.
_STATS_WAIT_S = 5.0


class _SchedulerBase:
    _prefer_async: ClassVar[bool]

    def _setup(self, agent: Any, task: Any, config: Mapping[str, Any] | None, on_success: Callback,
               on_failure: Callback) -> None:
        cfg = SchedulerConfig.from_mapping(config)
        call = resolve_agent(agent, prefer_async=self._prefer_async)
        check_callbacks(on_success, on_failure)
        self._actor = AgentActor(call, task, cfg, cfg.name or call.label, on_success, on_failure)
        self._lock = threading.Lock()
        self._binding: Binding | None = None

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        return f"<{type(self).__name__} {self.name!r} {self._actor.call.kind} {state}>"

    @property
    def name(self) -> str:
        """The agent's name (``config['name']``, else derived from the agent)."""
        return self._actor.name

    @property
    def kind(self) -> str:
        """``"async"`` if the agent is awaited on a loop, ``"sync"`` if it runs in a thread."""
        return self._actor.call.kind

    @property
    def is_running(self) -> bool:
        """True from a successful ``start()`` until ``stop()`` is called."""
        binding = self._binding
        return binding is not None and not binding.stop_requested and not self._actor.dead and not binding.loop_closed

    def _start_message(self, schedule_expr: str, max_retries: int, run_immediately: bool) -> StartMsg:
        # Start validates: ValueError (a TypeError too for a wrong type).
        return self._actor.start_message(Start(schedule_expr, max_retries, run_immediately))

    def _stopping_from_inside(self, binding: Binding, timeout: float | None) -> bool:
        """A stop from the agent's own run or callback, or from its loop thread, cannot wait."""
        if inside_agent.get() is not self._actor and threading.current_thread() is not getattr(
            binding.loop_thread, "thread", None
        ):
            return False
        binding.request_stop(timeout)

        def stop_and_forget() -> None:
            binding.stop_sync(timeout)
            self._forget(binding)

        threading.Thread(target=stop_and_forget, name="actorsched-stopper", daemon=True).start()
        return True

    def _run_now(self) -> bool:
        binding = self._binding
        return (binding is not None and not binding.stop_requested and not binding.loop_closed
                and binding.post(RunNowMsg()))

    def _forget(self, binding: Binding) -> None:
        with self._lock:
            if self._binding is binding:
                self._binding = None


class AsyncAgentScheduler(_SchedulerBase):
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

    async def start(self, schedule_expr: str, max_retries: int = 3, run_immediately: bool = False) -> bool:
        """Start the schedule; ``False`` if already running. Never waits for the agent.

        If another caller's ``stop()`` is still in progress, this waits for it to finish and
        then starts (calls take effect in order); from the agent's own run it answers ``False``.

        Raises ``ValueError`` for a bad expression or ``max_retries < 1``.
        """
        message = self._start_message(schedule_expr, max_retries, run_immediately)
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
        binding.post(message, urgent=True)
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


class AgentScheduler(_SchedulerBase):
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

    def start(self, schedule_expr: str, max_retries: int = 3, run_immediately: bool = False) -> bool:
        """Start the schedule; ``False`` if already running. Never waits for the agent.

        If another caller's ``stop()`` is still in progress, this waits for it to finish and
        then starts (calls take effect in order); from the agent's own run it answers ``False``.

        Raises ``ValueError`` for a bad expression or ``max_retries < 1``.
        """
        message = self._start_message(schedule_expr, max_retries, run_immediately)
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
        binding.post(message, urgent=True)
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
