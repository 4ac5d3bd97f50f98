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


def _retire() -> None:
    """The signal `ThreadPool.release` hands an idle thread: end (never called)."""


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
        self._lock = threading.Lock()  # refs, the thread set, the gate: never taken per task
        # The hot path takes no lock: a lock that a thread holds when the GIL switches away
        # makes every other thread that wants it sleep and wake again (a convoy). With one
        # lock per task, 20 % of the pool threads' acquisitions in a burst of 10,000 no-op
        # sync agents found it held; at a steady 1,000 runs/s a sync run cost 187-191 µs of CPU
        # and 5.1 context switches, now 152-162 µs and 2.8 (python benchmarks/cpu.py ours_sync,
        # floor 100-113 µs). Each idle thread parks on its own queue, newest last, so the
        # thread that ran last (its stack and caches warm) takes the next task.
        # list.append/pop/remove and SimpleQueue.put/get are single C calls, atomic under the GIL.
        self._parked: list[queue.SimpleQueue[_Task]] = []  # idle threads' inboxes, newest last
        self._backlog: queue.SimpleQueue[_Task] = queue.SimpleQueue()  # work that found no idle thread
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

    @property
    def idle(self) -> int:
        """Threads parked waiting for work now."""
        return len(self._parked)

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
            signalled = 0
            while self._parked:  # a thread parking from now on sees no references and ends
                self._parked.pop().put(_retire)
                signalled += 1
            deadline = time.monotonic() + timeout
            while len(self._retired) < signalled and self._retiring.wait(max(0.0, deadline - time.monotonic())):
                pass
            retired, self._retired = self._retired, []
            gate = self._gate
        me = threading.current_thread()
        for thread in [*retired, gate]:
            if thread is not None and thread is not me:
                thread.join(max(0.0, deadline - time.monotonic()))

    def submit(self, task: _Task) -> None:
        """Run ``task()`` on an idle thread, a new one, or (past ``core``) the next free one."""
        if self._refs == 0:
            raise RuntimeError("ThreadPool is not acquired")
        try:
            inbox = self._parked.pop()
        except IndexError:
            pass
        else:
            inbox.put(task)  # that thread is ours: no other submit can pop it
            return
        with self._lock:
            if self._refs == 0:
                raise RuntimeError("ThreadPool is not acquired")
            if len(self._threads) >= self._core:
                if self._backlog.empty():
                    self._progress = time.monotonic()
                self._backlog.put(task)
                if self._gate is None:
                    self._gate = threading.Thread(target=self._watch, name=f"{self._name}-gate", daemon=True)
                    self._gate.start()
                return
            thread = self._spawn(task)
        thread.start()

    def _spawn(self, task: _Task) -> threading.Thread:
        """Create (not start) a worker; call with the lock held."""
        thread = threading.Thread(target=self._work, args=(task,), name=f"{self._name}-{next(self._counter)}",
                                  daemon=True)
        self._threads.add(thread)
        return thread

    def _watch(self) -> None:
        """The gate: while queued work starves, add a thread per ``starvation_s``."""
        me = threading.current_thread()
        while True:
            time.sleep(self._starvation_s)
            with self._lock:
                if self._refs == 0 or self._backlog.empty():
                    if self._gate is me:
                        self._gate = None
                    return
                if time.monotonic() - self._progress < self._starvation_s:
                    continue
                try:
                    task = self._backlog.get_nowait()
                except queue.Empty:  # a thread took it as we looked
                    continue
                self._progress = time.monotonic()
                thread = self._spawn(task)
                log.debug("pool %s starving: %d queued, thread %d added", self._name, self._backlog.qsize(),
                          len(self._threads))
            thread.start()

    def _unpark(self, inbox: queue.SimpleQueue[_Task]) -> bool:
        """Take our inbox off the parked list; False if a submit or release took it first (its
        task or retire signal is then on the way)."""
        try:
            self._parked.remove(inbox)
        except ValueError:
            return False
        return True

    def _next(self, inbox: queue.SimpleQueue[_Task]) -> _Task | None:
        """The next task: from the backlog, else parked on ``inbox`` (`_retire` from release());
        None: end, no references are left or the thread was idle for ``idle_timeout``."""
        backlog = self._backlog
        while True:
            try:
                task = backlog.get_nowait()
            except queue.Empty:
                pass
            else:
                self._progress = time.monotonic()
                return task
            self._parked.append(inbox)
            # Look again after parking: a submit that found no one parked queued its task to
            # the backlog, and release() signals only the threads parked before it.
            if (self._refs == 0 or not backlog.empty()) and self._unpark(inbox):
                if self._refs == 0:
                    return None
                continue
            try:
                return inbox.get(timeout=self._idle_timeout)
            except queue.Empty:
                if self._unpark(inbox):
                    return None
                return inbox.get()  # taken just as we timed out: its task is on the way

    def _work(self, first: _Task) -> None:
        me = threading.current_thread()
        inbox: queue.SimpleQueue[_Task] = queue.SimpleQueue()
        task: _Task | None = first
        try:
            while task is not None:
                if task is _retire:
                    with self._lock:
                        self._retired.append(me)
                        self._retiring.notify_all()
                    return
                try:
                    task()
                except BaseException:  # a task must not kill the worker silently
                    log.exception("task on %s raised", me.name)
                task = None if self._refs == 0 else self._next(inbox)
        finally:
            with self._lock:
                self._threads.discard(me)
