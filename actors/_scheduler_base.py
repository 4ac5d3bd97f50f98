"""What both schedulers share: validation at construction, the actor, its binding, and the
messages they post (start options, run-now, pause, resume, history)."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, ClassVar

from actors._protocol import HistoryMsg, PauseMsg, ResumeMsg
from actors._validate import check_int
from actors.agent import check_callbacks, resolve_agent
from actors.agent_actor import AgentActor, RunNowMsg, StartMsg, inside_agent
from actors.config import SchedulerConfig
from actors.messages import Pause, Start
from actors.runtime import Binding
from actors._system_store import StoreHolder

__all__ = ["SchedulerBase"]

Callback = Callable[..., Any] | None
# An actor answers in microseconds; this only bounds a wait on a wedged worker.
_STATS_WAIT_S = 5.0


class SchedulerBase:
    """The state and plumbing of `AgentScheduler` and `AsyncAgentScheduler`."""

    _prefer_async: ClassVar[bool]

    def _setup(self, agent: Any, task: Any, config: Mapping[str, Any] | None, on_success: Callback,
               on_failure: Callback) -> None:
        cfg = SchedulerConfig.from_mapping(config)
        call = resolve_agent(agent, prefer_async=self._prefer_async)
        check_callbacks(on_success, on_failure)
        self._actor = AgentActor(call, task, cfg, cfg.name or call.label, on_success, on_failure)
        self._lock = threading.Lock()
        self._binding: Binding | None = None
        # A store given in the config is opened here: a bad one raises at construction.
        self._store = None if cfg.store is None else StoreHolder(cfg.store, 10.0, None)

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        return f"<{type(self).__name__} {self.name!r} {self._actor.call.kind} {state}>"

    @property
    def name(self) -> str:
        """The agent's name (``config['name']``, else derived from the agent)."""
        return self._actor.name

    @property
    def kind(self) -> str:
        """``"async"`` if the agent is awaited on a loop, ``"sync"`` if it runs in a thread."""
        return self._actor.call.kind

    @property
    def is_running(self) -> bool:
        """True from a successful ``start()`` until ``stop()`` is called."""
        binding = self._binding
        return (binding is not None and not binding.stop_requested and not self._actor.dead and not binding.loop_closed
                and not self._actor.finished)

    def _start_message(self, schedule_expr: str, max_retries: int, run_immediately: bool,
                       options: dict[str, Any]) -> StartMsg:
        # Start validates: ValueError (a TypeError too for a wrong type).
        return self._actor.start_message(Start(schedule_expr, max_retries, run_immediately, **options))

    def _restart_finished(self, message: StartMsg) -> concurrent.futures.Future[Any] | None:
        """A schedule that finished by itself (max_runs, a one-shot) starts again on the same
        binding: the future of the actor's answer, or None if it has not finished."""
        if not self._actor.finished:
            return None
        return self._ask(partial(_replying, message), urgent=True)

    def _ask(self, make: Callable[[Callable[[Any], None]], Any], urgent: bool = False,
             while_stopping: bool = False) -> concurrent.futures.Future[Any] | None:
        """Post ``make(reply)`` to the actor; None if nothing serves it (or, unless
        ``while_stopping``, if it is being stopped)."""
        binding = self._binding
        if binding is None or (not while_stopping and (binding.stop_requested or binding.loop_closed)):
            return None
        return binding.ask(make, urgent)

    def _ask_pause(self, reason: str) -> concurrent.futures.Future[Any] | None:
        reason = Pause(reason).reason  # validates: a reason must be a str
        return self._ask(partial(PauseMsg, reason), urgent=True)

    def _ask_resume(self) -> concurrent.futures.Future[Any] | None:
        return self._ask(ResumeMsg, urgent=True)

    def _ask_history(self, limit: int) -> concurrent.futures.Future[Any] | None:
        check_int("limit", limit, minimum=1)
        return self._ask(partial(HistoryMsg, limit), while_stopping=True)

    def _answer_here(self, future: concurrent.futures.Future[Any], what: str) -> Any:
        """The answer of an ask made on the loop that serves the actor (it drained in place)."""
        if future.done():
            return future.result()
        raise RuntimeError(f"{what} from the agent's own event loop cannot wait for it; use AsyncAgentScheduler")

    def _stopping_from_inside(self, binding: Binding, timeout: float | None) -> bool:
        """A stop from the agent's own run or callback, or from its loop thread, cannot wait."""
        if inside_agent.get() is not self._actor and threading.current_thread() is not getattr(
            binding.loop_thread, "thread", None
        ):
            return False
        binding.request_stop(timeout)

        def stop_and_forget() -> None:
            binding.stop_sync(timeout)
            self._forget(binding)

        threading.Thread(target=stop_and_forget, name="actorsched-stopper", daemon=True).start()
        return True

    def _run_now(self) -> bool:
        binding = self._binding
        return (binding is not None and not binding.stop_requested and not binding.loop_closed
                and binding.post(RunNowMsg()))

    def _bound(self, binding: Binding, message: StartMsg) -> None:
        """A new binding serves the actor: with a store, take the stored schedule up first (the
        Start then is a no-op, or replaces it); then post the Start."""
        if self._store is not None:
            self._store.adopt(binding)
        binding.post(message, urgent=True)

    def _forget(self, binding: Binding) -> None:
        with self._lock:
            if self._binding is binding:
                self._binding = None
        if self._store is not None:
            self._store.close()  # the stop is recorded; the journal's thread ends with it


def _replying(message: StartMsg, reply: Callable[[Any], None]) -> StartMsg:
    message.reply = reply
    return message
