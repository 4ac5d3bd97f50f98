"""AgentRef and AgentPool: how users talk to agents in an ActorSystem.

``tell`` posts and returns (never blocks on an agent); ``ask`` posts with a reply slot and waits
for the answer. Public messages are translated here into the actor's internal ones; Start and
Stop use the mailbox's urgent lane, so a Stop overtakes queued ticks.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any, Generic, TypeVar

from actors._answer import Answer
from actors._validate import check_optional_seconds
from actors._clock import Clock
from actors.agent_actor import CANCEL_GRACE_S, inside_agent
from actors._dead_letters import DeadLetters
from actors._translate import SHARED, Message, check_message, translate
from actors.errors import AgentDeadError
from actors.handles import AgentHandle
from actors.messages import GetHistory, GetStats
from actors._loop_driver import running_loop
from actors.runtime import Binding, answer_into

__all__ = ["AgentPool", "AgentRef", "Message", "detach"]

log = logging.getLogger("actors")
H = TypeVar("H", bound=AgentHandle)  # a pool's members: AgentRef, or RayAgentRef
# Counters summed across a pool; success_rate and lateness are combined separately.
_SUMMED = ("total_executions", "successful_executions", "failed_executions", "cancelled_executions",
           "total_attempts", "retries", "skipped_ticks", "missed_ticks", "abandoned_runs", "restarts")


class AgentRef:
    """A handle to one agent in an [`ActorSystem`][actors.ActorSystem]; safe from any thread or loop.

    Made by [`ActorSystem.spawn`][actors.ActorSystem.spawn], never constructed directly.
    """

    __slots__ = ("_name", "_dead_letters", "_binding", "_actor", "_pending", "__weakref__")

    def __init__(self, name: str, binding: Binding, dead_letters: DeadLetters) -> None:
        """Made by the system for ``binding``; tells to it once dead go to ``dead_letters``."""
        self._name = name
        self._dead_letters = dead_letters
        self._binding: Binding | None = binding
        self._actor = binding.actor  # kept after death: its stats stay readable
        # The asks waiting for an answer (failed if the agent dies), made at the first ask.
        self._pending: set[concurrent.futures.Future[Any] | Answer] | None = None

    def __repr__(self) -> str:
        return f"<AgentRef {self._name!r} {'alive' if self.is_alive else 'dead'}>"

    @property
    def name(self) -> str:
        """The agent's unique name in its system."""
        return self._name

    @property
    def is_alive(self) -> bool:
        """False once the system shut down or supervision gave up on the agent."""
        binding = self._binding
        return (binding is not None and not binding.actor.dead and not binding.mailbox.closed
                and not binding.loop_closed)

    def tell(self, message: Message) -> None:
        """Send ``message`` without waiting. To a dead agent it is a counted, logged dead letter."""
        binding = self._binding
        # is_alive, inlined (the mailbox's own closed check is in post): a tell is a few µs,
        # and each Python call on its path is ~0.3 µs of it (benchmarks/messages.py).
        if binding is not None and not binding.actor.dead and not binding.driver.loop.is_closed():
            shared = SHARED.get(type(message))  # translate's first step, without the call
            internal, urgent = shared if shared is not None else translate(binding.actor, message, None)
            if binding.mailbox.post(internal, urgent):
                return
        else:
            check_message(message)
        self._dead_letters.record(self._name, message)

    def ask_future(self, message: Message) -> concurrent.futures.Future[Any]:
        """Send ``message`` and return a future of the answer; raises AgentDeadError if dead."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        pending = self._send_asking(message, partial(answer_into, future), future)
        future.add_done_callback(pending.discard)
        return future

    def _send_asking(self, message: Message, reply: Callable[[Any], None],
                     waiter: concurrent.futures.Future[Any] | Answer) -> set[concurrent.futures.Future[Any] | Answer]:
        """Post ``message`` with ``reply`` and note ``waiter`` as pending (failed if the agent
        dies); return the pending set. Raises AgentDeadError if the agent is dead."""
        binding = self._binding
        if binding is None or binding.actor.dead or binding.driver.loop.is_closed():  # is_alive, as in tell
            check_message(message)
            raise AgentDeadError(f"agent {self._name!r} is dead")
        internal, urgent = translate(binding.actor, message, reply)
        if self._pending is None:
            self._pending = set()
        self._pending.add(waiter)
        if not binding.mailbox.post(internal, urgent):
            _fail_pending(self)
        return self._pending

    def ask(self, message: Message, timeout: float | None = None) -> Any:
        """Send ``message`` and wait for the answer.

        ``Start`` -> ``True``/``False`` (already running); ``Stop`` -> final stats once stopped;
        ``GetStats`` -> the stats dict; ``RunNow`` -> whether a run started; ``Pause`` /
        ``Resume`` -> whether the state changed; ``GetHistory`` -> the newest runs first. Raises
        ``AgentDeadError`` at once for a dead agent and ``TimeoutError`` after ``timeout``. From
        the event loop that runs the agent use [`ask_async`][actors.AgentRef.ask_async]: blocking that loop would
        stall the very agent being asked.
        """
        timeout = check_optional_seconds("timeout", timeout)
        self._refuse_blocking_its_loop("ref.ask()", "ref.ask_async()")
        answer = Answer()  # not a Future: see actors._answer
        pending = self._send_asking(message, answer, answer)
        try:
            clock = self._virtual_clock()
            if clock is not None:  # a Stop waiting for a run waits in virtual time: let it pass
                clock.run_until(answer.done, self._answer_budget())
            return answer.wait(timeout)
        except queue.Empty:
            raise self._no_answer(message, timeout) from None
        finally:
            pending.discard(answer)

    async def ask_async(self, message: Message, timeout: float | None = None) -> Any:
        """[`ask`][actors.AgentRef.ask] for asyncio callers: awaits without blocking the loop."""
        timeout = check_optional_seconds("timeout", timeout)
        future = self.ask_future(message)
        clock = self._virtual_clock()
        if clock is not None:
            await clock.arun_until(future.done, self._answer_budget())
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except TimeoutError:
            if future.done() and not future.cancelled():
                return future.result()  # answered as the wait ran out (or the answer is a TimeoutError)
            raise self._no_answer(message, timeout) from None

    def _virtual_clock(self) -> Clock | None:
        """The agent's clock if it is virtual and the caller is not one of its runs."""
        clock = self._actor.clock
        return clock if clock.virtual and inside_agent.get() is None else None

    def _answer_budget(self) -> float:
        # The longest an answer can take in virtual time: a stop's deadline and the cancel grace.
        return self._actor.config.stop_timeout + CANCEL_GRACE_S

    def _refuse_blocking_its_loop(self, what: str, instead: str) -> None:
        binding = self._binding
        if binding is not None and running_loop() is binding.loop:
            raise RuntimeError(f"{what} would block the event loop this agent runs on; use await {instead}")

    def _no_answer(self, message: Message, timeout: float | None) -> TimeoutError:
        return TimeoutError(f"agent {self._name!r} did not answer {type(message).__name__} within {timeout}s")

    def _local_stats(self) -> dict[str, Any]:
        """The agent's last known stats, read without asking it (never blocks)."""
        return self._actor.snapshot()

    def history(self, limit: int = 20, timeout: float | None = 5.0) -> list[dict[str, Any]]:
        """The newest ``limit`` executions first; a dead agent's last ones (no AgentDeadError)."""
        message = GetHistory(limit)
        if not self.is_alive:
            return self._actor.history(limit)
        try:
            return list(self.ask(message, timeout))
        except AgentDeadError:
            return self._actor.history(limit)

    def stats(self, timeout: float | None = 5.0) -> dict[str, Any]:
        """The agent's stats; a dead agent's last stats (no AgentDeadError)."""
        if not self.is_alive:
            return self._local_stats()
        try:
            return dict(self.ask(GetStats(), timeout))
        except AgentDeadError:  # it died while we asked (a shutdown from another thread)
            return self._local_stats()



