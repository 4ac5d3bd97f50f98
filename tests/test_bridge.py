"""The bridge layer (CancelToken, Channel, LoopThread, ThreadPool, safe_call/asafe_call) with real
threads and real event loops, as a user of the sync <-> async plumbing would see it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import run, wait_for, wait_until

from bridge import CancelToken, Channel, ChannelClosed, LoopThread, ThreadPool, asafe_call, safe_call

# A wait longer than any test's pytest timeout (20 s): a waiter with this timeout that returns
# True was woken by the cancel; it cannot have timed out.
NEVER_S = 60.0


def blocked_in_threading_wait(thread: threading.Thread) -> bool:
    """True while ``thread`` sits in ``threading.Condition.wait`` (i.e. is blocked in Event.wait).

    Lets a test cancel only once a thread is really blocked in ``token.wait()``, instead of
    sleeping and hoping it got there.
    """
    frame = sys._current_frames().get(thread.ident or -1)
    return (
        frame is not None
        and frame.f_code.co_name == "wait"
        and frame.f_code.co_filename == threading.__file__
    )


def start_thread(target: Callable[[], Any], name: str = "test-helper") -> threading.Thread:
    thread = threading.Thread(target=target, name=name)
    thread.start()
    return thread


async def await_token(token: CancelToken) -> bool:
    return await token


# --------------------------------------------------------------------------------------------
# CancelToken
# --------------------------------------------------------------------------------------------


@pytest.mark.timeout(20)
def test_token_state_reason_and_cancel_returns_true_once() -> None:
    token = CancelToken()
    assert token.cancelled is False
    assert token.reason is None
    assert token.wait(0) is False

    assert token.cancel("shutdown") is True
    assert token.cancelled is True
    assert token.reason == "shutdown"
    assert token.cancel("again") is False
    assert token.reason == "shutdown"  # the first reason sticks
    assert token.wait(0) is True


@pytest.mark.timeout(20)
def test_token_concurrent_cancel_has_exactly_one_winner() -> None:
    token = CancelToken()
    calls: list[int] = []
    token.add_callback(lambda: calls.append(1))
    barrier = threading.Barrier(8, timeout=5)
    results: list[bool] = []
    lock = threading.Lock()

    def canceller(i: int) -> None:
        barrier.wait()
        won = token.cancel(f"thread {i}")
        with lock:
            results.append(won)

    threads = [start_thread(functools.partial(canceller, i)) for i in range(8)]
    for t in threads:
        t.join(5)
    assert sorted(results) == [False] * 7 + [True]
    assert calls == [1]


@pytest.mark.timeout(20)
def test_thread_blocked_in_wait_is_woken_when_another_thread_cancels() -> None:
    token = CancelToken()
    woke: dict[str, Any] = {}
    cancelled: list[bool] = []

    def waiter() -> None:
        woke["result"] = token.wait(NEVER_S)

    t = start_thread(waiter)
    try:
        wait_until(lambda: blocked_in_threading_wait(t))
        start_thread(lambda: cancelled.append(token.cancel("other thread"))).join(5)
    finally:
        token.cancel()
        t.join(5)
    assert cancelled == [True]  # the other thread's cancel is the one that woke it
    assert woke["result"] is True


@pytest.mark.timeout(20)
def test_thread_blocked_in_wait_is_woken_when_a_coroutine_cancels() -> None:
    token = CancelToken()
    woke: dict[str, Any] = {}

    def waiter() -> None:
        woke["result"] = token.wait(NEVER_S)

    t = start_thread(waiter)
    try:

        async def main() -> None:
            await wait_for(lambda: blocked_in_threading_wait(t))
            assert token.cancel("from a coroutine") is True

        run(main)
    finally:
        token.cancel()
        t.join(5)
    assert woke["result"] is True and token.reason == "from a coroutine"


@pytest.mark.timeout(20)
@pytest.mark.parametrize("form", ["wait_async", "await token"])
def test_coroutine_is_woken_when_a_plain_thread_cancels(form: str) -> None:
    token = CancelToken()

    async def main() -> bool:
        coro = token.wait_async() if form == "wait_async" else await_token(token)  # no timeout
        waiter = asyncio.create_task(coro)
        await asyncio.sleep(0)  # the waiter runs up to its suspension point
        assert not waiter.done()
        t = start_thread(lambda: token.cancel("plain thread"))
        try:
            return await asyncio.wait_for(waiter, 5)  # the hang guard
        finally:
            t.join(5)

    assert run(main) is True
    assert token.reason == "plain thread"


@pytest.mark.timeout(20)
@pytest.mark.parametrize("form", ["wait_async", "await token"])
def test_coroutine_is_woken_when_a_coroutine_on_another_loop_cancels(form: str) -> None:
    token = CancelToken()
    other: dict[str, Any] = {}

    async def cancel_on_other_loop() -> None:
        other["loop"] = asyncio.get_running_loop()
        other["won"] = token.cancel("other loop")

    async def main() -> tuple[bool, asyncio.AbstractEventLoop]:
        coro = token.wait_async() if form == "wait_async" else await_token(token)  # no timeout
        waiter = asyncio.create_task(coro)
        await asyncio.sleep(0)
        assert not waiter.done()
        t = start_thread(lambda: asyncio.run(cancel_on_other_loop()), name="other-loop")
        try:
            result = await asyncio.wait_for(waiter, 5)  # the hang guard
        finally:
            t.join(5)
        return result, asyncio.get_running_loop()

    result, my_loop = run(main)
    assert result is True and other["won"] is True
    assert other["loop"] is not my_loop


@pytest.mark.timeout(20)
def test_two_loops_and_a_thread_waiting_on_one_token_all_wake() -> None:
    token = CancelToken()
    results: dict[str, bool] = {}
    ready = {name: threading.Event() for name in ("loop-a", "loop-b")}

    def loop_waiter(name: str, use_await: bool) -> None:
        async def main() -> None:
            coro = await_token(token) if use_await else token.wait_async()  # no timeout
            waiter = asyncio.create_task(coro)
            await asyncio.sleep(0)
            ready[name].set()
            results[name] = await asyncio.wait_for(waiter, 10)  # the hang guard

        asyncio.run(main())

    def thread_waiter() -> None:
        results["thread"] = token.wait(NEVER_S)

    threads = [
        start_thread(lambda: loop_waiter("loop-a", False), name="loop-a"),
        start_thread(lambda: loop_waiter("loop-b", True), name="loop-b"),
    ]
    blocked = start_thread(thread_waiter, name="thread-waiter")
    threads.append(blocked)
    try:
        for event in ready.values():
            assert event.wait(5)
        wait_until(lambda: blocked_in_threading_wait(blocked))
        assert results == {}  # everyone is still waiting ...
        assert token.cancel("everyone") is True  # ... until this one cancel
    finally:
        token.cancel()
        for t in threads:
            t.join(5)
    assert results == {"loop-a": True, "loop-b": True, "thread": True}


@pytest.mark.timeout(20)
def test_wait_returns_false_after_timeout_without_cancel() -> None:
    token = CancelToken()
    assert token.wait(0.05) is False
    assert token.cancelled is False and token.reason is None
    assert token.cancel() is True and token.wait(0.05) is True  # the timed-out wait left no trace


@pytest.mark.timeout(20)
def test_wait_async_returns_false_after_timeout_without_cancel() -> None:
    token = CancelToken()

    async def main() -> bool:
        return await token.wait_async(0.05)

    assert run(main) is False
    assert token.cancelled is False
    # A later cancel (no loop running any more) must not trip over the finished waiter.
    assert token.cancel() is True


@pytest.mark.timeout(20)
def test_wait_async_on_cancelled_token_returns_true_at_once() -> None:
    token = CancelToken()
    token.cancel()

    async def main() -> tuple[bool, bool]:
        return await token.wait_async(5), await token

    assert run(main) == (True, True)


@pytest.mark.timeout(20)
def test_sleep_returns_true_early_on_cancel_and_false_when_it_runs_out() -> None:
    token = CancelToken()

    async def main() -> tuple[bool, bool, bool]:
        short = await token.sleep(0.05)
        still_uncancelled = not token.cancelled
        asyncio.get_running_loop().call_soon(token.cancel, "wake up")  # runs once the sleep waits
        long = await token.sleep(NEVER_S)
        return short, still_uncancelled, long

    short, still_uncancelled, long = run(main)
    assert short is False and still_uncancelled  # ran out, no cancel involved
    assert long is True  # woken by the cancel: it cannot have run out
    assert token.reason == "wake up"


@pytest.mark.timeout(20)
def test_sleep_woken_by_cancel_from_a_thread() -> None:
    token = CancelToken()

    async def main() -> bool:
        sleeper = asyncio.create_task(token.sleep(NEVER_S))
        await asyncio.sleep(0)
        assert not sleeper.done()
        t = start_thread(lambda: token.cancel("from a thread"))
        try:
            return await asyncio.wait_for(sleeper, 5)  # the hang guard
        finally:
            t.join(5)

    assert run(main) is True  # woken by the cancel: it cannot have run out
    assert token.reason == "from a thread"


@pytest.mark.timeout(20)
def test_cancelling_the_waiting_task_propagates_and_leaves_token_usable() -> None:
    token = CancelToken()

    async def main() -> None:
        waiter = asyncio.create_task(token.wait_async())
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert token.cancelled is False

    run(main)
    # the loop above is closed now: cancelling must neither raise nor wake anything stale
    assert token.cancel() is True


@pytest.mark.timeout(20)
def test_add_callback_runs_once_on_cancel_in_the_cancelling_thread() -> None:
    token = CancelToken()
    calls: list[threading.Thread] = []
    token.add_callback(lambda: calls.append(threading.current_thread()))
    assert calls == []
    canceller = start_thread(lambda: token.cancel(), name="canceller")
    canceller.join(5)
    assert calls == [canceller]
    token.cancel()
    assert calls == [canceller]  # not called again


@pytest.mark.timeout(20)
def test_add_callback_on_cancelled_token_runs_immediately() -> None:
    token = CancelToken()
    token.cancel()
    calls: list[str] = []
    unregister = token.add_callback(lambda: calls.append("now"))
    assert calls == ["now"]
    unregister()  # harmless
    assert calls == ["now"]


@pytest.mark.timeout(20)
def test_add_callback_unregister_prevents_the_call() -> None:
    token = CancelToken()
    calls: list[str] = []
    unregister_a = token.add_callback(lambda: calls.append("a"))
    token.add_callback(lambda: calls.append("b"))
    unregister_a()
    unregister_a()  # idempotent
    token.cancel()
    assert calls == ["b"]


@pytest.mark.timeout(20)
def test_same_callback_registered_twice_runs_twice_and_unregisters_separately() -> None:
    token = CancelToken()
    calls: list[int] = []

    def cb() -> None:
        calls.append(1)

    unregister_first = token.add_callback(cb)
    token.add_callback(cb)
    token.add_callback(cb)
    unregister_first()
    token.cancel()
    assert calls == [1, 1]


@pytest.mark.timeout(20)
def test_child_is_cancelled_by_parent_with_its_reason() -> None:
    parent = CancelToken()
    child = parent.child()
    grandchild = child.child()
    assert not child.cancelled and not grandchild.cancelled
    assert parent.cancel("parent stopped") is True
    assert child.cancelled and grandchild.cancelled
    assert child.reason == "parent stopped"
    assert grandchild.reason == "parent stopped"
    assert child.cancel() is False


@pytest.mark.timeout(20)
def test_child_blocked_in_wait_wakes_when_parent_is_cancelled_elsewhere() -> None:
    parent = CancelToken()
    child = parent.child()
    woke: dict[str, Any] = {}

    def waiter() -> None:
        woke["result"] = child.wait(NEVER_S)

    t = start_thread(waiter)
    try:

        async def main() -> None:
            await wait_for(lambda: blocked_in_threading_wait(t))
            assert parent.cancel("parent stopped") is True

        run(main)
    finally:
        parent.cancel()
        child.cancel()
        t.join(5)
    assert woke["result"] is True and child.reason == "parent stopped"


@pytest.mark.timeout(20)
def test_child_can_be_cancelled_alone() -> None:
    parent = CancelToken()
    child = parent.child()
    sibling = parent.child()
    assert child.cancel("just me") is True
    assert child.cancelled and child.reason == "just me"
    assert not parent.cancelled
    assert not sibling.cancelled
    parent.cancel("all")
    assert sibling.cancelled and sibling.reason == "all"
    assert child.reason == "just me"


@pytest.mark.timeout(20)
def test_detached_child_no_longer_follows_parent() -> None:
    parent = CancelToken()
    child = parent.child()
    kept = parent.child()
    child.detach()
    child.detach()  # idempotent
    parent.cancel()
    assert not child.cancelled
    assert kept.cancelled
    assert child.cancel() is True
    parent.detach()  # a no-op on a root token


@pytest.mark.timeout(20)
def test_child_of_cancelled_parent_starts_cancelled() -> None:
    parent = CancelToken()
    parent.cancel("too late")
    child = parent.child()
    assert child.cancelled and child.reason == "too late"
    assert child.wait(0) is True


@pytest.mark.timeout(20)
def test_token_built_outside_any_loop_works_under_two_successive_asyncio_runs() -> None:
    token = CancelToken()  # no loop is running here
    child = token.child()

    async def first() -> bool:
        return await token.wait_async(0.01)

    assert run(first) is False

    async def second() -> tuple[bool, bool]:
        waiter = asyncio.create_task(await_token(token))
        child_waiter = asyncio.create_task(child.wait_async())
        await asyncio.sleep(0)
        asyncio.get_running_loop().call_soon(token.cancel)
        return await asyncio.wait_for(waiter, 5), await asyncio.wait_for(child_waiter, 5)

    assert run(second) == (True, True)

    async def third() -> bool:
        return await token

    assert run(third) is True


# --------------------------------------------------------------------------------------------
# Channel
# --------------------------------------------------------------------------------------------


@pytest.mark.timeout(20)
def test_channel_items_from_several_threads_are_handled_on_the_loop_in_order() -> None:
    producers, per_producer = 4, 300
    handled: list[tuple[int, int, int]] = []  # (handler thread ident, producer, seq)

    def handler(item: tuple[int, int]) -> None:
        handled.append((threading.get_ident(), *item))

    channel: Channel[tuple[int, int]] = Channel(handler)
    assert channel.loop is None

    async def main() -> None:
        channel.open()
        assert channel.loop is asyncio.get_running_loop()
        start = threading.Barrier(producers, timeout=5)

        def produce(p: int) -> None:
            start.wait()
            for i in range(per_producer):
                channel.put((p, i))

        threads = [start_thread(functools.partial(produce, p), name=f"producer-{p}") for p in range(producers)]
        try:
            await wait_for(lambda: len(handled) == producers * per_producer)
        finally:
            for t in threads:
                t.join(5)
            await channel.aclose()
        assert channel.loop is None

    run(main)
    loop_thread = threading.get_ident()  # run() drives the loop on this thread
    assert {ident for ident, _, _ in handled} == {loop_thread}
    for p in range(producers):
        assert [seq for _, producer, seq in handled if producer == p] == list(range(per_producer))


@pytest.mark.timeout(20)
def test_channel_put_before_open_and_after_close_raises_channel_closed() -> None:
    channel: Channel[int] = Channel(lambda item: None)
    with pytest.raises(ChannelClosed):
        channel.put(1)
    assert issubclass(ChannelClosed, RuntimeError)

    async def main() -> None:
        channel.open()
        channel.put(1)
        await channel.aclose()
        with pytest.raises(ChannelClosed):
            channel.put(2)
        errors: list[BaseException] = []

        def put_from_thread() -> None:
            try:
                channel.put(3)
            except BaseException as exc:
                errors.append(exc)

        start_thread(put_from_thread).join(5)
        assert len(errors) == 1 and isinstance(errors[0], ChannelClosed)

    run(main)


@pytest.mark.timeout(20)
def test_channel_aclose_drains_items_already_queued() -> None:
    handled: list[int] = []
    channel: Channel[int] = Channel(handled.append)

    async def main() -> None:
        channel.open()
        for i in range(500):  # no await in between: nothing has been handled yet
            channel.put(i)
        assert handled == []
        await channel.aclose()

    run(main)
    assert handled == list(range(500))


@pytest.mark.timeout(20)
def test_channel_aclose_drains_items_put_by_threads() -> None:
    handled: list[int] = []
    channel: Channel[int] = Channel(handled.append)

    async def main() -> None:
        channel.open()
        def produce() -> None:
            for i in range(1000):
                channel.put(i)

        t = start_thread(produce)
        await wait_for(lambda: not t.is_alive())
        t.join()
        await channel.aclose()  # whatever the consumer had not reached yet is handled now

    run(main)
    assert handled == list(range(1000))


@pytest.mark.timeout(20)
def test_channel_handler_error_is_logged_and_later_items_are_handled(caplog: pytest.LogCaptureFixture) -> None:
    handled: list[int] = []

    def handler(item: int) -> None:
        if item in (1, 3):
            raise ValueError(f"bad item {item}")
        handled.append(item)

    channel: Channel[int] = Channel(handler)

    async def main() -> None:
        channel.open()
        for i in range(3):
            channel.put(i)
        await wait_for(lambda: handled == [0, 2])
        for i in range(3, 6):
            channel.put(i)
        await channel.aclose()

    with caplog.at_level(logging.ERROR):
        run(main)
    assert handled == [0, 2, 4, 5]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert [str(r.exc_info[1]) for r in errors] == ["bad item 1", "bad item 3"]  # type: ignore[index]
    assert "Traceback" in caplog.text and "ValueError: bad item 1" in caplog.text


@pytest.mark.timeout(20)
def test_channel_leaves_no_task_after_aclose_and_reopens_on_a_new_loop() -> None:
    handled: list[tuple[asyncio.AbstractEventLoop, int]] = []
    channel: Channel[int] = Channel(lambda item: handled.append((asyncio.get_running_loop(), item)))
    loops: list[asyncio.AbstractEventLoop] = []

    async def session(first: int) -> None:
        loops.append(asyncio.get_running_loop())
        channel.open()
        with pytest.raises(RuntimeError):
            channel.open()  # already open
        channel.put(first)
        channel.put(first + 1)
        await wait_for(lambda: len(handled) == first + 2)
        await channel.aclose()
        await channel.aclose()  # idempotent
        assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []

    run(lambda: session(0))  # run() also fails on any task left behind
    run(lambda: session(2))
    assert [item for _, item in handled] == [0, 1, 2, 3]
    assert [loop for loop, _ in handled] == [loops[0], loops[0], loops[1], loops[1]]


# --------------------------------------------------------------------------------------------
# LoopThread
# --------------------------------------------------------------------------------------------


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    lt = LoopThread("test-loop-thread")
    try:
        yield lt
    finally:
        if lt.references:
            lt.release(count=lt.references)


@pytest.mark.timeout(20)
def test_loop_thread_acquire_starts_a_running_loop_and_release_stops_it(loop_thread: LoopThread) -> None:
    assert loop_thread.loop is None and loop_thread.thread is None
    loop = loop_thread.acquire()
    thread = loop_thread.thread
    assert thread is not None and thread.is_alive() and thread.daemon
    assert thread.name == "test-loop-thread"
    assert thread is not threading.current_thread()
    assert loop.is_running() and loop_thread.loop is loop

    loop_thread.release()
    assert not thread.is_alive()  # joined before release() returned
    assert loop.is_closed()
    assert loop_thread.loop is None and loop_thread.thread is None


@pytest.mark.timeout(20)
def test_loop_thread_two_acquires_share_one_loop_until_the_second_release(loop_thread: LoopThread) -> None:
    loop = loop_thread.acquire()
    thread = loop_thread.thread
    assert loop_thread.acquire() is loop
    assert loop_thread.thread is thread

    async def ping() -> str:
        return "pong"

    loop_thread.release()
    assert thread is not None and thread.is_alive() and loop.is_running()
    assert loop_thread.submit(ping()).result(timeout=5) == "pong"

    loop_thread.release()
    assert not thread.is_alive()
    assert loop.is_closed()
    with pytest.raises(RuntimeError, match="released 1 reference"):
        loop_thread.release()  # one more than was taken: a bug, never a silent no-op
    assert loop_thread.loop is None


@pytest.mark.timeout(20)
def test_loop_thread_submit_returns_the_value_computed_on_the_loop_thread(loop_thread: LoopThread) -> None:
    loop = loop_thread.acquire()

    async def compute(x: int) -> tuple[int, threading.Thread, asyncio.AbstractEventLoop]:
        await asyncio.sleep(0.001)
        return x * 2, threading.current_thread(), asyncio.get_running_loop()

    value, thread, running = loop_thread.submit(compute(21)).result(timeout=5)
    assert value == 42
    assert thread is loop_thread.thread
    assert running is loop

    async def fail() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError):
        loop_thread.submit(fail()).result(timeout=5)
    loop_thread.release()


@pytest.mark.timeout(20)
def test_loop_thread_submit_without_acquire_raises_and_closes_the_coroutine(loop_thread: LoopThread) -> None:
    async def never() -> None:  # pragma: no cover - must not run
        raise AssertionError("ran")

    coro = never()
    with pytest.raises(RuntimeError):
        loop_thread.submit(coro)
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED  # no "never awaited" warning

    loop_thread.acquire()
    loop_thread.release()
    coro = never()
    with pytest.raises(RuntimeError):
        loop_thread.submit(coro)
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED


@pytest.mark.timeout(20)
def test_loop_thread_acquire_after_full_release_starts_a_new_loop(loop_thread: LoopThread) -> None:
    first_loop = loop_thread.acquire()
    first_thread = loop_thread.thread
    loop_thread.release()
    assert first_loop.is_closed()

    second_loop = loop_thread.acquire()
    second_thread = loop_thread.thread
    assert second_loop is not first_loop and second_loop.is_running()
    assert second_thread is not first_thread and second_thread is not None and second_thread.is_alive()

    async def where() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    assert loop_thread.submit(where()).result(timeout=5) is second_loop
    loop_thread.release()
    assert not second_thread.is_alive()


@pytest.mark.timeout(20)
def test_loop_thread_last_release_cancels_leftover_tasks(loop_thread: LoopThread) -> None:
    loop_thread.acquire()
    started = threading.Event()
    cleaned_up: list[str] = []

    async def background() -> None:
        try:
            await asyncio.Event().wait()  # never set: only a cancel ends it
        except asyncio.CancelledError:
            cleaned_up.append("background")
            raise

    async def forever() -> None:
        asyncio.get_running_loop().create_task(background())  # fire and forget
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            cleaned_up.append("submitted")

    future = loop_thread.submit(forever())
    assert started.wait(5)
    thread = loop_thread.thread
    loop_thread.release()  # returns at all only because it cancelled both tasks
    assert thread is not None and not thread.is_alive()
    assert sorted(cleaned_up) == ["background", "submitted"]
    with pytest.raises(concurrent.futures.CancelledError):  # the caller's future does not hang
        future.result(timeout=5)


# --------------------------------------------------------------------------------------------
# ThreadPool (private instances only: never ThreadPool.shared())
# --------------------------------------------------------------------------------------------


@pytest.fixture
def pool() -> Iterator[ThreadPool]:
    p = ThreadPool(name="test-pool")
    p.acquire()
    try:
        yield p
    finally:
        if p.references:
            p.release(count=p.references)


def wait_idle(pool: ThreadPool, count: int) -> None:
    """Wait until ``count`` workers are parked idle.

    A task's own completion signal fires before its worker parks itself: wait for the park.
    """
    wait_until(lambda: pool.idle == count)


@pytest.mark.timeout(20)
def test_pool_runs_tasks_on_daemon_threads_named_after_the_pool(pool: ThreadPool) -> None:
    seen: list[threading.Thread] = []
    done = threading.Event()

    def task() -> None:
        seen.append(threading.current_thread())
        done.set()

    pool.submit(task)
    assert done.wait(5)
    (thread,) = seen
    assert thread is not threading.current_thread()
    assert thread.daemon
    assert thread.name.startswith("test-pool")
    assert pool.threads == 1


@pytest.mark.timeout(20)
def test_pool_sequential_submits_reuse_the_idle_thread(pool: ThreadPool) -> None:
    seen: list[threading.Thread] = []
    for _ in range(5):
        done = threading.Event()

        def task(done: threading.Event = done) -> None:
            seen.append(threading.current_thread())
            done.set()

        pool.submit(task)
        assert done.wait(5)
        wait_idle(pool, 1)
        assert pool.threads == 1
    assert len(set(seen)) == 1


@pytest.mark.timeout(20)
def test_pool_concurrent_blocking_submits_never_queue_behind_a_blocked_one(pool: ThreadPool) -> None:
    # one idle thread already exists: the first blocking task takes it, the others get new ones
    warm = threading.Event()
    pool.submit(warm.set)
    assert warm.wait(5)
    wait_idle(pool, 1)

    n = 4
    all_running = threading.Barrier(n + 1, timeout=5)  # passes only if all n run at the same time
    gate = threading.Event()
    seen: set[threading.Thread] = set()
    lock = threading.Lock()

    def blocking() -> None:
        with lock:
            seen.add(threading.current_thread())
        all_running.wait()
        gate.wait(10)

    try:
        for _ in range(n):
            pool.submit(blocking)
        all_running.wait()  # raises BrokenBarrierError if one task queued behind another
        assert pool.threads == n
        assert len(seen) == n
    finally:
        gate.set()
    wait_idle(pool, n)


@pytest.mark.timeout(20)
def test_pool_release_ends_idle_threads(pool: ThreadPool) -> None:
    gate = threading.Event()
    started = threading.Barrier(4, timeout=5)
    seen: set[threading.Thread] = set()

    def task() -> None:
        seen.add(threading.current_thread())
        started.wait()
        gate.wait(5)

    for _ in range(3):
        pool.submit(task)
    started.wait()
    gate.set()
    wait_idle(pool, 3)
    assert len(seen) == 3

    pool.release()
    assert pool.threads == 0
    assert [t.name for t in seen if t.is_alive()] == []  # joined before release() returned


@pytest.mark.timeout(20)
def test_pool_thread_busy_in_a_long_call_ends_when_the_call_returns_after_release(pool: ThreadPool) -> None:
    started = threading.Event()
    gate = threading.Event()
    box: list[threading.Thread] = []

    finished = threading.Event()

    def long_call() -> None:
        box.append(threading.current_thread())
        started.set()
        gate.wait(10)
        finished.set()

    pool.submit(long_call)
    try:
        assert started.wait(5)
        pool.release(timeout=NEVER_S)
        # release() did not wait for the stuck call: it returned with the call still blocked.
        (thread,) = box
        assert not finished.is_set() and thread.is_alive()
        with pytest.raises(RuntimeError):
            pool.submit(lambda: None)
    finally:
        gate.set()
    thread.join(5)  # and the thread ends once its call returns
    assert finished.is_set() and not thread.is_alive()
    assert pool.threads == 0


@pytest.mark.timeout(20)
def test_pool_release_does_not_wait_for_a_reused_thread_busy_in_a_long_call(pool: ThreadPool) -> None:
    warm = threading.Event()
    pool.submit(warm.set)
    assert warm.wait(5)
    wait_idle(pool, 1)

    gate = threading.Event()
    finished = threading.Event()

    def long_call() -> None:
        gate.wait(10)
        finished.set()

    try:
        pool.submit(long_call)  # goes to the idle thread
        pool.release(timeout=NEVER_S)
        # Had release() waited for that thread it would have returned only after the call.
        blocked_at_return = not finished.is_set()
    finally:
        gate.set()
        wait_until(lambda: pool.threads == 0)
    assert blocked_at_return, "release() waited for a thread busy in a call"
    assert finished.is_set()


@pytest.mark.timeout(20)
def test_pool_submit_without_acquire_raises() -> None:
    fresh = ThreadPool(name="never-acquired")
    with pytest.raises(RuntimeError):
        fresh.submit(lambda: None)
    assert fresh.threads == 0


@pytest.mark.timeout(20)
def test_pool_can_be_acquired_again_after_release(pool: ThreadPool) -> None:
    done = threading.Event()
    pool.submit(done.set)
    assert done.wait(5)
    wait_idle(pool, 1)
    pool.release()
    assert pool.threads == 0
    pool.acquire()
    again = threading.Event()
    pool.submit(again.set)
    assert again.wait(5)


@pytest.mark.timeout(20)
def test_pool_task_that_raises_does_not_kill_later_tasks(
    pool: ThreadPool, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[threading.Thread] = []
    failed = threading.Event()

    def bad() -> None:
        ran.append(threading.current_thread())
        failed.set()
        raise ValueError("task failed")

    with caplog.at_level(logging.ERROR):
        pool.submit(bad)
        assert failed.wait(5)
        wait_idle(pool, 1)
        for _ in range(3):
            done = threading.Event()

            def good(done: threading.Event = done) -> None:
                ran.append(threading.current_thread())
                done.set()

            pool.submit(good)
            assert done.wait(5)
            wait_idle(pool, 1)
    assert len(ran) == 4
    assert len(set(ran)) == 1  # the same worker survived the error
    assert "ValueError: task failed" in caplog.text


@pytest.mark.timeout(60)
def test_pool_runs_every_task_once_under_concurrent_submits_past_core() -> None:
    # Submits from several threads race threads parking and taking the backlog (no lock on that
    # path): every task runs exactly once, and the last release leaves no thread behind.
    p = ThreadPool(name="stress-pool", core=3)
    p.acquire()
    ran: list[int] = []
    all_ran = threading.Event()
    total = 4 * 2000

    def task(i: int) -> None:
        ran.append(i)  # list.append is atomic under the GIL
        if len(ran) == total:
            all_ran.set()

    def submitter(base: int) -> None:
        for i in range(base, base + 2000):
            p.submit(functools.partial(task, i))

    submitters = [threading.Thread(target=submitter, args=(k * 2000,)) for k in range(4)]
    for t in submitters:
        t.start()
    for t in submitters:
        t.join()
    try:
        assert all_ran.wait(30)
        assert sorted(ran) == list(range(total))
        wait_until(lambda: p.idle == p.threads)  # every thread parks again, none is lost
    finally:
        p.release()
    assert p.threads == 0


@pytest.mark.timeout(20)
def test_pool_idle_threads_retire_after_idle_timeout() -> None:
    p = ThreadPool(name="short-idle", idle_timeout=0.05)
    p.acquire()
    try:
        done = threading.Event()
        p.submit(done.set)
        assert done.wait(5)
        wait_until(lambda: p.threads == 0, timeout=2)
        again = threading.Event()
        p.submit(again.set)  # a later submit still works (on a fresh thread)
        assert again.wait(5)
    finally:
        p.release()


# --------------------------------------------------------------------------------------------
# safe_call / asafe_call
# --------------------------------------------------------------------------------------------


def actors_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "actors" and r.levelno == logging.ERROR]


@pytest.mark.timeout(20)
def test_safe_call_sync_callback_returns_true() -> None:
    got: list[tuple[Any, ...]] = []
    assert safe_call(lambda *a: got.append(a), 1, "two") is True
    assert got == [(1, "two")]
    assert safe_call(lambda: "ignored result") is True


@pytest.mark.timeout(20)
def test_safe_call_none_is_a_noop() -> None:
    assert safe_call(None) is True
    assert safe_call(None, 1, 2) is True
    assert run(lambda: asafe_call(None, 1)) is True


@pytest.mark.timeout(20)
def test_safe_call_raising_callback_returns_false_and_logs_traceback(caplog: pytest.LogCaptureFixture) -> None:
    def on_success(result: str) -> None:
        raise ValueError(f"cannot handle {result}")

    with caplog.at_level(logging.ERROR, logger="actors"):
        assert safe_call(on_success, "r1") is False
    (record,) = actors_errors(caplog)
    assert record.exc_info is not None and record.exc_info[0] is ValueError
    assert "Traceback" in caplog.text
    assert "ValueError: cannot handle r1" in caplog.text
    assert "on_success" in caplog.text  # the log names the callback


@pytest.mark.timeout(20)
def test_safe_call_async_callback_from_a_plain_thread_runs_to_completion() -> None:
    record: dict[str, Any] = {}

    async def cb(x: int) -> None:
        record["loop"] = asyncio.get_running_loop()
        await asyncio.sleep(0.01)
        await asyncio.sleep(0)
        record["done"] = x

    def caller() -> None:
        before = set(threading.enumerate())
        record["ok"] = safe_call(cb, 7)
        record["done_at_return"] = record.get("done")
        record["new_threads"] = set(threading.enumerate()) - before

    t = start_thread(caller, name="plain-caller")
    t.join(10)
    assert record["ok"] is True
    assert record["done_at_return"] == 7
    assert record["new_threads"] == set()
    assert record["loop"].is_closed()  # no loop left behind


@pytest.mark.timeout(20)
def test_safe_call_async_callback_from_inside_a_running_loop_runs_to_completion() -> None:
    record: dict[str, Any] = {}

    async def cb(x: int) -> None:
        record["loop"] = asyncio.get_running_loop()
        await asyncio.sleep(0.01)
        await asyncio.sleep(0)
        record["done"] = x

    def sync_hook() -> tuple[bool, Any]:
        """A plain sync function that happens to execute on the event loop's thread."""
        ok = safe_call(cb, 9)
        return ok, record.get("done")

    async def main() -> None:
        caller_loop = asyncio.get_running_loop()
        before = set(threading.enumerate())
        ok, done_at_return = sync_hook()
        assert ok is True
        assert done_at_return == 9
        assert set(threading.enumerate()) - before == set()
        assert record["loop"] is not caller_loop
        assert record["loop"].is_closed()
        await asyncio.sleep(0)  # the caller's loop is still healthy

    run(main)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("where", ["plain thread", "inside running loop"])
