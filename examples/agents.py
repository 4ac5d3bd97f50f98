"""Agents for examples/agents.toml, shaped like real AI agents but with no network or API key:
`actorsched serve examples/agents.toml` runs them anywhere."""

from __future__ import annotations

import asyncio
import hashlib
import random


async def fetch_headlines(task: str) -> dict[str, object]:
    """An agent that calls an HTTP API (here a stand-in that answers in 50-150 ms and fails
    one call in five with a 503, so the file's retries have something to do)."""
    await asyncio.sleep(random.uniform(0.05, 0.15))
    if random.random() < 0.2:
        raise ConnectionError(f"GET https://api.example.invalid/{task}: 503 Service Unavailable")
    return {"source": task, "headlines": random.randint(3, 12)}


class Summariser:
    """An agent with state: it summarises its task as an LLM call would (a stable digest, ~0.3 s)."""

    def __init__(self) -> None:
        self.summaries = 0

    def __call__(self, task: str) -> str:
        self.summaries += 1
        digest = hashlib.sha256(f"{task}:{self.summaries}".encode()).hexdigest()[:8]
        return f"summary #{self.summaries} of {task!r} ({digest})"


def flaky_tool(task: str) -> str:
    """A tool that fails half of its calls: it shows failures, retries and the pause after
    failures in a row on the dashboard."""
    if random.random() < 0.5:
        raise RuntimeError(f"tool {task!r} timed out upstream")
    return f"{task}: ok"
