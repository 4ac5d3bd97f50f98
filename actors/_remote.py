"""The remote commands: drive a running ``actorsched serve`` (or any app with the router) over
HTTP, ``actorsched list|status|history|run|start|stop|pause|resume [NAME] --url URL``.

Human tables by default, ``--json`` for scripts (the server's answer as it is). The token for
the controls comes from ``ACTORSCHED_TOKEN``. An HTTP error is exit 1 with the server's own
message; an unreachable server is exit 1 naming the URL; never a traceback. Only the
standard library (``urllib``): the CLI needs no extra.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any

__all__ = ["COMMANDS", "RemoteError", "add_parsers", "remote"]

COMMANDS = ("list", "status", "history", "run", "start", "stop", "pause", "resume")
_CONTROL = {"run": "a run started", "start": "started", "stop": "stopped", "pause": "paused", "resume": "resumed"}
_NOTHING = {"run": "no run started (the schedule is not running, or a run is in flight)",
            "start": "already running", "pause": "not paused (not running, or already paused)",
            "resume": "not resumed (it was not paused)"}
# A stop waits for the run in flight (up to the agent's stop_timeout, 10 s by default).
_TIMEOUT_S = 30.0


class RemoteError(Exception):
    """A request that failed: the message, then exit 1."""


def add_parsers(commands: Any, url_help: str) -> None:
    """Add the remote subcommands (``run`` has its own parser in `actors.cli`)."""
    def command(name: str, text: str, needs_name: bool = True) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = commands.add_parser(name, help=text)
        if needs_name:
            parser.add_argument("name", metavar="NAME", help="the agent's name on the server")
        parser.add_argument("--url", required=True, help=url_help)
        parser.add_argument("--json", action="store_true", help="print the server's JSON answer")
        return parser

    command("list", "list the agents of a server (--url)", needs_name=False)
    command("status", "one agent's stats (--url)")
    command("history", "one agent's recent runs (--url)").add_argument(
        "--limit", type=int, default=20, help="how many runs, newest first (default 20)")
    start = command("start", "start an agent's schedule (--url)")
    start.add_argument("--every", required=True, metavar="EXPR", help="the schedule, e.g. 'every 5 minutes'")
    start.add_argument("--max-retries", type=int, default=3, metavar="N", help="attempts per run (default 3)")
    start.add_argument("--run-immediately", action="store_true", help="run once now, then on the schedule")
    command("stop", "stop an agent's schedule (--url)")
    command("pause", "pause an agent's schedule (--url)").add_argument("--reason", default="", help="why")
    command("resume", "resume a paused agent (--url)")


def remote(args: argparse.Namespace) -> int:
    """Run one remote command; returns the exit code (0, or raises `RemoteError`)."""
    base = args.url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise RemoteError(f"--url must start with http:// or https://, got {args.url!r}")
    name = urllib.parse.quote(getattr(args, "name", "") or "", safe="")
    if args.command == "list":
        answer = _request(base, "GET", "/agents")
        _print(args, answer, lambda: _table(answer))
    elif args.command == "status":
        answer = _request(base, "GET", f"/agents/{name}")
        _print(args, answer, lambda: _status(answer))
    elif args.command == "history":
        if args.limit < 1:
            raise RemoteError(f"--limit must be >= 1, got {args.limit}")
        answer = _request(base, "GET", f"/agents/{name}/history?limit={args.limit}")
        _print(args, answer, lambda: _history(answer))
    else:
        body: dict[str, Any] | None = None
        if args.command == "start":
            body = {"schedule": args.every, "max_retries": args.max_retries, "run_immediately": args.run_immediately}
        elif args.command == "pause" and args.reason:
            body = {"reason": args.reason}
        answer = _request(base, "POST", f"/agents/{name}/{args.command}", body)
        changed = answer.get("started", answer.get("changed", True)) if isinstance(answer, dict) else True
        text = f"{args.name}: {_CONTROL[args.command] if changed else _NOTHING[args.command]}"
        _print(args, answer, lambda: text)
    return 0


def _request(base: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    headers = {"Accept": "application/json"}
    token = os.environ.get("ACTORSCHED_TOKEN", "").strip()
    if token and method == "POST":
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:  # noqa: S310 - the user's URL
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise RemoteError(f"HTTP {exc.code}: {_detail(exc)}") from None
    except urllib.error.URLError as exc:
        raise RemoteError(f"cannot reach {base}: {getattr(exc.reason, 'strerror', None) or exc.reason}") from None
    except (TimeoutError, ConnectionError) as exc:
        raise RemoteError(f"cannot reach {base}: {exc}") from None
    except ValueError:
        raise RemoteError(f"{base}{path} did not answer JSON: is it an actorsched server?") from None


def _detail(exc: urllib.error.HTTPError) -> str:
    try:
        detail = json.loads(exc.read()).get("detail")
    except (ValueError, AttributeError, OSError):
        return str(exc.reason)
    if isinstance(detail, list):  # a 422: each problem's message
        return "; ".join(str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in detail)
    if exc.code == 401 and not os.environ.get("ACTORSCHED_TOKEN", "").strip():
        return f"{detail} (set ACTORSCHED_TOKEN)"
    return str(detail)


def _print(args: argparse.Namespace, answer: Any, text: Any) -> None:
    print(json.dumps(answer, indent=2, sort_keys=True) if args.json else text())
    sys.stdout.flush()


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


def _columns(header: tuple[str, ...], rows: Sequence[tuple[Any, ...]]) -> str:
    rows = [tuple(str(cell) for cell in row) for row in rows]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in (header, *rows)]
    return "\n".join(lines)


def _table(agents: list[dict[str, Any]]) -> str:
    if not agents:
        return "no agents"
    rows = [(s["name"], s["state"], s.get("schedule") or "-", _when(s.get("next_run_at")), str(s["total_executions"]),
             f"{s['success_rate']:.0f}%" if s["total_executions"] else "-", _short(s.get("last_error")))
            for s in agents]
    return _columns(("NAME", "STATE", "SCHEDULE", "NEXT RUN", "RUNS", "OK", "LAST ERROR"), rows)


def _status(stats: dict[str, Any]) -> str:
    shown = {**stats, "last_run_at": _when(stats.get("last_run_at")), "next_run_at": _when(stats.get("next_run_at"))}
    return "\n".join(f"{key:<22} {'-' if value is None else value}" for key, value in shown.items())


def _history(runs: list[dict[str, Any]]) -> str:
    if not runs:
        return "no runs yet"
    rows = [(str(r["run_id"]), r["outcome"], _when(r["started_at"]), f"{r['finished_at'] - r['started_at']:.3f}s",
             "-" if r.get("lateness_ms") is None else f"{r['lateness_ms']:.1f}ms", str(r["attempts"]),
             _short(r.get("error") or r.get("result")))
            for r in runs]
    return _columns(("RUN", "OUTCOME", "STARTED", "DURATION", "LATE", "TRIES", "RESULT OR ERROR"), rows)


def _short(text: str | None, limit: int = 60) -> str:
    if not text:
        return "-"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
