"""The pykka worker actors that serve sync agents' mailboxes and keep their timers.

One pykka ThreadingActor per agent costs a thread each: on this 2-core machine 10,000 of them
take 15 s to spawn, +213 MB, and 44 s to stop. A `Mailbox` is instead two deques and a
flag; a sync agent's is pinned to one of two workers, so its messages are handled one at a
time and in order (the actor's state needs no lock) while different agents interleave on the
workers. (An async agent's mailbox is served by its loop's driver instead.)

Each worker's pykka inbox is a `TimedInbox`: the sync agents' ticks, backoff waits and
deadlines are timers there, so a due tick is handled on the same worker and handed to the
pool: one crossing. Scheduling follows the dispatcher model of mature actor runtimes: a post
appends to the mailbox and, if the mailbox is not already scheduled, puts it on its worker's
ready queue (`ReadyQueue`); the inbox only carries a doorbell, rung when the worker may be
asleep. A worker drains up to ``BATCH`` messages per mailbox turn, so a burst costs a few
doorbells instead of one per message. Control messages (Start, Stop) use an urgent lane
drained first, so a Stop overtakes ticks already queued (plain pykka queues a stop behind
the whole inbox, pykka #46). Workers never run agent code, so a handler takes microseconds.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pykka

from bridge.shared import ProcessWide, RefCounted

from actors._clock import REAL_CLOCK, Clock
from actors._mailbox import Mailbox, MailboxTarget, MailboxWorker, ReadyQueue, TrackedMailbox, callbacks
from actors._loop_driver import begin_loop_call_batching, flush_loop_calls
from actors._timed_inbox import TIMERS_DUE, Envelope, TimedInbox

if TYPE_CHECKING:
    from pykka._actor import ActorInbox

__all__ = ["Dispatcher", "Mailbox", "mailbox_on"]

log = logging.getLogger("actors")


class _WorkerQueue(ReadyQueue):
    """The ready queue of one pykka worker: mailboxes with work, and a doorbell.

    The pykka inbox only carries doorbells, rung when the worker may be asleep, so a burst of
    10,000 ticks costs a handful of ``Queue.put``\\ s instead of 10,000 (each a lock and a
    condition notify that another thread contends for).
    """

    __slots__ = ("ref", "thread", "timers")

    def __init__(self) -> None:
        super().__init__()
        self.ref: pykka.ActorRef[Any] | None = None
        self.thread: threading.Thread | None = None
        self.timers: TimedInbox = _UNSTARTED  # the worker's inbox, set when its actor is made

    def schedule(self, mailbox: Mailbox, lazy: bool = False) -> bool:
        """Queue a mailbox with work; False if the worker is gone.

        Unless the worker is awake, ring its doorbell: one prebuilt envelope put straight into
        its own inbox (a pykka ``tell`` would check the actor and build an envelope each time).
        A ``lazy`` schedule (a run's report) rings no doorbell when a timer wakes the worker
        within `LAZY_WAKE_S` anyway: under load that is one thread wake-up fewer per sync run,
        and the report waits at most that long (a request behind it nudges the worker at once).
        `ring` is this without the mailbox and the laziness; it is not called from here because
        with the worker asleep this is every tell's path, and a call ~0.3 µs of it.
        """
        self.ready.append(mailbox)  # published before the awake check: see Mailbox.drain
        if self.awake:
            return True
        timers = self.timers
        if self.ref is None or timers.closed:
            return False
        if lazy and timers.wakes_within(LAZY_WAKE_S):
            return True
        self.awake = True
        timers.queue.put(_DOORBELL_ENVELOPE)  # C only: no Python frame between here and the futex
        return True

    def ring(self) -> bool:
        """Ring the doorbell unless the worker is awake; False if the worker is gone."""
        if self.awake:
            return True
        timers = self.timers
        if self.ref is None or timers.closed:
            return False
        self.awake = True
        timers.queue.put(_DOORBELL_ENVELOPE)
        return True

    def nudge(self) -> None:
        """Ring the doorbell if the worker sleeps (a lazy report may have left it asleep)."""
        if not self.awake:
            self.ring()


_UNSTARTED = TimedInbox()
_UNSTARTED.close()


class _Doorbell:
    __slots__ = ()


_DOORBELL = _Doorbell()
_DOORBELL_ENVELOPE: Envelope[Any] = Envelope(_DOORBELL)
# A run's report may wait this long for a wake-up its worker has coming anyway (a timer).
# 2 ms is a tenth of the benchmarks' 20 ms interval, and with 1,000 sync agents at 1 s each of
# the two workers almost always has a timer that close: one wake-up fewer per run (sync CPU
# per run 142-151 -> 130-132 us, python -m benchmarks.cpu).
LAZY_WAKE_S = 0.002


class _Worker(pykka.ThreadingActor):
    use_daemon_thread = True  # a program that forgets to stop still exits

    @staticmethod
    def _create_actor_inbox() -> ActorInbox:
        return TimedInbox()  # the timers of the sync agents this worker serves

    def __init__(self, queue: _WorkerQueue) -> None:
        super().__init__()
        self.queue = queue
        inbox = self.actor_inbox
        assert isinstance(inbox, TimedInbox)
        queue.timers = inbox

    def on_start(self) -> None:
        self.queue.thread = threading.current_thread()
        begin_loop_call_batching()

    def _actor_loop_running(self) -> None:
        """pykka's receive loop, with the worker's own two messages taken first.

        Per envelope pykka checks ``actor_stopped`` and tests the message against its four
        control types before ``on_receive``: three Python calls, ~1 µs of a ~10 µs tell with
        the worker just woken and its caches cold (``benchmarks/messages.py``). Anything else
        (pykka's stop) takes pykka's own path, one envelope at a time. (The override is of
        pykka's private loop, like the inbox hook; pykka is pinned below 5.)
        """
        queue, get = self.queue, self.actor_inbox.get
        while True:
            envelope = get()
            message = envelope.message
            if message is _DOORBELL or message is TIMERS_DUE:
                try:
                    if message is TIMERS_DUE:
                        # Timers post to mailboxes of this worker: drain them in this same
                        # turn rather than ringing our own doorbell (one envelope per tick).
                        queue.awake = True
                        queue.timers.run_due()
                    # Each round's buffered loop calls go out before the worker may sleep.
                    queue.serve_ready(flush_loop_calls)
                except Exception:  # noqa: BLE001 - a bug here must not stop every sync agent
                    log.exception("dispatcher worker failed serving its mailboxes")
                    queue.awake = False  # else no post would ever ring it again
                    if queue.ready:
                        queue.ring()
                continue
            self._receive(envelope)
            if self.actor_stopped.is_set():
                return

    def _receive(self, envelope: Envelope[Any]) -> None:
        """One of pykka's own envelopes (its stop), as pykka's loop handles it."""
        try:
            response = self._handle_receive(envelope.message)
        except Exception:  # noqa: BLE001 - as pykka: the asker gets it, else it is logged
            if envelope.reply_to is None:
                log.exception("dispatcher worker: %r failed", envelope.message)
            else:
                envelope.reply_to.set_exception()
        else:
            if envelope.reply_to is not None:
                envelope.reply_to.set(response)

    def on_receive(self, message: Any) -> None:
        raise TypeError(f"a dispatcher worker got an unknown message {message!r}")

    def on_stop(self) -> None:
        self.queue.timers.close()  # before pykka drains the inbox: no timer is due any more


class Dispatcher(ProcessWide, RefCounted):
    """A reference-counted set of pykka worker actors that mailboxes are pinned to."""


    def __init__(self, workers: int = 2) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers!r}")
        self._size = workers
        self._lock = threading.Lock()
        self._workers: list[_WorkerQueue] = []
        self._next = itertools.count()


    @property
    def workers(self) -> list[pykka.ActorRef[Any]]:
        """The live worker refs (empty while no one holds a reference)."""
        return [w.ref for w in self._workers if w.ref is not None]

    def acquire(self) -> None:
        """Take a reference, starting the workers if needed."""
        with self._lock:
            self._add_refs()
            if not self._workers:
                workers = [_WorkerQueue() for _ in range(self._size)]
                for worker in workers:
                    worker.ref = _Worker.start(worker)
                self._workers = workers

    def release(self, timeout: float = 5.0, count: int = 1) -> None:
        """Drop ``count`` references; the last one stops the workers and joins their threads."""
        with self._lock:
            if not self._drop_refs(count):
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
        return self.mailbox_for(callbacks(handler, on_crash, on_drop))[0]

    def mailbox_for(self, target: MailboxTarget, clock: Clock = REAL_CLOCK) -> tuple[Mailbox, TimedInbox]:
        """A mailbox delivering to ``target`` (an actor), pinned to the next worker, and that
        worker's timers (the target's timers must fire where its mailbox is drained); on a
        virtual clock its messages count busy until handled."""
        with self._lock:
            if not self._workers:
                raise RuntimeError("Dispatcher is not acquired")
            worker = self._workers[next(self._next) % len(self._workers)]
        return mailbox_on(worker, target, clock), worker.timers


def mailbox_on(worker: MailboxWorker, target: MailboxTarget, clock: Clock = REAL_CLOCK) -> Mailbox:
    """A mailbox delivering to ``target``, served by ``worker``; on a virtual clock its
    messages count busy until handled."""
    if clock.virtual:
        return TrackedMailbox(target, worker, clock)
    return Mailbox(target, worker)
