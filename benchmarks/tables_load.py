"""The report's tables of load: scale, runtime CPU per run, many agents in one process, and
the profile. Each states its host through the renderer (see :mod:`benchmarks.tables`).
"""

from __future__ import annotations

from benchmarks.load_goals import cpu_cost, large_point
from benchmarks.tables import Result, Table, verdict_cell
from benchmarks.verdict import (CPU_CONTENDERS, CPU_FLOOR_OF, CPU_LABELS, CPU_RATIO, LARGE_P99_MS, LARGE_RSS_MB,
                                LARGE_SHUTDOWN_S, LARGE_SPAWN_S, SCALE_AGENTS, Goal, NotMeasured, ms, ratio)

# -- scale -------------------------------------------------------------------------------
def scale_tables(results: Result, goals: dict[str, Goal]) -> list[Table]:
    """The scale tables: lateness, and resources, per point."""
    sc = results.get("scale")
    if not sc:
        return []
    floors = {f["agents"]: f for f in sc.get("floors", []) if "error" not in f}
    points = [p for p in sc.get("points", []) if "error" not in p]
    ticks = points[0]["ticks"] if points else "?"
    lat = Table("Scale: lateness",
                f"N no-op agents (half sync, half async) in one plain ActorSystem, 1 s interval, {ticks} ticks; "
                "'burst': all told Start at once; 'jitter': all told Start(jitter=0.9) at once, so each agent delays "
                "each tick by a random share of 0.9 s. Lateness = call start - due time (burst: anchor + k s, "
                "unfolded; jitter: the jittered due time of the execution, from its history entry); steady = ticks "
                "2..N, all = every tick. Floor: the same burst in raw asyncio, N call_at timers due at the same "
                "instant, half creating a trivial task, half handing the call to one waiting thread (it runs every "
                "timer callback before the first task, so a library that starts work on other threads can beat it "
                "at the median). Rows marked gc.freeze() are evidence, not goals: the same run with gc.freeze() "
                f"called once all agents had started. The goals (at {SCALE_AGENTS:,} agents) are in the Goals table.",
                ["figure", "steady median", "steady p99", "×floor p99", "all median", "all p99", "skipped", "missing",
                 "goal", "result"])
    res = Table("Scale: resources", "threads = most seen while running; RSS from /proc/self/statm (total, and the "
                "delta from before the first spawn, per agent); spawn = N spawn() calls + N tell(Start) (burst, jitter); "
                "shutdown = system.shutdown(); CPU = process CPU time per agent run; gc = garbage collections while "
                "the agents ran (all / full), their total and longest pause. The goals are absolute, on this host.",
                ["figure", "threads", "RSS total", "RSS/agent", "spawn+start", "shutdown", "CPU/run", "gc", "goal",
                 "result"])
    for f in sorted(floors.values(), key=lambda f: f["agents"]):
        lat.rows.append([f"floor: {f['agents']:,} raw call_at + task or hand-off, burst", ms(f["steady"]["median_ms"]),
                         ms(f["steady"]["p99_ms"]), "1.00×", ms(f["all"]["median_ms"]), ms(f["all"]["p99_ms"]),
                         "-", str(f["missing"]), "", ""])
    for p in sorted(points, key=lambda p: (p["agents"], p["shape"], p.get("gc_freeze", False))):
        label = f"ours: {p['agents']:,} agents, {p['shape']}" + (", gc.freeze()" if p.get("gc_freeze") else "")
        floor = floors.get(p["agents"])
        graded = p["agents"] == SCALE_AGENTS and not p.get("gc_freeze")
        lat.rows.append([label, ms(p["steady"]["median_ms"]), ms(p["steady"]["p99_ms"]),
                         ratio(p["steady"]["p99_ms"], floor["steady"]["p99_ms"]) if floor and p["shape"] == "burst" else "-",
                         ms(p["all"]["median_ms"]), ms(p["all"]["p99_ms"]), str(p["skipped"]), str(p["missing"]),
                         ("p99 ≤ 1.5× floor, 0 skipped" if p["shape"] == "burst" else "p99 ≤ 5 ms, 0 skipped")
                         if graded else "",
                         verdict_cell(goals, f"scale.{p['shape']}.latency") if graded else ""])
        gc_text = (f"{p['gc_collections']} / {p['gc_gen2']}, {p['gc_total_ms']:.0f} ms, max {p['gc_max_ms']:.0f} ms"
                   if "gc_collections" in p else "-")
        res.rows.append([label, str(p["threads_max"]), f"{p['rss_total_mb']:.0f} MB", f"{p['rss_per_agent_kb']:.1f} KB",
                         f"{p['spawn_s'] + (p['start_s'] if p['shape'] != 'spread' else 0):.2f} s",
                         f"{p['shutdown_s']:.2f} s", f"{p['cpu_us_per_run']:.0f} µs", gc_text,
                         "RSS ≤ 300 MB, spawn ≤ 5 s, shutdown ≤ 2 s" if graded else "",
                         verdict_cell(goals, f"scale.{p['shape']}.resources") if graded else ""])
    return [lat, res]


