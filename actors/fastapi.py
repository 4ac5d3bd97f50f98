"""FastAPI integration (extra ``actorsched[fastapi]``): a lifespan and a control router.

    from fastapi import FastAPI
    from actors import ActorSystem
    from actors.fastapi import lifespan, router

    system = ActorSystem()                                       # at import time, outside any loop
    def setup(system): system.spawn(my_agent, task="...", name="news")
    app = FastAPI(lifespan=lifespan(system, on_startup=setup))   # enters it on uvicorn's loop
    app.include_router(router(system, token="s3cret"))           # token=None: ACTORSCHED_TOKEN

`lifespan` enters the system with ``async with`` semantics on the server's running loop
(async agents run on that loop, sync agents in worker threads) and shuts every agent down with
the server. `router` serves the agents' stats and, behind a bearer token, starts, stops and
runs them; the pydantic models of its bodies and answers give the OpenAPI document its
schemas. Every route talks to the agents with ``await ref.ask_async(...)``: the blocking
``ask`` would stall the very loop the agents run on.

``import actors`` does not import this module; importing it needs ``fastapi``.
"""

import hmac
import inspect
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Security, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from actors._fastapi_models import (
    AgentStats, ErrorBody, HistoryEntry, NoBody, PauseBody, Started, StartBody, ValidationErrorBody, parse_body,
)
from actors._health import DEFAULT_STALL_AFTER_S
from actors._ops_routes import EventStreams, agent_stats, all_stats, ops_routes
from actors._validate import check_seconds, shown
from actors.agent import check_binds
from actors.errors import AgentDeadError, ArgumentTypeError
from actors.messages import GetHistory, Pause, Resume, RunNow, Stop
from actors.handles import AgentHandle, SystemHandle
from actors.ref import Message

__all__ = ["TOKEN_ENV", "AgentStats", "ErrorBody", "HistoryEntry", "PauseBody", "StartBody", "Started",
           "ValidationErrorBody",
           "lifespan", "router"]

TOKEN_ENV = "ACTORSCHED_TOKEN"
"""The environment variable [`router`][actors.fastapi.router] reads when it is given no token."""

OnStartup = Callable[[SystemHandle], Awaitable[object] | object]


def lifespan(
    system: SystemHandle, on_startup: OnStartup | None = None, *, shutdown_timeout: float = 5.0
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
    _check_system(system)
    shutdown_timeout = check_seconds("shutdown_timeout", shutdown_timeout)
    if on_startup is not None:
        if not callable(on_startup):
            raise ArgumentTypeError(f"on_startup must be callable or None, not {type(on_startup).__name__}")
        check_binds(on_startup, getattr(on_startup, "__qualname__", type(on_startup).__name__), "on_startup",
                    "on_startup(system)", takes_token=False)

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


_M = TypeVar("_M", bound=BaseModel)

# The OpenAPI answers each route declares besides its 200 (the Authorize button in /docs uses
# the bearer scheme; clients generated from the document get typed errors).
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No agent of that name"},
}
_CONTROL: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or invalid bearer token; nothing changed"},
    403: {"model": ErrorBody, "description": "A read-only server: nothing changed"},
    **_NOT_FOUND,
    409: {"model": ErrorBody, "description": "The agent is dead: supervision gave up on it"},
    422: {"model": ValidationErrorBody, "description": "A bad body (malformed JSON, a wrong key, type or value)"},
}
# The start body is parsed by a dependency (after the token and the agent), so FastAPI does
# not see it: describe it to OpenAPI by hand.
_START_BODY_DOC = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": StartBody.model_json_schema()}}}}


