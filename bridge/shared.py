"""ProcessWide: a mixin for the runtime's reference-counted singletons (loop thread, thread
pool, dispatcher): one instance per class per process, created on first use."""

from __future__ import annotations

import threading
from typing import Any, ClassVar, Self

__all__ = ["ProcessWide"]


class ProcessWide:
    """Gives a class ``shared()``: its process-wide instance, built with no arguments."""

    _instances: ClassVar[dict[type, Any]] = {}
    _instances_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def shared(cls) -> Self:
        """The process-wide instance of this class (created at the first call)."""
        with ProcessWide._instances_lock:
            instance = ProcessWide._instances.get(cls)
            if instance is None:
                instance = ProcessWide._instances[cls] = cls()
            return instance
