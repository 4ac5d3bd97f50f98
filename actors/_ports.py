"""The ports of an agent actor: every effect it has on the runtime that serves it.

While a runtime is bound (`actors.runtime.Binding`), the actor acts only through its `Ports`:
post to its own mailbox, its timers (on the thread that serves the mailbox), the thread pool,
and its tasks on the loop. Unbound, it holds `DETACHED`, whose every effect but a late post
raises, so the actor's code needs no ``None`` checks and a handler that runs with no runtime
is a loud bug rather than a silent no-op.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from actors._clock import Clock, TimerHost, tracked
from actors._loop_driver import LoopDriver
from actors._loop_tasks import AgentTasks
from actors._mailbox import Mailbox
from actors._tick_heap import TickHeap
from actors._timers import AgentTimers
from bridge import ThreadPool

__all__ = ["DETACHED", "Ports"]


class Ports(AgentTimers):
    """The runtime one agent actor is bound to (see the module docstring).

    It is the actor's `AgentTimers` too, which share its mailbox and clock: one object per
    agent fewer for every full collection to walk (100,000 agents: 100,000)."""

    __slots__ = ("_pool", "_driver", "_on_loop", "_tasks")

    #: False only for `DETACHED`.
    bound = True

    def __init__(self, post: Mailbox, host: TimerHost, ticks: TickHeap, pool: ThreadPool, driver: LoopDriver,
                 on_loop: bool, clock: Clock) -> None:
        """``host``/``ticks``: where the timers run (see `AgentTimers`); ``on_loop``: the mailbox
        is served on the driver's loop, so loop calls are plain calls."""
        AgentTimers.__init__(self, host, ticks, post, clock)
        self._pool, self._driver, self._on_loop = pool, driver, on_loop
        # A sync agent's tasks on the loop exist only once it has an async callback to run.
        self._tasks: AgentTasks | None = AgentTasks(driver.loop, clock) if on_loop else None

    def send(self, message: Any) -> None:
        """Report ``message`` (a run's outcome) to the actor's own mailbox, from any thread."""
        cast(Mailbox, self._post).report(message)  # the timers' post is the mailbox (see __init__)

    @property
    def timers(self) -> AgentTimers:
        """The actor's timers; use them from its handlers only (the thread that fires them)."""
        return self

    def submit(self, fn: Callable[[], None]) -> None:
        """Run ``fn()`` on a pool thread."""
        self._pool.submit(fn)

    def on_loop(self, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn(*args)`` on the agent's loop, in order with the actor's other loop calls.

        A plain call when the mailbox is served there; otherwise through the loop driver, and
        on a virtual clock as a busy unit until it has run."""
        if self._on_loop:
            fn(*args)
            return
        driver = self._driver
        if self._clock.virtual:
            loop = driver.loop
            self._clock.enter(loop)
            driver.call(tracked, self._clock, loop, fn, args)
        else:
            driver.call(fn, *args)

    def tasks(self) -> AgentTasks:
        """The actor's tasks on its loop (a sync agent's are made at its first async callback)."""
        tasks = self._tasks
        if tasks is None:
            tasks = self._tasks = AgentTasks(self._driver.loop, self._clock)
        return tasks

    def loop_lost(self) -> bool:
        """True if a sync agent's loop has closed without a stop (its timers outlive it)."""
        return not self._on_loop and self._driver.loop.is_closed()

    def close(self) -> None:
        """Cancel every timer, and every task on the loop: the agent's runs end here."""
        self.disarm_all()
        if self._tasks is not None:
            self.on_loop(self._tasks.close)


class _Detached(Ports):
    """No runtime: a late post (an abandoned run reporting) is dropped, anything else raises."""

    __slots__ = ()
    bound = False

    def __init__(self) -> None:  # noqa: D107 - nothing to hold
        pass

    def send(self, message: Any) -> None:
        """Drop ``message``: the mailbox it was for is gone."""

    @property
    def timers(self) -> AgentTimers:
        """Raises: no runtime."""
        raise _unbound()

    def submit(self, fn: Callable[[], None]) -> None:
        """Raises: no runtime."""
        raise _unbound()

    def on_loop(self, fn: Callable[..., None], *args: Any) -> None:
        """Raises: no runtime."""
        raise _unbound()

    def tasks(self) -> AgentTasks:
        """Raises: no runtime."""
        raise _unbound()

    def loop_lost(self) -> bool:
        """False: there is no loop to lose."""
        return False

    def close(self) -> None:
        """Nothing to close."""


def _unbound() -> RuntimeError:
    return RuntimeError("the agent actor has no runtime: a handler ran after its teardown (a bug)")


#: The ports of an actor no runtime serves.
DETACHED: Ports = _Detached()
