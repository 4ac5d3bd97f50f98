"""Dead letters: messages told to agents that are dead, counted per system and logged."""

from __future__ import annotations

import logging
import threading
from typing import Any

__all__ = ["DeadLetters"]

log = logging.getLogger("actors")


class DeadLetters:
    """The dead-letter count of one system: messages told to agents that are dead."""

    __slots__ = ("_lock", "_count")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    @property
    def count(self) -> int:
        """Dead letters so far."""
        return self._count

    def record(self, name: str, message: Any) -> None:
        """Count and log one message to the dead agent ``name``."""
        with self._lock:
            self._count += 1
        log.warning("dead letter: %r to dead agent %r", message, name)
