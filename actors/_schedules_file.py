"""The schedules file of ``actorsched serve``: TOML ``[[agent]]`` tables, checked whole before
anything starts.

    [[agent]]
    name = "news"                       # required, unique
    target = "examples.agents:fetch"    # required: MODULE:ATTR (a class is instantiated)
    task = "top stories"                # the agent's task (default "")
    schedule = "every 10 minutes"       # required: the schedule grammar
    max_retries = 3                     # any Start option: run_immediately, overlap, catch_up,
    overlap = "skip"                    #   jitter, max_runs, pause_after_failures
    timeout = 30                        # any config key: timeout, stop_timeout, backoff, timezone

`load` returns every agent or raises `FileProblems` with one line per problem, each naming
the file, the agent and the key: a user fixes the whole file in one go.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actors.config import SchedulerConfig
from actors.messages import Start

__all__ = ["AgentEntry", "FileProblems", "load"]

_START_KEYS = ("max_retries", "run_immediately", "overlap", "catch_up", "jitter", "max_runs", "pause_after_failures")
# `name`, `clock` and `store` belong to the server, not to one agent of its file.
_CONFIG_KEYS = ("timeout", "stop_timeout", "backoff", "timezone")
_KNOWN = ("name", "target", "task", "schedule", *_START_KEYS, *_CONFIG_KEYS)


@dataclass(frozen=True)
class AgentEntry:
    """One ``[[agent]]`` table, checked: what to spawn, and the Start to tell it."""

    name: str
    target: str
    agent: Any
    task: str
    start: Start
    config: dict[str, Any]


class FileProblems(Exception):
    """The file cannot be served; ``problems`` holds one line for each thing wrong with it."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load(path: Path, load_target: Callable[[str], Any]) -> list[AgentEntry]:
    """The agents of the schedules file at ``path`` (``load_target`` imports a ``target``)."""
    where = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileProblems([f"{where}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FileProblems([f"{where}: cannot read it: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise FileProblems([f"{where}: not valid TOML: {exc}"]) from None
    problems: list[str] = []
    extra = sorted(key for key in data if key != "agent")
    if extra:
        problems.append(f"{where}: unknown top-level key(s) {extra}; the file holds [[agent]] tables")
    tables = data.get("agent")
    if not isinstance(tables, list) or not tables:
        problems.append(f"{where}: no [[agent]] table: declare at least one agent")
        raise FileProblems(problems)
    entries: list[AgentEntry] = []
    seen: set[str] = set()
    for number, table in enumerate(tables, 1):
        label = f"agent #{number}"
        name = table.get("name") if isinstance(table, dict) else None
        if isinstance(name, str) and name.strip():
            label = f"agent {name!r}"
        entry, found = _entry(table, f"{where}: {label}", load_target)
        problems.extend(found)
        if entry is not None:
            if entry.name in seen:
                problems.append(f"{where}: {label}: key 'name': another agent has the name {entry.name!r}")
            seen.add(entry.name)
            entries.append(entry)
    if problems:
        raise FileProblems(problems)
    return entries


def _entry(table: Any, where: str, load_target: Callable[[str], Any]) -> tuple[AgentEntry | None, list[str]]:
    if not isinstance(table, dict):
        return None, [f"{where}: an [[agent]] must be a table, not {type(table).__name__}"]
    problems = [f"{where}: key {key!r}: unknown key; accepted: {', '.join(_KNOWN)}"
                for key in table if key not in _KNOWN]
    for key in ("name", "target", "schedule"):
        if key not in table:
            problems.append(f"{where}: key {key!r}: missing (required)")
        elif not isinstance(table[key], str) or not table[key].strip():
            problems.append(f"{where}: key {key!r}: must be a non-empty string, not {table[key]!r}")
    task = table.get("task", "")
    if not isinstance(task, str):
        problems.append(f"{where}: key 'task': must be a string, not {task!r}")
    start: Start | None = None
    if isinstance(table.get("schedule"), str):
        options = {key: table[key] for key in _START_KEYS if key in table}
        try:
            start = Start(table["schedule"], **options)
        except (ValueError, TypeError) as exc:
            problems.append(f"{where}: {_keyed(exc, ('schedule', *options))}")
    config = {key: table[key] for key in _CONFIG_KEYS if key in table}
    try:
        SchedulerConfig.from_mapping(config)
    except (ValueError, TypeError) as exc:
        problems.append(f"{where}: {_keyed(exc, tuple(config))}")
    agent: Any = None
    if isinstance(table.get("target"), str) and table["target"].strip():
        try:
            agent = load_target(table["target"])
        except Exception as exc:  # noqa: BLE001 - the CLI's UsageError: one line naming the import problem
            problems.append(f"{where}: key 'target': {exc}")
    if problems or start is None:
        return None, problems
    return AgentEntry(table["name"], table["target"], agent, task, start, config), []


def _keyed(exc: BaseException, keys: tuple[str, ...]) -> str:
    """The error's one line, led by the key it names when one of ``keys`` appears in it."""
    text = " ".join(str(exc).split())
    named = next((key for key in keys if key in text), None)
    return f"key {named!r}: {text}" if named else text
