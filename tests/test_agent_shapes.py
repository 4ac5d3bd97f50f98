"""Which callables are agents: checked at construction, and generators consumed to the end."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from conftest import run, wait_until

from actors import ActorSystem, AgentScheduler, AsyncAgentScheduler, GetStats, Start, Stop


class Summariser:
    def start(self, task: str) -> str:
        return task


def _takes_two(a: str, b: str) -> None: ...


def _keyword_only(*, task: str) -> None: ...


def _kwargs_only(**kwargs: Any) -> None: ...


NOT_AGENTS: list[tuple[Callable[..., Any], str]] = [
    (lambda: None, "f(task)"),
    (_takes_two, "missing a required argument: 'b'"),
    (_keyword_only, "f(task)"),
    (_kwargs_only, "f(task)"),
    (Summariser.start, "pass an instance (Summariser())"),
]


@pytest.mark.timeout(10)
@pytest.mark.parametrize("agent,needle", NOT_AGENTS, ids=["no-args", "two-args", "kw-only", "kwargs", "unbound"])
@pytest.mark.parametrize("where", ["sync", "async", "system"])
def test_agents_that_cannot_be_called_with_a_task_are_refused_at_construction(
    agent: Callable[..., Any], needle: str, where: str
) -> None:
    with pytest.raises(TypeError) as info:
        if where == "sync":
            AgentScheduler(agent, "t")
        elif where == "async":
            AsyncAgentScheduler(agent, "t")
        else:
            ActorSystem().spawn(agent, task="t")
    message = str(info.value)
    assert needle in message and "\n" not in message
    assert getattr(agent, "__name__", "") in message or "lambda" in message


def _with_default(task: str, extra: int = 1) -> int:
    return extra


def _varargs(*args: Any) -> int:
    return len(args)


def _with_token(task: str, cancel_token: Any = None) -> str:
    return task


@pytest.mark.timeout(10)
@pytest.mark.parametrize("agent", [_with_default, _varargs, _with_token, Summariser(), Summariser().start, print])
def test_what_binds_is_still_accepted(agent: Any) -> None:
    done = threading.Event()
    with AgentScheduler(agent, "t", on_success=lambda _: done.set()) as scheduler:
        scheduler.start("3600", run_immediately=True)
        assert done.wait(5)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("callback", [lambda: None, _takes_two])
@pytest.mark.parametrize("which", ["on_success", "on_failure"])
def test_callbacks_that_cannot_take_one_argument_are_refused(callback: Any, which: str) -> None:
    with pytest.raises(TypeError, match=which):
        AgentScheduler(lambda task: task, "t", **{which: callback})


def chunks(task: str) -> Iterator[str]:
    for word in task.split():
        yield word


async def achunks(task: str) -> AsyncIterator[str]:
    for word in task.split():
        await asyncio.sleep(0)
        yield word


@pytest.mark.timeout(10)
@pytest.mark.parametrize("agent", [chunks, achunks], ids=["generator", "async-generator"])
def test_generator_agents_run_their_body_and_return_what_they_yield(agent: Any) -> None:
    results: list[Any] = []
    done = threading.Event()

    def on_success(value: Any) -> None:
        results.append(value)
        done.set()

    with AgentScheduler(agent, "a streamed answer", on_success=on_success) as scheduler:
        scheduler.start("3600", run_immediately=True)
        assert done.wait(5)
    assert results == [["a", "streamed", "answer"]]


@pytest.mark.timeout(10)
def test_async_generator_agent_on_the_users_loop() -> None:
    async def main() -> dict[str, Any]:
        got: list[Any] = []

        async def on_success(value: Any) -> None:
            got.append(value)

        async with ActorSystem() as system:
            ref = system.spawn(achunks, task="x y", name="stream", on_success=on_success)
            await ref.ask_async(Start("3600", run_immediately=True))
            while not got:
                await asyncio.sleep(0.005)
            return {"got": got, "stats": await ref.ask_async(GetStats())}

    out = run(main)
    assert out["got"] == [["x", "y"]] and out["stats"]["successful_executions"] == 1


@pytest.mark.timeout(10)
def test_a_failing_generator_is_a_failed_run() -> None:
    def broken(task: str) -> Iterator[int]:
        yield 1
        raise RuntimeError("stream broke")

    failures: list[BaseException] = []
    done = threading.Event()
    with AgentScheduler(broken, "t", on_failure=lambda e: (failures.append(e), done.set())) as scheduler:
        scheduler.start("3600", max_retries=1, run_immediately=True)
        assert done.wait(5)
    assert repr(failures[0]) == "RuntimeError('stream broke')"


@pytest.mark.timeout(10)
def test_a_stop_ends_a_sync_generator_between_two_items() -> None:
    produced: list[int] = []
    closed = threading.Event()

    def endless(task: str) -> Iterator[int]:
        try:
            while True:
                produced.append(len(produced))
                yield produced[-1]
        finally:
            closed.set()

    with ActorSystem() as system:
        ref = system.spawn(endless, task="t", name="endless")
        ref.ask(Start("3600", run_immediately=True), timeout=2)
        wait_until(lambda: len(produced) > 10)
        final = ref.ask(Stop(), timeout=5)
    assert closed.is_set()
    assert final["cancelled_executions"] == 1 and final["successful_executions"] == 0
    assert final["abandoned_runs"] == 0


@pytest.mark.timeout(10)
def test_a_generator_that_ignores_close_is_still_cancelled_by_a_stop() -> None:
    produced = threading.Event()

    def stubborn(task: str) -> Iterator[str]:
        try:
            while True:
                produced.set()
                yield "token"
        except GeneratorExit:
            yield "bye"

    failures: list[BaseException] = []
    scheduler = AgentScheduler(stubborn, "t", on_failure=failures.append)
    scheduler.start("hourly", max_retries=1, run_immediately=True)
    assert produced.wait(5)
    scheduler.stop()
    stats = scheduler.get_stats()
    assert failures == [] and stats["cancelled_executions"] == 1 and stats["failed_executions"] == 0
