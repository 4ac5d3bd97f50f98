"""Run the benchmark suite: ``python -m benchmarks [--quick]`` (or ``python benchmarks/run.py``).

Prints the tables and goal verdicts and writes a markdown report: the full run writes
docs/benchmarks.md, ``--quick`` a scratch file in the system temp dir (:func:`default_out`), so a
first look never rewrites the tracked page. Every measurement runs in a fresh interpreter
(:func:`benchmarks.common.run_child`), one after another, never in parallel.
``--quick`` (~1.5 min on 2 cores): 100 ticks per dispatch series (50 next to the busy thread, so
drift is read at tick 100, not 1,000), 500 messages, 10,000 agents only for 4 ticks, CPU per run
of 500 agents over 2 ticks, 10,000 agents at a 6 s interval (the full run's 1,667 ticks per
second), no profile. Full (~12 min): 1,000 ticks per series, 2,000 messages, 100 / 1,000 /
10,000 agents for 10 ticks (and, as evidence, 10,000 with gc.freeze()), CPU per run of 1,000
agents over 4 ticks in 2 alternating rounds, 100,000 agents at 60 s, and the py-spy profile.
Both then measure the stores (:mod:`benchmarks.store`): 10,000 agents with and without a SQLite
store, N agents in 4 processes on SQLite and on PostgreSQL (quick: 200 for 10 s; full: 1,000
for 60 s; the server comes from the pgserver wheel), the same without a store (the contender),
and takeovers after kill -9 (quick 2, full 5 per store kind); ~5 more minutes in a full run.
Then Ray (:mod:`benchmarks.on_ray`, each child in a loopback-only network namespace; without
root those goals FAIL as not measured): the capacity of one process, one Ray host and two
(quick: 4,000 and 8,000 runs/s; full: rising rates, then two halvings), 10,000 agents over two
hosts, and recovery after kill -9 of a host (quick 1, full 3); ~5 more minutes in a full run.
Both run the contenders, which must FAIL their goals: the drifting scheduler (``naive_sync``,
idle only) and the wasteful CPU wrapper (``wasteful_async``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: python benchmarks/run.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import report  # noqa: E402
from benchmarks.common import ROOT, Result, machine, run_child, steal_seconds  # noqa: E402
from benchmarks.cpu import SERIES as CPU_SERIES  # noqa: E402
from benchmarks.dispatch import IDLE_ONLY, SERIES  # noqa: E402

INTERVAL = 0.02
PLANS: dict[str, dict[str, Any]] = {
    "quick": {"ticks_idle": 100, "ticks_busy": 50, "messages": 500, "stop_repeats": 10, "shutdown_agents": 1000,
              "shutdown_warm_s": 1.0, "shutdown_repeats": 1, "scale_agents": [10000], "scale_ticks": 4,
              "gc_freeze_evidence": False, "cpu_agents": 500, "cpu_ticks": 2, "cpu_rounds": 1,
              "large_agents": 10000, "large_interval": 6.0, "profile": False,
              "store_agents": 200, "store_procs": 4, "store_seconds": 10.0, "store_overhead_ticks": 4, "takeovers": 2,
              "ray_rates": [4000, 8000], "ray_spread_agents": 10000, "ray_kills": 1},
    "full": {"ticks_idle": 1000, "ticks_busy": 1000, "messages": 2000, "stop_repeats": 30, "shutdown_agents": 1000,
             "shutdown_warm_s": 2.0, "shutdown_repeats": 3, "scale_agents": [100, 1000, 10000], "scale_ticks": 10,
             "gc_freeze_evidence": True, "cpu_agents": 1000, "cpu_ticks": 4, "cpu_rounds": 2,
             "large_agents": 100000, "large_interval": 60.0, "profile": True,
             "store_agents": 1000, "store_procs": 4, "store_seconds": 60.0, "store_overhead_ticks": 6, "takeovers": 5,
             "ray_rates": [4000, 8000, 16000, 24000, 32000, 40000],
             "ray_spread_agents": 10000, "ray_kills": 3},
}


class Progress:
    """One line per step on stderr, with the time since the start."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def __call__(self, what: str) -> None:
        print(f"[{time.monotonic() - self.t0:5.0f} s] {what}", file=sys.stderr, flush=True)