def test_safe_call_raising_async_callback_returns_false(where: str, caplog: pytest.LogCaptureFixture) -> None:
    async def cb() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("async boom")

    with caplog.at_level(logging.ERROR, logger="actors"):
        if where == "plain thread":
            assert safe_call(cb) is False
        else:

            async def main() -> bool:
                return safe_call(cb)

            assert run(main) is False
    assert len(actors_errors(caplog)) == 1
    assert "RuntimeError: async boom" in caplog.text


@pytest.mark.timeout(20)
def test_asafe_call_awaits_async_callback_on_the_callers_loop() -> None:
    record: dict[str, Any] = {}

    async def cb(x: int) -> None:
        record["loop"] = asyncio.get_running_loop()
        record["thread"] = threading.current_thread()
        await asyncio.sleep(0.01)
        record["done"] = x

    def sync_cb(x: int) -> None:
        record["sync_thread"] = threading.current_thread()
        record["sync"] = x

    async def main() -> None:
        before = set(threading.enumerate())
        assert await asafe_call(cb, 3) is True
        assert record["done"] == 3
        assert record["loop"] is asyncio.get_running_loop()
        assert record["thread"] is threading.current_thread()
        assert await asafe_call(sync_cb, 4) is True
        assert record["sync"] == 4 and record["sync_thread"] is threading.current_thread()
        assert set(threading.enumerate()) - before == set()

    run(main)


