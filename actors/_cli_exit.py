"""How the command line ends: exit codes, Ctrl-C / SIGTERM (graceful, then forced), a closed stdout.

The first SIGINT or SIGTERM asks for a graceful stop; a second one, while that stop waits for a
run in flight, forces the exit at once and says what it abandoned. The exit code is 128 plus
the first signal's number, as a shell reports a process a signal ended (130, 143).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from enum import IntEnum
from types import FrameType
from typing import Any, NoReturn, Self, TextIO

__all__ = ["ExitCode", "Interrupts", "exit_now", "silence"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class ExitCode(IntEnum):
    """The process exit codes of ``python -m actors``."""

    OK = 0
    AGENT_DEAD = 1  # supervision gave up on the agent
    REQUEST_FAILED = 1  # a remote command: the server answered an error, or none
    USAGE = 2  # a bad argument, an import that failed
    SIGINT = 128 + signal.SIGINT  # 130
    SIGPIPE = 128 + signal.SIGPIPE  # 141: stdout was a pipe that closed (``| head``)
    SIGTERM = 128 + signal.SIGTERM  # 143


def exit_now(message: str, code: int, newline: bool = False) -> NoReturn:
    """Write ``message`` to stderr and end the process at once, abandoning every thread.

    Called from a signal handler, which may interrupt a write on ``sys.stdout``/``sys.stderr``:
    their buffered objects are not re-entrant, so this writes to the file descriptors.
    """
    try:
        if newline:  # end the live status line first
            os.write(1, b"\n")
        os.write(2, f"{message}\n".encode(errors="replace"))
    finally:
        os._exit(code)


def silence(stream: TextIO) -> None:
    """Point ``stream``'s file descriptor at /dev/null, after its reader went away.

    Later writes, and the flush at interpreter exit, then succeed instead of raising
    ``BrokenPipeError`` with a traceback.
    """
    try:
        fd = stream.fileno()
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


class Interrupts:
    """SIGINT/SIGTERM handlers for one command: ``with Interrupts(...) as gate: ...``.

    ``on_first`` runs at the first signal (in the main thread, inside the signal handler:
    it must only set a flag or wake a waiter); ``on_force`` at the second, and must not
    return (see [`exit_now`][actors._cli_exit.exit_now]). Both may be replaced after
    construction, e.g. once an event loop exists. Outside the main thread (where Python
    allows no handlers) it installs nothing.
    """

    def __init__(self, on_first: Callable[[], Any] = lambda: None,
                 on_force: Callable[[], Any] | None = None) -> None:
        self.on_first = on_first
        self.on_force = on_force
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    @property
    def exit_code(self) -> ExitCode:
        """The exit code after the first signal (``OK`` if none came)."""
        if self.signum is None:
            return ExitCode.OK
        return ExitCode.SIGTERM if self.signum == signal.SIGTERM else ExitCode.SIGINT

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
            self.on_first()
            return
        if self.on_force is not None:
            self.on_force()
        exit_now("forced exit", self.exit_code)

    def __enter__(self) -> Self:
        if threading.current_thread() is threading.main_thread():
            for sig in _SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()