def run_suite(mode: str, profile: bool) -> Result:
    plan = PLANS[mode]
    step = Progress()
    results: Result = {"mode": mode, "plan": plan, "machine": machine(), "dispatch": {}}
    steal0 = steal_seconds()
    for condition, ticks in (("idle", plan["ticks_idle"]), ("busy", plan["ticks_busy"])):
        series = results["dispatch"][condition] = {}
        for name, (func, extra) in SERIES.items():
            if condition == "busy" and name in IDLE_ONLY:
                continue
            step(f"dispatch ({condition}): {name}, {ticks} ticks")
            series[name] = run_child(f"dispatch:{func.__name__}", timeout=ticks * INTERVAL * 2 + 30, ticks=ticks,
                                     interval=INTERVAL, busy=condition == "busy", **extra)
    step(f"messages: {plan['messages']} tells and asks each")
    results["messages"] = run_child("messages:run", timeout=120, n=plan["messages"])
    step(f"stop: backoff stop x{plan['stop_repeats']}")
    results["stop"] = {"backoff": run_child("stop:backoff_stop", timeout=120, repeats=plan["stop_repeats"])}
    step(f"stop: shutdown of {plan['shutdown_agents']} agents x{plan['shutdown_repeats']}")
    results["stop"]["shutdown"] = run_child("stop:shutdown_agents", timeout=120, n=plan["shutdown_agents"],
                                            warm_s=plan["shutdown_warm_s"], repeats=plan["shutdown_repeats"])
    results["scale"] = {"points": [], "floors": []}
    for agents in plan["scale_agents"]:
        step(f"scale: raw-asyncio floor, {agents} timers")
        results["scale"]["floors"].append({"agents": agents, **run_child("scale:floor_burst", timeout=120,
                                                                        agents=agents, ticks=plan["scale_ticks"])})
        for shape in ("burst", "jitter"):
            for freeze in (False, True) if agents >= 10000 and plan["gc_freeze_evidence"] else (False,):
                step(f"scale: {agents} agents, {shape}{', gc.freeze()' if freeze else ''}")
                # The parameters first, so that an errored point still says which one it was.
                results["scale"]["points"].append({"agents": agents, "shape": shape, "gc_freeze": freeze,
                                                   **run_child("scale:run", timeout=180, agents=agents,
                                                               ticks=plan["scale_ticks"], shape=shape,
                                                               gc_freeze=freeze)})
    results["cpu"] = {"rounds": []}
    for r in range(plan["cpu_rounds"]):  # alternating series, pooled: one noisy process weighs less
        results["cpu"]["rounds"].append(cpu_round := {})
        for name, (func, extra) in CPU_SERIES.items():
            step(f"cpu per run: {name}, {plan['cpu_agents']} agents, round {r + 1} of {plan['cpu_rounds']}")
            cpu_round[name] = run_child(f"cpu:{func.__name__}", timeout=plan["cpu_ticks"] + 60,
                                        agents=plan["cpu_agents"], ticks=plan["cpu_ticks"], **extra)
    n, interval = plan["large_agents"], plan["large_interval"]
    step(f"many agents: {n:,} at {interval:g} s (about {2 * interval:.0f} s)")
    results["large"] = {"agents": n, "interval_s": interval,
                        **run_child("large:run", timeout=2 * interval + 180, agents=n, interval=interval)}
    results["stores"] = stores = {"overhead": {}, "processes": {}, "takeover": {}}
    for with_store in (False, True):
        step(f"stores: 10,000 agents at 1 s, spread, {'with' if with_store else 'without'} a SQLite store")
        stores["overhead"]["with" if with_store else "without"] = run_child(
            "scale:run", timeout=180, agents=10000, ticks=plan["store_overhead_ticks"], shape="spread", store=with_store)
    n, procs, seconds = plan["store_agents"], plan["store_procs"], plan["store_seconds"]
    for kind in ("sqlite", "postgresql", "none"):
        step(f"stores: {n:,} agents in {procs} processes for {seconds:g} s, {kind}")
        small = kind == "none"  # the contender: the quick size is enough to fail
        stores["processes"][kind] = run_child(
            "store:processes", timeout=seconds * 2 + 240, kind="sqlite" if small else kind,
            agents=min(n, 200) if small else n, procs=procs, seconds=min(seconds, 10.0) if small else seconds,
            store=not small)
    for kind in ("sqlite", "postgresql"):
        step(f"stores: {plan['takeovers']} takeovers after kill -9, {kind}")
        stores["takeover"][kind] = run_child("store:takeover", timeout=60 * plan["takeovers"] + 60, kind=kind,
                                             repeats=plan["takeovers"])
    results["ray"] = ray = {"capacity": {}}
    for kind in ("process", "ray1", "ray2"):  # each in a loopback-only network namespace, like the tests
        step(f"ray: capacity of {kind}, rates {plan['ray_rates'][0]:,}..{plan['ray_rates'][-1]:,}/s")
        ray["capacity"][kind] = run_child("on_ray:capacity", timeout=30 * (len(plan["ray_rates"]) + 2) + 60, netns=True,
                                          kind=kind, rates=plan["ray_rates"])
    step(f"ray: {plan['ray_spread_agents']:,} agents at 1 s over two hosts")
    ray["spread"] = run_child("on_ray:spread", timeout=180, netns=True, agents=plan["ray_spread_agents"])
    step(f"ray: recovery after {plan['ray_kills']} kill -9 of a host")
    ray["recovery"] = run_child("on_ray:recovery", timeout=60 * plan["ray_kills"] + 60, netns=True,
                                kills=plan["ray_kills"])
    if profile:
        step("profile: 2,000 agents under py-spy")
        results["profile"] = run_child("profile:run", timeout=120, agents=2000, seconds=6.0)
    results["elapsed_s"] = time.monotonic() - step.t0
    steal1 = steal_seconds()
    if steal0 is not None and steal1 is not None:
        results["machine"]["steal_s"] = steal1 - steal0  # taken by the hypervisor during the run
    step("done")
    return results


