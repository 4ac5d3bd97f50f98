"""A store that blocks, fails or disappears never costs a tick: the schedules go on from memory,
the failure is logged once (rate-limited), and the writes resume when the store is back."""

from __future__ import annotations

import logging
import os
import pathlib
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from actors import ActorSystem, Start
from actors.store import AgentRecord, Batch, Store, open_store
from tests.conftest import wait_until


class FlakyStore(Store):
    """A real SQLite store whose writes can be made to fail or to block (the outage)."""

    def __init__(self, path: pathlib.Path) -> None:
        self.real = open_store(str(path))
        self.url, self.history_limit = self.real.url, self.real.history_limit
        self.failing = False
        self.open = threading.Event()  # cleared: every write blocks until it is set
        self.open.set()
        self.blocked = threading.Event()  # set once a write is waiting on `open`

    def _gate(self) -> None:
        if not self.open.is_set():
            self.blocked.set()
            self.open.wait()
        if self.failing:
            raise OSError("disk I/O error (the test's outage)")

    def load(self, name: str) -> AgentRecord | None:
        return self.real.load(name)

    def acquire(self, name: str, node: str, lease_seconds: float, now: float) -> bool:
        return self.real.acquire(name, node, lease_seconds, now)

    def renew(self, names: Sequence[str], node: str, lease_seconds: float, now: float) -> set[str]:
        self._gate()
        return self.real.renew(names, node, lease_seconds, now)

    def release(self, names: Sequence[str], node: str) -> None:
        self.real.release(names, node)

    def write(self, batch: Batch) -> None:
        self._gate()
        self.real.write(batch)

    def history(self, name: str, limit: int) -> list[dict[str, Any]]:
        return self.real.history(name, limit)

    def close(self) -> None:
        self.real.close()


def stored_successes(store: FlakyStore) -> int:
    record = store.real.load("news")
    return 0 if record is None else int(record.counters.get("successful_executions", 0))


@pytest.fixture
def store(tmp_path: pathlib.Path) -> Any:
    flaky = FlakyStore(tmp_path / "state.db")
    yield flaky
    flaky.open.set()
    flaky.close()


def test_ticks_go_on_while_the_store_blocks_and_the_writes_catch_up_after(store: FlakyStore) -> None:
    runs: list[int] = []
    with ActorSystem(store=store) as system:
        ref = system.spawn(lambda task: runs.append(1), task="t", name="news")
        ref.ask(Start("0.02"))
        wait_until(lambda: stored_successes(store) >= 1)
        store.open.clear()
        wait_until(store.blocked.is_set)  # the journal's thread is stuck in a write
        before = len(runs)
        wait_until(lambda: len(runs) >= before + 10)  # ten more runs with the store stuck
        assert stored_successes(store) < len(runs)
        store.open.set()
        wait_until(lambda: stored_successes(store) >= before + 10)


def test_a_failing_store_is_logged_once_and_written_again_when_it_is_back(
        store: FlakyStore, caplog: pytest.LogCaptureFixture) -> None:
    runs: list[int] = []
    caplog.set_level(logging.WARNING, logger="actors")
    with ActorSystem(store=store) as system:
        ref = system.spawn(lambda task: runs.append(1), task="t", name="news")
        ref.ask(Start("0.02"))
        store.failing = True
        wait_until(lambda: any("could not write to it" in r.getMessage() for r in caplog.records))
        before = len(runs)
        wait_until(lambda: len(runs) >= before + 10)  # many failed flushes meanwhile
        failures = [r for r in caplog.records if "could not" in r.getMessage()]
        assert len(failures) == 1 and "OSError: disk I/O error" in failures[0].getMessage()
        store.failing = False
        wait_until(lambda: stored_successes(store) >= before + 10)
        wait_until(lambda: any("writing again" in r.getMessage() for r in caplog.records))


def test_a_store_file_deleted_during_the_run_costs_no_tick(tmp_path: pathlib.Path,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "state.db"
    runs: list[int] = []
    with ActorSystem(store=path) as system:
        ref = system.spawn(lambda task: runs.append(1), task="t", name="news")
        ref.ask(Start("0.02"))
        wait_until(lambda: len(runs) >= 3)
        for name in os.listdir(tmp_path):  # the database and its WAL files, from under the open connection
            os.remove(tmp_path / name)
        before = len(runs)
        wait_until(lambda: len(runs) >= before + 10)
        assert ref.stats()["is_running"] is True


def test_a_failed_batch_merged_with_the_next_keeps_the_newest_of_everything() -> None:
    # What an outage piles up is written as one batch once the store answers again: the
    # newer command wins over an older progress row, and each agent keeps its newest entries.
    from actors._journal import _merge_batches
    from actors.store import AgentUpdate, DesiredState

    failed = Batch(progress=[(100.0, '{"run_seq": 1}', "a"), (100.0, '{"run_seq": 1}', "b")],
                   history=[("a", i) for i in range(3)] + [("b", 0)])
    later = Batch(changes=[AgentUpdate("a", state=DesiredState.STOPPED, clear_next_due=True)],
                  progress=[(200.0, '{"run_seq": 2}', "b")], history=[("a", 3), ("a", 4)])
    merged = _merge_batches(failed, later, history_limit=3)
    assert [u.name for u in merged.changes] == ["a"] and merged.changes[0].state is DesiredState.STOPPED
    assert merged.progress == [(200.0, '{"run_seq": 2}', "b")]
    assert merged.history == [("a", 2), ("b", 0), ("a", 3), ("a", 4)]  # in the order they ran
