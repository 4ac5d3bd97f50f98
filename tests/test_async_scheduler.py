"""AsyncAgentScheduler against the DESIGN.md contract, with real loops, threads and actors."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import run

from actors import AsyncAgentScheduler, CancelToken
from actors.testing import VirtualClock

# Retries 5 s apart, without jitter: the tests count virtual seconds.
FLAT_BACKOFF = {"initial": 5, "factor": 1.0, "cap": 5, "jitter": 0.0}


class Recorder:
    """An async agent that records when it is called (on ``clock`` when given, else real
    monotonic time), can be told to fail, and can take ``duration`` of virtual time."""

    def __init__(self, fail_first: int = 0, duration: float = 0.0, clock: VirtualClock | None = None) -> None:
        if duration and clock is None:
            raise ValueError("a Recorder that takes time needs a VirtualClock")
        self.calls: list[float] = []
        self.fail_first = fail_first
        self.duration = duration
        self.clock = clock
        self.loops: set[asyncio.AbstractEventLoop] = set()

    async def __call__(self, task: str) -> str:
        self.calls.append(time.monotonic() if self.clock is None else self.clock.monotonic())
        self.loops.add(asyncio.get_running_loop())
        if self.clock is not None and self.duration:
            await self.clock.asleep(self.duration)
        if len(self.calls) <= self.fail_first:
            raise RuntimeError(f"failure {len(self.calls)}")
        return f"done:{task}"


class Gated:
    """An async agent whose run lasts until the test opens its gate; ``entered`` and ``left``
    are set when a run begins and ends (events bound to the running loop)."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()
        self.left = asyncio.Event()
        self.started = 0
        self.finished = 0

    async def __call__(self, task: str) -> str:
        self.started += 1
        self.entered.set()
        await self.gate.wait()
        self.finished += 1
        self.left.set()
        return f"done:{task}"


@pytest.mark.timeout(10)
def test_construction_creates_nothing_and_needs_no_loop() -> None:
    before = set(threading.enumerate())
    scheduler = AsyncAgentScheduler(Recorder(), "task")
    assert set(threading.enumerate()) == before
    assert scheduler.is_running is False


@pytest.mark.timeout(10)
def test_start_returns_true_then_false_and_never_waits_for_the_agent() -> None:
    async def main() -> None:
        agent = Gated()  # its run ends only when the gate opens, after both starts returned
        scheduler = AsyncAgentScheduler(agent, "t")
        assert await scheduler.start("10", run_immediately=True) is True
        assert await scheduler.start("10") is False
        assert scheduler.is_running
        await agent.entered.wait()
        assert agent.finished == 0 and (await scheduler.get_stats())["state"] == "running"
        agent.gate.set()
        await agent.left.wait()
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
        with pytest.raises(ValueError, match=r"'every fortnight'.*closest forms"):
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
        clock = VirtualClock()
        loop_thread = threading.current_thread()
        both = AsyncAgentScheduler(Both(), "t", config={"clock": clock})
        sync = AsyncAgentScheduler(plain, "t", config={"clock": clock})
        await both.start("10", run_immediately=True)
        await sync.start("10", run_immediately=True)
        await clock.aadvance(0)  # both immediate runs have ended
        assert "async" in seen and "plain_thread" in seen
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
    clock = VirtualClock()
    agent = Recorder(clock=clock)
    results: list[str] = []

    async def main() -> None:
        scheduler = AsyncAgentScheduler(agent, "news", config={"clock": clock}, on_success=results.append)
        await scheduler.start("5")
        await clock.aadvance(15)
        stats = await scheduler.get_stats()
        await scheduler.stop()
        assert agent.calls == [5.0, 10.0, 15.0]
        assert stats["is_running"] is True
        assert stats["successful_executions"] == 3
        assert stats["success_rate"] == 100.0
        assert stats["last_error"] is None
        assert stats["last_run_at"] == clock.now()  # wall time of the last run, from the clock
        assert stats["next_run_at"] == clock.now() + 5
        final = await scheduler.get_stats()
        assert final["is_running"] is False and final["next_run_at"] is None
        assert results == ["done:news"] * 3
        assert final["successful_executions"] == 3

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
    clock = VirtualClock()
    agent = Recorder(duration=0.5, clock=clock)  # each run takes a quarter of the interval

    async def main() -> None:
        scheduler = AsyncAgentScheduler(agent, "t", config={"clock": clock})
        await scheduler.start("2")
        await clock.aadvance(80)
        await scheduler.stop()

    run(main)
    # Call k fires at start + k * 2 s, whatever the runs took; a sleep-after-run loop would
    # start at 2, 4.5, 7, ... and be 0.5 s later on every call.
    assert agent.calls == [2.0 * k for k in range(1, 41)]


