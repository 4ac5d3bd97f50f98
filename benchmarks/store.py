"""Stores across processes: duplicates, lost ticks and lateness of many processes on one store,
and the time a survivor needs to take over a killed process's agents.

``processes``: ``procs`` worker processes open one store (a SQLite file, or a database on a
PostgreSQL server the benchmark starts from the ``pgserver`` wheel on a Unix socket) and each
spawns the same ``agents`` no-op agents at a 1 s interval; every run appends (agent, wall time)
to its process's file. After ``seconds`` they shut down cleanly. Per agent, over all processes'
runs in time order: a *duplicate* is a second run of one tick (the tick a run belongs to is the
nearest point of its agent's grid, from the anchor the store keeps; without a store, a run less
than half an interval after the previous one), a *lost* tick is a gap of more than 1.5
intervals (each whole interval beyond the first); lateness is a run's distance from its
agent's grid. Each duplicate's pair (agent, processes, times) is reported. The contender
(``store=False``) runs the same processes without a store: every process runs every agent, and
its duplicates must make the goal FAIL.

``takeover``: two processes share a store with ``lease_seconds``; the one running the agent is
killed (SIGKILL) right after one of its runs; measured: kill -> the survivor's first run.

Run: ``python benchmarks/store.py [--kind sqlite|postgresql] [--agents 1000 --procs 4 --seconds 60]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from typing import Any

if __package__ in (None, ""):  # run as a script: python benchmarks/store.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import ROOT, Result, summarize  # noqa: E402

INTERVAL = 1.0
WORKER = textwrap.dedent('''
    import os, sys, time
    from actors import ActorSystem, Start
    store, out, agents, interval, lease = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
    live, prefix = (sys.argv[6], sys.argv[7]) if len(sys.argv) > 7 else (None, "a")  # takeover: each run at once
    runs = []

    def make(name):
        def agent(task):
            if live is None:
                runs.append((name, time.time()))  # this process's pid goes with the file
            else:
                with open(live, "a") as f:
                    f.write(f"{os.getpid()} {time.time()!r}\\n")
        return agent

    system = ActorSystem(store=None if store == "-" else store, lease_seconds=lease)
    for i in range(agents):
        system.spawn(make(f"{prefix}{i}"), task="t", name=f"{prefix}{i}").tell(Start(str(interval)))
    print("ready", flush=True)
    sys.stdin.read()
    system.shutdown()
    with open(out, "w") as f:
        f.writelines(f"{n} {t!r} {os.getpid()}\\n" for n, t in runs)
''')


@contextlib.contextmanager
def store_url(kind: str, folder: str) -> Iterator[str]:
    """A fresh store of ``kind`` for one measurement."""
    if kind == "sqlite":
        yield os.path.join(folder, "state.db")
        return
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver  # type: ignore[import-untyped]

        server = pgserver.get_server(os.path.join(folder, "pg"), cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


def _spawn(url: str, out: str, agents: int, interval: float, lease: float, live: str | None = None,
           prefix: str = "a") -> subprocess.Popen[str]:
    """A worker process; with ``live``, each run appends its pid and time there at once."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    extra = [] if live is None else [live, prefix]
    proc = subprocess.Popen([sys.executable, "-c", WORKER, url, out, str(agents), str(interval), str(lease), *extra],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError("a worker did not start")
    return proc


def judge_runs(runs: dict[str, list[tuple[float, int]]], anchors: dict[str, float], interval: float) -> Result:
    """Duplicates, lost ticks and lateness of each agent's runs ``(wall time, pid)`` (see the
    module docstring)."""
    duplicates = lost = 0
    lateness: list[float] = []
    pairs: list[str] = []
    for name, timed in runs.items():
        timed.sort()
        anchor = anchors.get(name)
        for (a, pa), (b, pb) in zip(timed, timed[1:]):
            gap = b - a
            if anchor is not None:
                same = round((a - anchor) / interval) == round((b - anchor) / interval)
            else:
                same = gap < interval / 2
            if same:
                duplicates += 1
                if len(pairs) < 5:
                    pairs.append(f"{name}: {a - anchor:.3f} s and {b - anchor:.3f} s after its grid's anchor "
                                 f"(pids {pa}, {pb})" if anchor is not None else
                                 f"{name}: two runs {gap:.3f} s apart (pids {pa}, {pb})")
            elif gap > 1.5 * interval:
                lost += round(gap / interval) - 1
        if anchor is not None:
            lateness += [t - (anchor + round((t - anchor) / interval) * interval) for t, _ in timed]
    return {"duplicates": duplicates, "lost": lost, "runs": sum(len(t) for t in runs.values()),
            "lateness": summarize(lateness), "duplicate_pairs": pairs}


def processes(kind: str = "sqlite", agents: int = 1000, procs: int = 4, seconds: float = 60.0,
              store: bool = True) -> Result:
    """``procs`` processes of ``agents`` agents each on one store (see the module docstring)."""
    from actors.store import open_store

    with tempfile.TemporaryDirectory() as folder, store_url(kind, folder) as url:
        outs = [os.path.join(folder, f"runs{i}") for i in range(procs)]
        workers = [_spawn(url if store else "-", out, agents, INTERVAL, 10.0) for out in outs]
        time.sleep(seconds)
        for w in workers:
            assert w.stdin is not None
            w.stdin.close()
        for w in workers:
            w.wait(120)
        runs: dict[str, list[tuple[float, int]]] = {}
        for out in outs:
            for line in pathlib.Path(out).read_text().splitlines():
                name, t, pid = line.split()
                runs.setdefault(name, []).append((float(t), int(pid)))
        anchors: dict[str, float] = {}
        if store:
            s = open_store(url)
            try:
                for name in runs:
                    record = s.load(name)
                    if record is not None and "anchor_wall" in record.counters:
                        anchors[name] = float(record.counters["anchor_wall"])
            finally:
                s.close()
        return {"kind": kind, "agents": agents, "procs": procs, "seconds": seconds, "store": store,
                **judge_runs(runs, anchors, INTERVAL)}


def takeover(kind: str = "sqlite", repeats: int = 5, lease: float = 2.0, interval: float = 0.2) -> Result:
    """Kill -> first run in the survivor, ``repeats`` times (see the module docstring)."""
    samples: list[float] = []
    with tempfile.TemporaryDirectory() as folder, store_url(kind, folder) as url:
        for r in range(repeats):
            name = f"agent{r}"
            log = os.path.join(folder, f"takeover{r}")
            procs = [_spawn(url, os.devnull, 1, interval, lease, log, name) for _ in range(2)]
            while not os.path.exists(log):
                time.sleep(0.01)
            owner = int(pathlib.Path(log).read_text().split()[0])
            victim = next(p for p in procs if p.pid == owner)
            killed_at = time.time()
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            deadline = time.monotonic() + lease * 5 + 10
            while time.monotonic() < deadline:
                later = [float(t) for pid, t in (line.split() for line in pathlib.Path(log).read_text().splitlines())
                         if int(pid) != owner]
                if later:
                    samples.append(min(later) - killed_at)
                    break
                time.sleep(0.01)
            for p in procs:
                if p.poll() is None:
                    assert p.stdin is not None
                    p.stdin.close()
                p.wait(30)
    return {"kind": kind, "repeats": repeats, "lease_s": lease, "interval_s": interval,
            "taken_over": len(samples), **summarize(samples)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--no-store", action="store_true", help="the contender: the same processes without a store")
    parser.add_argument("--takeover", type=int, default=0, help="measure N takeovers instead")
    args = parser.parse_args()
    result: Any
    if args.takeover:
        result = takeover(args.kind, args.takeover)
    else:
        result = processes(args.kind, args.agents, args.procs, args.seconds, not args.no_store)
    print(result)