def router(system: SystemHandle, token: str | None = None, *, read_only: bool = False,
           stall_after: float = DEFAULT_STALL_AFTER_S) -> APIRouter:
    """An ``APIRouter`` to watch and control the agents of ``system``, with its dashboard.

    | Route | Body | Answer |
    |---|---|---|
    | `GET /agents` | | stats of every agent, in spawn order (a JSON list) |
    | `GET /agents/{name}` | | the agent's stats (a dead agent's: its last stats) |
    | `GET /agents/{name}/history?limit=20` | | the newest executions first (a JSON list) |
    | `POST /agents/{name}/start` | `{"schedule", "max_retries", "run_immediately"}` and any Start option | `{"started": bool}`, false when already running |
    | `POST /agents/{name}/pause` | none, `{}` or `{"reason": str}` | `{"changed": bool}`, false when not running or already paused |
    | `POST /agents/{name}/resume` | none or `{}` | `{"changed": bool}`, false when not paused |
    | `POST /agents/{name}/run` | none or `{}` | `{"started": bool}`, false when the schedule is not running or a run is in flight |
    | `POST /agents/{name}/stop` | none or `{}` | the final stats, once stopped |
    | `GET /` | | the dashboard (an HTML page shipped in the package) |
    | `GET /healthz` | | 200 `{"status": "ok"}`, or 503 listing the stalled agents |
    | `GET /metrics` | | Prometheus metrics (extra `actorsched[metrics]`; 501 without it) |
    | `GET /events` | | the agents' events as server-sent events, live |

    POST routes require ``Authorization: Bearer <token>`` (OpenAPI security scheme
    ``actorschedBearer``, so the Authorize button of ``/docs`` works), compared in constant
    time. Every POST route checks, in this order, and answers the first failure: 401 (the
    token; the body is not even read), 404 (no agent of that name), 422 (the body: malformed
    JSON, not a JSON object, not ``Content-Type: application/json``, a wrong key, type or
    value, each named), 409 (the agent is dead: supervision gave up on it). GET routes need
    no token; to protect them too, include the router with ``dependencies=[...]`` of your own.
    ``/events`` streams end after 30 s (the dashboard reconnects), so a server shutting down
    waits at most that long for an open dashboard.

    Args:
        system: the system whose agents the routes serve (looked up by name per request).
        token: the bearer token POST routes require. None: read ``ACTORSCHED_TOKEN`` now.
        read_only: no token needed, and every POST route answers 403: a server to watch only.
        stall_after: seconds an idle agent's next run may be overdue before ``/healthz``
            reports it stalled.

    Returns:
        The router, for ``app.include_router(...)``.

    Raises:
        ValueError: no token given and none (or a blank one) in ``ACTORSCHED_TOKEN`` (unless
            ``read_only``): the control API is never open by default; or a bad ``stall_after``.
        TypeError: ``token`` is not a str.
    """
    return _build_router(system, token, read_only=read_only, stall_after=stall_after)[0]


