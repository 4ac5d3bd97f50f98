"""A growing pool of daemon threads for blocking calls that may never return.

Why not ``concurrent.futures.ThreadPoolExecutor``: a sync agent that hangs must be abandonable.
The stdlib pool is bounded (once every worker is stuck, new runs queue forever, i.e. are lost)
and joins its threads at interpreter exit, so one stuck agent would hang the whole program on
exit. Here threads are daemons, idle ones retire after ``idle_timeout``, and the last
``release()`` ends the idle ones at once; a thread busy in an abandoned call ends as soon as the
call returns.

Growth: an idle thread is reused (one queue put, ~10 µs, against ~70 µs to start a thread). Up
to ``core`` threads start on demand. Past that, work queues and a short-lived *gate* thread adds
one thread every ``starvation_s`` while queued work makes no progress (the rule of .NET's thread
pool). Without the gate, a burst of 5,000 no-op sync agents grew the pool to ~290 threads, each
one more contender for the GIL; with it a burst shares the core threads, while agents that
really block still get new threads after a short wait.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable

from bridge.shared import ProcessWide, RefCounted

__all__ = ["ThreadPool"]

log = logging.getLogger("bridge")
_Task = Callable[[], None]


class ThreadPool(ProcessWide, RefCounted):
    """Reference-counted pool of daemon threads running fire-and-forget callables."""


    def __init__(
        self,
        name: str = "actorsched-worker",
        idle_timeout: float = 30.0,
        core: int | None = None,
        starvation_s: float = 0.02,
    ) -> None:
        self._name = name
        self._idle_timeout = idle_timeout
        self._core = core if core is not None else max(16, 4 * (os.cpu_count() or 1))
        self._starvation_s = starvation_s
        self._lock = threading.Lock()
        self._tasks: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._idle = 0  # threads waiting on the queue; each submit to one of them "reserves" it
        self._backlog = 0  # queued tasks that no idle thread was reserved for
        self._progress = 0.0  # when a backlog task was last taken
        self._gate: threading.Thread | None = None
        self._threads: set[threading.Thread] = set()
        self._retired: list[threading.Thread] = []
        self._retiring = threading.Condition(self._lock)
        self._counter = itertools.count(1)


    @property
    def threads(self) -> int:
        """Threads alive now (busy or idle)."""
        with self._lock:
            return len(self._threads)

    def acquire(self) -> None:
        """Take a reference (the pool accepts work while at least one is held)."""
        with self._lock:
            self._add_refs()

    def release(self, timeout: float = 1.0, count: int = 1) -> None:
        """Drop ``count`` references; the last one ends idle threads now, busy ones when their call returns.

        Only the threads that take a retire signal are joined: a thread busy in an abandoned
        call (even one just handed a task while idle) is never waited for.
        """
        with self._lock:
            if not self._drop_refs(count):
                return
            idle, self._idle = self._idle, 0
            for _ in range(idle):
                self._tasks.put(None)
            deadline = time.monotonic() + timeout
            while len(self._retired) < idle and self._retiring.wait(max(0.0, deadline - time.monotonic())):
                pass
            retired, self._retired = self._retired, []
            gate = self._gate
        me = threading.current_thread()
        for thread in [*retired, gate]:
            if thread is not None and thread is not me:
                thread.join(max(0.0, deadline - time.monotonic()))

    def submit(self, task: _Task) -> None:
        """Run ``task()`` on an idle thread, a new one, or (past ``core``) the next free one."""
        with self._lock:
            if self._refs == 0:
                raise RuntimeError("ThreadPool is not acquired")
            if self._idle:
                self._idle -= 1
                self._tasks.put(task)
                return
            if len(self._threads) >= self._core:
                if not self._backlog:
                    self._progress = time.monotonic()
                self._backlog += 1
                self._tasks.put(task)
                if self._gate is None:
                    self._gate = threading.Thread(target=self._watch, name=f"{self._name}-gate", daemon=True)
                    self._gate.start()
                return
            thread = self._spawn(task)
        thread.start()

    def _spawn(self, task: _Task | None) -> threading.Thread:
        """Create (not start) a worker; call with the lock held."""
        thread = threading.Thread(target=self._work, args=(task,), name=f"{self._name}-{next(self._counter)}",
                                  daemon=True)
        self._threads.add(thread)
        return thread

    def _next_task(self) -> _Task | None:
        """Take the next task; call with the lock held and a backlog > 0."""
        self._backlog -= 1
        self._progress = time.monotonic()
        return self._tasks.get_nowait()

    def _watch(self) -> None:
        """The gate: while queued work starves, add a thread per ``starvation_s``."""
        me = threading.current_thread()
        while True:
            time.sleep(self._starvation_s)
            with self._lock:
                if self._refs == 0 or not self._backlog:
                    if self._gate is me:
                        self._gate = None
                    return
                if time.monotonic() - self._progress < self._starvation_s:
                    continue
                thread = self._spawn(self._next_task())
                log.debug("pool %s starving: %d queued, thread %d added", self._name, self._backlog,
                          len(self._threads))
            thread.start()

    def _work(self, task: _Task | None) -> None:
        me = threading.current_thread()
        try:
            while task is not None:
                try:
                    task()
                except BaseException:  # a task must not kill the worker silently
                    log.exception("task on %s raised", me.name)
                with self._lock:
                    if self._refs == 0:
                        return
                    if self._backlog:
                        task = self._next_task()
                        continue
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
