"""Why a failing goal fails and what would close it, built from the measured numbers.

Generated from the numbers, so they stay true when the numbers move; refine the wording here.
Each function returns (why, fix), two sentences for the report.
"""

from __future__ import annotations

from benchmarks.verdict import (CPU_COMPLETE, FLOOR_OF, FLOOR_RATIO, LABELS, LARGE_P99_MS, LARGE_RSS_MB,
                                LARGE_SPAWN_S, LARGE_SHUTDOWN_S, OURS_PATH, RAW_RATIO, WAKEUPS, Result, ms, short_label)


def dispatch_reason(key: str, condition: str, by_key: Result, beaten_by: Result) -> tuple[str, str]:
    """Dispatch p99 over its floor, below a peer, or with skipped ticks: the path and the fix."""
    s, floor = by_key[key], by_key[FLOOR_OF[key]]
    why: list[str] = []
    fix: list[str] = []
    hops = OURS_PATH[key]
    path_fix = ("the path already wakes no more threads than the floor, so what is left is the Python work per "
                "tick between the timer and the call (timer re-arm, Tick message, mailbox drain, state machine, "
                "attempt start): see the profile for its largest costs")
    if s["p99_ms"] > FLOOR_RATIO[condition] * floor["p99_ms"]:
        why.append(f"p99 {ms(s['p99_ms'])} is {s['p99_ms'] / floor['p99_ms']:.2f}× the floor's {ms(floor['p99_ms'])} "
                   f"(median +{ms(s['median_ms'] - floor['median_ms'])})"
                   + ("" if condition == "busy" else f": after the timer fires the tick goes {hops}"))
        fix.append(path_fix)
    if condition == "busy" and why:
        same_kind = ("aps_asyncio_async" if key == "ours_async" else "aps_asyncio_sync", "aps_background")
        others = ", ".join(f"{short_label(p)} {WAKEUPS[p]}" for p in same_kind)
        switch = s.get("switch_interval_ms")  # measured by sys.getswitchinterval() in the series' process
        slices = (f": p99 {s['p99_ms'] / switch:.1f} intervals against the floor's {floor['p99_ms'] / switch:.1f}"
                  if switch else " (switch interval not recorded)")
        why.append(f"next to a busy thread every thread that wakes on the way waits up to one "
                   f"{ms(switch) if switch else '?'} switch interval for the GIL; our path wakes {WAKEUPS[key]} "
                   f"({hops}), the floor {WAKEUPS[FLOOR_OF[key]]}, {others}{slices}")
    for p, v in beaten_by.items():
        line = f"{LABELS[p].split(',')[0]} p99 {ms(v['p99_ms'])} (median {ms(v['median_ms'])}) is lower"
        gap = (s["p99_ms"] - v["p99_ms"]) / v["p99_ms"]
        fa = by_key.get("floor_async") or {}
        if p == "aps_background" and condition == "idle" and fa.get("median_ms") and v["median_ms"] < fa["median_ms"]:
            line += (": it sleeps in threading.Event.wait(timeout), a futex with µs resolution, while every "
                     "loop.call_at sleeps in epoll_wait, whose timeout asyncio rounds up to whole ms (raw call_at "
                     f"median {ms(fa['median_ms'])}, p99 {ms(fa.get('p99_ms'))}), so even the async floor loses "
                     "to it" + (": an async agent's timer is a loop timer, so this bound is the floor's, not ours"
                                if key == "ours_async" else ""))
            fix.append("arm the loop timer ~1 ms early and finish the wait precisely on the loop (a short blocking "
                       "wait costs the loop up to 1 ms per tick), or accept the loop's epoll rounding"
                       if key == "ours_async" else
                       "the sync tick already waits on a futex (the worker's TimedInbox): see the profile for the "
                       "work between its wake-up and the pool thread's call")
        elif gap < 0.1:
            line += f" by {gap * 100:.1f} %, within the noise of a p99 over {s['n']} ticks"
        why.append(line)
    stolen, floor_stolen = s.get("steal_pct"), floor.get("steal_pct")
    if why and stolen is not None and floor_stolen is not None and stolen > max(1.0, 2 * floor_stolen):
        why.append(f"the hypervisor took {stolen:.1f} % of a core from this VM while this series ran, against "
                   f"{floor_stolen:.1f} % during its floor's: part of the gap is the host's, not ours")
    if s.get("skipped"):
        interval = s.get("interval_ms")
        missed = s.get("missed") or 0
        line = (f"{s['skipped']} tick(s) did not run: {s['skipped'] - missed} skipped (a run was still in flight, or its "
                f"report not yet handled, when the next tick came) and {missed} missed (the tick came over an interval "
                "late and catch_up='skip' drops it rather than run it late)")
        if missed and floor.get("max_ms") and interval and floor["max_ms"] >= interval:
            line += (f"; the floor's own worst tick in this run was {ms(floor['max_ms'])} late, over the "
                     f"{ms(interval)} interval: the process stalled for both")
        if interval and floor.get("p99_ms") and floor["p99_ms"] >= interval:
            line += (f"; the floor's own p99 ({ms(floor['p99_ms'])}) is over the {ms(interval)} interval, so some calls "
                     "of any scheduler here start more than an interval late, and one that never stacks runs skips "
                     "those ticks: 0 skipped is out of reach on this host next to a busy thread")
            fix.append("none for the skipped ticks within the runtime: the floor itself is late by over an interval")
        why.append(line)
    return ("; ".join(why) + ".",
            ("; ".join(dict.fromkeys(fix)) or "lower the per-tick path cost (see the profile)") + ".")



