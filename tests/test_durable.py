"""Schedules that survive their process: resume with catch-up, and one runner per agent name
among the processes (and systems) sharing a store. Real SQLite files; virtual time where a
downtime must pass, real processes killed with SIGKILL where a death must happen."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from actors import ActorSystem, AgentScheduler, AsyncAgentScheduler, CatchUp, Pause, Start, Stop
from actors.store import DesiredState, open_store
from actors.testing import VirtualClock
from tests.conftest import run, wait_until

HOUR = 3600.0


def report(task: str) -> str:
    return f"report on {task}"


@pytest.fixture(params=["sqlite", "postgresql"])
def path(request: pytest.FixtureRequest, tmp_path: str) -> str:
    """The store every system and process of a test shares: a SQLite file or a PostgreSQL database."""
    return str(tmp_path / "state.db") if request.param == "sqlite" else str(request.getfixturevalue("postgres_url"))


def first_process(path: str, clock: VirtualClock, start: Start, hours: int = 3) -> None:
    with ActorSystem(store=path, clock=clock, node="first") as system:
        ref = system.spawn(report, task="news", name="news")
        assert ref.ask(start) is True
        clock.advance(hours * HOUR)
        assert ref.stats()["successful_executions"] == hours


def test_a_new_process_resumes_the_schedule_with_its_counters_and_history(path: str) -> None:
    clock = VirtualClock()
    first_process(path, clock, Start("1h"))
    with ActorSystem(store=path, clock=clock, node="second") as system:
        ref = system.spawn(report, task="news", name="news")  # no Start: it was started
        clock.advance(2 * HOUR)
        stats = ref.stats()
        assert (stats["is_running"], stats["successful_executions"], stats["missed_ticks"]) == (True, 5, 0)
        history = ref.history(10)
        assert [h["run_id"] for h in history] == [5, 4, 3, 2, 1]
        assert [h["node"] for h in history] == ["second", "second", "first", "first", "first"]
        assert history[0]["result"] == "'report on news'"


def test_the_same_start_is_a_no_op_and_another_one_replaces_the_schedule(path: str) -> None:
    clock = VirtualClock()
    first_process(path, clock, Start("1h"))
    with ActorSystem(store=path, clock=clock) as system:
        ref = system.spawn(report, task="news", name="news")
        assert ref.ask(Start("1h")) is False
        assert ref.ask(Start("1h", max_retries=5)) is True  # other options: the stored one is replaced
        clock.advance(HOUR)
    store = open_store(path)
    try:
        record = store.load("news")
        assert record is not None and record.start is not None and record.start["max_retries"] == 5
    finally:
        store.close()


def test_a_stop_is_kept_and_a_shutdown_is_not(path: str) -> None:
    clock = VirtualClock()
    first_process(path, clock, Start("1h"))
    with ActorSystem(store=path, clock=clock) as system:
        ref = system.spawn(report, task="news", name="news")
        assert ref.stats()["is_running"] is True
        ref.ask(Stop())
    with ActorSystem(store=path, clock=clock) as system:
        ref = system.spawn(report, task="news", name="news")
        clock.advance(2 * HOUR)
        assert ref.stats()["is_running"] is False and ref.stats()["successful_executions"] == 3


@pytest.mark.parametrize(("catch_up", "runs", "missed"), [
    (CatchUp.SKIP, 0, 5),   # the five hourly ticks of the downtime are missed
    (CatchUp.ONCE, 1, 4),   # one run stands for them
    (CatchUp.ALL, 5, 0),    # each of them runs, in order
])
def test_catch_up_decides_about_the_ticks_of_a_downtime(path: str, catch_up: CatchUp, runs: int,
                                                         missed: int) -> None:
    clock = VirtualClock()
    first_process(path, clock, Start("1h", catch_up=catch_up))
    clock.advance(5 * HOUR)  # nobody runs it: the ticks of hours 4 to 8 fall
    with ActorSystem(store=path, clock=clock) as system:
        ref = system.spawn(report, task="news", name="news")
        clock.advance(1)
        stats = ref.stats()
        assert (stats["successful_executions"], stats["missed_ticks"]) == (3 + runs, missed)
        clock.advance(HOUR)  # then the grid goes on: the tick of hour 9
        assert ref.stats()["successful_executions"] == 4 + runs


def test_a_paused_schedule_resumes_paused_and_counts_its_missed_ticks(path: str) -> None:
    clock = VirtualClock()
    with ActorSystem(store=path, clock=clock) as system:
        ref = system.spawn(report, task="news", name="news")
        ref.ask(Start("1h"))
        clock.advance(HOUR)
        assert ref.ask(Pause("maintenance")) is True
    clock.advance(3 * HOUR)
    with ActorSystem(store=path, clock=clock) as system:
        ref = system.spawn(report, task="news", name="news")
        clock.advance(1)
        stats = ref.stats()
        assert (stats["state"], stats["paused_reason"], stats["successful_executions"]) == ("paused", "maintenance", 1)
        assert stats["missed_ticks"] >= 3


def test_a_second_system_on_the_store_waits_then_takes_over_when_the_first_leaves(path: str) -> None:
    runs: list[str] = []
    first = ActorSystem(store=path, node="first", lease_seconds=0.6)
    second = ActorSystem(store=path, node="second", lease_seconds=0.6)
    try:
        a = first.spawn(lambda task: runs.append("first"), task="t", name="news")
        a.ask(Start("0.05"))
        b = second.spawn(lambda task: runs.append("second"), task="t", name="news")
        assert b.ask(Start("0.05")) is False  # the first holds the lease: this one only waits
        wait_until(lambda: runs.count("first") >= 3)
        assert "second" not in runs
        first.shutdown()  # releases the lease: the second takes the schedule up from the store
        wait_until(lambda: "second" in runs, timeout=10)
        stats = b.stats()
        assert stats["is_running"] is True and stats["node"] == "second"
        assert stats["successful_executions"] >= runs.count("first")
    finally:
        first.shutdown()
        second.shutdown()


def test_the_store_keeps_the_state_each_command_asked_for(path: str) -> None:
    clock = VirtualClock()
    with ActorSystem(store=path, clock=clock) as system:
        ref = system.spawn(report, task="news", name="news")
        store = open_store(path)
        try:
            def state() -> DesiredState | None:
                record = store.load("news")
                return None if record is None else record.state

            ref.ask(Start("1h"))
            wait_until(lambda: state() is DesiredState.STARTED)
            ref.ask(Stop())
            wait_until(lambda: state() is DesiredState.STOPPED)
        finally:
            store.close()


# -- processes -----------------------------------------------------------------------------
WORKER = textwrap.dedent('''
    import os, sys, time
    from actors import ActorSystem, Start
    path, log, names = sys.argv[1], sys.argv[2], sys.argv[3].split(",")

    def make(name):
        def agent(task):
            with open(log, "a") as f:
                f.write(f"{name} {os.getpid()} start\\n")
            time.sleep(float(os.environ.get("RUN_S", "0")))
        return agent

    system = ActorSystem(store=path, lease_seconds=1.0)
    for name in names:
        system.spawn(make(name), task="t", name=name).tell(Start("0.2"))
    print("ready", flush=True)
    sys.stdin.read()  # until the test closes it (or kills this process)
    system.shutdown()
''')


@pytest.fixture
def workers(tmp_path: str) -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


def spawn_worker(procs: list[subprocess.Popen[str]], path: str, log: pathlib.Path, names: list[str],
                 run_s: float = 0.0) -> subprocess.Popen[str]:
    env = {**os.environ, "RUN_S": str(run_s), "PYTHONPATH": str(pathlib.Path(__file__).resolve().parent.parent)}
    proc = subprocess.Popen([sys.executable, "-c", WORKER, str(path), str(log), ",".join(names)], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    procs.append(proc)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def runners(log: pathlib.Path) -> dict[str, set[int]]:
    """The pids that ran each agent, from the agents' own side effects."""
    seen: dict[str, set[int]] = {}
    if log.exists():
        for line in log.read_text().splitlines():
            name, pid, _ = line.split()
            seen.setdefault(name, set()).add(int(pid))
    return seen


