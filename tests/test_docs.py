"""Every ```python block in README.md and docs/*.md runs, so the docs cannot rot."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

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
    # A fresh interpreter per sample: samples call asyncio.run and leave nothing behind.
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=50)
    assert done.returncode == 0, f"{where} failed:\n{done.stderr[-2000:]}"
