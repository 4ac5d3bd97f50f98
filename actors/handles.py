"""The interface an agent system and its agent handles share, wherever the agents run.

[`ActorSystem`][actors.ActorSystem] (agents in this process) and
[`RaySystem`][actors.ray.RaySystem] (agents on Ray hosts) both satisfy `SystemHandle`, and
their refs `AgentHandle`: code typed against these (the FastAPI router among it) works with
either. Both are ``runtime_checkable`` protocols: ``isinstance`` checks the methods exist.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

from actors._translate import Message

__all__ = ["AgentHandle", "SystemHandle"]


@runtime_checkable
class AgentHandle(Protocol):
    """One agent: [`AgentRef`][actors.AgentRef] or [`RayAgentRef`][actors.ray.RayAgentRef]."""

    @property
    def name(self) -> str:
        """The agent's unique name in its system."""

    @property
    def is_alive(self) -> bool:
        """False once the system shut down or supervision gave up on the agent."""

    def tell(self, message: Message) -> None:
        """Send without waiting; to a dead agent a counted dead letter."""

    def ask(self, message: Message, timeout: float | None = None) -> Any:
        """Send and wait for the answer."""

    def ask_future(self, message: Message) -> concurrent.futures.Future[Any]:
        """Send and return a future of the answer."""

    async def ask_async(self, message: Message, timeout: float | None = None) -> Any:
        """Send and await the answer without blocking the loop."""

    def stats(self, timeout: float | None = 5.0) -> dict[str, Any]:
        """The agent's stats; a dead agent's last known ones."""

    def history(self, limit: int = 20, timeout: float | None = 5.0) -> list[dict[str, Any]]:
        """The newest executions first."""

    def _refuse_blocking_its_loop(self, what: str, instead: str) -> None:
        """Raise if a blocking call from here would stall the agent's own loop."""

    def _local_stats(self) -> dict[str, Any]:
        """The last known stats, read without asking the agent."""


@runtime_checkable
class SystemHandle(Protocol):
    """A set of agents: [`ActorSystem`][actors.ActorSystem] or [`RaySystem`][actors.ray.RaySystem]."""

    @property
    def dead_letters(self) -> int:
        """Messages told to dead agents."""

    def get(self, name: str) -> Any:
        """The agent named ``name`` (an `AgentHandle`), or None."""

    def agents(self) -> list[str]:
        """The agents' names, in spawn order."""

    def spawn(self, agent: Any, task: Any, name: str | None = None, config: Mapping[str, Any] | None = None,
              on_success: Callable[..., Any] | None = None, on_failure: Callable[..., Any] | None = None) -> Any:
        """Add an agent, idle until it is sent ``Start``; return its handle."""

    def pool(self, agents: Iterable[Any], task: Any, config: Mapping[str, Any] | None = None,
             on_success: Callable[..., Any] | None = None, on_failure: Callable[..., Any] | None = None) -> Any:
        """Spawn every agent with generated names; return the pool."""

    def shutdown(self, timeout: float = 5.0) -> dict[str, dict[str, Any]]:
        """Stop every agent: ``{name: final stats}``."""

    async def ashutdown(self, timeout: float = 5.0) -> dict[str, dict[str, Any]]:
        """`shutdown` for asyncio callers."""

    async def __aenter__(self) -> Any:
        """``async with``: an `ActorSystem` binds to the running loop."""

    async def __aexit__(self, *exc_info: object) -> None:
        """Leave ``async with``: shut down."""


def refs_of(system: SystemHandle) -> list[AgentHandle]:
    """The handles of ``system``'s agents, in spawn order (a name removed meanwhile is skipped)."""
    return [ref for ref in (system.get(name) for name in system.agents()) if ref is not None]
