"""FastAPI integration (extra ``actorsched[fastapi]``): a lifespan and a control router.

    from fastapi import FastAPI
    from actors import ActorSystem
    from actors.fastapi import lifespan, router

    system = ActorSystem()                                       # at import time, outside any loop
    def setup(system): system.spawn(my_agent, task="...", name="news")
    app = FastAPI(lifespan=lifespan(system, on_startup=setup))   # enters it on uvicorn's loop
    app.include_router(router(system, token="s3cret"))           # token=None: ACTORSCHED_TOKEN

:func:`lifespan` enters the system with ``async with`` semantics on the server's running loop
(async agents run on that loop, sync agents in worker threads) and shuts every agent down with
the server. :func:`router` serves the agents' stats and, behind a bearer token, starts, stops
and runs them. Every route talks to the agents with ``await ref.ask_async(...)``: the blocking
``ask`` would stall the very loop the agents run on.

``import actors`` does not import this module; importing it needs ``fastapi``.
"""

import asyncio
import hmac
import inspect
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, status
from pydantic import BaseModel, ConfigDict, field_validator

from actors.errors import AgentDeadError
from actors.messages import GetStats, RunNow, Start, Stop, check_max_retries
from actors.ref import AgentRef, Message
from actors.schedule import parse_schedule
from actors.system import ActorSystem

__all__ = ["TOKEN_ENV", "StartBody", "lifespan", "router"]

TOKEN_ENV = "ACTORSCHED_TOKEN"
"""The environment variable :func:`router` reads when it is given no token."""

OnStartup = Callable[[ActorSystem], Awaitable[object] | object]


def lifespan(
    system: ActorSystem, on_startup: OnStartup | None = None, *, shutdown_timeout: float = 5.0
) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """A lifespan for ``FastAPI(lifespan=...)`` that runs ``system`` for the server's lifetime.

    At startup, on the server's running loop: enter ``system`` (``async with`` semantics), then
    call ``on_startup(system)`` (sync or async) to spawn and start agents. An error in
    ``on_startup`` propagates, so a broken setup fails the server's startup; agents spawned
    before the error are stopped first. At shutdown: ``await system.ashutdown(shutdown_timeout)``
    stops every agent (each within ``min(stop_timeout, shutdown_timeout)``: an async run in
    flight may finish that long, then is cancelled) and joins the library's threads.

    Build ``system`` at import time but spawn inside ``on_startup``: agents spawned before the
    loop runs would be bound to no loop, and entering the system refuses them. The same
    ``system`` can serve again after a shutdown (a restarted server in the same process, on a
    new loop); ``on_startup`` then spawns its agents afresh.
    """
    if isinstance(shutdown_timeout, bool) or not isinstance(shutdown_timeout, (int, float)) or not shutdown_timeout >= 0:
        raise ValueError(f"shutdown_timeout must be a number of seconds >= 0, got {shutdown_timeout!r}")

    @asynccontextmanager
    async def run_system(app: Any) -> AsyncIterator[None]:
        await system.__aenter__()
        try:
            if on_startup is not None:
                result = on_startup(system)
                if inspect.isawaitable(result):
                    await result
            yield
        finally:
            try:
                await system.ashutdown(shutdown_timeout)
            finally:
                await system.__aexit__(None, None, None)  # nothing left to stop; unbinds the loop

    return run_system


