"""Turn the suite's results into tables, goal verdicts and a markdown report.

The verdicts come from :mod:`benchmarks.goals` (pure functions of the results); this module lays
them out next to the numbers. Every table states the host it was measured on: the machines
change between runs (an Intel and an AMD host so far, 3x apart in CPU per run), so only ratios
measured in the same run compare across tables, never an absolute number across hosts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from benchmarks.goals import evaluate
from benchmarks.verdict import (BACKOFF_LABELS, CONTENDERS, FLOOR_OF, LABELS, PEERS_OF, SCALE_AGENTS, Goal, ms, ratio)

Result = dict[str, Any]


@dataclass
class Table:
    """One table: title, caption, headers and rows of text cells."""

    title: str
    about: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)


def host_text(results: Result) -> str:
    """The host of a run in one line: CPU model, cores, Python."""
    m = results.get("machine") or {}
    if not m:
        return "Host: not recorded"
    return (f"Host: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, Python {m.get('python', '?')} "
            f"({m.get('implementation', '?')})")


def _ok(s: Result | None) -> bool:
    return isinstance(s, dict) and "error" not in s and s.get("p99_ms") is not None


def _cell(goals: dict[str, Goal], key: str) -> str:
    return goals[key].verdict if key in goals else ""


# -- dispatch and drift ------------------------------------------------------------------
def dispatch_tables(results: Result, goals: dict[str, Goal]) -> list[Table]:
    tables = []
    for condition, by_key in (results.get("dispatch") or {}).items():
        busy = condition == "busy"
        ticks = next((s.get("ticks") for s in by_key.values() if _ok(s)), "?")
        table = Table(
            f"Dispatch latency, {'next to a CPU-busy thread' if busy else 'idle process'}",
            f"Tick due time -> agent call start, 20 ms interval, {ticks} ticks per series, each series in its "
            f"own process{' with a thread spinning pure-Python work' if busy else ''}. Lateness of the i-th call = "
            "its start - (start + k × interval), k = i plus the ticks the scheduler reported skipped before it "
            "(never folded modulo the interval). ×floor = ratio to the floor of the same kind in the same run "
            "(async: raw call_at; sync and thread-pool peers: call_at + one thread hand-off).",
            ["figure", "n", "median", "p99", "×floor median", "×floor p99", "skipped", "goal", "result"])
        for key, label in LABELS.items():
            s = by_key.get(key)
            if s is None and key in CONTENDERS:
                continue  # the contender runs idle only
            if not _ok(s):
                error = s.get("error", "no samples") if isinstance(s, dict) else "not run"
                table.rows.append([label, "-", "-", "-", "-", "-", "-", "", f"not measured: {error}"])
                continue
            assert s is not None
            floor = by_key.get(FLOOR_OF[key]) or {}
            goal_text = "p99 ≤ 1.5× floor, < both APScheduler" if key in PEERS_OF else (
                "contender (see Drift)" if key in CONTENDERS else "")
            table.rows.append([label, str(s["n"]), ms(s["median_ms"]), ms(s["p99_ms"]),
                               ratio(s["median_ms"], floor.get("median_ms")), ratio(s["p99_ms"], floor.get("p99_ms")),
                               str(s.get("skipped", "?")), goal_text, _cell(goals, f"dispatch.{condition}.{key}")])
        tables.append(table)
    return tables


def drift_table(results: Result, goals: dict[str, Goal]) -> Table | None:
    by_key = (results.get("dispatch") or {}).get("idle")
    if not by_key:
        return None
    table = Table("Drift", "From the idle dispatch series, unfolded: offset of the last call from start + N × 20 ms, "
                  "and trend = median lateness of the last m ticks minus that of the first m (m = a quarter of the "
                  "ticks, at most 100): what a scheduler accumulates when it falls behind its grid. Goal: |trend| ≤ "
                  "the p99 lateness of the floor of the same kind in the same run (one tick's noise on this host). "
                  "The contender sleeps the interval after each run; it must FAIL, or the verdict cannot fail.",
                  ["figure", "tick N", "offset at N", "trend", "floor p99", "|trend| / floor p99", "goal", "result"])
    for key in ("floor_async", "ours_async", "aps_asyncio_async", "floor_sync", "ours_sync", "aps_background",
                *CONTENDERS):
        s = by_key.get(key) or {}
        goal_key = f"drift.{key}"
        if not _ok(s) or "trend_ms" not in s:
            if goal_key in goals:
                table.rows.append([LABELS[key], "-", "-", "-", "-", "-", "|trend| ≤ floor p99", "FAIL (not measured)"])
            continue
        floor = by_key.get(FLOOR_OF[key]) or {}
        fp99 = floor.get("p99_ms")
        verdict = _cell(goals, goal_key)
        if goal_key in goals and goals[goal_key].contender:
            verdict += " (expected)" if verdict == "FAIL" else " (BROKEN: must fail)"
        table.rows.append([LABELS[key], str(s["drift_tick"]), ms(s["drift_ms"]), ms(s["trend_ms"]), ms(fp99),
                           ratio(abs(s["trend_ms"]), fp99), "|trend| ≤ floor p99" if goal_key in goals else "",
                           verdict])
    return table


# -- messages ----------------------------------------------------------------------------
def message_table(results: Result, goals: dict[str, Goal]) -> Table | None:
    m = results.get("messages")
    if not m or "error" in m:
        return None
    table = Table("Message latency", "From the main thread of a plain ActorSystem with one started sync no-op agent, "
                  "against a bare pykka.ThreadingActor in the same process, alternating blocks. tell -> handled: "
                  "tell() to the first line of the actor's handler; tell -> agent call: until the agent's call "
                  "starts on a pool thread; ask: GetStats round trip (raw: on_receive returns a 20-key dict).",
                  ["figure", "n", "median", "p99", "×raw median", "×raw p99", "goal", "result"])
    rows = [("tell -> handled", "tell_ours", "tell_raw", "messages.tell"),
            ("tell -> agent call starts", "tell_ours_call", None, ""),
            ("tell() returns (sender's cost)", "send_ours", "send_raw", ""),
            ("ask round trip (GetStats)", "ask_ours", "ask_raw", "messages.ask")]
    for label, ours_key, raw_key, goal_key in rows:
        s, raw = m.get(ours_key) or {}, m.get(raw_key or "tell_raw") or {}
        if not (_ok(s) and _ok(raw)):
            continue
        if raw_key is not None:
            table.rows.append([f"raw pykka: {label}", str(raw["n"]), ms(raw["median_ms"]), ms(raw["p99_ms"]),
                               "1.00×", "1.00×", "", ""])
        table.rows.append([f"ours: {label}", str(s["n"]), ms(s["median_ms"]), ms(s["p99_ms"]),
                           ratio(s["median_ms"], raw["median_ms"]), ratio(s["p99_ms"], raw["p99_ms"]),
                           "≤ 1.3× raw (median and p99)" if goal_key else "", _cell(goals, goal_key)])
    return table


# -- stop --------------------------------------------------------------------------------
def stop_tables(results: Result, goals: dict[str, Goal]) -> list[Table]:
    st = results.get("stop") or {}
    tables = []
    b = st.get("backoff") or {}
    if b and "error" not in b:
        table = Table("Stop during a 300 s backoff wait",
                      "stop() timed until it returns, once the failing agent's stats say backing_off. 'alone': the only "
                      "agent, so stop() also joins the shared runtime's threads; 'next to a running agent': the "
                      "runtime stays up. Floors: cancel a task in asyncio.sleep(300) / set an Event a thread waits on "
                      "and join it. Peers: APScheduler shutdown() with one job 300 s away (it has no backoff). The "
                      "goal is absolute (50 ms), on this host.",
                      ["figure", "n", "median", "p99", "×floor p99", "goal", "result"])
        rows = [("floor_async", "floor: cancel a sleeping task", "floor_async"),
                ("ours_async", None, "floor_async"), ("ours_async_alone", None, "floor_async"),
                ("aps_asyncio", "APScheduler AsyncIOScheduler.shutdown()", "floor_async"),
                ("floor_sync", "floor: wake and join a waiting thread", "floor_sync"),
                ("ours_sync", None, "floor_sync"), ("ours_sync_alone", None, "floor_sync"),
                ("aps_background", "APScheduler BackgroundScheduler.shutdown()", "floor_sync")]
        for key, label, floor_key in rows:
            s = b.get(key) or {}
            if not _ok(s):
                continue
            graded = key in BACKOFF_LABELS
            table.rows.append([label or f"ours: {BACKOFF_LABELS[key]}", str(s["n"]), ms(s["median_ms"]), ms(s["p99_ms"]),
                               ratio(s["p99_ms"], (b.get(floor_key) or {}).get("p99_ms")), "≤ 50 ms" if graded else "",
                               _cell(goals, f"stop.backoff.{key}") if graded else ""])
        tables.append(table)
    sd = st.get("shutdown") or {}
    if sd and "error" not in sd and all(_ok(sd.get(k)) for k in ("ours", "floor", "aps_background")):
        s, floor, peer = sd["ours"], sd["floor"], sd["aps_background"]
        n = s.get("agents", 0)
        table = Table(f"Shutdown of {n:,} running agents",
                      f"ActorSystem.shutdown() of {n} no-op agents (half sync, half async, 1 s interval) after they "
                      "ran a while. Floor: cancel as many raw asyncio tasks looping on sleep(1) and await them. "
                      "Peer: BackgroundScheduler.shutdown() with as many interval jobs. The goal is absolute "
                      "(50 ms), on this host.",
                      ["figure", "n", "median", "p99", "×floor p99", "goal", "result"])
        table.rows.append(["floor: cancel raw asyncio tasks", str(floor["n"]), ms(floor["median_ms"]),
                           ms(floor["p99_ms"]), "1.00×", "", ""])
        table.rows.append(["ours: ActorSystem.shutdown()", str(s["n"]), ms(s["median_ms"]), ms(s["p99_ms"]),
                           ratio(s["p99_ms"], floor["p99_ms"]), "≤ 50 ms", _cell(goals, "stop.shutdown")])
        table.rows.append(["APScheduler BackgroundScheduler.shutdown()", str(peer["n"]), ms(peer["median_ms"]),
                           ms(peer["p99_ms"]), ratio(peer["p99_ms"], floor["p99_ms"]), "", ""])
        tables.append(table)
    return tables


# -- scale -------------------------------------------------------------------------------
def scale_tables(results: Result, goals: dict[str, Goal]) -> list[Table]:
    sc = results.get("scale")
    if not sc:
        return []
    floors = {f["agents"]: f for f in sc.get("floors", []) if "error" not in f}
    points = [p for p in sc.get("points", []) if "error" not in p]
    ticks = points[0]["ticks"] if points else "?"
    lat = Table("Scale: lateness",
                f"N no-op agents (half sync, half async) in one plain ActorSystem, 1 s interval, {ticks} ticks; "
                "'burst': all told Start at once; 'spread': starts spread evenly over one interval. Lateness = call "
                "start - (anchor + k s), unfolded; steady = ticks 2..N, all = every tick. Floor: N raw call_at timers "
                "due at the same instant, each creating a trivial task (burst shape; it runs every timer callback "
                "before the first task, so a library that starts work on other threads can beat it at the median). "
                "Rows marked gc.freeze() are evidence, not goals: the same run with gc.freeze() called once all "
                f"agents had started. The goal is absolute (20 ms at {SCALE_AGENTS:,} agents), on this host.",
                ["figure", "steady median", "steady p99", "×floor p99", "all median", "all p99", "skipped", "missing",
                 "goal", "result"])
    res = Table("Scale: resources", "threads = most seen while running; RSS from /proc/self/statm (total, and the "
                "delta from before the first spawn, per agent); spawn = N spawn() calls + N tell(Start) (burst); "
                "shutdown = system.shutdown(); CPU = process CPU time per agent run; gc = garbage collections while "
                "the agents ran (all / full), their total and longest pause. The goals are absolute, on this host.",
                ["figure", "threads", "RSS total", "RSS/agent", "spawn+start", "shutdown", "CPU/run", "gc", "goal",
                 "result"])
    for f in sorted(floors.values(), key=lambda f: f["agents"]):
        lat.rows.append([f"floor: {f['agents']:,} raw call_at + task, burst", ms(f["steady"]["median_ms"]),
                         ms(f["steady"]["p99_ms"]), "1.00×", ms(f["all"]["median_ms"]), ms(f["all"]["p99_ms"]),
                         "-", str(f["missing"]), "", ""])
    for p in sorted(points, key=lambda p: (p["agents"], p["shape"], p.get("gc_freeze", False))):
        label = f"ours: {p['agents']:,} agents, {p['shape']}" + (", gc.freeze()" if p.get("gc_freeze") else "")
        floor = floors.get(p["agents"])
        graded = p["agents"] == SCALE_AGENTS and not p.get("gc_freeze")
        lat.rows.append([label, ms(p["steady"]["median_ms"]), ms(p["steady"]["p99_ms"]),
                         ratio(p["steady"]["p99_ms"], floor["steady"]["p99_ms"]) if floor and p["shape"] == "burst" else "-",
                         ms(p["all"]["median_ms"]), ms(p["all"]["p99_ms"]), str(p["skipped"]), str(p["missing"]),
                         "p99 ≤ 20 ms, 0 skipped" if graded else "",
                         _cell(goals, f"scale.{p['shape']}.latency") if graded else ""])
        gc_text = (f"{p['gc_collections']} / {p['gc_gen2']}, {p['gc_total_ms']:.0f} ms, max {p['gc_max_ms']:.0f} ms"
                   if "gc_collections" in p else "-")
        res.rows.append([label, str(p["threads_max"]), f"{p['rss_total_mb']:.0f} MB", f"{p['rss_per_agent_kb']:.1f} KB",
                         f"{p['spawn_s'] + (p['start_s'] if p['shape'] == 'burst' else 0):.2f} s",
                         f"{p['shutdown_s']:.2f} s", f"{p['cpu_us_per_run']:.0f} µs", gc_text,
                         "RSS ≤ 300 MB, spawn ≤ 5 s, shutdown ≤ 2 s" if graded else "",
                         _cell(goals, f"scale.{p['shape']}.resources") if graded else ""])
    return [lat, res]


# -- profile -----------------------------------------------------------------------------
def profile_tables(results: Result) -> list[Table]:
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


# -- rendering ---------------------------------------------------------------------------
def build(results: Result) -> tuple[list[Table], list[Goal]]:
    """Every table and every goal (contenders included) of a run's results."""
    goals = evaluate(results)
    by_key = {g.key: g for g in goals}
    tables: list[Table] = []
    tables += dispatch_tables(results, by_key)
    drift = drift_table(results, by_key)
    if drift:
        tables.append(drift)
    msg = message_table(results, by_key)
    if msg:
        tables.append(msg)
    tables += stop_tables(results, by_key)
    tables += scale_tables(results, by_key)
    tables += profile_tables(results)
    return tables, goals


