"""The stop protocol under races: messages take effect in the order they arrive.

Each test here reproduces a defect found by an adversarial review (issue 9): a Stop answered
during another Stop, a stats ask racing a stop from another thread, a loop that closed under a
started scheduler.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest
from conftest import run, wait_until

from actors import ActorSystem, AgentScheduler, AsyncAgentScheduler, GetStats, Start, Stop


class Gate:
    """A sync agent whose runs block until released, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, task: str) -> str:
        self.calls += 1
        self.entered.set()
        self.release.wait(10)
        return task


def running_behind_a_gate(system: ActorSystem, gate: Gate) -> Any:
    """Spawn ``gate`` as agent "x" (stop_timeout 5) and wait until its first run is in flight."""
    ref = system.spawn(gate, task="t", name="x", config={"stop_timeout": 5})
    assert ref.ask(Start("3600", run_immediately=True), timeout=2) is True
    assert gate.entered.wait(5)
    return ref


@pytest.mark.timeout(20)
def test_a_stop_behind_a_queued_start_leaves_the_agent_stopped() -> None:
    gate = Gate()
    with ActorSystem() as system:
        ref = system.spawn(gate, task="t", name="x", config={"stop_timeout": 5})
        assert ref.ask(Start("3600", run_immediately=True), timeout=2) is True
        assert gate.entered.wait(5)
        ref.tell(Stop())             # stopping: waits for the run in flight
        ref.tell(Start("0.05"))      # queued behind the stop in progress
        last_stop = ref.ask_future(Stop())
        gate.release.set()
        final = last_stop.result(5)
        assert final["is_running"] is False and final["state"] == "stopped"
        after = ref.ask(GetStats(), timeout=2)
        # The queued Start came before the last Stop: it must not outlive it.
        assert after["is_running"] is False and after["state"] == "stopped"
        assert gate.calls == 1


@pytest.mark.timeout(20)
def test_a_queued_start_answers_and_a_replaced_one_too() -> None:
    gate = Gate()
    with ActorSystem() as system:
        ref = running_behind_a_gate(system, gate)
        ref.tell(Stop())
        first = ref.ask_future(Start("3600"))
        second = ref.ask_future(Start("3600"))   # the first already claims the restart
        gate.release.set()
        assert first.result(5) is True
        assert second.result(5) is False
        assert ref.ask(GetStats(), timeout=2)["is_running"] is True


@pytest.mark.timeout(20)
def test_shutdown_behind_a_queued_start_does_not_run_the_agent_again() -> None:
    gate = Gate()
    system = ActorSystem()
    ref = system.spawn(gate, task="t", name="x", config={"stop_timeout": 5})
    ref.ask(Start("3600", run_immediately=True), timeout=2)
    assert gate.entered.wait(5)
    ref.tell(Stop())
    ref.tell(Start("3600", run_immediately=True))
    threading.Timer(0.05, gate.release.set).start()
    final = system.shutdown(5)["x"]
    assert final["is_running"] is False
    assert gate.calls == 1 and final["total_attempts"] == 1


@pytest.mark.timeout(60)
def test_sync_get_stats_racing_stop_from_another_thread_always_answers() -> None:
    scheduler = AgentScheduler(lambda task: task, "t")
    for _ in range(300):
        scheduler.start("hourly")
        stopper = threading.Thread(target=scheduler.stop)
        stopper.start()
        stats = scheduler.get_stats()
        assert stats["name"]
        stopper.join(5)
        assert not stopper.is_alive()
    assert scheduler.get_stats()["is_running"] is False


@pytest.mark.timeout(60)
def test_async_get_stats_racing_stop_from_another_thread_always_answers() -> None:
    async def agent(task: str) -> str:
        return task

    async def main() -> None:
        scheduler = AsyncAgentScheduler(agent, "t")
        loop = asyncio.get_running_loop()
        for _ in range(300):
            await scheduler.start("hourly")
            # stop() from another thread, on a loop of its own
            stopping = loop.run_in_executor(None, asyncio.run, scheduler.stop())
            stats = await asyncio.wait_for(scheduler.get_stats(), 5)
            assert stats["name"]
            await stopping
        assert (await scheduler.get_stats())["is_running"] is False

    run(main)


