"""Bad arguments fail at the call, in one line that names the parameter and the value.

The rule: a wrong type raises ``ArgumentTypeError`` (a ``TypeError`` and a ``ValueError``);
a value out of range raises ``ValueError``; never a hang, a silent default or a message from
deep inside the library.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from conftest import run

from actors import ActorSystem, AgentScheduler, ArgumentTypeError, AsyncAgentScheduler, GetStats, Start

BAD_SECONDS: list[Any] = [float("nan"), float("inf"), -1, "1", True, [1], 10**400]
IDS = ["nan", "inf", "negative", "str", "bool", "list", "huge-int"]


def _one_line(error: BaseException, *needles: str) -> None:
    message = str(error)
    assert "\n" not in message and len(message) < 200, message
    for needle in needles:
        assert needle in message, message


@pytest.mark.timeout(10)
@pytest.mark.parametrize("value", BAD_SECONDS, ids=IDS)
def test_stop_timeout_argument(value: Any) -> None:
    scheduler = AgentScheduler(lambda task: task, "t")
    scheduler.start("3600")
    try:
        with pytest.raises(ValueError) as info:
            scheduler.stop(timeout=value)
        _one_line(info.value, "timeout")
        assert scheduler.is_running          # a rejected stop changed nothing
    finally:
        scheduler.stop()


@pytest.mark.timeout(10)
@pytest.mark.parametrize("value", BAD_SECONDS, ids=IDS)
def test_shutdown_and_ask_timeouts(value: Any) -> None:
    system = ActorSystem()
    ref = system.spawn(lambda task: task, task="t", name="x")
    try:
        for call in (lambda: ref.ask(GetStats(), timeout=value), lambda: ref.stats(timeout=value),
                     lambda: system.pool([], task="t").ask(GetStats(), timeout=value),
                     lambda: system.shutdown(timeout=value)):
            with pytest.raises(ValueError) as info:
                call()
            _one_line(info.value, "timeout")
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                assert isinstance(info.value, TypeError)
        assert ref.is_alive
    finally:
        system.shutdown()


@pytest.mark.timeout(10)
def test_ask_async_timeout_is_checked_too() -> None:
    async def main() -> None:
        async with ActorSystem() as system:
            ref = system.spawn(lambda task: task, task="t", name="x")
            with pytest.raises(ArgumentTypeError, match="timeout"):
                await ref.ask_async(GetStats(), timeout="1")  # type: ignore[arg-type]

    run(main)


@pytest.mark.timeout(10)
def test_an_ask_that_runs_out_of_time_says_what_it_waited_for() -> None:
    with ActorSystem() as system:
        ref = system.spawn(lambda task: task, task="t", name="news")
        with pytest.raises(TimeoutError) as info:
            ref.ask(Start("3600"), timeout=0)
        _one_line(info.value, "'news'", "Start", "0")


@pytest.mark.timeout(10)
@pytest.mark.parametrize("config", ["max_restarts=3", ["max_restarts"], 3])
def test_system_config_must_be_a_dict(config: Any) -> None:
    with pytest.raises(ArgumentTypeError) as info:
        ActorSystem(config=config)
    _one_line(info.value, "config", "dict", repr(config))


@pytest.mark.timeout(10)
@pytest.mark.parametrize("config,needle", [
    ({"max_restarts": -1}, "max_restarts"), ({"max_restarts": "3"}, "max_restarts"),
    ({"max_restarts": 1.5}, "max_restarts"), ({"restart_window": 0}, "restart_window"),
    ({"restart_window": math.nan}, "restart_window"), ({"restarts": 3}, "restarts"),
])
def test_system_config_values(config: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValueError) as info:
        ActorSystem(config=config)
    _one_line(info.value, needle)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("config", ["timeout=3", [("timeout", 3)], 3])
@pytest.mark.parametrize("cls", [AgentScheduler, AsyncAgentScheduler])
def test_scheduler_config_must_be_a_dict(config: Any, cls: Any) -> None:
    with pytest.raises(ArgumentTypeError) as info:
        cls(lambda task: task, "t", config=config)
    _one_line(info.value, "config", "dict")


@pytest.mark.timeout(10)
@pytest.mark.parametrize("key,value", [("timeout", "1"), ("timeout", 0), ("timeout", math.inf),
                                       ("stop_timeout", -1), ("stop_timeout", None), ("name", 3), ("name", "")])
def test_scheduler_config_values_name_the_key(key: str, value: Any) -> None:
    with pytest.raises(ValueError) as info:
        AgentScheduler(lambda task: task, "t", config={key: value})
    _one_line(info.value, key, repr(value))


@pytest.mark.timeout(10)
@pytest.mark.parametrize("cls", [AgentScheduler, AsyncAgentScheduler])
def test_a_missing_task_names_the_public_class(cls: Any) -> None:
    with pytest.raises(TypeError) as info:
        cls(lambda task: task)
    assert cls.__name__ in str(info.value) and "_SchedulerBase" not in str(info.value)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", [3, b"x", ""])
def test_agent_names(name: Any) -> None:
    with ActorSystem() as system, pytest.raises(ValueError) as info:
        system.spawn(lambda task: task, task="t", name=name)
    _one_line(info.value, "name", repr(name))


@pytest.mark.timeout(10)
def test_pool_astats_never_blocks_the_loop() -> None:
    async def main() -> dict[str, Any]:
        async with ActorSystem() as system:
            pool = system.pool([lambda task: task, lambda task: task], task="t")
            ticks = 0

            async def heartbeat() -> None:
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0)

            beating = asyncio.create_task(heartbeat())
            stats = await pool.astats()
            beating.cancel()
            await asyncio.gather(beating, return_exceptions=True)
            assert ticks > 0
            dead = system.pool([lambda task: task], task="t")
            await system.ashutdown()
            stats["dead"] = await dead.astats()   # dead members: their last stats, at once
            return stats

    stats = run(main)
    assert stats["total"]["agents"] == 2 and stats["dead"]["total"]["agents"] == 1


@pytest.mark.timeout(10)
@pytest.mark.parametrize("call", [
    lambda: __import__("actors").backoff_delay(1, initial=10**400, factor=2, cap=10, jitter=0),
    lambda: __import__("actors").RetryPolicy(factor=10**400),
    lambda: AgentScheduler(lambda task: task, "t", config={"backoff": {"initial": 10**400}}),
    lambda: AgentScheduler(lambda task: task, "t", config={"backoff": 5}),
    lambda: AgentScheduler(lambda task: task, "t", config={"backoff": {"initial": "1"}}),
    lambda: AgentScheduler(lambda task: task, "t", config={"timezone": 1}),
    lambda: ActorSystem().pool(None, task="t"),  # type: ignore[arg-type]
    lambda: ActorSystem().get(1),  # type: ignore[arg-type]
], ids=["overflow", "policy-overflow", "config-overflow", "backoff-int", "backoff-str", "timezone-int",
        "pool-none", "get-int"])
def test_more_bad_values_raise_value_or_type_errors(call: Any) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert not isinstance(info.value, OverflowError)
    _one_line(info.value)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", [" ", "a\nb", " padded", "x" * 201])
def test_blank_or_unprintable_names(name: str) -> None:
    with ActorSystem() as system, pytest.raises(ValueError, match="name"):
        system.spawn(lambda task: task, task="t", name=name)
    with pytest.raises(ValueError, match="name"):
        AgentScheduler(lambda task: task, "t", config={"name": name})


@pytest.mark.timeout(30)
def test_ask_async_with_no_time_always_says_what_it_waited_for() -> None:
    async def main() -> None:
        async with ActorSystem() as system:
            ref = system.spawn(lambda task: task, task="t", name="news")
            for _ in range(100):
                try:
                    await ref.ask_async(GetStats(), timeout=0)
                except TimeoutError as exc:
                    assert "'news'" in str(exc) and "GetStats" in str(exc)

    run(main)


@pytest.mark.timeout(10)
def test_fastapi_helpers_check_their_arguments() -> None:
    pytest.importorskip("fastapi")
    from actors.fastapi import lifespan, router

    system = ActorSystem()
    for call, needle in [(lambda: router(None, token="x"), "ActorSystem"),  # type: ignore[arg-type]
                         (lambda: lifespan(None), "ActorSystem"),  # type: ignore[arg-type]
                         (lambda: lifespan(system, on_startup=1), "on_startup"),  # type: ignore[arg-type]
                         (lambda: lifespan(system, on_startup=lambda: None), "on_startup(system)"),
                         (lambda: lifespan(system, shutdown_timeout="1"), "shutdown_timeout"),  # type: ignore[arg-type]
                         (lambda: lifespan(system, shutdown_timeout=True), "shutdown_timeout")]:
        with pytest.raises((TypeError, ValueError), match=needle.replace("(", r"\(").replace(")", r"\)")):
            call()
