"""Public messages into the agent actor's internal ones (`actors._protocol`), in one place for
`AgentRef` and both schedulers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actors._actor_state import ActorState
from actors._protocol import HistoryMsg, PauseMsg, ResumeMsg, RunNowMsg, StatsMsg, StopMsg
from actors.messages import GetHistory, GetStats, Pause, Resume, RunNow, Start, Stop

__all__ = ["MESSAGE_TYPES", "SHARED", "Message", "check_message", "translate"]

Message = Start | Stop | RunNow | GetStats | Pause | Resume | GetHistory
MESSAGE_TYPES = (Start, Stop, RunNow, GetStats, Pause, Resume, GetHistory)
_NAMES = ", ".join(kind.__name__ for kind in MESSAGE_TYPES)


def check_message(message: object) -> None:
    """Raise ``TypeError`` unless ``message`` is one of the public messages."""
    if not isinstance(message, MESSAGE_TYPES):
        raise TypeError(f"not an actorsched message ({_NAMES}): {message!r}")


def translate(actor: ActorState, message: Message, reply: Callable[[Any], None] | None) -> tuple[Any, bool]:
    """Translate a public message for ``actor``; return (internal message, urgent).

    Start, Stop, Pause and Resume take the urgent lane: they overtake queued ticks. A ``Start``
    of a time already past raises ``ValueError`` here, in the caller.
    """
    if reply is None:
        # A tell of a message without fields shares one internal message: nothing to build.
        # On the tell path every Python call counts (~0.3 µs each on a cold cache, with the
        # sender just woken from a wait: benchmarks/messages.py).
        shared = SHARED.get(type(message))
        if shared is not None:
            return shared
    if isinstance(message, Start):
        return actor.start_message(message, reply), True
    if isinstance(message, Stop):
        return StopMsg(None, reply), True
    if isinstance(message, RunNow):
        return RunNowMsg(reply), False
    if isinstance(message, GetStats):
        return StatsMsg(reply if reply is not None else _ignore), False
    if isinstance(message, Pause):
        return PauseMsg(message.reason, reply), True
    if isinstance(message, Resume):
        return ResumeMsg(reply), True
    if isinstance(message, GetHistory):
        return HistoryMsg(message.limit, reply if reply is not None else _ignore), False
    check_message(message)
    raise AssertionError  # pragma: no cover: check_message raised


def _ignore(_: Any) -> None:
    return None


#: The internal message of each public message without fields, told without a reply. The
#: actor never mutates a message nor tells two apart by identity: one instance serves every tell.
SHARED: dict[type, tuple[Any, bool]] = {
    RunNow: (RunNowMsg(None), False),
    Resume: (ResumeMsg(None), True),
    GetStats: (StatsMsg(_ignore), False),
}
