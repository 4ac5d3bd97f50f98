"""Agents that misbehave: BaseExceptions, swallowed cancellations, and what a stop then costs.

A run's ``BaseException`` is a counted failure, never a dead runtime, a hang or a stuck
schedule, and the agents next to it keep running. An async agent that swallows the
cancellation of its timeout or its stop is abandoned after a grace, as a sync one is.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest
from conftest import run, wait_for, wait_until

from actors import ActorSystem, AgentScheduler, AsyncAgentScheduler, GetStats, Start, Stop


class Boom(BaseException):
    """A BaseException that is not an Exception (as some frameworks define theirs)."""


RAISED = [Boom("custom"), GeneratorExit(), KeyboardInterrupt(), SystemExit(3)]
IDS = ["custom", "GeneratorExit", "KeyboardInterrupt", "SystemExit"]


def raising(error: BaseException) -> Any:
    async def agent(task: str) -> None:
        raise error

    return agent


@pytest.mark.timeout(20)
@pytest.mark.parametrize("error", RAISED, ids=IDS)
def test_sync_scheduler_counts_an_async_base_exception_and_neighbours_keep_running(error: BaseException) -> None:
    failures: list[BaseException] = []
    failed = threading.Event()
    neighbour_runs = threading.Semaphore(0)

    def on_failure(exc: BaseException) -> None:
        failures.append(exc)
        failed.set()

    bad = AgentScheduler(raising(error), "t", config={"backoff": {"initial": 0, "jitter": 0}},
                         on_failure=on_failure)
    good = AgentScheduler(lambda task: neighbour_runs.release(), "t")
    good_async = AgentScheduler(_async_ok, "t", on_success=lambda _: neighbour_runs.release())
    good.start("0.05", run_immediately=True)
    good_async.start("0.05", run_immediately=True)
    bad.start("3600", max_retries=2, run_immediately=True)
    assert failed.wait(5), "the failing run never finished"
    assert failures == [error]
    stats = bad.get_stats()
    assert stats["failed_executions"] == 1 and stats["total_attempts"] == 2
    assert stats["last_error"] == repr(error) and stats["state"] == "idle"
    assert bad.run_now() is True       # the schedule is not stuck: the next run runs
    wait_until(lambda: bad.get_stats()["total_attempts"] == 4)
    for _ in range(6):                 # the shared loop thread survived: neighbours tick on
        assert neighbour_runs.acquire(timeout=5)
    assert bad.stop() and good.stop() and good_async.stop()


async def _async_ok(task: str) -> str:
    return task


@pytest.mark.timeout(20)
@pytest.mark.parametrize("error", RAISED, ids=IDS)
def test_async_scheduler_counts_a_base_exception_and_can_restart(error: BaseException) -> None:
    calls: list[int] = []

    async def agent(task: str) -> None:
        calls.append(1)
        raise error

    async def main() -> None:
        failed = asyncio.Event()

        async def on_failure(exc: BaseException) -> None:   # async callbacks run on this loop
            failed.set()

        scheduler = AsyncAgentScheduler(agent, "t", config={"stop_timeout": 0.5}, on_failure=on_failure)
        await scheduler.start("3600", max_retries=1, run_immediately=True)
        await asyncio.wait_for(failed.wait(), 5)
        stats = await scheduler.get_stats()
        assert stats["failed_executions"] == 1 and stats["last_error"] == repr(error)
        await asyncio.wait_for(scheduler.stop(), 3)
        failed.clear()
        await scheduler.start("3600", max_retries=1, run_immediately=True)   # a restart runs again
        await asyncio.wait_for(failed.wait(), 5)
        await asyncio.wait_for(scheduler.stop(), 3)
        assert (await scheduler.get_stats())["failed_executions"] == 2

    run(main)
    assert len(calls) == 2


@pytest.mark.timeout(20)
@pytest.mark.parametrize("error", [Boom("cb"), KeyboardInterrupt()], ids=["custom", "KeyboardInterrupt"])
def test_a_callback_raising_a_base_exception_does_not_stop_the_runtime(error: BaseException) -> None:
    async def callback(value: Any) -> None:
        raise error

    calls = threading.Semaphore(0)

    async def agent(task: str) -> None:
        calls.release()

    with AgentScheduler(agent, "t", on_success=callback) as scheduler:
        scheduler.start("0.05", run_immediately=True)
        for _ in range(3):
            assert calls.acquire(timeout=5)


class Swallower:
    """An async agent that swallows the first cancellation it gets, then waits for ``release``."""

    def __init__(self, forever: bool = False) -> None:
        self.forever = forever
        self.cancelled = 0
        self.release = asyncio.Event()

    async def __call__(self, task: str) -> str:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                self.cancelled += 1
                if not self.forever:
                    break
        await self.release.wait()
        return "late"


@pytest.mark.timeout(20)
def test_the_timeout_abandons_an_async_attempt_that_swallows_its_cancellation() -> None:
    agent = Swallower()

    async def main() -> dict[str, Any]:
        failed = asyncio.Event()
        failures: list[BaseException] = []

        async def on_failure(exc: BaseException) -> None:
            failures.append(exc)
            failed.set()

        scheduler = AsyncAgentScheduler(agent, "t", config={"timeout": 0.05}, on_failure=on_failure)
        await scheduler.start("3600", max_retries=1, run_immediately=True)
        await asyncio.wait_for(failed.wait(), 5)
        assert isinstance(failures[0], TimeoutError) and "timeout" in str(failures[0])
        stats = await scheduler.get_stats()
        assert stats["state"] == "idle" and stats["abandoned_runs"] == 1
        assert await scheduler.run_now() is True        # ticks are not skipped forever
        await wait_for(lambda: agent.cancelled >= 2)
        agent.release.set()                             # the late results are discarded
        await scheduler.stop()
        return await scheduler.get_stats()

    stats = run(main)
    assert stats["successful_executions"] == 0 and stats["failed_executions"] >= 1


@pytest.mark.timeout(20)
def test_a_timeout_swallowed_then_returned_is_still_a_timeout() -> None:
    async def agent(task: str) -> str:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            pass
        return "pretends it finished"

    async def main() -> dict[str, Any]:
        failed = asyncio.Event()

        async def on_failure(exc: BaseException) -> None:
            failed.set()

        scheduler = AsyncAgentScheduler(agent, "t", config={"timeout": 0.05}, on_failure=on_failure)
        await scheduler.start("3600", max_retries=1, run_immediately=True)
        await asyncio.wait_for(failed.wait(), 5)
        await scheduler.stop()
        return await scheduler.get_stats()

    stats = run(main)
    assert stats["failed_executions"] == 1 and stats["successful_executions"] == 0
    assert "TimeoutError" in stats["last_error"]


@pytest.mark.timeout(20)
def test_sync_stop_of_an_agent_ignoring_cancellation_ends_the_loop_thread(caplog: pytest.LogCaptureFixture) -> None:
    agent = Swallower(forever=True)
    with caplog.at_level(logging.WARNING):
        scheduler = AgentScheduler(agent, "t", config={"stop_timeout": 0.1})
        scheduler.start("3600", run_immediately=True)
        wait_until(lambda: scheduler.get_stats()["state"] == "running")
        assert scheduler.stop() is True
    assert not any("did not stop within" in r.getMessage() for r in caplog.records)
    assert not [t for t in threading.enumerate() if t.name == "actorsched-loop"]
    stats = scheduler.get_stats()
    assert stats["cancelled_executions"] == 1 and stats["abandoned_runs"] == 1


@pytest.mark.timeout(20)
def test_system_shutdown_of_an_agent_ignoring_cancellation_ends_the_loop_thread(
    caplog: pytest.LogCaptureFixture,
) -> None:
    agent = Swallower(forever=True)
    with caplog.at_level(logging.WARNING):
        system = ActorSystem()
        ref = system.spawn(agent, task="t", name="x")
        ref.ask(Start("3600", run_immediately=True), timeout=2)
        wait_until(lambda: ref.ask(GetStats(), timeout=2)["state"] == "running")
        final = system.shutdown(0.1)["x"]
    assert not any("did not stop within" in r.getMessage() for r in caplog.records)
    assert not [t for t in threading.enumerate() if t.name == "actorsched-loop"]
    assert final["cancelled_executions"] == 1 and final["is_running"] is False


@pytest.mark.timeout(20)
def test_a_stop_during_a_swallowed_timeout_still_stops() -> None:
    agent = Swallower(forever=True)
    with ActorSystem() as system:
        ref = system.spawn(agent, task="t", name="x", config={"timeout": 0.05, "stop_timeout": 0.05})
        ref.ask(Start("3600", run_immediately=True), timeout=2)
        wait_until(lambda: agent.cancelled >= 1)
        final = ref.ask(Stop(), timeout=5)
        assert final["is_running"] is False and final["state"] == "stopped"
