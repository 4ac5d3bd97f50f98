"""RaySystem: the `ActorSystem` API with agents spread over Ray host actors.

The driver validates everything a plain system validates (the agent, its callbacks, its
config, the name) before anything crosses to Ray, pickles the agent with cloudpickle (an
unpicklable one is a ``TypeError`` at ``spawn`` naming it), and places it on host
``crc32(name) % hosts``: a fixed place, so the driver needs no lookup table that could go
stale, and a restarted host knows its agents from the registry. Messages are the public
dataclasses, pickled as they are. A tell is one Ray actor call that nobody waits for; an ask
is one call whose answer ``ray.get`` (or, on a loop, the awaited object ref) returns
(`actors.ray._ref`).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import ray
from ray import cloudpickle  # Ray's own: what its workers unpickle with

from actors._translate import Message, check_message
from actors._validate import check_int, check_optional_seconds, check_seconds, shown
from actors.agent import check_callbacks, claim_name, pool_members, resolve_agent
from actors.config import SchedulerConfig
from actors.errors import AgentDeadError, ArgumentTypeError
from actors.store import HISTORY_IN_STORE
from actors.ray._host import Host
from actors.ray._ref import RAY_SLACK_S, RayAgentPool, RayAgentRef
from actors.ray._registry import Registry

__all__ = ["RaySystem"]

log = logging.getLogger("actors")
# Threads per host for the driver's calls: an ask that waits (a Stop waiting for a run) holds one.
_HOST_CONCURRENCY = 64


class RaySystem:
    """The [`ActorSystem`][actors.ActorSystem] API with agents on a Ray cluster.

    ``address``: the cluster to join (``"auto"``, ``"ray://..."``); None: join the one this
    process already initialised, else start a local one (and stop it again at ``shutdown``).
    ``hosts``: how many host actors (default: the cluster's CPUs); an agent lives on host
    ``crc32(name) % hosts``. ``store``: a store URL every host can open (a SQLite path on one
    machine, PostgreSQL across machines); None: the driver's registry keeps the schedules, so
    a host Ray restarts takes its agents up, though nothing outlives the driver.
    ``config``: the system keys of `ActorSystem` (``max_restarts``, ``restart_window``).
    ``host_restarts``: Ray's ``max_restarts`` of each host (-1: without limit).
    """

    def __init__(self, address: str | None = None, hosts: int | None = None, store: str | None = None,
                 config: Mapping[str, Any] | None = None, *, lease_seconds: float = 10.0,
                 host_restarts: int = -1, ray_init: Mapping[str, Any] | None = None) -> None:
        if address is not None and not isinstance(address, str):
            raise ArgumentTypeError(f"address must be a str or None, not {type(address).__name__}: {shown(address)}")
        if hosts is not None:
            hosts = check_int("hosts", hosts, minimum=1)
        if store is not None and not isinstance(store, str):
            raise ArgumentTypeError(f"store must be a URL or path (str) that every host can open, not "
                                    f"{type(store).__name__}: {shown(store)}")
        check_seconds("lease_seconds", lease_seconds, allow_zero=False)
        host_restarts = check_int("host_restarts", host_restarts, minimum=-1)
        self._owns_ray = False
        if not ray.is_initialized():
            # A local cluster of this process's own listens on loopback only: nothing outside
            # the machine needs to reach it (and Ray would otherwise probe an outside address
            # to pick the interface it binds).
            local = {"_node_ip_address": "127.0.0.1"} if address is None else {}
            options = {"include_dashboard": False, "configure_logging": False, **local, **(ray_init or {})}
            ray.init(address=address, **options)
            self._owns_ray = address is None
        elif address is not None:
            raise RuntimeError("ray is already initialised in this process: pass address=None to use it")
        resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
        count = hosts if hosts is not None else max(1, int(resources.get("CPU", 1)))
        self._lock = threading.Lock()
        self._refs: dict[str, RayAgentRef] = {}
        self._seq = itertools.count(1)
        self._dead_letters = 0
        self.closed = False
        # No CPUs reserved: a host's load is its agents', not a Ray task's; SPREAD puts the
        # hosts on different nodes where there are several.
        registry_class = ray.remote(Registry).options(num_cpus=0, max_restarts=0, max_concurrency=_HOST_CONCURRENCY)
        # Handles typed Any: Ray's stubs type an actor's methods as plain callables.
        self._registry: Any = registry_class.remote(HISTORY_IN_STORE)
        host_class = ray.remote(Host).options(num_cpus=0, max_restarts=host_restarts, max_task_retries=0,
                                              max_concurrency=_HOST_CONCURRENCY, scheduling_strategy="SPREAD")
        system_config = dict(config) if config is not None else None
        self._hosts: list[Any] = [host_class.remote(i, self._registry, store, lease_seconds, system_config, HISTORY_IN_STORE)
                       for i in range(count)]
        try:
            ray.get([host.ping.remote() for host in self._hosts])  # a bad store or config raises here
        except ray.exceptions.RayError as exc:
            self._kill_all()
            raise ValueError(f"the Ray hosts could not start: {exc}") from None

    def __repr__(self) -> str:
        return f"<RaySystem hosts={len(self._hosts)} agents={len(self._refs)}{' closed' if self.closed else ''}>"

    @property
    def hosts(self) -> int:
        """How many host actors the agents are spread over."""
        return len(self._hosts)

    @property
    def dead_letters(self) -> int:
        """Messages told to dead agents, here and on every host."""
        on_hosts = 0 if self.closed else sum(ray.get([h.dead_letters.remote() for h in self._hosts]))
        return self._dead_letters + on_hosts

    def dead_letter(self, name: str, message: Any) -> None:
        """Count (and log) a tell to a dead agent."""
        with self._lock:
            self._dead_letters += 1
        log.warning("dead letter: %r to agent %s, which is dead", message, name)

    def get(self, name: str) -> RayAgentRef | None:
        """The agent named ``name``, or None."""
        if not isinstance(name, str):
            raise ArgumentTypeError(f"name must be a str, not {type(name).__name__}: {shown(name)}")
        return self._refs.get(name)

    def agents(self) -> list[str]:
        """Names of the agents in the system, in spawn order."""
        return list(self._refs)

    def host_of(self, name: str) -> int:
        """The index of the host agent ``name`` lives on (``crc32(name) % hosts``)."""
        return zlib.crc32(name.encode()) % len(self._hosts)

    def spawn(self, agent: Any, task: Any, name: str | None = None, config: Mapping[str, Any] | None = None,
              on_success: Callable[..., Any] | None = None, on_failure: Callable[..., Any] | None = None) -> RayAgentRef:
        """Add an agent on its host, idle until it is sent ``Start``; the arguments of
        [`ActorSystem.spawn`][actors.ActorSystem.spawn]. The agent, its task and callbacks are
        shipped with cloudpickle: an unpicklable one is a ``TypeError`` naming it."""
        return self._place([self._prepare(agent, task, name, config, on_success, on_failure)])[0]

    def pool(self, agents: Iterable[Any], task: Any, config: Mapping[str, Any] | None = None,
             on_success: Callable[..., Any] | None = None, on_failure: Callable[..., Any] | None = None) -> RayAgentPool:
        """Spawn every agent with generated names; return the pool (as `ActorSystem.pool`).
        The members are placed with one call per host, not one per agent (a Ray round trip
        is ~1 ms: 10,000 spawns one by one took over 20 s)."""
        agents = pool_members(agents, config, prefer_async=False)
        specs: dict[int, bytes] = {}  # one pickle per distinct agent (~1 ms each for a function by value)
        prepared: list[tuple[str, bytes]] = []
        try:
            for agent in agents:
                prepared.append(self._prepare(agent, task, None, config, on_success, on_failure, specs))
        except BaseException:  # one cannot be shipped: none of them is spawned
            self._forget([name for name, _ in prepared])
            raise
        return RayAgentPool(self._place(prepared))

    def _prepare(self, agent: Any, task: Any, name: str | None, config: Mapping[str, Any] | None,
                 on_success: Callable[..., Any] | None, on_failure: Callable[..., Any] | None,
                 pickled: dict[int, bytes] | None = None) -> tuple[str, bytes]:
        """Validate one agent as `ActorSystem.spawn` does, pickle it (once per agent object in
        ``pickled``: a pool's members share task, config and callbacks), and claim its name."""
        cfg = SchedulerConfig.from_mapping(config)
        if cfg.store is not None:
            raise ValueError("config 'store' is for a scheduler; a system's agents share RaySystem(store=...)")
        call = resolve_agent(agent, prefer_async=False)
        check_callbacks(on_success, on_failure)
        spec = None if pickled is None else pickled.get(id(agent))
        if spec is None:
            try:
                spec = cloudpickle.dumps(  # type: ignore[no-untyped-call]
                    (agent, task, dict(config) if config is not None else None, on_success, on_failure))
            except Exception as exc:  # noqa: BLE001 - pickling raises all kinds
                raise TypeError(f"agent {call.label} cannot be shipped to a Ray host (cloudpickle: {exc})") from None
            if pickled is not None:
                pickled[id(agent)] = spec
        with self._lock:
            if self.closed:
                raise RuntimeError("the system is shut down")
            name = claim_name(self._refs, name if name is not None else cfg.name, call.label, self._seq)
            self._refs[name] = RayAgentRef(name, self, self._hosts[self.host_of(name)], cfg.timezone)
        return name, spec

    def _place(self, prepared: list[tuple[str, bytes]]) -> list[RayAgentRef]:
        """Record and spawn the prepared agents, one call per host; the first error raises
        (after every host answered), and the agents that failed are forgotten again."""
        by_host: dict[int, list[tuple[str, bytes]]] = {}
        for name, spec in prepared:
            by_host.setdefault(self.host_of(name), []).append((name, spec))
        error: BaseException | None = None
        try:
            ray.get([self._registry.add_many.remote(i, specs) for i, specs in by_host.items()])
            answers = ray.get([self._hosts[i].spawn_many.remote(specs) for i, specs in by_host.items()])
        except BaseException:
            self._forget([name for name, _ in prepared])
            raise
        failed = []
        for specs, results in zip(by_host.values(), answers):
            for (name, _), (ok, failure) in zip(specs, results):
                if not ok:
                    failed.append(name)
                    error = error or failure
        if error is not None:
            self._forget(failed)
            raise error
        return [self._refs[name] for name, _ in prepared]

    def _forget(self, names: list[str]) -> None:
        """Agents that were never spawned: free their names, and no restart brings them back."""
        with self._lock:
            for name in names:
                self._refs.pop(name, None)
        if names:
            ray.get(self._registry.remove_many.remote(names))

    def ask_all(self, message: Message, timeout: float | None = 5.0) -> dict[str, Any]:
        """Ask every agent at once, one call per host: ``{name: answer}``, an exception as the
        answer of an agent that is dead or did not answer in time."""
        timeout = check_optional_seconds("timeout", timeout)
        check_message(message)
        if self.closed:
            return {name: AgentDeadError(f"agent {name!r} is dead") for name in self._refs}
        answers: dict[str, Any] = {}
        wait = None if timeout is None else timeout + RAY_SLACK_S
        for part in ray.get([h.ask_all.remote(message, timeout) for h in self._hosts], timeout=wait):
            answers.update({name: value for name, (_, value) in part.items()})
        return {name: answers[name] for name in self._refs if name in answers}

    def host_resources(self) -> list[dict[str, Any]]:
        """Each host's process: ``pid``, ``rss_mb``, ``agents`` (and its life, ``incarnation``)."""
        parts = ray.get([h.resources.remote() for h in self._hosts])
        lives = ray.get([h.ping.remote() for h in self._hosts])
        return [{**part, "incarnation": life} for part, (life, _) in zip(parts, lives)]

    def shutdown(self, timeout: float = 5.0) -> dict[str, dict[str, Any]]:
        """Stop every agent on every host, end the hosts (and a cluster this system started):
        ``{name: final stats}``. A second call returns {}."""
        timeout = check_seconds("timeout", timeout)
        with self._lock:
            if self.closed:
                return {}
            self.closed = True
        final: dict[str, dict[str, Any]] = {}
        try:
            for part in ray.get([h.shutdown.remote(timeout) for h in self._hosts], timeout=timeout + RAY_SLACK_S):
                final.update(part)
        except (ray.exceptions.RayError, TimeoutError) as exc:
            log.error("ray hosts did not all shut down cleanly: %s", exc)
        for name, stats in final.items():
            ref = self._refs.get(name)
            if ref is not None:
                ref._last = stats
        self._kill_all()
        return {name: final[name] for name in self._refs if name in final}

    async def ashutdown(self, timeout: float = 5.0) -> dict[str, dict[str, Any]]:
        """[`shutdown`][actors.ray.RaySystem.shutdown] for asyncio callers (in a thread)."""
        return await asyncio.to_thread(self.shutdown, timeout)

    def _kill_all(self) -> None:
        for actor in [*self._hosts, self._registry]:
            try:
                ray.kill(actor, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
        if self._owns_ray:
            self._owns_ray = False
            ray.shutdown()

    def __enter__(self) -> RaySystem:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    async def __aenter__(self) -> RaySystem:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.ashutdown()
