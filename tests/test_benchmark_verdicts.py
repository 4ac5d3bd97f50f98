"""The benchmark verdicts can fail: synthetic results fed to the goal functions (no timing).

Good numbers PASS; a bad number, a missing measurement or an errored one FAILs; the drifting
contender FAILs the drift goal and the wasteful one the CPU-per-run goal; ratio goals judge the
same on a host 3x slower; every table of the report names its host; a quick run never writes
the tracked docs/benchmarks.md.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks/ is a package at the repo root, not installed
    sys.path.insert(0, str(ROOT))

from benchmarks import goals, report, run  # noqa: E402
from benchmarks.dispatch import _ours_result, grid_pairs, lateness_result  # noqa: E402
from benchmarks.verdict import Goal  # noqa: E402

Result = dict[str, Any]
INTERVAL = 0.02


def summ(median: float, p99: float, n: int = 100, **extra: Any) -> Result:
    return {"n": n, "median_ms": median, "p99_ms": p99, "max_ms": p99, "mean_ms": median, **extra}


def series(p99: float, trend: float = 0.0, skipped: int = 0) -> Result:
    return summ(p99 / 2, p99, ticks=100, interval_ms=20.0, skipped=skipped, switch_interval_ms=5.0,
                drift_tick=100, drift_ms=p99 / 2 + trend, trend_window=25, trend_ms=trend)


def point(shape: str, **extra: Any) -> Result:
    return {"agents": 10000, "shape": shape, "gc_freeze": False, "ticks": 4, "steady": summ(1.0, 1.8),
            "all": summ(1.0, 1.9), "skipped": 0, "missing": 0, "rss_total_mb": 80.0, "rss_per_agent_kb": 5.0,
            "spawn_s": 0.3, "start_s": 0.1, "shutdown_s": 0.6, "threads_max": 20, "cpu_us_per_run": 100.0,
            "gc_collections": 3, "gc_gen2": 0, "gc_total_ms": 5.0, "gc_max_ms": 2.0, "runs": 40000, **extra}


def cpu_series(us: float, runs: int = 4000, switches: float = 1.0) -> Result:
    """One series of one CPU round: ``us`` µs of CPU per run over ``runs`` runs (4,000 expected)."""
    return {"agents": 1000, "ticks": 4, "interval_s": 1.0, "expected_runs": 4000, "runs": runs, "window_s": 4.0,
            "cpu_s": us * runs / 1e6, "cpu_us_per_run": us, "user_us_per_run": us * 0.8,
            "sys_us_per_run": us * 0.2, "switches_per_run": switches, "threads": 3, "gc_collections": 0,
            "gc_total_ms": 0.0, "gc_max_ms": 0.0, "gc_gen2": 0}


def cpu_round() -> Result:
    return {"floor_async": cpu_series(40.0), "ours_async": cpu_series(70.0, switches=1.1),
            "wasteful_async": cpu_series(160.0), "floor_sync": cpu_series(50.0, switches=2.0),
            "ours_sync": cpu_series(90.0, switches=2.5)}


def large() -> Result:
    return {"agents": 100000, "interval_s": 60.0, "ticks": 1, "lateness": summ(0.7, 12.0, n=100000), "missing": 0,
            "skipped": 0, "spawn_s": 3.0, "tell_s": 0.8, "start_lag_s": 0.003, "shutdown_s": 3.0, "stopped_ok": True,
            "threads_max": 20, "threads_before": 1, "rss_total_mb": 500.0, "rss_per_agent_kb": 4.9, "runs": 100000,
            "cpu_s": 10.0, "cpu_us_per_run": 100.0, "gc_collections": 30, "gc_gen2": 1, "gc_total_ms": 40.0,
            "gc_max_ms": 9.0}


def good() -> Result:
    """Results in which every goal of ours passes, and the contender drifts as it does."""
    idle = {"floor_async": series(1.5), "floor_sync": series(1.7), "ours_async": series(1.7),
            "ours_sync": series(2.0), "aps_asyncio_async": series(2.5), "aps_asyncio_sync": series(2.5),
            "aps_background": series(2.4), "naive_sync": series(12.0, trend=9.2)}
    busy = {k: series(v["p99_ms"] * 5) for k, v in idle.items() if k != "naive_sync"}
    return {
        "mode": "quick",
        "machine": {"cores": 2, "cpu": "Test CPU 9000", "python": "3.11.7", "implementation": "CPython",
                    "platform": "Linux", "switch_interval_ms": 5.0, "packages": {}, "commit": "abc", "date": "today"},
        "dispatch": {"idle": idle, "busy": busy},
        "messages": {"tell_ours": summ(0.012, 0.060), "tell_raw": summ(0.011, 0.063),
                     "ask_ours": summ(0.026, 0.190), "ask_raw": summ(0.025, 0.187),
                     "send_ours": summ(0.005, 0.01), "send_raw": summ(0.004, 0.01), "tell_ours_call": summ(0.05, 0.2),
                     "snapshot_us": 5.0},
        "stop": {"backoff": {**{k: summ(0.3, 0.9) for k in ("floor_async", "floor_sync", "ours_async",
                                                            "ours_async_alone", "ours_sync", "ours_sync_alone",
                                                            "aps_asyncio", "aps_background")},
                             "cancelled_ok": True},
                 "shutdown": {"ours": summ(40.0, 43.0, n=1, agents=1000, stopped_ok=True, gc_ms_median=1.0),
                              "floor": summ(5.0, 5.0, n=1, agents=1000),
                              "aps_background": summ(9.0, 9.0, n=1, agents=1000)}},
        "scale": {"points": [point("burst"), point("jitter")],
                  "floors": [{"agents": 10000, "ticks": 4, "steady": summ(1.0, 1.5), "all": summ(1.0, 1.5),
                              "missing": 0}]},
        "cpu": {"rounds": [cpu_round(), cpu_round()]},
        "large": large(),
        "stores": stores(),
        "ray": ray_results(),
    }


def ray_results() -> Result:
    def cap(best: float) -> Result:
        return {"sustained_runs_per_s": best, "points": [{"rate": int(best), "runs_per_s": best, "sustained": True,
                                                          "lateness": summ(0.2, 5.0)}]}
    return {"capacity": {"process": cap(8000.0), "ray1": cap(7000.0), "ray2": cap(14000.0)},
            "spread": {"agents": 10000, "hosts_n": 2, "rate": 10000, "runs_per_s": 9990.0, "sustained": True,
                       "lateness": summ(0.3, 4.0), "spawn_s": 0.5, "start_s": 1.5, "shutdown_s": 0.4,
                       "hosts": [{"rss_mb": 200.0}, {"rss_mb": 210.0}]},
            "recovery": {"kills": 3, "agents_on_host": 100, "interval_s": 0.2, "lateness": summ(800.0, 1000.0),
                         "never_ran_again": 0, "restarts_min": 3}}


def stores() -> Result:
    point_ = {"steady": summ(1.0, 2.0), "cpu_us_per_run": 80.0, "gc_collections": 10, "gc_gen2": 0, "gc_max_ms": 3.0}
    procs = {"agents": 1000, "procs": 4, "seconds": 60.0, "runs": 240000, "duplicates": 0, "lost": 0,
             "lateness": summ(0.5, 9.0)}
    return {"overhead": {"without": dict(point_), "with": {**point_, "steady": summ(1.1, 2.2), "cpu_us_per_run": 90.0}},
            "processes": {"sqlite": dict(procs), "postgresql": dict(procs),
                          "none": {**procs, "agents": 200, "seconds": 10.0, "duplicates": 7000,
                                   "lateness": summ(None, None, n=0)}},  # type: ignore[arg-type]
            "takeover": {k: {"repeats": 5, "taken_over": 5, "lease_s": 2.0, "interval_s": 0.2, **summ(1900.0, 1930.0)}
                         for k in ("sqlite", "postgresql")}}


def by_key(results: Result) -> dict[str, Goal]:
    return {g.key: g for g in goals.evaluate(results)}


OURS = [g.key for g in goals.evaluate(good()) if not g.contender]


def test_good_numbers_pass_every_goal_and_the_contenders_fail_theirs() -> None:
    verdicts = by_key(good())
    assert [k for k in OURS if not verdicts[k].ok] == []
    drifter = verdicts["drift.naive_sync"]
    assert drifter.contender and not drifter.ok
    assert "behind the grid" in drifter.why and drifter.check == "the verdict can fail"
    waster = verdicts["cpu.wasteful_async"]
    assert waster.contender and not waster.ok
    assert "4.00× the floor's 40 µs" in waster.why and waster.check == "the verdict can fail"
    unstored = verdicts["store.processes.none"]
    assert unstored.contender and not unstored.ok and "every process runs every agent" in unstored.why


def test_no_results_at_all_fail_every_goal_as_not_measured() -> None:
    for goal in goals.evaluate({}):
        assert not goal.ok, goal.key
        assert goal.why.startswith("not measured: "), goal.why


# Which goals each top-level section feeds: removing the section must FAIL exactly those.
SECTIONS = {"dispatch": ("dispatch.", "drift."), "messages": ("messages.",), "stop": ("stop.",), "scale": ("scale.",),
            "cpu": ("cpu.",), "large": ("large.",), "stores": ("store.",), "ray": ("ray.",)}


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_a_missing_section_fails_its_goals_and_only_those(section: str) -> None:
    results = good()
    del results[section]
    verdicts = by_key(results)
    for key in OURS:
        fed = key.startswith(SECTIONS[section])
        assert verdicts[key].ok is not fed, key
        if fed:
            assert verdicts[key].why.startswith("not measured: "), verdicts[key].why


def _set(path: str, value: Any) -> Callable[[Result], None]:
    """A mutation of the good results: set the value at a dotted path ("a.b.c"; "-" deletes)."""
    def mutate(results: Result) -> None:
        *parents, last = path.split(".")
        node: Any = results
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        index: Any = int(last) if isinstance(node, list) else last
        if value == "-":
            del node[index]
        else:
            node[index] = value
    return mutate


# (what goes wrong, the mutation, the goal that must FAIL, whether its reason is "not measured")
BAD = [
    ("async p99 over 1.2x its floor", _set("dispatch.idle.ours_async.p99_ms", 1.9), "dispatch.idle.ours_async", False),
    ("busy sync p99 over 1.5x its floor", _set("dispatch.busy.ours_sync.p99_ms", 13.0), "dispatch.busy.ours_sync",
     False),
    ("a peer beats ours", _set("dispatch.idle.aps_background.p99_ms", 1.9), "dispatch.idle.ours_sync", False),
    ("a skipped tick", _set("dispatch.busy.ours_sync.skipped", 1), "dispatch.busy.ours_sync", False),
    ("the floor errored", _set("dispatch.busy.floor_async", {"error": "boom"}), "dispatch.busy.ours_async", True),
    ("a peer missing", _set("dispatch.idle.aps_background", "-"), "dispatch.idle.ours_sync", True),
    ("ours with no samples", _set("dispatch.idle.ours_async", summ(None, None, n=0)), "dispatch.idle.ours_async",  # type: ignore[arg-type]
     True),
    ("skipped not recorded", _set("dispatch.idle.ours_async.skipped", "-"), "dispatch.idle.ours_async", True),
    ("async drift accumulates", _set("dispatch.idle.ours_async.trend_ms", 1.6), "drift.ours_async", False),
    ("sync drift runs early", _set("dispatch.idle.ours_sync.trend_ms", -1.8), "drift.ours_sync", False),
    ("trend not recorded", _set("dispatch.idle.ours_sync.trend_ms", "-"), "drift.ours_sync", True),
    ("trend NaN", _set("dispatch.idle.ours_sync.trend_ms", float("nan")), "drift.ours_sync", True),
    ("tell 2x raw at the median", _set("messages.tell_ours.median_ms", 0.022), "messages.tell", False),
    ("ask 2x raw at p99", _set("messages.ask_ours.p99_ms", 0.4), "messages.ask", False),
    ("raw pykka missing", _set("messages.ask_raw", "-"), "messages.ask", True),
    ("the message child crashed", _set("messages", {"error": "exited 1"}), "messages.tell", True),
    ("stop over 50 ms", _set("stop.backoff.ours_sync_alone.p99_ms", 60.0), "stop.backoff.ours_sync_alone", False),
    ("backoff wait not cancelled", _set("stop.backoff.cancelled_ok", False), "stop.backoff.ours_async", False),
    ("cancellation not recorded", _set("stop.backoff.cancelled_ok", "-"), "stop.backoff.ours_async", True),
    ("shutdown over 50 ms", _set("stop.shutdown.ours.p99_ms", 60.0), "stop.shutdown", False),
    ("an agent still running", _set("stop.shutdown.ours.stopped_ok", False), "stop.shutdown", False),
    ("stopped_ok not recorded", _set("stop.shutdown.ours.stopped_ok", "-"), "stop.shutdown", True),
    ("burst p99 over 1.5x its floor", _set("scale.points.0.steady.p99_ms", 2.5), "scale.burst.latency", False),
    ("no burst floor to judge it by", _set("scale.floors", []), "scale.burst.latency", True),
    ("jitter p99 over 5 ms", _set("scale.points.1.steady.p99_ms", 6.0), "scale.jitter.latency", False),
    ("scale skipped a tick", _set("scale.points.1.skipped", 1), "scale.jitter.latency", False),
    ("scale missed a run", _set("scale.points.1.missing", 3), "scale.jitter.latency", False),
    ("scale RSS over 300 MB", _set("scale.points.0.rss_total_mb", 400.0), "scale.burst.resources", False),
    ("the store doubles the p99", _set("stores.overhead.with.steady.p99_ms", 4.0), "store.overhead", False),
    ("the store costs 20 % CPU", _set("stores.overhead.with.cpu_us_per_run", 96.0), "store.overhead", False),
    ("no run without a store", _set("stores.overhead.without", {"error": "exited 1"}), "store.overhead", True),
    ("one duplicate on SQLite", _set("stores.processes.sqlite.duplicates", 1), "store.processes.sqlite", False),
    ("one lost tick on PostgreSQL", _set("stores.processes.postgresql.lost", 1), "store.processes.postgresql",
     False),
    ("processes p99 over 20 ms", _set("stores.processes.sqlite.lateness.p99_ms", 25.0), "store.processes.sqlite",
     False),
    ("a takeover past lease + tick", _set("stores.takeover.sqlite.max_ms", 2300.0), "store.takeover.sqlite", False),
    ("a kill never taken over", _set("stores.takeover.postgresql.taken_over", 4), "store.takeover.postgresql",
     False),
    ("two hosts only 1.5x one process", _set("ray.capacity.ray2.sustained_runs_per_s", 12000.0), "ray.capacity", False),
    ("Ray could not run (not root)", _set("ray.capacity.ray2", {"error": "not run: needs root"}), "ray.capacity", True),
    ("10,000 agents on Ray over 20 ms", _set("ray.spread.lateness.p99_ms", 25.0), "ray.spread", False),
    ("10,000 agents on Ray spawn over 5 s", _set("ray.spread.spawn_s", 4.0), "ray.spread", False),
    ("an agent never ran after a kill", _set("ray.recovery.never_ran_again", 1), "ray.recovery", False),
    ("a restart not counted", _set("ray.recovery.restarts_min", 2), "ray.recovery", False),
    ("burst spawn + start over 5 s", _set("scale.points.0.start_s", 4.8), "scale.burst.resources", False),
    ("shutdown over 2 s", _set("scale.points.1.shutdown_s", 2.5), "scale.jitter.resources", False),
    ("the scale child timed out", _set("scale.points.1", {"agents": 10000, "shape": "jitter", "gc_freeze": False,
                                                           "error": "did not finish"}), "scale.jitter.latency", True),
    ("a scale point not run", _set("scale.points", []), "scale.burst.resources", True),
    ("async CPU per run over 2x its floor, pooled", _set("cpu.rounds.0.ours_async", cpu_series(95.0)),
     "cpu.ours_async", False),
    ("sync CPU per run over 2x in both rounds", lambda r: [rd.update(ours_sync=cpu_series(101.0)) for rd in
                                                             r["cpu"]["rounds"]], "cpu.ours_sync", False),
    ("too few runs in the CPU window", _set("cpu.rounds.1.ours_sync.runs", 3000), "cpu.ours_sync", False),
    ("the CPU floor errored in one round", _set("cpu.rounds.1.floor_async", {"error": "timed out"}), "cpu.ours_async",
     True),
    ("a CPU series not run", _set("cpu.rounds.0.ours_sync", "-"), "cpu.ours_sync", True),
    ("no CPU round at all", _set("cpu.rounds", []), "cpu.ours_async", True),
    ("no run in the CPU window", lambda r: [rd.update(ours_async=cpu_series(70.0, runs=0)) for rd in
                                            r["cpu"]["rounds"]], "cpu.ours_async", True),
    ("a CPU floor of zero", lambda r: [rd.update(floor_sync=cpu_series(0.0)) for rd in r["cpu"]["rounds"]],
     "cpu.ours_sync", True),
    ("context switches not recorded", _set("cpu.rounds.0.ours_async.switches_per_run", "-"), "cpu.ours_async", True),
    ("the CPU child crashed", _set("cpu", {"error": "exited 1"}), "cpu.ours_sync", True),
    ("100,000 agents: p99 over 20 ms", _set("large.lateness.p99_ms", 25.0), "large.latency", False),
    ("100,000 agents: a skipped tick", _set("large.skipped", 1), "large.latency", False),
    ("100,000 agents: a missing run", _set("large.missing", 2), "large.latency", False),
    ("100,000 agents: lateness not recorded", _set("large.lateness", "-"), "large.latency", True),
    ("100,000 agents: spawn over 5 s", _set("large.spawn_s", 5.5), "large.resources", False),
    ("100,000 agents: tell(Start) pushes spawn over 5 s", _set("large.tell_s", 2.1), "large.resources", False),
    ("100,000 agents: RSS over 600 MB", _set("large.rss_total_mb", 640.0), "large.resources", False),
    ("100,000 agents: shutdown over 5 s", _set("large.shutdown_s", 5.2), "large.resources", False),
    ("100,000 agents: not all stopped", _set("large.stopped_ok", False), "large.resources", False),
    ("100,000 agents: stopped_ok not recorded", _set("large.stopped_ok", "-"), "large.resources", True),
    ("100,000 agents: the child timed out", _set("large", {"agents": 100000, "interval_s": 60.0,
                                                          "error": "did not finish"}), "large.latency", True),
    ("a full run with fewer than 100,000 agents", lambda r: r.update(mode="full", large={**large(), "agents": 10000}),
     "large.resources", True),
]


@pytest.mark.parametrize(("mutate", "key", "unmeasured"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_or_missing_number_fails_its_goal(mutate: Callable[[Result], None], key: str, unmeasured: bool) -> None:
    results = good()
    mutate(results)
    goal = by_key(results)[key]
    assert not goal.ok
    assert goal.why.startswith("not measured: ") is unmeasured, goal.why
    assert goal.fix


def test_an_errored_series_names_its_error() -> None:
    results = good()
    results["dispatch"]["idle"]["ours_sync"] = {"error": "dispatch:ours_sync exited 1: RuntimeError: x"}
    goal = by_key(results)["dispatch.idle.ours_sync"]
    assert not goal.ok and "RuntimeError: x" in goal.why


def test_ratio_verdicts_judge_alike_on_a_host_three_times_slower() -> None:
    slow = good()
    for condition in slow["dispatch"].values():
        for s in condition.values():
            for field in ("median_ms", "p99_ms", "max_ms", "mean_ms", "drift_ms", "trend_ms"):
                s[field] *= 3
    for s in slow["messages"].values():
        if isinstance(s, dict):
            s["median_ms"] *= 3
            s["p99_ms"] *= 3
    for cpu_round_ in slow["cpu"]["rounds"]:
        for c in cpu_round_.values():
            for field in ("cpu_s", "cpu_us_per_run", "user_us_per_run", "sys_us_per_run"):
                c[field] *= 3
    fast, slower = by_key(good()), by_key(slow)
    for key in fast:
        if key.startswith(("dispatch.", "drift.", "messages.", "cpu.")):
            assert fast[key].ok == slower[key].ok, key


def test_a_contender_that_passes_is_reported_as_a_broken_verdict() -> None:
    results = good()
    results["dispatch"]["idle"]["naive_sync"] = series(2.0, trend=0.0)
    goal = by_key(results)["drift.naive_sync"]
    assert goal.ok and goal.check.startswith("BROKEN")


def test_a_cpu_contender_that_passes_is_reported_as_a_broken_verdict() -> None:
    results = good()
    for rd in results["cpu"]["rounds"]:
        rd["wasteful_async"] = cpu_series(60.0)
    goal = by_key(results)["cpu.wasteful_async"]
    assert goal.ok and goal.check.startswith("BROKEN")
    assert "BROKEN: must fail" in report.render_markdown(results, "python -m benchmarks --quick")


@pytest.mark.parametrize(("section", "key"), [("dispatch.idle.naive_sync", "drift.naive_sync"),
                                              ("cpu.rounds.0.wasteful_async", "cpu.wasteful_async")])
def test_an_unmeasured_contender_shows_nothing_about_the_verdict(section: str, key: str) -> None:
    results = good()
    _set(section, "-")(results)
    goal = by_key(results)[key]
    assert not goal.ok and goal.check.startswith("not shown")


def test_cpu_rounds_are_pooled_so_one_noisy_round_does_not_decide_alone() -> None:
    results = good()  # floors 40 µs (async) in both rounds: the goal is 80 µs
    results["cpu"]["rounds"][0]["ours_async"] = cpu_series(90.0)
    results["cpu"]["rounds"][1]["ours_async"] = cpu_series(60.0)
    goal = by_key(results)["cpu.ours_async"]
    assert goal.ok and goal.measured.startswith("75 µs = 1.88× floor (40 µs)")
    results["cpu"]["rounds"][1]["ours_async"] = cpu_series(75.0)
    assert not by_key(results)["cpu.ours_async"].ok


def test_the_cpu_reason_splits_the_extra_cost_and_counts_the_wake_ups() -> None:
    results = good()
    for rd in results["cpu"]["rounds"]:
        rd["ours_sync"] = cpu_series(150.0, switches=4.5)
    why = by_key(results)["cpu.ours_sync"].why
    assert "3.00× the floor's 50 µs" in why and "of the 100 µs more, 80 µs is user time" in why
    assert "4.5 context switches per run against the floor's 2.0" in why


def test_the_many_agents_goals_name_the_point_measured() -> None:
    results = good()
    results["large"] = {**large(), "agents": 10000, "interval_s": 6.0}  # --quick's point, graded as measured
    verdicts = by_key(results)
    assert verdicts["large.latency"].ok and verdicts["large.latency"].name.startswith("10,000 agents, 6 s interval")
    del results["large"]
    assert by_key(results)["large.resources"].name.startswith("100,000 agents, 60 s interval")


def test_the_many_agents_reason_blames_a_gc_pause_longer_than_the_goal() -> None:
    results = good()
    results["large"].update(lateness=summ(0.7, 58.0, n=100000), gc_max_ms=109.0, gc_gen2=1)
    goal = by_key(results)["large.latency"]
    assert not goal.ok and "the longest pause 109.00 ms" in goal.why and "gc.freeze()" in goal.fix
    assert "behind its schedule" not in goal.why  # the starts kept to their schedule (3 ms)
    results["large"]["start_lag_s"] = 0.788
    assert "fell up to 788.00 ms behind its schedule" in by_key(results)["large.latency"].why


def test_the_busy_reason_uses_the_measured_switch_interval() -> None:
    results = good()
    busy = results["dispatch"]["busy"]
    busy["ours_async"]["p99_ms"] = busy["floor_async"]["p99_ms"] * 2
    busy["ours_async"]["switch_interval_ms"] = 2.0
    assert "2.00 ms switch interval" in by_key(results)["dispatch.busy.ours_async"].why
    del busy["ours_async"]["switch_interval_ms"]
    assert "switch interval not recorded" in by_key(results)["dispatch.busy.ours_async"].why


# -- the drift measurement itself, on synthetic call starts --------------------------------
def _fixed_rate(ticks: int, jitter_s: float) -> list[float]:
    return [k * INTERVAL + jitter_s * ((k * 7) % 5) / 4 for k in range(1, ticks + 1)]


def _sleep_after_run(ticks: int, overshoot_s: float) -> list[float]:
    return [k * (INTERVAL + overshoot_s) for k in range(1, ticks + 1)]


def test_a_sleep_after_each_run_loop_fails_drift_and_a_fixed_rate_grid_passes() -> None:
    def drift(starts: list[float]) -> Goal:
        results = good()
        idle = results["dispatch"]["idle"]
        idle["floor_sync"] = lateness_result(grid_pairs(_fixed_rate(100, 0.0012), 0.0, INTERVAL), 100, INTERVAL, 0)
        idle["ours_sync"] = lateness_result(grid_pairs(starts, 0.0, INTERVAL), 100, INTERVAL, 0)
        return by_key(results)["drift.ours_sync"]

    # 100 µs of overshoot per period (time.sleep's usual on Linux): 10 ms behind after 100 ticks.
    assert not drift(_sleep_after_run(100, 0.0001)).ok
    assert drift(_fixed_rate(100, 0.0012)).ok


def test_lateness_is_never_folded_modulo_the_interval() -> None:
    # A loop 1.5 intervals behind at its 10th call is 30 ms late, not 10 ms.
    starts = [k * INTERVAL for k in range(1, 10)] + [10 * INTERVAL + 0.03]
    tick, lateness = grid_pairs(starts, 0.0, INTERVAL)[-1]
    assert tick == 10 and lateness == pytest.approx(0.03)


def test_a_reported_skip_puts_the_next_call_on_its_own_tick() -> None:
    starts = [1 * INTERVAL, 2 * INTERVAL, 4 * INTERVAL + 0.001, 5 * INTERVAL]
    pairs = grid_pairs(starts, 0.0, INTERVAL, skipped=1)
    assert [k for k, _ in pairs] == [1, 2, 4, 5]
    assert pairs[2][1] == pytest.approx(0.001)


def test_a_call_more_than_an_interval_late_is_not_taken_for_the_reported_skip() -> None:
    # Tick 3 ran 25 ms late (next to a busy thread), and tick 7 was really skipped: the skip
    # belongs before the call at 8, or calls 4-6 would read 15 ms early.
    due = [1, 2, 3, 4, 5, 6, 8, 9]
    starts = [k * INTERVAL + (0.025 if k == 3 else 0.002) for k in due]
    pairs = grid_pairs(starts, 0.0, INTERVAL, skipped=1)
    assert [k for k, _ in pairs] == due
    assert min(lateness for _, lateness in pairs) == pytest.approx(0.002)


def test_missed_ticks_unfold_the_grid_and_fail_the_no_skip_goal() -> None:
    # A 57 ms stall: ticks 198 and 199 were over an interval late and dropped (missed); the
    # calls after it are 5 ms late again, not 45 ms (the reading when only skips unfolded it).
    due = [k for k in range(1, 301) if k not in (198, 199)]
    starts = [k * INTERVAL + 0.005 for k in due]
    ours = _ours_result(starts, 0.0, INTERVAL, 300, {"skipped_ticks": 0, "missed_ticks": 2})
    assert ours["skipped"] == 2 and ours["missed"] == 2
    assert ours["p99_ms"] == pytest.approx(5.0) and abs(ours["trend_ms"]) < 0.01
    results = good()
    results["dispatch"]["busy"]["ours_async"] = ours
    goal = by_key(results)["dispatch.busy.ours_async"]
    assert not goal.ok and "2 missed" in goal.why


# -- the report --------------------------------------------------------------------------
def test_every_table_and_the_goals_name_the_host() -> None:
    results = good()
    text = report.render_markdown(results, "python -m benchmarks --quick")
    sections = text.split("\n## ")[1:]
    assert len(sections) >= 8
    for section in sections:
        title, _, body = section.partition("\n\n")
        assert body.startswith("Host: Test CPU 9000, 2 cores, Python 3.11.7"), title
    assert "BROKEN" not in text and "the verdict can fail" in text
    assert "\n## Runtime CPU per run\n" in text and "\n## Many agents in one process\n" in text
    assert "| FAIL (expected) |" in text.split("\n## Runtime CPU per run\n")[1].split("\n## ")[0]


def test_a_report_of_missing_results_renders_every_goal_as_fail() -> None:
    text = report.render_markdown({"mode": "quick"}, "python -m benchmarks --quick")
    n = sum(1 for g in goals.evaluate({}) if not g.contender)
    assert f"**0 of {n} goals pass**" in text
    assert "n/a" not in report.render_text(copy.deepcopy({"mode": "quick"}))


def test_a_quick_run_never_writes_the_tracked_page() -> None:
    assert run.default_out("full") == run.DOC
    assert run.default_out("quick").resolve() != run.DOC.resolve()
    with pytest.raises(SystemExit, match="only the full run"):
        run.check_out("quick", ROOT / "docs" / "benchmarks.md")
    run.check_out("full", run.DOC)


def test_a_failing_series_measured_while_the_host_stole_cpu_says_so() -> None:
    results = good()
    results["dispatch"]["idle"]["ours_async"].update(p99_ms=2.5, steal_pct=12.0)
    results["dispatch"]["idle"]["floor_async"]["steal_pct"] = 0.5
    goal = by_key(results)["dispatch.idle.ours_async"]
    assert not goal.ok and "hypervisor took 12.0 % of a core" in goal.why
    quiet = good()
    quiet["dispatch"]["idle"]["ours_async"].update(p99_ms=2.5, steal_pct=0.4)
    quiet["dispatch"]["idle"]["floor_async"]["steal_pct"] = 0.5
    assert "hypervisor" not in by_key(quiet)["dispatch.idle.ours_async"].why
