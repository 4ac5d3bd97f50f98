"""Agents across machines: the `ActorSystem` API on a Ray cluster (extra ``actorsched[ray]``).

```python
from actors.ray import RaySystem
system = RaySystem()                      # joins this process's Ray, or starts a local cluster
ref = system.spawn(agent, task="...", name="news")   # the agent must pickle (cloudpickle)
ref.tell(Start("every 10s")); ref.ask(GetStats())
system.shutdown()                          # -> {name: final stats}
```

Ray places, carries and restarts; the scheduling stays this library's: each host actor runs a
local runtime for many agents. See the "Running on Ray" page of the docs.
"""

from __future__ import annotations

try:
    import ray as _ray  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError("actors.ray needs Ray: pip install '.[ray]' in a clone of actorsched (the ray extra)") from exc

from actors.ray._ref import RayAgentPool, RayAgentRef
from actors.ray._system import RaySystem

__all__ = ["RayAgentPool", "RayAgentRef", "RaySystem"]
