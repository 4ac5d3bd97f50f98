"""ActorSystem, AgentRef and AgentPool: messages, pools, supervision, dead letters, scale."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import textwrap
import threading
from typing import Any

import pytest
from conftest import run, wait_until

from actors import ActorSystem, AgentDeadError, AgentPool, AgentRef, GetStats, RunNow, Start, Stop
from actors.agent_actor import InjectFault
from actors.testing import VirtualClock


def library_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t is not threading.main_thread()]


class Counter:
    def __init__(self) -> None:
        self.calls = 0
        self.threads: set[threading.Thread] = set()

    def __call__(self, task: str) -> str:
        self.calls += 1
        self.threads.add(threading.current_thread())
        return f"{task}:{self.calls}"


class AsyncCounter:
    def __init__(self) -> None:
        self.calls = 0
        self.loops: set[asyncio.AbstractEventLoop] = set()

    async def __call__(self, task: str) -> str:
        self.calls += 1
        self.loops.add(asyncio.get_running_loop())
        return task


@pytest.mark.timeout(10)
def test_nothing_starts_before_the_first_spawn() -> None:
    before = set(threading.enumerate())
    system = ActorSystem()
    assert set(threading.enumerate()) == before
    assert system.agents() == [] and system.get("x") is None
    assert system.shutdown() == {}


@pytest.mark.timeout(10)
def test_messages_answers_and_the_agent_lifecycle() -> None:
    agent = Counter()
    clock = VirtualClock()
    with ActorSystem(clock=clock) as system:
        ref = system.spawn(agent, task="news", name="news")
        assert isinstance(ref, AgentRef) and ref.name == "news" and system.get("news") is ref
        assert ref.ask(Start("5", run_immediately=True), timeout=1.0) is True
        assert ref.ask(Start("5"), timeout=1.0) is False
        clock.advance(5)
        assert agent.calls == 2  # at once, then one interval later
        stats = ref.ask(GetStats(), timeout=1.0)
        assert stats["is_running"] and stats["name"] == "news" and stats["kind"] == "sync"
        final = ref.ask(Stop(), timeout=2.0)
        assert final["is_running"] is False and final["state"] == "stopped"
        clock.advance(60)
        assert agent.calls == 2  # stopped: no more runs, but the agent is still there
        assert system.agents() == ["news"] and ref.is_alive
        assert ref.ask(GetStats(), timeout=1.0)["successful_executions"] == 2
        ref.tell(Start("5", run_immediately=True))  # a later Start runs it again
        clock.advance(0)
        assert agent.calls == 3
    assert library_threads() == []


@pytest.mark.timeout(10)
def test_tell_never_blocks_on_a_busy_agent() -> None:
    gate = threading.Event()

    def slow(task: str) -> None:
        gate.wait(5)

    with ActorSystem() as system:
        ref = system.spawn(slow, "t")
        ref.tell(Start("60", run_immediately=True))
        for _ in range(100):  # the run holds its gate shut until after these returned
            ref.tell(RunNow())
        stats = ref.ask(GetStats(), timeout=1.0)  # answered while the run is in flight
        assert stats["state"] == "running" and stats["skipped_ticks"] == 100
        gate.set()


@pytest.mark.timeout(10)
def test_names_are_unique_and_generated_when_omitted() -> None:
    with ActorSystem() as system:
        a = system.spawn(Counter(), "t")
        b = system.spawn(Counter(), "t")
        assert a.name != b.name
        system.spawn(Counter(), "t", name="fixed")
        with pytest.raises(ValueError, match="fixed"):
            system.spawn(Counter(), "t", name="fixed")
        assert system.spawn(Counter(), "t", config={"name": "from-config"}).name == "from-config"
        assert len(system.agents()) == 4


@pytest.mark.timeout(10)
@pytest.mark.parametrize("bad", ["bogus", "0", "-1", "nan"])
def test_messages_validate_on_construction(bad: str) -> None:
    with pytest.raises(ValueError):
        Start(bad)
    with pytest.raises(ValueError):
        Start("1", max_retries=0)


@pytest.mark.timeout(10)
def test_telling_a_non_message_is_a_type_error() -> None:
    with ActorSystem() as system:
        ref = system.spawn(Counter(), "t")
        with pytest.raises(TypeError):
            ref.tell("Start")  # type: ignore[arg-type]


@pytest.mark.timeout(10)
def test_dead_after_shutdown_tell_is_a_dead_letter_and_ask_raises(caplog: pytest.LogCaptureFixture) -> None:
    system = ActorSystem()
    ref = system.spawn(Counter(), "t", name="gone")
    ref.tell(Start("3600", run_immediately=True))
    final = system.shutdown(timeout=2.0)  # the Start came first: its run ends before the stop
    assert set(final) == {"gone"} and final["gone"]["is_running"] is False
    assert not ref.is_alive
    with caplog.at_level(logging.WARNING, logger="actors"):
        ref.tell(RunNow())
        ref.tell(Start("1"))
    assert system.dead_letters == 2 and "dead letter" in caplog.text
    with pytest.raises(AgentDeadError):  # at once: not a TimeoutError after 60 s
        ref.ask(GetStats(), timeout=60.0)
    assert ref.stats()["successful_executions"] == 1  # last stats stay readable
    assert library_threads() == []


@pytest.mark.timeout(10)
def test_shutdown_stops_everything_and_returns_final_stats_quickly() -> None:
    clock = VirtualClock()
    system = ActorSystem(clock=clock)
    refs = [system.spawn(Counter(), "t") for _ in range(20)]
    for ref in refs:
        ref.tell(Start("2", run_immediately=True))
    clock.advance(10)
    final = system.shutdown(timeout=5.0)
    assert clock.monotonic() == 10.0  # no agent needed its stop deadline to pass
    assert set(final) == {r.name for r in refs}
    assert all(s["is_running"] is False and s["successful_executions"] == 6 for s in final.values())
    assert library_threads() == []
    assert system.agents() == []


def test_shutdown_answers_each_agent_under_its_own_name_whatever_its_stop_deadline() -> None:
    # One Stop message per deadline serves every agent with it, and one reply all answers:
    # each agent's final stats must still land under its own name.
    clock = VirtualClock()
    system = ActorSystem(clock=clock)
    refs = [system.spawn(Counter(), "t", name=f"agent-{i}", config={"stop_timeout": 1.0 + i % 3}) for i in range(9)]
    for i, ref in enumerate(refs):
        ref.tell(Start("1", run_immediately=True, max_runs=i + 1))
    clock.advance(10)
    final = system.shutdown(timeout=2.5)
    assert sorted(final) == sorted(r.name for r in refs)
    assert all(final[f"agent-{i}"]["name"] == f"agent-{i}" and final[f"agent-{i}"]["successful_executions"] == i + 1
               for i in range(9))


@pytest.mark.timeout(10)
def test_a_system_can_spawn_again_after_shutdown() -> None:
    clock = VirtualClock()
    system = ActorSystem(clock=clock)
    for _ in range(2):
        agent = Counter()
        ref = system.spawn(agent, "t", name="same")
        ref.tell(Start("60", run_immediately=True))
        clock.advance(60)
        assert agent.calls == 2
        assert system.shutdown()["same"]["successful_executions"] == 2
        assert library_threads() == []


@pytest.mark.timeout(10)
def test_mixed_pool_sync_in_threads_async_on_the_loop() -> None:
    sync_agent, async_agent = Counter(), AsyncCounter()
    clock = VirtualClock()

    async def main() -> dict[str, Any]:
        async with ActorSystem(clock=clock) as system:
            pool = system.pool([sync_agent, async_agent], task="p")
            assert isinstance(pool, AgentPool) and len(pool.refs) == 2
            pool.tell(Start("5", run_immediately=True))
            await clock.aadvance(10)
            assert sync_agent.calls == 3 and async_agent.calls == 3
            answers = await pool.ask_async(GetStats(), timeout=1.0)
            assert {a["kind"] for a in answers.values()} == {"sync", "async"}
            return await pool.astats()

    stats = run(main)
    loop_threads = {t for t in sync_agent.threads if t is threading.main_thread()}
    assert not loop_threads  # the sync member never ran on the loop's thread
    assert len(async_agent.loops) == 1
    total = stats["total"]
    assert total["agents"] == 2 and total["successful_executions"] == 6
    assert total["successful_executions"] == sum(s["successful_executions"] for s in stats["agents"].values())
    assert total["success_rate"] == 100.0 and total["worst_lateness_ms"] is not None
    assert library_threads() == []


@pytest.mark.timeout(10)
def test_async_system_prefers_async_methods_plain_system_sync_ones() -> None:
    used: list[str] = []

    class Both:
        async def astart(self, task: str) -> None:
            used.append("async")

        def start(self, task: str) -> None:
            used.append("sync")

    clock = VirtualClock()
    with ActorSystem(clock=clock) as system:
        system.spawn(Both(), "t").tell(Start("60", run_immediately=True))
        clock.advance(0)
        assert used == ["sync"]

    async def main() -> None:
        async with ActorSystem(clock=clock) as system:
            system.spawn(Both(), "t").tell(Start("60", run_immediately=True))
            await clock.aadvance(0)

    run(main)
    assert used == ["sync", "async"]


@pytest.mark.timeout(10)
def test_pool_ask_and_stats_from_sync_code() -> None:
    clock = VirtualClock()
    with ActorSystem(clock=clock) as system:
        pool = system.pool([Counter(), Counter(), AsyncCounter()], task="t")
        assert set(pool.ask(Start("60", run_immediately=True), timeout=1.0).values()) == {True}
        clock.advance(0)
        assert pool.stats()["total"]["successful_executions"] == 3
        stopped = pool.ask(Stop(), timeout=2.0)
        assert all(s["is_running"] is False for s in stopped.values())


@pytest.mark.timeout(10)
def test_ask_from_the_agents_own_loop_is_refused_not_a_hang() -> None:
    async def main() -> None:
        async with ActorSystem() as system:
            ref = system.spawn(AsyncCounter(), "t")
            with pytest.raises(RuntimeError, match="ask_async"):
                ref.ask(GetStats())
            assert (await ref.ask_async(GetStats(), timeout=1.0))["kind"] == "async"
            with pytest.raises(RuntimeError, match="ashutdown"):
                system.shutdown()

    run(main)


@pytest.mark.timeout(10)
def test_supervision_restarts_a_crashed_actor_with_its_schedule_and_stats() -> None:
    agent = Counter()
    clock = VirtualClock()
    with ActorSystem(clock=clock) as system:
        ref = system.spawn(agent, "t")
        ref.tell(Start("5", run_immediately=True))
        clock.advance(5)
        assert agent.calls == 2
        ref._binding.post(InjectFault(RuntimeError("bug in actor code")))  # type: ignore[union-attr]
        clock.advance(0)
        assert ref.ask(GetStats(), timeout=1.0)["restarts"] == 1
        clock.advance(10)
        assert agent.calls == 4  # the schedule survived the crash
        stats = ref.ask(GetStats(), timeout=1.0)
        assert stats["is_running"] and stats["successful_executions"] == 4  # and so did the stats
        assert "bug in actor code" in stats["last_error"]


@pytest.mark.timeout(10)
def test_supervision_gives_up_past_the_limit(caplog: pytest.LogCaptureFixture) -> None:
    agent = Counter()
    clock = VirtualClock()
    with ActorSystem(config={"max_restarts": 2, "restart_window": 60}, clock=clock) as system:
        ref = system.spawn(agent, "t", name="fragile")
        ref.tell(Start("3", run_immediately=True))
        clock.advance(0)
        assert agent.calls == 1
        with caplog.at_level(logging.ERROR, logger="actors"):
            for i in range(3):
                ref._binding.post(InjectFault(RuntimeError(f"crash {i}")))  # type: ignore[union-attr]
            clock.advance(0)  # the three crashes are handled
        assert not ref.is_alive
        stats = ref.stats()
        assert stats["restarts"] == 2 and stats["is_running"] is False and stats["state"] == "stopped"
        assert "crash 2" in stats["last_error"] and "giving up" in caplog.text
        clock.advance(30)
        assert agent.calls == 1  # dead: its schedule ended with it
        with pytest.raises(AgentDeadError):
            ref.ask(GetStats())
        ref.tell(RunNow())
        assert system.dead_letters == 1


@pytest.mark.timeout(20)
def test_an_ask_waiting_on_another_thread_fails_with_agent_dead_when_the_shutdown_abandons_it() -> None:
    # A Stop asked while the run blocks waits for that run; a shutdown that gives up on it must
    # wake the asker with AgentDeadError, not leave it to its own (long) timeout.
    gate, started = threading.Event(), threading.Event()

    def agent(task: str) -> None:
        started.set()
        gate.wait(10)

    system = ActorSystem()
    ref = system.spawn(agent, task="t", name="stuck", config={"stop_timeout": 30})
    ref.tell(Start("3600", run_immediately=True))
    assert started.wait(5)
    outcome: list[Any] = []

    def asker() -> None:
        try:
            outcome.append(ref.ask(Stop(), timeout=60))
        except Exception as exc:  # noqa: BLE001 - the test looks at what came back
            outcome.append(exc)

    thread = threading.Thread(target=asker)
    thread.start()
    try:
        wait_until(lambda: bool(ref._pending))  # the Stop is posted and its asker waits
        system.shutdown(timeout=0.2)
        thread.join(10)
        assert not thread.is_alive()
        (error,) = outcome
        assert isinstance(error, AgentDeadError) and "died before answering" in str(error)
    finally:
        gate.set()


@pytest.mark.timeout(10)
def test_bad_system_config_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="restarts"):
        ActorSystem(config={"restarts": 1})
    with pytest.raises(ValueError, match="-1"):
        ActorSystem(config={"max_restarts": -1})
    with pytest.raises(ValueError, match="timeout"):
        ActorSystem().shutdown(timeout=-1)


@pytest.mark.timeout(20)
def test_a_program_that_forgets_shutdown_still_exits_promptly() -> None:
    code = textwrap.dedent(
        """
        import threading
        from actors import ActorSystem, Start
        stuck, ticked = threading.Event(), threading.Event()
        def slow(task):
            stuck.set()
            threading.Event().wait()  # never returns: only an exit that does not wait can end
        system = ActorSystem()
        system.spawn(slow, "t").tell(Start("0.1", run_immediately=True))
        system.spawn(lambda t: ticked.set(), "t").tell(Start("0.1", run_immediately=True))
        assert stuck.wait(5) and ticked.wait(5)
        print("bye")
        """
    )
    # The hang guard: a program that waited for the stuck run would never exit.
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=15)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "bye"


@pytest.mark.timeout(60)
def test_a_thousand_agents_each_run_twice_and_shut_down_fast() -> None:
    counts = [0] * 1000

    def make(i: int) -> Any:
        if i % 2:
            async def agent(task: str) -> None:
                counts[i] += 1
        else:
            def agent(task: str) -> None:  # type: ignore[misc]
                counts[i] += 1
        return agent

    clock = VirtualClock()
    system = ActorSystem(clock=clock)
    refs = [system.spawn(make(i), "t") for i in range(1000)]
    for ref in refs:
        ref.tell(Start("30"))
    clock.advance(60)
    assert counts == [2] * 1000, f"{sum(c != 2 for c in counts)} agents did not run exactly twice"
    final = system.shutdown(timeout=5.0)
    assert clock.monotonic() == 60.0  # no agent needed its stop deadline to pass
    assert len(final) == 1000 and not any(s["is_running"] for s in final.values())
    assert library_threads() == []


@pytest.mark.timeout(10)
def test_an_ask_that_timed_out_does_not_crash_the_agent_when_answered() -> None:
    started, gate = threading.Event(), threading.Event()

    def slow(task: str) -> None:
        started.set()
        gate.wait(5)

    async def main() -> None:
        async with ActorSystem(config={"max_restarts": 0}) as system:
            ref = system.spawn(slow, "t", config={"stop_timeout": 30})
            await ref.ask_async(Start("60", run_immediately=True))
            assert await asyncio.to_thread(started.wait, 5)
            with pytest.raises(TimeoutError):  # the Stop waits for the run, held by the gate
                await ref.ask_async(Stop(), timeout=0.05)
            gate.set()  # the run ends, the Stop completes: its first answer goes to nobody
            final = await ref.ask_async(Stop(), timeout=5.0)  # answered when that stop is done
            assert final["state"] == "stopped" and final["successful_executions"] == 1
            assert ref.is_alive
            assert (await ref.ask_async(GetStats(), timeout=1.0))["restarts"] == 0

    run(main)


@pytest.mark.timeout(30)
def test_ashutdown_from_another_loop_waits_for_a_run_and_returns_every_final_stat() -> None:
    # The stops' answers come from the dispatcher workers and the system's loop thread; the
    # awaiting loop is neither.
    release = threading.Event()
    started = threading.Event()

    def slow(task: str) -> str:
        started.set()
        release.wait(5)
        return task

    system = ActorSystem()
    system.spawn(slow, task="t", name="slow")
    quick = [system.spawn(Counter(), task="t", name=f"q{i}") for i in range(20)]
    system.get("slow").tell(Start("hourly", run_immediately=True))  # type: ignore[union-attr]
    for ref in quick:
        ref.tell(Start("hourly"))
    assert started.wait(5)

    async def main() -> dict[str, Any]:
        threading.Timer(0.05, release.set).start()  # the run ends while the shutdown waits
        return await system.ashutdown()

    final = asyncio.run(main())
    assert sorted(final) == sorted(["slow", *(f"q{i}" for i in range(20))])
    assert final["slow"]["successful_executions"] == 1 and final["slow"]["state"] == "stopped"
    assert all(final[f"q{i}"]["state"] == "stopped" for i in range(20))