@pytest.mark.timeout(10)
def test_run_immediately_runs_at_once_then_on_schedule() -> None:
    clock = VirtualClock()
    agent = Recorder(clock=clock)

    async def main() -> None:
        scheduler = AsyncAgentScheduler(agent, "t", config={"clock": clock})
        await scheduler.start("300", run_immediately=True)
        await clock.aadvance(0)
        assert agent.calls == [0.0]               # at once, no interval waited
        await clock.aadvance(299)
        assert agent.calls == [0.0]
        await clock.aadvance(1)
        assert agent.calls == [0.0, 300.0]        # then one interval after the start
        await scheduler.stop()

    run(main)


@pytest.mark.timeout(10)
def test_retries_until_success_then_one_callback() -> None:
    clock = VirtualClock()
    agent = Recorder(fail_first=2, clock=clock)
    ok: list[str] = []
    failed: list[BaseException] = []

    async def main() -> dict[str, Any]:
        scheduler = AsyncAgentScheduler(agent, "t", config={"clock": clock, "backoff": FLAT_BACKOFF},
                                        on_success=ok.append, on_failure=failed.append)
        await scheduler.start("60", max_retries=3, run_immediately=True)
        await clock.aadvance(10)
        await scheduler.stop()
        return await scheduler.get_stats()

    stats = run(main)
    assert agent.calls == [0.0, 5.0, 10.0]  # two retries, each after the 5 s backoff
    assert ok == ["done:t"] and failed == []
    assert stats["successful_executions"] == 1 and stats["failed_executions"] == 0
    assert stats["total_attempts"] == 3 and stats["retries"] == 2
    assert stats["last_error"] == repr(RuntimeError("failure 2"))


@pytest.mark.timeout(10)
def test_all_attempts_fail_calls_on_failure_once_with_last_error() -> None:
    clock = VirtualClock()
    agent = Recorder(fail_first=99, clock=clock)
    ok: list[str] = []
    failed: list[BaseException] = []

    async def main() -> dict[str, Any]:
        scheduler = AsyncAgentScheduler(agent, "t", config={"clock": clock, "backoff": FLAT_BACKOFF},
                                        on_success=ok.append, on_failure=failed.append)
        await scheduler.start("60", max_retries=2, run_immediately=True)
        await clock.aadvance(30)  # no third attempt, and nothing more before the next tick
        await scheduler.stop()
        return await scheduler.get_stats()

    stats = run(main)
    assert agent.calls == [0.0, 5.0]
    assert ok == [] and len(failed) == 1 and str(failed[0]) == "failure 2"
    assert stats["failed_executions"] == 1 and stats["total_executions"] == 1
    assert stats["success_rate"] == 0.0
    assert stats["total_attempts"] == 2 and stats["retries"] == 1


@pytest.mark.timeout(10)
def test_backoff_delay_separates_attempts() -> None:
    clock = VirtualClock()
    agent = Recorder(fail_first=2, clock=clock)

    async def main() -> None:
        backoff = {"initial": 20, "factor": 2, "cap": 600, "jitter": 0}
        scheduler = AsyncAgentScheduler(agent, "t", config={"clock": clock, "backoff": backoff})
        await scheduler.start("3600", max_retries=3, run_immediately=True)
        await clock.aadvance(19)
        assert agent.calls == [0.0]                 # the first retry waits `initial`
        await clock.aadvance(1)
        assert agent.calls == [0.0, 20.0]
        await clock.aadvance(40)                    # the second waits initial * factor
        assert agent.calls == [0.0, 20.0, 60.0]
        assert (await scheduler.get_stats())["successful_executions"] == 1
        await scheduler.stop()

    run(main)


