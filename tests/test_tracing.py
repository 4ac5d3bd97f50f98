"""OpenTelemetry spans, checked with the SDK's in-memory exporter: one span per execution with
one child per attempt, their real (virtual-clock) times and attributes; nothing is built while
no tracer provider is set. Each check runs in a fresh interpreter: a tracer provider can be
set once per process, and the rest of the suite runs without one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk", reason="opentelemetry-sdk is not installed: pip install '.[test]'")
ROOT = Path(__file__).resolve().parent.parent

SPANS = '''
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from actors import ActorSystem, Start
from actors.testing import VirtualClock

exporter = InMemorySpanExporter()
clock = VirtualClock()
calls = []

def flaky(task):
    calls.append(task)
    if len(calls) == 1:
        raise RuntimeError("upstream 503")
    return "ok"

with ActorSystem(clock=clock) as system:
    ref = system.spawn(flaky, "t", name="news", config={"backoff": {"initial": 2.0, "factor": 1.0, "cap": 2.0, "jitter": 0.0}})
    ref.tell(Start("every 10s"))
    clock.advance(5)
    assert exporter.get_finished_spans() == ()  # no provider yet: nothing recorded
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    clock.advance(20)   # the tick at 10 s fails once, its retry at 12 s succeeds; the tick at 20 s succeeds

spans = exporter.get_finished_spans()
executions = [s for s in spans if s.name == "actorsched.execution"]
attempts = [s for s in spans if s.name == "actorsched.attempt"]
assert len(executions) == 2 and len(attempts) == 3, [s.name for s in spans]
first = executions[0]
assert first.attributes["actorsched.agent"] == "news" and first.attributes["actorsched.outcome"] == "succeeded"
assert first.attributes["actorsched.attempts"] == 2 and first.attributes["actorsched.lateness_ms"] == 0.0
children = [a for a in attempts if a.parent is not None and a.parent.span_id == first.context.span_id]
assert [c.attributes["actorsched.attempt"] for c in children] == [1, 2]
assert children[0].status.status_code is StatusCode.ERROR and "upstream 503" in children[0].status.description
assert children[1].status.status_code is StatusCode.UNSET
assert (children[1].start_time - children[0].end_time) == 2_000_000_000  # the 2 s backoff, virtual
assert first.start_time == children[0].start_time and first.end_time == children[1].end_time
assert all(a.context.trace_id == first.context.trace_id for a in children)
assert first.status.status_code is StatusCode.OK
print("spans ok")
'''


@pytest.mark.timeout(60)
def test_each_execution_is_a_span_with_one_child_per_attempt() -> None:
    done = subprocess.run([sys.executable, "-c", SPANS], cwd=ROOT, capture_output=True, text=True, timeout=50)
    assert done.returncode == 0 and "spans ok" in done.stdout, done.stderr[-3000:]
