"""Many lightweight mailboxes served by a bounded set of pykka worker actors.

One pykka ThreadingActor per agent costs a thread each: on this 2-core machine 10,000 of them
take 15 s to spawn, +213 MB, and 44 s to stop. A `Mailbox` is instead two deques and a
flag; it is pinned to one of two workers, so its messages are handled one at a time and in
order (the actor's state needs no lock) while different agents interleave on the workers.

Scheduling follows the dispatcher model of mature actor runtimes: a post appends to the
mailbox and, if the mailbox is not already scheduled, puts it on its worker's ready queue; the
worker's pykka inbox only carries a doorbell, rung when the worker may be asleep. A worker
drains up to ``_BATCH`` messages per mailbox turn, so a burst of ticks costs a few pykka
messages instead of one each (a ``Queue.put`` with a contended lock and condition per message
was the largest cost of the tick path at 10,000 agents). Control messages (Start, Stop) use an
urgent lane drained first, so a Stop overtakes ticks already queued (plain pykka queues a stop
behind the whole inbox, pykka #46). Workers never run agent code: sync agents run on
bridge.ThreadPool, async agents on a loop, so a handler takes microseconds.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import pykka

from bridge.shared import ProcessWide

from actors._clock import REAL_CLOCK, Clock
from actors.loop_side import begin_loop_call_batching, flush_loop_calls

__all__ = ["Dispatcher", "Mailbox"]

log = logging.getLogger("actors")


class MailboxTarget(Protocol):
    """What a mailbox delivers to: the actor's three entry points."""

    def handle(self, message: Any) -> None:
        """Handle one message (never concurrently for one mailbox)."""

    def crashed(self, message: Any, error: BaseException) -> None:
        """``handle`` raised ``error``: a bug in the actor, for supervision."""

    def dropped(self, message: Any) -> None:
        """``message`` will never be handled (the mailbox closed): answer any asker."""


class Mailbox:
    """One agent's inbox: urgent and normal lanes, drained in order by its one worker.

    It holds its actor rather than three bound methods: at 10,000 agents every long-lived
    object per agent is one more for each full GC pass to scan (27 -> 39 objects per agent
    made the spread-start p99 at 10,000 agents jump from ~30 ms to ~450 ms on GC pauses).
    """

    __slots__ = ("_target", "_urgent", "_normal", "_worker", "_closed", "_scheduled")

    def __init__(self, target: MailboxTarget, worker: _WorkerQueue) -> None:
        self._target = target
        self._urgent: deque[Any] = deque()
        self._normal: deque[Any] = deque()
        self._worker = worker
        self._closed = False
        self._scheduled = False

    @property
    def closed(self) -> bool:
        """True once closed: posts are dropped."""
        return self._closed

    def post(self, message: Any, urgent: bool = False) -> bool:
        """Queue ``message`` from any thread; return False (dropped) if the mailbox is closed."""
        if self._closed:
            return False
        lane = self._urgent if urgent else self._normal
        lane.append(message)
        if self._closed:  # closed while we appended: take it back, unless close() answered it
            try:
                lane.remove(message)
            except ValueError:
                return True
            return False
        if not self._scheduled:  # read after the append: see drain() for why nothing is lost
            self._scheduled = True
            if not self._worker.schedule(self):
                self._closed = True
                return False
        return True

    # Calling a mailbox posts to it: whoever sends to an agent holds the mailbox itself rather
    # than a bound `post` method, one long-lived object fewer per holder for the GC to scan.
    __call__ = post

    def close(self) -> None:
        """Drop every queued and future message (the agent's runtime has been released).

        Each queued message goes to the target's ``dropped``, which answers any asker waiting
        on it: a stats ask that lost the race with a stop from another thread used to wait 5 s
        for an answer that could never come. ``popleft`` is atomic, so a message is either
        handled by the worker or dropped here, never both and never neither.
        """
        self._closed = True
        target = self._target
        for lane in (self._urgent, self._normal):
            while True:
                try:
                    message = lane.popleft()
                except IndexError:
                    break
                try:
                    target.dropped(message)
                except Exception:
                    log.exception("answering dropped message %r failed", message)

    def drain(self, limit: int) -> bool:
        """Handle up to ``limit`` messages, urgent lane first; True if more are waiting.

        Runs on the mailbox's one worker only. Clearing ``_scheduled`` *before* the final
        emptiness check closes the lost-wake-up window: a post that saw the flag still set
        appended before that check, so the check sees its message.
        """
        urgent, normal, target = self._urgent, self._normal, self._target
        for _ in range(limit):
            if urgent:
                message = urgent.popleft()
            elif normal:
                message = normal.popleft()
            else:
                break
            try:
                target.handle(message)  # a method call, no bound method to collect
            except BaseException as exc:  # noqa: BLE001 - the worker serves every other agent too
                target.crashed(message, exc)
        else:
            return True
        self._scheduled = False
        if (urgent or normal) and not self._closed:
            self._scheduled = True
            return True
        return False


