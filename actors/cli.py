"""Command line (``python -m actors``, also installed as ``actorsched``).

- ``demo``: the README's main job.
- ``list | status NAME | history NAME | run NAME | start NAME --every EXPR | stop NAME | pause
  NAME | resume NAME`` with ``--url URL``: drive a running server (see [`actors._remote`][actors._remote]).
- ``serve FILE [--store S] [--host H] [--port P] [--token-file F] [--read-only]``: serve the
  agents of a TOML schedules file (see [`actors._serve`][actors._serve]).
- ``run MODULE:ATTR --every EXPR --task TEXT [--max-retries N] [--overlap ...] [--json]``: import an agent or
  callable and run it on that schedule until Ctrl-C or SIGTERM; a live status line on a
  terminal, plain log lines otherwise; on exit a graceful stop and the final stats.

Bad arguments, and a module that fails to import, give a one-line error and exit code 2, never
a traceback. After Ctrl-C / SIGTERM the exit code is 130 / 143; a second one forces the exit
(see [`actors._cli_exit`][actors._cli_exit]).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import threading
import time
from typing import Any, NoReturn

from actors._cli_exit import ExitCode, Interrupts, exit_now, silence
from actors._remote import COMMANDS as REMOTE_COMMANDS
from actors._remote import RemoteError, remote
from actors._remote import add_parsers as add_remote_parsers
from actors._serve import ServeError, serve
from actors._serve import add_parser as add_serve_parser
from actors._cli_status import POLL_S, Screen, State, StatusBoard, clock, short_repr
from actors.errors import AgentDeadError
from actors.messages import GetStats, Start, Stop
from actors.options import CatchUp, Overlap
from actors.system import ActorSystem

__all__ = ["main"]

log = logging.getLogger("actors.cli")

_FINAL_KEYS = ("total_executions", "successful_executions", "failed_executions", "cancelled_executions",
               "total_attempts", "retries", "skipped_ticks", "abandoned_runs", "success_rate", "last_error",
               "runtime_seconds")


_URL_HELP = "the server, e.g. http://127.0.0.1:8000 (the token for controls: $ACTORSCHED_TOKEN)"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {message}\n")


class UsageError(Exception):
    """A bad argument found after parsing (import path, schedule, ...): exit code 2."""


def _parser() -> argparse.ArgumentParser:
    from actors import __version__

    parser = _Parser(prog="actorsched", description="Run agents on schedules.")
    parser.add_argument("--version", action="version", version=f"actorsched {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    demo = commands.add_parser("demo", help="a mixed pool of sync and async agents on short schedules")
    demo.add_argument("--seconds", type=float, default=4.0, help="how long to run before stopping (default 4)")
    run = commands.add_parser("run", help="run an agent or callable on a schedule until Ctrl-C or SIGTERM")
    run.add_argument("target", metavar="MODULE:ATTR", help="import path of the agent, e.g. mypkg.agents:news "
                     "(with --url: the NAME of an agent on that server, run once now)")
    run.add_argument("--url", help=_URL_HELP)
    run.add_argument("--every", metavar="EXPR", help="schedule, e.g. '*/30m' or 'cron:0 9 * * 1-5' (required)")
    run.add_argument("--task", metavar="TEXT", help="the task passed to the agent (required)")
    run.add_argument("--max-retries", type=int, default=3, metavar="N", help="attempts per run (default 3)")
    run.add_argument("--timeout", type=float, default=None, metavar="S", help="seconds per attempt")
    run.add_argument("--stop-timeout", type=float, default=None, metavar="S",
                     help="seconds a stop waits for the run in flight before abandoning it (default 10)")
    run.add_argument("--overlap", default="skip", choices=[o.value for o in Overlap],
                     help="a tick while a run is in flight (default skip)")
    run.add_argument("--catch-up", default="once", choices=[c.value for c in CatchUp],
                     help="ticks a stalled process could not run (default once)")
    run.add_argument("--jitter", type=float, default=0.0, metavar="S",
                     help="delay each tick by a random share of S seconds (default 0)")
    run.add_argument("--max-runs", type=int, default=None, metavar="N",
                     help="end after N executions (the command exits once the schedule has finished)")
    run.add_argument("--pause-after-failures", type=int, default=None, metavar="N",
                     help="pause after N failed executions in a row")
    run.add_argument("--json", action="store_true", help="print the final stats as JSON")
    run.add_argument("--no-run-immediately", dest="run_immediately", action="store_false",
                     help="wait for the first tick instead of running at once")
    add_serve_parser(commands)
    add_remote_parsers(commands, _URL_HELP)
    return parser


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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
    except SystemExit as exc:
        raise UsageError(f"cannot import {module_name!r}: it called sys.exit({exc.code!r})") from None
    except Exception as exc:  # noqa: BLE001 - the module's own code raised, or is not valid Python
        raise UsageError(f"cannot import {module_name!r}: {_one_line(exc)}") from None
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UsageError(f"{module_name!r} has no attribute {attr_path!r}") from None
        except Exception as exc:  # noqa: BLE001 - a module __getattr__ that raised
            raise UsageError(f"cannot read {attr_path!r} of {module_name!r}: {_one_line(exc)}") from None
    if isinstance(obj, type):
        try:
            obj = obj()
        except Exception as exc:  # noqa: BLE001 - any error of the user's constructor is theirs to fix
            raise UsageError(f"cannot instantiate {target} without arguments: {_one_line(exc)}") from None
    return obj


class _Watch:
    """The main thread's side of ``run``: poll the stats, draw them, wait for a signal."""

    def __init__(self, ref: Any, board: StatusBoard, screen: Screen | None) -> None:
        self.ref, self.board, self.screen = ref, board, screen
        self.wake = threading.Event()
        board.wake = self.wake.set

    def poll(self) -> bool:
        """Take one stats poll and draw it; False once the agent is dead."""
        try:
            lines = self.board.observe(self.ref.ask(GetStats(), timeout=5.0), time.time())
        except AgentDeadError:
            return False
        except TimeoutError:  # a wedged mailbox: keep the last poll, try again
            lines = self.board.drain()
        if self.screen is not None:
            self.screen.show(lines, self.board.line(time.time()))
        return True

    def note(self, text: str, level: int = logging.INFO) -> None:
        """A line of the CLI's own: above the status line on a terminal, else logged."""
        if self.screen is not None:
            self.screen.show([f"{clock()} {text}"], self.board.line(time.time()))
        else:
            log.log(level, "%s", text)

    def wait(self) -> None:
        """Sleep until the next poll, a callback's news or a signal."""
        self.wake.wait(POLL_S)
        self.wake.clear()

    def stop(self) -> None:
        """Stop the agent gracefully, saying what the stop waits for; a second signal forces."""
        self.board.stopping = True
        try:
            future = self.ref.ask_future(Stop())
        except AgentDeadError:
            return
        future.add_done_callback(lambda _: self.wake.set())
        self.poll()  # the state the stop found: for the line below and a forced exit's message
        if self.board.stats.get("state") == State.RUNNING:
            self.note(f"stopping: waiting for {self.board.in_flight()}; Ctrl-C again to force")
        elif self.screen is None:  # on a terminal the status line says it
            self.note("stopping")
        while not future.done():
            self.wait()
            if not self.poll():
                return