# -- profile -----------------------------------------------------------------------------
def profile_tables(results: Result) -> list[Table]:
    """The py-spy profile's top 10 by self and by inclusive time."""
    pr = results.get("profile")
    if not pr or "error" in pr:
        return []
    about = (f"{pr['agents']:,} no-op agents (half sync, half async), starts spread over 1 s, 1 s interval: "
             f"{pr['runs'] / pr['seconds']:.0f} runs/s, {pr['cpu_us_per_run']:.0f} µs of process CPU per run. py-spy "
             f"--gil at {pr['rate']} Hz for {pr['seconds']} s: {pr['samples']} samples had a thread holding the GIL "
             f"= GIL busy {pr['gil_busy_pct']:.1f} % of the time. Shares are % of those samples; idle threads (blocked in "
             "a queue get, select or lock) hold no GIL and never appear; thread roots are left out of 'inclusive'. "
             "By thread: " + ", ".join(f"{t['name']} {t['pct']:.0f} %" for t in pr["by_thread"]) + ". By kind of "
             "leaf frame: " + ", ".join(f"{k['name']} {k['pct']:.0f} %" for k in pr.get("by_kind", [])) + ".")
    tables = []
    for key, title in (("self", "Profile: top 10 by self time"), ("inclusive", "Profile: top 10 by inclusive time")):
        table = Table(title, about if key == "self" else "", ["function", "share", "what it is"])
        for row in pr[key]:
            table.rows.append([row["function"], f"{row['pct']:.1f} %", row["note"]])
        tables.append(table)
    return tables


# -- CPU per run -------------------------------------------------------------------------
def cpu_table(results: Result, goals: dict[str, Goal]) -> Table | None:
    """CPU per run of ours, the floors of the same shapes and the wasteful contender."""
    cpu = results.get("cpu")
    if not cpu:
        return None
    rounds = cpu.get("rounds") or []
    first = next((v for r in rounds for v in r.values() if isinstance(v, dict) and "agents" in v), {})
    table = Table("Runtime CPU per run",
                  f"{first.get('agents', '?')} no-op agents on a 1 s interval, their ticks spread evenly over the "
                  f"interval (a steady rate, no burst); after one settling interval, process CPU time (every thread: "
                  f"time.process_time) over {first.get('ticks', '?')} intervals divided by the runs that started in "
                  f"them, pooled over {len(rounds)} round(s), each series in its own process, the series alternating. "
                  "Async floor: raw call_at + create_task of a trivial coroutine, re-armed each tick; sync floor: raw "
                  "call_at + a hand-off to one waiting thread that calls the function. user / sys and context "
                  "switches from getrusage. The contender wraps the async floor in useless work (3× the floor's own "
                  f"CPU per run, measured in its settling interval): it must FAIL. Goal: ≤ {CPU_RATIO:g}× the floor "
                  "of the same shape, in the same run.",
                  ["figure", "runs", "CPU/run", "per round", "user / sys", "switches/run", "gc/1,000 runs",
                   "×floor", "goal", "result"])
    for key in ("floor_async", "ours_async", *CPU_CONTENDERS, "floor_sync", "ours_sync"):
        goal_key = f"cpu.{key}"
        try:
            c = cpu_cost(results, key)
        except NotMeasured as exc:
            table.rows.append([CPU_LABELS[key], "-", "-", "-", "-", "-", "-", "-", "", f"not measured: {exc}"])
            continue
        try:
            floor_us: float | None = cpu_cost(results, CPU_FLOOR_OF[key])["us"]
        except NotMeasured:
            floor_us = None
        verdict = verdict_cell(goals, goal_key)
        if key in CPU_CONTENDERS:
            verdict += " (expected)" if verdict == "FAIL" else " (BROKEN: must fail)"
        table.rows.append([CPU_LABELS[key], f"{c['runs']} of {c['expected']}", f"{c['us']:.0f} µs",
                           " / ".join("-" if u is None else f"{u:.0f}" for u in c["rounds_us"]) + " µs",
                           f"{c['user_us']:.0f} / {c['sys_us']:.0f} µs", f"{c['switches']:.2f}",
                           f"{c['gc_per_1000']:.1f}", ratio(c["us"], floor_us),
                           f"≤ {CPU_RATIO:g}× floor" if goal_key in goals else "", verdict])
    return table


