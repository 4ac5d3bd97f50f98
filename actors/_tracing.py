"""OpenTelemetry spans of executions and attempts, when ``opentelemetry-api`` is importable.

Each execution is a span ``actorsched.execution`` with one child ``actorsched.attempt`` per
attempt, carrying their real start and end times (from the agent's clock) and attributes
(``actorsched.agent``, ``actorsched.run_id``, ``actorsched.outcome``, ``actorsched.attempt``,
``actorsched.lateness_ms``); a failed attempt has an error status and its exception's repr.
They are recorded when the execution ends, by the agent's actor, so the tick path pays
nothing until a tracer provider is set (no SDK dependency: the user's provider and exporter
decide where spans go). Until then (the API's proxy provider) nothing is built at all.
"""

from __future__ import annotations

from typing import Any

from actors.history import RunOutcome

__all__ = ["AttemptSpan", "active", "record"]

try:
    from opentelemetry import trace
    from opentelemetry.trace import ProxyTracerProvider, Status, StatusCode
except ImportError:  # pragma: no cover - exercised without opentelemetry-api
    trace = None  # type: ignore[assignment]

AttemptSpan = tuple[float, float, str | None]
"""One attempt: its start and end (wall, epoch seconds) and its error's repr (None: it succeeded)."""

_SCOPE = "actorsched"


def active() -> bool:
    """True when spans would go somewhere: the API is importable and a provider is set."""
    return trace is not None and not isinstance(trace.get_tracer_provider(), ProxyTracerProvider)


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


def record(agent: str, run_id: int, outcome: RunOutcome, started_at: float, ended_at: float,
           lateness_ms: float | None, attempts: list[AttemptSpan]) -> None:
    """Emit the spans of one ended execution (call only when `active`)."""
    tracer = trace.get_tracer(_SCOPE)
    attributes: dict[str, Any] = {"actorsched.agent": agent, "actorsched.run_id": run_id,
                                  "actorsched.outcome": outcome.value, "actorsched.attempts": len(attempts)}
    if lateness_ms is not None:
        attributes["actorsched.lateness_ms"] = lateness_ms
    execution = tracer.start_span("actorsched.execution", start_time=_ns(started_at), attributes=attributes)
    parent = trace.set_span_in_context(execution)
    for number, (start, end, error) in enumerate(attempts, 1):
        attempt = tracer.start_span("actorsched.attempt", context=parent, start_time=_ns(start),
                                    attributes={"actorsched.agent": agent, "actorsched.run_id": run_id,
                                                "actorsched.attempt": number})
        if error is not None:
            attempt.set_status(Status(StatusCode.ERROR, error))
            attempt.set_attribute("exception.message", error)
        attempt.end(end_time=_ns(end))
    if outcome is RunOutcome.FAILED:
        execution.set_status(Status(StatusCode.ERROR, attempts[-1][2] if attempts else None))
    elif outcome is RunOutcome.SUCCEEDED:
        execution.set_status(Status(StatusCode.OK))
    execution.end(end_time=_ns(ended_at))
