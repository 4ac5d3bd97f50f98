"""Shared fixtures: every test must leave no library thread and no task behind."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

# How long a test's stray threads may take to finish after it returned (an abandoned sync
# agent ends when its call returns; tests keep such calls well under this).
THREAD_GRACE_S = 5.0
_databases = itertools.count(1)  # one fresh PostgreSQL database per test that asks for one


#: Set inside the loopback-only network namespace the session re-runs itself in ("1"), or to
#: why it could not ("" plus ACTORSCHED_NETNS_SKIP): Ray binds the machine's interface address
#: unless it only has loopback, and no packet of a test may leave the machine.
NETNS_ENV = "ACTORSCHED_NETNS"


def _netns_unavailable() -> str | None:
    """Why this session cannot run in a network namespace of its own, or None if it can."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "a loopback-only network namespace needs root (unshare --net)"
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (util-linux / iproute2)"
    probe = subprocess.run(["unshare", "--net", "--", "ip", "link", "set", "lo", "up"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"unshare --net failed here: {(probe.stderr or probe.stdout).strip()[:200]}"
    return None


def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """Run the whole session again inside a network namespace that has nothing but loopback
    (as root: ``unshare --net``, then ``ip link set lo up``), so that the Ray tests, and every
    other server a test starts, can only ever talk to 127.0.0.1. Where that is impossible the
    session runs here and the tests that need it skip, saying why."""
    if NETNS_ENV in os.environ:
        return None
    reason = _netns_unavailable()
    if reason is not None:
        os.environ[NETNS_ENV] = ""
        os.environ["ACTORSCHED_NETNS_SKIP"] = reason
        return None
    inner = 'ip link set lo up && exec "$@"'
    command = ["unshare", "--net", "--", "sh", "-c", inner, "sh", sys.executable, "-m", "pytest",
               *config.invocation_params.args]
    return subprocess.call(command, env={**os.environ, NETNS_ENV: "1"}, cwd=config.invocation_params.dir)


def needs_loopback_namespace() -> pytest.MarkDecorator:
    """Skip unless the session runs in its loopback-only network namespace (see above)."""
    reason = os.environ.get("ACTORSCHED_NETNS_SKIP") or "not run inside the loopback-only network namespace"
    return pytest.mark.skipif(os.environ.get(NETNS_ENV) != "1", reason=reason)


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Fail the test if a thread it started is still alive shortly after it finished."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + THREAD_GRACE_S
    while True:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert not leaked, f"threads left behind: {[t.name for t in leaked]}"


def run(main: Callable[[], Awaitable[T]]) -> T:
    """``asyncio.run(main())``, failing if ``main`` left any other task pending when it returned."""

    async def checked() -> T:
        result = await main()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
        assert not others, f"tasks left behind: {others}"
        return result

    return asyncio.run(checked())


async def wait_for(predicate: Callable[[], Any], timeout: float = 5.0) -> None:
    """Poll ``predicate`` on the loop until true (for state we cannot await directly)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.005)


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0) -> None:
    """Thread-side twin of :func:`wait_for`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.005)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real PostgreSQL server for the session (the ``pgserver`` wheel ships its binaries),
    listening on a Unix socket only; stopped at the end of the session."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR is not set
        import pgserver  # type: ignore[import-untyped]

        server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    yield server
    server.cleanup()


@pytest.fixture
def postgres_url(postgres_server: Any) -> Iterator[str]:
    """The URL of a fresh database on the session's server, dropped after the test."""
    import psycopg

    name = f"t{next(_databases)}"
    with psycopg.connect(postgres_server.get_uri(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield postgres_server.get_uri(name)
    with psycopg.connect(postgres_server.get_uri(), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")