def _build_router(system: SystemHandle, token: str | None = None, *, read_only: bool = False,
                 stall_after: float = DEFAULT_STALL_AFTER_S) -> tuple[APIRouter, EventStreams]:
    """`router`, and its event streams (``actorsched serve`` ends them when it stops)."""
    _check_system(system)
    if not isinstance(read_only, bool):
        raise ArgumentTypeError(f"read_only must be a bool, not {type(read_only).__name__}: {shown(read_only)}")
    stall_after = check_seconds("stall_after", stall_after)
    if token is None:
        token = os.environ.get(TOKEN_ENV)
    if token is not None and not isinstance(token, str):
        raise TypeError(f"token must be a str or None, not {type(token).__name__}")
    token = (token or "").strip()  # HTTP trims header values: surrounding spaces could never match
    if not token and not read_only:
        raise ValueError(
            f"no API token: pass router(system, token=...) or set the {TOKEN_ENV} environment "
            "variable (the control API is never open without one)"
        )
    expected = token.encode("utf-8")
    # auto_error=False: the 401 below is ours (one message, WWW-Authenticate on every refusal).
    # The scheme's own name keeps it apart from any HTTPBearer the host app declares.
    bearer = HTTPBearer(auto_error=False, scheme_name="actorschedBearer",
                        description=f"the token given to router(), or ${TOKEN_ENV}")

    async def require_token(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    ) -> None:
        if read_only:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="this server is read-only")
        # Starlette decodes header bytes as latin-1; encoding back recovers what was sent.
        given = credentials.credentials.encode("latin-1", errors="replace") if credentials else b""
        if credentials is None or not hmac.compare_digest(given, expected):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail="missing or invalid bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )

    async def agent_ref(name: str) -> AgentHandle:
        ref: AgentHandle | None = system.get(name)
        if ref is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no agent named {name!r}")
        return ref

    async def start_body(request: Request) -> StartBody:
        return await parse_body(request, StartBody, if_empty=None)

    async def pause_body(request: Request) -> PauseBody:
        return await parse_body(request, PauseBody, if_empty=PauseBody())

    async def no_body(request: Request) -> None:
        await parse_body(request, NoBody, if_empty=NoBody())

    api = APIRouter()
    # Dependencies run in the order listed, each stopping the request with its own status:
    # the token (401), then the agent (404), then the body (422); the agent answers 409 last.
    # FastAPI would parse a declared body before any dependency, so bodies are dependencies.
    control = [Depends(require_token)]
    Agent = Annotated[AgentHandle, Depends(agent_ref)]

    @api.get("/agents", tags=["agents"], summary="Stats of every agent", response_model=list[AgentStats])
    async def list_agents() -> list[dict[str, Any]]:
        """The stats of every agent, in spawn order (a dead agent's: its last stats)."""
        return await all_stats(system)

    @api.get("/agents/{name}", tags=["agents"], summary="Stats of one agent", response_model=AgentStats, responses=_NOT_FOUND)
    async def get_agent(ref: Agent) -> dict[str, Any]:
        """The agent's stats (a dead agent's: its last stats)."""
        return await agent_stats(ref)

    @api.post("/agents/{name}/start", tags=["agents"], summary="Start the agent's schedule", dependencies=control,
              response_model=Started, responses=_CONTROL, openapi_extra=_START_BODY_DOC)
    async def start_agent(ref: Agent, body: Annotated[StartBody, Depends(start_body)]) -> dict[str, bool]:
        """Start the schedule; `{"started": false}` when it already runs."""
        try:  # the body validators catch most; a one-shot time already past is seen here
            return {"started": bool(await _ask(ref, body.to_message()))}
        except ValueError as exc:
            raise RequestValidationError([{"type": "value_error", "loc": ("body", "schedule"), "msg": str(exc),
                                           "input": body.schedule}]) from None

    @api.get("/agents/{name}/history", tags=["agents"], summary="The agent's recent executions", response_model=list[HistoryEntry],
             responses=_NOT_FOUND)
    async def get_history(ref: Agent, limit: Annotated[int, Query(ge=1, le=1000)] = 20) -> list[dict[str, Any]]:
        """The newest executions first (the last 100 are kept in memory)."""
        try:
            return list(await ref.ask_async(GetHistory(limit)))
        except AgentDeadError:
            return ref.history(limit)  # a dead agent's last runs: answered at once

    @api.post("/agents/{name}/pause", tags=["agents"], summary="Pause the agent's schedule", dependencies=control,
              responses=_CONTROL)
    async def pause_agent(ref: Agent, body: Annotated[PauseBody, Depends(pause_body)]) -> dict[str, bool]:
        """Stop ticking but keep the schedule; `{"changed": false}` when not running or already paused."""
        return {"changed": bool(await _ask(ref, Pause(body.reason)))}

    @api.post("/agents/{name}/resume", tags=["agents"], summary="Resume the agent's schedule", dependencies=control,
              responses=_CONTROL)
    async def resume_agent(ref: Agent, _: Annotated[None, Depends(no_body)]) -> dict[str, bool]:
        """Continue from the next due tick; `{"changed": false}` when it was not paused."""
        return {"changed": bool(await _ask(ref, Resume()))}

    @api.post("/agents/{name}/run", tags=["agents"], summary="Run the agent once now", dependencies=control,
              response_model=Started, responses=_CONTROL)
    async def run_agent(ref: Agent, _: Annotated[None, Depends(no_body)]) -> dict[str, bool]:
        """Run once now; `{"started": false}` when the schedule is not running or a run is in flight."""
        return {"started": bool(await _ask(ref, RunNow()))}

    @api.post("/agents/{name}/stop", tags=["agents"], summary="Stop the agent's schedule", dependencies=control,
              response_model=AgentStats, responses=_CONTROL)
    async def stop_agent(ref: Agent, _: Annotated[None, Depends(no_body)]) -> dict[str, Any]:
        """Stop the schedule (a run in flight gets the agent's `stop_timeout`); the final stats."""
        return dict(await _ask(ref, Stop()))

    streams = EventStreams()
    ops_routes(api, system, streams, stall_after)  # flat: FastAPI 0.165 includes routers lazily
    return api, streams


def _check_system(system: object) -> None:
    if not isinstance(system, SystemHandle):
        raise ArgumentTypeError(f"system must be an ActorSystem or a RaySystem, not {type(system).__name__}: "
                                f"{shown(system)}")


async def _ask(ref: AgentHandle, message: Message) -> Any:
    try:
        return await ref.ask_async(message)
    except AgentDeadError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None

