"""Exceptions of the public API."""

from __future__ import annotations

__all__ = ["AgentDeadError"]


class AgentDeadError(RuntimeError):
    """An ask to an agent that is dead: its system was shut down, or supervision gave up on it."""