def message_reason(key: str, s: Result, raw: Result, m: Result) -> tuple[str, str]:
    """A tell or ask over 1.3x raw pykka: where the extra time goes and the fix."""
    extra = s["median_ms"] - raw["median_ms"]
    median_ratio = s["median_ms"] / raw["median_ms"] if raw["median_ms"] else float("inf")
    tail = (f"the median is {median_ratio:.2f}× raw pykka's, within the goal, and the p99 {ms(s['p99_ms'])} "
            f"against {ms(raw['p99_ms'])}: the tail is what misses" if median_ratio <= RAW_RATIO else
            f"the median is {ms(extra)} longer than raw pykka's {ms(raw['median_ms'])}")
    if key == "ask_ours":
        parts = [tail]
        if "snapshot_us" in m:
            parts.append(f"building the stats snapshot costs {m['snapshot_us']:.1f} µs of the round trip")
        parts.append("each ask allocates that 20-key dict, the internal message and its answer queue (the GC's "
                     "share of the tail), and the request crosses the mailbox deque and the worker's doorbell, "
                     "two hand-offs where raw pykka has one queue")
        return ("; ".join(parts) + ".",
                "answer GetStats without the worker hop (the stats record is read-mostly: a snapshot read from "
                "the caller's thread, or a cached dict refreshed by the actor), so the round trip costs no thread "
                "wake-up at all.")
    send = ""
    so, sr = m.get("send_ours") or {}, m.get("send_raw") or {}
    if so.get("median_ms") is not None and sr.get("median_ms") is not None:
        send = f" tell() itself takes {ms(so['median_ms'])} on the sender against raw pykka's {ms(sr['median_ms'])}."
    return (f"{tail}: between tell() and the handler the sender checks the agent is alive, appends the shared "
            "internal message to the mailbox and rings the worker (a prebuilt envelope into its SimpleQueue, no "
            "Python frame in between); the woken worker takes its ready queue and drains the mailbox: about 9 "
            "Python calls where raw pykka has about 8, each ~0.3 µs with the caches cold after a wait." + send,
            "serve the mailbox's own deque as the worker's queue (no ready queue and doorbell when one mailbox "
            "is waiting), or measure where the extra wake-up time goes (perf sched) if the calls are equal.")


