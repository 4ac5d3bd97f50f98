"""Dead letters: messages told to agents that are dead, counted per system and logged; and the
log line a system writes when supervision gives up on one of its agents."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from actors.events import DeadLetter

if TYPE_CHECKING:
    from actors._event_bus import EventBus
    from actors.agent_actor import AgentActor

__all__ = ["DEATH_LOG", "DeadLetters"]

log = logging.getLogger("actors")


class DeadLetters:
    """The dead-letter count of one system: messages told to agents that are dead."""

    __slots__ = ("_lock", "_count", "_events")

    def __init__(self, events: EventBus | None = None) -> None:
        """``events``: the system's bus, told of each dead letter."""
        self._lock = threading.Lock()
        self._count = 0
        self._events = events

    @property
    def count(self) -> int:
        """Dead letters so far."""
        return self._count

    def record(self, name: str, message: Any) -> None:
        """Count and log one message to the dead agent ``name``."""
        with self._lock:
            self._count += 1
        log.warning("dead letter: %r to dead agent %r", message, name)
        bus = self._events
        if bus is not None and bus.active:
            bus.emit(DeadLetter(name, bus.now(), repr(message)))


class _DeathLog:
    """What a system's bindings tell when supervision gives up on an agent."""

    __slots__ = ()

    def agent_died(self, actor: AgentActor) -> None:
        log.error("agent %s is dead (supervision gave up); last error: %s", actor.name, actor.stats.last_error)


#: A system's death listener: one object for all of its bindings.
DEATH_LOG = _DeathLog()
