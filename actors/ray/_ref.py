"""RayAgentRef: a handle to one agent on a Ray host, with the methods of `AgentRef`.

A tell is one Ray actor call that nobody waits for; an ask is one call whose answer
``ray.get`` (or, on a loop, the awaited object ref) returns. The host answers ``(True,
value)`` or ``(False, error)``, so the caller gets the agent's own ``AgentDeadError`` or
``TimeoutError``; a host that Ray gave up on is a dead agent.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

import ray

from actors._translate import Message, check_message
from actors._validate import check_optional_seconds
from actors.errors import AgentDeadError
from actors.messages import GetHistory, GetStats, Start
from actors.ref import AgentPool
from actors.schedule import AtSchedule

if TYPE_CHECKING:
    from actors.ray._system import RaySystem

__all__ = ["RayAgentPool", "RayAgentRef"]

# Beyond an ask's own timeout: a Ray round trip (about 1 ms median, 4 ms p99 on a 2-core machine)
# and a host that is being restarted by Ray.
RAY_SLACK_S = 30.0
# How often an ask tries again while the agent's host restarts (Ray takes 1-3 s to restart one).
RETRY_S = 0.1


class RayAgentRef:
    """A handle to one agent of a [`RaySystem`][actors.ray.RaySystem], like
    [`AgentRef`][actors.AgentRef]; safe from any thread or loop. Made by ``spawn``."""

    __slots__ = ("_name", "_system", "_host", "_last", "_zone")

    def __init__(self, name: str, system: RaySystem, host: Any, zone: tzinfo | None = None) -> None:
        self._name, self._system, self._host = name, system, host
        self._last: dict[str, Any] | None = None  # the last stats this driver saw
        self._zone = zone  # the agent's config timezone, for a Start at a time that has passed

    def __repr__(self) -> str:
        return f"<RayAgentRef {self._name!r}>"

    @property
    def name(self) -> str:
        """The agent's unique name in its system."""
        return self._name

    @property
    def is_alive(self) -> bool:
        """False once the system shut down or supervision on its host gave up on the agent."""
        if self._system.closed:
            return False
        try:
            return bool(ray.get(self._host.is_alive.remote(self._name), timeout=RAY_SLACK_S))
        except ray.exceptions.ActorUnavailableError:
            return True  # its host is being restarted, and its agents with it
        except (ray.exceptions.RayError, TimeoutError):
            return False

    def tell(self, message: Message) -> None:
        """Send ``message`` without waiting; to a dead agent it is a counted dead letter. A
        ``Start`` of a time already past raises ``ValueError`` here, as `AgentRef.tell` does."""
        self._check(message)
        if self._system.closed:
            self._system.dead_letter(self._name, message)
            return
        self._host.tell.remote(self._name, message)

    def ask(self, message: Message, timeout: float | None = None) -> Any:
        """Send ``message`` and wait for the answer (the answers of `AgentRef.ask`); raises
        ``AgentDeadError`` for a dead agent and ``TimeoutError`` after ``timeout``. While Ray
        restarts the agent's host the ask is sent again until the host is back."""
        timeout = check_optional_seconds("timeout", timeout)
        deadline = time.monotonic() + (timeout or 0.0) + RAY_SLACK_S
        while True:
            try:
                return self._result(self._call(message, timeout), timeout, message)
            except ray.exceptions.ActorUnavailableError:
                if time.monotonic() > deadline:
                    raise AgentDeadError(f"agent {self._name!r}: its host did not come back") from None
                time.sleep(RETRY_S)  # a process restarting elsewhere: nothing to wait on here

    def ask_future(self, message: Message) -> concurrent.futures.Future[Any]:
        """Send ``message`` and return a future of the answer; raises AgentDeadError if dead."""
        pending = self._call(message, None).future()
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def settle(done: concurrent.futures.Future[Any]) -> None:
            try:
                future.set_result(self._unwrap(done.result(), message))
            except BaseException as exc:  # noqa: BLE001 - the asker gets it
                future.set_exception(_plain(exc))

        pending.add_done_callback(settle)
        return future

    async def ask_async(self, message: Message, timeout: float | None = None) -> Any:
        """[`ask`][actors.ray.RayAgentRef.ask] for asyncio callers: awaits the object ref, never
        blocks the loop."""
        timeout = check_optional_seconds("timeout", timeout)
        deadline = time.monotonic() + (timeout or 0.0) + RAY_SLACK_S
        while True:
            pending = self._call(message, timeout)
            try:
                answer = await asyncio.wait_for(asyncio.wrap_future(pending.future()),
                                                None if timeout is None else timeout + RAY_SLACK_S)
            except asyncio.TimeoutError:
                raise self._no_answer(message, timeout) from None
            except ray.exceptions.ActorUnavailableError:
                if time.monotonic() > deadline:
                    raise AgentDeadError(f"agent {self._name!r}: its host did not come back") from None
                await asyncio.sleep(RETRY_S)
                continue
            except ray.exceptions.RayError as exc:
                raise _plain(exc) from None
            return self._unwrap(answer, message)

    def stats(self, timeout: float | None = 5.0) -> dict[str, Any]:
        """The agent's stats (``GetStats``); a dead agent's last known ones, at once."""
        try:
            stats: dict[str, Any] = self.ask(GetStats(), timeout)
            return stats
        except AgentDeadError:
            return self._local_stats()

    def history(self, limit: int = 20, timeout: float | None = 5.0) -> list[dict[str, Any]]:
        """The newest ``limit`` executions first (``GetHistory``); [] for a dead agent (its
        history stays on its host, or in the store when there is one)."""
        try:
            entries: list[dict[str, Any]] = self.ask(GetHistory(limit), timeout)
        except AgentDeadError:
            return []
        return entries

    # -- what AgentPool and the system use --------------------------------------------------
    def _refuse_blocking_its_loop(self, what: str, instead: str) -> None:
        """An agent on Ray never runs on the caller's loop: nothing to refuse."""

    def _local_stats(self) -> dict[str, Any]:
        """The last stats this driver saw (its final ones after shutdown), without asking."""
        if self._last is None and not self._system.closed:
            try:
                self._last = ray.get(self._host.last_stats.remote(self._name), timeout=RAY_SLACK_S)
            except (ray.exceptions.RayError, TimeoutError):
                pass
        return dict(self._last or {})

    def _check(self, message: Message) -> None:
        """What `AgentRef` checks in the caller: the type, and that an ``at:`` time is ahead."""
        check_message(message)
        if isinstance(message, Start) and isinstance(message.schedule, AtSchedule):
            schedule = message.schedule if self._zone is None else message.schedule.with_timezone(self._zone)
            schedule.check_future(time.time())

    def _call(self, message: Message, timeout: float | None) -> Any:
        self._check(message)
        if self._system.closed:
            raise AgentDeadError(f"agent {self._name!r} is dead")
        return self._host.ask.remote(self._name, message, timeout)

    def _result(self, pending: Any, timeout: float | None, message: Message) -> Any:
        try:
            answer = ray.get(pending, timeout=None if timeout is None else timeout + RAY_SLACK_S)
        except ray.exceptions.GetTimeoutError:
            raise self._no_answer(message, timeout) from None
        except ray.exceptions.ActorUnavailableError:
            raise  # the host is restarting: ask sends it again
        except ray.exceptions.RayError as exc:
            raise _plain(exc) from None
        return self._unwrap(answer, message)

    def _unwrap(self, answer: tuple[bool, Any], message: Message) -> Any:
        ok, value = answer
        if not ok:
            raise value
        if isinstance(message, GetStats) and isinstance(value, dict):
            self._last = value
        return value

    def _no_answer(self, message: Message, timeout: float | None) -> TimeoutError:
        return TimeoutError(f"agent {self._name!r} did not answer {type(message).__name__} within {timeout}s")


def _plain(error: BaseException) -> BaseException:
    """A Ray failure as this library's errors: a host gone for good is a dead agent."""
    if isinstance(error, (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError)):
        return AgentDeadError(f"its host is gone: {error}")
    return error


class RayAgentPool(AgentPool[RayAgentRef]):
    """[`AgentPool`][actors.AgentPool] of a `RaySystem`: a tell to the pool is one Ray call per
    host, not one per member (12,000 calls took the driver ~3 s and kept both hosts busy)."""

    def tell(self, message: Message) -> None:
        """Tell every member: one call per host."""
        check_message(message)
        for ref in self._refs[:1]:
            ref._check(message)  # a Start's time: the members share one config, so one zone
        by_host: dict[int, tuple[Any, list[str]]] = {}
        for ref in self._refs:
            if ref._system.closed:
                ref._system.dead_letter(ref._name, message)
                continue
            by_host.setdefault(id(ref._host), (ref._host, []))[1].append(ref._name)
        for host, names in by_host.values():
            host.tell_many.remote(names, message)
