"""AsyncAgentScheduler against the DESIGN.md contract, with real loops, threads and actors."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import pytest
from conftest import run, wait_for

from actors import AsyncAgentScheduler, CancelToken

FAST_BACKOFF = {"initial": 0.01, "factor": 1.0, "cap": 0.01, "jitter": 0.0}


class Recorder:
    """An async agent that records each call and can be told to fail or to take its time."""

    def __init__(self, fail_first: int = 0, duration: float = 0.0) -> None:
        self.calls: list[float] = []
        self.fail_first = fail_first
        self.duration = duration
        self.loops: set[asyncio.AbstractEventLoop] = set()

    async def __call__(self, task: str) -> str:
        self.calls.append(time.monotonic())
        self.loops.add(asyncio.get_running_loop())
        if self.duration:
            await asyncio.sleep(self.duration)
        if len(self.calls) <= self.fail_first:
            raise RuntimeError(f"failure {len(self.calls)}")
        return f"done:{task}"


@pytest.mark.timeout(10)
def test_construction_creates_nothing_and_needs_no_loop() -> None:
    before = set(threading.enumerate())
    scheduler = AsyncAgentScheduler(Recorder(), "task")
    assert set(threading.enumerate()) == before
    assert scheduler.is_running is False


@pytest.mark.timeout(10)
def test_start_returns_true_then_false_and_never_waits_for_the_agent() -> None:
    agent = Recorder(duration=3.0)

    async def main() -> None:
        scheduler = AsyncAgentScheduler(agent, "t", config={"stop_timeout": 0.05})
        t0 = time.monotonic()
        assert await scheduler.start("10", run_immediately=True) is True
        assert await scheduler.start("10") is False
        assert time.monotonic() - t0 < 0.5
        assert scheduler.is_running
        await wait_for(lambda: agent.calls)
        await scheduler.stop()
        assert not scheduler.is_running

    run(main)


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("expr", "kwargs"),
    [("bogus", {}), ("0", {}), ("-1", {}), ("nan", {}), ("inf", {}), ("*/5m", {"max_retries": 0})],
)
def test_bad_start_arguments_raise_value_error(expr: str, kwargs: dict[str, Any]) -> None:
    async def main() -> None:
        scheduler = AsyncAgentScheduler(Recorder(), "t")
        with pytest.raises(ValueError):
            await scheduler.start(expr, **kwargs)
        assert not scheduler.is_running

    run(main)


@pytest.mark.timeout(10)
def test_bad_expression_message_names_it_and_lists_forms() -> None:
    async def main() -> None:
        with pytest.raises(ValueError, match=r"'every fortnight'.*Accepted forms"):
            await AsyncAgentScheduler(Recorder(), "t").start("every fortnight")

    run(main)


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ({"retries": 3}, "retries"),
        ({"timezone": "Mars/Olympus_Mons"}, "Mars/Olympus_Mons"),
        ({"timeout": -1}, "timeout"),
        ({"stop_timeout": float("nan")}, "stop_timeout"),
        ({"backoff": {"initial": -1}}, "initial"),
        ({"backoff": {"speed": 1}}, "speed"),
    ],
)
def test_bad_config_raises_value_error_naming_the_problem(config: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        AsyncAgentScheduler(Recorder(), "t", config=config)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("agent", [None, 42, "agent", object()])
def test_an_agent_without_an_entry_point_is_a_type_error(agent: object) -> None:
    with pytest.raises(TypeError):
        AsyncAgentScheduler(agent, "t")


@pytest.mark.timeout(10)
def test_agent_kinds_async_awaited_on_the_loop_sync_in_a_thread() -> None:
    seen: dict[str, Any] = {}

    class Both:
        async def astart(self, task: str) -> str:
            seen["async"] = asyncio.get_running_loop()
            return "a"

        def start(self, task: str) -> str:
            seen["sync"] = True
            return "s"

    def plain(task: str) -> None:
        seen["plain_thread"] = threading.current_thread()

    async def main() -> None:
        loop_thread = threading.current_thread()
        both = AsyncAgentScheduler(Both(), "t")
        sync = AsyncAgentScheduler(plain, "t")
        await both.start("10", run_immediately=True)
        await sync.start("10", run_immediately=True)
        await wait_for(lambda: "async" in seen and "plain_thread" in seen)
        await both.stop()
        await sync.stop()
        assert seen["async"] is asyncio.get_running_loop()
        assert "sync" not in seen
        assert seen["plain_thread"] is not loop_thread
        assert (await both.get_stats())["kind"] == "async"
        assert (await sync.get_stats())["kind"] == "sync"

    run(main)


@pytest.mark.timeout(10)
def test_runs_on_an_interval_and_stats_follow() -> None:
    agent = Recorder()
    results: list[str] = []

    async def main() -> None:
        scheduler = AsyncAgentScheduler(agent, "news", on_success=results.append)
        await scheduler.start("0.05")
        await wait_for(lambda: len(results) >= 3)
        stats = await scheduler.get_stats()
        await scheduler.stop()
        assert stats["is_running"] is True
        assert stats["successful_executions"] >= 3
        assert stats["success_rate"] == 100.0
        assert stats["last_error"] is None
        assert stats["last_run_at"] is not None and abs(stats["last_run_at"] - time.time()) < 5
        assert stats["next_run_at"] is not None and stats["next_run_at"] > stats["last_run_at"]
        final = await scheduler.get_stats()
        assert final["is_running"] is False and final["next_run_at"] is None
        assert results[0] == "done:news"
        assert final["successful_executions"] == len(results) == len(agent.calls)

    run(main)


@pytest.mark.timeout(10)
def test_stats_before_any_run() -> None:
    async def main() -> None:
        stats = await AsyncAgentScheduler(Recorder(), "t").get_stats()
        for key in ("is_running", "total_executions", "successful_executions", "failed_executions",
                    "success_rate", "total_attempts", "retries", "skipped_ticks", "last_run_at",
                    "next_run_at", "last_error", "runtime_seconds", "cancelled_executions"):
            assert key in stats
        assert stats["success_rate"] == 0.0
        assert stats["total_executions"] == 0 and stats["runtime_seconds"] == 0.0
        assert stats["last_run_at"] is None and stats["next_run_at"] is None

    run(main)


@pytest.mark.timeout(10)
def test_fixed_rate_does_not_drift() -> None:
    agent = Recorder()

    async def main() -> None:
        scheduler = AsyncAgentScheduler(agent, "t")
        t0 = time.monotonic()
        await scheduler.start("0.02")
        await wait_for(lambda: len(agent.calls) >= 40)
        await scheduler.stop()

    run(main)
    # Call k fires at start + (k+1) * 20 ms; a sleep-after-run loop would be late by the sum of
    # every run's latency. Allow each call generous jitter, but no accumulation.
    first = agent.calls[0]
    for k, t in enumerate(agent.calls[:40]):
        assert abs((t - first) - k * 0.02) < 0.015 + 0.002 * 0, (k, t - first)


@pytest.mark.timeout(10)
def test_run_immediately_runs_at_once_then_on_schedule() -> None:
    agent = Recorder()

    async def main() -> None:
        scheduler = AsyncAgentScheduler(agent, "t")
        t0 = time.monotonic()
        await scheduler.start("0.3", run_immediately=True)
        await wait_for(lambda: agent.calls)
        assert agent.calls[0] - t0 < 0.1
        await wait_for(lambda: len(agent.calls) >= 2)
        assert agent.calls[1] - t0 == pytest.approx(0.3, abs=0.1)
        await scheduler.stop()

    run(main)


@pytest.mark.timeout(10)
def test_retries_until_success_then_one_callback() -> None:
    agent = Recorder(fail_first=2)
    ok: list[str] = []
    failed: list[BaseException] = []

    async def main() -> dict[str, Any]:
        scheduler = AsyncAgentScheduler(agent, "t", config={"backoff": FAST_BACKOFF},
                                        on_success=ok.append, on_failure=failed.append)
        await scheduler.start("60", max_retries=3, run_immediately=True)
        await wait_for(lambda: ok)
        await scheduler.stop()
        return await scheduler.get_stats()

    stats = run(main)
    assert ok == ["done:t"] and failed == []
    assert stats["successful_executions"] == 1 and stats["failed_executions"] == 0
    assert stats["total_attempts"] == 3 and stats["retries"] == 2
    assert stats["last_error"] == repr(RuntimeError("failure 2"))


@pytest.mark.timeout(10)
def test_all_attempts_fail_calls_on_failure_once_with_last_error() -> None:
    agent = Recorder(fail_first=99)
    ok: list[str] = []
    failed: list[BaseException] = []

    async def main() -> dict[str, Any]:
        scheduler = AsyncAgentScheduler(agent, "t", config={"backoff": FAST_BACKOFF},
                                        on_success=ok.append, on_failure=failed.append)
        await scheduler.start("60", max_retries=2, run_immediately=True)
        await wait_for(lambda: failed)
        await scheduler.stop()
        return await scheduler.get_stats()

    stats = run(main)
    assert ok == [] and len(failed) == 1 and str(failed[0]) == "failure 2"
    assert stats["failed_executions"] == 1 and stats["total_executions"] == 1
    assert stats["success_rate"] == 0.0
    assert stats["total_attempts"] == 2 and stats["retries"] == 1


@pytest.mark.timeout(10)
def test_backoff_delay_separates_attempts() -> None:
    agent = Recorder(fail_first=1)

    async def main() -> None:
        backoff = {"initial": 0.2, "factor": 2, "cap": 10, "jitter": 0}
        scheduler = AsyncAgentScheduler(agent, "t", config={"backoff": backoff})
        await scheduler.start("60", run_immediately=True)
        await wait_for(lambda: len(agent.calls) >= 2)
        await scheduler.stop()

    run(main)
    assert agent.calls[1] - agent.calls[0] == pytest.approx(0.2, abs=0.1)


@pytest.mark.timeout(10)
def test_async_attempt_timeout_fails_with_builtin_timeout_error() -> None:
    agent = Recorder(duration=5.0)
    failed: list[BaseException] = []

    async def main() -> dict[str, Any]:
        scheduler = AsyncAgentScheduler(agent, "t", config={"timeout": 0.05, "backoff": FAST_BACKOFF},
                                        on_failure=failed.append)
        await scheduler.start("60", max_retries=2, run_immediately=True)
        await wait_for(lambda: failed)
        await scheduler.stop()
        return await scheduler.get_stats()

    stats = run(main)
    assert type(failed[0]) is TimeoutError
    assert stats["failed_executions"] == 1 and stats["total_attempts"] == 2
    assert "TimeoutError" in stats["last_error"]


@pytest.mark.timeout(10)
def test_sync_attempt_timeout_discards_late_result_and_cancels_token() -> None:
    tokens: list[CancelToken] = []
    released = threading.Event()
    ok: list[Any] = []
    failed: list[BaseException] = []

    def slow(task: str, cancel_token: CancelToken) -> str:
        tokens.append(cancel_token)
        released.wait(5)
        return "late"

    async def main() -> dict[str, Any]:
        scheduler = AsyncAgentScheduler(slow, "t", config={"timeout": 0.05},
                                        on_success=ok.append, on_failure=failed.append)
        await scheduler.start("60", max_retries=1, run_immediately=True)
        await wait_for(lambda: failed)
        assert tokens[0].cancelled  # the agent was told to give up
        released.set()
        await asyncio.sleep(0.05)
        stats = await scheduler.get_stats()
        await scheduler.stop()
        return stats

    stats = run(main)
    assert type(failed[0]) is TimeoutError and ok == []
    assert stats["failed_executions"] == 1 and stats["successful_executions"] == 0
    assert stats["abandoned_runs"] == 1


@pytest.mark.timeout(10)
def test_stop_ends_a_backoff_wait_at_once_and_cancels_the_execution() -> None:
    agent = Recorder(fail_first=99)
    failed: list[BaseException] = []

    async def main() -> tuple[float, dict[str, Any]]:
        backoff = {"initial": 300, "jitter": 0}
        scheduler = AsyncAgentScheduler(agent, "t", config={"backoff": backoff}, on_failure=failed.append)
        await scheduler.start("600", run_immediately=True)
        await wait_for(lambda: agent.calls)
        await wait_for(lambda: scheduler._actor.snapshot()["state"] == "backing_off")
        t0 = time.monotonic()
        assert await scheduler.stop() is True
        return time.monotonic() - t0, await scheduler.get_stats()

    elapsed, stats = run(main)
    assert elapsed < 0.5
    assert failed == []
    assert stats["cancelled_executions"] == 1 and stats["total_executions"] == 0
    assert stats["total_attempts"] == 1
    assert stats["retries"] == stats["total_attempts"] - stats["total_executions"] - stats["cancelled_executions"]


@pytest.mark.timeout(10)
def test_stop_lets_a_short_run_finish_and_awaits_its_callback() -> None:
    agent = Recorder(duration=0.2)
    order: list[str] = []

    async def on_success(result: str) -> None:
        await asyncio.sleep(0.05)
        order.append("callback")

    async def main() -> dict[str, Any]:
        scheduler = AsyncAgentScheduler(agent, "t", on_success=on_success, config={"stop_timeout": 2})
        await scheduler.start("60", run_immediately=True)
        await wait_for(lambda: agent.calls)
        await scheduler.stop()
        order.append("stopped")
        return await scheduler.get_stats()

    stats = run(main)
    assert order == ["callback", "stopped"]
    assert stats["successful_executions"] == 1 and stats["cancelled_executions"] == 0


@pytest.mark.timeout(10)
def test_stop_cancels_a_long_async_run_after_stop_timeout() -> None:
    agent = Recorder(duration=30)
    calls: list[Any] = []

    async def main() -> tuple[float, dict[str, Any]]:
        scheduler = AsyncAgentScheduler(agent, "t", config={"stop_timeout": 0.2},
                                        on_success=calls.append, on_failure=calls.append)
        await scheduler.start("60", run_immediately=True)
        await wait_for(lambda: agent.calls)
        t0 = time.monotonic()
        await scheduler.stop()
        return time.monotonic() - t0, await scheduler.get_stats()

    elapsed, stats = run(main)
    assert 0.15 < elapsed < 1.5
    assert calls == []
    assert stats["cancelled_executions"] == 1 and stats["total_executions"] == 0
    assert stats["total_attempts"] == 1 and stats["state"] == "stopped"


@pytest.mark.timeout(10)
def test_stop_abandons_a_sync_run_that_ignores_cancellation() -> None:
    release = threading.Event()

    def stubborn(task: str) -> str:
        release.wait(3)
        return "too late"

    async def main() -> tuple[float, dict[str, Any]]:
        scheduler = AsyncAgentScheduler(stubborn, "t", config={"stop_timeout": 0.1})
        await scheduler.start("60", run_immediately=True)
        await asyncio.sleep(0.05)
        t0 = time.monotonic()
        await scheduler.stop()
        elapsed = time.monotonic() - t0
        release.set()  # the abandoned thread ends as soon as its call returns
        return elapsed, await scheduler.get_stats()

    elapsed, stats = run(main)
    assert elapsed < 1.0
    assert stats["abandoned_runs"] == 1 and stats["cancelled_executions"] == 1
    assert stats["successful_executions"] == 0


@pytest.mark.timeout(10)
def test_stop_wakes_a_cooperative_sync_agent_at_once() -> None:
    started = threading.Event()

    def cooperative(task: str, cancel_token: CancelToken) -> str:
        started.set()
        cancel_token.wait(30)
        return "stopped early"

    async def main() -> tuple[float, dict[str, Any]]:
        scheduler = AsyncAgentScheduler(cooperative, "t", config={"stop_timeout": 10})
        await scheduler.start("60", run_immediately=True)
        await wait_for(started.is_set)
        t0 = time.monotonic()
        await scheduler.stop()
        return time.monotonic() - t0, await scheduler.get_stats()

    elapsed, stats = run(main)
    assert elapsed < 0.5
    assert stats["cancelled_executions"] == 1 and stats["abandoned_runs"] == 0


@pytest.mark.timeout(10)
def test_stop_is_idempotent_and_fine_before_start() -> None:
    async def main() -> None:
        scheduler = AsyncAgentScheduler(Recorder(), "t")
        assert await scheduler.stop() is True
        await scheduler.start("1")
        assert await scheduler.stop() is True
        assert await scheduler.stop() is True
        await asyncio.gather(scheduler.stop(), scheduler.stop())

    run(main)


@pytest.mark.timeout(10)
def test_concurrent_stops_all_wait_for_the_end() -> None:
    agent = Recorder(duration=0.2)

    async def main() -> None:
        scheduler = AsyncAgentScheduler(agent, "t")
        await scheduler.start("60", run_immediately=True)
        await wait_for(lambda: agent.calls)
        results = await asyncio.gather(scheduler.stop(), scheduler.stop(), scheduler.stop())
        assert results == [True, True, True]
        assert (await scheduler.get_stats())["successful_executions"] == 1

    run(main)


@pytest.mark.timeout(15)
def test_stop_from_another_loop_and_from_a_plain_thread() -> None:
    agent = Recorder()
    started = threading.Event()
    holder: dict[str, AsyncAgentScheduler] = {}
    done = threading.Event()

    async def owner() -> None:
        scheduler = holder["s"] = AsyncAgentScheduler(agent, "t")
        await scheduler.start("0.05", run_immediately=True)
        started.set()
        while scheduler.is_running or not done.is_set():
            await asyncio.sleep(0.01)

    thread = threading.Thread(target=lambda: run(owner))
    thread.start()
    assert started.wait(5)
    asyncio.run(holder["s"].stop())  # a different loop, in the main thread
    done.set()
    thread.join(5)
    assert not thread.is_alive()
    stats = asyncio.run(holder["s"].get_stats())
    assert stats["is_running"] is False and stats["successful_executions"] >= 1


@pytest.mark.timeout(15)
def test_restart_under_a_second_asyncio_run() -> None:
    agent = Recorder()
    scheduler = AsyncAgentScheduler(agent, "t")

    async def session() -> None:
        before = len(agent.calls)
        assert await scheduler.start("0.05", run_immediately=True) is True
        await wait_for(lambda: len(agent.calls) >= before + 2)
        await scheduler.stop()

    run(session)
    run(session)
    assert len(agent.loops) == 2
    assert asyncio.run(scheduler.get_stats())["successful_executions"] == len(agent.calls)


@pytest.mark.timeout(15)
def test_restart_after_the_loop_ended_without_stop() -> None:
    agent = Recorder()
    scheduler = AsyncAgentScheduler(agent, "t")

    async def forgetful() -> None:
        await scheduler.start("0.05", run_immediately=True)
        await wait_for(lambda: agent.calls)

    asyncio.run(forgetful())  # the loop closes under a running scheduler

    async def again() -> None:
        assert await scheduler.start("0.05", run_immediately=True) is True
        n = len(agent.calls)
        await wait_for(lambda: len(agent.calls) > n)
        await scheduler.stop()

    run(again)


@pytest.mark.timeout(10)
def test_ticks_during_a_long_run_are_skipped_not_stacked() -> None:
    running = 0
    peak = 0

    async def slow(task: str) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.2)
        running -= 1

    async def main() -> dict[str, Any]:
        scheduler = AsyncAgentScheduler(slow, "t")
        await scheduler.start("0.03", run_immediately=True)
        await asyncio.sleep(0.5)
        stats = await scheduler.get_stats()
        await scheduler.stop()
        return stats

    stats = run(main)
    assert peak == 1
    assert stats["skipped_ticks"] >= 5


@pytest.mark.timeout(10)
def test_run_now_runs_once_and_does_not_stack() -> None:
    agent = Recorder(duration=0.2)

    async def main() -> dict[str, Any]:
        scheduler = AsyncAgentScheduler(agent, "t")
        assert await scheduler.run_now() is False  # not running
        await scheduler.start("600")
        assert await scheduler.run_now() is True
        await wait_for(lambda: agent.calls)
        await scheduler.run_now()  # in flight: counted, not stacked
        await wait_for(lambda: scheduler._actor.snapshot()["successful_executions"] == 1)
        stats = await scheduler.get_stats()
        await scheduler.stop()
        return stats

    stats = run(main)
    assert len(agent.calls) == 1
    assert stats["skipped_ticks"] == 1


@pytest.mark.timeout(10)
def test_get_stats_is_answered_while_a_run_is_in_flight() -> None:
    agent = Recorder(duration=2.0)

    async def main() -> None:
        scheduler = AsyncAgentScheduler(agent, "t", config={"stop_timeout": 0})
        await scheduler.start("60", run_immediately=True)
        await wait_for(lambda: agent.calls)
        t0 = time.monotonic()
        stats = await scheduler.get_stats()
        assert time.monotonic() - t0 < 0.2
        assert stats["state"] == "running" and stats["total_attempts"] == 1
        await scheduler.stop()

    run(main)


@pytest.mark.timeout(10)
def test_raising_callbacks_are_logged_and_never_stop_the_schedule(caplog: pytest.LogCaptureFixture) -> None:
    agent = Recorder()

    def bad_sync(result: str) -> None:
        raise ValueError("sync callback bug")

    async def main() -> None:
        scheduler = AsyncAgentScheduler(agent, "t", on_success=bad_sync)
        await scheduler.start("0.03", run_immediately=True)
        await wait_for(lambda: len(agent.calls) >= 3)
        await scheduler.stop()

    with caplog.at_level(logging.ERROR, logger="actors"):
        run(main)
    assert "sync callback bug" in caplog.text


@pytest.mark.timeout(10)
def test_runtime_seconds_is_frozen_at_stop() -> None:
    async def main() -> None:
        scheduler = AsyncAgentScheduler(Recorder(), "t")
        await scheduler.start("60")
        await asyncio.sleep(0.1)
        await scheduler.stop()
        first = (await scheduler.get_stats())["runtime_seconds"]
        await asyncio.sleep(0.1)
        assert (await scheduler.get_stats())["runtime_seconds"] == first
        assert 0.05 < first < 1.0

    run(main)


@pytest.mark.timeout(10)
def test_hourly_counts_from_start_and_at_hourly_aligns_to_the_clock() -> None:
    async def main() -> tuple[dict[str, Any], dict[str, Any], float]:
        interval = AsyncAgentScheduler(Recorder(), "t", config={"timezone": "UTC"})
        aligned = AsyncAgentScheduler(Recorder(), "t", config={"timezone": "UTC"})
        t0 = time.time()
        await interval.start("hourly")
        await aligned.start("@hourly")
        stats = (await interval.get_stats(), await aligned.get_stats())
        await interval.stop()
        await aligned.stop()
        return stats[0], stats[1], t0

    hourly, at_hourly, t0 = run(main)
    assert hourly["next_run_at"] == pytest.approx(t0 + 3600, abs=1)
    assert at_hourly["next_run_at"] % 3600 == 0
    assert t0 < at_hourly["next_run_at"] <= t0 + 3600