# -- many agents in one process ------------------------------------------------------------
def large_table(results: Result, goals: dict[str, Goal]) -> Table | None:
    """The many-agents point: spawn, RSS, lateness, shutdown, CPU and gc."""
    if "large" not in results:
        return None
    about = ("N no-op agents (half sync, half async, one shared function each) in one plain ActorSystem; agent i "
             "told Start at i/N of the interval, so ticks fall due at a steady N/interval per second. spawn = the N "
             "spawn() calls + the time inside the N tell(Start) calls; lateness = call start - (anchor + k × "
             "interval) over each agent's ticks in the window (one interval); RSS at the end of the window "
             "(/proc/self/statm); shutdown = system.shutdown(). A full run measures 100,000 agents at 60 s, --quick "
             "10,000 at 6 s (the same 1,667 ticks per second). The goals are absolute, on this host: "
             f"spawn ≤ {LARGE_SPAWN_S:.0f} s, RSS ≤ {LARGE_RSS_MB:.0f} MB, p99 ≤ {LARGE_P99_MS:.0f} ms, "
             f"shutdown ≤ {LARGE_SHUTDOWN_S:.0f} s.")
    table = Table("Many agents in one process", about,
                  ["figure", "spawn + start", "RSS (per agent)", "lateness median / p99 / max", "skipped / missing",
                   "shutdown", "CPU/run", "gc", "threads", "result (latency / resources)"])
    try:
        p = large_point(results)
    except NotMeasured as exc:
        table.rows.append(["ours: many agents", "-", "-", "-", "-", "-", "-", "-", "-", f"not measured: {exc}"])
        return table
    lat = p.get("lateness") or {}
    table.rows.append([f"ours: {p['agents']:,} agents, {p['interval_s']:g} s",
                       f"{p['spawn_s']:.2f} + {p['tell_s']:.2f} s",
                       f"{p['rss_total_mb']:.0f} MB ({p['rss_per_agent_kb']:.1f} KB)",
                       f"{ms(lat.get('median_ms'))} / {ms(lat.get('p99_ms'))} / {ms(lat.get('max_ms'))}",
                       f"{p['skipped']} / {p['missing']}",
                       f"{p['shutdown_s']:.2f} s" + ("" if p.get("stopped_ok") else " (not all stopped)"),
                       "-" if p.get("cpu_us_per_run") is None else f"{p['cpu_us_per_run']:.0f} µs",
                       f"{p.get('gc_collections', '?')} ({p.get('gc_gen2', '?')} full), longest "
                       f"{ms(p.get('gc_max_ms'))}", str(p.get("threads_max", "?")),
                       f"{verdict_cell(goals, 'large.latency')} / {verdict_cell(goals, 'large.resources')}"])
    return table
