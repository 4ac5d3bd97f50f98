"""actorsched: run AI agents (or any callable) on schedules, each behind its own actor mailbox.

The public API is every name in ``__all__``, documented in the API reference (docs/api.md)::

    from actors import (AgentScheduler, AsyncAgentScheduler, ActorSystem, AgentRef, AgentPool,
                        Start, Stop, RunNow, GetStats, parse_schedule, IntervalSchedule,
                        CronSchedule, backoff_delay, RetryPolicy, safe_call, asafe_call,
                        CancelToken, AgentDeadError, ArgumentTypeError)
    from actors.testing import VirtualClock      # virtual time for tests of schedules
"""

import logging

from actors.backoff import RetryPolicy, backoff_delay
from actors.errors import AgentDeadError, ArgumentTypeError
from actors.messages import GetStats, RunNow, Start, Stop
from actors.ref import AgentPool, AgentRef
from actors.schedule import CronSchedule, IntervalSchedule, parse_schedule
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
    "CancelToken",
    "CronSchedule",
    "GetStats",
    "IntervalSchedule",
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
