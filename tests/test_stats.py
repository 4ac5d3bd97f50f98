"""The stats record (actors.stats.Stats) and the public messages (actors.messages)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.messages import GetStats, RunNow, Start, Stop
from actors.schedule import CronSchedule, IntervalSchedule
from actors.stats import Stats

FAST = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

DESIGN_KEYS = {
    "is_running",
    "total_executions",
    "successful_executions",
    "failed_executions",
    "success_rate",
    "total_attempts",
    "retries",
    "skipped_ticks",
    "last_run_at",
    "next_run_at",
    "last_error",
    "runtime_seconds",
}
EXTRA_KEYS = {"cancelled_executions", "abandoned_runs"}


# An execution: how many attempts it made, how it ended, and how many ticks were skipped
# while each attempt was in flight.
executions = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=5),
        st.sampled_from(["success", "failure", "cancel"]),
        st.lists(st.integers(min_value=0, max_value=3), min_size=5, max_size=5),
        st.integers(min_value=0, max_value=2),  # ticks skipped between executions
    ),
    max_size=25,
)


@pytest.mark.timeout(60)
@FAST
@given(executions)
def test_counters_stay_consistent_over_any_legal_sequence(plan: list[tuple[int, str, list[int], int]]) -> None:
    stats = Stats()
    stats.started(0.0)
    model = {"success": 0, "failure": 0, "cancel": 0, "attempts": 0, "skipped": 0}
    clock = 1_700_000_000.0
    last_error: str | None = None

    for n_attempts, outcome, skips_in_flight, skips_between in plan:
        for i in range(n_attempts):
            clock += 1.0
            stats.attempt_started(first=(i == 0), now_wall=clock)
            model["attempts"] += 1
            assert stats.last_run_at == clock
            stats.skipped(skips_in_flight[i])
            model["skipped"] += skips_in_flight[i]
            last_attempt = i == n_attempts - 1
            if not last_attempt or outcome == "failure":
                error = RuntimeError(f"attempt {model['attempts']} failed")
                stats.attempt_failed(error)
                last_error = repr(error)
                if last_attempt:
                    stats.failed(error)
            elif outcome == "success":
                stats.succeeded()
        if outcome == "cancel":
            stats.cancelled()
        model[outcome] += 1

        if skips_between:
            stats.skipped(skips_between)
            model["skipped"] += skips_between

        # Checked after each execution ended (nothing in flight).
        assert stats.successful_executions == model["success"]
        assert stats.failed_executions == model["failure"]
        assert stats.cancelled_executions == model["cancel"]
        assert stats.total_executions == stats.successful_executions + stats.failed_executions
        assert stats.total_attempts == model["attempts"]
        assert stats.retries == stats.total_attempts - stats.total_executions - stats.cancelled_executions
        assert stats.skipped_ticks == model["skipped"]
        assert stats.last_error == last_error
        finished = model["success"] + model["failure"]
        if finished:
            assert stats.success_rate == pytest.approx(100.0 * model["success"] / finished)
        else:
            assert stats.success_rate == 0.0

        snap = stats.snapshot(now_mono=5.0, is_running=True)
        assert snap["total_executions"] == stats.total_executions
        assert snap["retries"] == stats.retries
        assert snap["cancelled_executions"] == model["cancel"]
        assert snap["success_rate"] == stats.success_rate
        assert snap["skipped_ticks"] == model["skipped"]


@pytest.mark.timeout(30)
def test_success_rate_is_zero_before_anything_finished_then_percent() -> None:
    stats = Stats()
    assert stats.success_rate == 0.0
    stats.attempt_started(first=True, now_wall=1.0)
    assert stats.success_rate == 0.0  # in flight, not finished
    stats.cancelled()
    assert stats.success_rate == 0.0  # a cancelled run is not an execution
    for outcome in ["ok", "ok", "ok", "fail"]:
        stats.attempt_started(first=True, now_wall=2.0)
        if outcome == "ok":
            stats.succeeded()
        else:
            stats.failed(ValueError("x"))
    assert stats.success_rate == 75.0
    assert stats.snapshot(0.0, is_running=False)["success_rate"] == 75.0


@pytest.mark.timeout(30)
def test_retry_then_success_counts_one_execution_and_one_retry() -> None:
    stats = Stats()
    stats.attempt_started(first=True, now_wall=10.0)
    stats.attempt_failed(TimeoutError())
    stats.attempt_started(first=False, now_wall=20.0)
    stats.succeeded()
    snap = stats.snapshot(0.0, is_running=True)
    assert snap["total_executions"] == 1
    assert snap["successful_executions"] == 1
    assert snap["total_attempts"] == 2
    assert snap["retries"] == 1
    assert snap["last_run_at"] == 20.0
    assert snap["last_error"] == "TimeoutError()"  # the failed attempt is still reported


@pytest.mark.timeout(30)
def test_last_error_is_repr_of_the_exception() -> None:
    stats = Stats()
    assert stats.snapshot(0.0, is_running=False)["last_error"] is None
    stats.attempt_started(first=True, now_wall=1.0)
    stats.failed(ValueError("rate limited: 429"))
    assert stats.snapshot(0.0, is_running=False)["last_error"] == "ValueError('rate limited: 429')"


@pytest.mark.timeout(30)
def test_runtime_seconds_counts_from_start_and_freezes_at_stop() -> None:
    stats = Stats()
    assert stats.runtime_seconds(123.0) == 0.0  # never started
    stats.started(100.0)
    assert stats.runtime_seconds(100.0) == 0.0
    assert stats.runtime_seconds(130.0) == 30.0
    stats.stopped(150.0)
    assert stats.runtime_seconds(150.0) == 50.0
    assert stats.runtime_seconds(10_000.0) == 50.0
    assert stats.snapshot(10_000.0, is_running=False)["runtime_seconds"] == 50.0
    stats.stopped(200.0)  # a second stop does not move it
    assert stats.runtime_seconds(10_000.0) == 50.0
    # A restart keeps the counters and restarts the runtime clock.
    stats.attempt_started(first=True, now_wall=1.0)
    stats.succeeded()
    stats.started(1000.0)
    assert stats.runtime_seconds(1005.0) == 5.0
    assert stats.successful_executions == 1


@pytest.mark.timeout(30)
def test_next_run_at_is_reported_only_while_running() -> None:
    stats = Stats()
    stats.started(0.0)
    stats.next_run_at = 1_700_000_060.0
    assert stats.snapshot(1.0, is_running=True)["next_run_at"] == 1_700_000_060.0
    assert stats.snapshot(1.0, is_running=False)["next_run_at"] is None
    stats.stopped(2.0)
    assert stats.snapshot(3.0, is_running=True)["next_run_at"] is None


@pytest.mark.timeout(30)
def test_snapshot_has_every_documented_key() -> None:
    snap = Stats().snapshot(0.0, is_running=False)
    assert DESIGN_KEYS | EXTRA_KEYS <= set(snap)
    assert snap["is_running"] is False
    assert snap["last_run_at"] is None
    assert snap["next_run_at"] is None
    assert snap["last_error"] is None
    for key in ("total_executions", "successful_executions", "failed_executions", "total_attempts",
                "retries", "skipped_ticks", "cancelled_executions", "abandoned_runs"):
        assert snap[key] == 0, key
    assert snap["success_rate"] == 0.0
    assert snap["runtime_seconds"] == 0.0
    assert Stats().snapshot(0.0, is_running=True)["is_running"] is True


@pytest.mark.timeout(30)
def test_snapshot_is_a_copy() -> None:
    stats = Stats()
    snap = stats.snapshot(0.0, is_running=True)
    stats.attempt_started(first=True, now_wall=1.0)
    stats.succeeded()
    assert snap["total_executions"] == 0
    assert stats.snapshot(0.0, is_running=True)["total_executions"] == 1


# --------------------------------------------------------------------------- messages


@pytest.mark.timeout(30)
@pytest.mark.parametrize("expr", ["bogus", "", "0", "-5", "nan", "* * * * *"])
def test_start_with_bad_schedule_raises_value_error(expr: str) -> None:
    with pytest.raises(ValueError, match="closest forms"):
        Start(expr)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("max_retries", [0, -1])
def test_start_with_max_retries_below_one_raises_value_error(max_retries: int) -> None:
    with pytest.raises(ValueError, match="max_retries"):
        Start("*/5m", max_retries=max_retries)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("max_retries", [1.5, "3", True, None])
def test_start_with_non_int_max_retries_raises_type_error(max_retries: object) -> None:
    with pytest.raises(TypeError, match="max_retries"):
        Start("*/5m", max_retries=max_retries)  # type: ignore[arg-type]


@pytest.mark.timeout(30)
def test_start_carries_the_parsed_schedule() -> None:
    start = Start("*/5m", max_retries=2, run_immediately=True)
    assert isinstance(start.schedule, IntervalSchedule)
    assert start.schedule.seconds == 300.0
    assert (start.expr, start.max_retries, start.run_immediately) == ("*/5m", 2, True)
    assert Start("*/5m").max_retries == 3
    assert Start("*/5m").run_immediately is False
    assert isinstance(Start("@daily").schedule, CronSchedule)
    assert Start("*/5m") == Start("*/5m")


@pytest.mark.timeout(30)
def test_start_is_frozen() -> None:
    start = Start("*/5m")
    with pytest.raises(dataclasses.FrozenInstanceError):
        start.expr = "bogus"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        start.max_retries = 0  # type: ignore[misc]
    assert start.expr == "*/5m"


@pytest.mark.timeout(30)
@pytest.mark.parametrize("cls", [Stop, RunNow, GetStats])
def test_other_messages_are_frozen_and_equal(cls: type) -> None:
    assert cls() == cls()
    assert dataclasses.is_dataclass(cls)
    with pytest.raises((dataclasses.FrozenInstanceError, AttributeError, TypeError)):
        cls().anything = 1  # type: ignore[attr-defined]


@pytest.mark.timeout(10)
@pytest.mark.parametrize("bad", [0.5, "3", None, True])
def test_max_retries_of_the_wrong_type_is_a_value_error_too(bad: object) -> None:
    with pytest.raises(ValueError):
        Start("1", max_retries=bad)  # type: ignore[arg-type]


@pytest.mark.timeout(10)
def test_run_immediately_accepts_json_style_zero_and_one() -> None:
    assert Start("1", run_immediately=1).run_immediately is True  # type: ignore[arg-type]
    assert Start("1", run_immediately=0).run_immediately is False  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Start("1", run_immediately="yes")  # type: ignore[arg-type]
