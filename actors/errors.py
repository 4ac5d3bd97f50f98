"""Exceptions of the public API."""

from __future__ import annotations

__all__ = ["AgentDeadError", "ArgumentTypeError"]


class AgentDeadError(RuntimeError):
    """An ask to an agent that is dead: its system was shut down, or supervision gave up on it.

    Raised at once by [`AgentRef.ask`][actors.AgentRef.ask] and its variants, and by a pending
    ask whose agent dies before answering. A [`tell`][actors.AgentRef.tell] to a dead agent
    never raises: it is counted in [`ActorSystem.dead_letters`][actors.ActorSystem.dead_letters].
    """


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type (``parse_schedule(None)``, ``max_retries=0.5``).

    Both a ``TypeError`` and a ``ValueError``: the API promises ``ValueError`` for a bad
    schedule or ``max_retries``, and Python convention says ``TypeError`` for a wrong type, so
    either ``except`` clause catches it.
    """