@pytest.mark.timeout(20)
def test_a_loop_that_closed_under_a_started_scheduler_stops_at_once(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []

    async def agent(task: str) -> None:
        calls.append(task)

    scheduler = AsyncAgentScheduler(agent, "t", config={"stop_timeout": 10})
    asyncio.run(scheduler.start("3600"))     # the loop ends right after start() returns
    with caplog.at_level(logging.WARNING, logger="actors"):
        assert asyncio.run(asyncio.wait_for(scheduler.stop(), 3)) is True
        assert asyncio.run(asyncio.wait_for(scheduler.stop(), 3)) is True   # idempotent
    assert asyncio.run(scheduler.get_stats())["is_running"] is False
    warnings = [r for r in caplog.records if "loop" in r.getMessage() and r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
    assert scheduler.is_running is False

    async def again() -> dict[str, Any]:      # and it starts cleanly under a new loop
        assert await scheduler.start("3600", run_immediately=True) is True
        while not calls:
            await asyncio.sleep(0.005)
        await scheduler.stop()
        return await scheduler.get_stats()

    stats = run(again)
    assert calls == ["t"] and stats["successful_executions"] == 1


@pytest.mark.timeout(20)
def test_stats_of_a_scheduler_whose_loop_closed_answer_at_once() -> None:
    async def agent(task: str) -> None:
        return None

    scheduler = AsyncAgentScheduler(agent, "t")
    asyncio.run(scheduler.start("0.05", run_immediately=True))
    stats = asyncio.run(asyncio.wait_for(scheduler.get_stats(), 3))
    assert stats["name"] and stats["is_running"] is False and stats["state"] == "stopped"
    assert scheduler.is_running is False
    assert asyncio.run(asyncio.wait_for(scheduler.run_now(), 3)) is False
    asyncio.run(scheduler.stop())


@pytest.mark.timeout(30)
def test_stats_read_while_the_system_shuts_down_are_always_whole() -> None:
    for _ in range(15):
        system = ActorSystem()
        refs = [system.spawn(lambda task: task, task="t", name=f"a{i}") for i in range(5)]
        for ref in refs:
            ref.tell(Start("3600", run_immediately=True))
        seen: list[dict[str, Any]] = []
        stop = threading.Event()

        def reader() -> None:
            while not stop.is_set():
                seen.extend(ref.stats() for ref in refs)

        thread = threading.Thread(target=reader)
        thread.start()
        system.shutdown()
        stop.set()
        thread.join(5)
        assert seen and all(s.get("name") in {r.name for r in refs} for s in seen)
        assert all(ref.stats()["is_running"] is False for ref in refs)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_start_during_another_callers_stop_starts_after_it(kind: str) -> None:
    gate = Gate()
    if kind == "sync":
        scheduler = AgentScheduler(gate, "t", config={"stop_timeout": 5})
        scheduler.start("hourly", run_immediately=True)
        assert gate.entered.wait(5)
        stopper = threading.Thread(target=scheduler.stop)
        stopper.start()
        wait_until(lambda: not scheduler.is_running)   # the stop is under way, the run still in flight
        threading.Timer(0.05, gate.release.set).start()
        assert scheduler.start("hourly", run_immediately=True) is True   # waited for the stop
        stopper.join(5)
        assert scheduler.is_running and scheduler.get_stats()["is_running"] is True
        assert scheduler.stop()
        assert gate.calls == 2
        return

    async def main() -> int:
        calls: list[int] = []
        entered = asyncio.Event()
        release = asyncio.Event()

        async def agent(task: str) -> None:
            calls.append(1)
            entered.set()
            await release.wait()

        scheduler = AsyncAgentScheduler(agent, "t", config={"stop_timeout": 5})
        await scheduler.start("hourly", run_immediately=True)
        await entered.wait()
        stopping = asyncio.create_task(scheduler.stop())
        await asyncio.sleep(0)
        asyncio.get_running_loop().call_later(0.05, release.set)
        assert await scheduler.start("hourly", run_immediately=True) is True
        await stopping
        assert scheduler.is_running
        while len(calls) < 2:
            await asyncio.sleep(0.005)
        await scheduler.stop()
        return len(calls)

    assert run(main) == 2


@pytest.mark.timeout(20)
def test_pool_ask_from_the_loop_its_agents_run_on_refuses_to_block_it() -> None:
    async def agent(task: str) -> None:
        return None

    async def main() -> None:
        async with ActorSystem() as system:
            pool = system.pool([agent], task="t")
            await pool.ask_async(Start("hourly"))
            with pytest.raises(RuntimeError, match="ask_async"):
                pool.ask(Stop())
            with pytest.raises(RuntimeError, match="ask_async"):
                pool.stats()

    run(main)


@pytest.mark.timeout(30)
def test_spawn_racing_shutdown_never_outlives_it() -> None:
    for _ in range(20):
        system = ActorSystem()
        system.spawn(lambda task: task, task="t", name="first")
        during: list[Any] = []          # refs whose spawn returned before shutdown() did
        go, returned = threading.Event(), threading.Event()

        def spawner() -> None:
            go.wait(5)
            for i in range(200):
                try:
                    ref = system.spawn(lambda task: task, task="t", name=f"late-{i}")
                except RuntimeError as exc:
                    assert "shutting down" in str(exc)
                    continue
                if returned.is_set():
                    return
                during.append(ref)

        thread = threading.Thread(target=spawner)
        thread.start()
        go.set()
        system.shutdown()
        returned.set()
        assert all(not ref.is_alive for ref in during), [r.name for r in during if r.is_alive]
        thread.join(5)
        system.shutdown()          # whatever was spawned after the first shutdown returned


@pytest.mark.timeout(20)
def test_stats_after_a_held_start_say_it_runs() -> None:
    gate = Gate()
    with ActorSystem() as system:
        ref = running_behind_a_gate(system, gate)
        ref.tell(Stop())
        ref.tell(Start("3600"))
        assert ref.ask(GetStats(), timeout=2)["is_running"] is True   # the Start came before
        gate.release.set()


@pytest.mark.timeout(20)
def test_a_shorter_stop_behind_a_stop_in_progress_moves_the_deadline_in() -> None:
    release = threading.Event()
    entered = threading.Event()

    def agent(task: str) -> None:   # ignores stops; a sync call cannot be interrupted
        entered.set()
        release.wait(10)

    system = ActorSystem()
    ref = system.spawn(agent, task="t", name="slow", config={"stop_timeout": 30})
    ref.ask(Start("hourly", run_immediately=True), timeout=2)
    assert entered.wait(5)
    ref.tell(Stop())                         # waits up to 30 s for the run
    final = system.shutdown(timeout=0.2)["slow"]
    release.set()
    assert final["is_running"] is False and final["state"] == "stopped"
    assert final["abandoned_runs"] == 1 and final["cancelled_executions"] == 1


@pytest.mark.timeout(20)
def test_the_answer_of_a_stop_says_stopped_even_with_a_start_held_behind_it() -> None:
    gate = Gate()
    with ActorSystem() as system:
        ref = running_behind_a_gate(system, gate)
        answer = ref.ask_future(Stop())
        ref.tell(Start("3600"))
        gate.release.set()
        final = answer.result(5)
        assert final["is_running"] is False and final["state"] == "stopped"
        assert ref.ask(GetStats(), timeout=2)["is_running"] is True   # then the held Start applied
