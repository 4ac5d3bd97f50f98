"""``actorsched serve FILE``: the agents of a schedules file in one ActorSystem with a store,
behind the control API, the dashboard, ``/healthz``, ``/metrics`` and ``/events``, under uvicorn.

The file is checked whole first (`actors._schedules_file`): a bad one is a line per problem
and exit 2, before anything starts. The store (default ``actorsched.db`` beside the file)
keeps schedules, stats and history, so a restarted ``serve`` resumes where the last one
stopped: a Start for an agent the store already runs changes nothing. The first SIGINT or
SIGTERM stops the server and every agent gracefully (exit 130 / 143); a second one exits at
once and names the runs it abandoned.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any

from actors._cli_exit import ExitCode, Interrupts, exit_now
from actors._schedules_file import AgentEntry, FileProblems, load
from actors.events import Event, RunFinished, RunStarted
from actors.messages import GetStats
from actors.fastapi import TOKEN_ENV
from actors.system import ActorSystem

__all__ = ["add_parser", "serve"]

log = logging.getLogger("actors.serve")

# Seconds uvicorn waits for open requests once asked to stop; agents then get their own
# stop_timeout. 3 s: an open dashboard stream ends at once (EventStreams.close), a control
# request takes milliseconds.
_GRACEFUL_S = 3


class ServeError(Exception):
    """Cannot serve (a bad file, no token, a missing extra): the message, then exit 2."""


def add_parser(commands: Any) -> None:
    """Add the ``serve`` subcommand to ``commands`` (argparse subparsers)."""
    serve = commands.add_parser("serve", help="serve the agents of a TOML schedules file (control API, dashboard)")
    serve.add_argument("file", metavar="FILE", help="the schedules file, e.g. agents.toml")
    serve.add_argument("--store", help="the store: a path or postgresql:// URL (default: actorsched.db beside FILE)")
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="the port (default 8000; 0 picks a free one)")
    serve.add_argument("--token-file", help=f"a file holding the API token (default: ${TOKEN_ENV})")
    serve.add_argument("--read-only", action="store_true", help="no token: watch only, every control is refused")


def _token(args: argparse.Namespace) -> str | None:
    if args.token_file:
        try:
            token = Path(args.token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ServeError(f"cannot read --token-file {args.token_file}: {exc.strerror}") from None
        if not token:
            raise ServeError(f"--token-file {args.token_file} is empty")
        return token
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token and not args.read_only:
        raise ServeError(f"no API token: set {TOKEN_ENV} or pass --token-file (or --read-only to watch only)")
    return token or None


class _InFlight:
    """Which agents are in a run, from the events: what a forced exit abandons."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running: set[str] = set()

    def __call__(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, RunStarted):
                self.running.add(event.agent)
            elif isinstance(event, RunFinished):
                self.running.discard(event.agent)

    def text(self) -> str:
        names = sorted(self.running)  # a copy under the GIL; no lock in a signal handler
        return f"the runs of {', '.join(names)}" if names else "no run in flight"


def serve(args: argparse.Namespace, load_target: Any) -> int:
    """Run the ``serve`` command; returns the exit code."""
    try:
        import uvicorn
        from fastapi import FastAPI

        from actors.fastapi import _build_router, lifespan
    except ImportError as exc:
        raise ServeError(f"serve needs the serve extra ({exc.name} is missing): pip install 'actorsched[serve]'") \
            from None
    path = Path(args.file)
    try:
        entries = load(path, load_target)
    except FileProblems as exc:
        raise ServeError("\n".join(exc.problems)) from None
    token = _token(args)
    if not 0 <= args.port <= 65535:
        raise ServeError(f"--port must be between 0 and 65535, got {args.port}")
    store = args.store or str(path.resolve().with_name("actorsched.db"))
    system = ActorSystem(store=store)
    in_flight = _InFlight()
    system.subscribe(in_flight)

    async def setup(system: Any) -> None:
        await _spawn(system, entries)

    app = FastAPI(title="actorsched", summary=f"the agents of {path.name}",
                  lifespan=lifespan(system, on_startup=setup))
    api, streams = _build_router(system, token, read_only=args.read_only)
    app.include_router(api)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    class Server(uvicorn.Server):  # without uvicorn's signal handlers: ours stop the agents, then force
        def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
            return contextlib.nullcontext()

    server = Server(uvicorn.Config(app, host=args.host, port=args.port, log_config=None,
                                   timeout_graceful_shutdown=_GRACEFUL_S))

    def first() -> None:  # in the signal handler: set flags only
        streams.close()
        server.should_exit = True

    def force() -> None:
        exit_now(f"actorsched: forced exit: abandoned {in_flight.text()}", gate.exit_code)

    with Interrupts(on_first=first, on_force=force) as gate:
        log.info("serving %d agent(s) of %s, store %s; Ctrl-C or SIGTERM to stop", len(entries), path, store)
        server.run()
    if not server.started and gate.signum is None:
        return ExitCode.AGENT_DEAD  # uvicorn logged why (a port in use, a failing startup)
    return gate.exit_code


async def _spawn(system: ActorSystem, entries: list[AgentEntry]) -> None:
    for entry in entries:
        ref = system.spawn(entry.agent, entry.task, name=entry.name, config=entry.config or None)
        if (await ref.ask_async(GetStats()))["is_running"]:  # the store resumed it, as last changed
            log.info("agent %s resumed from the store", entry.name)
        else:
            ref.tell(entry.start)
