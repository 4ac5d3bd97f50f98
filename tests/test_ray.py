"""RaySystem against a real local Ray cluster, in the session's loopback-only network namespace.

One cluster for the whole module (``ray.init`` takes 3-6 s); the same test functions run
against a plain `ActorSystem` where the behaviour is the same. A host process killed with
SIGKILL must come back with its agents' schedules, the restart counted and the cut-short run
counted; a system that started its own cluster leaves no Ray process behind.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import needs_loopback_namespace, wait_until

ray = pytest.importorskip("ray", reason="Ray is not installed (the ray extra)")
pytestmark = [needs_loopback_namespace(), pytest.mark.timeout(120)]

from actors import ActorSystem, AgentDeadError, GetStats, RunNow, Start  # noqa: E402
from actors.handles import AgentHandle, SystemHandle  # noqa: E402

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the hosts cannot import this test module


def count_sync(task: str) -> str:
    return f"sync {task}"


async def count_async(task: str) -> str:
    await asyncio.sleep(0)
    return f"async {task}"


@pytest.fixture(scope="module", autouse=True)
def cluster() -> Iterator[None]:
    """One local Ray cluster for the module: 2 CPUs, no dashboard, bound to 127.0.0.1 (the only
    interface of the namespace). Set up before each test's own fixtures: the threads Ray's
    driver starts are the module's, not a test's."""
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False,
             _node_ip_address="127.0.0.1")
    yield
    ray.shutdown()


@pytest.fixture
def ray_system(cluster: None) -> Iterator[Any]:
    from actors.ray import RaySystem

    system = RaySystem(hosts=2)
    yield system
    system.shutdown()


@pytest.fixture(params=["local", "ray"])
def system(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The same test against a plain ActorSystem and a RaySystem of two hosts."""
    if request.param == "local":
        local = ActorSystem()
        yield local
        local.shutdown()
    else:
        yield request.getfixturevalue("ray_system")


def test_both_systems_satisfy_the_shared_interface(system: Any) -> None:
    assert isinstance(system, SystemHandle)
    assert isinstance(system.spawn(count_sync, task="t", name="x"), AgentHandle)


def test_spawn_tell_ask_and_shutdown_give_the_same_answers(system: Any) -> None:
    sync, asynch = system.spawn(count_sync, task="a", name="s"), system.spawn(count_async, task="b", name="as")
    assert system.agents() == ["s", "as"] and system.get("s") is sync and system.get("missing") is None
    for ref in (sync, asynch):
        assert ref.ask(Start("1h"), timeout=30) is True
        assert ref.ask(Start("1h"), timeout=30) is False  # already running
        assert ref.ask(RunNow(), timeout=30) is True
        wait_until(lambda ref=ref: ref.ask(GetStats(), timeout=30)["successful_executions"] == 1, timeout=30)
    assert [e["result"] for e in sync.history(5)] == ["'sync a'"]
    assert [e["result"] for e in asynch.history(5)] == ["'async b'"]
    final = system.shutdown()
    assert set(final) == {"s", "as"} and final["s"]["successful_executions"] == 1
    assert not sync.is_alive
    with pytest.raises(AgentDeadError):
        sync.ask(GetStats(), timeout=5)
    sync.tell(RunNow())
    assert system.dead_letters == 1
    assert sync.stats()["successful_executions"] == 1  # a dead agent's last stats, at once


def test_a_duplicate_name_and_a_bad_message_are_refused_in_the_caller(system: Any) -> None:
    ref = system.spawn(count_sync, task="t", name="x")
    with pytest.raises(ValueError, match="already exists"):
        system.spawn(count_sync, task="t", name="x")
    with pytest.raises(TypeError, match="not an actorsched message"):
        ref.tell("start")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        system.spawn(42, task="t")
    with pytest.raises(ValueError, match="that time has passed"):
        ref.tell(Start("at:2001-01-01T09:00"))  # in the caller, not lost on the way


def test_a_pool_of_sync_and_async_agents_sums_their_stats(system: Any) -> None:
    pool = system.pool([count_sync, count_async, count_sync], task="p")
    pool.tell(Start("1h", run_immediately=True))
    wait_until(lambda: pool.stats(timeout=30)["total"]["successful_executions"] == 3, timeout=30)
    assert len(pool) == 3 and len(set(pool.ask(GetStats(), timeout=30))) == 3


def test_ask_async_awaits_without_blocking_the_loop(system: Any) -> None:
    ref = system.spawn(count_async, task="t", name="a")

    async def main() -> tuple[bool, int]:
        ticks = 0

        async def heartbeat() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        beat = asyncio.ensure_future(heartbeat())
        started = await ref.ask_async(Start("1h"), timeout=30)
        beat.cancel()
        return started, ticks

    started, ticks = asyncio.run(main())
    assert started is True and ticks > 0


def test_an_unpicklable_agent_is_a_type_error_at_spawn_naming_it(ray_system: Any) -> None:
    lock = threading.Lock()

    def holds_a_lock(task: str) -> None:
        with lock:
            pass

    with pytest.raises(TypeError, match="holds_a_lock.*cannot be shipped"):
        ray_system.spawn(holds_a_lock, task="t", name="locked")
    with pytest.raises(TypeError, match="holds_a_lock.*cannot be shipped"):
        ray_system.pool([count_sync, holds_a_lock], task="t")  # none of the pool is spawned
    assert ray_system.agents() == []
    ray_system.spawn(count_sync, task="t", name="locked")  # the name is free again