class _Callbacks:
    """A [`MailboxTarget`][actors.dispatcher.MailboxTarget] made of plain functions."""

    __slots__ = ("_handler", "_on_crash", "_on_drop")

    def __init__(self, handler: Callable[[Any], None], on_crash: Callable[[Any, BaseException], None] | None,
                 on_drop: Callable[[Any], None] | None) -> None:
        self._handler, self._on_crash, self._on_drop = handler, on_crash, on_drop

    def handle(self, message: Any) -> None:
        self._handler(message)

    def crashed(self, message: Any, error: BaseException) -> None:
        if self._on_crash is None:
            log.error("actor crashed handling %r", message, exc_info=error)
        else:
            self._on_crash(message, error)

    def dropped(self, message: Any) -> None:
        if self._on_drop is not None:
            self._on_drop(message)


class _Tracked:
    """A target whose messages count as busy units of a virtual clock until handled or
    dropped, so that ``VirtualClock.advance`` waits for every message a timer caused."""

    __slots__ = ("_target", "_clock")

    def __init__(self, target: MailboxTarget, clock: Clock) -> None:
        self._target, self._clock = target, clock

    def handle(self, message: Any) -> None:
        try:
            self._target.handle(message)
        finally:
            self._clock.exit()

    def crashed(self, message: Any, error: BaseException) -> None:
        self._target.crashed(message, error)

    def dropped(self, message: Any) -> None:
        try:
            self._target.dropped(message)
        finally:
            self._clock.exit()


class TrackedMailbox(Mailbox):
    """A mailbox on a virtual clock: each queued message is one busy unit."""

    __slots__ = ("_clock",)

    def __init__(self, target: MailboxTarget, worker: _WorkerQueue, clock: Clock) -> None:
        super().__init__(_Tracked(target, clock), worker)
        self._clock = clock

    def post(self, message: Any, urgent: bool = False) -> bool:
        """Queue ``message`` as one busy unit until it is handled or dropped."""
        self._clock.enter()
        if Mailbox.post(self, message, urgent):
            return True
        self._clock.exit()
        return False

    __call__ = post


class _WorkerQueue:
    """The ready queue of one pykka worker: mailboxes with work, and a doorbell.

    The pykka inbox only carries doorbells, rung when the worker may be asleep, so a burst of
    10,000 ticks costs a handful of ``Queue.put``\\ s instead of 10,000 (each a lock and a
    condition notify that another thread contends for).
    """

    __slots__ = ("ref", "ready", "awake", "thread")

    def __init__(self) -> None:
        self.ref: pykka.ActorRef[Any] | None = None
        self.ready: deque[Mailbox] = deque()
        self.awake = False
        self.thread: threading.Thread | None = None

    def schedule(self, mailbox: Mailbox) -> bool:
        """Queue a mailbox with work; False if the worker is gone."""
        self.ready.append(mailbox)  # published before the awake check: see Mailbox.drain
        return self.ring()

    def ring(self) -> bool:
        """Ring the doorbell unless the worker is awake; False if the worker is gone."""
        if self.awake:
            return True
        self.awake = True
        ref = self.ref
        if ref is None:
            return False
        try:
            ref.tell(_DOORBELL)
        except pykka.ActorDeadError:
            return False
        return True

    def run(self) -> None:
        """Drain ready mailbox after mailbox (``_BATCH`` messages per turn, for fairness)."""
        ready = self.ready
        while True:
            while ready:
                mailbox = ready.popleft()
                if mailbox.drain(_BATCH):
                    ready.append(mailbox)
            flush_loop_calls()
            self.awake = False
            if not ready:
                return
            self.awake = True


