"""ActorSystem: agents as actors you send messages to, on the same runtime as the schedulers.

Nothing starts before the first ``spawn``. A plain system (or ``with``) runs async agents on
the shared background loop thread and prefers an agent's sync entry point; a system entered
with ``async with`` binds to the running loop and prefers the async one. Every agent gets its
own `Binding` (mailbox, loop timers, thread pool), exactly as a scheduler does; the
system only names them, supervises them and shuts them down together.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from actors._clock import REAL_CLOCK, Clock, check_clock
from actors._validate import check_int, check_mapping, check_seconds, shown
from actors.agent import check_callbacks, claim_name, pool_members, resolve_agent
from actors.agent_actor import AgentActor
from actors.config import SchedulerConfig
from actors.errors import ArgumentTypeError
from actors._loop_driver import LoopDriver, running_loop
from actors._dead_letters import DEATH_LOG, DeadLetters
from actors._event_bus import EventBus
from actors.events import Event
from actors.ref import AgentPool, AgentRef
from actors._shutdown import StopLatch, final_stats, release_many, stop_all
from actors._system_store import StoreHolder
from actors.store import Store
from actors.runtime import Binding, close_driver
from bridge import LoopThread

__all__ = ["ActorSystem"]

log = logging.getLogger("actors")
SYSTEM_KEYS = ("max_restarts", "restart_window")
# Beyond an agent's stop deadline: the 1 s cancel grace of an async attempt, plus slack.
_SHUTDOWN_SLACK_S = 2.0


class ActorSystem:
    """A registry of named agent actors with supervision, pools and one shutdown.

    ``with ActorSystem() as system:`` runs agents on a shared background loop and prefers their
    sync entry points; ``async with ActorSystem() as system:`` runs them on the running loop and
    prefers async ones. Leaving the block shuts the system down.

    Args:
        config: ``max_restarts`` (default 3): actor crashes forgiven per ``restart_window``
            seconds (default 60) before an agent is stopped and dead. None: the defaults.
            An unknown key or a bad value raises ``ValueError``.
        clock: the clock every agent's timers run on; None is the real one. Pass an
            [`actors.testing.VirtualClock`][actors.testing.VirtualClock] to test schedules
            without waiting.
        store: where schedules survive the process (see [stores](stores.md)): a path or
            ``sqlite:///path.db``; None keeps them in memory. A bad one raises ``ValueError``.
        lease_seconds: with a store, how long another process waits before it takes over an
            agent whose process died.
        node: this process's name in stats, history and leases; None: ``hostname:pid``.
    """

    def __init__(self, config: Mapping[str, Any] | None = None, *, clock: Clock | None = None,
                 store: str | os.PathLike[str] | Store | None = None, lease_seconds: float = 10.0,
                 node: str | None = None) -> None:
        config = check_mapping("config", config)
        unknown = sorted((k for k in config if k not in SYSTEM_KEYS), key=str)
        if unknown:
            raise ValueError(f"unknown system config key(s) {unknown}; accepted: {list(SYSTEM_KEYS)}")
        self._limits = (
            check_int("config 'max_restarts'", config.get("max_restarts", 3), minimum=0),
            check_seconds("config 'restart_window'", config.get("restart_window", 60.0), allow_zero=False),
        )
        self._clock = check_clock(clock)
        self._store = None if store is None else StoreHolder(store, lease_seconds, node)
        self._lock = threading.RLock()
        self._refs: dict[str, AgentRef] = {}
        self._events = EventBus(self._clock)
        self._dead_letters = DeadLetters(self._events)
        self._driver: LoopDriver | None = None
        self._loop_thread: LoopThread | None = None
        self._async_loop: asyncio.AbstractEventLoop | None = None
        self._seq = itertools.count(1)
        self._closing = 0  # shutdowns in progress

    def __repr__(self) -> str:
        mode = "async" if self._async_loop is not None else "sync"
        return f"<ActorSystem {mode} agents={len(self._refs)} dead_letters={self._dead_letters.count}>"

    # -- registry -------------------------------------------------------------------------
    @property
    def clock(self) -> Clock:
        """The clock the agents' timers, stats and events run on."""
        return self._clock

    @property
    def dead_letters(self) -> int:
        """Messages told to dead agents (each is also logged at WARNING)."""
        return self._dead_letters.count

    def subscribe(self, fn: Callable[[Event], Any]) -> Callable[[], None]:
        """Call ``fn(event)`` for every later [event][actors.events.Event] of the system's agents;
        returns a function that unsubscribes it.

        ``fn`` may be sync (called on the system's delivery thread) or async (run on the loop
        that is running where ``subscribe`` is called, else to completion on that thread); it
        never holds an agent, and what it raises is logged, never fatal. ``shutdown()``
        delivers what is queued before it returns.
        """
        return self._events.subscribe(fn)

    def get(self, name: str) -> AgentRef | None:
        """The agent named ``name``, or None."""
        if not isinstance(name, str):
            raise ArgumentTypeError(f"name must be a str, not {type(name).__name__}: {shown(name)}")
        return self._refs.get(name)

    def agents(self) -> list[str]:
        """Names of the agents in the system, in spawn order."""
        return list(self._refs)

    def spawn(
        self,
        agent: Any,
        task: Any,
        name: str | None = None,
        config: Mapping[str, Any] | None = None,
        on_success: Callable[..., Any] | None = None,
        on_failure: Callable[..., Any] | None = None,
    ) -> AgentRef:
        """Add an agent, idle until it is sent [`Start`][actors.Start], and return its ref.

        Args:
            agent: An agent or callable, as for [`AgentScheduler`][actors.AgentScheduler].
            task: Passed to every run of the agent.
            name: Unique in the system (``ValueError`` on a duplicate); None: made from
                ``config["name"]`` or the agent.
            config: The scheduler config (the keys are on the
                [configuration](configuration.md) page).
            on_success: Called once with the result of each successful execution.
            on_failure: Called once with the last error of each failed execution.
        """
        cfg = SchedulerConfig.from_mapping(config)
        if cfg.store is not None:
            raise ValueError("config 'store' is for a scheduler; a system's agents share ActorSystem(store=...)")
        if cfg.clock is not self._clock:
            if cfg.clock is not REAL_CLOCK:
                raise ValueError("an agent's config 'clock' must be its system's clock: pass it as ActorSystem(clock=...)")
            cfg = dataclasses.replace(cfg, clock=self._clock)
        call = resolve_agent(agent, prefer_async=self._async_loop is not None)
        check_callbacks(on_success, on_failure)
        with self._lock:
            if self._closing:
                raise RuntimeError("the system is shutting down: spawn again once shutdown() has returned")
            name = claim_name(self._refs, name if name is not None else cfg.name, call.label, self._seq)
            driver = self._runtime()
            loop_thread = self._loop_thread
            if loop_thread is not None:
                loop_thread.acquire()
            actor = AgentActor(call, task, cfg, name, on_success, on_failure, self._limits)
            binding = Binding(actor, driver.retain(), loop_thread)
            binding.dead_listener = DEATH_LOG
            actor.events = self._events
            ref = self._refs[name] = AgentRef(name, binding, self._dead_letters)
        if self._store is not None:
            self._store.adopt(binding)  # resumes a stored schedule, or waits for another node's lease
        log.debug("spawned agent %s (%s)", name, call.kind)
        return ref

    def pool(
        self,
        agents: Iterable[Any],
        task: Any,
        config: Mapping[str, Any] | None = None,
        on_success: Callable[..., Any] | None = None,
        on_failure: Callable[..., Any] | None = None,
    ) -> AgentPool[AgentRef]:
        """Spawn every agent (sync and async may mix) with generated names; return the pool."""
        members = pool_members(agents, config, prefer_async=self._async_loop is not None)
        return AgentPool([self.spawn(a, task, None, config, on_success, on_failure) for a in members])

    def _runtime(self) -> LoopDriver:
        """The loop driver the agents bind to, created at the first spawn."""
        if self._driver is not None:
            return self._driver
        if self._async_loop is not None:
            self._driver = LoopDriver.acquire_for(self._async_loop)
        else:
            loop_thread = LoopThread.shared()
            loop = loop_thread.acquire()
            try:
                self._driver = LoopDriver.acquire_for(loop)
            except BaseException:
                loop_thread.release()
                raise
            self._loop_thread = loop_thread
        return self._driver

    # -- shutdown -------------------------------------------------------------------------
    def _begin_shutdown(self, timeout: float) -> tuple[list[Binding], StopLatch]:
        timeout = check_seconds("timeout", timeout)
        with self._lock:
            self._closing += 1  # a spawn racing the shutdown must not outlive it
            refs, self._refs = self._refs, {}
        return stop_all(refs.values(), timeout)

    @staticmethod
    def _release_bindings(stopping: list[Binding]) -> None:
        # All of them share the system's driver, which the system still holds: no channel to
        # close here, the system's own release below does it.
        release_many(stopping)

    def _detach_runtime(self) -> tuple[LoopDriver | None, LoopThread | None]:
        with self._lock:
            driver, loop_thread = self._driver, self._loop_thread
            self._driver = self._loop_thread = None
        return driver, loop_thread

    def shutdown(self, timeout: float = 5.0) -> dict[str, dict[str, Any]]:
        """Stop every agent (each gets ``min(stop_timeout, timeout)``), join the library's
        threads, and return ``{name: final stats}``. Agents are dead afterwards; the system
        itself can spawn again. From the loop of an ``async with`` system use
        [`ashutdown`][actors.ActorSystem.ashutdown].
        """
        if self._async_loop is not None and running_loop() is self._async_loop:
            raise RuntimeError("shutdown() would block the loop the agents run on; use await system.ashutdown()")
        stopping, latch = self._begin_shutdown(timeout)
        try:
            if self._clock.virtual:  # the stop deadlines are virtual: let that time pass
                self._clock.run_until(latch.done, timeout + _SHUTDOWN_SLACK_S)
            latch.wait(timeout + _SHUTDOWN_SLACK_S)
            final = final_stats(stopping, latch)
            self._events.close()
            if self._store is not None:
                self._store.close()
            self._release_bindings(stopping)
            driver, loop_thread = self._detach_runtime()
            if driver is not None and driver.release() and not driver.loop.is_closed():
                asyncio.run_coroutine_threadsafe(driver.aclose(), driver.loop).result(_SHUTDOWN_SLACK_S)
            if loop_thread is not None:
                loop_thread.release()
        finally:
            self._end_shutdown()
        return final

    def _end_shutdown(self) -> None:
        with self._lock:
            self._closing -= 1

    async def ashutdown(self, timeout: float = 5.0) -> dict[str, dict[str, Any]]:
        """[`shutdown`][actors.ActorSystem.shutdown] for asyncio callers (any loop)."""
        stopping, latch = self._begin_shutdown(timeout)
        try:
            if self._clock.virtual:
                await self._clock.arun_until(latch.done, timeout + _SHUTDOWN_SLACK_S)
            await latch.await_done(timeout + _SHUTDOWN_SLACK_S)
            final = final_stats(stopping, latch)
            if self._events.delivering:
                await asyncio.to_thread(self._events.close)  # a join: never on the loop
            if self._store is not None:
                await asyncio.to_thread(self._store.close)  # a last write and a thread join
            self._release_bindings(stopping)
            driver, loop_thread = self._detach_runtime()
            if driver is not None and driver.release() and not driver.loop.is_closed():
                await close_driver(driver)
            if loop_thread is not None:
                loop_thread.release()
        finally:
            self._end_shutdown()
        return final

    def __enter__(self) -> ActorSystem:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    async def __aenter__(self) -> ActorSystem:
        with self._lock:
            if self._refs:
                raise RuntimeError("agents were spawned before `async with`; spawn them inside it")
            self._async_loop = asyncio.get_running_loop()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self.ashutdown()
        finally:
            self._async_loop = None