@pytest.mark.timeout(60)
def test_three_processes_run_each_agent_in_one_of_them_and_a_killed_ones_agents_go_on(
        path: str, tmp_path: str, workers: list[subprocess.Popen[str]]) -> None:
    log = tmp_path / "runs.log"
    names = [f"agent{i}" for i in range(6)]
    procs = [spawn_worker(workers, path, log, names) for _ in range(3)]
    wait_until(lambda: all(len(runners(log).get(n, ())) == 1 and log.read_text().count(f"{n} ") >= 3 for n in names),
               timeout=20)
    assert all(len(pids) == 1 for pids in runners(log).values())  # one process runs each agent
    owner = next(iter(runners(log)[names[0]]))
    victim = next(p for p in procs if p.pid == owner)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    mine = {n for n, pids in runners(log).items() if owner in pids}
    wait_until(lambda: all(len(runners(log)[n]) == 2 for n in mine), timeout=20)  # taken over by a survivor
    for other in procs:
        if other is not victim and other.stdin is not None:
            other.stdin.close()  # a clean shutdown
    for other in procs:
        assert other.wait(20) in (0, -signal.SIGKILL)


@pytest.mark.timeout(60)
def test_a_run_cut_short_by_a_kill_is_interrupted_in_the_history(
        path: str, tmp_path: str, workers: list[subprocess.Popen[str]]) -> None:
    log = tmp_path / "runs.log"
    victim = spawn_worker(workers, path, log, ["slow"], run_s=30.0)
    wait_until(lambda: "slow" in runners(log), timeout=20)  # its first run is in flight
    wait_until(lambda: _running_recorded(path), timeout=5)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    with ActorSystem(store=path, lease_seconds=1.0) as system:
        ref = system.spawn(lambda task: None, task="t", name="slow")
        wait_until(lambda: ref.stats()["interrupted_executions"] == 1, timeout=10)
        outcomes = [h["outcome"] for h in ref.history(5)]
        assert "interrupted" in outcomes


