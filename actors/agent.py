"""Turn whatever the user scheduled into one call shape: ``call(task, cancel_token=?)``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["AgentCall", "check_callbacks", "resolve_agent"]

_ASYNC_METHODS = ("astart", "arun")
_SYNC_METHODS = ("start", "run")


def _is_async(func: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(func):
        return True
    call = getattr(func, "__call__", None)  # noqa: B004 - a callable object with `async def __call__`
    return call is not None and inspect.iscoroutinefunction(call)


def _takes_token(func: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    param = params.get("cancel_token")
    return param is not None and param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY)


@dataclass(frozen=True, slots=True)
class AgentCall:
    """How to run one agent: the bound callable, whether to await it, whether it wants a token."""

    func: Callable[..., Any]
    is_async: bool
    takes_token: bool
    label: str

    @property
    def kind(self) -> Literal["sync", "async"]:
        """``"async"`` if awaited on a loop, ``"sync"`` if run in a thread."""
        return "async" if self.is_async else "sync"


def resolve_agent(agent: object, prefer_async: bool) -> AgentCall:
    """Pick the agent's entry point: ``astart``/``arun``/``start``/``run``, else the callable itself.

    An agent with both kinds uses its async method when ``prefer_async`` (AsyncAgentScheduler, an
    ActorSystem entered with ``async with``) and its sync method otherwise. Anything that offers
    none of these raises ``TypeError`` naming it.
    """
    order = _ASYNC_METHODS + _SYNC_METHODS if prefer_async else _SYNC_METHODS + _ASYNC_METHODS
    if not isinstance(agent, type):  # a class's `run` is an unbound function, not an entry point
        for attr in order:
            method = getattr(agent, attr, None)
            if method is not None and callable(method):
                label = f"{type(agent).__name__}.{attr}"
                return AgentCall(method, _is_async(method), _takes_token(method), label)
    if callable(agent) and not isinstance(agent, type):
        label = getattr(agent, "__qualname__", None) or type(agent).__name__
        return AgentCall(agent, _is_async(agent), _takes_token(agent), label)
    raise TypeError(
        f"agent must have astart/arun/start/run or be a sync or async callable f(task); "
        f"got {type(agent).__name__}: {agent!r}"
    )


def check_callbacks(on_success: object, on_failure: object) -> None:
    """``TypeError`` unless each callback is callable or None (at construction, not at the first run)."""
    for label, callback in (("on_success", on_success), ("on_failure", on_failure)):
        if callback is not None and not callable(callback):
            raise TypeError(f"{label} must be callable or None, got {callback!r}")
