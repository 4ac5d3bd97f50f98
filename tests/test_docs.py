"""Every ```python block in README.md and docs/*.md runs, so the docs cannot rot; the README's
commands are the ones CI runs; no page sends a user to an index or a file they do not have."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import NETNS_ENV

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def blocks() -> list[tuple[str, str]]:
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for i, match in enumerate(FENCE.finditer(path.read_text())):
            found.append((f"{path.relative_to(ROOT)}#{i + 1}", match.group(1)))
    return found


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("where", "code"), blocks(), ids=[w for w, _ in blocks()])
def test_code_sample_runs(where: str, code: str) -> None:
    if "actors.ray" in code and os.environ.get(NETNS_ENV) != "1":  # it starts a Ray cluster
        pytest.skip(os.environ.get("ACTORSCHED_NETNS_SKIP") or "Ray samples run in the loopback-only namespace")
    # A fresh interpreter per sample: samples call asyncio.run and leave nothing behind.
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=50)
    assert done.returncode == 0, f"{where} failed:\n{done.stderr[-2000:]}"


FIRST_FENCE = re.compile(r"^```\w*\n(.*?)^```", re.S | re.M)
# `pip install actorsched` / `'actorsched[fastapi]'` from an index, but not the
# `actorsched[...] @ git+https://...` form (the name is followed by ` @ `).
INDEX_INSTALL = re.compile(r"""pip install ['"]?actorsched(?:\[[\w,]+\])?(?![\[\w-]| @)""")


def test_readme_starts_with_the_demo_and_the_ci_test_command() -> None:
    first = FIRST_FENCE.search((ROOT / "README.md").read_text())
    assert first is not None
    demo, tests = first.group(1).strip().splitlines()
    assert demo == "pip install . && python -m actors demo"
    assert tests.startswith("pip install '.[test,docs]' && ")
    script = (ROOT / ".ci" / "run").read_text().splitlines()
    commands = [line for line in script if line and not line.startswith(("#", "set ", "cd "))]
    # Before it, .ci/run may only install the system browser the dashboard tests drive.
    assert commands[-1] == tests, "`.ci/run` must run exactly the README's test command"
    assert all("chromium" in line for line in commands[:-1]), commands[:-1]


def test_no_page_installs_from_an_index_or_points_at_design_md() -> None:
    problems = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            where = f"{path.relative_to(ROOT)}:{number}"
            if INDEX_INSTALL.search(line):
                problems.append(f"{where}: installs from an index it is not on: {line.strip()}")
            if "DESIGN.md" in line:
                problems.append(f"{where}: points at DESIGN.md, which users do not have")
    assert problems == []


def test_every_stats_key_is_documented() -> None:
    from actors import AgentScheduler

    with AgentScheduler(lambda task: None, "t") as scheduler:
        keys = set(scheduler.get_stats())
    table = (ROOT / "docs" / "how-it-works.md").read_text()
    assert sorted(k for k in keys if f"| `{k}` |" not in table) == []
