"""Goal verdicts: pure functions from the suite's results dict to a :class:`Goal` (PASS or FAIL).

A goal against a floor or a peer is judged on the ratio of two numbers measured in the same run,
never on a number carried over from another host; a goal that is an absolute number (a 50 ms
stop, a 20 ms p99 for 10,000 agents) stays absolute, and the report names the host it ran on.
A missing or errored input is a FAIL "not measured: <what>" (:mod:`benchmarks.verdict`). A
contender goal applies a verdict to a series built to fail it (the drifting scheduler, the
wasteful CPU wrapper): it must FAIL, or the verdict cannot fail and is broken. The goals of CPU
per run and of many agents are in :mod:`benchmarks.load_goals`; :func:`evaluate` returns every
goal.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from benchmarks.load_goals import load_contenders, load_goals
from benchmarks.ray_goals import ray_goals
from benchmarks.store_goals import store_contenders, store_goals
from benchmarks.reasons import dispatch_reason, message_reason, scale_reason
from benchmarks.verdict import (BACKOFF_LABELS, BURST_RATIO, CONTENDERS, FLOOR_OF, FLOOR_RATIO, LABELS, PEERS_OF,
                                RAW_RATIO, SCALE_AGENTS, SCALE_RSS_MB, SCALE_SHUTDOWN_S, SCALE_SPAWN_S, JITTER_P99_MS,
                                STOP_MS, Goal, NotMeasured, dispatch_target, Result, judged, ms, need, series, short_label, summary)


# -- dispatch ----------------------------------------------------------------------------
def dispatch_goal(results: Result, key: str, condition: str) -> Goal:
    """Dispatch p99 of ``key`` within its floor's ratio, 0 skipped, and (idle) below its peers."""
    kind = "async" if key == "ours_async" else "sync"
    limit = FLOOR_RATIO[condition]
    peer_keys = PEERS_OF[key] if condition == "idle" else ()
    goal = Goal(f"dispatch.{condition}.{key}", f"dispatch p99, {kind} agent ({condition})",
                dispatch_target(key, condition))

    def judge(goal: Goal) -> None:
        s, floor = series(results, condition, key), series(results, condition, FLOOR_OF[key])
        peers = {p: series(results, condition, p) for p in peer_keys}
        skipped = need(s, "skipped", f"{LABELS[key]} ({condition}) skipped ticks")
        beaten_by = {p: v for p, v in peers.items() if v["p99_ms"] <= s["p99_ms"]}
        goal.ok = s["p99_ms"] <= limit * floor["p99_ms"] and not beaten_by and skipped == 0
        goal.measured = (f"{ms(s['p99_ms'])} = {s['p99_ms'] / floor['p99_ms']:.2f}× floor ({ms(floor['p99_ms'])})"
                         + "".join(f"; {short_label(p)} {ms(v['p99_ms'])}" for p, v in peers.items())
                         + (f"; skipped {skipped}" if skipped else ""))
        if not goal.ok:
            goal.why, goal.fix = dispatch_reason(key, condition, results["dispatch"][condition], beaten_by)

    return judged(goal, judge)