DOC = ROOT / "docs" / "benchmarks.md"


def default_out(mode: str) -> Path:
    """Where a run writes its report: docs/benchmarks.md for a full run, a scratch file otherwise."""
    return DOC if mode == "full" else Path(tempfile.gettempdir()) / "actorsched-benchmarks-quick.md"


def check_out(mode: str, out: Path) -> None:
    """Refuse to let anything but a full run write the tracked docs/benchmarks.md."""
    if mode != "full" and out.resolve() == DOC.resolve():
        raise SystemExit(f"a {mode} run does not write {DOC.relative_to(ROOT)}: only the full run does")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a first look in about 90 s (writes a scratch file)")
    parser.add_argument("--profile", action=argparse.BooleanOptionalAction, default=None,
                        help="take the py-spy profile (default: in full mode only)")
    parser.add_argument("--out", type=Path, help="markdown report to write (default: docs/benchmarks.md for a full "
                        f"run, {default_out('quick')} for --quick)")
    parser.add_argument("--no-write", action="store_true", help="print only; write no markdown report")
    parser.add_argument("--json", type=Path, help="also save the raw results here")
    parser.add_argument("--render", type=Path, help="render saved raw results instead of measuring")
    args = parser.parse_args(argv)
    if args.render:
        results = json.loads(args.render.read_text())
    else:
        mode = "quick" if args.quick else "full"
        if args.out is not None:
            check_out(mode, args.out)  # before minutes of measuring, not after
        results = run_suite(mode, PLANS[mode]["profile"] if args.profile is None else args.profile)
    out = args.out or default_out(results["mode"])
    check_out(results["mode"], out)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print(report.render_text(results))
    if not args.no_write:
        command = "python -m benchmarks" + (" --quick" if results["mode"] == "quick" else "")
        out.write_text(report.render_markdown(results, command))
        print(f"\nwrote the {results['mode']} report to {out}")


if __name__ == "__main__":
    main()
