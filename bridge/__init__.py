"""Sync <-> async plumbing for actorsched; knows nothing of agents.

- [`CancelToken`][bridge.CancelToken]: one cancellation protocol that threads wait on and
  loops await.
- `Channel`: janus-backed, ordered hand-off from threads to one event loop.
- `LoopThread`: a shared, reference-counted background loop for async work from sync code.
- `ThreadPool`: daemon threads for blocking calls that may have to be abandoned.
- [`safe_call`][bridge.safe_call.safe_call] / [`asafe_call`][actors.asafe_call]: call
  sync-or-async user callbacks without raising; `run_to_completion` runs an awaitable from
  sync code (a sync agent that returned a coroutine).

Only `CancelToken`, `safe_call` and `asafe_call` are public (re-exported from `actors`); the
rest is the runtime's plumbing.
"""

from bridge.cancel import CancelToken
from bridge.channel import Channel, ChannelClosed
from bridge.loop_thread import LoopThread
from bridge.safe_call import asafe_call, run_to_completion, safe_call
from bridge.threads import ThreadPool

__all__ = ["CancelToken", "Channel", "ChannelClosed", "LoopThread", "ThreadPool", "asafe_call", "run_to_completion",
           "safe_call"]
