"""The operations routes of `actors.fastapi.router`: the dashboard, health, metrics and events.

| Route | Answer |
|---|---|
| `GET /` | the dashboard: one HTML page shipped in the package (no CDN, no build step) |
| `GET /healthz` | 200 ``{"status": "ok", ...}``, or 503 listing the stalled agents |
| `GET /metrics` | the Prometheus text format (extra ``actorsched[metrics]``; 501 without it) |
| `GET /events` | server-sent events: each `actors.events` event as JSON, as it happens |

None of them needs the token: they show what ``GET /agents`` shows, and change nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from actors._clock import REAL_CLOCK, Clock
from actors._health import DEFAULT_STALL_AFTER_S, stalled
from actors.errors import AgentDeadError
from actors.events import Event
from actors.handles import AgentHandle, SystemHandle, refs_of
from actors.messages import GetStats

__all__ = ["EventStreams", "agent_stats", "all_stats", "event_json", "ops_routes"]

# A quiet stream still sends a comment this often, so proxies and browsers keep it open.
_KEEPALIVE_S = 10.0
# A stream ends after this long and the browser reconnects (``retry``: 1 s): a server that is
# shutting down waits at most this for an open dashboard, even under uvicorn's default of no
# graceful-shutdown timeout. `serve` ends its streams at once instead (EventStreams.close).
_STREAM_S = 30.0
# Events a slow reader may fall behind by before the oldest are dropped (it refetches anyway).
_BACKLOG = 1000
_CLOSE = object()


def event_json(event: Event) -> str:
    """One event as a JSON object: its fields, and ``type`` (the class name)."""
    fields: dict[str, Any] = {"type": type(event).__name__}
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        fields[field.name] = value.value if isinstance(value, enum.Enum) else value
    return json.dumps(fields)


class EventStreams:
    """The open ``GET /events`` streams of one router, so that a server can end them at once."""

    def __init__(self) -> None:
        self._queues: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[object]]] = set()
        self.closed = False

    def close(self) -> None:
        """End every open stream (thread-safe) and refuse new ones with 503."""
        self.closed = True
        for loop, queue in list(self._queues):
            try:
                loop.call_soon_threadsafe(queue.put_nowait, _CLOSE)
            except RuntimeError:  # that loop is closed: its stream is gone
                pass

    async def stream(self, system: SystemHandle) -> AsyncIterator[str]:
        """The text of one stream: events of ``system`` until closed or ``_STREAM_S`` passed."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue(_BACKLOG)

        def put(item: object) -> None:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(item)

        def deliver(event: Event) -> None:  # on the system's delivery thread
            try:
                loop.call_soon_threadsafe(put, event)
            except RuntimeError:  # the server's loop closed under a late event
                pass

        entry = (loop, queue)
        self._queues.add(entry)
        unsubscribe = system.subscribe(deliver)  # type: ignore[attr-defined]
        try:
            yield "retry: 1000\n\n"
            deadline = loop.time() + _STREAM_S
            while not self.closed:
                left = deadline - loop.time()
                if left <= 0:
                    return
                try:
                    item = await asyncio.wait_for(queue.get(), min(left, _KEEPALIVE_S))
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                if item is _CLOSE:
                    return
                assert isinstance(item, Event)
                yield f"data: {event_json(item)}\n\n"
        finally:
            unsubscribe()
            self._queues.discard(entry)


def dashboard_page() -> str:
    """The dashboard: its HTML with the stylesheet and the script inlined (one request, no CDN)."""
    files = resources.files("actors").joinpath("_dashboard")
    text = {name: files.joinpath(name).read_text(encoding="utf-8") for name in ("index.html", "dashboard.css",
                                                                               "dashboard.js")}
    return (text["index.html"].replace("/*DASHBOARD_CSS*/", text["dashboard.css"])
            .replace("//DASHBOARD_JS", text["dashboard.js"]))


def ops_routes(ops: APIRouter, system: SystemHandle, streams: EventStreams,
               stall_after: float = DEFAULT_STALL_AFTER_S) -> None:
    """Add the routes of the module docstring, for ``system``, to ``ops``."""
    clock: Clock = getattr(system, "clock", REAL_CLOCK)  # a RaySystem's hosts run on the real clock
    metrics: list[Any] = []  # built at the first scrape: nothing subscribes until someone asks
    page = dashboard_page()

    @ops.get("/", tags=["operations"], summary="The dashboard", response_class=HTMLResponse, include_in_schema=True)
    async def dashboard() -> HTMLResponse:
        """The dashboard page: agents, their runs, and the controls (which ask for the token)."""
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    @ops.get("/healthz", tags=["operations"], summary="Health: every started agent's next run is ahead or in flight",
             responses={503: {"description": "Some agents stalled (listed with the reason)"}})
    async def healthz() -> JSONResponse:
        """200 when no started agent has stalled, else 503 with ``stalled``: ``[{"name", "reason"}]``."""
        every = await all_stats(system)
        found = stalled(every, clock.now(), stall_after)
        body = {"status": "stalled" if found else "ok", "agents": len(every),
                "running": sum(1 for stats in every if stats.get("is_running")), "stalled": found}
        return JSONResponse(body, status.HTTP_503_SERVICE_UNAVAILABLE if found else status.HTTP_200_OK)

    @ops.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=Response,
             responses={501: {"description": "prometheus_client is not installed"}})
    async def get_metrics() -> Response:
        """Counters, gauges and histograms of every agent, in the Prometheus text format."""
        if not metrics:
            try:
                from actors.metrics import Metrics
            except ImportError as exc:
                raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, detail=str(exc)) from None
            metrics.append(Metrics(system))
        from actors.metrics import CONTENT_TYPE
        # Off the loop: the collector asks each agent for its stats, and async agents answer here.
        return Response(await asyncio.to_thread(metrics[0].render), media_type=CONTENT_TYPE)

    @ops.get("/events", tags=["operations"], summary="Live events (server-sent events)", response_class=StreamingResponse,
             responses={501: {"description": "This system has no events (a RaySystem)"},
                        503: {"description": "The server is shutting down"}})
    async def events() -> StreamingResponse:
        """Every later event of the system's agents, ``data: {"type": ..., "agent": ..., ...}``."""
        if not hasattr(system, "subscribe"):
            raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, detail=f"{type(system).__name__} has no events")
        if streams.closed:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="the server is shutting down")
        return StreamingResponse(streams.stream(system), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def all_stats(system: SystemHandle) -> list[dict[str, Any]]:
    """Every agent's stats, in spawn order, asked concurrently without blocking the loop."""
    return list(await asyncio.gather(*(agent_stats(ref) for ref in refs_of(system))))


async def agent_stats(ref: AgentHandle) -> dict[str, Any]:
    """The agent's stats, asked without blocking the loop (a dead agent's: its last stats)."""
    try:
        return dict(await ref.ask_async(GetStats()))
    except AgentDeadError:
        return ref.stats()