@pytest.mark.timeout(10)
def test_async_attempt_timeout_fails_with_builtin_timeout_error() -> None:
    clock = VirtualClock()
    agent = Recorder(duration=500, clock=clock)
    failed: list[BaseException] = []

    async def main() -> dict[str, Any]:
        backoff = {"initial": 5, "factor": 1, "cap": 5, "jitter": 0}
        scheduler = AsyncAgentScheduler(agent, "t", config={"clock": clock, "timeout": 10, "backoff": backoff},
                                        on_failure=failed.append)
        await scheduler.start("3600", max_retries=2, run_immediately=True)
        await clock.aadvance(9.5)
        assert (await scheduler.get_stats())["total_attempts"] == 1 and agent.calls == [0.0]
        await clock.aadvance(0.5)                   # the first attempt times out at 10 s
        assert (await scheduler.get_stats())["total_attempts"] == 1 and failed == []
        await clock.aadvance(5)                     # the retry starts after the backoff ...
        assert agent.calls == [0.0, 15.0]
        await clock.aadvance(9.5)
        assert failed == []
        await clock.aadvance(0.5)                   # ... and times out 10 s later: the last attempt
        assert len(failed) == 1
        await scheduler.stop()
        return await scheduler.get_stats()

    stats = run(main)
    assert type(failed[0]) is TimeoutError
    assert stats["failed_executions"] == 1 and stats["total_attempts"] == 2
    assert "TimeoutError" in stats["last_error"]


class Late:
    """The result of an attempt that ran past its timeout."""


@pytest.mark.timeout(10)
def test_sync_attempt_timeout_discards_late_result_and_cancels_token() -> None:
    clock = VirtualClock()
    tokens: list[CancelToken] = []
    ok: list[Any] = []
    failed: list[BaseException] = []
    let_go = threading.Event()  # set when nothing holds the late result any more

    def slow(task: str, cancel_token: CancelToken) -> Late:
        tokens.append(cancel_token)
        clock.sleep(30)  # past the 10 s timeout: ends when the runtime gives up on the attempt
        late = Late()
        weakref.finalize(late, let_go.set)
        return late

    async def main() -> dict[str, Any]:
        scheduler = AsyncAgentScheduler(slow, "t", config={"clock": clock, "timeout": 10},
                                        on_success=ok.append, on_failure=failed.append)
        await scheduler.start("60", max_retries=1, run_immediately=True)
        await clock.aadvance(9.9)
        assert failed == [] and not tokens[0].cancelled
        await clock.aadvance(0.1)
        assert type(failed[0]) is TimeoutError
        assert tokens[0].cancelled  # the agent was told to give up
        # The abandoned call returns its result now, while the schedule still runs: the runtime
        # handles that report and drops it (a result delivered to on_success would stay in `ok`).
        assert await asyncio.to_thread(let_go.wait, 5), "the late result is still held"
        stats = await scheduler.get_stats()
        await scheduler.stop()
        return stats

    stats = run(main)
    assert type(failed[0]) is TimeoutError and ok == []
    assert stats["failed_executions"] == 1 and stats["successful_executions"] == 0
    assert stats["abandoned_runs"] == 1 and stats["state"] == "idle"


@pytest.mark.timeout(10)
def test_stop_ends_a_backoff_wait_at_once_and_cancels_the_execution() -> None:
    clock = VirtualClock()
    agent = Recorder(fail_first=99, clock=clock)
    failed: list[BaseException] = []

    async def main() -> dict[str, Any]:
        backoff = {"initial": 300, "jitter": 0}
        scheduler = AsyncAgentScheduler(agent, "t", config={"clock": clock, "backoff": backoff},
                                        on_failure=failed.append)
        await scheduler.start("600", run_immediately=True)
        await clock.aadvance(10)
        assert (await scheduler.get_stats())["state"] == "backing_off"
        assert await scheduler.stop() is True
        # The stop did not need the 300 s backoff (nor any deadline) to pass.
        assert clock.monotonic() == 10.0
        return await scheduler.get_stats()

    stats = run(main)
    assert agent.calls == [0.0]
    assert failed == []
    assert stats["cancelled_executions"] == 1 and stats["total_executions"] == 0
    assert stats["total_attempts"] == 1
    assert stats["retries"] == stats["total_attempts"] - stats["total_executions"] - stats["cancelled_executions"]


