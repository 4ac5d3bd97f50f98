"""Health: which started agents have stalled (pure: stats and a time in, verdicts out).

A schedule that silently stops firing is the failure users find last (PraisonAI #4540): an
agent whose schedule runs, is neither paused nor in a run, and whose next run is missing or
was due more than ``stall_after`` seconds ago has stalled. Stopped, finished and paused agents
are not stalled: nothing is meant to run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["DEFAULT_STALL_AFTER_S", "stalled"]

#: Seconds past its due time before an idle agent's next run counts as stalled. A tick on this
#: 2-core host is late by < 1 ms at p99 idle and 165 ms at p99 when 10,000 agents fire at
#: once (docs/benchmarks.md): 5 s leaves a wide margin before a page goes red.
DEFAULT_STALL_AFTER_S = 5.0

# In a run, or meant to run nothing: never stalled.
_NOT_WAITING = frozenset({"running", "backing_off", "paused", "finished", "stopped"})


def stalled(all_stats: Iterable[Mapping[str, Any]], now: float,
            stall_after: float = DEFAULT_STALL_AFTER_S) -> list[dict[str, str]]:
    """``[{"name", "reason"}]`` for each stalled agent among ``all_stats`` at wall time ``now``."""
    found = []
    for stats in all_stats:
        if not stats.get("is_running") or stats.get("state") in _NOT_WAITING:
            continue
        next_run = stats.get("next_run_at")
        if next_run is None:
            found.append({"name": str(stats["name"]), "reason": "its schedule is running but no next run is set"})
        elif now - next_run > stall_after:
            found.append({"name": str(stats["name"]),
                          "reason": f"its next run was due {now - next_run:.1f}s ago and has not started"})
    return found
