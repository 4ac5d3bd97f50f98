"""One agent's mailbox: an urgent and a normal lane, drained in order by one worker.

A post appends and, if the mailbox is not already scheduled, puts it on its worker's ready
queue: a dispatcher worker thread for a sync agent, its loop's driver for an async one.
Control messages (Start, Stop) use the urgent lane, drained first, so a Stop overtakes ticks
already queued (plain pykka queues a stop behind the whole inbox, pykka #46). On a virtual
clock each queued message is a busy unit until handled.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from actors._clock import Clock

__all__ = ["BATCH", "Mailbox", "MailboxTarget", "MailboxWorker", "ReadyQueue", "TrackedMailbox", "callbacks"]

log = logging.getLogger("actors")


class MailboxTarget(Protocol):
    """What a mailbox delivers to: the actor's three entry points."""

    def handle(self, message: Any) -> None:
        """Handle one message (never concurrently for one mailbox)."""

    def crashed(self, message: Any, error: BaseException) -> None:
        """``handle`` raised ``error``: a bug in the actor, for supervision."""

    def dropped(self, message: Any) -> None:
        """``message`` will never be handled (the mailbox closed): answer any asker."""


class MailboxWorker(Protocol):
    """What serves mailboxes: a dispatcher worker thread, or an event loop's driver."""

    def schedule(self, mailbox: Mailbox, lazy: bool = False) -> bool:
        """Queue ``mailbox`` (it has work) to be drained; False if the worker is gone.

        ``lazy``: the work is a report (a run finished) that may wait for the worker's next
        wake-up if that comes within a couple of milliseconds anyway."""

    def nudge(self) -> None:
        """Wake the worker if a lazy schedule left it asleep (a request arrived behind it)."""


class ReadyQueue:
    """The mailboxes with work waiting for one worker, and whether that worker is awake.

    The protocol both kinds of worker follow (a dispatcher thread, a loop's driver): a poster
    appends to ``ready`` *before* it reads ``awake``, and the worker clears ``awake`` *before*
    its last look at ``ready``, so no mailbox is ever left waiting for a worker that sleeps.
    """

    __slots__ = ("ready", "awake")

    def __init__(self) -> None:
        self.ready: deque[Mailbox] = deque()
        self.awake = False

    def serve_ready(self, after_each_round: Callable[[], None] | None = None) -> None:
        """Drain ready mailbox after mailbox (``BATCH`` messages per turn, for fairness) until
        none is left; ``after_each_round`` runs before the worker may go to sleep."""
        ready = self.ready
        while True:
            while ready:
                mailbox = ready.popleft()
                if mailbox.drain(BATCH):
                    ready.append(mailbox)
            if after_each_round is not None:
                after_each_round()
            self.awake = False
            if not ready:
                return
            self.awake = True


# Messages a mailbox may handle before the next mailbox gets a turn.
BATCH = 64


class Mailbox:
    """One agent's inbox: urgent and normal lanes, drained in order by its one worker.

    It holds its actor rather than three bound methods: at 10,000 agents every long-lived
    object per agent is one more for each full GC pass to scan (27 -> 39 objects per agent
    made the spread-start p99 at 10,000 agents jump from ~30 ms to ~450 ms on GC pauses).
    """

    __slots__ = ("_target", "_urgent", "_normal", "_worker", "_closed", "_scheduled")

    def __init__(self, target: MailboxTarget, worker: MailboxWorker) -> None:
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

    def report(self, message: Any) -> bool:
        """`post` for a run's own report (a finished attempt or callback): the worker may take
        it at its next wake-up when that is imminent, instead of being woken for it."""
        return Mailbox.post(self, message, False, True)

    def post(self, message: Any, urgent: bool = False, lazy: bool = False) -> bool:
        """Queue ``message`` from any thread; return False (dropped) if the mailbox is closed.

        ``lazy`` is for `report`. (One function, not a post calling a shared helper: a tell is
        a few µs and each call on its path ~0.3 µs of it.)"""
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
            if not self._worker.schedule(self, lazy):
                self._closed = True
                return False
        elif not lazy:
            self._worker.nudge()  # scheduled by a lazy report: this one must not wait for it
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
                try:
                    target.crashed(message, exc)
                except BaseException:  # noqa: BLE001 - last resort: never lose the worker
                    log.exception("crash handling of %r failed", message)
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
        except BaseException as exc:  # noqa: BLE001 - supervision is part of the unit
            # Handled here, inside the unit, so that advance() also waits for the restart (or
            # the death) a crash causes.
            try:
                self._target.crashed(message, exc)
            except BaseException:  # noqa: BLE001 - as Mailbox.drain: never lose the worker
                log.exception("crash handling of %r failed", message)
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

    def __init__(self, target: MailboxTarget, worker: MailboxWorker, clock: Clock) -> None:
        super().__init__(_Tracked(target, clock), worker)
        self._clock = clock

    def post(self, message: Any, urgent: bool = False, lazy: bool = False) -> bool:
        """Queue ``message`` as one busy unit until it is handled or dropped (never lazily:
        on a virtual clock nothing waits for a real-time wake-up)."""
        self._clock.enter()
        if Mailbox.post(self, message, urgent):
            return True
        self._clock.exit()
        return False

    def report(self, message: Any) -> bool:
        """As `post`."""
        return self.post(message)

    __call__ = post


def callbacks(handler: Callable[[Any], None], on_crash: Callable[[Any, BaseException], None] | None = None,
              on_drop: Callable[[Any], None] | None = None) -> MailboxTarget:
    """A target made of plain functions (for tests and tools)."""
    return _Callbacks(handler, on_crash, on_drop)