@pytest.mark.timeout(10)
def test_stop_lets_a_short_run_finish_and_awaits_its_callback() -> None:
    order: list[str] = []

    async def main() -> dict[str, Any]:
        agent, callback_entered, callback_gate = Gated(), asyncio.Event(), asyncio.Event()

        async def on_success(result: str) -> None:
            order.append("callback started")
            callback_entered.set()
            await callback_gate.wait()
            order.append("callback")

        scheduler = AsyncAgentScheduler(agent, "t", on_success=on_success, config={"stop_timeout": 30})
        await scheduler.start("60", run_immediately=True)
        await agent.entered.wait()
        stopping = asyncio.create_task(scheduler.stop())
        await asyncio.sleep(0)                              # the stop task has begun ...
        assert not scheduler.is_running                     # ... so the stop is under way ...
        agent.gate.set()                                    # ... when the run finishes on its own
        await callback_entered.wait()
        assert not stopping.done()                          # the stop waits for the callback too
        callback_gate.set()
        assert await stopping is True
        order.append("stopped")
        return await scheduler.get_stats()

    stats = run(main)
    assert order == ["callback started", "callback", "stopped"]
    assert stats["successful_executions"] == 1 and stats["cancelled_executions"] == 0


@pytest.mark.timeout(10)
def test_stop_cancels_a_long_async_run_after_stop_timeout() -> None:
    clock = VirtualClock()
    seen: list[str] = []
    calls: list[Any] = []

    async def stubborn(task: str, cancel_token: CancelToken) -> None:
        seen.append("started")
        await clock.asleep(3600)  # a stop ends this sleep at once ...
        seen.append(f"asked to stop: {cancel_token.cancelled}")
        try:
            while True:  # ... and the run carries on regardless, a virtual second at a time
                await clock.asleep(1)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    async def main() -> dict[str, Any]:
        scheduler = AsyncAgentScheduler(stubborn, "t", config={"clock": clock, "stop_timeout": 20},
                                        on_success=calls.append, on_failure=calls.append)
        await scheduler.start("3600", run_immediately=True)
        await clock.aadvance(5)
        assert seen == ["started"]
        await scheduler.stop()
        assert clock.monotonic() == 25.0  # the run had its whole 20 s of grace before the cancel
        return await scheduler.get_stats()

    stats = run(main)
    assert seen == ["started", "asked to stop: True", "cancelled"]  # asked first, cancelled once it ignored that
    assert calls == []
    assert stats["cancelled_executions"] == 1 and stats["total_executions"] == 0
    assert stats["total_attempts"] == 1 and stats["state"] == "stopped"


@pytest.mark.timeout(10)
def test_stop_abandons_a_sync_run_that_ignores_cancellation() -> None:
    clock = VirtualClock()
    release = threading.Event()
    returned: list[str] = []

    def stubborn(task: str) -> str:
        while not release.is_set():  # ignores the stop: takes virtual time a second at a time
            clock.sleep(1)
        returned.append("too late")
        return "too late"

    async def main() -> tuple[list[str], dict[str, Any]]:
        scheduler = AsyncAgentScheduler(stubborn, "t", config={"clock": clock, "stop_timeout": 15})
        await scheduler.start("3600", run_immediately=True)
        await clock.aadvance(5)
        await scheduler.stop()
        assert clock.monotonic() == 20.0  # the stop waited its 15 s for the run, then gave up
        while_stuck = list(returned)  # the stop returned while the call was still going
        release.set()  # the abandoned thread ends as soon as its call returns
        return while_stuck, await scheduler.get_stats()

    while_stuck, stats = run(main)
    assert while_stuck == []
    assert stats["abandoned_runs"] == 1 and stats["cancelled_executions"] == 1
    assert stats["successful_executions"] == 0


