"""The CLI as a user runs it: a real subprocess, real signals, a real pseudo-terminal."""

from __future__ import annotations

import itertools
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

import pytest

import actors

AGENTS = '''
import asyncio
import sys
import time

def news(task):
    return "news about " + task

async def anews(task):
    await asyncio.sleep(0)
    return "async news about " + task

def nap(task):  # ignores every stop: no cancel token, a long blocking call
    print("sleeping", file=sys.stderr, flush=True)
    time.sleep(60)

class Flaky:
    def __init__(self):
        self.n = 0
    def run(self, task):
        self.n += 1
        if self.n % 2:
            raise RuntimeError("flaky " + str(self.n))
        return "ok"
'''


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "myagents.py").write_text(AGENTS)
    return tmp_path


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "actors", *args]


def read_until(stream: IO[str], needle: str, count: int = 1) -> list[str]:
    """Read lines until ``count`` of them contain ``needle`` (the test's timeout bounds it)."""
    lines: list[str] = []
    while sum(needle in line for line in lines) < count:
        line = stream.readline()
        assert line, f"stream ended before {count} line(s) with {needle!r}: {lines}"
        lines.append(line)
    return lines


def run_until_signal(workdir: Path, args: list[str], sig: int, after: str, count: int = 3,
                     ) -> subprocess.CompletedProcess[str]:
    """Start the CLI, wait for ``count`` stderr lines containing ``after``, send ``sig``."""
    proc = subprocess.Popen(cli(*args), cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        seen = read_until(proc.stderr, after, count)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "".join(seen) + err)