def scale_reason(p: Result, floor: Result | None, frozen: Result | None, handoff: float | None,
                 limit_ms: float) -> tuple[str, str]:
    """A scale point over its p99 (``limit_ms``), skipping or missing runs: floor, CPU, gc, and the fix."""
    n = p["agents"]
    why = [f"p99 {ms(p['steady']['p99_ms'])} against a limit of {ms(limit_ms)}"]
    if p["shape"] == "burst" and floor:
        why.append(f"the raw-asyncio floor alone has p99 {ms(floor['steady']['p99_ms'])} for {n:,} timers due at the "
                   "same instant, and every run of ours costs more CPU than the floor's (the CPU-per-run table): "
                   "with one GIL the last of the burst waits for all the others")
    if "cpu_us_per_run" in p:
        why.append(f"each run costs {p['cpu_us_per_run']:.0f} µs of CPU ({n * p['cpu_us_per_run'] / 1e6:.2f} s per "
                   "second for all agents), and with one GIL its Python part runs serially, so the last ticks of a "
                   f"{'burst' if p['shape'] == 'burst' else 'busy stretch'} queue behind the others")
    if p.get("gc_total_ms"):
        why.append(f"the garbage collector ran {p['gc_collections']} times ({p['gc_gen2']} full) for "
                   f"{ms(p['gc_total_ms'])}, the longest pause {ms(p['gc_max_ms'])}, stopping every thread")
    if frozen:
        why.append(f"with gc.freeze() after start the same run has p99 {ms(frozen['steady']['p99_ms'])} "
                   f"(gc {ms(frozen.get('gc_total_ms'))}, longest {ms(frozen.get('gc_max_ms'))})")
    if p["skipped"]:
        why.append(f"{p['skipped']} tick(s) skipped (a run still in flight when its next tick came)")
    if p["missing"]:
        why.append(f"{p['missing']} expected run(s) never started within the measurement window")
    share = (f" ({handoff:.0f} % of the GIL time in the profile is thread hand-offs, the largest kind)"
             if handoff is not None else " (see the profile)")
    fix = [f"cut the CPU per run{share}: fewer objects and calls between the timer and the agent's call"]
    if p.get("gc_max_ms", 0) > limit_ms:
        if p.get("gc_gen2", 0) <= 1:
            fix.append("the one full collection is the one CPython runs after start-up, for the heap that spawn "
                       "grew (a waiting tick promotes nothing): fewer long-lived objects per agent make it shorter, "
                       "and gc.freeze() after start-up (docs) takes the agents out of it")
        else:
            fix.append("allocate less per tick (each run creates messages, an execution record, closures, a task or "
                       "pool item) so fewer objects survive into older generations, and document gc.freeze() after "
                       "start-up for large systems")
    if p["shape"] == "burst":
        fix.append("for the burst shape the floor says the ticks themselves must be spread: Start(jitter=...), "
                   "as the 'jitter' rows show")
    return "; ".join(why) + ".", "; ".join(fix) + "."


def cpu_reason(c: Result, f: Result, contender: bool) -> tuple[str, str]:
    """CPU per run over 2x its floor (or too few runs): where the extra CPU goes and the fix.

    ``c`` and ``f`` are :func:`benchmarks.load_goals.cpu_cost` dicts (ours or the contender,
    and the floor of its shape).
    """
    extra = c["us"] - f["us"]
    why = [f"{c['us']:.0f} µs of CPU per run is {c['us'] / f['us']:.2f}× the floor's {f['us']:.0f} µs: of the "
           f"{extra:.0f} µs more, {c['user_us'] - f['user_us']:.0f} µs is user time (Python work per tick) and "
           f"{c['sys_us'] - f['sys_us']:.0f} µs system time, with {c['switches']:.1f} context switches per run "
           f"against the floor's {f['switches']:.1f} (each a thread that blocks and is woken again)"]
    if c["gc_per_1000"] > f["gc_per_1000"]:
        why.append(f"the collector ran {c['gc_per_1000']:.1f} times per 1,000 runs against the floor's "
                   f"{f['gc_per_1000']:.1f}")
    if c["runs"] < CPU_COMPLETE * c["expected"]:
        why.append(f"only {c['runs']} of the {c['expected']} expected runs started in the window, so the CPU it "
                   "paid for is divided by too few runs")
    if contender:
        return ("; ".join(why) + ".", "expected for this contender: it burns 3× the floor's CPU in every run by "
                "design, so it must fail; a verdict that passed it could not fail.")
    return ("; ".join(why) + ".",
            "cut the work per tick: wake fewer threads per run (each switch is a futex wake and a GIL hand-off) "
            "and create fewer objects per tick (messages, records, closures); the profile tables show which "
            "functions the user time goes to.")