def _running_recorded(path: str) -> bool:
    store = open_store(path)
    try:
        record = store.load("slow")
        return record is not None and record.counters.get("running") is not None
    finally:
        store.close()


# -- the schedulers ------------------------------------------------------------------------
def test_a_scheduler_with_a_store_keeps_its_counters_across_a_stop_and_a_new_scheduler(path: str) -> None:
    clock = VirtualClock()
    config = {"store": path, "name": "news", "clock": clock}
    first = AgentScheduler(report, "news", config=config)
    first.start("1h")
    clock.advance(2 * HOUR)
    first.stop()
    second = AgentScheduler(report, "news", config=config)
    assert second.get_stats()["successful_executions"] == 0  # nothing read before its start()
    second.start("1h")
    clock.advance(HOUR)
    stats = second.get_stats()
    assert (stats["successful_executions"], [h["run_id"] for h in second.get_history(5)]) == (3, [3, 2, 1])
    second.stop()


SCHEDULER = textwrap.dedent('''
    import sys
    from actors import AgentScheduler
    runs = []
    scheduler = AgentScheduler(lambda task: runs.append(1), "t", config={"store": sys.argv[1], "name": "news"})
    scheduler.start("0.1")
    while len(runs) < 3:
        __import__("time").sleep(0.01)
    # the interpreter exits without stop(): the schedule stays started in the store
''')


@pytest.mark.timeout(60)
def test_a_scheduler_started_again_after_its_process_exited_takes_the_stored_schedule_up(path: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(pathlib.Path(__file__).resolve().parent.parent)}
    subprocess.run([sys.executable, "-c", SCHEDULER, path], env=env, check=True, timeout=30)
    scheduler = AsyncAgentScheduler(report, "news", config={"store": path, "name": "news"})

    async def main() -> dict[str, object]:
        await scheduler.start("0.1")  # the same Start: the stored schedule, with its counters
        stats = await scheduler.get_stats()
        await scheduler.stop()
        return stats

    stats = run(main)
    assert stats["is_running"] is True and int(stats["successful_executions"]) >= 3  # type: ignore[call-overload]


@pytest.mark.timeout(90)
def test_four_uvicorn_workers_with_a_store_run_each_tick_in_one_of_them(tmp_path: pathlib.Path) -> None:
    runs = tmp_path / "runs"
    env = {**os.environ, "RUNS_FILE": str(runs), "ACTORSCHED_STORE": str(tmp_path / "state.db"),
           "PYTHONPATH": str(pathlib.Path(__file__).resolve().parent.parent)}
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "tests.workers_app:app", "--workers", "4",
                               "--host", "127.0.0.1", "--port", "0", "--log-level", "warning"], env=env,
                              start_new_session=True)
    try:
        wait_until(lambda: runs.exists() and len(runs.read_text().split()) >= 20, timeout=60)
        assert len(set(runs.read_text().split())) == 1  # one worker ran every tick
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # uvicorn's supervisor and its four workers
        server.wait(30)


@pytest.mark.timeout(60)
def test_counters_a_kill_left_behind_the_history_are_read_back_from_it(
        path: str, tmp_path: pathlib.Path, workers: list[subprocess.Popen[str]]) -> None:
    log = tmp_path / "runs.log"
    victim = spawn_worker(workers, path, log, ["quick"])
    wait_until(lambda: log.exists() and log.read_text().count("quick ") >= 8, timeout=20)  # within 5 s: the
    victim.send_signal(signal.SIGKILL)  # counters were written at the Start only, each run's entry at once
    victim.wait(10)
    ran = log.read_text().count("quick ")
    with ActorSystem(store=path, lease_seconds=1.0) as system:
        ref = system.spawn(lambda task: None, task="t", name="quick")
        wait_until(lambda: ref.stats()["is_running"], timeout=10)
        stats, history = ref.stats(), ref.history(100)
        succeeded = [h["run_id"] for h in history if h["outcome"] == "succeeded"]
        assert succeeded[-1] == 1 and succeeded == sorted(succeeded, reverse=True)  # every run since the first
        assert stats["successful_executions"] >= len(succeeded) >= ran - 2  # a kill loses ~100 ms of writes


def test_a_system_in_standby_never_overwrites_what_the_owner_keeps(path: str) -> None:
    clock = VirtualClock()
    owner = ActorSystem(store=path, clock=clock, node="owner")
    try:
        ref = owner.spawn(report, task="news", name="news")
        ref.ask(Start("1h"))
        clock.advance(3 * HOUR)
        with ActorSystem(store=path, clock=clock, node="standby") as standby:
            waiting = standby.spawn(report, task="news", name="news")
            assert waiting.ask(Start("1h", max_retries=7)) is False and waiting.ask(Stop())["is_running"] is False
        owner.shutdown()
        store = open_store(path)
        try:
            record = store.load("news")
            assert record is not None
            assert (record.state, record.start and record.start["max_retries"]) == (DesiredState.STARTED, 3)
            assert record.counters["successful_executions"] == 3 and record.next_due is not None
        finally:
            store.close()
    finally:
        owner.shutdown()