# -- drift -------------------------------------------------------------------------------
def drift_goal(results: Result, key: str) -> Goal:
    """Idle series ``key`` accumulates no drift: |trend| ≤ the p99 lateness of its floor (same run).

    The trend (median lateness of the last m ticks minus the first m, unfolded) is what a
    scheduler that falls behind its grid cannot hide; the floor's p99 is the noise of one tick
    on this host in this run.
    """
    who = {"ours_async": "async agent", "ours_sync": "sync agent"}.get(key, LABELS[key])
    goal = Goal(f"drift.{key}", f"drift, {who}", "|trend| ≤ the floor's p99 lateness (same run)",
                contender=key in CONTENDERS)

    def judge(goal: Goal) -> None:
        s, floor = series(results, "idle", key), series(results, "idle", FLOOR_OF[key])
        what = f"{LABELS[key]} (idle) drift"
        trend, offset, tick = need(s, "trend_ms", what), need(s, "drift_ms", what), need(s, "drift_tick", what)
        window = s.get("trend_window", "m")
        goal.ok = abs(trend) <= floor["p99_ms"]
        goal.measured = (f"trend {ms(trend)} (last {window} ticks vs first {window}), offset at tick {tick} "
                         f"{ms(offset)}; floor p99 {ms(floor['p99_ms'])}")
        if goal.ok:
            return
        per_tick = trend / max(1, tick - window)
        goal.why = (f"over {tick} ticks the calls fell {ms(trend)} behind the grid start + k × interval "
                    f"({per_tick * 1000:.0f} µs per tick), {abs(trend) / floor['p99_ms']:.1f}× the floor's p99 "
                    f"{ms(floor['p99_ms'])}: the lateness accumulates instead of staying within one tick's noise.")
        goal.fix = ("expected for this contender: a period of interval + run + the sleep's overshoot drifts by design; "
                    "a fixed-rate grid (each due time = start + k × interval) is the fix." if goal.contender else
                    "the schedule must compute each due time from the anchor (start + k × interval), never from "
                    "the previous call; see the per-tick lateness for where it starts to grow.")

    return judged(goal, judge)


# -- messages ----------------------------------------------------------------------------
def message_goal(results: Result, which: str) -> Goal:
    """``which`` ("tell" or "ask") ≤ 1.3× raw pykka's at median and p99, measured alongside."""
    ours_key, raw_key = {"tell": ("tell_ours", "tell_raw"), "ask": ("ask_ours", "ask_raw")}[which]
    goal = Goal(f"messages.{which}", f"{which} ≤ {RAW_RATIO}× raw pykka",
                f"≤ {RAW_RATIO}× raw pykka at median and p99 (same run)")

    def judge(goal: Goal) -> None:
        m = need(results, "messages", "the message benchmark")
        s, raw = summary(m, ours_key, f"ours: {which}"), summary(m, raw_key, f"raw pykka: {which}")
        if raw["median_ms"] <= 0:
            raise NotMeasured(f"raw pykka: {which} median is 0")
        rmed, rp99 = s["median_ms"] / raw["median_ms"], s["p99_ms"] / raw["p99_ms"]
        goal.ok = rmed <= RAW_RATIO and rp99 <= RAW_RATIO
        goal.measured = (f"median {rmed:.2f}×, p99 {rp99:.2f}× ({ms(s['median_ms'])} / {ms(s['p99_ms'])} "
                         f"vs {ms(raw['median_ms'])} / {ms(raw['p99_ms'])})")
        if not goal.ok:
            goal.why, goal.fix = message_reason(ours_key, s, raw, m)

    return judged(goal, judge)


# -- stop --------------------------------------------------------------------------------


def backoff_goal(results: Result, key: str) -> Goal:
    """stop() during a pending 300 s backoff wait: p99 ≤ 50 ms, and the wait counted as cancelled."""
    goal = Goal(f"stop.backoff.{key}", f"stop during backoff, {BACKOFF_LABELS[key]}",
                f"p99 ≤ {STOP_MS:.0f} ms (absolute, on this host)")

    def judge(goal: Goal) -> None:
        b = need(need(results, "stop", "the stop benchmark"), "backoff", "stop during backoff")
        s = summary(b, key, f"stop during backoff, {BACKOFF_LABELS[key]}")
        cancelled_ok = need(b, "cancelled_ok", "whether the backoff wait counted as a cancelled execution")
        goal.ok = s["p99_ms"] <= STOP_MS and cancelled_ok is True
        goal.measured = f"p99 {ms(s['p99_ms'])}" + ("" if cancelled_ok else ", wait not counted as cancelled")
        if not goal.ok:
            goal.why = (f"p99 {ms(s['p99_ms'])}" + ("" if cancelled_ok else
                        "; the backoff wait was not counted as a cancelled execution") + ".")
            goal.fix = "see the profile of stop(); the wait itself is a cancelled timer."

    return judged(goal, judge)


