"""Goal verdicts of the runtime's cost under load: CPU per run against the raw floor of the same
shape (a ratio, both measured in the same run), and many agents in one process (absolute, on
the host the run names).

Pure functions from the suite's results to a :class:`~benchmarks.verdict.Goal`, like
:mod:`benchmarks.goals` (which lists them in :func:`benchmarks.goals.evaluate`). A missing or
errored input FAILs "not measured: <what>"; the wasteful contender applies the CPU verdict to a
series built to fail it.
"""

from __future__ import annotations

from benchmarks.reasons import cpu_reason, large_latency_reason, large_resource_reason
from benchmarks.verdict import (CPU_COMPLETE, CPU_CONTENDERS, CPU_FLOOR_OF, CPU_LABELS, CPU_RATIO, LARGE_AGENTS,
                                LARGE_P99_MS, LARGE_RSS_MB, LARGE_SHUTDOWN_S, LARGE_SPAWN_S, Goal, NotMeasured,
                                Result, judged, ms, need)


# -- CPU per run -------------------------------------------------------------------------
def cpu_cost(results: Result, key: str) -> Result:
    """Series ``key`` of the CPU benchmark pooled over its rounds: µs of CPU per run (total CPU /
    total runs), its user and system parts, context switches and collections per run."""
    what = CPU_LABELS[key]
    rounds = need(need(results, "cpu", "the CPU-per-run benchmark"), "rounds", "the CPU-per-run rounds")
    if not rounds:
        raise NotMeasured("the CPU-per-run benchmark: no rounds")
    got = [need(r, key, what) for r in rounds]
    runs: int = sum(need(g, "runs", what) for g in got)
    if not runs:
        raise NotMeasured(f"{what}: no run started in the measured window")

    def per_run(field: str) -> float:  # a per-run figure of each round, weighted by its runs
        total: float = sum(need(g, field, what) * g["runs"] for g in got if g["runs"])
        return total / runs

    return {"us": sum(need(g, "cpu_s", what) for g in got) / runs * 1e6, "runs": runs,
            "expected": sum(need(g, "expected_runs", what) for g in got), "user_us": per_run("user_us_per_run"),
            "sys_us": per_run("sys_us_per_run"), "switches": per_run("switches_per_run"),
            "gc_per_1000": sum(g.get("gc_collections", 0) for g in got) / runs * 1000,
            "rounds_us": [g.get("cpu_us_per_run") for g in got]}


def cpu_goal(results: Result, key: str) -> Goal:
    """CPU per run of ``key`` ≤ 2× that of the raw floor of the same shape, measured alongside,
    with at least 95 % of the expected runs in the window."""
    kind = "async" if key.endswith("_async") else "sync"
    contender = key in CPU_CONTENDERS
    goal = Goal(f"cpu.{key}", f"runtime CPU per run, {kind} agents" if not contender else CPU_LABELS[key],
                f"≤ {CPU_RATIO:g}× the raw floor of the same shape (same run)", contender=contender)

    def judge(goal: Goal) -> None:
        c, f = cpu_cost(results, key), cpu_cost(results, CPU_FLOOR_OF[key])
        if f["us"] <= 0:
            raise NotMeasured(f"{CPU_LABELS[CPU_FLOOR_OF[key]]}: {f['us']:.1f} µs per run is not a measurement")
        complete = c["runs"] >= CPU_COMPLETE * c["expected"]
        goal.ok = c["us"] <= CPU_RATIO * f["us"] and complete
        goal.measured = (f"{c['us']:.0f} µs = {c['us'] / f['us']:.2f}× floor ({f['us']:.0f} µs); "
                         f"{c['switches']:.1f} vs {f['switches']:.1f} context switches per run"
                         + ("" if complete else f"; {c['runs']} of {c['expected']} runs"))
        if not goal.ok:
            goal.why, goal.fix = cpu_reason(c, f, contender)

    return judged(goal, judge)


