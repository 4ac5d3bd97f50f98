"""The report's tables of latency: dispatch, drift, messages and stop, each a :class:`Table`
of text cells next to the verdicts of its goals.

Every table states the host it was measured on (:func:`host_text`): the machines change
between runs (an Intel and an AMD host so far, 3x apart in CPU per run), so only ratios measured
in the same run compare across tables, never an absolute number across hosts. The tables of
load (scale, CPU per run, many agents, profile) are in :mod:`benchmarks.tables_load`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from benchmarks.verdict import (BACKOFF_LABELS, CONTENDERS, FLOOR_OF, LABELS, PEERS_OF, Goal, dispatch_target, ms,
                                ratio)

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


def is_measured(s: Result | None) -> bool:
    """Whether ``s`` is a summary with a p99 (not missing, not an error)."""
    return isinstance(s, dict) and "error" not in s and s.get("p99_ms") is not None


def verdict_cell(goals: dict[str, Goal], key: str) -> str:
    """The verdict of goal ``key`` for a table cell, or "" if there is no such goal."""
    return goals[key].verdict if key in goals else ""


# -- dispatch and drift ------------------------------------------------------------------
def dispatch_tables(results: Result, goals: dict[str, Goal]) -> list[Table]:
    """The dispatch latency tables, one per condition (idle, busy)."""
    tables = []
    for condition, by_key in (results.get("dispatch") or {}).items():
        busy = condition == "busy"
        ticks = next((s.get("ticks") for s in by_key.values() if is_measured(s)), "?")
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
            if not is_measured(s):
                error = s.get("error", "no samples") if isinstance(s, dict) else "not run"
                table.rows.append([label, "-", "-", "-", "-", "-", "-", "", f"not measured: {error}"])
                continue
            assert s is not None
            floor = by_key.get(FLOOR_OF[key]) or {}
            goal_text = dispatch_target(key, condition) if key in PEERS_OF else (
                "contender (see Drift)" if key in CONTENDERS else "")
            table.rows.append([label, str(s["n"]), ms(s["median_ms"]), ms(s["p99_ms"]),
                               ratio(s["median_ms"], floor.get("median_ms")), ratio(s["p99_ms"], floor.get("p99_ms")),
                               str(s.get("skipped", "?")), goal_text, verdict_cell(goals, f"dispatch.{condition}.{key}")])
        tables.append(table)
    return tables


def drift_table(results: Result, goals: dict[str, Goal]) -> Table | None:
    """The drift table from the idle dispatch series (None without them)."""
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
        if not is_measured(s) or "trend_ms" not in s:
            if goal_key in goals:
                table.rows.append([LABELS[key], "-", "-", "-", "-", "-", "|trend| ≤ floor p99", "FAIL (not measured)"])
            continue
        floor = by_key.get(FLOOR_OF[key]) or {}
        fp99 = floor.get("p99_ms")
        verdict = verdict_cell(goals, goal_key)
        if goal_key in goals and goals[goal_key].contender:
            verdict += " (expected)" if verdict == "FAIL" else " (BROKEN: must fail)"
        table.rows.append([LABELS[key], str(s["drift_tick"]), ms(s["drift_ms"]), ms(s["trend_ms"]), ms(fp99),
                           ratio(abs(s["trend_ms"]), fp99), "|trend| ≤ floor p99" if goal_key in goals else "",
                           verdict])
    return table


# -- messages ----------------------------------------------------------------------------
def message_table(results: Result, goals: dict[str, Goal]) -> Table | None:
    """The tell and ask table against raw pykka (None without it)."""
    m = results.get("messages")
    if not m or "error" in m:
        return None
    table = Table("Message latency", "From the main thread of a plain ActorSystem with one started sync no-op agent, "
                  "against a bare pykka.ThreadingActor in the same process, alternating blocks. tell -> handled: "
                  "tell() to the first line of the actor's handler, for a message that starts nothing (ours: "
                  "Resume to a running agent); a tell that starts a run: ours RunNow, raw a tell whose handler "
                  "hands a no-op run to a thread of its own (the same shape), until handled and until the run "
                  "starts; ask: GetStats round trip (raw: on_receive returns a 20-key dict).",
                  ["figure", "n", "median", "p99", "×raw median", "×raw p99", "goal", "result"])
    rows = [("tell -> handled", "tell_ours", "tell_raw", "messages.tell"),
            ("tell() returns (sender's cost)", "send_ours", "send_raw", ""),
            ("tell that starts a run -> handled", "tell_ours_run", "tell_raw_run", ""),
            ("tell that starts a run -> run starts", "tell_ours_call", "tell_raw_call", ""),
            ("ask round trip (GetStats)", "ask_ours", "ask_raw", "messages.ask")]
    for label, ours_key, raw_key, goal_key in rows:
        s, raw = m.get(ours_key) or {}, m.get(raw_key) or {}
        if not (is_measured(s) and is_measured(raw)):
            continue
        if raw_key is not None:
            table.rows.append([f"raw pykka: {label}", str(raw["n"]), ms(raw["median_ms"]), ms(raw["p99_ms"]),
                               "1.00×", "1.00×", "", ""])
        table.rows.append([f"ours: {label}", str(s["n"]), ms(s["median_ms"]), ms(s["p99_ms"]),
                           ratio(s["median_ms"], raw["median_ms"]), ratio(s["p99_ms"], raw["p99_ms"]),
                           "≤ 1.3× raw (median and p99)" if goal_key else "", verdict_cell(goals, goal_key)])
    return table


# -- stop --------------------------------------------------------------------------------
def stop_tables(results: Result, goals: dict[str, Goal]) -> list[Table]:
    """The stop-during-backoff and shutdown tables."""
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
            if not is_measured(s):
                continue
            graded = key in BACKOFF_LABELS
            table.rows.append([label or f"ours: {BACKOFF_LABELS[key]}", str(s["n"]), ms(s["median_ms"]), ms(s["p99_ms"]),
                               ratio(s["p99_ms"], (b.get(floor_key) or {}).get("p99_ms")), "≤ 50 ms" if graded else "",
                               verdict_cell(goals, f"stop.backoff.{key}") if graded else ""])
        tables.append(table)
    sd = st.get("shutdown") or {}
    if sd and "error" not in sd and all(is_measured(sd.get(k)) for k in ("ours", "floor", "aps_background")):
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
                           ratio(s["p99_ms"], floor["p99_ms"]), "≤ 50 ms", verdict_cell(goals, "stop.shutdown")])
        table.rows.append(["APScheduler BackgroundScheduler.shutdown()", str(peer["n"]), ms(peer["median_ms"]),
                           ms(peer["p99_ms"]), ratio(peer["p99_ms"], floor["p99_ms"]), "", ""])
        tables.append(table)
    return tables
