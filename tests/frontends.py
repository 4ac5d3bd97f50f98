"""The five ways a user drives one agent, behind one small interface, so a test of a start
option or message runs the same scenario on each: AgentScheduler, AsyncAgentScheduler (on a
loop of its own), a plain ActorSystem, an ActorSystem entered with ``async with``, and the
HTTP control API under a real uvicorn server. Time is a VirtualClock the test advances."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from actors import (
    ActorSystem, AgentScheduler, AsyncAgentScheduler, GetHistory, GetStats, Pause, Resume, RunNow, Start, Stop,
)
from actors.testing import VirtualClock

T = TypeVar("T")
FRONTENDS = ("sync_scheduler", "async_scheduler", "system", "async_system", "http")
TOKEN = "t0ken"


class Frontend:
    """start / pause / resume / run_now / stats / history / stop on one agent."""

    def start(self, expr: str, **options: Any) -> bool:
        raise NotImplementedError

    def pause(self, reason: str = "") -> bool:
        raise NotImplementedError

    def resume(self) -> bool:
        raise NotImplementedError

    def run_now(self) -> bool:
        raise NotImplementedError

    def stats(self) -> dict[str, Any]:
        raise NotImplementedError

    def history(self, limit: int = 100) -> list[dict[str, Any]]:
        raise NotImplementedError

    def stop(self) -> dict[str, Any] | bool:
        raise NotImplementedError


class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="test-frontend-loop")
        self.thread.start()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class _Scheduler(Frontend):
    def __init__(self, scheduler: Any, call: Callable[[Any], Any]) -> None:
        self.s, self.call = scheduler, call

    def start(self, expr: str, **options: Any) -> bool:
        return bool(self.call(self.s.start(expr, **options)))

    def pause(self, reason: str = "") -> bool:
        return bool(self.call(self.s.pause(reason)))

    def resume(self) -> bool:
        return bool(self.call(self.s.resume()))

    def run_now(self) -> bool:
        return bool(self.call(self.s.run_now()))

    def stats(self) -> dict[str, Any]:
        return dict(self.call(self.s.get_stats()))

    def history(self, limit: int = 100) -> list[dict[str, Any]]:
        return list(self.call(self.s.get_history(limit)))

    def stop(self) -> bool:
        return bool(self.call(self.s.stop()))


class _Ref(Frontend):
    def __init__(self, ref: Any) -> None:
        self.ref = ref

    def start(self, expr: str, **options: Any) -> bool:
        max_retries = options.pop("max_retries", 3)
        run_immediately = options.pop("run_immediately", False)
        return bool(self.ref.ask(Start(expr, max_retries, run_immediately, **options), timeout=30))

    def pause(self, reason: str = "") -> bool:
        return bool(self.ref.ask(Pause(reason), timeout=30))

    def resume(self) -> bool:
        return bool(self.ref.ask(Resume(), timeout=30))

    def run_now(self) -> bool:
        return bool(self.ref.ask(RunNow(), timeout=30))

    def stats(self) -> dict[str, Any]:
        return dict(self.ref.ask(GetStats(), timeout=30))

    def history(self, limit: int = 100) -> list[dict[str, Any]]:
        return list(self.ref.ask(GetHistory(limit), timeout=30))

    def stop(self) -> dict[str, Any]:
        return dict(self.ref.ask(Stop(), timeout=30))


class _Http(Frontend):
    def __init__(self, client: Any) -> None:
        self.client = client
        self.auth = {"Authorization": f"Bearer {TOKEN}"}

    def _post(self, route: str, body: dict[str, Any] | None = None) -> Any:
        response = self.client.post(f"/agents/a/{route}", json=body, headers=self.auth)
        if response.status_code == 422:
            raise ValueError(response.json()["detail"][0]["msg"])
        assert response.status_code == 200, response.text
        return response.json()

    def start(self, expr: str, **options: Any) -> bool:
        return bool(self._post("start", {"schedule": expr, **options})["started"])

    def pause(self, reason: str = "") -> bool:
        return bool(self._post("pause", {"reason": reason})["changed"])

    def resume(self) -> bool:
        return bool(self._post("resume")["changed"])

    def run_now(self) -> bool:
        return bool(self._post("run")["started"])

    def stats(self) -> dict[str, Any]:
        response = self.client.get("/agents/a")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def history(self, limit: int = 100) -> list[dict[str, Any]]:
        response = self.client.get("/agents/a/history", params={"limit": limit})
        assert response.status_code == 200, response.text
        return list(response.json())

    def stop(self) -> dict[str, Any]:
        return dict(self._post("stop"))


@contextmanager
def frontend(kind: str, agent: Any, clock: VirtualClock, config: dict[str, Any] | None = None) -> Iterator[Frontend]:
    """One agent named ``a`` behind the front end ``kind``; everything is torn down on exit."""
    config = {"stop_timeout": 3.0, **(config or {})}
    if kind == "sync_scheduler":
        scheduler = AgentScheduler(agent, "t", config={**config, "clock": clock})
        try:
            yield _Scheduler(scheduler, lambda value: value)
        finally:
            scheduler.stop()
    elif kind == "async_scheduler":
        loop = _LoopThread()
        scheduler = AsyncAgentScheduler(agent, "t", config={**config, "clock": clock})
        try:
            yield _Scheduler(scheduler, loop.call)
        finally:
            loop.call(scheduler.stop())
            loop.close()
    elif kind == "system":
        with ActorSystem(clock=clock) as system:
            yield _Ref(system.spawn(agent, "t", name="a", config=config))
    elif kind == "async_system":
        loop = _LoopThread()
        entered: concurrent.futures.Future[Any] = concurrent.futures.Future()
        leave = asyncio.Event()

        async def main() -> None:
            async with ActorSystem(clock=clock) as system:
                entered.set_result(system.spawn(agent, "t", name="a", config=config))
                await leave.wait()

        done = asyncio.run_coroutine_threadsafe(main(), loop.loop)
        try:
            yield _Ref(entered.result(30))
        finally:
            loop.loop.call_soon_threadsafe(leave.set)
            done.result(30)
            loop.close()
    elif kind == "http":
        from fastapi import FastAPI
        from test_fastapi import serve

        from actors.fastapi import lifespan, router

        system = ActorSystem(clock=clock)
        app = FastAPI(lifespan=lifespan(system, on_startup=lambda s: s.spawn(agent, "t", name="a", config=config)))
        app.include_router(router(system, token=TOKEN))
        with serve(app) as client:
            yield _Http(client)
    else:  # pragma: no cover
        raise ValueError(kind)