class StartBody(BaseModel):
    """JSON body of ``POST /agents/{name}/start`` (strict types; unknown keys are rejected)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    schedule: str
    max_retries: int = 3
    run_immediately: bool = False

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, value: str) -> str:
        parse_schedule(value)  # ValueError naming the expression and the accepted forms
        return value

    @field_validator("max_retries")
    @classmethod
    def _valid_max_retries(cls, value: int) -> int:
        return check_max_retries(value)


def router(system: ActorSystem, token: str | None = None) -> APIRouter:
    """An ``APIRouter`` (prefix ``/agents``) to watch and control the agents of ``system``.

    | Route | Body | Answer |
    |---|---|---|
    | `GET /agents` | | stats of every agent, in spawn order (a JSON list) |
    | `GET /agents/{name}` | | the agent's stats (a dead agent's: its last stats) |
    | `POST /agents/{name}/start` | `{"schedule", "max_retries", "run_immediately"}` | `{"started": bool}`, false when already running |
    | `POST /agents/{name}/run` | | `{"started": bool}`, false when the schedule is not running or a run is in flight |
    | `POST /agents/{name}/stop` | | the final stats, once stopped |

    POST routes require ``Authorization: Bearer <token>``, compared in constant time: without
    a valid one they answer 401 and change nothing. Checks run in this order: 401 (token),
    404 (no agent of that name), 422 (bad body or schedule expression, naming the problem),
    409 (the agent is dead: supervision gave up on it). ``token=None`` reads
    ``ACTORSCHED_TOKEN``; with neither, ``ValueError``: the control API is never open by
    default. The GET routes need no token; to protect them too, include the router with
    ``dependencies=[...]`` of your own.
    """
    if token is None:
        token = os.environ.get(TOKEN_ENV)
    if token is not None and not isinstance(token, str):
        raise TypeError(f"token must be a str or None, not {type(token).__name__}")
    token = (token or "").strip()  # HTTP trims header values: surrounding spaces could never match
    if not token:
        raise ValueError(
            f"no API token: pass router(system, token=...) or set the {TOKEN_ENV} environment "
            "variable (the control API is never open without one)"
        )
    expected = token.encode("utf-8")

    def require_token(authorization: Annotated[str | None, Header()] = None) -> None:
        scheme, _, credentials = (authorization or "").strip().partition(" ")
        # Starlette decodes header bytes as latin-1; encoding back recovers what was sent.
        given = credentials.strip().encode("latin-1", errors="replace")
        if not (scheme.lower() == "bearer" and hmac.compare_digest(given, expected)):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail="missing or invalid bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )

    def agent_ref(name: str) -> AgentRef:
        ref = system.get(name)
        if ref is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no agent named {name!r}")
        return ref

    api = APIRouter(prefix="/agents", tags=["agents"])
    control = [Depends(require_token)]  # listed first: a bad token is a 401 before any 404/422

    @api.get("", summary="Stats of every agent")
    async def list_agents() -> list[dict[str, Any]]:
        refs = [ref for ref in (system.get(name) for name in system.agents()) if ref is not None]
        return list(await asyncio.gather(*(_stats(ref) for ref in refs)))

    @api.get("/{name}", summary="Stats of one agent")
    async def get_agent(ref: Annotated[AgentRef, Depends(agent_ref)]) -> dict[str, Any]:
        return await _stats(ref)

    @api.post("/{name}/start", dependencies=control, summary="Start the agent's schedule")
    async def start_agent(ref: Annotated[AgentRef, Depends(agent_ref)], body: StartBody) -> dict[str, bool]:
        try:
            message = Start(body.schedule, body.max_retries, body.run_immediately)
        except ValueError as exc:  # the body validators catch these first; kept as a backstop
            raise HTTPException(422, detail=str(exc)) from None
        return {"started": bool(await _ask(ref, message))}

    @api.post("/{name}/run", dependencies=control, summary="Run the agent once now")
    async def run_agent(ref: Annotated[AgentRef, Depends(agent_ref)]) -> dict[str, bool]:
        return {"started": bool(await _ask(ref, RunNow()))}

    @api.post("/{name}/stop", dependencies=control, summary="Stop the agent's schedule")
    async def stop_agent(ref: Annotated[AgentRef, Depends(agent_ref)]) -> dict[str, Any]:
        return dict(await _ask(ref, Stop()))

    return api


async def _ask(ref: AgentRef, message: Message) -> Any:
    try:
        return await ref.ask_async(message)
    except AgentDeadError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None


async def _stats(ref: AgentRef) -> dict[str, Any]:
    try:
        return dict(await ref.ask_async(GetStats()))
    except AgentDeadError:
        return ref.stats()  # a dead agent's last stats: answered at once, never blocks
