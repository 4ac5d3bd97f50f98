"""Turn whatever the user scheduled into one call shape: ``call(task, cancel_token=?)``.

Checked at construction, so a bad agent fails where it is passed, not at every run: the
callable must bind ``f(task)`` (plus ``cancel_token=`` when it takes one). Generators and
async generators (a streamed model answer) are consumed to the end; the run's result is the
list of what they yielded.
"""

from __future__ import annotations

import functools
import inspect
import re
import types
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bridge import CancelToken

from actors._validate import check_name, shown
from actors.errors import ArgumentTypeError

__all__ = ["AgentCall", "Interrupted", "check_binds", "check_callbacks", "claim_name", "consume", "aconsume", "pool_members",
           "resolve_agent"]

_ASYNC_METHODS = ("astart", "arun")
_SYNC_METHODS = ("start", "run")


def _is_async(func: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func):
        return True
    call = getattr(func, "__call__", None)  # noqa: B004 - a callable object with `async def __call__`
    return call is not None and (inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call))


@functools.lru_cache(maxsize=1024)
def _function_signature(function: Callable[..., Any]) -> inspect.Signature:
    # inspect.signature is ~10 us: spawning 10,000 agents of one function paid it twice each.
    return inspect.signature(function)


def _signature(func: Callable[..., Any]) -> tuple[inspect.Signature, int] | None:
    """``func``'s signature and how many leading arguments are already bound; None if it has none."""
    try:
        if isinstance(func, types.FunctionType):
            return _function_signature(func), 0
        if isinstance(func, types.MethodType) and isinstance(func.__func__, types.FunctionType):
            return _function_signature(func.__func__), 1
        return inspect.signature(func), 0
    except (TypeError, ValueError):
        return None  # some builtins and C callables have none


def check_binds(func: Callable[..., Any], label: str, what: str, shape: str, takes_token: bool,
                found: tuple[inspect.Signature, int] | None = None) -> None:
    """``TypeError`` unless ``func(x)`` (and ``cancel_token=``) binds; no signature: trust it.

    ``found`` is ``func``'s signature when the caller already has it.
    """
    if found is None:
        found = _signature(func)
    if found is None:
        return
    signature, bound = found
    args = (None,) * (bound + 1)
    try:
        if takes_token:
            signature.bind(*args, cancel_token=None)
        else:
            signature.bind(*args)
    except TypeError as exc:
        if bound:
            signature = inspect.signature(func)
        hint = ""
        params = list(signature.parameters)
        if params[:1] == ["self"] and "." in getattr(func, "__qualname__", ""):
            owner = func.__qualname__.rsplit(".", 1)[0]
            hint = f"; that is the class's method: pass an instance ({owner}()) instead"
        raise TypeError(f"{what} {label}{signature} cannot be called as {shape}: {exc}{hint}") from None


class Interrupted(Exception):
    """A stop reached a generator agent between two items: the run is cancelled."""


def consume(items: Any, stop: CancelToken) -> list[Any]:
    """Drain a generator agent's items, checking between them whether ``stop`` was cancelled."""
    out = []
    for item in items:
        out.append(item)
        if stop.cancelled:
            try:
                items.close()
            except RuntimeError:  # "generator ignored GeneratorExit": the stop wins all the same
                pass
            raise Interrupted
    return out


async def aconsume(items: Any) -> list[Any]:
    """Drain an async generator agent's items (a stop cancels it like any coroutine)."""
    return [item async for item in items]


def _takes_token(found: tuple[inspect.Signature, int] | None) -> bool:
    if found is None:
        return False
    param = found[0].parameters.get("cancel_token")
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
                return _call(method, f"{type(agent).__name__}.{attr}")
    if callable(agent) and not isinstance(agent, type):
        return _call(agent, getattr(agent, "__qualname__", None) or type(agent).__name__)
    raise TypeError(
        f"agent must have astart/arun/start/run or be a sync or async callable f(task); "
        f"got {type(agent).__name__}: {agent!r}"
    )


def _call(func: Callable[..., Any], label: str) -> AgentCall:
    if isinstance(func, types.FunctionType):
        return _function_call(func, label)
    return _make_call(func, label)


@functools.lru_cache(maxsize=1024)
def _function_call(func: types.FunctionType, label: str) -> AgentCall:
    # Frozen and the same for every agent of one function: 100,000 agents of one kind share
    # one AgentCall instead of checking its signature and keeping an object each.
    return _make_call(func, label)


def _make_call(func: Callable[..., Any], label: str) -> AgentCall:
    found = _signature(func)  # once: the check and the token both read it
    takes_token = _takes_token(found)
    check_binds(func, label, "agent", "f(task)", takes_token, found)
    return AgentCall(func, _is_async(func), takes_token, label)


def check_callbacks(on_success: object, on_failure: object) -> None:
    """``TypeError`` unless each callback is None or callable with one argument (checked at
    construction, not at the first run)."""
    for label, callback in (("on_success", on_success), ("on_failure", on_failure)):
        if callback is None:
            continue
        if not callable(callback):
            raise TypeError(f"{label} must be callable or None, got {callback!r}")
        name = getattr(callback, "__qualname__", None) or type(callback).__name__
        arg = "result" if label == "on_success" else "error"
        check_binds(callback, name, label, f"{label}({arg})", takes_token=False)


def pool_members(agents: object, config: Mapping[str, Any] | None, prefer_async: bool) -> list[Any]:
    """A pool's agents as a list, every one checked before any is spawned (a system's ``pool``)."""
    if isinstance(agents, (str, bytes)) or not isinstance(agents, Iterable):
        raise ArgumentTypeError(f"agents must be an iterable of agents, not {type(agents).__name__}: {shown(agents)}")
    members = list(agents)
    if config is not None and "name" in config:
        raise ValueError("pool members get generated names; drop 'name' from the config")
    for agent in members:
        resolve_agent(agent, prefer_async=prefer_async)
    return members


def claim_name(taken: Container[str], name: str | None, label: str, counter: Iterator[int]) -> str:
    """``name`` checked and not in ``taken``, or for None a new ``<label>-<n>`` (a system's spawn)."""
    if name is None:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "", label.split(".")[0]) or "agent"
        while True:
            name = f"{base}-{next(counter)}"
            if name not in taken:
                return name
    check_name("agent name", name)
    if name in taken:
        raise ValueError(f"an agent named {name!r} already exists in this system")
    return name
