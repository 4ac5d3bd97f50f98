"""Where an agent's mailbox is served (issue 10): an async agent's on its own loop."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from actors import AgentScheduler


@pytest.mark.timeout(20)
def test_an_async_callback_on_the_agents_loop_can_read_the_stats_synchronously() -> None:
    # The mailbox is served on the scheduler's loop thread, which runs this callback: asking
    # there would wait on itself, so the stats are read directly.
    seen: list[dict[str, Any]] = []
    done = threading.Event()

    async def agent(task: str) -> str:
        return task

    async def on_success(value: str) -> None:
        seen.append(scheduler.get_stats())
        done.set()

    with AgentScheduler(agent, "t", on_success=on_success) as scheduler:
        scheduler.start("hourly", run_immediately=True)
        assert done.wait(10)
    assert seen[0]["successful_executions"] == 1 and seen[0]["state"] == "idle"
