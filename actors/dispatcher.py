"""Many lightweight mailboxes served by a bounded set of pykka worker actors.

One pykka ThreadingActor per agent costs a thread each: on this 2-core machine 10,000 of them
take 15 s to spawn, +213 MB, and 44 s to stop. A :class:`Mailbox` is instead two deques and a
worker reference (~0.5 KB); posting appends the message and tells the mailbox's worker "one
message is waiting in me". A mailbox is pinned to one worker, so its messages are handled one
at a time and in order (the actor's state needs no lock), while different agents' messages
interleave on the workers. Control messages (Start, Stop) use a second lane that is drained
first, so a Stop overtakes ticks already queued (plain pykka queues a stop behind the whole
inbox, pykka #46). Workers never run agent code: sync agents run on bridge.ThreadPool, async
agents on a loop, so a handler takes microseconds and two workers keep up with 10,000 agents.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import pykka

__all__ = ["Dispatcher", "Mailbox"]

log = logging.getLogger("actors")


class Mailbox:
    """One agent's inbox: urgent and normal lanes, processed one message at a time by one worker."""

    __slots__ = ("_handler", "_on_crash", "_urgent", "_normal", "_worker", "_closed")

    def __init__(
        self,
        handler: Callable[[Any], None],
        worker: pykka.ActorRef[Any],
        on_crash: Callable[[Any, BaseException], None] | None = None,
    ) -> None:
        self._handler = handler
        self._on_crash = on_crash
        self._urgent: deque[Any] = deque()
        self._normal: deque[Any] = deque()
        self._worker = worker
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once closed: posts are dropped."""
        return self._closed

    def post(self, message: Any, urgent: bool = False) -> bool:
        """Queue ``message`` from any thread; return False (dropped) if the mailbox is closed."""
        if self._closed:
            return False
        (self._urgent if urgent else self._normal).append(message)
        try:
            self._worker.tell(self)
        except pykka.ActorDeadError:
            self._closed = True
            return False
        return True

    def close(self) -> None:
        """Drop every queued and future message (the agent's runtime has been released)."""
        self._closed = True
        self._urgent.clear()
        self._normal.clear()

    def process_one(self) -> None:
        """Handle the next message, urgent lane first (called by the worker, once per post)."""
        if self._urgent:
            message = self._urgent.popleft()
        elif self._normal:
            message = self._normal.popleft()
        else:
            return  # cleared by close()
        try:
            self._handler(message)
        except Exception as exc:
            if self._on_crash is None:
                log.exception("actor crashed handling %r", message)
            else:
                self._on_crash(message, exc)


class _Worker(pykka.ThreadingActor):
    use_daemon_thread = True  # a program that forgets to stop still exits

    def on_start(self) -> None:
        self.thread = threading.current_thread()

    def on_receive(self, message: Any) -> None:
        message.process_one()


class Dispatcher:
    """A reference-counted set of pykka worker actors that mailboxes are pinned to."""

    _shared: Dispatcher | None = None
    _shared_lock = threading.Lock()

    def __init__(self, workers: int = 2) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers!r}")
        self._size = workers
        self._lock = threading.Lock()
        self._refs = 0
        self._workers: list[pykka.ActorRef[Any]] = []
        self._next = itertools.count()

    @classmethod
    def shared(cls) -> Dispatcher:
        """The process-wide dispatcher."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    @property
    def workers(self) -> list[pykka.ActorRef[Any]]:
        """The live worker refs (empty while no one holds a reference)."""
        return list(self._workers)

    def acquire(self) -> None:
        """Take a reference, starting the workers if needed."""
        with self._lock:
            self._refs += 1
            if not self._workers:
                self._workers = [_Worker.start() for _ in range(self._size)]

    def release(self, timeout: float = 5.0) -> None:
        """Drop a reference; the last one stops the workers and joins their threads."""
        with self._lock:
            if self._refs == 0:
                return
            self._refs -= 1
            if self._refs:
                return
            workers, self._workers = self._workers, []
        threads = []
        for ref in workers:
            threads.append(ref.proxy().thread.get(timeout=timeout))
            ref.stop(block=False)
        me = threading.current_thread()
        for thread in threads:
            if thread is not me:
                thread.join(timeout)

    def mailbox(
        self, handler: Callable[[Any], None], on_crash: Callable[[Any, BaseException], None] | None = None
    ) -> Mailbox:
        """Create a mailbox pinned to the next worker (round robin)."""
        with self._lock:
            if not self._workers:
                raise RuntimeError("Dispatcher is not acquired")
            worker = self._workers[next(self._next) % len(self._workers)]
        return Mailbox(handler, worker, on_crash)
