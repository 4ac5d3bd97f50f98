"""Turn the suite's results into tables, goal verdicts and a markdown report.

The verdicts come from :mod:`benchmarks.goals` (pure functions of the results); the tables from
:mod:`benchmarks.tables` and :mod:`benchmarks.tables_load`; this module lays them out, each
under the line that names its host (:func:`benchmarks.tables.host_text`): only ratios measured
in the same run compare across tables, never an absolute number across hosts.
"""

from __future__ import annotations

from benchmarks.goals import evaluate
from benchmarks.tables import (Result, Table, dispatch_tables, drift_table, host_text, message_table,
                               stop_tables)
from benchmarks.ray_goals import ray_table
from benchmarks.tables_load import cpu_table, large_table, profile_tables, scale_tables
from benchmarks.verdict import Goal

__all__ = ["build", "host_text", "plan_text", "render_markdown", "render_text"]

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
    tables += [t for t in (cpu_table(results, by_key), large_table(results, by_key), ray_table(results)) if t is not None]
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
    elapsed = results.get("elapsed_s") or 0
    steal = (f"; CPU stolen by the hypervisor during the run: {m['steal_s']:.1f} s "
             f"({m['steal_s'] / elapsed * 100:.1f} % of one core; /proc/stat)" if "steal_s" in m and elapsed else "")
    return [f"Machine: {m.get('cores', '?')} cores, {m.get('cpu', '?')}; {m.get('platform', '?')}{load}{steal}",
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
            + (f", CPU per run of {p['cpu_agents']:,} agents over {p['cpu_ticks']} ticks ×{p['cpu_rounds']}"
               if "cpu_agents" in p else "")
            + (f", {p['large_agents']:,} agents at {p['large_interval']:g} s" if "large_agents" in p else "")
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
           "`--quick` gives a first look in about three minutes (fewer ticks and agents, no profile) and "
           "writes a scratch file; only the full run writes this page. The suite never runs inside the test suite; its goals are "
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