def large_latency_reason(p: Result) -> tuple[str, str]:
    """Many agents over their p99, skipping or missing runs: gc pauses, CPU load, and the fix."""
    lat = p["lateness"]
    rate = p["agents"] / p["interval_s"]
    why = [f"p99 {ms(lat['p99_ms'])} (median {ms(lat['median_ms'])}, max {ms(lat['max_ms'])}) at {rate:,.0f} "
           "ticks per second"]
    if p.get("cpu_us_per_run") is not None:
        why.append(f"each run costs {p['cpu_us_per_run']:.0f} µs of CPU, {rate * p['cpu_us_per_run'] / 1e4:.0f} % "
                   "of one core for all agents")
    if p.get("gc_collections"):
        why.append(f"the garbage collector ran {p['gc_collections']} times ({p['gc_gen2']} full) for "
                   f"{ms(p['gc_total_ms'])}, the longest pause {ms(p['gc_max_ms'])}, stopping every thread while "
                   f"{rate * p['gc_max_ms'] / 1000:.0f} ticks fell due")
    if p.get("start_lag_s", 0) * 1000 > LARGE_P99_MS:
        why.append(f"the tell(Start) loop fell up to {ms(p['start_lag_s'] * 1000)} behind its schedule, so those "
                   "starts, and their ticks one interval later, came bunched")
    if p.get("skipped"):
        why.append(f"{p['skipped']} tick(s) skipped")
    if p.get("missing"):
        why.append(f"{p['missing']} expected run(s) never started in the window")
    fix = ("allocate less per agent and per tick, so that full collections (each one scans every agent's objects) "
           "are rarer and shorter; gc.freeze() after start-up takes the agents' long-lived objects out of them"
           if p.get("gc_max_ms", 0) > LARGE_P99_MS else
           "cut the CPU per run (see the CPU-per-run table and the profile), so that ticks do not queue behind "
           "each other on the one GIL")
    return "; ".join(why) + ".", fix + "."


def large_resource_reason(p: Result, spawn_s: float) -> tuple[str, str]:
    """Many agents over a spawn, RSS or shutdown budget: the cost per agent of each, and the fix."""
    n = p["agents"]
    over, fix = [], []
    if spawn_s > LARGE_SPAWN_S:
        gc_part = (f", {ms(p['spawn_gc_ms'])} of the spawn in {p.get('spawn_gc_full', '?')} garbage collections "
                   "(each full one scans every agent spawned so far)" if p.get("spawn_gc_ms") else "")
        over.append(f"spawn + tell(Start) {spawn_s:.2f} s = {spawn_s / n * 1e6:.0f} µs per agent{gc_part}")
        fix.append("make spawn() build fewer long-lived objects per agent (14 today: the actor, its stats, "
                   "mailbox and two lanes, binding, ports, timers and the pending tick, ref, token), or call "
                   "gc.freeze() before spawning many agents")
    if p["rss_total_mb"] > LARGE_RSS_MB:
        over.append(f"RSS {p['rss_total_mb']:.0f} MB = {p.get('rss_per_agent_kb', float('nan')):.1f} KB per agent")
        fix.append("shrink what each agent keeps (__slots__, shared config and schedule objects, no per-agent "
                   "closures)")
    if p["shutdown_s"] > LARGE_SHUTDOWN_S:
        over.append(f"shutdown {p['shutdown_s']:.2f} s = {p['shutdown_s'] / n * 1e6:.0f} µs per agent"
                    + (f", {ms(p['shutdown_gc_ms'])} of it garbage collection" if p.get("shutdown_gc_ms") else ""))
        fix.append("stop the agents as a batch: one loop call cancelling every timer, one teardown of the runtime")
    if p.get("stopped_ok") is not True:
        over.append("not every agent ended stopped")
        fix.append("the shutdown's timeout passed with agents still running: see their final stats")
    return ("over budget: " + "; ".join(over) + f" ({p.get('threads_max', '?')} threads).",
            "; ".join(fix) + ".")
