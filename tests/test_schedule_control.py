"""Start options and the Pause / Resume / GetHistory messages, the same scenario on every front
end (both schedulers, a plain and an ``async with`` ActorSystem, HTTP), on a virtual clock: the
tick patterns are exact, and nothing waits in real time."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from frontends import FRONTENDS, frontend

from actors import Start
from actors.testing import VirtualClock

pytestmark = pytest.mark.timeout(60)


class Agent:
    """Both kinds of entry point; each run takes ``seconds`` of virtual time, then returns or raises."""

    def __init__(self, clock: VirtualClock, seconds: float = 0.0, fail: bool = False, result: Any = "ok") -> None:
        self.clock, self.seconds, self.fail, self.result = clock, seconds, fail, result
        self.starts: list[float] = []

    def _end(self) -> Any:
        if self.fail:
            raise ConnectionError(f"down at {self.clock.monotonic():g}")
        return self.result

    def run(self, task: str) -> Any:
        self.starts.append(self.clock.monotonic())
        if self.seconds:
            self.clock.sleep(self.seconds)
        return self._end()

    async def arun(self, task: str) -> Any:
        self.starts.append(self.clock.monotonic())
        if self.seconds:
            await self.clock.asleep(self.seconds)
        return self._end()


def outcomes(history: list[dict[str, Any]]) -> list[str]:
    return [entry["outcome"] for entry in reversed(history)]  # oldest first


def assert_history_agrees(stats: dict[str, Any], history: list[dict[str, Any]]) -> None:
    counted = {outcome: sum(1 for e in history if e["outcome"] == outcome) for outcome in ("succeeded", "failed", "cancelled")}
    assert counted == {"succeeded": stats["successful_executions"], "failed": stats["failed_executions"],
                       "cancelled": stats["cancelled_executions"]}
    assert [e["run_id"] for e in history] == sorted((e["run_id"] for e in history), reverse=True)


@pytest.mark.parametrize("kind", FRONTENDS)
@pytest.mark.parametrize(("overlap", "starts", "skipped", "cancelled"), [
    ("skip", [10, 40, 70], 4, 0),
    ("queue_one", [10, 35, 60], 3, 0),
    ("cancel_previous", [10, 23, 33, 43, 53, 63, 73], 0, 6),
])
def test_overlap_gives_the_exact_tick_pattern_for_a_run_of_two_and_a_half_intervals(
        kind: str, overlap: str, starts: list[float], skipped: int, cancelled: int) -> None:
    clock = VirtualClock()
    agent = Agent(clock, seconds=25)
    with frontend(kind, agent, clock) as front:
        assert front.start("10", overlap=overlap) is True
        clock.advance(75)
        stats = front.stats()
        assert agent.starts == starts
        assert stats["skipped_ticks"] == skipped and stats["cancelled_executions"] == cancelled
        assert stats["missed_ticks"] == 0
        history = front.history()
        assert_history_agrees(stats, history)
        if overlap == "queue_one":  # the queued run keeps its tick's due time: it waited 15 s
            assert [round(e["lateness_ms"]) for e in reversed(history)] == [0, 15000]


@pytest.mark.parametrize("kind", FRONTENDS)
def test_pause_after_failures_pauses_after_the_third_failed_execution_and_not_before(
        kind: str, caplog: pytest.LogCaptureFixture) -> None:
    clock = VirtualClock()
    agent = Agent(clock, fail=True)
    with frontend(kind, agent, clock, config={"backoff": {"initial": 1, "jitter": 0}}) as front:
        front.start("10", max_retries=2, pause_after_failures=3)
        clock.advance(25)  # two executions failed (each with its retry 1 s later)
        stats = front.stats()
        assert stats["state"] != "paused" and stats["consecutive_failures"] == 2
        assert stats["failed_executions"] == 2 and stats["paused_reason"] is None
        clock.advance(10)  # the third fails at t = 31
        stats = front.stats()
        assert stats["state"] == "paused" and stats["failed_executions"] == 3 and stats["is_running"] is True
        assert stats["paused_reason"].startswith("paused after 3 failed executions in a row; last error: ConnectionError")
        assert stats["next_run_at"] is None
        assert any("paused after 3 failed executions" in r.getMessage() and r.levelno == logging.WARNING
                   for r in caplog.records)
        clock.advance(60)  # paused: nothing runs, the ticks are missed
        assert len(agent.starts) == 6
        assert front.stats()["missed_ticks"] == 6
        assert front.pause() is False  # already paused
        agent.fail = False
        assert front.resume() is True and front.resume() is False
        clock.advance(10)
        stats = front.stats()
        assert stats["state"] == "idle" and stats["successful_executions"] == 1 and stats["consecutive_failures"] == 0
        assert stats["missed_ticks"] == 6
        assert_history_agrees(stats, front.history())
        assert outcomes(front.history()) == ["failed"] * 3 + ["succeeded"]


@pytest.mark.parametrize("kind", FRONTENDS)
def test_pause_keeps_the_grid_lets_the_run_finish_and_resume_goes_on_from_the_next_tick(kind: str) -> None:
    clock = VirtualClock()
    agent = Agent(clock, seconds=2)
    with frontend(kind, agent, clock) as front:
        assert front.pause() is False  # not running
        front.start("10")
        clock.advance(11)  # the run of t = 10 is in flight
        assert front.pause("deploy") is True
        stats = front.stats()
        assert stats["state"] == "paused" and stats["paused_reason"] == "deploy"
        clock.advance(40)  # t = 51: the run finished (2 s < stop_timeout); 20, 30, 40, 50 missed
        stats = front.stats()
        assert stats["successful_executions"] == 1 and stats["missed_ticks"] == 4
        assert front.run_now() is True  # a manual run still works while paused
        clock.advance(3)
        assert front.resume() is True
        clock.advance(10)  # t = 64: the tick at 60 ran, on the original grid
        assert agent.starts == [10, 51, 60]
        stats = front.stats()
        assert stats["missed_ticks"] == 4 and stats["paused_reason"] is None and stats["state"] == "idle"
        final = front.stop()
        if isinstance(final, dict):
            assert final["state"] == "stopped"
        assert front.pause() is False and front.resume() is False


@pytest.mark.parametrize("kind", FRONTENDS)
def test_pause_ends_a_backoff_wait_at_once_as_a_cancelled_execution(kind: str) -> None:
    clock = VirtualClock()
    agent = Agent(clock, fail=True)
    with frontend(kind, agent, clock) as front:
        front.start("10", max_retries=3)
        clock.advance(11)  # failed once, waiting 5 s to retry
        assert front.stats()["state"] == "backing_off"
        assert front.pause() is True
        clock.advance(30)
        stats = front.stats()
        assert len(agent.starts) == 1 and stats["cancelled_executions"] == 1 and stats["retries"] == 0
        assert outcomes(front.history()) == ["cancelled"]


@pytest.mark.parametrize("kind", FRONTENDS)
@pytest.mark.parametrize(("policy", "runs_at_45", "missed"), [("skip", 0, 3), ("once", 1, 2), ("all", 3, 0)])
def test_catch_up_after_a_stall(kind: str, policy: str, runs_at_45: int, missed: int) -> None:
    clock = VirtualClock()
    agent = Agent(clock)
    with frontend(kind, agent, clock) as front:
        front.start("10", catch_up=policy)
        clock.advance(10)
        clock.stall(35)  # frozen from 10 to 45: the ticks at 20, 30 and 40 cannot run on time
        clock.advance(10)
        assert agent.starts == [10] + [45] * runs_at_45 + [50]
        stats = front.stats()
        assert stats["missed_ticks"] == missed and stats["skipped_ticks"] == 0
        history = list(reversed(front.history()))
        # Each catch-up run keeps the due time of the tick it stands for.
        assert [round(e["lateness_ms"] / 1000) for e in history] == [0] + [25, 15, 5][:runs_at_45] + [0]


@pytest.mark.parametrize("kind", FRONTENDS)
def test_max_runs_finishes_the_schedule_and_a_later_start_runs_it_again(kind: str) -> None:
    clock = VirtualClock()
    agent = Agent(clock)
    with frontend(kind, agent, clock) as front:
        assert front.start("10", max_runs=2, run_immediately=True) is True
        clock.advance(50)
        stats = front.stats()
        assert agent.starts == [0, 10]
        assert stats["state"] == "finished" and stats["is_running"] is False and stats["next_run_at"] is None
        assert front.pause() is False
        assert front.start("10", max_runs=1) is True
        clock.advance(10)
        assert agent.starts == [0, 10, 60] and front.stats()["state"] == "finished"


@pytest.mark.parametrize("kind", FRONTENDS)
def test_one_shots_run_once_then_finish(kind: str) -> None:
    clock = VirtualClock(start=1_800_000_000.0)
    agent = Agent(clock, result="x" * 5000)
    with frontend(kind, agent, clock, config={"timezone": "UTC"}) as front:
        front.start("in 90s")
        clock.advance(89)
        assert agent.starts == []
        clock.advance(1000)
        assert agent.starts == [90]
        (entry,) = front.history()
        assert entry["outcome"] == "succeeded" and len(entry["result"]) == 1000
        assert entry["scheduled_for"] == pytest.approx(1_800_000_090.0)
        assert front.stats()["state"] == "finished"
        # 1_800_000_000 is 2027-01-15 08:00 UTC; a naive time is in the agent's zone.
        front.start("at:2027-01-15 09:00")
        clock.advance(3600)
        assert agent.starts[-1] == pytest.approx(90 + 1000 + (3600 - 90 - 1000))
        with pytest.raises(ValueError, match="that time has passed"):
            front.start("at:2027-01-15 08:00")


@pytest.mark.parametrize("kind", FRONTENDS)
@pytest.mark.parametrize(("option", "value"), [("overlap", "sometimes"), ("catch_up", "never"), ("jitter", -1),
                                               ("max_runs", 0), ("pause_after_failures", 0), ("jitter", 10)])
def test_bad_option_values_raise_value_error_naming_the_value(kind: str, option: str, value: Any) -> None:
    clock = VirtualClock()
    with frontend(kind, Agent(clock), clock) as front:
        with pytest.raises(ValueError, match=f"{option}.*{value}"):
            front.start("10", **{option: value})
        assert front.stats()["is_running"] is False


def test_jitter_delays_each_tick_within_its_bound_and_a_seed_repeats_it() -> None:
    def scheduled(seed: int) -> list[float]:
        clock = VirtualClock(seed=seed)
        with frontend("sync_scheduler", Agent(clock), clock) as front:
            front.start("10", jitter=4)
            clock.advance(105)
            return [round(e["scheduled_for"] - clock.now() + 105, 6) for e in reversed(front.history())]

    first = scheduled(1)
    assert len(first) == 10
    for k, due in enumerate(first, start=1):
        assert 10 * k <= due < 10 * k + 4
    assert len({round(due % 10, 6) for due in first}) > 1  # drawn anew each tick
    assert scheduled(1) == first and scheduled(2) != first


def test_history_keeps_the_last_hundred_newest_first_with_every_field() -> None:
    clock = VirtualClock()
    with frontend("system", Agent(clock), clock) as front:
        front.start("1")
        clock.advance(150)
        history = front.history(1000)
        assert len(history) == 100 and history[0]["run_id"] == 150 and history[-1]["run_id"] == 51
        assert set(history[0]) == {"run_id", "scheduled_for", "started_at", "finished_at", "outcome", "attempts",
                                   "error", "result", "lateness_ms", "node"}
        assert front.history(3) == history[:3]
        assert history[0]["node"] == front.stats()["node"] and ":" in history[0]["node"]
    with pytest.raises(ValueError, match="limit"):
        from actors import GetHistory
        GetHistory(0)


def test_a_stop_records_the_interrupted_run_as_cancelled() -> None:
    clock = VirtualClock()

    def agent(task: str, cancel_token: Any) -> None:  # it sees the stop, so its run was interrupted
        clock.sleep(100)

    with frontend("sync_scheduler", agent, clock) as front:
        front.start("10")
        clock.advance(11)
        front.stop()
        (entry,) = front.history()
        assert entry["outcome"] == "cancelled" and entry["attempts"] == 1


def test_start_options_are_words_and_validated_on_the_message() -> None:
    start = Start("5m", overlap="queue_one", catch_up="all", jitter=2, max_runs=3, pause_after_failures=2)
    assert (start.overlap, start.catch_up, start.jitter) == ("queue_one", "all", 2.0)
    with pytest.raises(TypeError):
        Start("5m", overlap=1)  # type: ignore[arg-type]