def shutdown_goal(results: Result) -> Goal:
    """ActorSystem.shutdown() of the running agents: p99 ≤ 50 ms, every agent stopped."""
    goal = Goal("stop.shutdown", "ActorSystem.shutdown() of 1,000 agents",
                f"≤ {STOP_MS:.0f} ms (absolute, on this host; the issue's stop goal)")

    def judge(goal: Goal) -> None:
        sd = need(need(results, "stop", "the stop benchmark"), "shutdown", "the shutdown benchmark")
        s = summary(sd, "ours", "ActorSystem.shutdown()")
        n, stopped_ok = need(s, "agents", "the shutdown's agent count"), need(s, "stopped_ok", "whether all stopped")
        goal.name = f"ActorSystem.shutdown() of {n:,} agents"
        goal.ok = s["p99_ms"] <= STOP_MS and stopped_ok is True
        goal.measured = f"{ms(s['p99_ms'])} ({s['p99_ms'] / n * 1000:.0f} µs per agent)" + (
            "" if stopped_ok else ", not every agent stopped")
        if goal.ok:
            return
        floor, peer = sd.get("floor") or {}, sd.get("aps_background") or {}
        goal.why = (f"{ms(s['p99_ms'])} for {n:,} agents is {s['p99_ms'] / n * 1000:.0f} µs per agent, against "
                    f"{ms(floor.get('p99_ms'))} for the raw floor and {ms(peer.get('p99_ms'))} for APScheduler: each "
                    "agent's stop is a Stop message through its mailbox, a reply Future, and a teardown that takes "
                    "and releases the shared runtime's locks one agent at a time"
                    + (f"; {ms(s['gc_ms_median'])} of it (median) is garbage collection" if "gc_ms_median" in s else "")
                    + ("" if stopped_ok else "; and not every agent ended stopped") + ".")
        goal.fix = ("stop the agents as a batch: post every Stop first (done), then tear the runtime down once for "
                    "all agents (one loop call cancelling every timer, one reference drop for the dispatcher, pool "
                    "and loop driver) instead of per-agent teardown_sync.")

    return judged(goal, judge)


# -- scale -------------------------------------------------------------------------------
def scale_point(results: Result, agents: int, shape: str, gc_freeze: bool = False) -> Result:
    """The scale point of ``agents`` agents in ``shape``, or NotMeasured (with its error)."""
    what = f"{agents:,} agents ({shape}{', gc.freeze()' if gc_freeze else ''})"
    points = need(need(results, "scale", "the scale benchmark"), "points", "the scale points")
    for p in points:
        if p.get("agents") == agents and p.get("shape") == shape and bool(p.get("gc_freeze")) == gc_freeze:
            if "error" in p:
                raise NotMeasured(f"{what}: {p['error']}")
            return p  # type: ignore[no-any-return]
    raise NotMeasured(f"{what} (not in this run)")


def _optional(get: Callable[[], Result]) -> Result | None:
    try:
        return get()
    except NotMeasured:
        return None


def scale_latency_goal(results: Result, shape: str) -> Goal:
    """10,000 agents in ``shape``, no skipped and no missing runs, with a steady p99 lateness
    ≤ 1.5× the raw-asyncio floor of the same burst (burst) or ≤ 5 ms (jitter: one schedule whose
    ticks each agent delays by a random share of 0.9 s; lateness against the jittered due time)."""
    n = SCALE_AGENTS
    target = (f"p99 ≤ {BURST_RATIO}× the raw-asyncio burst floor (same run), 0 skipped" if shape == "burst"
              else f"p99 ≤ {JITTER_P99_MS:.0f} ms after the jittered due time (absolute, on this host), 0 skipped")
    goal = Goal(f"scale.{shape}.latency", f"{n:,} agents ({shape}): p99 lateness, skipped ticks", target)

    def judge(goal: Goal) -> None:
        p = scale_point(results, n, shape)
        what = f"{n:,} agents ({shape})"
        p99 = need(need(p, "steady", what), "p99_ms", f"{what} steady lateness")
        skipped, missing = need(p, "skipped", f"{what} skipped"), need(p, "missing", f"{what} missing runs")
        floor = next((f for f in (results["scale"].get("floors") or []) if f.get("agents") == n
                      and "error" not in f), None)
        if shape == "burst":
            if floor is None:
                raise NotMeasured(f"the raw-asyncio floor of {n:,} timers due at once")
            floor_p99 = need(need(floor, "steady", "the burst floor"), "p99_ms", "the burst floor's p99")
            limit, against = BURST_RATIO * floor_p99, f" = {p99 / floor_p99:.2f}× floor ({ms(floor_p99)})"
        else:
            limit, against = JITTER_P99_MS, ""
        goal.ok = p99 <= limit and skipped == 0 and missing == 0
        goal.measured = (f"p99 {ms(p99)}{against} (all ticks {ms((p.get('all') or {}).get('p99_ms'))}), "
                         f"skipped {skipped}, missing {missing}")
        if not goal.ok:
            frozen = _optional(lambda: scale_point(results, n, shape, gc_freeze=True))
            goal.why, goal.fix = scale_reason(p, floor, frozen, _handoff_pct(results), limit)

    return judged(goal, judge)