def detach(ref: AgentRef) -> Binding | None:
    """The system's side of a ref: make it dead (its waiting asks fail with AgentDeadError) and
    hand back its binding to stop, or None if it was already detached."""
    binding, ref._binding = ref._binding, None
    _fail_pending(ref)
    return binding


def _fail_pending(ref: AgentRef) -> None:
    for waiter in list(ref._pending or ()):
        # One error per waiter: each raises it on its own thread, with its own traceback.
        error = AgentDeadError(f"agent {ref._name!r} died before answering")
        if isinstance(waiter, Answer):
            waiter.fail(error)
        elif not waiter.done():
            try:
                waiter.set_exception(error)
            except concurrent.futures.InvalidStateError:
                pass


class AgentPool(Generic[H]):
    """A group of agents (sync and async mixed) addressed together.

    Made by [`ActorSystem.pool`][actors.ActorSystem.pool] (or `RaySystem.pool`); iterating it
    gives the refs.
    """

    def __init__(self, refs: Sequence[H]) -> None:
        self._refs = list(refs)

    def __repr__(self) -> str:
        return f"<AgentPool {[r.name for r in self._refs]}>"

    def __len__(self) -> int:
        return len(self._refs)

    def __iter__(self) -> Iterator[H]:
        return iter(self._refs)

    @property
    def refs(self) -> list[H]:
        """The members' refs, in spawn order."""
        return list(self._refs)

    def tell(self, message: Message) -> None:
        """Tell every member."""
        for ref in self._refs:
            ref.tell(message)

    def ask(self, message: Message, timeout: float | None = None) -> dict[str, Any]:
        """Ask every member at once; return ``{name: answer}`` (an exception for a dead member)."""
        timeout = check_optional_seconds("timeout", timeout)
        for ref in self._refs:
            ref._refuse_blocking_its_loop("pool.ask()", "pool.ask_async()")
        futures = {ref.name: _future_or_error(ref, message) for ref in self._refs}
        concurrent.futures.wait(list(futures.values()), timeout)
        return {name: _answer(future) for name, future in futures.items()}

    async def ask_async(self, message: Message, timeout: float | None = None) -> dict[str, Any]:
        """[`ask`][actors.AgentPool.ask] for asyncio callers."""
        timeout = check_optional_seconds("timeout", timeout)
        futures = {ref.name: _future_or_error(ref, message) for ref in self._refs}
        if futures:
            await asyncio.wait([asyncio.wrap_future(f) for f in futures.values()], timeout=timeout)
        return {name: _answer(future) for name, future in futures.items()}

    def stats(self, timeout: float | None = 5.0) -> dict[str, Any]:
        """``{"agents": {name: stats}, "total": {...}}``: sums, overall success rate, worst lateness.

        Every member is asked at once; a dead or silent member shows its last known stats.
        """
        return self._summarise_answers(self.ask(GetStats(), timeout))

    async def astats(self, timeout: float | None = 5.0) -> dict[str, Any]:
        """[`stats`][actors.AgentPool.stats] for asyncio callers; never blocks the loop (a dead
        or silent member shows its last known stats)."""
        return self._summarise_answers(await self.ask_async(GetStats(), timeout))

    def _summarise_answers(self, answers: dict[str, Any]) -> dict[str, Any]:
        """Summarise GetStats answers; a member that answered with an error shows its last stats."""
        return _summarise({
            ref.name: answers[ref.name] if isinstance(answers[ref.name], dict) else ref._local_stats()
            for ref in self._refs
        })


def _future_or_error(ref: AgentHandle, message: Message) -> concurrent.futures.Future[Any]:
    try:
        return ref.ask_future(message)
    except AgentDeadError as exc:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        future.set_exception(exc)
        return future


def _answer(future: concurrent.futures.Future[Any]) -> Any:
    if not future.done():
        return TimeoutError("no answer in time")
    error = future.exception()
    return error if error is not None else future.result()


def _summarise(agents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {key: sum(s.get(key, 0) for s in agents.values()) for key in _SUMMED}
    finished = total["total_executions"]
    total["success_rate"] = 100.0 * total["successful_executions"] / finished if finished else 0.0
    lateness = [s["last_lateness_ms"] for s in agents.values() if s.get("last_lateness_ms") is not None]
    total["worst_lateness_ms"] = max(lateness) if lateness else None
    total["agents"] = len(agents)
    total["running"] = sum(1 for s in agents.values() if s.get("is_running"))
    return {"agents": agents, "total": total}
