"""Command line: ``python -m actors demo`` (also installed as ``actorsched``)."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="actorsched", description="Run agents on schedules.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="a mixed pool of sync and async agents on short schedules")
    demo.add_argument("--seconds", type=float, default=4.0, help="how long to run before stopping (default 4)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (2 for bad arguments, as argparse does)."""
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from actors.demo import run_demo

        if not 0 < args.seconds < 3600:
            print(f"actorsched: error: --seconds must be between 0 and 3600, got {args.seconds}", file=sys.stderr)
            return 2
        return run_demo(args.seconds)
    return 2  # pragma: no cover - argparse rejects unknown commands first
