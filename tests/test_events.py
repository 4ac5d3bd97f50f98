"""system.subscribe(fn): what a subscriber sees, on which thread or loop, and that it never hurts an agent."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

from actors import ActorSystem, GetStats, Pause, Resume, RunNow, Start
from actors.agent_actor import InjectFault
from actors.events import (
    AgentCrashed, AgentPaused, AgentRestarted, AttemptFailed, DeadLetter, Event, RunFinished, RunStarted,
    TickMissed, TickSkipped,
)
from actors.history import RunOutcome
from actors.testing import VirtualClock
from tests.conftest import run


class FailsEveryOther:
    """Raises on its 1st, 3rd, ... call: each execution fails once, then succeeds on its retry."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, task: str) -> str:
        self.calls += 1
        if self.calls % 2:
            raise RuntimeError(f"boom {self.calls}")
        return f"ok {self.calls}"


FAST_RETRY = {"backoff": {"initial": 1.0, "factor": 1.0, "cap": 1.0, "jitter": 0.0}}


def kinds(events: list[Event]) -> list[str]:
    return [type(e).__name__ for e in events]


@pytest.mark.timeout(10)
def test_a_subscriber_sees_runs_attempts_pause_and_resume_in_order_once_advance_returns() -> None:
    clock = VirtualClock()
    seen: list[Event] = []
    with ActorSystem(clock=clock) as system:
        system.subscribe(seen.append)
        ref = system.spawn(FailsEveryOther(), "t", name="flaky", config=FAST_RETRY)
        ref.tell(Start("every 10s"))
        clock.advance(11)  # the tick at 10 s: attempt 1 fails, its retry at 11 s succeeds
        assert kinds(seen) == ["RunStarted", "AttemptFailed", "RunFinished"]  # delivered by now
        started, failed, finished = seen
        assert isinstance(started, RunStarted) and started.agent == "flaky" and started.lateness_ms == 0.0
        assert isinstance(failed, AttemptFailed) and failed.will_retry and failed.attempt == 1
        assert failed.error == "RuntimeError('boom 1')" and failed.run_id == started.run_id
        assert isinstance(finished, RunFinished) and finished.outcome is RunOutcome.SUCCEEDED
        assert finished.attempts == 2 and finished.duration_s == pytest.approx(1.0) and finished.result == "'ok 2'"
        assert finished.at - started.at == pytest.approx(1.0)  # the virtual clock's time
        history = ref.ask(GetStats())
        assert history["successful_executions"] == 1
        seen.clear()
        ref.ask(Pause("maintenance"))
        clock.advance(35)  # three ticks fall while paused
        ref.ask(Resume())
        clock.advance(0)
    assert kinds(seen) == ["AgentPaused", "TickMissed", "AgentResumed"]
    paused, missed, _ = seen
    assert isinstance(paused, AgentPaused) and paused.reason == "maintenance"
    assert isinstance(missed, TickMissed) and missed.count == 3


@pytest.mark.timeout(10)
def test_the_same_sequence_twice_gives_the_same_events() -> None:
    def once() -> list[tuple[Any, ...]]:
        clock = VirtualClock()
        seen: list[Event] = []
        with ActorSystem(clock=clock) as system:
            system.subscribe(seen.append)
            system.spawn(FailsEveryOther(), "t", name="a", config=FAST_RETRY).tell(Start("every 5s", max_retries=1))
            clock.advance(30)
        start = seen[0].at
        return [(type(e).__name__, e.agent, round(e.at - start, 6)) for e in seen]

    first = once()
    assert first == once()
    assert len(first) == 6 * 2 + 3  # six runs (RunStarted, RunFinished), three failed once (AttemptFailed)


@pytest.mark.timeout(10)
def test_skipped_ticks_of_a_long_run_are_an_event() -> None:
    clock = VirtualClock()
    seen: list[Event] = []

    def slow(task: str) -> None:
        clock.sleep(25)  # spans two more ticks of the 10 s schedule

    with ActorSystem(clock=clock) as system:
        system.subscribe(seen.append)
        system.spawn(slow, "t", name="slow").tell(Start("every 10s", run_immediately=True))
        clock.advance(26)
    skipped = [e for e in seen if isinstance(e, TickSkipped)]
    assert [e.count for e in skipped] == [1, 1] and all(e.agent == "slow" for e in skipped)


