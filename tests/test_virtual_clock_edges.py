"""VirtualClock edges found by a second black-box review: nothing may wedge the clock, leak a
thread or block a test for good."""

from __future__ import annotations

import asyncio
import threading
from datetime import tzinfo


import pytest
from conftest import run

from actors import ActorSystem, AgentScheduler, AsyncAgentScheduler, GetStats, Start, Stop
from actors.testing import VirtualClock


@pytest.mark.timeout(20)
def test_ask_stop_lets_virtual_time_pass_for_a_run_that_keeps_sleeping() -> None:
    clock = VirtualClock()

    def agent(task: str) -> None:
        for _ in range(30):
            clock.sleep(1)

    with ActorSystem(clock=clock) as system:
        ref = system.spawn(agent, task="t", name="x", config={"stop_timeout": 5})
        ref.tell(Start("daily", run_immediately=True))
        clock.advance(2)
        final = ref.ask(Stop(), timeout=10)
    assert final["is_running"] is False and final["state"] == "stopped"
    assert clock.monotonic() <= 2 + 5 + 1


@pytest.mark.timeout(20)
def test_two_sleeps_at_once_in_one_run_do_not_wedge_advance() -> None:
    clock = VirtualClock(settle_timeout=5)

    async def fan_out(task: str) -> None:
        await asyncio.gather(clock.asleep(2), clock.asleep(3))

    with ActorSystem(clock=clock) as system:
        ref = system.spawn(fan_out, task="t", name="fan")
        ref.tell(Start("10"))
        clock.advance(15)
        assert ref.ask(GetStats(), timeout=5)["successful_executions"] == 1


@pytest.mark.timeout(30)
def test_advances_from_several_threads_add_up() -> None:
    clock = VirtualClock()
    with ActorSystem(clock=clock) as system:
        ref = system.spawn(lambda task: task, task="t", name="x")
        ref.tell(Start("1"))
        threads = [threading.Thread(target=lambda: [clock.advance(1) for _ in range(25)]) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        assert clock.monotonic() == 100
        assert ref.stats()["successful_executions"] == 100


@pytest.mark.timeout(10)
def test_a_blocking_advance_on_the_agents_loop_or_in_a_run_is_refused() -> None:
    async def main() -> None:
        clock = VirtualClock()
        async with ActorSystem(clock=clock):
            with pytest.raises(RuntimeError, match="aadvance"):
                clock.advance(60)

    run(main)
    clock = VirtualClock()
    errors: list[BaseException] = []

    def agent(task: str) -> None:
        try:
            clock.advance(1)
        except RuntimeError as exc:
            errors.append(exc)

    with AgentScheduler(agent, "t", config={"clock": clock}) as scheduler:
        scheduler.start("daily", run_immediately=True)
        clock.advance(0)
    assert errors and "inside an agent" in str(errors[0])


@pytest.mark.timeout(10)
def test_sleep_zero_returns_at_once_anywhere() -> None:
    clock = VirtualClock()
    clock.sleep(0)
    run(lambda: clock.asleep(0))
    assert clock.monotonic() == 0


@pytest.mark.timeout(20)
def test_stop_and_shutdown_do_not_raise_when_a_run_waits_on_real_time() -> None:
    clock = VirtualClock(settle_timeout=0.2)
    release = threading.Event()
    system = ActorSystem(clock=clock)
    ref = system.spawn(lambda task: release.wait(0.6), task="t", name="real")
    ref.tell(Start("daily", run_immediately=True))
    final = system.shutdown(5)["real"]           # waits the real 0.6 s, never raises
    assert final["is_running"] is False
    scheduler = AgentScheduler(lambda task: release.wait(0.6), "t", config={"clock": clock})
    scheduler.start("daily", run_immediately=True)
    assert scheduler.stop() is True


@pytest.mark.timeout(20)
def test_a_loop_closed_under_a_scheduler_does_not_wedge_its_virtual_clock() -> None:
    clock = VirtualClock(settle_timeout=5)

    async def agent(task: str) -> None:
        return None

    stale = AsyncAgentScheduler(agent, "t", config={"clock": clock})
    asyncio.run(stale.start("5"))                 # the loop ends right after
    assert asyncio.run(stale.stop()) is True
    ran: list[float] = []
    with AgentScheduler(lambda task: ran.append(clock.monotonic()), "t", config={"clock": clock}) as other:
        other.start("10")
        clock.advance(30)
    assert ran == [10.0, 20.0, 30.0]


@pytest.mark.timeout(20)
def test_many_start_stop_cycles_without_advance_do_not_pile_up_timers() -> None:
    clock = VirtualClock()
    scheduler = AgentScheduler(lambda task: task, "t", config={"clock": clock})
    for _ in range(3000):
        scheduler.start("hourly")
        scheduler.stop()
    assert len(clock._timers) < 2048  # cancelled timers are purged as they accumulate


@pytest.mark.timeout(10)
@pytest.mark.parametrize("start", [1e12, 1e20, -1e15])
def test_a_start_outside_the_calendar_is_refused(start: float) -> None:
    with pytest.raises(ValueError, match="start"):
        VirtualClock(start)


class _Broken(tzinfo):
    pass


@pytest.mark.timeout(20)
def test_a_broken_timezone_is_refused_and_a_crashing_restart_never_kills_a_worker() -> None:
    with pytest.raises(ValueError, match="timezone"):
        AgentScheduler(lambda task: task, "t", config={"timezone": _Broken()})
    with pytest.raises(ValueError, match="timezone"):
        AgentScheduler(lambda task: task, "t", config={"timezone": tzinfo()})
    # Neighbours on the same workers keep answering, whatever one actor does.
    with ActorSystem() as first, ActorSystem() as second:
        mine = [first.spawn(lambda task: task, task="t", name=f"n{i}") for i in range(4)]
        others = [second.spawn(lambda task: task, task="t", name=f"o{i}") for i in range(4)]
        for ref in mine + others:
            assert ref.ask(Start("10"), timeout=2) is True
            assert ref.ask(GetStats(), timeout=2)["is_running"] is True