@pytest.mark.timeout(10)
def test_stop_wakes_a_cooperative_sync_agent_at_once() -> None:
    started = threading.Event()
    woken: list[bool] = []
    clock = VirtualClock()

    def cooperative(task: str, cancel_token: CancelToken) -> str:
        started.set()
        woken.append(cancel_token.wait(60))  # True: woken by the stop, not by the timeout
        return "stopped early"

    async def main() -> dict[str, Any]:
        scheduler = AsyncAgentScheduler(cooperative, "t", config={"clock": clock, "stop_timeout": 10})
        await scheduler.start("60", run_immediately=True)
        assert await asyncio.to_thread(started.wait, 5)
        await scheduler.stop()
        assert clock.monotonic() == 0.0  # the stop did not need its 10 s deadline to pass
        return await scheduler.get_stats()

    stats = run(main)
    assert woken == [True]
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
    async def main() -> None:
        agent = Gated()
        scheduler = AsyncAgentScheduler(agent, "t", config={"stop_timeout": 30})
        await scheduler.start("60", run_immediately=True)
        await agent.entered.wait()
        stops = [asyncio.create_task(scheduler.stop()) for _ in range(3)]
        await asyncio.sleep(0)  # every stop task has run up to its wait
        assert not scheduler.is_running
        assert not any(stop.done() for stop in stops)  # none returns while the run is in flight
        agent.gate.set()
        assert await asyncio.gather(*stops) == [True, True, True]
        assert agent.finished == 1
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
        await scheduler.start("3600", run_immediately=True)
        started.set()
        # The agent's loop keeps running (it serves the agent) until the main thread is done.
        await asyncio.get_running_loop().run_in_executor(None, done.wait, 10)

    thread = threading.Thread(target=lambda: run(owner))
    thread.start()
    assert started.wait(5)
    asyncio.run(holder["s"].stop())  # a different loop, in the main thread
    assert holder["s"].is_running is False
    done.set()
    thread.join(5)
    assert not thread.is_alive()
    stats = asyncio.run(holder["s"].get_stats())  # and stats from yet another loop
    assert stats["is_running"] is False and stats["state"] == "stopped"
    assert stats["successful_executions"] == 1 and len(agent.calls) == 1  # the stop let the run finish


@pytest.mark.timeout(15)
def test_restart_under_a_second_asyncio_run() -> None:
    clock = VirtualClock()
    agent = Recorder(clock=clock)
    scheduler = AsyncAgentScheduler(agent, "t", config={"clock": clock})

    async def session() -> None:
        assert await scheduler.start("5", run_immediately=True) is True
        await clock.aadvance(5)
        await scheduler.stop()

    run(session)
    run(session)
    assert agent.calls == [0.0, 5.0, 5.0, 10.0]  # at once and 5 s later, in each session
    assert len(agent.loops) == 2
    assert asyncio.run(scheduler.get_stats())["successful_executions"] == 4


@pytest.mark.timeout(15)
def test_restart_after_the_loop_ended_without_stop() -> None:
    clock = VirtualClock()
    agent = Recorder(clock=clock)
    scheduler = AsyncAgentScheduler(agent, "t", config={"clock": clock})

    async def forgetful() -> None:
        await scheduler.start("60", run_immediately=True)
        await clock.aadvance(0)
        assert agent.calls == [0.0]

    asyncio.run(forgetful())  # the loop closes under a running scheduler

    async def again() -> None:
        assert await scheduler.start("60", run_immediately=True) is True
        await clock.aadvance(60)  # the closed loop's tick at 60 s is gone; the new schedule's runs
        await scheduler.stop()

    run(again)
    assert agent.calls == [0.0, 0.0, 60.0]
    assert len(agent.loops) == 2


@pytest.mark.timeout(10)
def test_ticks_during_a_long_run_are_skipped_not_stacked() -> None:
    clock = VirtualClock()
    running = 0
    peak = 0
    starts: list[float] = []

    async def slow(task: str) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        starts.append(clock.monotonic())
        await clock.asleep(20)
        running -= 1

    async def main() -> dict[str, Any]:
        scheduler = AsyncAgentScheduler(slow, "t", config={"clock": clock})
        await scheduler.start("3", run_immediately=True)
        await clock.aadvance(50)
        stats = await scheduler.get_stats()
        await scheduler.stop()
        return stats

    stats = run(main)
    assert peak == 1
    # Runs at 0, 21 and 42 (the first tick after each run); the ticks at 3..18, 24..39 and 45, 48
    # fell during a run and were skipped.
    assert starts == [0.0, 21.0, 42.0]
    assert stats["skipped_ticks"] == 6 + 6 + 2 and stats["successful_executions"] == 2


