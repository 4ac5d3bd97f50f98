"""A hypothesis state machine over a system with a SQLite store: start, replace, stop, pause,
resume, virtual hours passing, and restarts of the "process" (a new system on the same file,
sometimes after a downtime), against a model of what the store must bring back."""

from __future__ import annotations

import pathlib
import tempfile

from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from actors import ActorSystem, AgentRef, Pause, Resume, Start, Stop
from actors.testing import VirtualClock

HOUR = 3600.0


def report(task: str) -> str:
    return task


class StoreMachine(RuleBasedStateMachine):
    """The model: the desired state and the Start options the store must keep."""

    def __init__(self) -> None:
        super().__init__()
        self.path = pathlib.Path(tempfile.mkdtemp()) / "state.db"
        self.clock = VirtualClock(seed=1)
        self.state = "stopped"  # stopped | started | paused
        self.retries: int | None = None  # the stored Start's max_retries, standing for its options
        self.successes = 0  # never goes back, whatever restarts
        self.system, self.ref = self._open()

    def _open(self) -> tuple[ActorSystem, AgentRef]:
        system = ActorSystem(store=self.path, clock=self.clock)
        return system, system.spawn(report, task="t", name="news")

    @rule(retries=st.integers(1, 3))
    def start(self, retries: int) -> None:
        answer = self.ref.ask(Start("1h", max_retries=retries))
        if self.state == "stopped":
            assert answer is True
        else:  # the same Start is a no-op; other options replace the schedule
            assert answer is (retries != self.retries)
        if self.state == "stopped" or retries != self.retries:
            self.state = "started" if self.state == "stopped" else self.state
        self.retries = retries

    @rule()
    def stop(self) -> None:
        self.ref.ask(Stop())
        self.state = "stopped"

    @precondition(lambda self: self.state == "started")
    @rule()
    def pause(self) -> None:
        assert self.ref.ask(Pause("by the test")) is True
        self.state = "paused"

    @precondition(lambda self: self.state == "paused")
    @rule()
    def resume(self) -> None:
        assert self.ref.ask(Resume()) is True
        self.state = "started"

    @rule(hours=st.integers(1, 3))
    def time_passes(self, hours: int) -> None:
        self.clock.advance(hours * HOUR)

    @rule(downtime=st.sampled_from([0, 1, 5]))
    def restart(self, downtime: int) -> None:
        self.system.shutdown()
        self.clock.advance(downtime * HOUR)
        self.system, self.ref = self._open()
        self.clock.advance(1)

    @invariant()
    def the_store_brought_back_what_the_model_says(self) -> None:
        stats = self.ref.stats()
        expected_state = {"stopped": ("stopped", "finished"), "started": ("idle", "running"), "paused": ("paused",)}
        assert stats["state"] in expected_state[self.state], (stats["state"], self.state)
        assert stats["is_running"] is (self.state != "stopped")
        assert stats["successful_executions"] >= self.successes  # counters survive every restart
        self.successes = stats["successful_executions"]
        runs = [h["run_id"] for h in self.ref.history(100)]
        assert runs == sorted(runs, reverse=True) and len(set(runs)) == len(runs)  # no run twice

    def teardown(self) -> None:
        self.system.shutdown()


TestStoreMachine = StoreMachine.TestCase
TestStoreMachine.settings = settings(max_examples=40, stateful_step_count=15, deadline=None)
