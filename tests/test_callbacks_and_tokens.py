"""User hooks are never fatal: cancel-token callbacks, safe_call and asafe_call (issue 9 review)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from conftest import run, wait_until

from actors import ActorSystem, AgentScheduler, CancelToken, Start, Stop, asafe_call, safe_call


@pytest.mark.timeout(10)
def test_every_cancel_callback_runs_even_if_one_raises() -> None:
    token = CancelToken()
    ran: list[str] = []
    token.add_callback(lambda: 1 / 0)
    token.add_callback(lambda: ran.append("second"))
    assert token.cancel("stop") is True
    assert ran == ["second"] and token.cancelled
    token.add_callback(lambda: 1 / 0)   # already cancelled: runs at once, still not raised


def _agent_with_a_buggy_cleanup_hook(task: str, cancel_token: CancelToken) -> str:
    cancel_token.add_callback(lambda: 1 / 0)
    cancel_token.wait(3)
    return "woke"


@pytest.mark.timeout(30)
def test_a_raising_token_callback_neither_crashes_nor_kills_the_agent() -> None:
    with ActorSystem() as system:
        ref = system.spawn(_agent_with_a_buggy_cleanup_hook, task="t", name="x", config={"stop_timeout": 2})
        for _ in range(5):
            ref.ask(Start("hourly", run_immediately=True), timeout=2)
            wait_until(lambda: ref.stats()["state"] == "running")
            final = ref.ask(Stop(), timeout=5)
            assert final["restarts"] == 0 and final["abandoned_runs"] == 0
        assert ref.is_alive and "ZeroDivisionError" not in str(final["last_error"])


@pytest.mark.timeout(30)
def test_a_raising_token_callback_at_a_timeout_is_a_failed_attempt() -> None:
    failures: list[BaseException] = []
    done = threading.Event()

    def on_failure(error: BaseException) -> None:
        failures.append(error)
        done.set()

    def agent(task: str, cancel_token: CancelToken) -> None:
        cancel_token.add_callback(lambda: 1 / 0)
        cancel_token.wait(3)

    config = {"timeout": 0.05, "backoff": {"initial": 0.01}}  # the default 1 s backoff is beside the point
    with AgentScheduler(agent, "t", config=config, on_failure=on_failure) as scheduler:
        scheduler.start("hourly", max_retries=2, run_immediately=True)
        assert done.wait(10)
        stats = scheduler.get_stats()
    assert isinstance(failures[0], TimeoutError)
    assert stats["failed_executions"] == 1 and stats["restarts"] == 0 and stats["cancelled_executions"] == 0


@pytest.mark.timeout(10)
@pytest.mark.parametrize("call", [
    lambda t: t.wait("1"), lambda t: t.wait(float("nan")), lambda t: t.wait(-1), lambda t: t.wait(True),
    lambda t: t.wait(float("inf")), lambda t: t.wait(10**400), lambda t: t.cancel(reason=1),
    lambda t: t.add_callback(1), lambda t: t.add_callback(None),
], ids=["str", "nan", "negative", "bool", "inf", "huge", "reason", "callback-int", "callback-none"])
def test_cancel_token_arguments(call: Any) -> None:
    token = CancelToken()
    with pytest.raises(ValueError) as info:
        call(token)
    assert "\n" not in str(info.value) and len(str(info.value)) < 200
    assert not token.cancelled


@pytest.mark.timeout(10)
@pytest.mark.parametrize("seconds", ["1", float("nan"), -1])
def test_cancel_token_async_arguments(seconds: Any) -> None:
    async def main() -> None:
        token = CancelToken()
        with pytest.raises(ValueError):
            await token.sleep(seconds)
        with pytest.raises(ValueError):
            await token.wait_async(seconds)

    run(main)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("error", [KeyboardInterrupt(), SystemExit(1), GeneratorExit(), ValueError("x")],
                         ids=["KeyboardInterrupt", "SystemExit", "GeneratorExit", "ValueError"])
def test_safe_call_never_raises(error: BaseException) -> None:
    def callback() -> None:
        raise error

    assert safe_call(callback) is False


@pytest.mark.timeout(10)
def test_asafe_call_swallows_a_cancelled_error_the_callback_raised_itself() -> None:
    def sync_callback() -> None:
        raise asyncio.CancelledError()

    async def async_callback() -> None:
        raise asyncio.CancelledError()

    async def main() -> tuple[bool, bool]:
        return await asafe_call(sync_callback), await asafe_call(async_callback)

    assert run(main) == (False, False)


@pytest.mark.timeout(10)
def test_asafe_call_lets_the_callers_own_cancellation_through() -> None:
    started = asyncio.Event()

    async def slow() -> None:
        started.set()
        await asyncio.sleep(10)

    async def main() -> bool:
        task = asyncio.create_task(asafe_call(slow))
        await started.wait()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return True
        return False

    assert run(main) is True