class _Doorbell:
    __slots__ = ()


_DOORBELL = _Doorbell()
# Messages a mailbox may handle before the next mailbox gets a turn.
_BATCH = 64


class _Worker(pykka.ThreadingActor):
    use_daemon_thread = True  # a program that forgets to stop still exits

    def __init__(self, queue: _WorkerQueue) -> None:
        super().__init__()
        self.queue = queue

    def on_start(self) -> None:
        self.queue.thread = threading.current_thread()
        begin_loop_call_batching()

    def on_receive(self, message: Any) -> None:
        self.queue.run()


class Dispatcher(ProcessWide):
    """A reference-counted set of pykka worker actors that mailboxes are pinned to."""


    def __init__(self, workers: int = 2) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers!r}")
        self._size = workers
        self._lock = threading.Lock()
        self._refs = 0
        self._workers: list[_WorkerQueue] = []
        self._next = itertools.count()


    @property
    def workers(self) -> list[pykka.ActorRef[Any]]:
        """The live worker refs (empty while no one holds a reference)."""
        return [w.ref for w in self._workers if w.ref is not None]

    def acquire(self) -> None:
        """Take a reference, starting the workers if needed."""
        with self._lock:
            self._refs += 1
            if not self._workers:
                workers = [_WorkerQueue() for _ in range(self._size)]
                for worker in workers:
                    worker.ref = _Worker.start(worker)
                self._workers = workers

    def release(self, timeout: float = 5.0, count: int = 1) -> None:
        """Drop ``count`` references; the last one stops the workers and joins their threads."""
        with self._lock:
            if self._refs == 0:
                return
            self._refs = max(0, self._refs - count)
            if self._refs:
                return
            workers, self._workers = self._workers, []
        for worker in workers:
            ref, worker.ref = worker.ref, None
            if ref is not None:
                ref.stop(block=False)
        me = threading.current_thread()
        for worker in workers:
            if worker.thread is not None and worker.thread is not me:
                worker.thread.join(timeout)

    @contextlib.contextmanager
    def doorbells_held(self) -> Iterator[None]:
        """Post many messages without waking the workers for each, then ring each worker once.

        Marking a worker awake stops posts from ringing it; if it really was running, it sees
        the new mailboxes before it sleeps (the publish-then-check rule), and the ring at the
        end covers a worker that was asleep. Used by ActorSystem.shutdown: posting 1,000 Stops
        while a woken worker competed for the GIL cost ~30 ms.
        """
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.awake = True
        try:
            yield
        finally:
            for worker in workers:
                worker.awake = False
                if worker.ready:
                    worker.ring()

    def mailbox(
        self,
        handler: Callable[[Any], None],
        on_crash: Callable[[Any, BaseException], None] | None = None,
        on_drop: Callable[[Any], None] | None = None,
    ) -> Mailbox:
        """A mailbox for plain functions, pinned to the next worker (round robin)."""
        return self.mailbox_for(_Callbacks(handler, on_crash, on_drop))

    def mailbox_for(self, target: MailboxTarget, clock: Clock = REAL_CLOCK) -> Mailbox:
        """A mailbox delivering to ``target`` (an actor), pinned to the next worker; on a
        virtual clock its messages count busy until handled."""
        with self._lock:
            if not self._workers:
                raise RuntimeError("Dispatcher is not acquired")
            worker = self._workers[next(self._next) % len(self._workers)]
        if clock.virtual:
            return TrackedMailbox(target, worker, clock)
        return Mailbox(target, worker)
