"""Command line (``python -m actors``, also installed as ``actorsched``).

- ``demo``: the README's main job.
- ``run MODULE:ATTR --every EXPR --task TEXT [--max-retries N] [--json]``: import an agent or
  callable and run it on that schedule until Ctrl-C or SIGTERM; a live status line on a
  terminal, plain log lines otherwise; on exit a graceful stop and the final stats.

Bad arguments give a one-line error and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import signal
import sys
import threading
import time
from typing import Any, NoReturn, TextIO

__all__ = ["main"]

log = logging.getLogger("actors.cli")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


class UsageError(Exception):
    """A bad argument found after parsing (import path, schedule, ...): exit code 2."""


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="actorsched", description="Run agents on schedules.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    demo = commands.add_parser("demo", help="a mixed pool of sync and async agents on short schedules")
    demo.add_argument("--seconds", type=float, default=4.0, help="how long to run before stopping (default 4)")
    run = commands.add_parser("run", help="run an agent or callable on a schedule until Ctrl-C or SIGTERM")
    run.add_argument("target", metavar="MODULE:ATTR", help="import path of the agent, e.g. mypkg.agents:news")
    run.add_argument("--every", required=True, metavar="EXPR", help="schedule, e.g. '*/30m' or 'cron:0 9 * * 1-5'")
    run.add_argument("--task", required=True, metavar="TEXT", help="the task passed to the agent")
    run.add_argument("--max-retries", type=int, default=3, metavar="N", help="attempts per run (default 3)")
    run.add_argument("--timeout", type=float, default=None, metavar="S", help="seconds per attempt")
    run.add_argument("--json", action="store_true", help="print the final stats as JSON")
    run.add_argument("--no-run-immediately", dest="run_immediately", action="store_false",
                     help="wait for the first tick instead of running at once")
    return parser


def load_target(target: str) -> Any:
    """Import ``MODULE:ATTR`` (ATTR may be dotted); a class is instantiated without arguments."""
    module_name, sep, attr_path = target.partition(":")
    if not sep or not module_name or not attr_path:
        raise UsageError(f"target must look like MODULE:ATTR, got {target!r}")
    if os.getcwd() not in sys.path:  # as `python -m` does, so local modules are found
        sys.path.insert(0, os.getcwd())
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"cannot import {module_name!r}: {exc}") from None
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UsageError(f"{module_name!r} has no attribute {attr_path!r}") from None
    if isinstance(obj, type):
        try:
            obj = obj()
        except TypeError as exc:
            raise UsageError(f"cannot instantiate {target} without arguments: {exc}") from None
    return obj


class _Status:
    """Counts runs from the callbacks; renders a one-line status or plain log lines."""

    def __init__(self, out: TextIO, live: bool) -> None:
        self.out, self.live = out, live
        self.runs = self.failures = 0
        self.lock = threading.Lock()

    def success(self, result: Any) -> None:
        with self.lock:
            self.runs += 1
        if not self.live:
            log.info("run ok: %.200r", result)

    def failure(self, error: BaseException) -> None:
        with self.lock:
            self.runs += 1
            self.failures += 1
        if not self.live:
            log.warning("run failed: %r", error)

    def render(self, next_run_at: float | None) -> None:
        if not self.live:
            return
        due = f"next in {max(0.0, next_run_at - time.time()):.1f}s" if next_run_at else "next: -"
        line = f"runs {self.runs}  failed {self.failures}  {due}"
        self.out.write(f"\r{line:<60}")
        self.out.flush()


def _run(args: argparse.Namespace) -> int:
    from actors.messages import GetStats, Start
    from actors.system import ActorSystem

    agent = load_target(args.target)
    try:
        start = Start(args.every, max_retries=args.max_retries, run_immediately=args.run_immediately)
        config = {"timeout": args.timeout} if args.timeout is not None else None
        live = sys.stdout.isatty()
        status = _Status(sys.stdout, live)
        system = ActorSystem()
        ref = system.spawn(agent, args.task, name=args.target, config=config,
                           on_success=status.success, on_failure=status.failure)
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None
    if not live:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    ref.tell(start)
    log.info("running %s every %r; Ctrl-C or SIGTERM to stop", args.target, args.every)
    while not stop.wait(0.25):
        status.render(ref.ask(GetStats(), timeout=5.0).get("next_run_at"))
    if live:
        sys.stdout.write("\n")
    log.info("stopping")
    final = system.shutdown(timeout=10.0)[args.target]
    if args.json:
        print(json.dumps(final, indent=2, sort_keys=True))
    else:
        for key in ("total_executions", "successful_executions", "failed_executions", "cancelled_executions",
                    "total_attempts", "retries", "skipped_ticks", "success_rate", "last_error",
                    "runtime_seconds"):
            print(f"{key:<22} {final[key]}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (2 for bad arguments)."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            from actors.cli_demo import run_demo

            if not 0 < args.seconds < 3600:
                raise UsageError(f"--seconds must be between 0 and 3600, got {args.seconds}")
            return run_demo(args.seconds)
        if args.max_retries < 1:
            raise UsageError(f"--max-retries must be >= 1, got {args.max_retries}")
        return _run(args)
    except UsageError as exc:
        print(f"actorsched: error: {exc}", file=sys.stderr)
        return 2
