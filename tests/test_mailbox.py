"""The dispatcher's mailboxes: per-agent order, Stop ahead of queued ticks, real pykka workers."""

from __future__ import annotations

import threading

import pytest
from conftest import wait_until

from actors._mailbox import Mailbox, callbacks
from actors.dispatcher import Dispatcher


@pytest.mark.timeout(10)
def test_urgent_messages_overtake_queued_ones_and_order_is_kept() -> None:
    dispatcher = Dispatcher(workers=1)
    dispatcher.acquire()
    gate = threading.Event()
    handled: list[str] = []

    def handler(message: str) -> None:
        if message == "block":
            gate.wait(5)
        handled.append(message)

    try:
        mailbox = dispatcher.mailbox(handler)
        mailbox.post("block")
        wait_until(lambda: not mailbox._normal)  # the worker is now inside "block"
        for i in range(100):
            mailbox.post(f"tick{i}")
        mailbox.post("stop", urgent=True)
        gate.set()
        wait_until(lambda: len(handled) == 102)
    finally:
        dispatcher.release()
    assert handled[:2] == ["block", "stop"]
    assert handled[2:] == [f"tick{i}" for i in range(100)]


@pytest.mark.timeout(10)
def test_one_agent_never_runs_two_handlers_at_once() -> None:
    dispatcher = Dispatcher(workers=4)
    dispatcher.acquire()
    inside = 0
    peak = 0
    count = 0
    lock = threading.Lock()

    def handler(message: int) -> None:
        nonlocal inside, peak, count
        with lock:
            inside += 1
            peak = max(peak, inside)
        with lock:
            inside -= 1
            count += 1

    try:
        mailbox = dispatcher.mailbox(handler)
        senders = [threading.Thread(target=lambda: [mailbox.post(i) for i in range(500)]) for _ in range(4)]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
        wait_until(lambda: count == 2000)
    finally:
        dispatcher.release()
    assert peak == 1


@pytest.mark.timeout(10)
def test_a_crashing_handler_is_reported_and_the_worker_survives() -> None:
    dispatcher = Dispatcher(workers=1)
    dispatcher.acquire()
    crashes: list[tuple[object, BaseException]] = []
    handled: list[int] = []

    def handler(message: int) -> None:
        if message == 1:
            raise RuntimeError("bug in the actor")
        handled.append(message)

    try:
        mailbox = dispatcher.mailbox(handler, on_crash=lambda m, e: crashes.append((m, e)))
        for i in range(3):
            mailbox.post(i)
        wait_until(lambda: len(handled) == 2)
    finally:
        dispatcher.release()
    assert handled == [0, 2] and crashes[0][0] == 1


@pytest.mark.timeout(10)
def test_a_bug_while_serving_is_logged_and_the_worker_serves_the_next_post(caplog: pytest.LogCaptureFixture) -> None:
    dispatcher = Dispatcher(workers=1)
    dispatcher.acquire()
    handled: list[int] = []
    try:
        healthy = dispatcher.mailbox(handled.append)

        class Broken(Mailbox):
            def drain(self, limit: int) -> bool:
                raise ZeroDivisionError("a bug in the runtime, not in a handler")

        broken = Broken(callbacks(handled.append), healthy._worker)  # the same worker
        broken.post(0)
        wait_until(lambda: "failed serving its mailboxes" in caplog.text)
        healthy.post(1)  # a bug outside any handler used to stop the pykka worker for good
        wait_until(lambda: handled == [1])
    finally:
        dispatcher.release()


@pytest.mark.timeout(10)
def test_closed_mailbox_drops_posts_and_release_joins_workers() -> None:
    dispatcher = Dispatcher(workers=2)
    dispatcher.acquire()
    mailbox = dispatcher.mailbox(lambda m: None)
    mailbox.close()
    assert mailbox.post("late") is False
    names = [t.name for t in threading.enumerate()]
    dispatcher.release()
    assert [t.name for t in threading.enumerate()] == [n for n in names if not n.startswith("_Worker")]
