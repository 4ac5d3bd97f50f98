"""The store contract, on real databases: what is kept, leases between nodes, bad stores."""

from __future__ import annotations

import os
import pathlib
import sqlite3
from collections.abc import Callable, Iterator

import pytest

from actors._memory_store import MemoryStore
from actors.history import FIELDS
from actors.store import SCHEMA_VERSION, AgentRecord, AgentUpdate, Batch, DesiredState, Store, open_store

StoreFactory = Callable[..., Store]


@pytest.fixture(params=["sqlite", "postgresql", "memory"])
def make_store(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[StoreFactory]:
    """Open stores of one kind on one database; every one opened is closed after the test.
    (Memory: every "connection" is the one in-memory store, as the Ray registry shares it.)"""
    opened: list[Store] = []
    if request.param == "memory":
        url = ""
    else:
        url = (f"sqlite:///{tmp_path / 'state.db'}" if request.param == "sqlite"
               else request.getfixturevalue("postgres_url"))

    def make(history: int = 1000) -> Store:
        if request.param == "memory":
            store: Store = opened[0] if opened else MemoryStore(history=history)
        else:
            store = open_store(url, history=history)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def entry(run_id: int, outcome: str = "succeeded") -> tuple[object, ...]:
    values = {"run_id": run_id, "scheduled_for": 100.0 + run_id, "started_at": 100.5 + run_id,
              "finished_at": 101.0 + run_id, "outcome": outcome, "attempts": 1, "error": None,
              "result": repr(run_id), "lateness_ms": 0.5, "node": "host:1"}
    return tuple(values[f] for f in FIELDS)


START = {"expr": "5m", "max_retries": 3, "run_immediately": False, "overlap": "skip", "catch_up": "once",
         "jitter": 0.0, "max_runs": None, "pause_after_failures": None, "timezone": "UTC"}


def test_an_unknown_name_loads_as_none(make_store: StoreFactory) -> None:
    assert make_store().load("news") is None


def test_what_is_written_is_loaded_back_by_another_connection(make_store: StoreFactory) -> None:
    writer, reader = make_store(), make_store()
    writer.write(Batch([AgentUpdate("news", start=START, state=DesiredState.STARTED, next_due=1000.0,
                                    counters={"successful_executions": 2, "run_seq": 2})]))
    record = reader.load("news")
    assert record == AgentRecord("news", START, DesiredState.STARTED, 1000.0,
                                 {"successful_executions": 2, "run_seq": 2}, None, None, 1)


def test_an_update_leaves_the_fields_it_does_not_name(make_store: StoreFactory) -> None:
    store = make_store()
    store.write(Batch([AgentUpdate("news", start=START, state=DesiredState.STARTED, next_due=1000.0)]))
    store.write(Batch([AgentUpdate("news", counters={"run_seq": 5})]))
    record = store.load("news")
    assert record is not None
    assert (record.start, record.state, record.next_due, record.counters, record.version) == (
        START, DesiredState.STARTED, 1000.0, {"run_seq": 5}, 1)  # counters alone do not bump the version
    store.write(Batch([AgentUpdate("news", state=DesiredState.STOPPED, clear_next_due=True)]))
    record = store.load("news")
    assert record is not None and (record.state, record.next_due, record.version) == (DesiredState.STOPPED, None, 2)


def test_history_is_newest_first_and_trimmed_to_the_limit(make_store: StoreFactory) -> None:
    store = make_store(history=5)
    store.write(Batch([AgentUpdate("news", history=[entry(i) for i in range(1, 4)])]))
    store.write(Batch([AgentUpdate("news", history=[entry(i) for i in range(4, 9)]), AgentUpdate("other", history=[entry(1)])]))
    runs = [e["run_id"] for e in store.history("news", 100)]
    assert runs == [8, 7, 6, 5, 4]
    assert store.history("news", 2)[0] == dict(zip(FIELDS, entry(8)))
    assert [e["run_id"] for e in store.history("other", 100)] == [1]


def test_a_runs_progress_and_history_rows_are_written_after_the_changes(make_store: StoreFactory) -> None:
    # The journal's common batch: flat rows, one command for another agent, in one transaction.
    store = make_store(history=3)
    store.write(Batch([AgentUpdate("news", start=START, state=DesiredState.STARTED, next_due=1000.0)]))
    store.write(Batch(
        changes=[AgentUpdate("other", state=DesiredState.PAUSED)],
        progress=[(1300.0, '{"run_seq": 4}', "news"), (None, '{"run_seq": 1}', "other")],
        history=[("news", *entry(i)) for i in range(1, 5)] + [("other", *entry(1))]))
    news, other = store.load("news"), store.load("other")
    assert news is not None and other is not None
    assert (news.state, news.next_due, news.counters, news.version) == (DesiredState.STARTED, 1300.0, {"run_seq": 4}, 1)
    assert (other.state, other.next_due, other.counters) == (DesiredState.PAUSED, None, {"run_seq": 1})
    assert [e["run_id"] for e in store.history("news", 100)] == [4, 3, 2]
    assert [e["run_id"] for e in store.history("other", 100)] == [1]


def test_one_node_holds_a_lease_until_it_ends(make_store: StoreFactory) -> None:
    a, b = make_store(), make_store()
    assert a.acquire("news", "a", 10.0, now=1000.0)
    assert not b.acquire("news", "b", 10.0, now=1005.0)  # a's lease runs to 1010
    assert a.acquire("news", "a", 10.0, now=1005.0)  # the holder may take it again (renew)
    assert b.renew(["news"], "b", 10.0, now=1006.0) == set()
    assert a.renew(["news", "missing"], "a", 10.0, now=1008.0) == {"news"}  # now to 1018
    assert not b.acquire("news", "b", 10.0, now=1017.9)
    assert b.acquire("news", "b", 10.0, now=1018.1)  # expired: a died or stalled
    assert a.renew(["news"], "a", 10.0, now=1019.0) == set()  # a learns it lost it
    record = a.load("news")
    assert record is not None and (record.owner, record.lease_until) == ("b", 1028.1)


def test_a_released_lease_is_free_at_once(make_store: StoreFactory) -> None:
    a, b = make_store(), make_store()
    assert a.acquire("news", "a", 10.0, now=1000.0)
    b.release(["news"], "b")  # not b's: nothing happens
    assert not b.acquire("news", "b", 10.0, now=1001.0)
    a.release(["news"], "a")
    assert b.acquire("news", "b", 10.0, now=1001.0)


def test_acquiring_keeps_what_the_record_holds(make_store: StoreFactory) -> None:
    store = make_store()
    store.write(Batch([AgentUpdate("news", start=START, state=DesiredState.PAUSED)]))
    assert store.acquire("news", "a", 10.0, now=1.0)
    record = store.load("news")
    assert record is not None and (record.start, record.state) == (START, DesiredState.PAUSED)


# -- opening -------------------------------------------------------------------------------
class _Holder:
    def __init__(self) -> None:
        self.taken: list[AgentRecord] = []
        self.losses = 0

    def taken_up(self, record: AgentRecord) -> None:
        self.taken.append(record)

    def lost(self) -> None:
        self.losses += 1


def test_a_standby_tries_again_when_the_holders_lease_ends_and_takes_a_freed_one(make_store: StoreFactory) -> None:
    # Every third of its lease (a clean release is taken up soon), and exactly at the end of
    # the holder's lease when that comes first: a takeover after a kill -9 takes at most
    # lease_seconds (and one pass of the journal), never 4/3 of it.
    import time

    from actors._leases import Leases

    owner, standby = make_store(), Leases(make_store(), "b#1", 30.0, lambda doing, exc: None)
    waiting = _Holder()
    assert owner.acquire("news", "a#1", 3600.0, time.time())  # a holder that renewed just now
    standby.wait_for("news", waiting)
    standby.keep()
    assert waiting.taken == [] and time.monotonic() + 9.0 <= standby._try_at["news"] <= time.monotonic() + 10.1
    assert owner.acquire("news", "a#1", 0.5, time.time())  # a holder whose lease ends in 0.5 s
    standby._try_at["news"] = 0.0
    standby.keep()
    record = owner.load("news")
    assert record is not None and record.lease_until is not None
    lease_end = time.monotonic() + (record.lease_until - time.time())
    assert waiting.taken == [] and lease_end <= standby._try_at["news"] <= lease_end + 0.5
    owner.release(["news"], "a#1")  # the holder shuts down cleanly
    standby._try_at["news"] = 0.0  # the next pass tries
    standby.keep()
    assert [r.owner for r in waiting.taken] == ["b#1"] and standby.owned() == {"news"}


def test_a_plain_path_a_path_object_and_both_url_forms_open_the_same_file(tmp_path: pathlib.Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    first = open_store("state.db")
    first.write(Batch([AgentUpdate("news", state=DesiredState.STARTED)]))
    first.close()
    for form in ("sqlite:///state.db", f"sqlite:///{tmp_path / 'state.db'}", tmp_path / "state.db"):
        store = open_store(form)
        try:
            record = store.load("news")
            assert record is not None and record.state is DesiredState.STARTED, form
        finally:
            store.close()


@pytest.mark.parametrize(("store", "message"), [
    ("redis://localhost/0", "unknown scheme 'redis'"),
    ("  ", "empty"),
    ("sqlite://", "names no file"),
])
def test_a_store_that_names_nothing_usable_is_a_value_error(store: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_store(store)


def test_a_store_of_the_wrong_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="store must be a URL, a path or a Store, not int"):
        open_store(3)  # type: ignore[arg-type]


def test_a_directory_is_refused(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ValueError, match="is a directory"):
        open_store(str(tmp_path))


def test_a_file_that_is_not_a_database_is_refused(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"these are not the pages of a database, " * 200)
    with pytest.raises(ValueError, match="not a usable SQLite database"):
        open_store(str(path))


def test_a_newer_schema_is_refused(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "state.db"
    open_store(str(path)).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE actorsched_meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    db.close()
    with pytest.raises(ValueError, match=f"schema version {SCHEMA_VERSION + 1}, newer than"):
        open_store(str(path))


def _make_read_only(path: pathlib.Path) -> Callable[[], None]:
    """Make ``path`` and its directory read-only for this user, root included (chattr +i);
    return the undo."""
    import shutil
    import subprocess

    targets = [path, path.parent]
    if os.geteuid() != 0:
        for target in targets:
            target.chmod(0o555 if target.is_dir() else 0o444)
        return lambda: [t.chmod(0o755) for t in targets] and None
    if shutil.which("chattr") is None:
        pytest.skip("root writes read-only files, and chattr is not installed")
    done = subprocess.run(["chattr", "+i", *map(str, targets)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i: {done.stderr.strip()}")
    return lambda: subprocess.run(["chattr", "-i", *map(str, targets)], check=True) and None


def test_a_read_only_file_is_refused(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "ro" / "state.db"
    path.parent.mkdir()
    open_store(str(path)).close()
    undo = _make_read_only(path)
    try:
        with pytest.raises(ValueError, match="cannot be written"):
            open_store(str(path))
    finally:
        undo()


def test_a_postgresql_database_that_does_not_exist_is_refused_naming_it(postgres_url: str) -> None:
    missing = postgres_url.replace("/t", "/nosuchdb_", 1)
    with pytest.raises(ValueError, match="nosuchdb_"):
        open_store(missing)


def test_a_password_never_appears_in_a_message() -> None:
    # Port 1 on 127.0.0.1: nothing listens, the connection is refused at once.
    with pytest.raises(ValueError) as raised:
        open_store("postgresql://user:s3cret@127.0.0.1:1/db")
    assert "s3cret" not in str(raised.value) and "postgresql://user:***@127.0.0.1:1/db" in str(raised.value)