def in_a_terminal(workdir: Path, args: list[str], until: bytes) -> tuple[str, int]:
    """Run the CLI on a pseudo-terminal until the pattern ``until`` shows, then Ctrl-C; (output, exit code)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(cli(*args), cwd=workdir, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    output = b""

    def pump() -> bool:
        nonlocal output
        if select.select([master], [], [], 0.1)[0]:
            try:
                output += os.read(master, 4096)
            except OSError:  # the child closed the terminal
                return False
        return True

    try:
        while not re.search(until, output) and pump():
            pass
        proc.send_signal(signal.SIGINT)
        while (proc.poll() is None or select.select([master], [], [], 0)[0]) and pump():
            pass
        return output.decode(errors="replace"), proc.wait(5)
    finally:
        proc.kill()
        os.close(master)


@pytest.mark.timeout(30)
def test_sigint_stops_cleanly_prints_json_stats_and_exits_130(workdir: Path) -> None:
    done = run_until_signal(workdir, ["run", "myagents:news", "--every", "0.2", "--task", "AI", "--json"],
                            signal.SIGINT, after="run ok")
    assert done.returncode == 130, done.stderr
    stats = json.loads(done.stdout)
    assert stats["is_running"] is False and stats["successful_executions"] >= 3
    assert stats["name"] == "myagents:news"
    assert "Traceback" not in done.stderr
    assert "run ok: 'news about AI'" in done.stderr  # plain log lines when not a terminal


@pytest.mark.timeout(30)
def test_sigterm_stops_cleanly_with_human_stats_and_exits_143(workdir: Path) -> None:
    done = run_until_signal(workdir, ["run", "myagents:Flaky", "--every", "0.3", "--task", "x",
                                      "--max-retries", "2", "--no-run-immediately"],
                            signal.SIGTERM, after="flaky", count=1)
    assert done.returncode == 143, done.stderr
    assert "successful_executions" in done.stdout and "retries" in done.stdout
    assert "attempt 1 failed: RuntimeError('flaky 1')" in done.stderr  # each failed attempt is a WARNING line
    assert "Traceback" not in done.stderr


@pytest.mark.timeout(30)
def test_async_callable_runs_too(workdir: Path) -> None:
    done = run_until_signal(workdir, ["run", "myagents:anews", "--every", "0.2", "--task", "AI", "--json"],
                            signal.SIGINT, after="run ok", count=1)
    assert done.returncode == 130, done.stderr
    assert json.loads(done.stdout)["kind"] == "async"


@pytest.mark.timeout(30)
def test_a_second_sigint_forces_the_exit_and_names_what_it_abandoned(workdir: Path) -> None:
    proc = subprocess.Popen(cli("run", "myagents:nap", "--every", "10", "--task", "x"), cwd=workdir,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        read_until(proc.stderr, "sleeping")  # the run is in flight, and will ignore the stop
        proc.send_signal(signal.SIGINT)
        waiting = read_until(proc.stderr, "stopping")[-1]
        assert "waiting for 1 run in flight of agent myagents:nap" in waiting and "Ctrl-C again" in waiting
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "forced exit: abandoned 1 run in flight of agent myagents:nap" in err
    assert "Traceback" not in err and "total_executions" not in out  # no graceful end after all


@pytest.mark.timeout(30)
def test_live_status_line_names_the_agent_and_its_last_result(workdir: Path) -> None:
    # Redrawn in place: the name, what comes next, the counts, the last result.
    status = rb"\r\x1b\[Kmyagents:news  next in \d+\.\ds  runs [1-9]\d*  failed 0  last ok: 'news about AI'"
    text, code = in_a_terminal(workdir, ["run", "myagents:news", "--every", "0.1", "--task", "AI"], until=status)
    assert code == 130
    assert "successful_executions" in text and "Traceback" not in text


@pytest.mark.timeout(30)
def test_live_status_shows_each_failed_attempt_and_the_backoff(workdir: Path) -> None:
    # The default backoff waits ~5 s before the retry: the status must say so, not count down
    # a tick that the backoff will skip.
    text, code = in_a_terminal(workdir, ["run", "myagents:Flaky", "--every", "0.2", "--task", "x"],
                               until=rb"retrying in ~")
    assert code == 130
    assert "myagents:Flaky: attempt 1 of 3 failed: RuntimeError('flaky 1'); retrying in ~" in text
    statuses = [part for part in text.split("\r\x1b[K") if part.startswith("myagents:Flaky  ")]
    first = next(i for i, status in enumerate(statuses) if "retrying in ~" in status)
    backoff = list(itertools.takewhile(lambda status: "stopped" not in status, statuses[first:]))
    assert backoff and all("retrying in ~" in s and "(attempt 2 of 3)" in s for s in backoff), backoff
    assert "stopped" in statuses[-1]
    assert "last error: RuntimeError('flaky 1')" in text
    assert "cancelled_executions   1" in text  # the stop cancelled the run waiting in backoff


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "myagents:missing", "--every", "1", "--task", "x"], "no attribute"),
        (["run", "nosuchmodule:x", "--every", "1", "--task", "x"], "cannot import"),
        (["run", "myagents", "--every", "1", "--task", "x"], "MODULE:ATTR"),
        (["run", "myagents:news", "--every", "bogus", "--task", "x"], "bogus"),
        (["run", "myagents:news", "--every", "1", "--task", "x", "--max-retries", "0"], "max-retries"),
        (["run", "myagents:news", "--every", "1", "--task", "x", "--stop-timeout", "-1"], "stop_timeout"),
        (["run", "myagents:news", "--task", "x"], "--every"),
        (["run", "myagents:AGENTS_DOES_NOT_EXIST", "--every", "1", "--task", "x"], "no attribute"),
        (["frobnicate"], "invalid choice"),
        (["demo", "--seconds", "-1"], "seconds"),
    ],
)
def test_bad_arguments_one_line_exit_2_no_traceback(workdir: Path, args: list[str], needle: str) -> None:
    done = subprocess.run(cli(*args), cwd=workdir, capture_output=True, text=True, timeout=20)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], done.stderr


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ("def agent(task:\n    return task\n", "SyntaxError"),
        ("import nosuchdependency_xyz\n", "No module named 'nosuchdependency_xyz'"),
        ("raise RuntimeError('no API key\\nset OPENAI_API_KEY')\n", "RuntimeError: no API key set OPENAI_API_KEY"),
        ("import sys\nsys.exit(3)\n", "sys.exit(3)"),
        ("class agent:\n    def __init__(self):\n        raise KeyError('config')\n", "cannot instantiate"),
    ],
    ids=["syntax-error", "missing-dependency", "raises", "exits", "constructor-raises"],
)
def test_a_module_that_fails_to_import_is_one_line_and_exit_2(tmp_path: Path, source: str, needle: str) -> None:
    (tmp_path / "pkg_dir").mkdir()
    (tmp_path / "pkg_dir" / "badagents.py").write_text(source)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "pkg_dir")}
    done = subprocess.run(cli("run", "badagents:agent", "--every", "1", "--task", "x"), cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=20)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "badagents" in lines[0] and needle in lines[0], done.stderr


@pytest.mark.timeout(30)
def test_not_an_agent_is_a_usage_error(workdir: Path) -> None:
    (workdir / "notagent.py").write_text("VALUE = 42\n")
    done = subprocess.run(cli("run", "notagent:VALUE", "--every", "1", "--task", "x"), cwd=workdir,
                          capture_output=True, text=True, timeout=20)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "agent must" in done.stderr


@pytest.mark.timeout(30)
def test_version() -> None:
    done = subprocess.run(cli("--version"), capture_output=True, text=True, timeout=20)
    assert done.returncode == 0 and done.stdout.strip() == f"actorsched {actors.__version__}"


@pytest.mark.timeout(30)
def test_a_bare_invocation_prints_usage_and_exits_2() -> None:
    done = subprocess.run(cli(), capture_output=True, text=True, timeout=20)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("usage: actorsched") and "demo" in done.stderr and "run" in done.stderr


@pytest.mark.timeout(40)
def test_demo_runs_a_mixed_pool_says_what_it_shows_and_prints_stats() -> None:
    done = subprocess.run(cli("demo", "--seconds", "2"), capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("An ActorSystem with three agents")
    assert "researcher" in out and "summariser" in out and "flaky-api" in out
    assert "attempt failed" in out and "final stats" in out
    assert "async" in out and "sync" in out
    lines = out.splitlines()
    for agent in ("researcher", "summariser", "flaky-api"):
        own = [line for line in lines if line.startswith("[") and f"] {agent} " in line]
        assert "started:" in own[0], f"{agent}'s run printed before its start line: {own[:2]}"


@pytest.mark.timeout(40)
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_demo_stops_early_on_a_signal_with_its_stats(sig: int, code: int) -> None:
    proc = subprocess.Popen(cli("demo", "--seconds", "60"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        read_until(proc.stdout, "ok    ->")
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == code
    assert "interrupted: stopping every agent" in out and "final stats" in out
    assert "Traceback" not in err


@pytest.mark.timeout(40)
def test_demo_into_a_pipe_that_closes_ends_quietly() -> None:
    # `python -m actors demo | head -4`: read four lines, then the reader goes away.
    proc = subprocess.Popen(cli("demo", "--seconds", "60"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        head = [proc.stdout.readline() for _ in range(4)]
        proc.stdout.close()
        err = proc.stderr.read()  # until the demo exits: it stops instead of running its minute
        proc.wait(20)
    finally:
        proc.kill()
    assert head[0].startswith("An ActorSystem with three agents")
    assert err == "" and proc.returncode == 141


def _stats(state: str, retries: int = 0, finished: int = 0, error: str | None = None) -> dict[str, object]:
    return {"state": state, "retries": retries, "total_executions": finished, "cancelled_executions": 0,
            "failed_executions": 0, "last_error": error, "next_run_at": None, "last_run_at": None}


def test_every_failed_attempt_gets_a_line_even_between_two_polls() -> None:
    # Pure bookkeeping of the status board: polls that miss a short backoff still see the
    # retries it started, so no failed attempt goes unreported and none is reported twice.
    from actors._cli_status import StatusBoard

    board = StatusBoard("bot", max_retries=4)
    assert board.observe(_stats("running"), now=0.0) == []
    [line] = board.observe(_stats("backing_off", error="E('1')"), now=1.0)
    assert "bot: attempt 1 of 4 failed: E('1'); retrying in ~5.0s" in line
    assert board.observe(_stats("backing_off", error="E('1')"), now=2.0) == []  # the same backoff
    assert "retrying in ~4.0s (attempt 2 of 4)" in board.line(now=2.0)
    # Attempt 2 failed and attempt 3 started between these polls; then attempt 3 failed too.
    [missed, shown] = board.observe(_stats("backing_off", retries=2, error="E('3')"), now=8.0)
    assert "attempt 2 of 4 failed" in missed and "attempt 3 of 4 failed: E('3'); retrying in ~20.0s" in shown
    assert board.observe(_stats("running", retries=3, error="E('3')"), now=29.0) == []
    assert "running attempt 4 of 4" in board.line(now=29.0)


@pytest.mark.timeout(30)
def test_start_options_on_the_command_line_and_max_runs_ends_the_command(workdir: Path) -> None:
    done = subprocess.run(cli("run", "myagents:news", "--every", "0.05", "--task", "AI",
                              "--max-runs", "2", "--overlap", "queue_one", "--catch-up", "all", "--jitter", "0.01",
                              "--json"), cwd=workdir, capture_output=True, text=True, timeout=25)
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout)
    assert stats["total_executions"] == 2 and stats["successful_executions"] == 2
    for bad, word in ((["--overlap", "sometimes"], "sometimes"), (["--max-runs", "0"], "max_runs"),
                      (["--every", "at:2020-01-01 09:00"], "passed")):
        args = ["run", "myagents:news", "--every", "1s", "--task", "AI", *bad]
        refused = subprocess.run(cli(*args), cwd=workdir, capture_output=True, text=True, timeout=25)
        assert refused.returncode == 2 and word in refused.stderr and "Traceback" not in refused.stderr