@pytest.mark.timeout(10)
def test_run_now_runs_once_and_does_not_stack() -> None:
    async def main() -> tuple[Gated, dict[str, Any]]:
        agent = Gated()
        scheduler = AsyncAgentScheduler(agent, "t")
        assert await scheduler.run_now() is False  # not running
        await scheduler.start("600")
        assert await scheduler.run_now() is True
        await agent.entered.wait()
        await scheduler.run_now()  # in flight: counted, not stacked
        assert (await scheduler.get_stats())["skipped_ticks"] == 1
        agent.gate.set()
        await agent.left.wait()
        stats = await scheduler.get_stats()
        await scheduler.stop()
        return agent, stats

    agent, stats = run(main)
    assert agent.started == 1
    assert stats["skipped_ticks"] == 1 and stats["successful_executions"] == 1


@pytest.mark.timeout(10)
def test_get_stats_is_answered_while_a_run_is_in_flight() -> None:
    async def main() -> None:
        agent = Gated()  # the run lasts until the gate opens, which happens after the answer
        scheduler = AsyncAgentScheduler(agent, "t", config={"stop_timeout": 0})
        await scheduler.start("60", run_immediately=True)
        await agent.entered.wait()
        stats = await scheduler.get_stats()
        assert agent.finished == 0
        assert stats["state"] == "running" and stats["total_attempts"] == 1
        agent.gate.set()
        await scheduler.stop()

    run(main)


@pytest.mark.timeout(10)
def test_raising_callbacks_are_logged_and_never_stop_the_schedule(caplog: pytest.LogCaptureFixture) -> None:
    clock = VirtualClock()
    agent = Recorder(clock=clock)

    def bad_sync(result: str) -> None:
        raise ValueError("sync callback bug")

    async def bad_async(error: BaseException) -> None:
        raise ValueError("async callback bug")

    async def main() -> dict[str, Any]:
        scheduler = AsyncAgentScheduler(agent, "t", config={"clock": clock}, on_success=bad_sync,
                                        on_failure=bad_async)
        await scheduler.start("5", max_retries=1, run_immediately=True)
        await clock.aadvance(10)
        stats = await scheduler.get_stats()
        await scheduler.stop()
        return stats

    agent.fail_first = 1  # the first run fails (async callback), the next two succeed (sync one)
    with caplog.at_level(logging.ERROR, logger="actors"):
        stats = run(main)
    assert agent.calls == [0.0, 5.0, 10.0]  # every callback raised, the schedule went on
    assert stats["is_running"] is True and stats["successful_executions"] == 2 and stats["failed_executions"] == 1
    logged = sorted(str(r.exc_info[1]) for r in caplog.records if r.exc_info is not None)
    assert logged == ["async callback bug", "sync callback bug", "sync callback bug"]


@pytest.mark.timeout(10)
def test_runtime_seconds_is_frozen_at_stop() -> None:
    async def main() -> None:
        clock = VirtualClock()
        scheduler = AsyncAgentScheduler(Recorder(clock=clock), "t", config={"clock": clock})
        await scheduler.start("60")
        await clock.aadvance(90)
        assert (await scheduler.get_stats())["runtime_seconds"] == 90.0
        await scheduler.stop()
        await clock.aadvance(600)
        assert (await scheduler.get_stats())["runtime_seconds"] == 90.0

    run(main)


@pytest.mark.timeout(10)
def test_hourly_counts_from_start_and_at_hourly_aligns_to_the_clock() -> None:
    clock = VirtualClock(datetime(2026, 1, 5, 10, 17, 30, tzinfo=UTC))
    t0 = clock.now()

    async def main() -> tuple[dict[str, Any], dict[str, Any]]:
        config = {"timezone": "UTC", "clock": clock}
        interval = AsyncAgentScheduler(Recorder(), "t", config=config)
        aligned = AsyncAgentScheduler(Recorder(), "t", config=config)
        await interval.start("hourly")
        await aligned.start("@hourly")
        stats = (await interval.get_stats(), await aligned.get_stats())
        await interval.stop()
        await aligned.stop()
        return stats

    hourly, at_hourly = run(main)
    assert hourly["next_run_at"] == t0 + 3600                                   # 11:17:30
    assert at_hourly["next_run_at"] == datetime(2026, 1, 5, 11, tzinfo=UTC).timestamp()
