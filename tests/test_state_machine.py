"""Hypothesis stateful test: random start / stop / run-now / get_stats sequences on both
schedulers keep the stats invariants, answer as the model predicts, and leak nothing."""

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

from actors import ActorSystem, AgentScheduler, AsyncAgentScheduler, GetStats, RunNow, Start, Stop

T = TypeVar("T")
CONFIG = {"backoff": {"initial": 0.005, "factor": 2, "cap": 0.02, "jitter": 0.5}, "stop_timeout": 0.3}
SCHEDULES = st.sampled_from(["0.01", "0.02", "*/0.05s", "every 0.03 seconds"])


class FlakyAgent:
    """Fails every third call; takes a few milliseconds. Has both kinds of entry point."""

    def __init__(self) -> None:
        self._n = itertools.count(1)

    def _outcome(self) -> str:
        if next(self._n) % 3 == 0:
            raise RuntimeError("flaky")
        return "ok"

    def run(self, task: str) -> str:
        time.sleep(0.002)
        return self._outcome()

    async def arun(self, task: str) -> str:
        await asyncio.sleep(0.002)
        return self._outcome()


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
    while time.monotonic() < deadline:
        leaked = [t for t in threading.enumerate() if t not in before]
        if not leaked:
            return
        time.sleep(0.01)
    assert not leaked, [t.name for t in leaked]


class SchedulerMachine(RuleBasedStateMachine):
    """Model: the scheduler is running iff the last successful start was not followed by a stop."""

    use_async = False

    def __init__(self) -> None:
        super().__init__()
        self.threads_before = set(threading.enumerate())
        self.running = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self.loop_thread: threading.Thread | None = None
        if self.use_async:
            self.loop = asyncio.new_event_loop()
            self.loop_thread = threading.Thread(target=self.loop.run_forever, name="test-loop")
            self.loop_thread.start()
            self.scheduler: Any = AsyncAgentScheduler(FlakyAgent(), "t", config=CONFIG)
        else:
            self.scheduler = AgentScheduler(FlakyAgent(), "t", config=CONFIG)

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
        self.running = True

    @rule()
    def stop(self) -> None:
        assert self.call(self.scheduler.stop()) is True
        self.running = False
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
        check_counts(stats, settled=not self.running)

    @rule(seconds=st.sampled_from([0.0, 0.01, 0.03]))
    def let_time_pass(self, seconds: float) -> None:
        time.sleep(seconds)

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

    agent: Any = FlakyAgent().run

    def __init__(self) -> None:
        super().__init__()
        self.threads_before = set(threading.enumerate())
        self.system = ActorSystem()
        self.ref = self.system.spawn(type(self).agent, task="t", name="x", config=CONFIG)
        self.running = False

    @rule(expr=SCHEDULES, now=st.booleans())
    def tell_start(self, expr: str, now: bool) -> None:
        self.ref.tell(Start(expr, max_retries=2, run_immediately=now))
        self.running = True

    @rule()
    def tell_stop(self) -> None:
        self.ref.tell(Stop())
        self.running = False

    @rule()
    def tell_run_now(self) -> None:
        self.ref.tell(RunNow())

    @rule(expr=SCHEDULES)
    def ask_start(self, expr: str) -> None:
        assert self.ref.ask(Start(expr), timeout=10) is (not self.running)
        self.running = True

    @rule()
    def ask_stop(self) -> None:
        final = self.ref.ask(Stop(), timeout=10)
        assert final["is_running"] is False
        self.running = False
        stats = self.ref.ask(GetStats(), timeout=10)
        assert stats["is_running"] is False and stats["state"] == "stopped"
        check_counts(stats, settled=True)

    @rule(seconds=st.sampled_from([0.0, 0.01, 0.03]))
    def let_time_pass(self, seconds: float) -> None:
        time.sleep(seconds)

    def teardown(self) -> None:
        final = self.system.shutdown(5)["x"]
        assert final["is_running"] is False
        check_counts(final, settled=True)
        assert_no_thread_left(self.threads_before)


class AsyncAgentSystemMachine(SystemMachine):
    agent = FlakyAgent().arun


@pytest.mark.timeout(120)
def test_system_messages_in_order_state_machine() -> None:
    run_state_machine_as_test(SystemMachine, settings=MACHINE_SETTINGS)


@pytest.mark.timeout(120)
def test_system_messages_in_order_state_machine_async_agent() -> None:
    run_state_machine_as_test(AsyncAgentSystemMachine, settings=MACHINE_SETTINGS)
