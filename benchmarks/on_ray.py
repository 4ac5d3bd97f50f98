"""Ray: how many runs a second one process, one Ray host and two Ray hosts sustain; 10,000
agents over two hosts; the time from ``kill -9`` of a host to its agents' next run.

Each function runs in a child process that :func:`benchmarks.common.run_child` starts inside
a network namespace with nothing but loopback (``netns=True``), so Ray binds 127.0.0.1 and no
packet leaves the machine; the child starts one local cluster (2 CPUs) for all its points.

- capacity: for each rate R in ``rates`` (ascending, then two halvings of the gap between the
  last rate sustained and the first one not), R no-op agents, half sync and half async,
  told ``Start("1s", jitter=0.9)`` (one schedule, the load spread over the second); after
  ``warm`` s, every run that began in the next ``window`` s is read from the agents' history:
  runs per second, and p99 of the lateness each entry records (its jittered due time ->
  the execution's start, on the host). A rate is sustained when p99 <= 20 ms and at least 95 %
  of the expected runs happened. The same
  procedure for a plain ``ActorSystem`` in the child (``kind="process"``), one Ray host and two.
- spread: 10,000 agents at 1 s over two hosts, as above: spawn (``pool``) and start time, p99,
  each host's RSS (its /proc/self/statm), shutdown.
- recovery: 200 sync no-op agents at 0.2 s on two hosts; ``kill -9`` of host 0's process, then
  for each of its agents the time from the kill to the start of its first successful run after
  it (median, max), ``kills`` times.

Run one: ``python -m benchmarks.child on_ray:capacity '{"kind": "ray2", "rates": [2000]}'``
(as root inside ``unshare --net``: the full suite does that itself).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from typing import Any

from benchmarks.common import Result, summarize

P99_LIMIT_MS = 20.0
_JITTER = 0.9


def noop(task: str) -> None:
    return None


async def anoop(task: str) -> None:
    return None


def _cluster() -> Any:
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False,
                 _node_ip_address="127.0.0.1")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # hosts need not import benchmarks
    return ray


def _system(kind: str) -> Any:
    if kind == "process":
        from actors import ActorSystem

        return ActorSystem()
    _cluster()
    from actors.ray import RaySystem

    return RaySystem(hosts={"ray1": 1, "ray2": 2}[kind])


def _histories(system: Any, refs: list[Any]) -> list[list[dict[str, Any]]]:
    from actors import GetHistory

    if hasattr(system, "ask_all"):
        return [h for h in system.ask_all(GetHistory(30), timeout=60).values() if isinstance(h, list)]
    return [ref.history(30) for ref in refs]


def _point(kind: str, rate: int, warm: float, window: float) -> Result:
    from actors import Start

    system = _system(kind)
    try:
        t0 = time.perf_counter()
        pool = system.pool([noop if i % 2 == 0 else anoop for i in range(rate)], task="t")
        spawn_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        pool.tell(Start("1s", jitter=_JITTER))
        start_s = time.perf_counter() - t0
        time.sleep(warm)
        begin = time.time()
        time.sleep(window)
        end = time.time()
        late = [e["lateness_ms"] / 1000.0 for h in _histories(system, list(pool)) for e in h
                if e["lateness_ms"] is not None and begin <= e["started_at"] < end]
        hosts = system.host_resources() if hasattr(system, "host_resources") else []
    except BaseException:
        system.shutdown(10.0)
        raise
    t0 = time.perf_counter()
    system.shutdown(10.0)
    shutdown_s = time.perf_counter() - t0
    lateness = summarize(late)
    runs_per_s = len(late) / window
    ok = lateness["p99_ms"] is not None and lateness["p99_ms"] <= P99_LIMIT_MS and runs_per_s >= 0.95 * rate
    return {"rate": rate, "runs_per_s": runs_per_s, "lateness": lateness, "sustained": ok, "spawn_s": spawn_s,
            "start_s": start_s, "shutdown_s": shutdown_s, "hosts": hosts}


def capacity(kind: str, rates: list[int], warm: float = 3.0, window: float = 4.0, refine: int = 2) -> Result:
    """The points of one kind (``process``, ``ray1``, ``ray2``): ``rates`` up to the first not
    sustained, then ``refine`` halvings of the gap between the last sustained and that one."""
    points = []
    for rate in rates:
        points.append(_point(kind, rate, warm, window))
        if not points[-1]["sustained"]:
            break
    good = max((p["rate"] for p in points if p["sustained"]), default=0)
    bad = min((p["rate"] for p in points if not p["sustained"]), default=None)
    for _ in range(refine if bad is not None and good else 0):
        middle = (good + bad) // 2
        points.append(_point(kind, middle, warm, window))
        good, bad = (middle, bad) if points[-1]["sustained"] else (good, middle)
    best = max((p["runs_per_s"] for p in points if p["sustained"]), default=0.0)
    return {"kind": kind, "points": sorted(points, key=lambda p: p["rate"]), "sustained_runs_per_s": best}


def spread(agents: int = 10000, hosts: int = 2, warm: float = 3.0, window: float = 5.0) -> Result:
    """``agents`` at 1 s with jitter over ``hosts`` Ray hosts (see the module docstring)."""
    point = _point({1: "ray1", 2: "ray2"}[hosts], agents, warm, window)
    return {"agents": agents, "hosts_n": hosts, **point}


def recovery(kills: int = 3, agents: int = 200, interval: float = 0.2) -> Result:
    """Kill host 0 ``kills`` times; per kill, each of its agents' time to its next successful run."""
    ray = _cluster()
    from actors import GetHistory, Start
    from actors.ray import RaySystem

    system = RaySystem(hosts=2)
    delays: list[float] = []
    lost = 0
    try:
        pool = system.pool([noop] * agents, task="t")
        mine = [ref.name for ref in pool if system.host_of(ref.name) == 0]
        pool.tell(Start(f"{interval}s"))
        time.sleep(2.0)
        host = system._hosts[0]
        for _ in range(kills):
            life, pid = ray.get(host.ping.remote())
            killed = time.time()
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if ray.get(host.ping.remote(), timeout=30)[0] > life:
                        break
                except ray.exceptions.ActorUnavailableError:
                    time.sleep(0.05)
            time.sleep(2.0)  # its agents' next runs
            histories = system.ask_all(GetHistory(100), timeout=60)
            for name in mine:
                after = [e["started_at"] for e in histories.get(name) or []
                         if isinstance(e, dict) and e["outcome"] == "succeeded" and e["started_at"] > killed]
                if after:
                    delays.append(min(after) - killed)
                else:
                    lost += 1
    except BaseException:
        system.shutdown(10.0)
        raise
    final = system.shutdown(10.0)
    restarts = [final[name]["restarts"] for name in mine if name in final]
    return {"kills": kills, "agents_on_host": len(mine), "interval_s": interval, "lateness": summarize(delays),
            "never_ran_again": lost, "restarts_min": min(restarts, default=0)}


if __name__ == "__main__":
    print(asyncio.run(asyncio.to_thread(capacity, "ray2", [2000])))