class _AboveStatus(logging.Handler):
    """On a terminal, the library's errors (a crashed actor, a callback that raised) as lines
    above the status line; any thread may log, the main thread prints."""

    def __init__(self, board: StatusBoard) -> None:
        super().__init__(logging.ERROR)
        self.board = board

    def emit(self, record: logging.LogRecord) -> None:
        self.board.note(f"{record.levelname} {record.name}: {record.getMessage()}")


def _callbacks(board: StatusBoard, live: bool) -> dict[str, Any]:
    if live:
        return {"on_success": board.on_success, "on_failure": board.on_failure}

    def success(result: Any) -> None:
        log.info("run ok: %s", short_repr(result, 200))

    def failure(error: BaseException) -> None:
        log.warning("run failed: %r", error)

    return {"on_success": success, "on_failure": failure}


def _run(args: argparse.Namespace) -> int:
    agent = load_target(args.target)
    live = sys.stdout.isatty()
    board = StatusBoard(args.target, args.max_retries)
    config = {key: value for key, value in (("timeout", args.timeout), ("stop_timeout", args.stop_timeout))
              if value is not None}
    system = ActorSystem()
    try:
        start = Start(args.every, max_retries=args.max_retries, run_immediately=args.run_immediately,
                      overlap=args.overlap, catch_up=args.catch_up, jitter=args.jitter, max_runs=args.max_runs,
                      pause_after_failures=args.pause_after_failures)
        ref = system.spawn(agent, args.task, name=args.target, config=config or None, **_callbacks(board, live))
    except (ValueError, TypeError) as exc:
        system.shutdown()
        raise UsageError(str(exc)) from None
    if live:
        logging.getLogger("actors").addHandler(_AboveStatus(board))
    else:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    watch = _Watch(ref, board, Screen(sys.stdout) if live else None)

    def force() -> None:
        exit_now(f"forced exit: abandoned {board.in_flight()}", gate.exit_code, newline=live)

    with Interrupts(on_first=watch.wake.set, on_force=force) as gate:
        try:
            ref.tell(start)  # a one-shot time already past is refused here
        except ValueError as exc:
            system.shutdown()
            raise UsageError(str(exc)) from None
        log.info("running %s every %r; Ctrl-C or SIGTERM to stop", args.target, args.every)
        alive = True
        while gate.signum is None and alive and board.stats.get("state") != State.FINISHED:
            alive = watch.poll()
            if board.stats.get("state") != State.FINISHED:
                watch.wait()
        if alive:
            watch.stop()
        else:
            watch.note(f"agent {args.target} is dead (supervision gave up); last error: "
                       f"{board.stats.get('last_error')}", logging.ERROR)
        if watch.screen is not None:
            watch.screen.close()
        final = system.shutdown(timeout=10.0).get(args.target) or ref.stats()
    if args.json:
        print(json.dumps(final, indent=2, sort_keys=True))
    else:
        for key in _FINAL_KEYS:
            print(f"{key:<22} {final.get(key)}")
    return gate.exit_code if alive else ExitCode.AGENT_DEAD


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (2 for bad arguments, 130/143 after a signal)."""
    parser = _parser()
    argv = sys.argv[1:] if argv is None else argv
    if not argv:  # a bare `python -m actors`: what it can do, as a usage error
        parser.print_help(sys.stderr)
        return ExitCode.USAGE
    try:
        args = parser.parse_args(argv)
        if args.command == "demo":
            from actors.cli_demo import run_demo

            if not 0 < args.seconds < 3600:
                raise UsageError(f"--seconds must be between 0 and 3600, got {args.seconds}")
            return run_demo(args.seconds)
        if args.command == "serve":
            return serve(args, load_target)
        if args.command in REMOTE_COMMANDS and (args.command != "run" or args.url is not None):
            if args.command == "run":
                args.name = args.target
            return remote(args)
        missing = [flag for flag, value in (("--every", args.every), ("--task", args.task)) if value is None]
        if missing:
            raise UsageError(f"run MODULE:ATTR needs {' and '.join(missing)} (or --url URL to run NAME on a server)")
        if args.max_retries < 1:
            raise UsageError(f"--max-retries must be >= 1, got {args.max_retries}")
        return _run(args)
    except (UsageError, ServeError) as exc:
        for line in str(exc).splitlines():
            print(f"actorsched: error: {line}", file=sys.stderr)
        return ExitCode.USAGE
    except RemoteError as exc:
        print(f"actorsched: error: {exc}", file=sys.stderr)
        return ExitCode.REQUEST_FAILED
    except BrokenPipeError:  # stdout was a pipe whose reader left (`| head`): end quietly
        silence(sys.stdout)
        return ExitCode.SIGPIPE
    except KeyboardInterrupt:  # Ctrl-C before the handlers were installed (a slow import)
        print("actorsched: interrupted", file=sys.stderr)
        return ExitCode.SIGINT
