"""The runtime's shared resources: `RefCounted` (taken up by the first reference, given back
by the last, over-release a loud bug) and `ProcessWide` (one instance per class per process,
created on first use: the loop thread, the thread pool, the dispatcher)."""

from __future__ import annotations

import threading
from typing import Any, ClassVar, Self

__all__ = ["ProcessWide", "RefCounted"]


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


class RefCounted:
    """A reference count for a shared resource; call its methods under the resource's lock.

    Releasing more references than were taken raises ``RuntimeError``: a silent floor at zero
    used to hide a double release, which then stopped the resource under another holder.
    """

    _refs: int = 0

    @property
    def references(self) -> int:
        """References held now."""
        return self._refs

    def _add_refs(self, count: int = 1) -> bool:
        """Take ``count`` references; True if they are the first (the resource must start)."""
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count!r}")
        first = self._refs == 0
        self._refs += count
        return first

    def _drop_refs(self, count: int = 1) -> bool:
        """Give back ``count`` references; True if none is left (the resource must stop)."""
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count!r}")
        if count > self._refs:
            raise RuntimeError(f"{type(self).__name__}: released {count} reference(s) with only {self._refs} held")
        self._refs -= count
        return self._refs == 0
