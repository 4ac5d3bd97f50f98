"""actors.testing.VirtualClock: schedules tested in virtual time, with both schedulers, plain
and ``async with`` systems and mixed pools; nothing here waits for a schedule in real time."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import run

from actors import ActorSystem, AgentScheduler, ArgumentTypeError, AsyncAgentScheduler, GetStats, Start, Stop
from actors.testing import VirtualClock

WEEK = 7 * 24 * 3600
NO_JITTER = {"initial": 5, "factor": 2, "cap": 300, "jitter": 0}


@pytest.mark.timeout(20)
def test_an_hourly_agent_runs_168_times_in_a_virtual_week() -> None:
    clock = VirtualClock(datetime(2026, 1, 5, tzinfo=timezone.utc))
    at: list[float] = []
    with ActorSystem(clock=clock) as system:
        ref = system.spawn(lambda task: at.append(clock.now()), task="t", name="hourly")
        ref.tell(Start("hourly"))
        clock.advance(WEEK)
        stats = ref.stats()
    assert stats["successful_executions"] == len(at) == 168
    assert at[0] == clock.now() - WEEK + 3600 and at[-1] == clock.now()
    assert stats["runtime_seconds"] == WEEK and stats["last_run_at"] == at[-1]
    assert stats["last_lateness_ms"] == 0.0


@pytest.mark.timeout(20)
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_retries_with_backoff_then_on_failure_once(kind: str) -> None:
    failures: list[BaseException] = []

    def sync_agent(task: str) -> None:
        raise ConnectionError("model API down")

    async def async_agent(task: str) -> None:
        raise ConnectionError("model API down")

    clock = VirtualClock()
    agent = sync_agent if kind == "sync" else async_agent
    scheduler = AgentScheduler(agent, "t", config={"clock": clock, "backoff": NO_JITTER}, on_failure=failures.append)
    scheduler.start("daily", max_retries=3, run_immediately=True)
    clock.advance(0)
    assert scheduler.get_stats()["total_attempts"] == 1 and scheduler.get_stats()["state"] == "backing_off"
    clock.advance(4.999)
    assert scheduler.get_stats()["total_attempts"] == 1       # the first backoff is 5 s
    clock.advance(0.001)
    assert scheduler.get_stats()["total_attempts"] == 2
    clock.advance(10)                                          # then 10 s
    stats = scheduler.get_stats()
    assert stats["total_attempts"] == 3 and stats["failed_executions"] == 1 and stats["state"] == "idle"
    assert len(failures) == 1 and isinstance(failures[0], ConnectionError)
    assert stats["next_run_at"] == clock.now() - 15 + 86400
    scheduler.stop()


@pytest.mark.timeout(20)
def test_async_scheduler_with_aadvance() -> None:
    async def main() -> dict[str, Any]:
        clock = VirtualClock()
        calls: list[float] = []

        async def agent(task: str) -> None:
            calls.append(clock.monotonic())

        scheduler = AsyncAgentScheduler(agent, "t", config={"clock": clock})
        await scheduler.start("every 5 minutes")
        await clock.aadvance(3600)
        await scheduler.stop()
        stats = await scheduler.get_stats()
        stats["calls"] = calls
        return stats

    stats = run(main)
    assert stats["calls"] == [300.0 * k for k in range(1, 13)] and stats["successful_executions"] == 12


@pytest.mark.timeout(20)
@pytest.mark.parametrize("mode", ["plain", "async with"])
def test_a_mixed_pool_in_virtual_time(mode: str) -> None:
    seen: list[tuple[str, float]] = []
    clock = VirtualClock()

    def sync_agent(task: str) -> None:
        seen.append(("sync", clock.monotonic()))

    async def async_agent(task: str) -> None:
        seen.append(("async", clock.monotonic()))

    def check(stats: dict[str, Any]) -> None:
        assert stats["total"]["successful_executions"] == 20
        assert sorted(seen) == sorted([("sync", 6.0 * k) for k in range(1, 11)]
                                      + [("async", 6.0 * k) for k in range(1, 11)])

    if mode == "plain":
        with ActorSystem(clock=clock) as system:
            pool = system.pool([sync_agent, async_agent], task="t")
            pool.tell(Start("every 6s"))
            clock.advance(60)
            check(pool.stats())
        return

    async def main() -> None:
        async with ActorSystem(clock=clock) as system:
            pool = system.pool([sync_agent, async_agent], task="t")
            pool.tell(Start("every 6s"))
            await clock.aadvance(60)
            check(await pool.astats())

    run(main)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("day", ["2026-03-29", "2026-10-25"], ids=["spring-forward", "fall-back"])
def test_cron_across_a_dst_change_in_a_virtual_day(day: str) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime.fromisoformat(day).replace(hour=0, tzinfo=berlin) - timedelta(days=1)
    clock = VirtualClock(start)
    fired: list[str] = []
    with AgentScheduler(lambda task: fired.append(datetime.fromtimestamp(clock.now(), berlin).strftime("%d %H:%M %Z")),
                        "t", config={"clock": clock, "timezone": "Europe/Berlin"}) as scheduler:
        scheduler.start("cron:30 1 * * *")     # 01:30 exists once on both change days
        clock.advance(3 * 86400)
    assert len(fired) == 3 and all(f.split()[1] == "01:30" for f in fired), fired


def _story(clock: VirtualClock) -> list[tuple[str, float, str]]:
    """A mixed, failing, overlapping scenario; returns what happened when, in virtual time."""
    log: list[tuple[str, float, str]] = []
    counter = iter(range(1000))

    def flaky(task: str) -> str:
        n = next(counter)
        log.append(("flaky", clock.monotonic(), "call"))
        if n % 3 == 0:
            raise RuntimeError(f"flaky {n}")
        return "ok"

    async def slow(task: str) -> None:
        log.append(("slow", clock.monotonic(), "start"))
        await clock.asleep(25)
        log.append(("slow", clock.monotonic(), "end"))

    with ActorSystem(clock=clock) as system:
        a = system.spawn(flaky, task="t", name="flaky", config={"backoff": NO_JITTER},
                         on_failure=lambda e: log.append(("flaky", clock.monotonic(), repr(e))))
        b = system.spawn(slow, task="t", name="slow")
        a.tell(Start("every 7s", max_retries=2))
        b.tell(Start("10"))
        clock.advance(200)
        for name, ref in (("flaky", a), ("slow", b)):
            stats = ref.stats()
            log.append((name, clock.monotonic(), f"{stats['total_attempts']}/{stats['skipped_ticks']}"))
    return log


@pytest.mark.timeout(30)
def test_the_same_sequence_twice_gives_the_same_history() -> None:
    first = _story(VirtualClock(1_800_000_000))
    second = _story(VirtualClock(1_800_000_000))
    assert first == second
    assert ("slow", 10.0, "start") in first and ("slow", 35.0, "end") in first
    assert ("flaky", 7.0, "call") in first and ("flaky", 12.0, "call") in first   # retried after 5 s


@pytest.mark.timeout(20)
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_run_lasting_two_and_a_half_intervals_skips_two_ticks_each_time(kind: str) -> None:
    clock = VirtualClock()
    starts: list[float] = []

    def sync_agent(task: str) -> None:
        starts.append(clock.monotonic())
        clock.sleep(25)

    async def async_agent(task: str) -> None:
        starts.append(clock.monotonic())
        await clock.asleep(25)

    with ActorSystem(clock=clock) as system:
        ref = system.spawn(sync_agent if kind == "sync" else async_agent, task="t", name="slow")
        ref.tell(Start("10"))
        clock.advance(94)        # ticks at 20, 30, 50, 60, 80 and 90 fall while a run is in flight
        stats = ref.ask(GetStats(), timeout=5)
    assert starts == [10.0, 40.0, 70.0]
    assert stats["successful_executions"] == 2 and stats["skipped_ticks"] == 6 and stats["state"] == "running"


@pytest.mark.timeout(20)
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_stop_ends_a_virtual_sleep_at_once(kind: str) -> None:
    clock = VirtualClock()

    def sync_agent(task: str) -> None:
        clock.sleep(3600)

    async def async_agent(task: str) -> None:
        await clock.asleep(3600)

    with ActorSystem(clock=clock) as system:
        ref = system.spawn(sync_agent if kind == "sync" else async_agent, task="t", name="sleepy")
        ref.tell(Start("daily", run_immediately=True))
        clock.advance(60)
        final = ref.ask(Stop(), timeout=5)
    assert final["is_running"] is False and final["abandoned_runs"] == 0
    assert final["successful_executions"] == 1 and clock.monotonic() == 60


@pytest.mark.timeout(20)
def test_timeouts_fire_in_virtual_time() -> None:
    clock = VirtualClock()
    failures: list[BaseException] = []

    async def agent(task: str) -> None:
        await clock.asleep(100)

    with AgentScheduler(agent, "t", config={"clock": clock, "timeout": 10}, on_failure=failures.append) as scheduler:
        scheduler.start("daily", max_retries=1, run_immediately=True)
        clock.advance(9)
        assert failures == []
        clock.advance(1)
        assert len(failures) == 1 and isinstance(failures[0], TimeoutError)
        assert scheduler.get_stats()["abandoned_runs"] == 0


@pytest.mark.timeout(20)
def test_a_stop_waits_for_a_busy_run_in_virtual_time_and_abandons_it() -> None:
    clock = VirtualClock()
    release = threading.Event()

    def stubborn(task: str) -> None:  # ignores the stop: sleeps virtual time in small steps
        while not release.is_set():
            clock.sleep(1)

    scheduler = AgentScheduler(stubborn, "t", config={"clock": clock, "stop_timeout": 30})
    scheduler.start("daily", run_immediately=True)
    clock.advance(5)
    scheduler.stop()
    release.set()
    stats = scheduler.get_stats()
    assert stats["is_running"] is False and stats["cancelled_executions"] + stats["successful_executions"] == 1


@pytest.mark.timeout(20)
def test_an_agent_waiting_on_real_time_makes_advance_say_so() -> None:
    clock = VirtualClock(settle_timeout=0.2)
    release = threading.Event()
    with ActorSystem(clock=clock) as system:
        ref = system.spawn(lambda task: release.wait(10), task="t", name="real")
        ref.tell(Start("10"))
        with pytest.raises(TimeoutError, match="real time"):
            clock.advance(10)
        release.set()


@pytest.mark.timeout(10)
def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="aware"):
        VirtualClock(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="seconds"):
        VirtualClock().advance(-1)
    with pytest.raises(ArgumentTypeError, match="clock"):
        AgentScheduler(lambda task: task, "t", config={"clock": "virtual"})
    with pytest.raises(ArgumentTypeError, match="clock"):
        ActorSystem(clock=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="clock"):
        ActorSystem(clock=VirtualClock()).spawn(lambda task: task, task="t", config={"clock": VirtualClock()})



@pytest.mark.timeout(20)
def test_an_async_agent_that_ignores_a_stop_still_lets_the_stop_deadline_pass() -> None:
    async def main() -> dict[str, Any]:
        clock = VirtualClock(settle_timeout=5)

        async def stubborn(task: str) -> None:
            while True:                      # a stop ends the sleep in progress; it sleeps again
                await clock.asleep(1)

        scheduler = AsyncAgentScheduler(stubborn, "t", config={"clock": clock, "stop_timeout": 20})
        await scheduler.start("600", run_immediately=True)
        await clock.aadvance(5)
        await scheduler.stop()               # virtual time runs to the deadline, then cancels it
        stats = await scheduler.get_stats()
        stats["now"] = clock.monotonic()
        return stats

    stats = run(main)
    assert stats["cancelled_executions"] == 1 and stats["now"] == 25.0


@pytest.mark.timeout(20)
def test_a_sync_attempt_abandoned_while_asleep_does_not_hold_the_clock() -> None:
    clock = VirtualClock(settle_timeout=5)
    failures: list[BaseException] = []
    scheduler = AgentScheduler(lambda task: clock.sleep(30), "t", config={"clock": clock, "timeout": 10},
                               on_failure=failures.append)
    scheduler.start("3600", max_retries=1, run_immediately=True)
    clock.advance(10)
    assert len(failures) == 1 and isinstance(failures[0], TimeoutError)
    clock.advance(30)                        # the abandoned run's wake-up is nobody's business now
    scheduler.stop()
    assert scheduler.get_stats()["abandoned_runs"] == 1
