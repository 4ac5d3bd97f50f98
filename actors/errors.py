"""Exceptions of the public API."""

from __future__ import annotations

__all__ = ["AgentDeadError", "ArgumentTypeError"]


class AgentDeadError(RuntimeError):
    """An ask to an agent that is dead: its system was shut down, or supervision gave up on it."""


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type (``parse_schedule(None)``, ``max_retries=0.5``).

    Both a ``TypeError`` and a ``ValueError``: the contract promises ``ValueError`` for a bad
    schedule or ``max_retries``, and Python convention says ``TypeError`` for a wrong type, so
    either ``except`` clause catches it.
    """
