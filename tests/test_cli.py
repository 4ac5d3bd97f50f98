"""The CLI as a user runs it: a real subprocess, real signals, a real pseudo-terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

AGENTS = '''
import asyncio

def news(task):
    return "news about " + task

async def anews(task):
    await asyncio.sleep(0)
    return "async news about " + task

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


def run_until_signal(workdir: Path, args: list[str], sig: int, after: float = 1.0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.Popen(cli(*args), cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(after)  # let a few runs happen; the subject here is real elapsed time
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=15)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.timeout(30)
def test_sigint_stops_cleanly_and_prints_json_stats(workdir: Path) -> None:
    done = run_until_signal(workdir, ["run", "myagents:news", "--every", "0.2", "--task", "AI", "--json"],
                            signal.SIGINT)
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout)
    assert stats["is_running"] is False and stats["successful_executions"] >= 3
    assert stats["name"] == "myagents:news"
    assert "Traceback" not in done.stderr
    assert "run ok: 'news about AI'" in done.stderr  # plain log lines when not a terminal


@pytest.mark.timeout(30)
def test_sigterm_stops_cleanly_with_human_stats_and_retries(workdir: Path) -> None:
    done = run_until_signal(workdir, ["run", "myagents:Flaky", "--every", "0.3", "--task", "x",
                                      "--max-retries", "2"], signal.SIGTERM, after=1.2)
    assert done.returncode == 0, done.stderr
    assert "successful_executions" in done.stdout and "retries" in done.stdout
    assert "flaky" in done.stderr  # each failed run is a WARNING line


@pytest.mark.timeout(30)
def test_async_callable_runs_too(workdir: Path) -> None:
    done = run_until_signal(workdir, ["run", "myagents:anews", "--every", "0.2", "--task", "AI", "--json"],
                            signal.SIGINT)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["kind"] == "async"


@pytest.mark.timeout(30)
def test_live_status_line_on_a_terminal(workdir: Path) -> None:
    master, slave = pty.openpty()
    proc = subprocess.Popen(cli("run", "myagents:news", "--every", "0.1", "--task", "AI"), cwd=workdir,
                            stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    output = b""
    deadline = time.monotonic() + 10
    while b"runs " not in output and time.monotonic() < deadline:
        if select.select([master], [], [], 0.1)[0]:
            output += os.read(master, 4096)
    proc.send_signal(signal.SIGINT)
    while proc.poll() is None and time.monotonic() < deadline:
        if select.select([master], [], [], 0.1)[0]:
            try:
                output += os.read(master, 4096)
            except OSError:
                break
    proc.wait(5)
    os.close(master)
    text = output.decode(errors="replace")
    assert proc.returncode == 0
    assert "\rruns " in text and "next in" in text
    assert "successful_executions" in text


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "myagents:missing", "--every", "1", "--task", "x"], "no attribute"),
        (["run", "nosuchmodule:x", "--every", "1", "--task", "x"], "cannot import"),
        (["run", "myagents", "--every", "1", "--task", "x"], "MODULE:ATTR"),
        (["run", "myagents:news", "--every", "bogus", "--task", "x"], "bogus"),
        (["run", "myagents:news", "--every", "1", "--task", "x", "--max-retries", "0"], "max-retries"),
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
def test_not_an_agent_is_a_usage_error(workdir: Path) -> None:
    (workdir / "notagent.py").write_text("VALUE = 42\n")
    done = subprocess.run(cli("run", "notagent:VALUE", "--every", "1", "--task", "x"), cwd=workdir,
                          capture_output=True, text=True, timeout=20)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "agent must" in done.stderr


@pytest.mark.timeout(40)
def test_demo_runs_a_mixed_pool_and_prints_stats() -> None:
    done = subprocess.run(cli("demo", "--seconds", "2"), capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "researcher" in out and "summariser" in out and "flaky-api" in out
    assert "attempt failed" in out and "final stats" in out
    assert "async" in out and "sync" in out
