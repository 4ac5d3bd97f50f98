"""Goals of the stores (issue 12): what a SQLite store costs 10,000 agents, many processes on
one store (duplicates, lost ticks, lateness), and the takeover after a kill. Results come from
:mod:`benchmarks.store` and a store-backed :func:`benchmarks.scale.run`, under ``results["stores"]``.
The contender, the same processes without a store, must FAIL the duplicates goal.
"""

from __future__ import annotations

from benchmarks.verdict import Goal, NotMeasured, Result, judged, ms, need

__all__ = ["store_contenders", "store_goals"]

STORE_P99_RATIO = 1.2  # p99 lateness with a store / without, same run
STORE_CPU_RATIO = 1.15  # CPU per run with a store / without
PROCESSES_P99_MS = 20.0
KINDS = ("sqlite", "postgresql")


def _stores(results: Result) -> Result:
    stores: Result = need(results, "stores", "the store benchmarks")
    return stores


def overhead_goal(results: Result) -> Goal:
    """10,000 agents at 1 s (spread): p99 ≤ 1.2× and CPU ≤ 1.15× the same run without a store."""
    goal = Goal("store.overhead", "10,000 agents at 1 s with a SQLite store: p99 lateness, CPU per run",
                f"p99 ≤ {STORE_P99_RATIO}× and CPU ≤ {STORE_CPU_RATIO}× the same run without a store (same run)")

    def judge(goal: Goal) -> None:
        o = need(_stores(results), "overhead", "the store overhead")
        with_, without = need(o, "with", "the run with a store"), need(o, "without", "the run without a store")
        p99 = need(need(with_, "steady", "lateness with a store"), "p99_ms", "p99 with a store")
        base = need(need(without, "steady", "lateness without a store"), "p99_ms", "p99 without a store")
        cpu, cpu_base = need(with_, "cpu_us_per_run", "CPU with a store"), need(without, "cpu_us_per_run", "CPU")
        goal.ok = p99 <= STORE_P99_RATIO * base and cpu <= STORE_CPU_RATIO * cpu_base
        goal.measured = (f"p99 {ms(p99)} = {p99 / base:.2f}× ({ms(base)} without); CPU {cpu:.0f} µs = "
                         f"{cpu / cpu_base:.2f}× ({cpu_base:.0f} µs)")
        if not goal.ok:
            goal.why = (f"the garbage collector ran {with_.get('gc_collections', '?')} times "
                        f"({with_.get('gc_gen2', '?')} full, longest {ms(with_.get('gc_max_ms'))}) against "
                        f"{without.get('gc_collections', '?')} ({without.get('gc_gen2', '?')} full) without a store; "
                        "the journal's batches (an update per agent, the rows of its statements) survive into older "
                        "generations while they are written.")
            goal.fix = "fewer GC-tracked objects per batch: rows built straight from the actors, no update objects."

    return judged(goal, judge)


def processes_goal(results: Result, kind: str, contender: bool = False) -> Goal:
    """Many processes on one store: 0 duplicates, 0 lost ticks, p99 ≤ 20 ms."""
    label = "contender: the same processes without a store" if contender else f"processes on one {kind} store"
    goal = Goal(f"store.processes.{'none' if contender else kind}", label,
                f"0 duplicates, 0 lost ticks, p99 ≤ {PROCESSES_P99_MS:.0f} ms (absolute, on this host)",
                contender=contender)

    def judge(goal: Goal) -> None:
        p = need(need(_stores(results), "processes", "the processes benchmarks"), "none" if contender else kind,
                 f"{label}")
        dup, lost = need(p, "duplicates", f"{label}: duplicates"), need(p, "lost", f"{label}: lost ticks")
        p99 = (p.get("lateness") or {}).get("p99_ms")
        if p99 is None and not contender:
            raise NotMeasured(f"{label}: lateness")
        size = f"{p['agents']:,} agents × {p['procs']} processes, {p['seconds']:g} s"
        goal.name = f"contender: {size}, no store" if contender else f"{size} on one {kind} store"
        goal.ok = dup == 0 and lost == 0 and p99 is not None and p99 <= PROCESSES_P99_MS
        goal.measured = f"{p['runs']:,} runs, duplicates {dup}, lost {lost}, p99 {ms(p99)}"
        if not goal.ok:
            pairs = p.get("duplicate_pairs") or []
            shown = f" (for example {'; '.join(pairs[:3])})" if pairs else ""
            goal.why = (f"{dup} tick(s) ran twice{shown} and {lost} tick(s) had no run"
                        + ("; without a store every process runs every agent." if contender else "."))
            goal.fix = "a store (the contender exists to show this verdict can fail)." if contender else \
                "see the store's lease log lines (WARNING) for a lost lease."

    return judged(goal, judge)


def takeover_goal(results: Result, kind: str) -> Goal:
    """Kill -> the survivor's first run, every repeat ≤ lease + one tick."""
    goal = Goal(f"store.takeover.{kind}", f"takeover after kill -9 ({kind})", "every takeover ≤ lease + one tick")

    def judge(goal: Goal) -> None:
        t = need(need(_stores(results), "takeover", "the takeover benchmarks"), kind, f"the {kind} takeover")
        limit = (need(t, "lease_s", "the lease") + need(t, "interval_s", "the interval")) * 1000
        worst, done, repeats = need(t, "max_ms", "the slowest takeover"), t.get("taken_over", 0), t.get("repeats", 0)
        goal.ok = worst <= limit and done == repeats
        goal.measured = (f"median {ms(t.get('median_ms'))}, max {ms(worst)} over {done} of {repeats} kills "
                         f"(lease {t['lease_s']:g} s, interval {t['interval_s']:g} s)")
        if not goal.ok:
            goal.why = f"the slowest takeover took {ms(worst)} against {ms(limit)}, or a kill was never taken over."
            goal.fix = "the survivor polls every lease/3: see the journal's lease loop."

    return judged(goal, judge)


def store_goals(results: Result) -> list[Goal]:
    """The store goals in report order, without the contender."""
    return [overhead_goal(results), *(processes_goal(results, k) for k in KINDS),
            *(takeover_goal(results, k) for k in KINDS)]


def store_contenders(results: Result) -> list[Goal]:
    """The processes without a store: they must FAIL the duplicates goal."""
    return [processes_goal(results, "sqlite", contender=True)]
