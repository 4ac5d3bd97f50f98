"""Prometheus metrics of a system's agents (extra ``actorsched[metrics]``: ``prometheus_client``).

``Metrics(system)`` keeps its own ``CollectorRegistry`` (pass ``registry=`` to add to yours);
``render()`` gives the text format a scrape expects. The router of `actors.fastapi` and
``actorsched serve`` serve it at ``GET /metrics``.

| metric | type | labels | from |
|---|---|---|---|
| `actorsched_executions_total` | counter | agent, outcome | stats, read at scrape time |
| `actorsched_attempts_total`, `actorsched_retries_total` | counter | agent | stats |
| `actorsched_skipped_ticks_total`, `actorsched_missed_ticks_total` | counter | agent | stats |
| `actorsched_restarts_total`, `actorsched_abandoned_runs_total` | counter | agent | stats |
| `actorsched_dead_letters_total` | counter | | the system |
| `actorsched_agents` | gauge | state | stats |
| `actorsched_run_duration_seconds`, `actorsched_lateness_seconds` | histogram | agent | `RunFinished` events |

The counters are the stats themselves (asked of each agent when scraped), so they always equal
what ``GET /agents`` shows and cost the tick path nothing; the histograms observe each finished
run through `ActorSystem.subscribe` (a system without ``subscribe`` has them empty).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

try:
    from prometheus_client import CollectorRegistry, Histogram, generate_latest
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
    from prometheus_client.registry import Collector
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError("actors.metrics needs prometheus_client: pip install 'actorsched[metrics]'") from exc

from actors.events import Event, RunFinished
from actors.handles import SystemHandle, refs_of

__all__ = ["CONTENT_TYPE", "Metrics"]

#: The ``Content-Type`` of `Metrics.render`'s text.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Agents call LLMs and HTTP APIs: runs of seconds to minutes, so the buckets reach 5 minutes.
_DURATION_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, float("inf"))
# Lateness on an idle host is well under 1 ms (docs/benchmarks.md); a stalled one shows seconds.
_LATENESS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, float("inf"))
_OUTCOMES = (("succeeded", "successful_executions"), ("failed", "failed_executions"),
             ("cancelled", "cancelled_executions"), ("interrupted", "interrupted_executions"))
_COUNTERS = (("attempts", "total_attempts", "Attempts started"),
             ("retries", "retries", "Attempts after the first of an execution"),
             ("skipped_ticks", "skipped_ticks", "Ticks the overlap policy dropped while a run was in flight"),
             ("missed_ticks", "missed_ticks", "Ticks nobody ran (paused, a stalled or stopped process)"),
             ("restarts", "restarts", "Actor restarts by supervision"),
             ("abandoned_runs", "abandoned_runs", "Runs given up on at a timeout or stop deadline"))
_STATES = ("idle", "running", "backing_off", "paused", "finished", "stopped")


class Metrics:
    """The Prometheus view of ``system`` (see the module docstring)."""

    def __init__(self, system: SystemHandle, registry: CollectorRegistry | None = None) -> None:
        """Register the collector and the histograms in ``registry`` (None: a new one)."""
        if not isinstance(system, SystemHandle):
            raise TypeError(f"system must be an ActorSystem or a RaySystem, not {type(system).__name__}")
        self.registry = CollectorRegistry(auto_describe=True) if registry is None else registry
        self._system = system
        self.registry.register(_StatsCollector(system))
        self._duration = Histogram("actorsched_run_duration_seconds", "Duration of finished executions",
                                   ["agent"], registry=self.registry, buckets=_DURATION_BUCKETS)
        self._lateness = Histogram("actorsched_lateness_seconds", "Due time -> start of scheduled executions",
                                   ["agent"], registry=self.registry, buckets=_LATENESS_BUCKETS)
        subscribe: Callable[[Callable[[Event], Any]], Callable[[], None]] | None = getattr(system, "subscribe", None)
        self._unsubscribe = None if subscribe is None else subscribe(self._observe)

    def render(self) -> bytes:
        """The metrics in the Prometheus text format (asks every agent for its stats: call it
        off the loop its async agents run on, e.g. with ``asyncio.to_thread``)."""
        return generate_latest(self.registry)

    def close(self) -> None:
        """Stop observing runs (the registry keeps what it has)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _observe(self, event: Event) -> None:
        if type(event) is RunFinished:
            self._duration.labels(event.agent).observe(event.duration_s)
            if event.lateness_ms is not None:
                self._lateness.labels(event.agent).observe(event.lateness_ms / 1000.0)


class _StatsCollector(Collector):
    """Counters and the state gauge, built from each agent's stats at scrape time."""

    def __init__(self, system: SystemHandle) -> None:
        self._system = system

    def describe(self) -> list[Metric]:
        return []  # names are fixed, but describing would make the registry collect at register time

    def collect(self) -> Iterator[Metric]:
        system = self._system
        all_stats = [ref.stats() for ref in refs_of(system)]
        executions = CounterMetricFamily("actorsched_executions", "Executions that ended, by outcome",
                                         labels=["agent", "outcome"])
        counters = {key: CounterMetricFamily(f"actorsched_{name}", text, labels=["agent"])
                    for name, key, text in _COUNTERS}
        states = dict.fromkeys(_STATES, 0)
        for stats in all_stats:
            agent = str(stats["name"])
            for outcome, key in _OUTCOMES:
                executions.add_metric([agent, outcome], stats.get(key, 0))
            for key, family in counters.items():
                family.add_metric([agent], stats.get(key, 0))
            states[stats["state"]] = states.get(stats["state"], 0) + 1
        yield executions
        yield from counters.values()
        gauge = GaugeMetricFamily("actorsched_agents", "Agents by state", labels=["state"])
        for state, count in states.items():
            gauge.add_metric([state], count)
        yield gauge
        yield CounterMetricFamily("actorsched_dead_letters", "Messages told to dead agents",
                                  value=system.dead_letters)
