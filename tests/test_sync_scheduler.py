"""AgentScheduler: the same contract from plain sync code (async work on a background loop)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from conftest import wait_until

from actors import AgentScheduler, CancelToken
from actors.testing import VirtualClock

# Retries 5 s apart, without jitter: the tests count virtual seconds.
FLAT_BACKOFF = {"initial": 5, "factor": 1.0, "cap": 5, "jitter": 0.0}


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
    clock = VirtualClock()
    calls: list[str] = []
    with AgentScheduler(calls.append, "x", config={"clock": clock}) as scheduler:
        scheduler.start("5", run_immediately=True)
        clock.advance(10)
        assert scheduler.is_running
    assert not scheduler.is_running
    assert library_threads() == []
    clock.advance(60)  # stopped: nothing runs any more
    assert calls == ["x"] * 3
    assert scheduler.get_stats()["successful_executions"] == 3


@pytest.mark.timeout(10)
def test_stop_timeout_argument_replaces_the_config() -> None:
    clock = VirtualClock()
    release = threading.Event()
    returned: list[str] = []

    def stubborn(task: str) -> None:
        while not release.is_set():  # ignores the stop: takes virtual time a second at a time
            clock.sleep(1)
        returned.append("returned")

    scheduler = AgentScheduler(stubborn, "t", config={"clock": clock, "stop_timeout": 30})
    scheduler.start("3600", run_immediately=True)
    clock.advance(5)
    scheduler.stop(timeout=2)
    assert clock.monotonic() == 7.0  # the stop waited the 2 s it was given, not the config's 30
    assert returned == []  # the stop gave up on the call while it was still going
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

    clock = VirtualClock()
    scheduler = AgentScheduler(Both(), "t", config={"clock": clock})
    scheduler.start("60", run_immediately=True)
    clock.advance(0)
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
    clock = VirtualClock()
    with AgentScheduler(agent, "summarise the news", config={"clock": clock}, on_success=results.append) as scheduler:
        scheduler.start("60", run_immediately=True)
        clock.advance(60)
    assert agent.tasks == ["summarise the news"] * 2 and results == ["answer"] * 2


@pytest.mark.timeout(10)
def test_retry_then_failure_with_sync_callbacks() -> None:
    attempts: list[int] = []
    failures: list[BaseException] = []

    def always_fails(task: str) -> None:
        attempts.append(1)
        raise ConnectionError(f"attempt {len(attempts)}")

    clock = VirtualClock()
    scheduler = AgentScheduler(always_fails, "t", config={"clock": clock, "backoff": FLAT_BACKOFF},
                               on_failure=failures.append)
    scheduler.start("60", max_retries=3, run_immediately=True)
    clock.advance(9)
    assert failures == [] and len(attempts) == 2  # at 0 and 5 s; the third is due at 10 s
    clock.advance(1)
    scheduler.stop()
    stats = scheduler.get_stats()
    assert len(attempts) == 3 and len(failures) == 1 and str(failures[0]) == "attempt 3"
    assert stats["total_attempts"] == 3 and stats["retries"] == 2 and stats["failed_executions"] == 1


@pytest.mark.timeout(10)
def test_cooperative_agent_gets_the_token_and_stop_is_quick() -> None:
    started = threading.Event()
    woken: list[bool] = []
    reasons: list[str | None] = []
    clock = VirtualClock()

    def cooperative(task: str, *, cancel_token: CancelToken) -> None:
        started.set()
        woken.append(cancel_token.wait(60))  # True: woken by the stop, not by the timeout
        reasons.append(cancel_token.reason)

    scheduler = AgentScheduler(cooperative, "t", config={"clock": clock})  # stop_timeout: 10 s
    scheduler.start("60", run_immediately=True)
    assert started.wait(5)
    scheduler.stop()
    assert clock.monotonic() == 0.0  # the run ended on the token: no stop deadline had to pass
    assert woken == [True] and reasons == ["stop"]
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
    scheduler.start("3600", run_immediately=True)
    assert stopped.wait(5)  # the stop returned inside the callback, without waiting for itself
    assert not scheduler.is_running
    # It finishes in the background: poll the scheduler's own state, nothing else says when.
    wait_until(lambda: scheduler._binding is None)
    assert scheduler.get_stats()["successful_executions"] == 1


@pytest.mark.timeout(10)
def test_restart_after_stop() -> None:
    clock = VirtualClock()
    calls: list[str] = []
    scheduler = AgentScheduler(calls.append, "t", config={"clock": clock})
    for n in range(1, 4):
        assert scheduler.start("60", run_immediately=True)
        clock.advance(0)
        assert len(calls) == n
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

    clock = VirtualClock()
    schedulers = [AgentScheduler(make(i), "t", config={"clock": clock}) for i in range(50)]
    for s in schedulers:
        s.start("5", run_immediately=True)
    clock.advance(5)
    assert counts == [2] * 50
    threads_while_running = threading.active_count()
    for s in schedulers:
        s.stop()
    assert threads_while_running < 20  # shared loop, two dispatcher workers, a few pool threads
    assert library_threads() == []