def _handoff_pct(results: Result) -> float | None:
    pr = results.get("profile") or {}
    return next((k["pct"] for k in pr.get("by_kind", []) if k["name"].startswith("thread hand-offs")), None)


def scale_resource_goal(results: Result, shape: str) -> Goal:
    """10,000 agents in ``shape``: RSS ≤ 300 MB, spawn (+ start for burst) ≤ 5 s, shutdown ≤ 2 s."""
    n = SCALE_AGENTS
    goal = Goal(f"scale.{shape}.resources", f"{n:,} agents ({shape}): RSS, spawn, shutdown",
                f"RSS ≤ {SCALE_RSS_MB:.0f} MB, spawn ≤ {SCALE_SPAWN_S:.0f} s, shutdown ≤ {SCALE_SHUTDOWN_S:.0f} s "
                "(absolute, on this host)")

    def judge(goal: Goal) -> None:
        p = scale_point(results, n, shape)
        what = f"{n:,} agents ({shape})"
        rss, shutdown = need(p, "rss_total_mb", f"{what} RSS"), need(p, "shutdown_s", f"{what} shutdown")
        spawn = need(p, "spawn_s", f"{what} spawn") + (need(p, "start_s", f"{what} start") if shape != "spread" else 0)
        threads = p.get("threads_max", "?")
        goal.ok = rss <= SCALE_RSS_MB and spawn <= SCALE_SPAWN_S and shutdown <= SCALE_SHUTDOWN_S
        goal.measured = f"RSS {rss:.0f} MB, spawn {spawn:.2f} s, shutdown {shutdown:.2f} s, threads {threads}"
        if not goal.ok:
            over = [w for w, bad in (("RSS", rss > SCALE_RSS_MB), ("spawn", spawn > SCALE_SPAWN_S),
                                     ("shutdown", shutdown > SCALE_SHUTDOWN_S)) if bad]
            goal.why = (f"over budget: {', '.join(over)} ({p.get('rss_per_agent_kb', math.nan):.1f} KB per agent, "
                        f"{threads} threads).")
            goal.fix = "see the per-agent teardown (shutdown) and the per-agent Binding (RSS/spawn) in the profile."

    return judged(goal, judge)


# -- all ---------------------------------------------------------------------------------
def evaluate(results: Result) -> list[Goal]:
    """Every goal, in report order, whatever the results hold (missing ones FAIL), contenders last."""
    goals = [dispatch_goal(results, key, condition) for condition in ("idle", "busy")
             for key in ("ours_async", "ours_sync")]
    goals += [drift_goal(results, key) for key in ("ours_async", "ours_sync")]
    goals += [message_goal(results, which) for which in ("tell", "ask")]
    goals += [backoff_goal(results, key) for key in BACKOFF_LABELS]
    goals.append(shutdown_goal(results))
    for shape in ("burst", "jitter"):
        goals += [scale_latency_goal(results, shape), scale_resource_goal(results, shape)]
    goals += load_goals(results)
    goals += store_goals(results)
    goals += ray_goals(results)
    goals += [drift_goal(results, key) for key in CONTENDERS]
    goals += load_contenders(results)
    goals += store_contenders(results)
    return goals
