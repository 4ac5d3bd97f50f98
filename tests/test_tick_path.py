"""Where an agent's mailbox and timers are served (issue 10): an async agent's on its own
loop, a sync agent's on a dispatcher worker."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from actors import ActorSystem, AgentScheduler, AsyncAgentScheduler, GetStats, Start
from actors.testing import VirtualClock


@pytest.mark.timeout(20)
def test_an_async_callback_on_the_agents_loop_can_read_the_stats_synchronously() -> None:
    # The mailbox is served on the scheduler's loop thread, which runs this callback: asking
    # there would wait on itself, so the stats are read directly.
    seen: list[dict[str, Any]] = []
    done = threading.Event()

    async def agent(task: str) -> str:
        return task

    async def on_success(value: str) -> None:
        seen.append(scheduler.get_stats())
        done.set()

    with AgentScheduler(agent, "t", on_success=on_success) as scheduler:
        scheduler.start("hourly", run_immediately=True)
        assert done.wait(10)
    assert seen[0]["successful_executions"] == 1 and seen[0]["state"] == "idle"


@pytest.mark.timeout(20)
def test_a_sync_agent_runs_no_more_once_its_loop_closed_without_a_stop() -> None:
    # Its timers live on a dispatcher worker, not on the loop: they must still end with it.
    clock = VirtualClock()
    calls: list[float] = []
    scheduler = AsyncAgentScheduler(lambda task: calls.append(clock.monotonic()), "t", config={"clock": clock})

    async def main() -> None:
        await scheduler.start("every 1s", run_immediately=True)
        await clock.aadvance(2)

    asyncio.run(main())
    clock.advance(10)
    assert calls == [0.0, 1.0, 2.0]
    assert asyncio.run(scheduler.get_stats())["state"] == "stopped"
    assert asyncio.run(scheduler.stop()) is True


def test_a_cancelled_timer_is_no_wake_up_a_report_may_wait_for() -> None:
    # A run's report skips waking its worker only if a live timer wakes it within 2 ms: a
    # cancelled one must not count, or the report would wait for a wake-up that never comes.
    from actors._timed_inbox import TimedInbox

    inbox = TimedInbox()
    soon = inbox.call_at(time.monotonic() + 0.001, lambda: None)
    inbox.call_at(time.monotonic() + 3600, lambda: None)
    assert inbox.wakes_within(0.002)
    soon.cancel()
    assert not inbox.wakes_within(0.002)
    inbox.close()


@pytest.mark.timeout(20)
def test_a_sync_agents_report_is_handled_while_its_worker_has_timers_coming() -> None:
    # A run's report may wait for the worker's next timer instead of waking it: the run is
    # still counted and its callback still called, and a GetStats after that sees it.
    succeeded = threading.Event()
    with ActorSystem() as system:
        ref = system.spawn(lambda task: task, task="t", name="s", on_success=lambda _: succeeded.set())
        others = [system.spawn(lambda task: None, task="t", name=f"o{i}") for i in range(50)]
        for other in others:
            other.tell(Start("0.005"))  # keep the workers' timers coming
        ref.tell(Start("hourly", run_immediately=True))
        assert succeeded.wait(5)
        stats = ref.ask(GetStats(), timeout=5)
    assert stats["successful_executions"] == 1 and stats["state"] == "idle"


class _Target:
    def __init__(self, name: str, fired: list[str]) -> None:
        self.name, self.fired = name, fired

    def fire_tick(self) -> None:
        self.fired.append(self.name)


def test_pending_ticks_fire_in_time_order_and_a_cancelled_one_never_fires() -> None:
    from actors._tick_heap import TickHeap

    fired: list[str] = []
    heap = TickHeap()
    later = heap.push(2.0, _Target("later", fired))
    heap.push(1.0, _Target("first", fired))
    heap.push(1.0, _Target("second", fired))  # same time: in the order armed
    gone = heap.push(0.5, _Target("cancelled", fired))
    heap.cancel(gone)
    heap.cancel(gone)  # twice is harmless
    assert heap.earliest() == 1.0 and len(heap) == 3
    for target in heap.pop_due(1.5):
        target.fire_tick()
    assert fired == ["first", "second"]
    heap.cancel(later)
    assert heap.earliest() is None and heap.pop_due(10.0) == []


def test_a_waiting_tick_is_nothing_the_garbage_collector_scans() -> None:
    # The reason the heap exists: a tick pending for its whole interval must not be promoted
    # to the oldest generation, whose growth triggers the full passes that stall every agent.
    import gc

    from actors._tick_heap import TickHeap

    heap, fired = TickHeap(), []
    targets = [_Target(str(i), fired) for i in range(1000)]
    for i, target in enumerate(targets):
        heap.push(float(i), target)
    gc.collect()
    assert not any(gc.is_tracked(entry) for entry in heap._heap)


def test_a_bulk_cancel_does_not_keep_the_heap_growing() -> None:
    from actors._tick_heap import TickHeap

    heap, fired = TickHeap(), []
    target = _Target("t", fired)
    for _ in range(20):  # 20 bulk stops of 1,000 agents, each re-armed afterwards
        for seq in [heap.push(3600.0, target) for _ in range(1000)]:
            heap.cancel(seq)
    assert len(heap._heap) < 6000 and len(heap) == 0


def test_ticks_on_a_loop_fire_through_one_timer_and_stop_with_the_loop_driver() -> None:
    from actors._tick_heap import LoopTicks

    fired: list[str] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        ticks = LoopTicks(loop)
        done = loop.create_future()

        class Last(_Target):
            def fire_tick(self) -> None:
                super().fire_tick()
                done.set_result(None)

        now = loop.time()
        ticks.push(now + 0.02, Last("c", fired))
        ticks.push(now + 0.01, _Target("b", fired))
        ticks.cancel(ticks.push(now + 0.005, _Target("x", fired)))
        ticks.push(now, _Target("a", fired))
        await asyncio.wait_for(done, 5)
        ticks.push(loop.time() + 3600, _Target("never", fired))
        ticks.close()  # the pending loop timer goes with it: asyncio.run ends at once

    asyncio.run(main())
    assert fired == ["a", "b", "c"]


def test_a_burst_of_due_ticks_fires_every_one_once_in_turns_with_the_runs_they_start() -> None:
    # 10,000 agents due at once: the loop fires them in turns, and what each turn started
    # (here a call_soon standing for the run's task) runs before the next turn fires, so the
    # runs of a burst do not all wait, alive, behind the last tick of it.
    from actors._tick_heap import LoopTicks

    order: list[str] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        ticks = LoopTicks(loop)
        done = loop.create_future()
        count = 500

        class Starter(_Target):
            def fire_tick(self) -> None:
                order.append("tick")
                loop.call_soon(order.append, "run")
                if order.count("tick") == count:
                    loop.call_soon(done.set_result, None)

        due = loop.time()
        for i in range(count):
            ticks.push(due, Starter(str(i), []))
        await asyncio.wait_for(done, 5)
        ticks.close()

    asyncio.run(main())
    assert order.count("tick") == 500 and order.count("run") == 500
    first_run = order.index("run")
    assert 0 < first_run < 500 and order[first_run - 1] == "tick"  # runs began before the last tick fired


def test_a_loop_tick_armed_early_against_the_epoll_rounding_never_fires_before_its_due_time() -> None:
    # The loop timer is armed up to 1 ms ahead of a tick and the rest slept: a tick may be
    # late, never early, whether the loop is idle (it sleeps) or has work ready (it re-arms).
    from actors._tick_heap import LoopTicks

    early: list[float] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        ticks = LoopTicks(loop)
        done = loop.create_future()

        class Timed(_Target):
            def __init__(self, due: float, last: bool) -> None:
                super().__init__("t", [])
                self.due, self.last = due, last

            def fire_tick(self) -> None:
                early.append(self.due - loop.time())
                if self.last:
                    done.set_result(None)

        def busy(until: float) -> None:  # other ready work on the loop every iteration
            if loop.time() < until:
                loop.call_soon(busy, until)

        start = loop.time()
        for i in range(40):
            ticks.push(start + 0.002 + i * 0.0015, Timed(start + 0.002 + i * 0.0015, i == 39))
        loop.call_soon(busy, start + 0.03)  # the first half fires next to ready work
        await asyncio.wait_for(done, 5)
        ticks.close()

    asyncio.run(main())
    resolution = time.get_clock_info("monotonic").resolution
    assert len(early) == 40 and max(early) <= resolution


def test_a_host_that_wakes_early_for_a_tick_never_arms_the_same_tick_again() -> None:
    # The heap's deadline is converted from the agent's clock; a thread preempted between the
    # two reads armed it a few ms early, and the fire then re-armed the very same due time:
    # two runs of one tick (seen under load on the 4-process store benchmark).
    from actors._clock import REAL_CLOCK
    from actors._timed_inbox import TimedInbox
    from actors._timers import AgentTimers
    from actors.schedule import parse_schedule

    inbox = TimedInbox()
    posted: list[Any] = []
    timers = AgentTimers(inbox, inbox.ticks, posted.append, REAL_CLOCK)
    timers.start_ticks(1, parse_schedule("every 10s"), time.monotonic())
    first = timers.next_tick_due()
    assert first is not None
    timers.fire_tick()  # the host woke ~10 s early
    assert [tick.due for tick in posted] == [first]
    assert timers.next_tick_due() == pytest.approx(first + 10.0)
    inbox.close()
