"""Exceptions of the public API."""

from __future__ import annotations

from bridge.errors import ArgumentTypeError  # defined in bridge, which both layers share

__all__ = ["AgentDeadError", "ArgumentTypeError"]


class AgentDeadError(RuntimeError):
    """An ask to an agent that is dead: its system was shut down, or supervision gave up on it.

    Raised at once by [`AgentRef.ask`][actors.AgentRef.ask] and its variants, and by a pending
    ask whose agent dies before answering. A [`tell`][actors.AgentRef.tell] to a dead agent
    never raises: it is counted in [`ActorSystem.dead_letters`][actors.ActorSystem.dead_letters].
    """