# -- many agents in one process ------------------------------------------------------------
def large_point(results: Result) -> Result:
    """The many-agents point; a full run that measured fewer than 100,000 agents is not measured."""
    p: Result = need(results, "large", "the many-agents benchmark")
    if "error" in p:
        raise NotMeasured(f"the many-agents benchmark: {p['error']}")
    agents = need(p, "agents", "the many-agents benchmark")
    if results.get("mode") != "quick" and agents < LARGE_AGENTS:
        raise NotMeasured(f"{LARGE_AGENTS:,} agents (only {agents:,} in this run)")
    return p


def _title(p: Result) -> str:
    return f"{p['agents']:,} agents, {p.get('interval_s', 0):g} s interval, one process"


def large_latency_goal(results: Result) -> Goal:
    """Many agents: p99 lateness over the window's ticks ≤ 20 ms, none skipped, none missing."""
    goal = Goal("large.latency", f"{LARGE_AGENTS:,} agents, 60 s interval: p99 lateness",
                f"p99 ≤ {LARGE_P99_MS:.0f} ms (absolute, on this host), 0 skipped, 0 missing")

    def judge(goal: Goal) -> None:
        p = large_point(results)
        goal.name = f"{_title(p)}: p99 lateness"
        what = f"{p['agents']:,} agents"
        p99 = need(need(p, "lateness", f"{what} lateness"), "p99_ms", f"{what} lateness")
        skipped, missing = need(p, "skipped", f"{what} skipped"), need(p, "missing", f"{what} missing runs")
        goal.ok = p99 <= LARGE_P99_MS and skipped == 0 and missing == 0
        goal.measured = f"p99 {ms(p99)} over {p['lateness'].get('n', '?')} ticks, skipped {skipped}, missing {missing}"
        if not goal.ok:
            goal.why, goal.fix = large_latency_reason(p)

    return judged(goal, judge)


def large_resource_goal(results: Result) -> Goal:
    """Many agents: spawn (+ the tell(Start) calls) ≤ 5 s, RSS ≤ 600 MB, shutdown ≤ 5 s, all stopped."""
    goal = Goal("large.resources", f"{LARGE_AGENTS:,} agents, 60 s interval: spawn, RSS, shutdown",
                f"spawn ≤ {LARGE_SPAWN_S:.0f} s, RSS ≤ {LARGE_RSS_MB:.0f} MB, "
                f"shutdown ≤ {LARGE_SHUTDOWN_S:.0f} s (absolute, on this host)")

    def judge(goal: Goal) -> None:
        p = large_point(results)
        goal.name = f"{_title(p)}: spawn, RSS, shutdown"
        what = f"{p['agents']:,} agents"
        spawn = need(p, "spawn_s", f"{what} spawn") + need(p, "tell_s", f"{what} tell(Start)")
        rss, shutdown = need(p, "rss_total_mb", f"{what} RSS"), need(p, "shutdown_s", f"{what} shutdown")
        stopped_ok = need(p, "stopped_ok", f"whether all {what} stopped")
        goal.ok = (spawn <= LARGE_SPAWN_S and rss <= LARGE_RSS_MB and shutdown <= LARGE_SHUTDOWN_S
                   and stopped_ok is True)
        goal.measured = (f"spawn {spawn:.2f} s, RSS {rss:.0f} MB, shutdown {shutdown:.2f} s"
                         + ("" if stopped_ok else ", not every agent stopped"))
        if not goal.ok:
            goal.why, goal.fix = large_resource_reason(p, spawn)

    return judged(goal, judge)


def load_goals(results: Result) -> list[Goal]:
    """The goals of this module in report order, without the contenders."""
    return [cpu_goal(results, "ours_async"), cpu_goal(results, "ours_sync"), large_latency_goal(results),
            large_resource_goal(results)]


def load_contenders(results: Result) -> list[Goal]:
    """The contender goals of this module (each must FAIL)."""
    return [cpu_goal(results, key) for key in CPU_CONTENDERS]
