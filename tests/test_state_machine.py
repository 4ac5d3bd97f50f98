"""Hypothesis stateful test: random start / stop / run-now / get_stats / time-passing sequences
on both schedulers and the system keep the stats invariants, answer as the model predicts, tick
while running, and leak nothing. Time is virtual: the runs take virtual time, and a step that
lets time pass moves the clock, so a sequence means the same thing on a loaded machine."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from actors import (
    ActorSystem, AgentScheduler, AsyncAgentScheduler, GetHistory, GetStats, Pause, Resume, RunNow, Start, Stop,
)
from actors.testing import VirtualClock

T = TypeVar("T")
STOP_TIMEOUT_S = 3.0
# Retries 0.5, 1 and 2 s after a failure (no jitter: the clock is deterministic, so is this).
CONFIG = {"backoff": {"initial": 0.5, "factor": 2, "cap": 2, "jitter": 0}, "stop_timeout": STOP_TIMEOUT_S}
# Each expression form, with the period of its ticks.
PERIODS = {"1": 1.0, "2": 2.0, "*/5s": 5.0, "every 3 seconds": 3.0}
SCHEDULES = st.sampled_from(sorted(PERIODS))
RUN_S = 0.2
# Shorter than, about, and longer than a run (RUN_S), a backoff and a period.
PAUSES = st.sampled_from([0.0, 0.1, 0.3, 1.0, 2.5])


class FlakyAgent:
    """Fails every third call; each run takes RUN_S of virtual time. Has both kinds of entry point."""

    def __init__(self, clock: VirtualClock) -> None:
        self._n = itertools.count(1)
        self._clock = clock

    def _outcome(self) -> str:
        if next(self._n) % 3 == 0:
            raise RuntimeError("flaky")
        return "ok"

    def run(self, task: str) -> str:
        self._clock.sleep(RUN_S)
        return self._outcome()

    async def arun(self, task: str) -> str:
        await self._clock.asleep(RUN_S)
        return self._outcome()


def ticks_seen(stats: dict[str, Any]) -> int:
    """Ticks that reached the agent: each started an execution or was skipped during one."""
    return int(stats["total_attempts"] - stats["retries"] + stats["skipped_ticks"] + stats["missed_ticks"])


def check_history(stats: dict[str, Any], history: list[dict[str, Any]]) -> None:
    """The history and the counters agree (every execution has an entry; 100 are kept)."""
    ended = stats["total_executions"] + stats["cancelled_executions"]
    assert len(history) == min(ended, 100)
    if ended <= 100:
        for outcome, key in (("succeeded", "successful_executions"), ("failed", "failed_executions"),
                             ("cancelled", "cancelled_executions")):
            assert sum(1 for entry in history if entry["outcome"] == outcome) == stats[key]
    assert [e["run_id"] for e in history] == sorted((e["run_id"] for e in history), reverse=True)


def check_counts(stats: dict[str, Any], settled: bool) -> None:
    assert stats["total_executions"] == stats["successful_executions"] + stats["failed_executions"]
    finished = stats["total_executions"]
    expected_rate = 100.0 * stats["successful_executions"] / finished if finished else 0.0
    assert stats["success_rate"] == pytest.approx(expected_rate)
    idle = stats["total_executions"] + stats["cancelled_executions"] + stats["retries"]
    if settled:
        assert stats["total_attempts"] == idle
        assert stats["state"] == "stopped"
    else:  # at most one execution (up to max_retries attempts) can be in flight
        assert idle <= stats["total_attempts"] <= idle + 3


def assert_no_thread_left(before: set[threading.Thread]) -> None:
    """Every thread started since ``before`` ends within a few seconds."""
    deadline = time.monotonic() + 3
    for thread in [t for t in threading.enumerate() if t not in before]:
        thread.join(max(0.0, deadline - time.monotonic()))
    leaked = [t for t in threading.enumerate() if t not in before]
    assert not leaked, [t.name for t in leaked]


class SchedulerMachine(RuleBasedStateMachine):
    """Model: the scheduler is running iff the last successful start was not followed by a stop."""

    use_async = False

    def __init__(self) -> None:
        super().__init__()
        self.threads_before = set(threading.enumerate())
        self.running = False
        self.paused = False
        self.period = 0.0  # of the schedule running, when one is
        self.clock = VirtualClock()
        config = {**CONFIG, "clock": self.clock}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.loop_thread: threading.Thread | None = None
        if self.use_async:
            self.loop = asyncio.new_event_loop()
            self.loop_thread = threading.Thread(target=self.loop.run_forever, name="test-loop")
            self.loop_thread.start()
            self.scheduler: Any = AsyncAgentScheduler(FlakyAgent(self.clock), "t", config=config)
        else:
            self.scheduler = AgentScheduler(FlakyAgent(self.clock), "t", config=config)

    def call(self, value: Coroutine[Any, Any, T] | T) -> T:
        if self.use_async:
            assert self.loop is not None
            return asyncio.run_coroutine_threadsafe(value, self.loop).result(10)  # type: ignore[arg-type]
        return value  # type: ignore[return-value]

    @initialize()
    def nothing_running_yet(self) -> None:
        assert self.call(self.scheduler.get_stats())["is_running"] is False

    @rule(expr=SCHEDULES, max_retries=st.integers(1, 3), now=st.booleans())
    def start(self, expr: str, max_retries: int, now: bool) -> None:
        started = self.call(self.scheduler.start(expr, max_retries=max_retries, run_immediately=now))
        assert started is (not self.running)
        if started:
            self.period = PERIODS[expr]
            self.paused = False
        self.running = True

    @rule()
    def stop(self) -> None:
        assert self.call(self.scheduler.stop()) is True
        self.running = self.paused = False
        stats = self.call(self.scheduler.get_stats())
        assert stats["is_running"] is False and stats["next_run_at"] is None
        check_counts(stats, settled=True)

    @rule()
    def run_now(self) -> None:
        assert self.call(self.scheduler.run_now()) is self.running

    @rule()
    def get_stats(self) -> None:
        stats = self.call(self.scheduler.get_stats())
        assert stats["is_running"] is self.running
        assert (stats["state"] == "paused") is self.paused
        check_counts(stats, settled=not self.running)

    @rule(reason=st.sampled_from(["", "deploy"]))
    def pause(self, reason: str) -> None:
        assert self.call(self.scheduler.pause(reason)) is (self.running and not self.paused)
        self.paused = self.running
        if self.paused:
            assert self.call(self.scheduler.get_stats())["paused_reason"] is not None

    @rule()
    def resume(self) -> None:
        assert self.call(self.scheduler.resume()) is self.paused
        self.paused = False

    @rule(limit=st.sampled_from([1, 5, 100]))
    def get_history(self, limit: int) -> None:
        history = self.call(self.scheduler.get_history(100))
        check_history(self.call(self.scheduler.get_stats()), history)
        assert self.call(self.scheduler.get_history(limit)) == history[:limit]

    @rule(seconds=PAUSES)
    def let_time_pass(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule()
    def let_a_period_pass(self) -> None:
        """A running schedule ticks at least once in any span longer than its period."""
        before = self.call(self.scheduler.get_stats())
        self.clock.advance(1.5 * self.period if self.running else 10.0)
        after = self.call(self.scheduler.get_stats())
        check_history(after, self.call(self.scheduler.get_history(100)))
        if self.running:
            assert ticks_seen(after) > ticks_seen(before)
        else:  # stopped: nothing runs, however long
            assert after["total_attempts"] == before["total_attempts"]

    @invariant()
    def is_running_matches_the_model(self) -> None:
        assert self.scheduler.is_running is self.running

    def teardown(self) -> None:
        self.call(self.scheduler.stop())
        if self.loop is not None and self.loop_thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.loop_thread.join(5)
            self.loop.close()
        assert_no_thread_left(self.threads_before)


class AsyncSchedulerMachine(SchedulerMachine):
    use_async = True


MACHINE_SETTINGS = settings(
    max_examples=40, stateful_step_count=20, deadline=None, suppress_health_check=list(HealthCheck)
)


@pytest.mark.timeout(120)
def test_sync_scheduler_state_machine() -> None:
    run_state_machine_as_test(SchedulerMachine, settings=MACHINE_SETTINGS)


@pytest.mark.timeout(120)
def test_async_scheduler_state_machine() -> None:
    run_state_machine_as_test(AsyncSchedulerMachine, settings=MACHINE_SETTINGS)


class SystemMachine(RuleBasedStateMachine):
    """Told messages take effect in order: a model of "running" driven by Start and Stop alone
    predicts every ask, however the tells interleave with stops still in progress."""

    use_async_agent = False

    def __init__(self) -> None:
        super().__init__()
        self.threads_before = set(threading.enumerate())
        self.clock = VirtualClock()
        self.system = ActorSystem(clock=self.clock)
        agent = FlakyAgent(self.clock)
        self.ref = self.system.spawn(agent.arun if self.use_async_agent else agent.run, task="t", name="x",
                                     config=CONFIG)
        self.running = False
        self.paused = False
        self.period = 0.0

    def ask(self, message: Any) -> Any:
        """``ref.ask`` in virtual time: a Stop (or a Start queued behind one) waits for the run in
        flight, and a run that sleeps on in spite of the stop ends only as virtual time passes
        (its stop deadline at the latest); ``ask`` alone waits in real time and moves no clock."""
        answer = self.ref.ask_future(message)
        self.clock.run_until(answer.done, STOP_TIMEOUT_S + 1)
        return answer.result(10)

    def started(self, expr: str) -> None:
        """A Start took effect (the model says it is not running when it arrives)."""
        if not self.running:
            self.period = PERIODS[expr]
            self.paused = False
        self.running = True

    @rule(expr=SCHEDULES, now=st.booleans())
    def tell_start(self, expr: str, now: bool) -> None:
        self.ref.tell(Start(expr, max_retries=2, run_immediately=now))
        self.started(expr)

    @rule()
    def tell_stop(self) -> None:
        self.ref.tell(Stop())
        self.running = self.paused = False

    @rule()
    def tell_run_now(self) -> None:
        self.ref.tell(RunNow())

    @rule(expr=SCHEDULES)
    def ask_start(self, expr: str) -> None:
        assert self.ask(Start(expr)) is (not self.running)
        self.started(expr)

    @rule()
    def ask_stop(self) -> None:
        final = self.ask(Stop())
        assert final["is_running"] is False
        self.running = self.paused = False
        stats = self.ask(GetStats())
        assert stats["is_running"] is False and stats["state"] == "stopped"
        check_counts(stats, settled=True)

    @rule()
    def ask_pause(self) -> None:
        assert self.ask(Pause("drill")) is (self.running and not self.paused)
        self.paused = self.running

    @rule()
    def ask_resume(self) -> None:
        assert self.ask(Resume()) is self.paused
        self.paused = False

    @rule()
    def ask_history(self) -> None:
        before = self.ask(GetStats())
        history = self.ask(GetHistory(100))
        after = self.ask(GetStats())
        ended = ("total_executions", "cancelled_executions")
        if all(before[key] == after[key] for key in ended):  # no run ended between the asks
            check_history(after, history)

    @rule(seconds=PAUSES)
    def let_time_pass(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule()
    def let_a_period_pass(self) -> None:
        """Once every told message took effect, a running schedule ticks within a period."""
        self.clock.advance(0)  # the tells are handled (and a Stop among them has finished)
        before = self.ask(GetStats())
        assert before["is_running"] is self.running
        self.clock.advance(1.5 * self.period if self.running else 10.0)
        after = self.ask(GetStats())
        if self.running:
            assert ticks_seen(after) > ticks_seen(before)
        else:
            assert after["total_attempts"] == before["total_attempts"]

    def teardown(self) -> None:
        final = self.system.shutdown(5)["x"]
        assert final["is_running"] is False
        check_counts(final, settled=True)
        assert_no_thread_left(self.threads_before)


class AsyncAgentSystemMachine(SystemMachine):
    use_async_agent = True


@pytest.mark.timeout(120)
def test_system_messages_in_order_state_machine() -> None:
    run_state_machine_as_test(SystemMachine, settings=MACHINE_SETTINGS)


@pytest.mark.timeout(120)
def test_system_messages_in_order_state_machine_async_agent() -> None:
    run_state_machine_as_test(AsyncAgentSystemMachine, settings=MACHINE_SETTINGS)