@pytest.mark.timeout(20)
def test_asafe_call_raising_callbacks_return_false_and_log(caplog: pytest.LogCaptureFixture) -> None:
    def sync_bad() -> None:
        raise ValueError("sync boom")

    async def async_bad() -> None:
        await asyncio.sleep(0)
        raise KeyError("async boom")

    async def main() -> tuple[bool, bool]:
        return await asafe_call(sync_bad), await asafe_call(async_bad)

    with caplog.at_level(logging.ERROR, logger="actors"):
        assert run(main) == (False, False)
    records = actors_errors(caplog)
    assert [r.exc_info[0] for r in records if r.exc_info] == [ValueError, KeyError]
    assert "ValueError: sync boom" in caplog.text
    assert "KeyError: 'async boom'" in caplog.text


@pytest.mark.timeout(20)
def test_asafe_call_lets_cancellation_of_the_calling_task_propagate(caplog: pytest.LogCaptureFixture) -> None:
    outcome: dict[str, Any] = {}

    async def main() -> None:
        started = asyncio.Event()

        async def slow_callback() -> None:
            started.set()
            try:
                await asyncio.sleep(100)
            finally:
                outcome["callback_unwound"] = True

        async def caller() -> bool:
            try:
                return await asafe_call(slow_callback)
            except asyncio.CancelledError:
                outcome["raised_out_of_asafe_call"] = True
                raise

        task = asyncio.create_task(caller())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled()

    with caplog.at_level(logging.ERROR, logger="actors"):
        run(main)
    assert outcome == {"callback_unwound": True, "raised_out_of_asafe_call": True}
    assert actors_errors(caplog) == []  # a cancellation is not a callback error
