"""Binding: the runtime resources that serve one agent actor while it is started.

A binding takes a reference on the shared dispatcher (pykka workers), the shared thread pool,
the per-loop driver (janus channel, and the worker of async agents' mailboxes) and, for the
sync scheduler, the shared loop thread; it gives them all back on teardown, so after the last
stop no thread or task of the library is left. It chooses where the agent is served (its loop
or a dispatcher worker) and hands the actor its `Ports`. Schedulers and the actor system both
build on it: one runtime, several facades.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from actors.agent_actor import AgentActor, StatsMsg, StopMsg, inside_agent
from actors.dispatcher import Dispatcher, mailbox_on
from actors._loop_driver import LoopDriver, running_loop
from actors._clock import TimerHost
from actors._actor_state import DeathListener
from actors._ports import Ports
from actors._tick_heap import TickHeap
from bridge import LoopThread, ThreadPool

__all__ = ["Binding", "answer_into", "inside_agent"]

log = logging.getLogger("actors")

# One lock for the stop and teardown claims of every binding: they are rare and short, never
# nest, and a lock per binding was one more long-lived object per agent for the GC to scan.
_BINDINGS_LOCK = threading.Lock()

# Extra time, beyond the agent's own stop deadline, that a stopper waits for the actor's answer.
_STOP_SLACK_S = 5.0


def answer_into(future: concurrent.futures.Future[Any], value: Any) -> None:
    """Deliver an actor's answer, unless the asker gave up (timed out or was cancelled, which
    ``asyncio.wrap_future`` propagates): an answer nobody waits for must not crash the actor."""
    try:
        future.set_result(value)
    except concurrent.futures.InvalidStateError:
        pass


class Binding:
    """The runtime serving one agent actor between a start and the teardown after its stop."""

    def __init__(self, actor: AgentActor, driver: LoopDriver, loop_thread: LoopThread | None) -> None:
        """Take a reference on every shared resource; ``driver`` (and ``loop_thread``) must
        already carry one reference for this binding, which teardown gives back."""
        self.actor = actor
        self.driver = driver
        self.loop_thread = loop_thread
        self.dispatcher = Dispatcher.shared()
        self.pool = ThreadPool.shared()
        self.dispatcher.acquire()
        self.pool.acquire()
        clock = actor.clock
        # An async agent's mailbox and timers are served on its loop, a sync agent's on a
        # dispatcher worker: a steady tick crosses no thread (async) or one (sync, to the pool).
        on_loop = self.on_loop = actor.call.is_async
        host: TimerHost
        ticks: TickHeap
        if on_loop:
            self.mailbox, host, ticks = mailbox_on(driver, actor, clock), driver.loop, driver.ticks
        else:
            self.mailbox, inbox = self.dispatcher.mailbox_for(actor, clock)
            host, ticks = inbox, inbox.ticks
        actor.bind(Ports(self.mailbox, host, ticks, self.pool, driver, on_loop, clock))
        actor.on_dead = self  # see agent_died; the binding itself, not a bound method per agent
        #: Told (on the serving thread) when supervision gives up on the agent; one listener
        #: object for all of a system's bindings.
        self.dead_listener: DeathListener | None = None
        self._lock = _BINDINGS_LOCK
        self._stopped: concurrent.futures.Future[dict[str, Any]] | None = None
        self._stop_posted = False  # a final Stop was requested (with a future or into a reply)
        self._torn_down: concurrent.futures.Future[None] | None = None
        # Made only when a start() waits for this binding's stop before its teardown began
        # (teardown then completes this same future): a Future is ~11 long-lived objects, and
        # at 10,000 agents each one per agent costs every full GC pass.
        self._finished: concurrent.futures.Future[None] | None = None

    def agent_died(self, actor: AgentActor) -> None:
        """Supervision gave up on the agent: close its mailbox, tell the listener."""
        self.mailbox.close()
        if self.dead_listener is not None:
            self.dead_listener.agent_died(actor)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop the agent's timers and async work run on."""
        return self.driver.loop

    @property
    def is_finished(self) -> bool:
        """True once every resource of this binding is given back."""
        torn_down = self._torn_down
        return torn_down is not None and torn_down.done()

    def finished(self) -> concurrent.futures.Future[None]:
        """A future done once every resource is given back (a start() during the stop waits on it)."""
        with self._lock:
            if self._torn_down is not None:
                return self._torn_down
            if self._finished is None:
                self._finished = concurrent.futures.Future()
            return self._finished

    def served_here(self) -> bool:
        """True on the loop thread that serves the agent's mailbox: every handler runs on this
        thread, so the actor's state may be read directly (and waiting for an answer would
        block the very thread that must give it)."""
        return self.on_loop and running_loop() is self.driver.loop

    @property
    def loop_closed(self) -> bool:
        """True if the agent's loop closed under it (``asyncio.run`` returned without a stop)."""
        return self.driver.loop.is_closed()

    @property
    def stop_requested(self) -> bool:
        """True once a stop was requested."""
        return self._stop_posted

    def post(self, message: Any, urgent: bool = False) -> bool:
        """Send a message to the actor (False if the mailbox is already closed)."""
        return self.mailbox.post(message, urgent)

    def ask(self, make: Callable[[Callable[[Any], None]], Any], urgent: bool = False) -> concurrent.futures.Future[Any] | None:
        """Post ``make(reply)`` and return the future ``reply`` answers; None if the mailbox is closed."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        return future if self.post(make(partial(answer_into, future)), urgent) else None

    def ask_stats(self) -> concurrent.futures.Future[dict[str, Any]] | None:
        """Ask the actor for its stats; None if the mailbox is closed (read them directly)."""
        return self.ask(StatsMsg)

    def request_stop(self, timeout: float | None) -> concurrent.futures.Future[dict[str, Any]]:
        """Post a final Stop once (urgent lane); every caller gets the same future of the final
        stats. If the agent's loop is already closed there is nothing to wait for: the runtime
        is dropped at once (logged once) and the agent settles as stopped."""
        with self._lock:
            if self._stopped is not None:
                self._tighten(timeout)
                return self._stopped
            stopped = self._stopped = concurrent.futures.Future()
            reply = partial(answer_into, stopped)
            posted = self._post_final_stop(StopMsg(timeout, reply, final=True))  # after request_stop_into: a second one
        if not posted:
            self._answer_unposted(reply)
        return stopped

    def request_stop_into(self, stop: StopMsg) -> None:
        """`request_stop` for a system stopping many agents at once: ``stop`` (final, shared by
        all of them) answers its reply with the final stats, on whichever thread has them, and
        no Future is made for this agent."""
        reply = stop.reply
        assert reply is not None  # the shutdown's latch
        with self._lock:
            stopped = self._stopped
            posted = stopped is None and self._post_final_stop(stop)
        if stopped is not None:  # a stop is already under way: answer from it
            self._tighten(stop.timeout)
            stopped.add_done_callback(lambda done: reply(done.result()))
        elif not posted:
            self._answer_unposted(reply)

    def _post_final_stop(self, stop: StopMsg) -> bool:
        """(Lock held.) Post a final Stop; False if the loop is gone or the mailbox closed (see
        `_answer_unposted`)."""
        self._stop_posted = True
        return not self.loop_closed and self.post(stop, urgent=True)

    def _tighten(self, timeout: float | None) -> None:
        if timeout is not None:  # a stop already under way may have a longer deadline
            self.post(StopMsg(timeout, None, final=True), urgent=True)

    def _answer_unposted(self, reply: Callable[[dict[str, Any]], None]) -> None:
        """A final Stop could not be posted: a loop closed under the agent drops its runtime
        (logged once); either way the answer is the stats as they are."""
        if self.loop_closed:
            log.warning("agent %s: its event loop closed while it was started; stopped without it "
                        "(start and stop it under the same asyncio.run)", self.actor.name)
            self.abandon()
        reply(self.actor.snapshot())

    def stop_wait_budget(self, timeout: float | None) -> float:
        """How long a stopper may wait for the actor: its deadline, the cancel grace, and slack."""
        return (self.actor.config.stop_timeout if timeout is None else timeout) + _STOP_SLACK_S

    def _claim_teardown(self, batch: concurrent.futures.Future[None] | None = None
                        ) -> concurrent.futures.Future[None] | None:
        """Return None for the one caller that must tear down; others get the future to wait on.
        ``batch``: the future a bulk teardown completes for all its bindings at once."""
        with self._lock:
            if self._torn_down is not None:
                return self._torn_down
            self._torn_down = self._finished or batch or concurrent.futures.Future()
            return None

    def _release_local(self) -> bool:
        """Close the mailbox and unbind; True if the loop driver must now be closed on its loop."""
        self.mailbox.close()
        self.actor.unbind()
        return self.driver.release() and not self.driver.loop.is_closed()

    def detach(self, batch: concurrent.futures.Future[None]) -> bool:
        """Close the mailbox and unbind the actor, keeping the shared references; False if
        someone else already tears this binding down. See `actors._shutdown.release_many`,
        which completes ``batch``."""
        if self._claim_teardown(batch) is not None:
            return False
        self.mailbox.close()
        self.actor.unbind()
        return True

    def mark_released(self) -> None:
        """Complete this binding's teardown (a bulk release gave its references back)."""
        torn_down = self._torn_down
        if torn_down is not None and not torn_down.done():
            torn_down.set_result(None)

    def _release_threads(self) -> None:
        self.dispatcher.release()
        self.pool.release()
        if self.loop_thread is not None:
            self.loop_thread.release()
        assert self._torn_down is not None
        self._torn_down.set_result(None)

    def stop_sync(self, timeout: float | None) -> dict[str, Any]:
        """Stop and tear down from a thread that is not the agent's loop; return final stats."""
        stopped = self.request_stop(timeout)
        clock = self.actor.clock
        if clock.virtual:  # the stop's deadlines are virtual: let that time pass
            clock.run_until(stopped.done, self.stop_wait_budget(timeout))
        try:
            final = stopped.result(self.stop_wait_budget(timeout))
        except concurrent.futures.TimeoutError:
            log.error("agent %s did not confirm its stop; releasing its runtime anyway", self.actor.name)
            final = self.actor.snapshot()
        self.teardown_sync()
        return final

    def teardown_sync(self) -> None:
        """Give back every resource (after the stop), from any thread but the agent's loop."""
        waiter = self._claim_teardown()
        if waiter is not None:
            waiter.result()
            return
        if self._release_local():
            closing = asyncio.run_coroutine_threadsafe(self.driver.aclose(), self.driver.loop)
            try:
                closing.result(_STOP_SLACK_S)
            except concurrent.futures.TimeoutError:
                log.error("the loop of agent %s did not close its channel in time", self.actor.name)
        self._release_threads()

    async def stop_async(self, timeout: float | None) -> dict[str, Any]:
        """Stop and tear down from any running loop (the agent's own or another one)."""
        stopped = self.request_stop(timeout)
        clock = self.actor.clock
        if clock.virtual:
            await clock.arun_until(stopped.done, self.stop_wait_budget(timeout))
        try:
            final = await asyncio.wait_for(asyncio.wrap_future(stopped), self.stop_wait_budget(timeout))
        except TimeoutError:
            log.error("agent %s did not confirm its stop; releasing its runtime anyway", self.actor.name)
            final = self.actor.snapshot()
        await self.teardown_async()
        return final

    async def teardown_async(self) -> None:
        """Give back every resource (after the stop), from any running loop."""
        waiter = self._claim_teardown()
        if waiter is not None:
            await asyncio.wrap_future(waiter)
            return
        if self._release_local():
            await close_driver(self.driver)
        self._release_threads()

    def abandon(self) -> None:
        """The agent's loop is gone (closed without a stop): drop the runtime without its help."""
        self.mailbox.close()
        self.actor.abandon_runtime()
        if self._claim_teardown() is None:
            self.driver.release()
            self._release_threads()


async def close_driver(driver: LoopDriver) -> None:
    """Close a loop driver's channel from any running loop (its own or another)."""
    if asyncio.get_running_loop() is driver.loop:
        await driver.aclose()
    else:
        closing = asyncio.run_coroutine_threadsafe(driver.aclose(), driver.loop)
        await asyncio.wait_for(asyncio.wrap_future(closing), _STOP_SLACK_S)
