"""AgentScheduler: the same contract from plain sync code (async work on a background loop)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from conftest import wait_until

from actors import AgentScheduler, CancelToken
from actors.testing import VirtualClock

FAST_BACKOFF = {"initial": 0.01, "factor": 1.0, "cap": 0.01, "jitter": 0.0}


def library_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t is not threading.main_thread()]


@pytest.mark.timeout(10)
def test_start_returns_at_once_and_stop_blocks_until_stopped() -> None:
    started, gate = threading.Event(), threading.Event()
    order: list[str] = []
    released: list[bool] = []

    def agent(task: str) -> str:
        started.set()
        released.append(gate.wait(5))  # False if the gate stayed shut: someone waited for this run
        order.append("run returned")
        return task

    scheduler = AgentScheduler(agent, "t", config={"stop_timeout": 30})
    assert scheduler.start("60", run_immediately=True) is True  # returns with the gate still shut
    assert scheduler.start("60") is False
    assert started.wait(5)

    def stop() -> None:
        order.append(f"stop returned {scheduler.stop()}")

    stopper = threading.Thread(target=stop, name="test-stopper")
    stopper.start()
    wait_until(lambda: not scheduler.is_running)  # the stop is under way ...
    assert stopper.is_alive() and order == []     # ... and waits for the run in flight
    gate.set()
    stopper.join(5)
    assert released == [True]
    assert order == ["run returned", "stop returned True"]
    stats = scheduler.get_stats()
    assert stats["successful_executions"] == 1 and stats["is_running"] is False
    assert library_threads() == []


@pytest.mark.timeout(10)
def test_context_manager_stops_on_exit() -> None:
    calls: list[str] = []
    with AgentScheduler(calls.append, "x") as scheduler:
        scheduler.start("0.03", run_immediately=True)
        wait_until(lambda: len(calls) >= 3)
    assert not scheduler.is_running
    assert library_threads() == []
    assert scheduler.get_stats()["successful_executions"] >= 3


@pytest.mark.timeout(10)
def test_stop_timeout_argument_replaces_the_config() -> None:
    started, release = threading.Event(), threading.Event()
    returned: list[str] = []

    def stubborn(task: str) -> None:
        started.set()
        release.wait(5)  # shorter than the config's 30 s, far longer than the 0.1 s given to stop()
        returned.append("returned")

    scheduler = AgentScheduler(stubborn, "t", config={"stop_timeout": 30})
    scheduler.start("60", run_immediately=True)
    assert started.wait(5)
    scheduler.stop(timeout=0.1)
    assert returned == []  # the stop gave up on the call while it was still blocked
    release.set()
    stats = scheduler.get_stats()
    assert stats["abandoned_runs"] == 1 and stats["cancelled_executions"] == 1


@pytest.mark.timeout(10)
def test_bad_stop_timeout_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="-1"):
        AgentScheduler(print, "t").stop(timeout=-1)


@pytest.mark.timeout(10)
def test_async_agent_and_async_callbacks_run_on_a_background_loop() -> None:
    seen: dict[str, Any] = {}
    done = threading.Event()

    async def agent(task: str) -> str:
        seen["agent_loop"] = asyncio.get_running_loop()
        await asyncio.sleep(0)
        return "ok"

    async def on_success(result: str) -> None:
        seen["callback_loop"] = asyncio.get_running_loop()
        seen["result"] = result
        done.set()

    scheduler = AgentScheduler(agent, "t", on_success=on_success)
    scheduler.start("60", run_immediately=True)
    assert done.wait(5)
    scheduler.stop()
    assert seen["result"] == "ok"
    assert seen["agent_loop"] is seen["callback_loop"]
    assert library_threads() == []


@pytest.mark.timeout(10)
def test_an_agent_with_both_kinds_uses_its_sync_method() -> None:
    used: list[str] = []

    class Both:
        async def arun(self, task: str) -> None:
            used.append("async")

        def run(self, task: str) -> None:
            used.append("sync")

    scheduler = AgentScheduler(Both(), "t")
    scheduler.start("60", run_immediately=True)
    wait_until(lambda: used)
    scheduler.stop()
    assert used == ["sync"] and scheduler.get_stats()["kind"] == "sync"


@pytest.mark.timeout(10)
def test_praisonai_style_agent_with_start() -> None:
    class Agent:
        def __init__(self) -> None:
            self.tasks: list[str] = []

        def start(self, task: str) -> str:
            self.tasks.append(task)
            return "answer"

    agent = Agent()
    results: list[str] = []
    with AgentScheduler(agent, "summarise the news", on_success=results.append) as scheduler:
        scheduler.start("60", run_immediately=True)
        wait_until(lambda: results)
    assert agent.tasks == ["summarise the news"] and results == ["answer"]


@pytest.mark.timeout(10)
def test_retry_then_failure_with_sync_callbacks() -> None:
    attempts: list[int] = []
    failures: list[BaseException] = []

    def always_fails(task: str) -> None:
        attempts.append(1)
        raise ConnectionError(f"attempt {len(attempts)}")

    scheduler = AgentScheduler(always_fails, "t", config={"backoff": FAST_BACKOFF}, on_failure=failures.append)
    scheduler.start("60", max_retries=3, run_immediately=True)
    wait_until(lambda: failures)
    scheduler.stop()
    stats = scheduler.get_stats()
    assert len(attempts) == 3 and len(failures) == 1 and str(failures[0]) == "attempt 3"
    assert stats["total_attempts"] == 3 and stats["retries"] == 2 and stats["failed_executions"] == 1


@pytest.mark.timeout(10)
def test_cooperative_agent_gets_the_token_and_stop_is_quick() -> None:
    started = threading.Event()
    reasons: list[str | None] = []
    clock = VirtualClock()

    def cooperative(task: str, *, cancel_token: CancelToken) -> None:
        started.set()
        while not cancel_token.wait(0.01):
            pass
        reasons.append(cancel_token.reason)

    scheduler = AgentScheduler(cooperative, "t", config={"clock": clock})  # stop_timeout: 10 s
    scheduler.start("60", run_immediately=True)
    assert started.wait(5)
    scheduler.stop()
    assert clock.monotonic() == 0.0  # the run ended on the token: no stop deadline had to pass
    assert reasons == ["stop"]
    stats = scheduler.get_stats()
    assert stats["cancelled_executions"] == 1 and stats["abandoned_runs"] == 0


@pytest.mark.timeout(10)
def test_stop_from_inside_a_callback_does_not_deadlock() -> None:
    stopped = threading.Event()
    holder: dict[str, AgentScheduler] = {}

    def on_success(result: Any) -> None:
        holder["s"].stop()
        stopped.set()

    scheduler = holder["s"] = AgentScheduler(lambda task: 1, "t", on_success=on_success)
    scheduler.start("0.05", run_immediately=True)
    assert stopped.wait(2)
    wait_until(lambda: not scheduler.is_running and scheduler._binding is None)
    assert scheduler.get_stats()["successful_executions"] >= 1


@pytest.mark.timeout(10)
def test_restart_after_stop() -> None:
    calls: list[str] = []
    scheduler = AgentScheduler(calls.append, "t")
    for _ in range(3):
        assert scheduler.start("60", run_immediately=True)
        n = len(calls)
        wait_until(lambda: len(calls) > n)
        scheduler.stop()
    assert scheduler.get_stats()["successful_executions"] == 3
    assert library_threads() == []


@pytest.mark.timeout(20)
def test_many_schedulers_share_the_runtime_and_leave_nothing() -> None:
    counts = [0] * 50

    def make(i: int) -> Any:
        def agent(task: str) -> None:
            counts[i] += 1
        return agent

    schedulers = [AgentScheduler(make(i), "t") for i in range(50)]
    for s in schedulers:
        s.start("0.05", run_immediately=True)
    wait_until(lambda: min(counts) >= 2)
    threads_while_running = threading.active_count()
    for s in schedulers:
        s.stop()
    assert threads_while_running < 20  # shared loop, two dispatcher workers, a few pool threads
    assert library_threads() == []
