"""The vocabulary of the goal verdicts: series names, thresholds, :class:`Goal`, and the rule
that a missing input is a FAIL (:func:`need`, :func:`judged`).

A :class:`Goal` starts as FAIL; only a judge that has read every input through :func:`need` can
pass it, and an input that is missing, None, NaN or an error makes the goal FAIL with the reason
"not measured: <what>". Thresholds against floors and peers are ratios of numbers measured in
the same run; the absolute ones (ms, MB, s) hold on the host the run names.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Result = dict[str, Any]

LABELS = {
    "floor_async": "floor: raw loop.call_at",
    "ours_async": "ours: AsyncAgentScheduler, async agent",
    "aps_asyncio_async": "APScheduler AsyncIOScheduler, async job",
    "floor_sync": "floor: raw call_at + hand-off to a waiting thread",
    "ours_sync": "ours: AgentScheduler, sync agent",
    "aps_asyncio_sync": "APScheduler AsyncIOScheduler, sync job (executor)",
    "aps_background": "APScheduler BackgroundScheduler, sync job",
    "naive_sync": "contender: a thread that sleeps the interval after each run",
}
FLOOR_OF = {"floor_async": "floor_async", "ours_async": "floor_async", "aps_asyncio_async": "floor_async",
            "floor_sync": "floor_sync", "ours_sync": "floor_sync", "aps_asyncio_sync": "floor_sync",
            "aps_background": "floor_sync", "naive_sync": "floor_sync"}
# The peers a dispatch series must beat when idle (issue 10): an async agent both APScheduler
# schedulers, a sync agent BackgroundScheduler. Next to a busy thread only the floor counts.
PEERS_OF = {"ours_async": ("aps_asyncio_async", "aps_background"),
            "ours_sync": ("aps_background",)}
CONTENDERS = ("naive_sync",)
BACKOFF_LABELS = {"ours_async": "AsyncAgentScheduler.stop(), next to a running agent",
                  "ours_async_alone": "AsyncAgentScheduler.stop(), alone",
                  "ours_sync": "AgentScheduler.stop(), next to a running agent",
                  "ours_sync_alone": "AgentScheduler.stop(), alone"}
# Threads that must wake (and take the GIL) between a tick's due time and the call, per series.
# Ours follows docs/architecture.md ("The path of one tick"); update it when the runtime changes.
OURS_PATH = {"ours_async": "loop timer -> mailbox drained on the same loop -> task",
             "ours_sync": "dispatcher worker's futex timer -> mailbox drained on that worker -> pool thread"}
WAKEUPS = {"floor_async": 1, "floor_sync": 2, "ours_async": 1, "ours_sync": 2, "aps_asyncio_async": 1,
           "aps_asyncio_sync": 2, "aps_background": 2}
# Dispatch p99 may cost up to this times its floor's: idle, and next to a busy thread (issue 10).
FLOOR_RATIO = {"idle": 1.2, "busy": 1.5}
RAW_RATIO = 1.3  # a tell or ask may cost up to 1.3x raw pykka's (issue 5, kept by issue 10)
STOP_MS = 50.0  # absolute: stop() during a backoff wait and shutdown() of 1,000 agents (issue 5)
SCALE_AGENTS = 10000  # the graded scale point; smaller ones are shown, not graded
BURST_RATIO = 1.5  # 10,000 agents due at one instant: p99 up to 1.5x the raw-asyncio burst floor (issue 10)
JITTER_P99_MS = 5.0  # absolute: 10,000 agents on one 1 s schedule with jitter (issue 10)
SCALE_RSS_MB, SCALE_SPAWN_S, SCALE_SHUTDOWN_S = 300.0, 5.0, 2.0  # absolute (issue 5)
CPU_LABELS = {"floor_async": "floor: raw call_at + create_task",
              "ours_async": "ours: async agents (async with ActorSystem)",
              "wasteful_async": "contender: raw call_at + task, burning 3× the floor's CPU per run",
              "floor_sync": "floor: raw call_at + hand-off to a waiting thread",
              "ours_sync": "ours: sync agents (ActorSystem)"}
CPU_FLOOR_OF = {"floor_async": "floor_async", "ours_async": "floor_async", "wasteful_async": "floor_async",
                "floor_sync": "floor_sync", "ours_sync": "floor_sync"}
CPU_CONTENDERS = ("wasteful_async",)
CPU_RATIO = 2.0  # CPU per run may cost up to 2x the raw floor's of the same shape (issue 10)
CPU_COMPLETE = 0.95  # a CPU figure counts only if >= 95 % of the expected runs started in its window
LARGE_AGENTS = 100000  # the graded point of the many-agents benchmark in a full run (10,000 in --quick)
LARGE_SPAWN_S, LARGE_RSS_MB, LARGE_P99_MS, LARGE_SHUTDOWN_S = 5.0, 600.0, 20.0, 5.0  # absolute (issue 10)


@dataclass
class Goal:
    """One goal with its verdict and, for a FAIL, the measured reason and the fix."""

    key: str
    name: str
    target: str
    ok: bool = False  # FAIL until a judge has read every input
    measured: str = "not measured"
    why: str = ""
    fix: str = ""
    contender: bool = False  # a series built to fail this verdict: it must FAIL
    unmeasured: bool = False  # an input was missing or errored (a FAIL that proves nothing about the verdict)

    @property
    def verdict(self) -> str:
        """"PASS" or "FAIL"."""
        return "PASS" if self.ok else "FAIL"

    @property
    def check(self) -> str:
        """For a contender: whether the verdict did fail it, as it must."""
        if self.unmeasured:
            return "not shown: the contender was not measured"
        return "the verdict can fail" if not self.ok else "BROKEN: the verdict passed a contender built to fail it"


class NotMeasured(Exception):
    """An input of a goal is missing or errored; the goal FAILs with this as its reason."""


def ms(value: float | None) -> str:
    """A latency: µs below 1 ms, else ms."""
    if value is None:
        return "-"
    return f"{value * 1000:.0f} µs" if abs(value) < 1 else f"{value:.2f} ms"


def ratio(value: float | None, floor: float | None) -> str:
    """value / floor as "1.23×", or "-" when either is missing."""
    if value is None or not floor:
        return "-"
    return f"{value / floor:.2f}×"


def need(parent: Any, key: str, what: str) -> Any:
    """``parent[key]``, or :class:`NotMeasured` naming ``what`` if it is missing, None, NaN or an error."""
    if isinstance(parent, dict) and "error" in parent:
        raise NotMeasured(f"{what}: {parent['error']}")
    if not isinstance(parent, dict) or parent.get(key) is None:
        raise NotMeasured(f"{what} (no {key!r} in the results)")
    value = parent[key]
    if isinstance(value, dict) and "error" in value:
        raise NotMeasured(f"{what}: {value['error']}")
    if isinstance(value, float) and math.isnan(value):
        raise NotMeasured(f"{what} ({key} is NaN)")
    return value


def summary(parent: Any, key: str, what: str) -> Result:
    """A :func:`benchmarks.common.summarize` dict with samples, median and a positive p99."""
    s: Result = need(parent, key, what)
    if not need(s, "n", what):
        raise NotMeasured(f"{what}: no samples")
    need(s, "median_ms", what)
    if need(s, "p99_ms", what) <= 0:
        raise NotMeasured(f"{what}: p99 {s['p99_ms']} ms is not a measurement")
    return s


def series(results: Result, condition: str, key: str) -> Result:
    """One dispatch series of one condition ("idle" or "busy")."""
    dispatch = need(results, "dispatch", "the dispatch benchmark")
    return summary(need(dispatch, condition, f"the {condition} dispatch series"), key,
                   f"{LABELS[key]} ({condition})")


def judged(goal: Goal, judge: Callable[[Goal], None]) -> Goal:
    """Run ``judge(goal)``; a :class:`NotMeasured` (or a missing key) makes the goal a FAIL saying what."""
    try:
        judge(goal)
    except (NotMeasured, KeyError) as exc:
        what = str(exc) if isinstance(exc, NotMeasured) else f"malformed results (no {exc} key)"
        goal.ok, goal.unmeasured, goal.measured = False, True, "not measured"
        goal.why = f"not measured: {what}."
        goal.fix = "run the suite again; the measurement's table shows its error."
    return goal


def short_label(key: str) -> str:
    """A series' scheduler name without its job kind: "AsyncIOScheduler", "floor: raw loop.call_at"."""
    return LABELS[key].split(",")[0].replace("APScheduler ", "")


def dispatch_target(key: str, condition: str) -> str:
    """The goal text of a dispatch series (also the table's goal column)."""
    peers = {("aps_asyncio_async", "aps_background"): "both APScheduler schedulers",
             ("aps_background",): "BackgroundScheduler"}
    text = f"p99 ≤ {FLOOR_RATIO[condition]}× floor"
    if condition == "idle":
        return f"{text} and < {peers[PEERS_OF[key]]} (same run)"
    return f"{text}, 0 skipped (same run)"