def test_agents_are_placed_by_name_over_the_hosts(ray_system: Any) -> None:
    names = [f"agent-{i}" for i in range(20)]
    for name in names:
        ray_system.spawn(count_sync, task="t", name=name)
    assert {ray_system.host_of(name) for name in names} == {0, 1}


def life_of(host: Any) -> int | None:
    """Which life the host is in, or None while Ray restarts it."""
    try:
        return int(ray.get(host.ping.remote(), timeout=30)[0])
    except ray.exceptions.ActorUnavailableError:
        return None


def slow_sync(task: str) -> str:
    """Note each run's start in the file ``task``, then take 3 s (long enough to be killed in)."""
    with open(task, "a") as notes:
        notes.write("start\n")
    time.sleep(3.0)
    return "done"


def test_a_host_killed_with_sigkill_comes_back_with_its_agents(ray_system: Any, tmp_path: pathlib.Path) -> None:
    notes = tmp_path / "runs"
    slow = ray_system.spawn(slow_sync, task=str(notes), name="slow")
    index = ray_system.host_of("slow")
    neighbour = next(name for name in (f"n{i}" for i in range(100)) if ray_system.host_of(name) == index)
    steady = ray_system.spawn(count_sync, task="t", name=neighbour)
    steady.tell(Start("0.2s"))
    slow.tell(Start("0.2s"))
    wait_until(lambda: steady.ask(GetStats(), timeout=30)["successful_executions"] >= 3, timeout=30)
    wait_until(notes.exists, timeout=30)
    # The host's journal notes the run in flight in the registry's store (every 100 ms).
    def noted() -> bool:
        record = ray.get(ray_system._registry.load.remote("slow"))
        return record is not None and record.counters.get("running") is not None

    wait_until(noted, timeout=30)
    host = ray_system._hosts[index]
    life, pid = ray.get(host.ping.remote())
    before = steady.ask(GetStats(), timeout=30)["successful_executions"]
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: life_of(host) == life + 1, timeout=60)
    after = slow.ask(GetStats(), timeout=30)
    assert after["restarts"] == 1 and after["is_running"]
    assert after["interrupted_executions"] == 1  # the run its process died in: counted, not lost
    wait_until(lambda: steady.ask(GetStats(), timeout=30)["successful_executions"] > before, timeout=30)
    stats = steady.ask(GetStats(), timeout=30)
    assert stats["restarts"] == 1 and stats["is_running"]
    wait_until(lambda: notes.read_text().count("start") >= 2, timeout=30)  # its schedule goes on


def test_a_system_that_started_its_cluster_leaves_no_ray_process(tmp_path: pathlib.Path) -> None:
    script = textwrap.dedent("""
        import ray
        from actors import Start
        from actors.ray import RaySystem
        system = RaySystem(hosts=1, ray_init={"num_cpus": 1})
        print(ray._private.worker._global_node.get_session_dir_path(), flush=True)
        ref = system.spawn(print, task="tick", name="p")
        ref.tell(Start("1h", run_immediately=True))
        system.shutdown()
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=90,
                         cwd=pathlib.Path(__file__).parent.parent)
    assert out.returncode == 0, out.stderr[-2000:]
    session = pathlib.Path(out.stdout.strip().splitlines()[0]).name

    def ray_processes() -> list[str]:
        found = []
        for proc in pathlib.Path("/proc").iterdir():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if session in cmdline:
                found.append(cmdline[:120])
        return found

    wait_until(lambda: not ray_processes(), timeout=30)


def test_ask_all_answers_for_every_agent_with_one_call_per_host(ray_system: Any) -> None:
    pool = ray_system.pool([count_sync, count_async] * 5, task="t")
    answers = ray_system.ask_all(GetStats(), timeout=30)
    assert set(answers) == {ref.name for ref in pool} and all(isinstance(a, dict) for a in answers.values())
    hosts = ray_system.host_resources()
    assert [h["incarnation"] for h in hosts] == [1, 1] and sum(h["agents"] for h in hosts) == 10
    assert all(h["rss_mb"] > 0 for h in hosts)
    ray_system.shutdown()
    assert all(isinstance(a, AgentDeadError) for a in ray_system.ask_all(GetStats()).values())


def test_with_a_store_the_next_ray_system_takes_the_schedules_up(tmp_path: pathlib.Path) -> None:
    from actors.ray import RaySystem

    path = str(tmp_path / "state.db")  # a SQLite file every host on this machine opens
    first = RaySystem(hosts=2, store=path)
    try:
        ref = first.spawn(count_sync, task="t", name="kept")
        ref.tell(Start("0.2s"))
        wait_until(lambda: ref.ask(GetStats(), timeout=30)["successful_executions"] >= 2, timeout=30)
    finally:
        ran = first.shutdown()["kept"]["successful_executions"]
    second = RaySystem(hosts=2, store=path)
    try:
        again = second.spawn(count_sync, task="t", name="kept")  # a shutdown keeps it started
        wait_until(lambda: again.ask(GetStats(), timeout=30)["successful_executions"] > ran, timeout=30)
        assert again.ask(GetStats(), timeout=30)["is_running"]
        assert len(again.history(100)) > ran  # the first system's runs, from the store
    finally:
        second.shutdown()