def _text_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out = [line, "-" * len(line)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(out)


def _header(results: Result) -> list[str]:
    m = results.get("machine") or {}
    if not m:
        return ["Machine: not recorded", f"Mode: {results.get('mode', '?')}"]
    pkgs = ", ".join(f"{k} {v}" for k, v in (m.get("packages") or {}).items())
    load = f"; load average {m['load_avg_1m']:.2f} at the start" if "load_avg_1m" in m else ""
    return [f"Machine: {m.get('cores', '?')} cores, {m.get('cpu', '?')}; {m.get('platform', '?')}{load}",
            f"Python {m.get('python', '?')} ({m.get('implementation', '?')}), GIL switch interval "
            f"{m.get('switch_interval_ms', 0):.0f} ms (sys.getswitchinterval())",
            f"Packages: {pkgs}",
            f"Date: {m.get('date', '?')}; commit {m.get('commit') or '?'}; mode: {results.get('mode', '?')} "
            f"({results.get('elapsed_s', 0):.0f} s)"]


def plan_text(results: Result) -> str:
    """What this run measured, in one sentence (quick mode measures less; say so)."""
    p = results.get("plan", {})
    if not p:
        return ""
    return (f"Plan ({results['mode']}): {p['ticks_idle']} ticks per dispatch series ({p['ticks_busy']} next to the busy "
            f"thread), {p['messages']} messages per kind, {p['stop_repeats']} backoff stops, shutdown of "
            f"{p['shutdown_agents']:,} agents ×{p['shutdown_repeats']}, scale "
            f"{' / '.join(f'{n:,}' for n in p['scale_agents'])} agents for {p['scale_ticks']} ticks"
            + (", profile" if p.get("profile") else ", no profile") + ".")


def _split(goals: list[Goal]) -> tuple[list[Goal], list[Goal]]:
    return [g for g in goals if not g.contender], [g for g in goals if g.contender]


def render_text(results: Result) -> str:
    """The tables, goals and reasons as plain text, for the terminal."""
    tables, goals = build(results)
    ours, contenders = _split(goals)
    host = host_text(results)
    out = _header(results) + [plan_text(results)]
    for t in tables:
        out += ["", f"== {t.title}", host] + ([t.about] if t.title.startswith("Profile") and t.about else [])
        out.append(_text_table(t.headers, t.rows))
    out += ["", "== Goals", host, _text_table(["goal", "measured", "target", "result"],
                                              [[g.name, g.measured, g.target, g.verdict] for g in ours])]
    out += ["", "== Verdict checks (contenders built to fail a goal)", host,
            _text_table(["goal", "measured", "result", "check"],
                        [[g.name, g.measured, g.verdict, g.check] for g in contenders])]
    for g in ours:
        if not g.ok:
            out += ["", f"FAIL {g.name}", f"  why: {g.why}", f"  to close it: {g.fix}"]
    return "\n".join(out)


def _md_table(headers: list[str], rows: list[list[str]]) -> str:
    def cell(c: str) -> str:
        return c.replace("|", "\\|")
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def render_markdown(results: Result, command: str) -> str:
    """The whole report as markdown (docs/benchmarks.md for a full run)."""
    tables, goals = build(results)
    ours, contenders = _split(goals)
    fails = [g for g in ours if not g.ok]
    host = host_text(results)
    out = ["# Benchmarks", "",
           "Generated by the benchmark suite; do not edit by hand. Reproduce it from a clone, with the `bench` "
           "extra and py-spy installed (`pip install '.[bench]' py-spy`):", "",
           "```bash", command, "```", "",
           "`--quick` gives a first look in under a minute (fewer ticks and agents, no profile) and writes a scratch "
           "file; only the full run writes this page. The suite never runs inside the test suite; its goals are "
           "checked here, not asserted in tests (tests/test_benchmark_verdicts.py checks that each verdict can "
           "fail). A goal with a missing measurement FAILs. What each figure measures is written next to its table "
           "and, in full, in the docstring of its module under `benchmarks/`. Hosts differ between runs: compare "
           "ratios measured in the same run, not absolute numbers across hosts.", "",
           *[f"- {line}" for line in _header(results)], f"- {plan_text(results)}", "",
           f"**{len(ours) - len(fails)} of {len(ours)} goals pass** ({host}).", "",
           "## Goals", "", f"{host}.", "",
           _md_table(["goal", "measured", "target", "result"], [[g.name, g.measured, g.target, f"**{g.verdict}**"]
                                                                 for g in ours])]
    if fails:
        out += ["", "### Why the failing goals fail, and what would close them", ""]
        for g in fails:
            out += [f"- **{g.name}**: {g.why} *To close it:* {g.fix}"]
    out += ["", "### Verdict checks", "",
            f"{host}. A contender is built to fail a goal's verdict; if it passes, the verdict cannot fail.", "",
            _md_table(["goal", "measured", "result", "check"],
                      [[g.name, g.measured, f"**{g.verdict}**", g.check] for g in contenders])]
    for t in tables:
        out += ["", f"## {t.title}", "", f"{host}." + (f" {t.about}" if t.about else ""), ""]
        out.append(_md_table(t.headers, t.rows))
    pr = results.get("profile")
    if pr and "error" not in pr:
        out += ["", "Where the GIL time goes, by module of the leaf frame: "
                + ", ".join(f"{m['name']} {m['pct']:.0f} %" for m in pr["by_module"]) + "."]
    elif pr:
        out += ["", f"Profile not taken: {pr['error']}."]
    return "\n".join(out) + "\n"
