"""The remote CLI (`actorsched list|status|history|run|start|stop|pause|resume --url`) as real
subprocesses against a running `actorsched serve`: every command, tables and --json, a wrong
or missing token, an unknown agent, a bad schedule, and a server that is down."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.test_serve import GOOD, ROOT, TOKEN, serving, stop, wait_for


def cli(url: str, *argv: str, token: str | None = TOKEN) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "ACTORSCHED_TOKEN"}
    if token is not None:
        env["ACTORSCHED_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "actors", *argv, "--url", url], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=30)


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return done.stdout


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(ok(done))


@pytest.mark.timeout(120)
def test_every_command_against_a_running_server(tmp_path: Path) -> None:
    path = tmp_path / "agents.toml"
    path.write_text(GOOD)
    with serving(path) as (client, process):
        url = str(client.base_url)
        wait_for(client, "summariser", "successful_executions", 1)

        table = ok(cli(url, "list")).splitlines()
        assert table[0].split() == ["NAME", "STATE", "SCHEDULE", "NEXT", "RUN", "RUNS", "OK", "LAST", "ERROR"]
        assert table[1].startswith("summariser") and "every 1 hour" in table[1] and "100%" in table[1]
        assert [s["name"] for s in as_json(cli(url, "list", "--json"))] == ["summariser", "tool"]

        assert "state                  idle" in ok(cli(url, "status", "summariser"))
        assert as_json(cli(url, "status", "summariser", "--json"))["successful_executions"] == 1

        assert ok(cli(url, "run", "summariser")) == "summariser: a run started\n"
        wait_for(client, "summariser", "successful_executions", 2)
        history = ok(cli(url, "history", "summariser", "--limit", "5")).splitlines()
        assert history[0].split()[:3] == ["RUN", "OUTCOME", "STARTED"]
        assert [line.split()[:2] for line in history[1:]] == [["2", "succeeded"], ["1", "succeeded"]]
        assert [r["run_id"] for r in as_json(cli(url, "history", "summariser", "--json"))] == [2, 1]

        assert ok(cli(url, "pause", "tool", "--reason", "maintenance")) == "tool: paused\n"
        assert ok(cli(url, "pause", "tool")) == "tool: not paused (not running, or already paused)\n"
        assert client.get("/agents/tool").json()["paused_reason"] == "maintenance"
        assert as_json(cli(url, "resume", "tool", "--json")) == {"changed": True}
        stopped = as_json(cli(url, "stop", "tool", "--json"))
        assert stopped["state"] == "stopped" and stopped["is_running"] is False
        assert ok(cli(url, "start", "tool", "--every", "every 2 hours")) == "tool: started\n"
        assert client.get("/agents/tool").json()["schedule"] == "every 2 hours"

        # Errors: exit 1 with the server's message, never a traceback.
        unknown = cli(url, "status", "nobody")
        assert unknown.returncode == 1 and unknown.stderr == "actorsched: error: HTTP 404: no agent named 'nobody'\n"
        wrong = cli(url, "stop", "tool", token="wrong")
        assert wrong.returncode == 1 and "HTTP 401: missing or invalid bearer token" in wrong.stderr
        missing = cli(url, "stop", "tool", token=None)
        assert missing.returncode == 1 and "(set ACTORSCHED_TOKEN)" in missing.stderr
        bad = cli(url, "start", "summariser", "--every", "every 0s")
        assert bad.returncode == 1 and "HTTP 422" in bad.stderr and "every 0s" in bad.stderr
        assert client.get("/agents/tool").json()["is_running"] is True  # the refused stops changed nothing
        assert stop(process, signal.SIGTERM)[0] == 143

    down = cli(url, "list")
    assert down.returncode == 1 and down.stderr.startswith(f"actorsched: error: cannot reach {url.rstrip('/')}")
    for done in (unknown, wrong, missing, bad, down):
        assert "Traceback" not in done.stderr


def test_a_url_that_is_not_http_is_refused_in_one_line() -> None:
    done = cli("ftp://x", "list")
    assert done.returncode == 1
    assert done.stderr == "actorsched: error: --url must start with http:// or https://, got 'ftp://x'\n"
