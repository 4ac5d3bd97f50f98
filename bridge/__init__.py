"""Sync <-> async plumbing for actorsched; knows nothing of agents.

- :class:`CancelToken`: one cancellation protocol that threads wait on and loops await.
- :class:`Channel`: janus-backed, ordered hand-off from threads to one event loop.
- :class:`LoopThread`: a shared, reference-counted background loop for async work from sync code.
- :class:`ThreadPool`: daemon threads for blocking calls that may have to be abandoned.
- :func:`safe_call` / :func:`asafe_call`: call sync-or-async user callbacks without raising.
"""

from bridge.cancel import CancelToken
from bridge.channel import Channel, ChannelClosed
from bridge.loop_thread import LoopThread
from bridge.safe_call import asafe_call, safe_call
from bridge.threads import ThreadPool

__all__ = ["CancelToken", "Channel", "ChannelClosed", "LoopThread", "ThreadPool", "asafe_call", "safe_call"]
