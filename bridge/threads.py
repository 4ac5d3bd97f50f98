"""A growing pool of daemon threads for blocking calls that may never return.

Why not ``concurrent.futures.ThreadPoolExecutor``: a sync agent that hangs must be abandonable.
The stdlib pool is bounded (once every worker is stuck, new runs queue forever, i.e. are lost)
and joins its threads at interpreter exit, so one stuck agent would hang the whole program on
exit. Here an idle thread is reused (a hand-off costs one queue put, no thread start: ~10 µs
against ~70 µs for a new thread), a new one is started only when none is idle, threads are
daemons, idle ones retire after ``idle_timeout``, and the last ``release()`` ends the idle ones
at once. A thread busy in an abandoned call ends as soon as the call returns.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable

__all__ = ["ThreadPool"]

log = logging.getLogger("bridge")
_Task = Callable[[], None]


class ThreadPool:
    """Reference-counted pool of daemon threads running fire-and-forget callables."""

    _shared: ThreadPool | None = None
    _shared_lock = threading.Lock()

    def __init__(self, name: str = "actorsched-worker", idle_timeout: float = 30.0) -> None:
        self._name = name
        self._idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._tasks: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._idle = 0
        self._refs = 0
        self._threads: set[threading.Thread] = set()
        self._busy: set[threading.Thread] = set()
        self._retired: list[threading.Thread] = []
        self._retiring = threading.Condition(self._lock)
        self._counter = itertools.count(1)

    @classmethod
    def shared(cls) -> ThreadPool:
        """The process-wide pool the schedulers run sync agents and callbacks on."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    @property
    def threads(self) -> int:
        """Threads alive now (busy or idle)."""
        with self._lock:
            return len(self._threads)

    def acquire(self) -> None:
        """Take a reference (the pool accepts work while at least one is held)."""
        with self._lock:
            self._refs += 1

    def release(self, timeout: float = 1.0) -> None:
        """Drop a reference; the last one ends idle threads now and busy ones when their call returns.

        Only the threads that take a retire signal are joined: a thread busy in an abandoned
        call (even one just handed a task while idle) is never waited for.
        """
        with self._lock:
            if self._refs == 0:
                return
            self._refs -= 1
            if self._refs:
                return
            idle, self._idle = self._idle, 0
            for _ in range(idle):
                self._tasks.put(None)
            deadline = time.monotonic() + timeout
            while len(self._retired) < idle and self._retiring.wait(max(0.0, deadline - time.monotonic())):
                pass
            retired, self._retired = self._retired, []
        me = threading.current_thread()
        for thread in retired:
            if thread is not me:
                thread.join(max(0.0, deadline - time.monotonic()))

    def submit(self, task: _Task) -> None:
        """Run ``task()`` on an idle thread, or on a new one if none is idle; never blocks."""
        with self._lock:
            if self._refs == 0:
                raise RuntimeError("ThreadPool is not acquired")
            if self._idle:
                self._idle -= 1
                self._tasks.put(task)
                return
            thread = threading.Thread(
                target=self._work, args=(task,), name=f"{self._name}-{next(self._counter)}", daemon=True
            )
            self._threads.add(thread)
            self._busy.add(thread)  # from birth: release() must not wait on a stuck first task
        thread.start()

    def _work(self, task: _Task | None) -> None:
        me = threading.current_thread()
        try:
            while task is not None:
                with self._lock:
                    self._busy.add(me)
                try:
                    task()
                except BaseException:  # a task must not kill the worker silently
                    log.exception("task on %s raised", me.name)
                with self._lock:
                    self._busy.discard(me)
                    if self._refs == 0:
                        return
                    self._idle += 1
                try:
                    task = self._tasks.get(timeout=self._idle_timeout)
                except queue.Empty:
                    with self._lock:
                        try:  # a submit may have reserved us just before the timeout
                            task = self._tasks.get_nowait()
                        except queue.Empty:
                            self._idle -= 1
                            return
            with self._lock:  # took a retire signal from release()
                self._retired.append(me)
                self._retiring.notify_all()
        finally:
            with self._lock:
                self._threads.discard(me)
                self._busy.discard(me)