@pytest.mark.timeout(10)
def test_crashes_restarts_and_dead_letters_are_events() -> None:
    clock = VirtualClock()
    seen: list[Event] = []
    with ActorSystem(config={"max_restarts": 1, "restart_window": 60}, clock=clock) as system:
        system.subscribe(seen.append)
        ref = system.spawn(lambda task: None, "t", name="fragile")
        ref.tell(Start("every 10s"))
        for i in range(2):
            ref._binding.post(InjectFault(RuntimeError(f"crash {i}")))  # type: ignore[union-attr]
        clock.advance(0)
        ref.tell(RunNow())  # to a dead agent
        clock.advance(0)
    assert kinds(seen) == ["AgentCrashed", "AgentRestarted", "AgentCrashed", "DeadLetter"]
    first, restarted, second, letter = seen
    assert isinstance(first, AgentCrashed) and not first.gave_up and "crash 0" in first.error
    assert isinstance(restarted, AgentRestarted) and restarted.restarts == 1
    assert isinstance(second, AgentCrashed) and second.gave_up
    assert isinstance(letter, DeadLetter) and letter.agent == "fragile" and "RunNow" in letter.message


@pytest.mark.timeout(10)
def test_a_failing_subscriber_is_logged_and_hurts_neither_the_agent_nor_other_subscribers(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = VirtualClock()
    seen: list[Event] = []

    def broken(event: Event) -> None:
        raise ValueError("subscriber bug")

    with caplog.at_level(logging.ERROR, logger="actors"), ActorSystem(clock=clock) as system:
        system.subscribe(broken)
        system.subscribe(seen.append)
        ref = system.spawn(lambda task: "fine", "t", name="a")
        ref.tell(Start("every 10s"))
        clock.advance(30)
        stats = ref.ask(GetStats())
    assert stats["successful_executions"] == 3
    assert kinds(seen).count("RunFinished") == 3
    assert "subscriber bug" in caplog.text


@pytest.mark.timeout(10)
def test_unsubscribe_stops_delivery_and_may_be_called_twice() -> None:
    clock = VirtualClock()
    seen: list[Event] = []
    with ActorSystem(clock=clock) as system:
        unsubscribe = system.subscribe(seen.append)
        ref = system.spawn(lambda task: None, "t", name="a")
        ref.tell(Start("every 10s"))
        clock.advance(10)
        assert kinds(seen) == ["RunStarted", "RunFinished"]
        unsubscribe()
        unsubscribe()
        clock.advance(30)
    assert len(seen) == 2


@pytest.mark.timeout(10)
def test_an_async_subscriber_runs_on_the_loop_it_subscribed_from() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        finished: asyncio.Queue[RunFinished] = asyncio.Queue()
        loops: list[asyncio.AbstractEventLoop] = []

        async def on_event(event: Event) -> None:
            loops.append(asyncio.get_running_loop())
            if isinstance(event, RunFinished):
                finished.put_nowait(event)  # only safe on its own loop

        async with ActorSystem() as system:
            system.subscribe(on_event)
            ref = system.spawn(lambda task: 42, "t", name="answer")
            await ref.ask_async(Start("every 1h", run_immediately=True))
            event = await asyncio.wait_for(finished.get(), 5)
        assert event.agent == "answer" and event.outcome is RunOutcome.SUCCEEDED and event.result == "42"
        assert loops and all(lp is loop for lp in loops)

    run(main)


@pytest.mark.timeout(10)
def test_a_sync_subscriber_never_runs_on_the_agent_thread_and_shutdown_delivers_the_rest() -> None:
    threads: set[str] = set()
    agent_threads: set[str] = set()
    finished = threading.Event()
    seen: list[Event] = []

    def agent(task: str) -> None:
        agent_threads.add(threading.current_thread().name)

    def subscriber(event: Event) -> None:
        threads.add(threading.current_thread().name)
        seen.append(event)
        if isinstance(event, RunFinished):
            finished.set()

    system = ActorSystem()
    system.subscribe(subscriber)
    system.spawn(agent, "t", name="a").tell(Start("every 1h", run_immediately=True))
    assert finished.wait(5)
    final = system.shutdown()
    assert threads == {"actorsched-events"} and not threads & agent_threads
    assert final["a"]["successful_executions"] == 1
    assert kinds(seen) == ["RunStarted", "RunFinished"]


def test_subscribe_refuses_what_it_cannot_call() -> None:
    with pytest.raises(TypeError, match="subscriber must be callable, not int"):
        ActorSystem().subscribe(3)  # type: ignore[arg-type]
