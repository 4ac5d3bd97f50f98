"""A host: one Ray actor process running a local `ActorSystem` for its share of the agents.

One Ray actor per agent cannot reach 10,000 agents (each is a worker process of ~100 MB, and 20
took 12 s to create on a 2-core machine), so a host holds many: its system serves them as a
plain process would (async agents on its loop thread, sync ones on its dispatcher and pool).
The driver's calls arrive on Ray's threads (a threaded actor, so that an ask waiting for a stop
does not hold up the next tell). Answers travel as ``(True, value)`` or ``(False, error)``: the
driver raises the agent's own ``AgentDeadError`` or ``TimeoutError``, not a Ray wrapper.

Ray restarts a host whose process died (``max_restarts``); its constructor runs again, sees
from the registry that this is not its first life, counts one restart in each of its agents'
stored counters, and spawns them from their specs: the store gives each its schedule back,
on its grid and with its catch-up policy, and marks a run its old process died in as
``interrupted``. The lease holder is the same name in every life of a host, so the new one
takes its agents up at once instead of waiting for the old leases to run out.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import pickle
from typing import Any

import ray

from actors.errors import AgentDeadError
from actors.ref import AgentRef
from actors.store import AgentUpdate, Batch, Store, open_store
from actors.system import ActorSystem
from actors.ray._registry import RegistryStore

__all__ = ["Host"]

log = logging.getLogger("actors")

Answer = tuple[bool, Any]


class Host:
    """The Ray actor class (see the module docstring); made by `RaySystem` only."""

    def __init__(self, index: int, registry: Any, store: str | None, lease_seconds: float,
                 config: dict[str, Any] | None, history: int) -> None:
        self._index = index
        self._registry = registry
        self._lost = 0  # tells to names this life of the host does not have
        self.incarnation: int = ray.get(registry.host_up.remote(index))
        backing: str | Store = store if store is not None else RegistryStore(registry, history)
        self._system = ActorSystem(config, store=backing, lease_seconds=lease_seconds, node=f"ray-host-{index}")
        if self.incarnation > 1:
            self._resume(backing)

    def _resume(self, backing: str | Store) -> None:
        """A life after the first: count the restart in each agent's record, spawn them again."""
        specs: list[tuple[str, bytes]] = ray.get(self._registry.specs.remote(self._index))
        store = backing if isinstance(backing, Store) else open_store(backing)
        try:
            for name, _ in specs:
                record = store.load(name)
                if record is not None:
                    counters = {**record.counters, "restarts": int(record.counters.get("restarts") or 0) + 1}
                    store.write(Batch([AgentUpdate(name, counters=counters)]))
        finally:
            if store is not backing:
                store.close()
        for name, spec in specs:
            ok, error = self.spawn(name, spec)
            if not ok:
                log.error("ray host %d: agent %s could not be spawned again: %r", self._index, name, error)
        log.warning("ray host %d restarted (life %d, pid %d): %d agents taken up again", self._index,
                    self.incarnation, os.getpid(), len(specs))

    def ping(self) -> tuple[int, int]:
        """(this host's life, its pid): the driver's liveness check, and the tests' kill target."""
        return self.incarnation, os.getpid()

    def spawn(self, name: str, spec: bytes, unpickled: dict[bytes, Any] | None = None) -> Answer:
        """Spawn agent ``name`` from its pickled spec (unpickled once per distinct spec in
        ``unpickled``: a pool's members share theirs)."""
        try:
            parts = None if unpickled is None else unpickled.get(spec)
            if parts is None:
                parts = pickle.loads(spec)
                if unpickled is not None:
                    unpickled[spec] = parts
            agent, task, config, on_success, on_failure = parts
            self._system.spawn(agent, task, name, config, on_success, on_failure)
        except Exception as exc:  # noqa: BLE001 - the driver raises it in the caller
            return False, exc
        return True, None

    def spawn_many(self, specs: list[tuple[str, bytes]]) -> list[Answer]:
        """`spawn` for each ``(name, spec)``, in one call (a pool)."""
        unpickled: dict[bytes, Any] = {}
        return [self.spawn(name, spec, unpickled) for name, spec in specs]

    def ask_all(self, message: Any, timeout: float | None) -> dict[str, Answer]:
        """Ask every agent of this host at once: ``{name: answer}``."""
        futures = {}
        for name in self._system.agents():
            ref = self._ref(name)
            if ref is not None:
                try:
                    futures[name] = ref.ask_future(message)
                except Exception as exc:  # noqa: BLE001 - a dead agent: its error is its answer
                    futures[name] = _failed(exc)
        concurrent.futures.wait(list(futures.values()), timeout)
        answers: dict[str, Answer] = {}
        for name, future in futures.items():
            if not future.done():
                answers[name] = (False, TimeoutError(f"agent {name!r} did not answer within {timeout}s"))
            elif future.exception() is not None:
                answers[name] = (False, future.exception())
            else:
                answers[name] = (True, future.result())
        return answers

    def resources(self) -> dict[str, Any]:
        """This host's process: ``pid``, ``rss_mb`` (from /proc/self/statm where there is one), ``agents``."""
        rss = None
        try:
            with open("/proc/self/statm") as statm:
                rss = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except (OSError, ValueError, IndexError):
            pass
        return {"pid": os.getpid(), "rss_mb": rss, "agents": len(self._system.agents())}

    def _ref(self, name: str) -> AgentRef | None:
        return self._system.get(name)

    def tell(self, name: str, message: Any) -> None:
        """Tell agent ``name`` (an unknown name is a dead letter here)."""
        ref = self._ref(name)
        if ref is None:  # only if its spawn failed after a restart (logged then)
            self._lost += 1
            return
        ref.tell(message)

    def tell_many(self, names: list[str], message: Any) -> None:
        """`tell` each of ``names`` (a pool's tell)."""
        for name in names:
            self.tell(name, message)

    def ask(self, name: str, message: Any, timeout: float | None) -> Answer:
        """Ask agent ``name``; its answer, or the error the ask raised."""
        ref = self._ref(name)
        if ref is None:
            return False, AgentDeadError(f"agent {name!r} is dead")
        try:
            return True, ref.ask(message, timeout)
        except Exception as exc:  # noqa: BLE001 - the driver raises it in the caller
            return False, exc

    def is_alive(self, name: str) -> bool:
        """Whether agent ``name`` is alive here."""
        ref = self._ref(name)
        return ref is not None and ref.is_alive

    def last_stats(self, name: str) -> dict[str, Any] | None:
        """Agent ``name``'s stats read without asking it (a dead agent's last ones)."""
        ref = self._ref(name)
        return None if ref is None else ref.stats(timeout=0.5)

    def history(self, name: str, limit: int) -> Answer:
        """Agent ``name``'s newest runs first."""
        ref = self._ref(name)
        if ref is None:
            return False, AgentDeadError(f"agent {name!r} is dead")
        try:
            return True, ref.history(limit)
        except Exception as exc:  # noqa: BLE001
            return False, exc

    def dead_letters(self) -> int:
        """Tells to dead agents counted on this host."""
        return self._system.dead_letters + self._lost

    def shutdown(self, timeout: float) -> dict[str, dict[str, Any]]:
        """Shut the host's system down: ``{name: final stats}``."""
        return self._system.shutdown(timeout)


def _failed(error: BaseException) -> concurrent.futures.Future[Any]:
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()
    future.set_exception(error)
    return future
