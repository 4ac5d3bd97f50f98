"""`actorsched serve FILE` as a real subprocess with real files: bad files exit 2 with one line
per problem before anything starts; a good file serves its agents with the control API and
the dashboard; SIGINT and SIGTERM stop it gracefully (130 / 143); a restarted server resumes
from its SQLite store."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "serve-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GOOD = """
[[agent]]
name = "summariser"
target = "examples.agents:Summariser"
task = "news"
schedule = "every 1 hour"
run_immediately = true

[[agent]]
name = "tool"
target = "examples.agents:flaky_tool"
task = "search"
schedule = "every 1 hour"
"""
RUNNING_ON = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")


def command(path: Path, *extra: str, token: str | None = TOKEN) -> tuple[list[str], dict[str, str]]:
    env = {key: value for key, value in os.environ.items() if key != "ACTORSCHED_TOKEN"}
    if token is not None:
        env["ACTORSCHED_TOKEN"] = token
    return [sys.executable, "-m", "actors", "serve", str(path), "--port", "0", *extra], env


def run_serve(path: Path, *extra: str, token: str | None = TOKEN) -> subprocess.CompletedProcess[str]:
    argv, env = command(path, *extra, token=token)
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)


@contextmanager
def serving(path: Path, *extra: str) -> Iterator[tuple[httpx.Client, subprocess.Popen[str]]]:
    """Start `serve`, read its address from its log, yield a client; kill it if the test did not stop it."""
    argv, env = command(path, *extra)
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        assert process.stderr is not None
        lines = []
        for line in process.stderr:
            lines.append(line)
            found = RUNNING_ON.search(line)
            if found:
                break
        else:
            raise AssertionError(f"serve did not start: {''.join(lines)}")
        with httpx.Client(base_url=found.group(1), timeout=10) as client:
            yield client, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def wait_for(client: httpx.Client, name: str, key: str, at_least: int) -> dict[str, Any]:
    for _ in range(2000):  # each is a real round trip; the run takes milliseconds
        stats: dict[str, Any] = client.get(f"/agents/{name}").json()
        if stats[key] >= at_least:
            return stats
    raise AssertionError(f"{name}: {key} never reached {at_least}")


def stop(process: subprocess.Popen[str], sig: int) -> tuple[int, str]:
    process.send_signal(sig)
    assert process.stderr is not None
    rest = process.stderr.read()
    return process.wait(20), rest


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("text", "expected"), [
    ("[[agent]\nname = 'x'", ["not valid TOML"]),
    ("title = 'x'", ["unknown top-level key(s) ['title']", "no [[agent]] table"]),
    ("[[agent]]\nname='a'\ntarget='examples.agents:flaky_tool'\nschedule='every 1s'\nshedule='x'",
     ["agent 'a': key 'shedule': unknown key"]),
    ("[[agent]]\nname='a'\ntarget='examples.agents:flaky_tool'\nschedule='every 0s'",
     ["agent 'a': key 'schedule': invalid schedule 'every 0s'"]),
    ("[[agent]]\nname='a'\ntarget='no_such_module:x'\nschedule='every 1s'",
     ["agent 'a': key 'target': cannot import 'no_such_module'"]),
    ("[[agent]]\ntarget='examples.agents:flaky_tool'\nschedule='every 1s'\ntimeout=-1",
     ["agent #1: key 'name': missing (required)", "agent #1: key 'timeout':"]),
    ("[[agent]]\nname='a'\ntarget='examples.agents:flaky_tool'\nschedule='every 1s'\n"
     "[[agent]]\nname='a'\ntarget='examples.agents:flaky_tool'\nschedule='every 2s'",
     ["agent 'a': key 'name': another agent has the name 'a'"]),
])
def test_a_bad_file_is_one_line_per_problem_and_exit_2_before_anything_starts(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    path = tmp_path / "agents.toml"
    path.write_text(text)
    done = run_serve(path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == len(expected), lines
    for line, part in zip(lines, expected):
        assert line.startswith(f"actorsched: error: {path}: ") and part in line, line
    assert "Traceback" not in done.stderr and not (tmp_path / "actorsched.db").exists()


@pytest.mark.timeout(30)
def test_no_token_refuses_to_serve_unless_read_only(tmp_path: Path) -> None:
    path = tmp_path / "agents.toml"
    path.write_text(GOOD)
    done = run_serve(path, token=None)
    assert done.returncode == 2 and "no API token: set ACTORSCHED_TOKEN or pass --token-file" in done.stderr
    missing = run_serve(path, "--token-file", str(tmp_path / "absent"), token=None)
    assert missing.returncode == 2 and "cannot read --token-file" in missing.stderr


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_good_file_serves_its_agents_and_a_signal_stops_them_gracefully(tmp_path: Path, sig: int, code: int) -> None:
    path = tmp_path / "agents.toml"
    path.write_text(GOOD)
    with serving(path) as (client, process):
        stats = wait_for(client, "summariser", "successful_executions", 1)
        assert stats["schedule"] == "every 1 hour" and stats["is_running"]
        assert [s["name"] for s in client.get("/agents").json()] == ["summariser", "tool"]
        assert client.get("/healthz").json()["status"] == "ok"
        assert client.get("/").headers["content-type"].startswith("text/html")
        assert "actorsched_executions_total" in client.get("/metrics").text
        assert client.post("/agents/tool/pause", headers=AUTH).json() == {"changed": True}
        assert client.post("/agents/tool/pause", headers={"Authorization": "Bearer wrong"}).status_code == 401
        returncode, rest = stop(process, sig)
    assert returncode == code, rest
    assert "Application shutdown complete" in rest and "Traceback" not in rest
    assert (tmp_path / "actorsched.db").exists()  # the default store, beside the file


@pytest.mark.timeout(90)
def test_a_restarted_server_resumes_from_its_store(tmp_path: Path) -> None:
    path = tmp_path / "agents.toml"
    path.write_text(GOOD)
    with serving(path) as (client, process):
        wait_for(client, "summariser", "successful_executions", 1)
        client.post("/agents/summariser/run", headers=AUTH)
        first = wait_for(client, "summariser", "successful_executions", 2)
        client.post("/agents/tool/pause", json={"reason": "maintenance"}, headers=AUTH)
        assert stop(process, signal.SIGTERM)[0] == 143
    with serving(path) as (client, process):
        again = client.get("/agents/summariser").json()
        # Resumed, not started afresh: no second immediate run, the counters and history kept.
        assert again["successful_executions"] == first["successful_executions"] == 2
        assert [run["run_id"] for run in client.get("/agents/summariser/history").json()] == [2, 1]
        tool = client.get("/agents/tool").json()
        assert tool["state"] == "paused" and tool["paused_reason"] == "maintenance"
        assert stop(process, signal.SIGINT)[0] == 130
