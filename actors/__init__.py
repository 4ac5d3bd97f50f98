"""actorsched: run AI agents (or any callable) on schedules, each behind its own actor mailbox.

The public API is every name in ``__all__``, documented in the API reference (docs/api.md)::

    from actors import (AgentScheduler, AsyncAgentScheduler, ActorSystem, AgentRef, AgentPool,
                        Start, Stop, RunNow, GetStats, Pause, Resume, GetHistory, Overlap,
                        CatchUp, parse_schedule, IntervalSchedule, CronSchedule, AtSchedule,
                        DelaySchedule, backoff_delay, RetryPolicy, safe_call, asafe_call,
                        CancelToken, AgentDeadError, ArgumentTypeError)
    from actors.testing import VirtualClock      # virtual time for tests of schedules
"""

import logging

from actors.backoff import RetryPolicy, backoff_delay
from actors.errors import AgentDeadError, ArgumentTypeError
from actors.messages import GetHistory, GetStats, Pause, Resume, RunNow, Start, Stop
from actors.options import CatchUp, Overlap
from actors.ref import AgentPool, AgentRef
from actors.schedule import AtSchedule, CronSchedule, DelaySchedule, IntervalSchedule, parse_schedule
from actors.scheduler import AgentScheduler, AsyncAgentScheduler
from actors.system import ActorSystem
from bridge import CancelToken, asafe_call, safe_call

logging.getLogger("actors").addHandler(logging.NullHandler())

__all__ = [
    "ActorSystem",
    "AgentDeadError",
    "AgentPool",
    "AgentRef",
    "AgentScheduler",
    "ArgumentTypeError",
    "AsyncAgentScheduler",
    "AtSchedule",
    "CancelToken",
    "CatchUp",
    "CronSchedule",
    "DelaySchedule",
    "GetHistory",
    "GetStats",
    "IntervalSchedule",
    "Overlap",
    "Pause",
    "Resume",
    "RetryPolicy",
    "RunNow",
    "Start",
    "Stop",
    "asafe_call",
    "backoff_delay",
    "parse_schedule",
    "safe_call",
]
__version__ = "0.1.0"
